"""Recurrent cells: one time step of a simple RNN, an LSTM and a GRU.

Each cell is written with primitive ops only (autograd derives the backward pass), one line per
equation, in Keras's weight layout so weights move between the two unchanged:

    kernel            (features, gates * units)   multiplies the input x
    recurrent_kernel  (units,    gates * units)   multiplies the previous hidden state h
    bias              (gates * units,)            GRU: (2, 3 * units), input and recurrent rows
                                                  (with reset_after=False, one row); None
                                                  with use_bias=False

The gates' columns sit side by side in that order (LSTM: i, f, c, o; GRU: z, r, h).

A cell is used like Keras's: `output, new_states = cell(x, states)`. Inside, that is two parts:
`project_inputs(x)` = x @ kernel + bias, which does not depend on the previous state, and
`step(projected, states)` for the rest. Sequence layers call the two parts directly (they check
the states once per sequence, not once per step).

Dropout works as Keras's: in training, `dropout` zeroes features of the input x and
`recurrent_dropout` units of the previous hidden state h before they are multiplied by their
kernels, and the survivors are scaled by 1 / (1 - rate). A sequence layer draws the masks once
per sequence (`draw_dropout_masks`) and uses them at every step; the state that the GRU's
update gate mixes in and the LSTM's cell state are never dropped.
"""

from __future__ import annotations

import numpy as np

from .. import checks, ops, random
from ..tensor import ShapeError, Tensor, name_scope
from . import activations, init
from .core import Layer, affine


class RecurrentCell(Layer):
    """What the three cells share: the weights, the input projection, dropout and state handling.

    Subclasses set `gate_count` and `state_names` and implement `step`.

    Args:
        units: the size of the hidden state (and of the output).
        use_bias: whether the cell has a bias (Keras's default: True); without one, `bias` is None.
        kernel_initializer: for `kernel` (Keras: glorot_uniform).
        recurrent_initializer: for `recurrent_kernel` (Keras: orthogonal).
        bias_initializer: for `bias` (Keras: zeros).
        dropout: the fraction of the input's features to drop in training, in [0, 1).
        recurrent_dropout: the fraction of the previous hidden state's units to drop in
            training before it is multiplied by `recurrent_kernel`, in [0, 1).
        seed: None to draw dropout masks from tinyseq's shared generator (`tinyseq.random`,
            seeded by `tinyseq.set_seed`), or an int to give the cell a generator of its own.
        name: the cell's name.
        dtype: the weights' dtype.
    """

    min_ndim = max_ndim = 2
    input_layout = "(batch, features)"
    gate_count = 1            # how many blocks of `units` columns the kernels hold
    state_names = ("h",)      # the states, in the order `states` lists them

    def __init__(self, units, use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", dropout=0.0,
                 recurrent_dropout=0.0, seed=None, name=None, dtype="float32"):
        super().__init__(name=name, dtype=dtype)
        self.units = checks.positive_int(units, "units", self.name)
        self.use_bias = checks.boolean(use_bias, "use_bias", self.name)
        self.kernel_initializer = init.get(kernel_initializer)
        self.recurrent_initializer = init.get(recurrent_initializer)
        self.bias_initializer = init.get(bias_initializer)
        self.dropout = checks.number(dropout, "dropout", self.name, low=0, high=1, high_open=True)
        self.recurrent_dropout = checks.number(recurrent_dropout, "recurrent_dropout", self.name,
                                               low=0, high=1, high_open=True)
        self.seed = None if seed is None else checks.non_negative_int(seed, "seed", self.name)
        self.generator = None if seed is None else np.random.default_rng(self.seed)

    @property
    def state_size(self):
        """As Keras: `units` for a single state, else one `units` per state ([u, u] for LSTM)."""
        return self.units if len(self.state_names) == 1 else [self.units] * len(self.state_names)

    @property
    def output_size(self):
        """The size of the output at each step."""
        return self.units

    # ---- weights --------------------------------------------------------------------------
    def build(self, input_shape):
        """Create kernel, recurrent_kernel and bias for inputs of shape (batch, features)."""
        self.input_features = input_shape[-1]
        width = self.gate_count * self.units
        self.add_weight("kernel", (input_shape[-1], width), self.kernel_initializer)
        self.add_weight("recurrent_kernel", (self.units, width), self.recurrent_initializer)
        self.bias = self.add_weight("bias", self.bias_shape(), self.initial_bias) if self.use_bias else None

    def bias_shape(self):
        """The shape of `bias`: one entry per kernel column."""
        return (self.gate_count * self.units,)

    def initial_bias(self, shape, dtype):
        """The bias's initial value (the LSTM overrides this for its forget gate)."""
        return self.bias_initializer(shape, dtype)

    def input_bias(self):
        """The bias added to the input projection (the GRU may keep a second, recurrent one)."""
        return self.bias

    # ---- dropout --------------------------------------------------------------------------
    @property
    def dropout_mask_count(self):
        """How many masks each kind of dropout draws: 1, shared by every gate (the gated cells
        draw one per gate where Keras does)."""
        return 1

    def draw_dropout_masks(self, batch_size):
        """Fresh dropout masks for one sequence: (input masks, recurrent masks).

        Each is None (that dropout is off) or an array (dropout_mask_count, batch, size) of
        zeros and 1 / (1 - rate), size being the input's features or the units. With one mask
        per gate, gate k's block of kernel columns sees mask k. The input masks are drawn first.
        """
        generator = self.generator or random.generator()

        def draw(rate, size):
            if rate == 0:
                return None
            kept = generator.random((self.dropout_mask_count, batch_size, size)) >= rate
            return (kept / (1 - rate)).astype(self.dtype)

        return draw(self.dropout, self.input_features), draw(self.recurrent_dropout, self.units)

    @staticmethod
    def dropped(x, masks, gate):
        """x times the dropout mask that gate `gate` sees (x itself if `masks` is None).

        x is (batch, size) or (batch, timesteps, size); a mask (batch, size) is the same at every step.
        """
        if masks is None:
            return x
        mask = masks[gate] if len(masks) > 1 else masks[0]
        return x * (mask if x.ndim == 2 else mask[:, None, :])

    def dropped_product(self, x, masks, kernel, bias=None):
        """`x @ kernel + bias` with x dropped out first: one product for a mask shared by every
        gate, one per gate's block of kernel columns for masks per gate."""
        if masks is None or len(masks) == 1:
            product = affine(self.dropped(x, masks, 0), kernel)
        else:
            blocks = ops.split(kernel, len(masks), axis=1)
            product = ops.concat([affine(self.dropped(x, masks, gate), block)
                                  for gate, block in enumerate(blocks)], axis=-1)
        return product if bias is None else product + bias

    # ---- computing ------------------------------------------------------------------------
    def project_inputs(self, inputs, input_masks=None):
        """`inputs @ kernel + input bias`, for one step (batch, features) or all steps at once
        (batch, timesteps, features); `input_masks` (from `draw_dropout_masks`) drop inputs first."""
        with name_scope("projection"):
            return self.dropped_product(inputs, input_masks, self.kernel, self.input_bias())

    def step(self, projected_inputs, states, gates=None, recurrent_masks=None):
        """One time step from the projected input: return (output, list of new states).

        Args:
            projected_inputs: `project_inputs(x)` for this step, (batch, gate_count * units).
            states: the list of previous states, in `state_names` order.
            gates: a dict, or None. If given, the step stores its gate activations in it by
                name (LSTM: input, forget, candidate, output; GRU: update, reset, candidate),
                for tools that look inside a trained network (`tinyseq.viz`).
            recurrent_masks: the recurrent dropout masks from `draw_dropout_masks`, or None.
        """
        raise NotImplementedError(f"{type(self).__name__}.step is not implemented")

    def call(self, inputs, states, training=None):
        """One time step: `output, new_states = cell(x, states)`.

        Args:
            inputs: the input at this step, (batch, features).
            states: the list of previous states, each (batch, units), in `state_names` order;
                a single state may be passed bare.
            training: whether to apply dropout (None: the cell's own `training` mode). A cell
                called on its own draws new masks at every call.
        """
        states = self.check_states(states, inputs.shape[0], f"{self.name}: states")
        training = self.training if training is None else training
        input_masks, recurrent_masks = self.draw_dropout_masks(inputs.shape[0]) if training else (None, None)
        return self.step(self.project_inputs(inputs, input_masks), states, recurrent_masks=recurrent_masks)

    # ---- states ------------------------------------------------------------------------------
    def get_initial_state(self, batch_size):
        """Zero states for a batch, as a list in `state_names` order."""
        return [Tensor(np.zeros((batch_size, self.units), dtype=self.dtype)) for _ in self.state_names]

    def check_states(self, states, batch_size, where):
        """Return `states` as a list of tensors, after checking their number and shapes.

        Args:
            states: a list of tensors or arrays (or one bare tensor for a single state).
            batch_size: the batch size they must have.
            where: what to call them in error messages, e.g. "lstm: initial_state".

        Raises:
            ValueError: for the wrong number of states; ShapeError for a wrong shape.
        """
        if not isinstance(states, (list, tuple)):
            states = [states]
        names = ", ".join(self.state_names)
        if len(states) != len(self.state_names):
            raise ValueError(f"{where}: expected {len(self.state_names)} state(s) [{names}], got {len(states)}")
        checked = []
        for state_name, state in zip(self.state_names, states):
            state = state if isinstance(state, Tensor) else Tensor(state, dtype=self.dtype)
            if state.shape != (batch_size, self.units):
                raise ShapeError(f"{where}: state {state_name} has shape {state.shape}; expected "
                                 f"{(batch_size, self.units)} (batch, units)")
            checked.append(state)
        return checked

    def get_config(self):
        """See `Layer.get_config`."""
        return {**super().get_config(), "units": self.units, "use_bias": self.use_bias,
                "kernel_initializer": init.serialize(self.kernel_initializer),
                "recurrent_initializer": init.serialize(self.recurrent_initializer),
                "bias_initializer": init.serialize(self.bias_initializer),
                "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout, "seed": self.seed}


class SimpleRNNCell(RecurrentCell):
    """The Elman RNN step: h' = activation(x W + h U + b).

    Args:
        units: the size of the hidden state.
        activation: a name or callable (default tanh).
        **kwargs: use_bias, initialisers, dropout, recurrent_dropout, seed, name and dtype, as
            for `RecurrentCell`.
    """

    def __init__(self, units, activation="tanh", **kwargs):
        super().__init__(units, **kwargs)
        self.activation = activations.get(activation)

    def step(self, projected_inputs, states, gates=None, recurrent_masks=None):
        """h' = activation(projected x + h U); the output is h'. It has no gates to record."""
        (hidden,) = states
        with name_scope("hidden_state"):
            recurrent = self.dropped_product(hidden, recurrent_masks, self.recurrent_kernel)
            new_hidden = self.activation(projected_inputs + recurrent)
        return new_hidden, [new_hidden]

    def get_config(self):
        """See `Layer.get_config`."""
        return {**super().get_config(), "activation": activations.serialize(self.activation)}


class GatedCell(RecurrentCell):
    """What the LSTM and GRU cells share: gates squashed by `recurrent_activation`, a candidate
    by `activation`, and Keras's `implementation` number, which decides how dropout masks are drawn.

    Args:
        units: the size of the hidden state.
        activation: for the candidate (and the LSTM's cell state on its way out); default tanh.
        recurrent_activation: for the gates; default sigmoid.
        implementation: Keras's 1 or 2, which compute the same; with 2 (the default) one
            dropout mask serves every gate, with 1 each gate draws its own, and a
            `recurrent_dropout` selects 1, as in Keras.
        **kwargs: as for `RecurrentCell`.
    """

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", implementation=2, **kwargs):
        super().__init__(units, **kwargs)
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.implementation = checks.one_of(implementation, "implementation", self.name, (1, 2))

    @property
    def dropout_mask_count(self):
        """One mask per gate with Keras's implementation 1 (which a recurrent_dropout selects), else 1."""
        return self.gate_count if self.implementation == 1 or self.recurrent_dropout > 0 else 1

    def get_config(self):
        """See `Layer.get_config`."""
        return {**super().get_config(), "activation": activations.serialize(self.activation),
                "recurrent_activation": activations.serialize(self.recurrent_activation),
                "implementation": self.implementation}


class LSTMCell(GatedCell):
    """The LSTM step (Hochreiter & Schmidhuber), in Keras's layout with gate order i, f, c, o.

        z  = x W + h U + b, split in four
        i  = σ(z_i)                 input gate: how much of the candidate to write
        f  = σ(z_f)                 forget gate: how much of the old cell state to keep
        g  = tanh(z_c)              candidate values
        o  = σ(z_o)                 output gate: how much of the cell state to show
        c' = f · c + i · g
        h' = o · tanh(c')

    σ is `recurrent_activation` and tanh is `activation` (Keras's defaults). Each part runs in
    a `name_scope` (projection, input_gate, forget_gate, candidate, output_gate, cell_state,
    hidden_state) so a drawing of the graph can group its ops.

    Args:
        units: the size of the hidden and cell states.
        unit_forget_bias: start the forget gate's bias at 1 (Keras's default), so that early in
            training the cell keeps its memory instead of forgetting it.
        **kwargs: activation, recurrent_activation and implementation as for `GatedCell`; the
            rest as for `RecurrentCell`.
    """

    gate_count = 4
    state_names = ("h", "c")

    def __init__(self, units, unit_forget_bias=True, **kwargs):
        super().__init__(units, **kwargs)
        self.unit_forget_bias = checks.boolean(unit_forget_bias, "unit_forget_bias", self.name)

    def initial_bias(self, shape, dtype):
        """The bias initialiser's values, with the forget-gate block set to 1 if `unit_forget_bias`."""
        if not self.unit_forget_bias:
            return super().initial_bias(shape, dtype)
        units = self.units
        return np.concatenate([self.bias_initializer((units,), dtype), init.ones((units,), dtype),
                               self.bias_initializer((2 * units,), dtype)])

    def step(self, projected_inputs, states, gates=None, recurrent_masks=None):
        """One LSTM step from the projected input x W + b: return (h', [h', c'])."""
        hidden, cell = states
        with name_scope("projection"):
            z = projected_inputs + self.dropped_product(hidden, recurrent_masks, self.recurrent_kernel)
            z.name = "z"
            z_i, z_f, z_c, z_o = ops.split(z, 4, names=("z_i", "z_f", "z_c", "z_o"))
        squash, activation = self.recurrent_activation, self.activation
        # One scope per equation, so that a drawing of the graph groups each gate's ops.
        with name_scope("input_gate"):   input_gate = squash(z_i)
        with name_scope("forget_gate"):  forget_gate = squash(z_f)
        with name_scope("candidate"):    candidate = activation(z_c)
        with name_scope("output_gate"):  output_gate = squash(z_o)
        with name_scope("cell_state"):   new_cell = forget_gate * cell + input_gate * candidate
        with name_scope("hidden_state"): new_hidden = output_gate * activation(new_cell)
        if gates is not None:
            gates.update(input=input_gate, forget=forget_gate, candidate=candidate, output=output_gate)
        return new_hidden, [new_hidden, new_cell]

    def get_config(self):
        """See `Layer.get_config`."""
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias}


class GRUCell(GatedCell):
    """The GRU step (Cho et al.) as Keras's, gates ordered z, r, h.

    With reset_after=True (Keras's default) the bias has two rows: row 0 (b) is added to the
    input projection, row 1 (b') to the recurrent one, and the reset gate scales the recurrent
    part of the candidate after its matrix product:

        x_z, x_r, x_h = x W + b,   split in three
        h_z, h_r, h_h = h U + b',  split in three
        z  = σ(x_z + h_z)           update gate: how much of h to keep
        r  = σ(x_r + h_r)           reset gate: how much of h the candidate sees
        hh = tanh(x_h + r · h_h)    candidate state
        h' = z · h + (1 - z) · hh

    With reset_after=False (the original GRU) the bias is one row b, and the reset gate scales
    h before the candidate's product: hh = tanh(x_h + (r · h) U_h).

    σ is `recurrent_activation` and tanh is `activation` (Keras's defaults).

    Args:
        units: the size of the hidden state.
        reset_after: where the reset gate acts, as above (Keras's default: True).
        **kwargs: activation, recurrent_activation and implementation as for `GatedCell`; the
            rest as for `RecurrentCell`.
    """

    gate_count = 3

    def __init__(self, units, reset_after=True, **kwargs):
        super().__init__(units, **kwargs)
        self.reset_after = checks.boolean(reset_after, "reset_after", self.name)

    def bias_shape(self):
        """(2, 3 * units), an input bias row and a recurrent bias row; (3 * units,) without reset_after."""
        return (2, self.gate_count * self.units) if self.reset_after else (self.gate_count * self.units,)

    def input_bias(self):
        """Row 0 of the bias (all of it without reset_after)."""
        return self.bias[0] if self.reset_after and self.use_bias else self.bias

    def recurrent_bias(self):
        """Row 1 of the bias, added to h U (None without reset_after or a bias)."""
        return self.bias[1] if self.reset_after and self.use_bias else None

    def step(self, projected_inputs, states, gates=None, recurrent_masks=None):
        """One GRU step from the projected input x W + b: return (h', [h'])."""
        (hidden,) = states
        squash, activation = self.recurrent_activation, self.activation
        with name_scope("projection"):
            x_z, x_r, x_h = ops.split(projected_inputs, 3, names=("x_z", "x_r", "x_h"))
            if self.reset_after:
                recurrent = self.dropped_product(hidden, recurrent_masks, self.recurrent_kernel,
                                                 self.recurrent_bias())
                h_z, h_r, h_h = ops.split(recurrent, 3, names=("h_z", "h_r", "h_h"))
            else:  # the candidate's product waits for the reset gate
                kernel_z, kernel_r, kernel_h = ops.split(self.recurrent_kernel, 3, axis=1)
                h_z = self.dropped(hidden, recurrent_masks, 0) @ kernel_z
                h_r = self.dropped(hidden, recurrent_masks, 1) @ kernel_r
        # One scope per equation, so that a drawing of the graph groups each gate's ops.
        with name_scope("update_gate"):  update_gate = squash(x_z + h_z)
        with name_scope("reset_gate"):   reset_gate = squash(x_r + h_r)
        with name_scope("candidate"):
            if self.reset_after:
                candidate = activation(x_h + reset_gate * h_h)
            else:
                candidate = activation(x_h + (reset_gate * self.dropped(hidden, recurrent_masks, 2)) @ kernel_h)
        with name_scope("hidden_state"): new_hidden = update_gate * hidden + (1 - update_gate) * candidate
        if gates is not None:
            gates.update(update=update_gate, reset=reset_gate, candidate=candidate)
        return new_hidden, [new_hidden]

    def get_config(self):
        """See `Layer.get_config`."""
        return {**super().get_config(), "reset_after": self.reset_after}
