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

from ..cells import GRUCell, LSTMCell, SimpleRNNCell
from .inplace import FUSED_ACTIVATIONS, sigmoid_inplace, sigmoid_slope, tanh_slope


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

    Args:
        cell: the cell whose weights (as arrays) the steps use.
        timesteps, batch: the size of the sequence, for buffers kept between the passes.
        allocate: `allocate(shape)` returns an uninitialised array for those buffers.
    """

    state_names = ("h",)
    keras_gates = (0,)
    separate_recurrent_gradient = False

    def __init__(self, cell, timesteps, batch, allocate):
        kernel, input_bias = cell.kernel.data, self.input_bias(cell.bias.data)
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
        self.use_rows(batch)

    @classmethod
    def support_problem(cls, cell):
        """Why these steps cannot run `cell`, as a sentence, or None if they can."""
        return None

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
            hidden: the hidden states entering the steps, (steps·rows, units).
            dz_recurrent: their steps' dz_recurrent, (gates, steps·rows, units).
        """
        return (np.matmul(hidden.T, dz_recurrent),)

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

    def times_recurrent_kernel(self, hidden):
        """h U for every gate, into `self.recurrent` (gates, batch, units)."""
        return np.matmul(hidden, self.recurrent_kernel, out=self.recurrent)

    def times_recurrent_kernel_transposed(self, dz_recurrent, out):
        """out = dz Uᵀ = Σ_k dz_k U_kᵀ, the gradient reaching h through the recurrent product."""
        np.matmul(dz_recurrent, self.recurrent_kernel_transposed, out=self.recurrent)
        np.sum(self.recurrent, axis=0, out=out)

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
    Backward:  dz = dh' · φ'(z)      (φ' written from the output h', e.g. 1 - h'² for tanh)
               dh = dz Uᵀ
    """

    op_name = "fused_simple_rnn"

    def __init__(self, cell, timesteps, batch, allocate):
        super().__init__(cell, timesteps, batch, allocate)
        self.activate, self.activation_slope = FUSED_ACTIVATIONS[cell.activation]

    @classmethod
    def support_problem(cls, cell):
        """A sentence if the cell's activation has no entry in `FUSED_ACTIVATIONS`, else None."""
        if cell.activation not in FUSED_ACTIVATIONS:
            return (f"the fused kernel has no hand-derived slope for the activation {cell.activation!r} "
                    f"(it knows linear, sigmoid, tanh and relu)")
        return None

    def forward_step(self, t, gates, previous, new):
        """h' = φ(x W + b + h U); `gates` keeps h' for the backward pass."""
        gates += self.times_recurrent_kernel(previous[0])
        self.activate(gates)
        np.copyto(new[0], gates[0])

    def backward_step(self, t, gates, previous, d_new, d_previous, dz, dz_recurrent):
        """dz = dh' · φ'; dh = dz Uᵀ."""
        self.activation_slope(gates, out=dz)
        dz *= d_new[0]
        self.times_recurrent_kernel_transposed(dz, out=d_previous[0])


class LSTMSteps(FusedSteps):
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
    """

    state_names = ("h", "c")
    keras_gates = (0, 1, 3, 2)
    op_name = "fused_lstm"

    def __init__(self, cell, timesteps, batch, allocate):
        super().__init__(cell, timesteps, batch, allocate)
        # tanh(c') of every step: the backward pass needs it, and recomputing costs as much.
        self.tanh_cell = allocate((timesteps,) + self.full_scratch.shape)

    def forward_step(self, t, gates, previous, new):
        """One LSTM step; `gates` ends up holding i, f, o, g."""
        (_, cell), (new_hidden, new_cell) = previous, new
        gates += self.times_recurrent_kernel(previous[0])
        sigmoid_inplace(gates[:3])
        input_gate, forget_gate, output_gate, candidate = gates
        np.tanh(candidate, out=candidate)
        np.multiply(forget_gate, cell, out=new_cell)
        np.multiply(input_gate, candidate, out=self.scratch)
        new_cell += self.scratch
        np.tanh(new_cell, out=self.tanh_cell[t, self.rows])
        np.multiply(output_gate, self.tanh_cell[t, self.rows], out=new_hidden)

    def backward_step(self, t, gates, previous, d_new, d_previous, dz, dz_recurrent):
        """One LSTM step back; see the class docstring for the equations."""
        (_, cell), (d_hidden, d_cell), (d_hidden_previous, d_cell_previous) = previous, d_new, d_previous
        input_gate, forget_gate, output_gate, candidate = gates
        d_input, d_forget, d_output, d_candidate = dz
        tanh_cell = self.tanh_cell[t, self.rows]

        tanh_slope(tanh_cell, out=self.scratch)
        self.scratch *= output_gate
        self.scratch *= d_hidden
        d_cell += self.scratch
        # The gradients of the gate values...
        np.multiply(d_cell, candidate, out=d_input)
        np.multiply(d_cell, cell, out=d_forget)
        np.multiply(d_hidden, tanh_cell, out=d_output)
        np.multiply(d_cell, input_gate, out=d_candidate)
        np.multiply(d_cell, forget_gate, out=d_cell_previous)
        # ... times the activations' slopes: σ(1-σ) for i, f, o and 1 - g² for g.
        sigmoid_slope(gates[:3], out=self.slope[:3])
        tanh_slope(candidate, out=self.slope[3])
        dz *= self.slope
        self.times_recurrent_kernel_transposed(dz, out=d_hidden_previous)


class GRUSteps(FusedSteps):
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
    """

    keras_gates = (0, 1, 2)
    separate_recurrent_gradient = True
    op_name = "fused_gru"

    def __init__(self, cell, timesteps, batch, allocate):
        super().__init__(cell, timesteps, batch, allocate)
        self.recurrent_bias = to_gate_major(cell.bias.data[1][None, :], self.keras_gates)
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
        return (np.matmul(hidden.T, dz_recurrent), dz_recurrent.sum(axis=1, keepdims=True))

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
        sigmoid_inplace(gates[:2])
        update_gate, reset_gate, candidate = gates
        np.copyto(self.recurrent_candidate[t, self.rows], recurrent[2])
        np.multiply(reset_gate, recurrent[2], out=self.scratch)
        candidate += self.scratch
        np.tanh(candidate, out=candidate)
        # h' = hh + z · (h - hh), the same as z · h + (1 - z) · hh with one multiply fewer
        np.subtract(hidden, candidate, out=new_hidden)
        new_hidden *= update_gate
        new_hidden += candidate

    def backward_step(self, t, gates, previous, d_new, d_previous, dz, dz_recurrent):
        """One GRU step back; see the class docstring for the equations."""
        (hidden,), (d_hidden,), (d_hidden_previous,) = previous, d_new, d_previous
        update_gate, reset_gate, candidate = gates
        d_update, d_reset, d_candidate = dz

        np.subtract(hidden, candidate, out=d_update)
        d_update *= d_hidden                                   # dz = dh' · (h - hh)
        np.subtract(1.0, update_gate, out=d_candidate)
        d_candidate *= d_hidden                                # dhh = dh' · (1 - z)
        tanh_slope(candidate, out=self.scratch)
        d_candidate *= self.scratch                            # da_h
        np.multiply(d_candidate, self.recurrent_candidate[t, self.rows], out=d_reset)  # dr
        sigmoid_slope(gates[:2], out=self.slope[:2])
        dz[:2] *= self.slope[:2]                               # da_z, da_r

        np.copyto(dz_recurrent[:2], dz[:2])
        np.multiply(d_candidate, reset_gate, out=dz_recurrent[2])
        self.times_recurrent_kernel_transposed(dz_recurrent, out=d_hidden_previous)
        np.multiply(d_hidden, update_gate, out=self.scratch)
        d_hidden_previous += self.scratch


STEPS_BY_CELL = {SimpleRNNCell: SimpleRNNSteps, LSTMCell: LSTMSteps, GRUCell: GRUSteps}
