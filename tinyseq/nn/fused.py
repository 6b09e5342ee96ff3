"""Fused sequence ops: a whole recurrent layer, forward and backward through time, as ONE graph node.

The cells in `cells.py` build every time step from primitive ops, so autograd derives their
backward pass for free. The price is paid per step: an LSTM step records about twenty graph
nodes, so a 500-step review makes ten thousand, each with its own small arrays to allocate and
its own visit from the engine on the way back. Frameworks avoid that by *fusing*: they write the
loop over time themselves, on plain arrays, and derive its backward pass by hand. This module
does the same, which is the answer to "why do frameworks fuse kernels?":

* The input projection x_t W + b does not depend on the state, so it is done for all steps at
  once, before the loop (BLAS is far faster on one big product than on 500 small ones). The
  bias rides along as the weight of an extra input that is always 1.
* The loop writes into arrays allocated once per sequence (every step's gates and states, and
  they are reused by the next sequence); the steps themselves allocate nothing.
* The weight gradients are sums over the steps, dU = Σ_t h_{t-1}ᵀ dz_t, so the backward loop
  only stores each dz_t, and one product per chunk of steps adds them up (`WeightGradients`).
  Only dh_{t-1} = dz_t Uᵀ, which the next step back needs, is a product inside the loop.
* The engine sees one node instead of ten thousand.

Memory layout, the other half of the speed. The arrays are time-major and *gate-major*:
`gates[k, t]` is gate k at step t, a contiguous (batch, units) block. Keras's layout puts the
gates side by side in each row, so one gate of one step would be a strided slice, and numpy
loops over strided slices row by row, several times slower than over one contiguous block.
The weights are rearranged to match: `kernel[:, k·units:(k+1)·units]` becomes block k of a
(gates, features, units) array, and the gradients are put back into Keras's layout at the end.

The scaffold (`fused_recurrence`) is shared; what differs between SimpleRNN, LSTM and GRU is
one step forward and one step back, written side by side with their equations in
`SimpleRNNSteps`, `LSTMSteps` and `GRUSteps`. Steps are numbered in processing order: with
go_backwards the inputs are reversed first.

Masking works as in `recurrent.py`: at a padding step a sequence's states carry over,
s_t = s_{t-1}. The backward of that choice is a switch: where the step was real, the gradient
of s_t enters the step's computation; where it was padding, it passes straight to s_{t-1}.
Padding *before* a sequence's first word (Keras pads at the front) is cheaper still: the
sequence just waits in its initial state. So the rows are sorted by their first real step
(`StartSchedule`) and step t runs on the rows that have started, a prefix of the batch: a
batch of reviews then costs about its number of words, not 500 steps of every review.
"""

from __future__ import annotations

import math
import weakref

import numpy as np

from ..tensor import make_node
from . import activations
from .cells import GRUCell, LSTMCell, SimpleRNNCell


# ---- element-wise helpers, in place on numpy arrays ------------------------------------------
def sigmoid_inplace(z):
    """Overwrite z with σ(z) = (1 + tanh(z / 2)) / 2, which cannot overflow (1 / (1 + e^-z) does
    for very negative z).

    Unlike `ops.sigmoid` (which keeps the relative precision of tiny values such as σ(-50)), this
    form needs no temporary array; its absolute error, below 1e-16, is all a gate needs.
    """
    z *= 0.5
    np.tanh(z, out=z)
    z += 1.0
    z *= 0.5


def sigmoid_slope(y, out):
    """σ'(z) from y = σ(z): y (1 - y)."""
    np.subtract(1.0, y, out=out)
    out *= y


def tanh_slope(y, out):
    """tanh'(z) from y = tanh(z): 1 - y²."""
    np.multiply(y, y, out=out)
    np.subtract(1.0, out, out=out)


def relu_slope(y, out):
    """relu'(z) from y = relu(z): 1 where y > 0, else 0."""
    np.greater(y, 0, out=out)


def linear_slope(y, out):
    """The identity's slope: 1."""
    out.fill(1.0)


# Activations a fused SimpleRNN can use: (apply in place, slope from the activation's output).
# Each slope is written in terms of the output y, which the forward pass keeps anyway.
FUSED_ACTIVATIONS = {
    activations.tanh: (lambda z: np.tanh(z, out=z), tanh_slope),
    activations.sigmoid: (sigmoid_inplace, sigmoid_slope),
    activations.relu: (lambda z: np.maximum(z, 0, out=z), relu_slope),
    activations.linear: (lambda z: None, linear_slope),
}


# ---- one step forward and back, per cell ---------------------------------------------------
class FusedSteps:
    """What one cell type contributes to the fused scaffold: a step forward and a step back.

    Before the loop the scaffold fills `gates[:, t]`, (gates, batch, units), with x_t W + b for
    every step. Then:

    * `forward_step(t, gates[:, t], previous, new)` finishes step t: it adds the recurrent
      part, applies the activations in place (so `gates[:, t]` ends up holding the gate values
      the backward pass needs) and writes the new states into `new`.
    * `backward_step(t, gates[:, t], previous, d_new, d_previous, dz, dz_recurrent)` is handed
      the gradients of the new states (`d_new`, which it may overwrite). It writes the gradient
      of the input pre-activation x_t W + b into `dz`, that of the recurrent pre-activation
      h U (+ recurrent bias) into `dz_recurrent` (the same array, except for the GRU), and the
      gradients of the previous states into `d_previous`.

    `previous`, `new`, `d_new` and `d_previous` list one (rows, units) array per state, in
    `state_names` order. Every array a step gets covers the first rows of the batch, the
    sequences that have started (see `StartSchedule`); the scaffold calls `use_rows` first so
    that the scratch arrays (and `self.rows`, for per-step buffers) match.

    Class attributes:
        state_names: the states, as the cell names them.
        keras_gates: internal gate k is gate `keras_gates[k]` of Keras's layout.
        separate_recurrent_gradient: whether dz_recurrent differs from dz (the GRU).

    Args:
        cell: the cell (SimpleRNN: for its activation).
        recurrent_kernel: U, gate-major: (gates, units, units).
        recurrent_bias: the GRU's recurrent bias, (gates, 1, units); None for the others.
        timesteps, batch: the size of the sequence, for buffers kept between the passes.
        allocate: `allocate(shape)` returns an uninitialised array for those buffers.
    """

    state_names = ("h",)
    keras_gates = (0,)
    separate_recurrent_gradient = False

    def __init__(self, cell, recurrent_kernel, recurrent_bias, timesteps, batch, allocate):
        self.recurrent_kernel = recurrent_kernel
        self.recurrent_kernel_transposed = recurrent_kernel.transpose(0, 2, 1)
        self.recurrent_bias = recurrent_bias
        gate_count, units, _ = recurrent_kernel.shape
        dtype = recurrent_kernel.dtype
        # Scratch space reused by every step (the steps allocate nothing), for the whole batch;
        # `use_rows` points the steps at its first rows.
        self.full_recurrent = np.empty((gate_count, batch, units), dtype)
        self.full_slope = np.empty((gate_count, batch, units), dtype)
        self.full_scratch = np.empty((batch, units), dtype)
        self.use_rows(batch)

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


class SimpleRNNSteps(FusedSteps):
    """The Elman step.

    Forward:   h' = φ(z),  z = x W + b + h U
    Backward:  dz = dh' · φ'(z)      (φ' written from the output h', e.g. 1 - h'² for tanh)
               dh = dz Uᵀ
    """

    def __init__(self, cell, recurrent_kernel, recurrent_bias, timesteps, batch, allocate):
        super().__init__(cell, recurrent_kernel, recurrent_bias, timesteps, batch, allocate)
        self.activate, self.activation_slope = FUSED_ACTIVATIONS[cell.activation]

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

    def __init__(self, cell, recurrent_kernel, recurrent_bias, timesteps, batch, allocate):
        super().__init__(cell, recurrent_kernel, recurrent_bias, timesteps, batch, allocate)
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
    block, so the GRU keeps it in an array of its own.
    """

    separate_recurrent_gradient = True
    keras_gates = (0, 1, 2)

    def __init__(self, cell, recurrent_kernel, recurrent_bias, timesteps, batch, allocate):
        super().__init__(cell, recurrent_kernel, recurrent_bias, timesteps, batch, allocate)
        # q_h = h U_h + b_rec_h of every step: the backward pass needs it for the reset gate.
        self.recurrent_candidate = allocate((timesteps,) + self.full_scratch.shape)

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
OP_NAMES = {SimpleRNNCell: "fused_simple_rnn", LSTMCell: "fused_lstm", GRUCell: "fused_gru"}


def fused_support_problem(cell):
    """Why `cell` cannot run fused, as a sentence, or None if it can.

    Only the three built-in cells (not subclasses, which may change the step) have
    hand-derived backward passes, and a SimpleRNN only with an activation listed in
    `FUSED_ACTIVATIONS`.
    """
    if type(cell) not in STEPS_BY_CELL:
        return f"there is no fused kernel for {type(cell).__name__} (only for SimpleRNNCell, LSTMCell and GRUCell)"
    if isinstance(cell, SimpleRNNCell) and cell.activation not in FUSED_ACTIVATIONS:
        return (f"the fused kernel has no hand-derived slope for the activation {cell.activation!r} "
                f"(it knows linear, sigmoid, tanh and relu)")
    return None


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


# ---- big buffers, reused from one batch to the next -----------------------------------------
class Workspace:
    """A store of big arrays that fused ops reuse instead of allocating fresh memory every call.

    A fresh array of a hundred megabytes is fresh memory, and the operating system zeroes each
    of its pages on first touch; measured on the seed model, that is about 8 % of a training
    step. So the fused ops take their big buffers from here (`take`), and hand them back once
    their graph node's backward function is freed (`give_back_when_freed`): after the backward
    pass, or at once when no graph was recorded. Until then nothing else can get them, so a
    graph kept for a second backward pass (retain_graph=True) keeps its buffers intact.

    A free buffer serves any request of its dtype that fits in it (the smallest such buffer is
    chosen); free buffers too small for a request are dropped, so the store holds only about
    one call's worth of buffers, sized for the longest sequences seen.
    """

    def __init__(self):
        self.free = []  # flat arrays not in use

    def take(self, shape, dtype):
        """An uninitialised array of `shape` and `dtype`, from a free buffer if one fits."""
        size, dtype = math.prod(shape), np.dtype(dtype)
        fitting = [flat for flat in self.free if flat.dtype == dtype and flat.size >= size]
        if fitting:
            flat = min(fitting, key=len)
            self.free = [other for other in self.free if other is not flat]
        else:
            self.free = [other for other in self.free if other.dtype != dtype or other.size > size]
            flat = np.empty(size, dtype)
        return flat[:size].reshape(shape)

    def give_back_when_freed(self, owner, arrays):
        """Return `arrays` (from `take`) to the store once `owner` is garbage-collected."""
        weakref.finalize(owner, self.free.extend, [array.base for array in arrays])


WORKSPACE = Workspace()


# ---- the weight gradients, summed over the steps chunk by chunk ------------------------------
class WeightGradients:
    """Collects dz of the steps, going back in time, and turns them into the weight gradients.

    Every weight gradient is a sum over the steps: dW = Σ_t [x_t, 1]ᵀ dz_t (the bias's gradient
    is the row of the constant 1), dU = Σ_t h_{t-1}ᵀ dz_t, and the inputs' gradient dx_t = dz_t Wᵀ.
    One product per step would be 500 small, slow products; one product over all the steps
    would have to keep every dz in a (gates, timesteps·batch, units) array and stream it from
    main memory. So the steps write their dz into a buffer for `CHUNK_STEPS` steps, and each
    full chunk becomes one product per gradient while it is still in the processor's cache
    (measured on the seed model: 54 ms per batch, against 70 ms for one product over all steps,
    which would also need 100 MB more memory).

    Only the rows that have started by a chunk's last step take part in its products; the
    steps of the chunk in which some of those rows had not started yet give them dz = 0.

    Args:
        steps: the FusedSteps (for the recurrent kernel's shape and the GRU's separate dq).
        x_ones: the inputs with their column of ones, (timesteps, batch, features + 1).
        hidden: the hidden states, (timesteps + 1, batch, units); hidden[t] enters step t.
        kernel_and_bias: [[W], [b]], gate-major, for the inputs' gradient.
        started: started[t], the number of rows (from the first) that have started by step t.
        inputs_need_gradient: whether to compute dx.
    """

    CHUNK_STEPS = 8

    def __init__(self, steps, x_ones, hidden, kernel_and_bias, started, inputs_need_gradient):
        gate_count, units, _ = steps.recurrent_kernel.shape
        timesteps, batch, features = x_ones.shape
        features -= 1
        dtype = hidden.dtype
        self.x_ones, self.hidden, self.started = x_ones, hidden, started
        self.kernel_transposed = kernel_and_bias[:, :features].transpose(0, 2, 1)
        self.dz = np.empty((gate_count, self.CHUNK_STEPS, batch, units), dtype)
        self.dz_recurrent = np.empty_like(self.dz) if steps.separate_recurrent_gradient else self.dz
        self.d_kernel_and_bias = np.zeros(kernel_and_bias.shape, dtype)
        self.d_recurrent_kernel = np.zeros((gate_count, units, units), dtype)
        self.d_recurrent_bias = None if steps.recurrent_bias is None else np.zeros((gate_count, 1, units), dtype)
        self.d_x = np.zeros((timesteps, batch, features), dtype) if inputs_need_gradient else None
        self.chunk_end = timesteps  # the chunk being filled: steps [chunk_end - CHUNK_STEPS, chunk_end)

    def slots_for(self, t):
        """Where step t writes dz and dz_recurrent, for its started rows; first folds in the
        previous chunk if full."""
        if t < self.chunk_end - self.CHUNK_STEPS:
            self._fold_chunk(self.chunk_end - self.CHUNK_STEPS)
        slot = t - (self.chunk_end - self.CHUNK_STEPS)
        started, chunk_rows = self.started[t], self.started[self.chunk_end - 1]
        if started < chunk_rows:  # rows that start later in the chunk
            self.dz[:, slot, started:chunk_rows] = 0.0
            self.dz_recurrent[:, slot, started:chunk_rows] = 0.0
        return self.dz[:, slot, :started], self.dz_recurrent[:, slot, :started]

    def finish(self):
        """Fold in the last chunk; return the gate-major gradients of [[W], [b]], U, the GRU's
        recurrent bias (None for the others), and dx (time-major, in processing order; None if
        not wanted)."""
        self._fold_chunk(0)
        return self.d_kernel_and_bias, self.d_recurrent_kernel, self.d_recurrent_bias, self.d_x

    def _fold_chunk(self, start):
        """Add the products of steps [start, chunk_end), whose dz fill the buffer's last slots."""
        count, end = self.chunk_end - start, self.chunk_end
        self.chunk_end = start
        rows = self.started[end - 1]
        if rows == 0:
            return
        gate_count, _, _, units = self.dz.shape
        first_slot = self.CHUNK_STEPS - count
        # (steps, rows, ...) -> (steps·rows, ...): copies unless every row takes part
        dz = self.dz[:, first_slot:, :rows].reshape(gate_count, count * rows, units)
        dz_recurrent = dz if self.dz_recurrent is self.dz else \
            self.dz_recurrent[:, first_slot:, :rows].reshape(gate_count, count * rows, units)
        x_ones = self.x_ones[start:end, :rows].reshape(count * rows, -1)
        self.d_kernel_and_bias += np.matmul(x_ones.T, dz)
        self.d_recurrent_kernel += np.matmul(self.hidden[start:end, :rows].reshape(count * rows, units).T, dz_recurrent)
        if self.d_recurrent_bias is not None:
            self.d_recurrent_bias += dz_recurrent.sum(axis=1, keepdims=True)
        if self.d_x is not None:
            d_x = np.matmul(dz, self.kernel_transposed).sum(axis=0)
            self.d_x[start:end, :rows] = d_x.reshape(count, rows, -1)


# ---- which rows run at each step ------------------------------------------------------------
class StartSchedule:
    """When each sequence of a batch starts, and the order of rows that makes that cheap.

    A sequence whose first steps are padding (Keras pads at the front by default) waits in
    its initial state until its first real step: padding carries the states over. So the
    kernel sorts the rows by their first real step, and step t runs only on the first
    `started[t]` rows, the ones that have begun. A batch of reviews whose lengths run from 20
    to 500 words then costs about its total number of words, not 500 steps of every review,
    and the result is the same to the last bit of rounding. (Sequences padded at the end, or
    with holes, are handled exactly but not faster: a started row's padding steps are run and
    their result discarded, as in the cells' loop.)

    Attributes:
        started: started[t], how many rows (from the first, in sorted order) have started by step t.
        padding: (timesteps, batch, 1) booleans in processing order and sorted rows, True at
            padding; None without a mask.
        holes: holes[t], whether a started row is padding at step t.
    """

    def __init__(self, mask, time_order, timesteps, batch):
        self.order = self.inverse = None  # None: the rows stay as they are
        self.started = np.full(timesteps, batch)
        self.padding = None
        self.holes = np.zeros(timesteps, dtype=bool)
        if mask is None:
            return
        real = mask.T[time_order]  # (timesteps, batch)
        first_real = np.where(real.any(axis=0), real.argmax(axis=0), timesteps)
        order = np.argsort(first_real, kind="stable")
        if np.any(order != np.arange(batch)):
            self.order, self.inverse = order, np.argsort(order)
        self.started = np.searchsorted(first_real[order], np.arange(timesteps), side="right")
        self.padding = ~real[:, order, None]
        has_started = np.arange(batch) < self.started[:, None]
        self.holes = (self.padding[..., 0] & has_started).any(axis=1)

    def sort_rows(self, array, axis):
        """`array` with its rows (along `axis`) in the schedule's order."""
        return array if self.order is None else np.take(array, self.order, axis=axis)

    def unsort_rows(self, array, axis):
        """`array` with its rows (along `axis`) back in the batch's order."""
        return array if self.inverse is None else np.take(array, self.inverse, axis=axis)


# ---- the scaffold -------------------------------------------------------------------------
def fused_recurrence(cell, inputs, states, mask=None, go_backwards=False, return_sequences=False):
    """Run `cell` over a whole sequence as one graph node: the fused twin of `RNN`'s loop.

    Agrees with the cells-from-primitives loop in `recurrent.py` (same masking, state and
    output conventions) to rounding error, in the outputs and in every gradient.

    Args:
        cell: a built SimpleRNNCell, LSTMCell or GRUCell.
        inputs: (batch, timesteps, features) tensor.
        states: the initial states, a list of (batch, units) tensors in `cell.state_names` order.
        mask: optional (batch, timesteps) booleans, True at real steps.
        go_backwards: process the steps from last to first.
        return_sequences: return the output of every step (in processing order), not only the last.

    Returns:
        (output, final_states): output is (batch, timesteps, units) or (batch, units).

    Raises:
        TypeError: for a cell without a fused kernel, or tensors of different dtypes.
    """
    problem = fused_support_problem(cell)
    if problem:
        raise TypeError(f"fused_recurrence: {problem}")
    tensors = (inputs, cell.kernel, cell.recurrent_kernel, cell.bias, *states)
    dtypes = {t.dtype for t in tensors}
    if len(dtypes) > 1:
        raise TypeError(f"{OP_NAMES[type(cell)]}: inputs, weights and states have different dtypes "
                        f"{', '.join(sorted(str(d) for d in dtypes))}; convert one explicitly with .astype(...)")

    packed, backward = _forward_and_backward(cell, tensors, mask, go_backwards, return_sequences)
    # One node has one output array, so the outputs and the final states travel packed along
    # the time axis, [outputs | state 1 | state 2], and are sliced apart here (views; the
    # engine sends each slice's gradient back into one gradient array for the node).
    node = make_node(packed, tensors, backward, OP_NAMES[type(cell)])
    output_steps = inputs.shape[1] if return_sequences else 1
    output = node[:, :output_steps] if return_sequences else node[:, 0]
    final_states = [node[:, output_steps + k] for k in range(len(states))]
    return output, final_states


def _forward_and_backward(cell, tensors, mask, go_backwards, return_sequences):
    """The fused forward pass on arrays: return (packed outputs and states, backward function)."""
    x, kernel, recurrent_kernel, bias = (t.data for t in tensors[:4])
    batch, timesteps, features = x.shape
    units, dtype = cell.units, kernel.dtype
    steps_class = STEPS_BY_CELL[type(cell)]
    order = steps_class.keras_gates
    gate_count = len(order)
    is_gru = isinstance(cell, GRUCell)
    input_bias = bias[0] if is_gru else bias
    recurrent_bias = to_gate_major(bias[1][None, :], order) if is_gru else None
    taken = []  # the workspace buffers this call uses, handed back with the backward function

    def allocate(shape):
        taken.append(WORKSPACE.take(shape, dtype))
        return taken[-1]

    steps = steps_class(cell, to_gate_major(recurrent_kernel, order), recurrent_bias, timesteps, batch, allocate)
    time_order = slice(None, None, -1) if go_backwards else slice(None)
    schedule = StartSchedule(mask, time_order, timesteps, batch)

    # Time-major inputs in processing order (rows in the schedule's order), with a column of
    # ones: [x_t, 1] @ [[W], [b]] is x_t W + b, so the bias is added (and later
    # differentiated) inside the big products.
    x_ones = allocate((timesteps, batch, features + 1))
    x_ones[..., :features] = schedule.sort_rows(x.transpose(1, 0, 2)[time_order], axis=1)
    x_ones[..., features] = 1.0
    kernel_and_bias = to_gate_major(np.concatenate([kernel, input_bias[None, :]]), order)
    gates = allocate((gate_count, timesteps, batch, units))
    np.matmul(x_ones.reshape(timesteps * batch, features + 1), kernel_and_bias,
              out=gates.reshape(gate_count, timesteps * batch, units))

    # states[k][t] is state k before step t; states[k][0] is the initial state.
    states = [allocate((timesteps + 1, batch, units)) for _ in steps.state_names]
    for buffer, initial in zip(states, tensors[4:]):
        buffer[0] = schedule.sort_rows(initial.data, axis=0)
    started, padding, holes = schedule.started, schedule.padding, schedule.holes
    for t in range(timesteps):
        rows = started[t]
        if rows < batch:  # the sequences that have not started wait in their initial states
            for buffer in states:
                buffer[t + 1, rows:] = buffer[t, rows:]
        if rows == 0:
            continue
        steps.use_rows(rows)
        steps.forward_step(t, gates[:, t, :rows], [s[t, :rows] for s in states], [s[t + 1, :rows] for s in states])
        if holes[t]:
            for buffer in states:
                np.copyto(buffer[t + 1, :rows], buffer[t, :rows], where=padding[t, :rows])  # carry over

    # The output at each step is h, except that before a sequence's first real step it is
    # zero (as in the cells' loop), even when the initial state is not.
    hidden = states[0][1:]
    output_steps = timesteps if return_sequences else 1
    packed = np.zeros((output_steps + len(states), batch, units), dtype)  # time-major until the end
    for t in range(timesteps - output_steps, timesteps):
        packed[t - timesteps + output_steps, :started[t]] = hidden[t, :started[t]]
    for k, buffer in enumerate(states):
        packed[output_steps + k] = buffer[-1]
    packed = schedule.unsort_rows(packed, axis=1).transpose(1, 0, 2)

    def backward(grad):
        """Backpropagation through time: the packed outputs' gradient -> one per input tensor."""
        grad = schedule.sort_rows(grad, axis=0).transpose(1, 0, 2)  # time-major, rows in schedule order
        d_outputs = grad[:output_steps]
        d_states = [grad[output_steps + k].copy() for k in range(len(states))]
        d_previous = [np.empty_like(d) for d in d_states]
        carried = [np.empty_like(d) for d in d_states]
        if not return_sequences:
            d_states[0][:started[-1]] += d_outputs[0, :started[-1]]  # the others' output was 0
        # Sequences that never start hand the final states' gradient straight to the initial
        # states; the others hand it over at their first real step, below.
        d_initial = [d.copy() for d in d_states]
        weight_gradients = WeightGradients(steps, x_ones, states[0], kernel_and_bias, started,
                                           tensors[0].requires_grad)

        for t in reversed(range(timesteps)):
            rows = started[t]
            dz, dz_recurrent = weight_gradients.slots_for(t)
            if rows == 0:
                continue
            steps.use_rows(rows)
            into_step, out_of_step = [d[:rows] for d in d_states], [d[:rows] for d in d_previous]
            if return_sequences:
                into_step[0] += d_outputs[t, :rows]
            if holes[t]:
                # Padding rows hand their gradient straight to the previous state; real rows
                # send it into the step.
                for d, carry in zip(into_step, carried):
                    np.multiply(d, padding[t, :rows], out=carry[:rows])
                    d *= ~padding[t, :rows]
            steps.backward_step(t, gates[:, t, :rows], [s[t, :rows] for s in states], into_step, out_of_step,
                                dz, dz_recurrent)
            if holes[t]:
                for d, carry in zip(out_of_step, carried):
                    d += carry[:rows]
            starting_here = slice(started[t - 1] if t else 0, rows)
            for initial, d in zip(d_initial, d_previous):
                initial[starting_here] = d[starting_here]
            d_states, d_previous = d_previous, d_states

        d_kernel_and_bias, d_recurrent_kernel, d_recurrent_bias, d_x = weight_gradients.finish()
        d_kernel_and_bias = from_gate_major(d_kernel_and_bias, order)
        d_kernel, d_input_bias = d_kernel_and_bias[:features], d_kernel_and_bias[features]
        d_recurrent_kernel = from_gate_major(d_recurrent_kernel, order)
        d_bias = np.stack([d_input_bias, from_gate_major(d_recurrent_bias, order)[0]]) if is_gru else d_input_bias
        if d_x is not None:
            # back to (batch, timesteps, features), in the inputs' order of rows and steps
            d_x = schedule.unsort_rows(d_x[time_order], axis=1).transpose(1, 0, 2)
        return (d_x, d_kernel, d_recurrent_kernel, d_bias,
                *(schedule.unsort_rows(d, axis=0) for d in d_initial))

    WORKSPACE.give_back_when_freed(backward, taken)
    return packed, backward
