"""One time step forward and one back, per cell, on plain arrays: the equations of the fused kernels.

This is the part of the fused kernels to read beside the cells in `cells.py`. Each class holds
one cell's step written out by hand, its derivative beside it, and everything else that is
particular to that cell (its states, its gate order, the GRU's second bias). The loop over time
that calls these steps, and its bookkeeping, is `scaffold.py`.

The steps work on *gate-major* arrays: `gates[k]` is gate k, one contiguous (batch, units)
block, so that every element-wise operation below runs over contiguous memory (in Keras's
layout the gates sit side by side in each row, and one gate would be a strided slice).
`to_gate_major` and `from_gate_major` move weights between the two layouts.

Every step works in place on arrays it is handed or allocated once per sequence: the loop
calls it hundreds of times, and a step that allocated its arrays would spend much of its time
doing so.
"""

from __future__ import annotations

import numpy as np

from .. import activations
from ..cells import GRUCell, LSTMCell, SimpleRNNCell
from .inplace import ELEMENTWISE_ACTIVATIONS, FUSED_ACTIVATIONS


# ---- Keras layout <-> gate-major layout -----------------------------------------------------
def to_gate_major(matrix, keras_gates):
    """(rows, gates·units) in Keras's layout -> (gates, rows, units), blocks in internal order."""
    rows, width = matrix.shape
    blocks = matrix.reshape(rows, len(keras_gates), width // len(keras_gates))
    return np.ascontiguousarray(blocks.transpose(1, 0, 2)[list(keras_gates)])


def from_gate_major(blocks, keras_gates):
    """The inverse of `to_gate_major`: (gates, rows, units) -> (rows, gates·units)."""
    in_keras_order = blocks[list(np.argsort(keras_gates))]
    return np.concatenate(list(in_keras_order), axis=1)


# ---- what every cell's steps share ------------------------------------------------------------
class FusedSteps:
    """What one cell type contributes to the fused scaffold: its weights, a step forward and a step back.

    The weights are taken apart into an input side and a recurrent side:

    * `kernel_and_bias`, [[W], [b]] gate-major (gates, features + 1, units): the scaffold
      multiplies the inputs, with a column of ones for the bias, by it for every step at once
      and puts x_t W + b into `gates[:, t]`, (gates, batch, units).
    * `recurrent_weights`, a tuple of gate-major arrays: U (gates, units, units), and for the GRU
      its recurrent bias. Their gradients are sums over the steps of
      `recurrent_weight_gradients`.

    Then, step by step:

    * `forward_step(t, gates[:, t], previous, new)` finishes step t: it adds the recurrent
      part, applies the activations in place (so `gates[:, t]` ends up holding the gate values
      the backward pass needs) and writes the new states into `new`.
    * `backward_step(t, gates[:, t], previous, d_new, d_previous, dz, dz_recurrent)` is handed
      the gradients of the new states (`d_new`, which it may overwrite). It writes the gradient
      of the input pre-activation x_t W + b into `dz`, that of the recurrent pre-activation
      into `dz_recurrent` (the same array unless `separate_recurrent_gradient`), and the
      gradients of the previous states into `d_previous`.

    `previous`, `new`, `d_new` and `d_previous` list one (rows, units) array per state, in
    `state_names` order. Every array a step gets covers the first rows of the batch, the
    sequences that have started (see `StartSchedule`); the scaffold calls `use_rows` first so
    that the scratch arrays (and `self.rows`, for per-step buffers) match.

    Class attributes:
        state_names: the states, as the cell names them.
        keras_gates: internal gate k is gate `keras_gates[k]` of Keras's layout.
        separate_recurrent_gradient: whether dz_recurrent differs from dz.
        op_name: the name of the fused op in the graph.

    Recurrent dropout: with `recurrent_masks`, h is multiplied by its masks before the
    recurrent product (each gate's block by its own mask, or all by one), so the products
    become (h · m_k) U_k forward, dh = Σ_k (dz_k U_kᵀ) · m_k back and dU_k = Σ_t (h · m_k)ᵀ dz_k;
    `times_recurrent_kernel`, `times_recurrent_kernel_transposed` and `recurrent_inputs` do that,
    so the steps themselves do not change (`OriginalGRUSteps`, whose candidate's product waits
    for the reset gate, applies that product's mask itself).

    Args:
        cell: the cell whose weights (as arrays) the steps use.
        timesteps, batch: the size of the sequence, for buffers kept between the passes.
        allocate: `allocate(shape)` returns an uninitialised array for those buffers.
        recurrent_masks: None, or the recurrent dropout masks (count, batch, units) in Keras's
            gate order (count 1: one mask for every gate), rows in the schedule's order.
    """

    state_names = ("h",)
    keras_gates = (0,)
    separate_recurrent_gradient = False

    def __init__(self, cell, timesteps, batch, allocate, recurrent_masks=None):
        kernel = cell.kernel.data
        # Without a bias (use_bias=False) the kernel adds zeros, and the gradient is dropped.
        self.bias = cell.bias.data if cell.use_bias else np.zeros(cell.bias_shape(), kernel.dtype)
        input_bias = self.input_bias(self.bias)
        self.kernel_and_bias = to_gate_major(np.concatenate([kernel, input_bias[None, :]]), self.keras_gates)
        self.recurrent_kernel = to_gate_major(cell.recurrent_kernel.data, self.keras_gates)
        self.recurrent_kernel_transposed = self.recurrent_kernel.transpose(0, 2, 1)
        gate_count, units, _ = self.recurrent_kernel.shape
        dtype = kernel.dtype
        # Scratch space reused by every step (the steps allocate nothing), for the whole batch;
        # `use_rows` points the steps at its first rows.
        self.full_recurrent = np.empty((gate_count, batch, units), dtype)
        self.full_slope = np.empty((gate_count, batch, units), dtype)
        self.full_scratch = np.empty((batch, units), dtype)
        self.full_recurrent_masks = self.gate_major_masks(recurrent_masks)
        if recurrent_masks is not None:
            self.full_dropped = np.empty(self.full_recurrent_masks.shape, dtype)
        self.use_rows(batch)

    @classmethod
    def support_problem(cls, cell):
        """Why these steps cannot run `cell`, as a sentence, or None if they can."""
        return None

    def gate_major_masks(self, masks):
        """Dropout masks (count, batch, size) with one mask per gate put in the internal gate
        order (a single mask, or None, as it is)."""
        if masks is None or len(masks) == 1:
            return masks
        return masks[list(self.keras_gates)]

    # ---- the weights and their gradients ------------------------------------------------------
    def input_bias(self, bias):
        """The part of the cell's bias that is added to x W: all of it."""
        return bias

    @property
    def recurrent_weights(self):
        """The gate-major weights of the recurrent side: (U,)."""
        return (self.recurrent_kernel,)

    def recurrent_weight_gradients(self, hidden, dz_recurrent):
        """The recurrent weights' gradients from a chunk of steps: (Σ hᵀ dz_recurrent,).

        Args:
            hidden: the hidden states entering the steps as the recurrent product sees them,
                (count, steps·rows, units): count 1, or one per gate (see `recurrent_inputs`).
            dz_recurrent: their steps' dz_recurrent, (gates, steps·rows, units).
        """
        return (np.matmul(hidden.transpose(0, 2, 1), dz_recurrent),)

    def recurrent_inputs(self, hidden, start):
        """What the recurrent products multiply in a chunk of steps from step `start`, given its
        hidden states (steps, rows, units): (count, steps·rows, units), the hidden states times
        their dropout masks if there are any (count 1: one array for every gate)."""
        steps, rows, units = hidden.shape
        if self.full_recurrent_masks is None:
            return hidden.reshape(1, steps * rows, units)
        dropped = hidden[None] * self.full_recurrent_masks[:, None, :rows]
        return dropped.reshape(len(dropped), steps * rows, units)

    def keras_gradients(self, d_kernel_and_bias, d_recurrent_weights):
        """The gradients of the cell's kernel, recurrent_kernel and bias in Keras's layout, from
        the gate-major gradients of `kernel_and_bias` and `recurrent_weights`."""
        d_kernel_and_bias = from_gate_major(d_kernel_and_bias, self.keras_gates)
        (d_recurrent_kernel,) = d_recurrent_weights
        return (d_kernel_and_bias[:-1], from_gate_major(d_recurrent_kernel, self.keras_gates),
                d_kernel_and_bias[-1])

    # ---- helpers for the steps ---------------------------------------------------------------
    def use_rows(self, count):
        """Work on the first `count` rows of the batch (the sequences that have started) from now on."""
        self.rows = slice(0, count)
        self.recurrent, self.slope = self.full_recurrent[:, :count], self.full_slope[:, :count]
        self.scratch = self.full_scratch[:count]
        if self.full_recurrent_masks is not None:
            self.recurrent_masks = self.full_recurrent_masks[:, :count]
            self.dropped = self.full_dropped[:, :count]

    def gate_masks(self, gates):
        """The recurrent dropout masks that the gates `gates` (a slice) see: one for all, or theirs."""
        return self.recurrent_masks if len(self.recurrent_masks) == 1 else self.recurrent_masks[gates]

    def times_recurrent_kernel(self, hidden, gates=slice(None)):
        """h U_k for the gates `gates` (all by default; h dropped out first, if it is), into
        `self.recurrent[gates]` (gates, batch, units)."""
        if self.full_recurrent_masks is not None:
            masks = self.gate_masks(gates)
            hidden = np.multiply(hidden, masks, out=self.dropped[:len(masks)])
        return np.matmul(hidden, self.recurrent_kernel[gates], out=self.recurrent[gates])

    def times_recurrent_kernel_transposed(self, dz_recurrent, out, gates=slice(None)):
        """out = Σ_k dz_k U_kᵀ (· m_k with dropout) over the gates `gates`, whose dz_recurrent
        is given: the gradient reaching h through their recurrent products."""
        products = np.matmul(dz_recurrent, self.recurrent_kernel_transposed[gates], out=self.recurrent[gates])
        if self.full_recurrent_masks is not None:
            products *= self.gate_masks(gates)
        np.sum(products, axis=0, out=out)

    def forward_step(self, t, gates, previous, new):
        """Finish step t from `gates` = x_t W + b; see the class docstring."""
        raise NotImplementedError(f"{type(self).__name__}.forward_step is not implemented")

    def backward_step(self, t, gates, previous, d_new, d_previous, dz, dz_recurrent):
        """Step t back; see the class docstring."""
        raise NotImplementedError(f"{type(self).__name__}.backward_step is not implemented")


# ---- the three cells ----------------------------------------------------------------------------
class SimpleRNNSteps(FusedSteps):
    """The Elman step.

    Forward:   h' = φ(z),  z = x W + b + h U
    Backward:  dz = dh' · φ'(z)      (φ' written from the output h', e.g. 1 - h'² for tanh;
                                      softmax: dz = h' · (dh' - Σ dh' · h'), see `inplace`)
               dh = dz Uᵀ
    """

    op_name = "fused_simple_rnn"

    def __init__(self, cell, timesteps, batch, allocate, recurrent_masks=None):
        super().__init__(cell, timesteps, batch, allocate, recurrent_masks)
        self.activate, self.activation_backward = FUSED_ACTIVATIONS[cell.activation]

    @classmethod
    def support_problem(cls, cell):
        """A sentence if the cell has an activation with no entry in `FUSED_ACTIVATIONS`, else None."""
        if super().support_problem(cell):
            return super().support_problem(cell)
        if cell.activation not in FUSED_ACTIVATIONS:
            known = ", ".join(activations.serialize(activation) for activation in FUSED_ACTIVATIONS)
            return (f"the fused kernel has no hand-derived slope for the activation {cell.activation!r} "
                    f"(it knows {known})")
        return None

    def forward_step(self, t, gates, previous, new):
        """h' = φ(x W + b + h U); `gates` keeps h' for the backward pass."""
        gates += self.times_recurrent_kernel(previous[0])
        self.activate(gates)
        np.copyto(new[0], gates[0])

    def backward_step(self, t, gates, previous, d_new, d_previous, dz, dz_recurrent):
        """dz = dh' · φ' (for softmax, its Jacobian times dh'); dh = dz Uᵀ."""
        self.activation_backward(gates, d_new[0], out=dz)
        self.times_recurrent_kernel_transposed(dz, out=d_previous[0])


class GatedSteps(FusedSteps):
    """What the LSTM's and the GRU's steps share: the gates' activation σ (`recurrent_activation`,
    `squash`) and the candidate's φ (`activation`, `activate`), each applied in place, with its
    slope from its output; both element-wise (`inplace.ELEMENTWISE_ACTIVATIONS`)."""

    def __init__(self, cell, timesteps, batch, allocate, recurrent_masks=None):
        super().__init__(cell, timesteps, batch, allocate, recurrent_masks)
        self.squash, self.squash_slope = ELEMENTWISE_ACTIVATIONS[cell.recurrent_activation]
        self.activate, self.activation_slope = ELEMENTWISE_ACTIVATIONS[cell.activation]

    @classmethod
    def support_problem(cls, cell):
        """A sentence if the cell has an activation that is not element-wise and known to the
        kernel, else None."""
        if super().support_problem(cell):
            return super().support_problem(cell)
        for argument in ("activation", "recurrent_activation"):
            if getattr(cell, argument) not in ELEMENTWISE_ACTIVATIONS:
                known = ", ".join(activations.serialize(activation) for activation in ELEMENTWISE_ACTIVATIONS)
                return (f"the fused kernel has no hand-derived slope for the {argument} "
                        f"{getattr(cell, argument)!r} (it knows {known})")
        return None


class LSTMSteps(GatedSteps):
    """The LSTM step. Inside, the gates are ordered i, f, o, g (Keras: i, f, c, o), so that the
    three sigmoid gates form one block.

    Forward, with z = x W + b + h U:
        i, f, o = σ(z_i), σ(z_f), σ(z_o)      g = tanh(z_c)
        c' = f · c + i · g                    h' = o · tanh(c')
    Backward, given dh' and dc':
        dc' += dh' · o · (1 - tanh²(c'))      (c' reaches the loss through h' as well)
        di = dc' · g    df = dc' · c    do = dh' · tanh(c')    dg = dc' · i
        dz = [di · i(1-i), df · f(1-f), do · o(1-o), dg · (1-g²)]
        dc = dc' · f    dh = dz Uᵀ
    With other activations, σ and tanh stand for `squash` and `activate`, and the slopes
    i(1-i) and 1 - g² for theirs.
    """

    state_names = ("h", "c")
    keras_gates = (0, 1, 3, 2)
    op_name = "fused_lstm"

    def __init__(self, cell, timesteps, batch, allocate, recurrent_masks=None):
        super().__init__(cell, timesteps, batch, allocate, recurrent_masks)
        # tanh(c') of every step: the backward pass needs it, and recomputing costs as much.
        self.activated_cell = allocate((timesteps,) + self.full_scratch.shape)

    def forward_step(self, t, gates, previous, new):
        """One LSTM step; `gates` ends up holding i, f, o, g."""
        (_, cell), (new_hidden, new_cell) = previous, new
        gates += self.times_recurrent_kernel(previous[0])
        self.squash(gates[:3])
        input_gate, forget_gate, output_gate, candidate = gates
        self.activate(candidate)
        np.multiply(forget_gate, cell, out=new_cell)
        np.multiply(input_gate, candidate, out=self.scratch)
        new_cell += self.scratch
        activated_cell = self.activated_cell[t, self.rows]
        np.copyto(activated_cell, new_cell)
        self.activate(activated_cell)
        np.multiply(output_gate, activated_cell, out=new_hidden)

    def backward_step(self, t, gates, previous, d_new, d_previous, dz, dz_recurrent):
        """One LSTM step back; see the class docstring for the equations."""
        (_, cell), (d_hidden, d_cell), (d_hidden_previous, d_cell_previous) = previous, d_new, d_previous
        input_gate, forget_gate, output_gate, candidate = gates
        d_input, d_forget, d_output, d_candidate = dz
        activated_cell = self.activated_cell[t, self.rows]

        self.activation_slope(activated_cell, out=self.scratch)
        self.scratch *= output_gate
        self.scratch *= d_hidden
        d_cell += self.scratch
        # The gradients of the gate values...
        np.multiply(d_cell, candidate, out=d_input)
        np.multiply(d_cell, cell, out=d_forget)
        np.multiply(d_hidden, activated_cell, out=d_output)
        np.multiply(d_cell, input_gate, out=d_candidate)
        np.multiply(d_cell, forget_gate, out=d_cell_previous)
        # ... times the activations' slopes: σ(1-σ) for i, f, o and 1 - g² for g (with the defaults).
        self.squash_slope(gates[:3], out=self.slope[:3])
        self.activation_slope(candidate, out=self.slope[3])
        dz *= self.slope
        self.times_recurrent_kernel_transposed(dz, out=d_hidden_previous)


class GRUSteps(GatedSteps):
    """The GRU step as Keras's reset_after=True, gates ordered z, r, h.

    Forward, with a = x W + b_in (the input part) and q = h U + b_rec (the recurrent part):
        z  = σ(a_z + q_z)       r = σ(a_r + q_r)       hh = tanh(a_h + r · q_h)
        h' = z · h + (1 - z) · hh
    Backward, given dh':
        dz = dh' · (h - hh)     dhh = dh' · (1 - z)
        da_h = dhh · (1 - hh²)  da_r = da_h · q_h · r(1-r)  da_z = dz · z(1-z)
        dq = [da_z, da_r, da_h · r]      (the reset gate scales q_h)
        dh = dh' · z + dq Uᵀ
    The recurrent pre-activation's gradient dq differs from the input one, da, in its last
    block, so the GRU keeps it in an array of its own; it is also the gradient of b_rec.
    With other activations, σ and tanh stand for `squash` and `activate`, and the slopes
    r(1-r) and 1 - hh² for theirs.
    """

    keras_gates = (0, 1, 2)
    separate_recurrent_gradient = True
    op_name = "fused_gru"

    def __init__(self, cell, timesteps, batch, allocate, recurrent_masks=None):
        super().__init__(cell, timesteps, batch, allocate, recurrent_masks)
        self.recurrent_bias = to_gate_major(self.bias[1][None, :], self.keras_gates)
        # q_h = h U_h + b_rec_h of every step: the backward pass needs it for the reset gate.
        self.recurrent_candidate = allocate((timesteps,) + self.full_scratch.shape)

    def input_bias(self, bias):
        """Row 0 of the bias; row 1 is the recurrent bias."""
        return bias[0]

    @property
    def recurrent_weights(self):
        """(U, b_rec), gate-major."""
        return (self.recurrent_kernel, self.recurrent_bias)

    def recurrent_weight_gradients(self, hidden, dz_recurrent):
        """(Σ hᵀ dq, Σ dq): U's gradient and the recurrent bias's."""
        return (np.matmul(hidden.transpose(0, 2, 1), dz_recurrent), dz_recurrent.sum(axis=1, keepdims=True))

    def keras_gradients(self, d_kernel_and_bias, d_recurrent_weights):
        """As `FusedSteps.keras_gradients`, with the bias's gradient in two rows: input, recurrent."""
        d_recurrent_kernel, d_recurrent_bias = d_recurrent_weights
        d_kernel, d_recurrent_kernel, d_input_bias = super().keras_gradients(d_kernel_and_bias,
                                                                             (d_recurrent_kernel,))
        d_recurrent_bias = from_gate_major(d_recurrent_bias, self.keras_gates)[0]
        return d_kernel, d_recurrent_kernel, np.stack([d_input_bias, d_recurrent_bias])

    def forward_step(self, t, gates, previous, new):
        """One GRU step; `gates` ends up holding z, r, hh."""
        (hidden,), (new_hidden,) = previous, new
        recurrent = self.times_recurrent_kernel(hidden)
        recurrent += self.recurrent_bias
        gates[:2] += recurrent[:2]
        self.squash(gates[:2])
        update_gate, reset_gate, candidate = gates
        np.copyto(self.recurrent_candidate[t, self.rows], recurrent[2])
        np.multiply(reset_gate, recurrent[2], out=self.scratch)
        candidate += self.scratch
        self.activate(candidate)
        blend(hidden, update_gate, candidate, out=new_hidden)

    def backward_step(self, t, gates, previous, d_new, d_previous, dz, dz_recurrent):
        """One GRU step back; see the class docstring for the equations."""
        (hidden,), (d_hidden,), (d_hidden_previous,) = previous, d_new, d_previous
        update_gate, reset_gate, candidate = gates
        d_update, d_reset, d_candidate = dz

        blend_gradients(self, hidden, update_gate, candidate, d_hidden, d_update, d_candidate)
        np.multiply(d_candidate, self.recurrent_candidate[t, self.rows], out=d_reset)  # dr
        self.squash_slope(gates[:2], out=self.slope[:2])
        dz[:2] *= self.slope[:2]                               # da_z, da_r

        np.copyto(dz_recurrent[:2], dz[:2])
        np.multiply(d_candidate, reset_gate, out=dz_recurrent[2])
        self.times_recurrent_kernel_transposed(dz_recurrent, out=d_hidden_previous)
        np.multiply(d_hidden, update_gate, out=self.scratch)
        d_hidden_previous += self.scratch


class OriginalGRUSteps(GatedSteps):
    """The GRU step as Keras's reset_after=False (the original GRU), gates ordered z, r, h: the
    reset gate scales h before the candidate's recurrent product.

    Forward, with a = x W + b, and h_k = h · m_k (h itself without recurrent dropout):
        z = σ(a_z + h_z U_z)     r = σ(a_r + h_r U_r)     s = r · h_h     hh = tanh(a_h + s U_h)
        h' = z · h + (1 - z) · hh
    Backward, given dh':
        da_z = dh' · (h - hh) · z(1-z)     da_h = dh' · (1 - z) · (1 - hh²)
        ds = da_h U_hᵀ                     da_r = ds · h_h · r(1-r)
        dh = dh' · z + Σ_{k=z,r} (da_k U_kᵀ) · m_k + ds · r · m_h
    U_h's gradient is Σ sᵀ da_h: for the candidate, the products for the weights see s
    (`recurrent_inputs`), which the forward pass keeps for every step.
    """

    keras_gates = (0, 1, 2)
    op_name = "fused_gru"

    def __init__(self, cell, timesteps, batch, allocate, recurrent_masks=None):
        super().__init__(cell, timesteps, batch, allocate, recurrent_masks)
        # s = r · h_h of every step; zero for the rows that have not started, whose dz are zero
        # in the weights' products (uninitialised memory could hold NaN, and NaN · 0 is NaN).
        self.reset_hidden = allocate((timesteps,) + self.full_scratch.shape)
        self.reset_hidden.fill(0.0)

    def recurrent_inputs(self, hidden, start):
        """As `FusedSteps.recurrent_inputs` for z and r; s for the candidate."""
        steps, rows, units = hidden.shape
        inputs = np.empty((3, steps * rows, units), hidden.dtype)
        inputs[:2] = super().recurrent_inputs(hidden, start)[:2]  # one array broadcasts to both
        inputs[2] = self.reset_hidden[start:start + steps, :rows].reshape(steps * rows, units)
        return inputs

    def forward_step(self, t, gates, previous, new):
        """One GRU step; `gates` ends up holding z, r, hh."""
        (hidden,), (new_hidden,) = previous, new
        gates[:2] += self.times_recurrent_kernel(hidden, slice(0, 2))
        self.squash(gates[:2])
        update_gate, reset_gate, candidate = gates
        reset_hidden = self.reset_hidden[t, self.rows]
        np.multiply(reset_gate, hidden, out=reset_hidden)
        if self.full_recurrent_masks is not None:
            reset_hidden *= self.gate_masks(slice(2, 3))[0]        # s = r · h · m_h
        candidate += np.matmul(reset_hidden, self.recurrent_kernel[2], out=self.scratch)
        self.activate(candidate)
        blend(hidden, update_gate, candidate, out=new_hidden)

    def backward_step(self, t, gates, previous, d_new, d_previous, dz, dz_recurrent):
        """One GRU step back; see the class docstring for the equations."""
        (hidden,), (d_hidden,), (d_hidden_previous,) = previous, d_new, d_previous
        update_gate, reset_gate, candidate = gates
        d_update, d_reset, d_candidate = dz

        blend_gradients(self, hidden, update_gate, candidate, d_hidden, d_update, d_candidate)
        # ds, in the scratch of the candidate's block (the z and r blocks are used below)
        d_reset_hidden = np.matmul(d_candidate, self.recurrent_kernel_transposed[2], out=self.recurrent[2])
        np.multiply(d_reset_hidden, hidden, out=d_reset)           # dr = ds · h_h
        if self.full_recurrent_masks is not None:
            d_reset *= self.gate_masks(slice(2, 3))[0]
        self.squash_slope(gates[:2], out=self.slope[:2])
        dz[:2] *= self.slope[:2]                                   # da_z, da_r

        d_reset_hidden *= reset_gate                               # ds · r (· m_h)
        if self.full_recurrent_masks is not None:
            d_reset_hidden *= self.gate_masks(slice(2, 3))[0]
        self.times_recurrent_kernel_transposed(dz[:2], out=d_hidden_previous, gates=slice(0, 2))
        d_hidden_previous += d_reset_hidden
        np.multiply(d_hidden, update_gate, out=self.scratch)
        d_hidden_previous += self.scratch


def blend(hidden, update_gate, candidate, out):
    """h' = z · h + (1 - z) · hh, which both GRU forms share, into `out`; computed as
    hh + z · (h - hh), one multiply fewer."""
    np.subtract(hidden, candidate, out=out)
    out *= update_gate
    out += candidate


def blend_gradients(steps, hidden, update_gate, candidate, d_hidden, d_update, d_candidate):
    """Back through h' = z · h + (1 - z) · hh, which both GRU forms share: writes
    dz = dh' · (h - hh) into `d_update` and da_h = dh' · (1 - z) · act'(hh) into `d_candidate`."""
    np.subtract(hidden, candidate, out=d_update)
    d_update *= d_hidden
    np.subtract(1.0, update_gate, out=d_candidate)
    d_candidate *= d_hidden
    steps.activation_slope(candidate, out=steps.scratch)
    d_candidate *= steps.scratch


STEPS_BY_CELL = {SimpleRNNCell: SimpleRNNSteps, LSTMCell: LSTMSteps, GRUCell: GRUSteps}


def steps_for(cell):
    """The `FusedSteps` class that runs `cell`, or None if there is none (a cell class of
    your own, or a subclass, which may change the step)."""
    if type(cell) is GRUCell and not cell.reset_after:
        return OriginalGRUSteps
    return STEPS_BY_CELL.get(type(cell))
