"""Recurrent cells: one time step of a simple RNN, an LSTM and a GRU.

Each cell is written with primitive ops only (autograd derives the backward pass), one line per
equation, in Keras's weight layout so weights move between the two unchanged:

    kernel            (features, gates * units)   multiplies the input x
    recurrent_kernel  (units,    gates * units)   multiplies the previous hidden state h
    bias              (gates * units,)            GRU: (2, 3 * units), input and recurrent rows

The gates' columns sit side by side in that order (LSTM: i, f, c, o; GRU: z, r, h).

A cell is used like Keras's: `output, new_states = cell(x, states)`. Inside, that is two parts:
`project_inputs(x)` = x @ kernel + bias, which does not depend on the previous state, and
`step(projected, states)` for the rest. Sequence layers call the two parts directly (they check
the states once per sequence, not once per step).
"""

from __future__ import annotations

import numpy as np

from .. import checks, ops
from ..tensor import ShapeError, Tensor, name_scope
from . import activations, init
from .core import Layer, affine


class RecurrentCell(Layer):
    """What the three cells share: the weights, the input projection and state handling.

    Subclasses set `gate_count` and `state_names` and implement `step`.

    Args:
        units: the size of the hidden state (and of the output).
        kernel_initializer: for `kernel` (Keras: glorot_uniform).
        recurrent_initializer: for `recurrent_kernel` (Keras: orthogonal).
        bias_initializer: for `bias` (Keras: zeros).
        name: the cell's name.
        dtype: the weights' dtype.
    """

    min_ndim = max_ndim = 2
    input_layout = "(batch, features)"
    gate_count = 1            # how many blocks of `units` columns the kernels hold
    state_names = ("h",)      # the states, in the order `states` lists them

    def __init__(self, units, kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", name=None, dtype="float32"):
        super().__init__(name=name, dtype=dtype)
        self.units = checks.positive_int(units, "units", self.name)
        self.kernel_initializer = init.get(kernel_initializer)
        self.recurrent_initializer = init.get(recurrent_initializer)
        self.bias_initializer = init.get(bias_initializer)

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
        self.add_weight("bias", self.bias_shape(), self.initial_bias)

    def bias_shape(self):
        """The shape of `bias`: one entry per kernel column."""
        return (self.gate_count * self.units,)

    def initial_bias(self, shape, dtype):
        """The bias's initial value (the LSTM overrides this for its forget gate)."""
        return self.bias_initializer(shape, dtype)

    def input_bias(self):
        """The bias added to the input projection (the GRU keeps a second, recurrent one)."""
        return self.bias

    # ---- computing ------------------------------------------------------------------------
    def project_inputs(self, inputs):
        """`inputs @ kernel + input bias`, for one step (batch, features) or all steps at once
        (batch, timesteps, features)."""
        with name_scope("projection"):
            return affine(inputs, self.kernel, self.input_bias())

    def step(self, projected_inputs, states, gates=None):
        """One time step from the projected input: return (output, list of new states).

        Args:
            projected_inputs: `project_inputs(x)` for this step, (batch, gate_count * units).
            states: the list of previous states, in `state_names` order.
            gates: a dict, or None. If given, the step stores its gate activations in it by
                name (LSTM: input, forget, candidate, output; GRU: update, reset, candidate),
                for tools that look inside a trained network (`tinyseq.viz`).
        """
        raise NotImplementedError(f"{type(self).__name__}.step is not implemented")

    def call(self, inputs, states, training=None):
        """One time step: `output, new_states = cell(x, states)`.

        Args:
            inputs: the input at this step, (batch, features).
            states: the list of previous states, each (batch, units), in `state_names` order;
                a single state may be passed bare.
            training: accepted for Keras compatibility; cells do not use it.
        """
        states = self.check_states(states, inputs.shape[0], f"{self.name}: states")
        return self.step(self.project_inputs(inputs), states)

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
        return {**super().get_config(), "units": self.units,
                "kernel_initializer": init.serialize(self.kernel_initializer),
                "recurrent_initializer": init.serialize(self.recurrent_initializer),
                "bias_initializer": init.serialize(self.bias_initializer)}


class SimpleRNNCell(RecurrentCell):
    """The Elman RNN step: h' = activation(x W + h U + b).

    Args:
        units: the size of the hidden state.
        activation: a name or callable (default tanh).
        **kwargs: initialisers, name and dtype, as for `RecurrentCell`.
    """

    def __init__(self, units, activation="tanh", **kwargs):
        super().__init__(units, **kwargs)
        self.activation = activations.get(activation)

    def step(self, projected_inputs, states, gates=None):
        """h' = activation(projected x + h U); the output is h'. It has no gates to record."""
        (hidden,) = states
        with name_scope("hidden_state"):
            new_hidden = self.activation(projected_inputs + hidden @ self.recurrent_kernel)
        return new_hidden, [new_hidden]

    def get_config(self):
        """See `Layer.get_config`."""
        return {**super().get_config(), "activation": activations.serialize(self.activation)}


class LSTMCell(RecurrentCell):
    """The LSTM step (Hochreiter & Schmidhuber), in Keras's layout with gate order i, f, c, o.

        z  = x W + h U + b, split in four
        i  = σ(z_i)                 input gate: how much of the candidate to write
        f  = σ(z_f)                 forget gate: how much of the old cell state to keep
        g  = tanh(z_c)              candidate values
        o  = σ(z_o)                 output gate: how much of the cell state to show
        c' = f · c + i · g
        h' = o · tanh(c')

    Each part runs in a `name_scope` (projection, input_gate, forget_gate, candidate,
    output_gate, cell_state, hidden_state) so a drawing of the graph can group its ops.

    Args:
        units: the size of the hidden and cell states.
        unit_forget_bias: start the forget gate's bias at 1 (Keras's default), so that early in
            training the cell keeps its memory instead of forgetting it.
        **kwargs: initialisers, name and dtype, as for `RecurrentCell`.
    """

    gate_count = 4
    state_names = ("h", "c")

    def __init__(self, units, unit_forget_bias=True, **kwargs):
        super().__init__(units, **kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)

    def initial_bias(self, shape, dtype):
        """The bias initialiser's values, with the forget-gate block set to 1 if `unit_forget_bias`."""
        if not self.unit_forget_bias:
            return super().initial_bias(shape, dtype)
        units = self.units
        return np.concatenate([self.bias_initializer((units,), dtype), init.ones((units,), dtype),
                               self.bias_initializer((2 * units,), dtype)])

    def step(self, projected_inputs, states, gates=None):
        """One LSTM step from the projected input x W + b: return (h', [h', c'])."""
        hidden, cell = states
        with name_scope("projection"):
            z = projected_inputs + hidden @ self.recurrent_kernel
            z.name = "z"
            z_i, z_f, z_c, z_o = ops.split(z, 4, names=("z_i", "z_f", "z_c", "z_o"))
        # One scope per equation, so that a drawing of the graph groups each gate's ops.
        with name_scope("input_gate"):   input_gate = ops.sigmoid(z_i)
        with name_scope("forget_gate"):  forget_gate = ops.sigmoid(z_f)
        with name_scope("candidate"):    candidate = ops.tanh(z_c)
        with name_scope("output_gate"):  output_gate = ops.sigmoid(z_o)
        with name_scope("cell_state"):   new_cell = forget_gate * cell + input_gate * candidate
        with name_scope("hidden_state"): new_hidden = output_gate * ops.tanh(new_cell)
        if gates is not None:
            gates.update(input=input_gate, forget=forget_gate, candidate=candidate, output=output_gate)
        return new_hidden, [new_hidden, new_cell]

    def get_config(self):
        """See `Layer.get_config`."""
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias}


class GRUCell(RecurrentCell):
    """The GRU step (Cho et al.) as Keras's default, reset_after=True, with gate order z, r, h.

    The bias has two rows: row 0 (b) is added to the input projection, row 1 (b') to the
    recurrent one, and the reset gate scales the recurrent part of the candidate after its
    matrix product:

        x_z, x_r, x_h = x W + b,   split in three
        h_z, h_r, h_h = h U + b',  split in three
        z  = σ(x_z + h_z)           update gate: how much of h to keep
        r  = σ(x_r + h_r)           reset gate: how much of h the candidate sees
        hh = tanh(x_h + r · h_h)    candidate state
        h' = z · h + (1 - z) · hh

    Args:
        units: the size of the hidden state.
        **kwargs: initialisers, name and dtype, as for `RecurrentCell`.
    """

    gate_count = 3

    def bias_shape(self):
        """(2, 3 * units): an input bias row and a recurrent bias row."""
        return (2, self.gate_count * self.units)

    def input_bias(self):
        """Row 0 of the bias."""
        return self.bias[0]

    def step(self, projected_inputs, states, gates=None):
        """One GRU step from the projected input x W + b: return (h', [h'])."""
        (hidden,) = states
        with name_scope("projection"):
            recurrent = hidden @ self.recurrent_kernel + self.bias[1]
            x_z, x_r, x_h = ops.split(projected_inputs, 3, names=("x_z", "x_r", "x_h"))
            h_z, h_r, h_h = ops.split(recurrent, 3, names=("h_z", "h_r", "h_h"))
        # One scope per equation, so that a drawing of the graph groups each gate's ops.
        with name_scope("update_gate"):  update_gate = ops.sigmoid(x_z + h_z)
        with name_scope("reset_gate"):   reset_gate = ops.sigmoid(x_r + h_r)
        with name_scope("candidate"):    candidate = ops.tanh(x_h + reset_gate * h_h)
        with name_scope("hidden_state"): new_hidden = update_gate * hidden + (1 - update_gate) * candidate
        if gates is not None:
            gates.update(update=update_gate, reset=reset_gate, candidate=candidate)
        return new_hidden, [new_hidden]
