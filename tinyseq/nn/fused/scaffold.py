"""The loop over time that every fused kernel shares: `fused_recurrence`.

What differs between SimpleRNN, LSTM and GRU is one step forward and one step back, in
`steps.py`; everything else is here: the input projection for all steps at once, the forward
and backward loops over time with masking and the rows that have started (`StartSchedule`),
the weight gradients summed chunk by chunk (`WeightGradients`), the outputs and final states
packed into one graph node, and the gradients put back into Keras's layout.
"""

from __future__ import annotations

import numpy as np

from ...tensor import make_node
from ...threads import in_background, single_threaded_blas
from .schedule import StartSchedule
from .steps import steps_for
from .workspace import WORKSPACE


def fused_support_problem(cell):
    """Why `cell` cannot run fused, as a sentence, or None if it can.

    Only the three built-in cells (not subclasses, which may change the step) have
    hand-derived backward passes; a SimpleRNN only with an activation
    listed in `inplace.FUSED_ACTIVATIONS`, an LSTM or GRU only with element-wise activations
    listed in `inplace.ELEMENTWISE_ACTIVATIONS`.
    """
    if steps_for(cell) is None:
        return f"there is no fused kernel for {type(cell).__name__} (only for SimpleRNNCell, LSTMCell and GRUCell)"
    return steps_for(cell).support_problem(cell)


def fused_recurrence(cell, inputs, states, mask=None, go_backwards=False, return_sequences=False,
                     dropout_masks=(None, None), zero_output_for_mask=False):
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
        dropout_masks: (input masks, recurrent masks) from `cell.draw_dropout_masks`, each None
            or (count, batch, size); the same masks apply at every step, as in the cells' loop.
        zero_output_for_mask: output zeros at padding steps instead of repeating the previous output.

    Returns:
        (output, final_states): output is (batch, timesteps, units) or (batch, units).

    Raises:
        TypeError: for a cell without a fused kernel, or tensors of different dtypes.
    """
    problem = fused_support_problem(cell)
    if problem:
        raise TypeError(f"fused_recurrence: {problem}")
    op_name = steps_for(cell).op_name
    weights = (cell.kernel, cell.recurrent_kernel, cell.bias) if cell.use_bias else (cell.kernel, cell.recurrent_kernel)
    tensors = (inputs, *weights, *states)
    dtypes = {t.dtype for t in tensors}
    if len(dtypes) > 1:
        listed = ", ".join(sorted(str(dtype) for dtype in dtypes))
        raise TypeError(f"{op_name}: inputs, weights and states have different dtypes {listed}; "
                        f"convert one explicitly with .astype(...)")

    with single_threaded_blas():  # see `tinyseq.threads`: the steps' products are small
        packed, backward = _forward_and_backward(cell, tensors, mask, go_backwards, return_sequences,
                                                 dropout_masks, zero_output_for_mask)
    # One node has one output array, so the outputs and the final states travel packed along
    # the time axis, [outputs | state 1 | state 2], and are sliced apart here (views; the
    # engine sends each slice's gradient back into one gradient array for the node).
    node = make_node(packed, tensors, backward, op_name)
    output_steps = inputs.shape[1] if return_sequences else 1
    output = node[:, :output_steps] if return_sequences else node[:, 0]
    final_states = [node[:, output_steps + k] for k in range(len(states))]
    return output, final_states


PROJECTION_STEPS = 25  # steps per chunk of the input projection


def _project(x_ones, kernel_and_bias, out):
    """out = [x_t, 1] @ [[W], [b]] for a chunk of steps: x_ones (count, steps, batch, features + 1)
    -> out (gates, steps, batch, units)."""
    count, steps, batch, width = x_ones.shape
    gate_count, _, _, units = out.shape
    np.matmul(x_ones.reshape(count, steps * batch, width), kernel_and_bias,
              out=out.reshape(gate_count, steps * batch, units))


def _forward_and_backward(cell, tensors, mask, go_backwards, return_sequences, dropout_masks,
                          zero_output_for_mask):
    """The fused forward pass on arrays: return (packed outputs and states, backward function)."""
    x = tensors[0].data
    batch, timesteps, features = x.shape
    units, dtype = cell.units, x.dtype
    taken = []  # the workspace buffers this call uses, handed back with the backward function

    def allocate(shape):
        taken.append(WORKSPACE.take(shape, dtype))
        return taken[-1]

    time_order = slice(None, None, -1) if go_backwards else slice(None)
    schedule = StartSchedule(mask, time_order, timesteps, batch)
    input_masks, recurrent_masks = (None if masks is None else schedule.sort_rows(masks, axis=1)
                                    for masks in dropout_masks)
    steps = steps_for(cell)(cell, timesteps, batch, allocate, recurrent_masks)
    input_masks = steps.gate_major_masks(input_masks)
    gate_count = len(steps.keras_gates)

    # Time-major inputs in processing order (rows in the schedule's order), with a column of
    # ones: [x_t, 1] @ [[W], [b]] is x_t W + b, so the bias is added (and later
    # differentiated) inside the big products. With input dropout, x_ones holds the dropped
    # inputs, one copy per mask (a single mask serves every gate's block of W).
    mask_count = 1 if input_masks is None else len(input_masks)
    x_ones = allocate((mask_count, timesteps, batch, features + 1))
    x_sorted = schedule.sort_rows(x.transpose(1, 0, 2)[time_order], axis=1)
    if input_masks is None:
        x_ones[0, ..., :features] = x_sorted
    else:
        np.multiply(x_sorted, input_masks[:, None], out=x_ones[..., :features])
    x_ones[..., features] = 1.0
    # x_t W + b for every step, a chunk of steps at a time, each on the helper thread while the
    # loop runs the chunk before (so it is still in the processor's cache when the loop needs it).
    gates = allocate((gate_count, timesteps, batch, units))

    def project(start):
        chunk = slice(start, start + PROJECTION_STEPS)
        return in_background(_project, x_ones[:, chunk], steps.kernel_and_bias, gates[:, chunk])
    projection = project(0)

    # states[k][t] is state k before step t; states[k][0] is the initial state.
    states = [allocate((timesteps + 1, batch, units)) for _ in steps.state_names]
    for buffer, initial in zip(states, tensors[-len(states):]):
        buffer[0] = schedule.sort_rows(initial.data, axis=0)
    started, padding, holes = schedule.started, schedule.padding, schedule.holes
    for t in range(timesteps):
        if t % PROJECTION_STEPS == 0:
            projection.result()
            if t + PROJECTION_STEPS < timesteps:
                projection = project(t + PROJECTION_STEPS)
        rows = started[t]
        if rows < batch:  # the sequences that have not started wait in their initial states
            for buffer in states:
                buffer[t + 1, rows:] = buffer[t, rows:]
        if rows == 0:
            continue
        steps.use_rows(rows)
        steps.forward_step(t, gates[:, t, :rows], [state[t, :rows] for state in states],
                           [state[t + 1, :rows] for state in states])
        if holes[t]:
            for buffer in states:
                np.copyto(buffer[t + 1, :rows], buffer[t, :rows], where=padding[t, :rows])  # carry over

    # The output at each step is h, except that before a sequence's first real step it is
    # zero (as in the cells' loop), even when the initial state is not; with
    # zero_output_for_mask, at every padding step.
    zero_padding = zero_output_for_mask and schedule.padding is not None
    hidden = states[0][1:]
    output_steps = timesteps if return_sequences else 1
    packed = np.zeros((output_steps + len(states), batch, units), dtype)  # time-major until the end
    for t in range(timesteps - output_steps, timesteps):
        rows = started[t]
        packed[t - timesteps + output_steps, :rows] = hidden[t, :rows]
        if zero_padding:
            np.copyto(packed[t - timesteps + output_steps, :rows], 0, where=padding[t, :rows])
    for k, buffer in enumerate(states):
        packed[output_steps + k] = buffer[-1]
    packed = schedule.unsort_rows(packed, axis=1).transpose(1, 0, 2)

    @single_threaded_blas()
    def backward(grad):
        """Backpropagation through time: the packed outputs' gradient -> one per input tensor."""
        grad = schedule.sort_rows(grad, axis=0).transpose(1, 0, 2)  # time-major, rows in schedule order
        d_outputs = grad[:output_steps]
        d_states = [grad[output_steps + k].copy() for k in range(len(states))]
        d_previous = [np.empty_like(d_state) for d_state in d_states]
        carried = [np.empty_like(d_state) for d_state in d_states]
        if not return_sequences:
            rows = started[-1]  # the others' output was 0
            d_states[0][:rows] += d_outputs[0, :rows] * ~padding[-1, :rows] if zero_padding else d_outputs[0, :rows]
        # Sequences that never start hand the final states' gradient straight to the initial
        # states; the others hand it over at their first real step, below.
        d_initial = [d_state.copy() for d_state in d_states]
        weight_gradients = WeightGradients(steps, x_ones, states[0], started, tensors[0].requires_grad,
                                           input_masks)

        try:
            for t in reversed(range(timesteps)):
                rows = started[t]
                dz, dz_recurrent = weight_gradients.slots_for(t)
                if rows == 0:
                    continue
                steps.use_rows(rows)
                into_step = [d_state[:rows] for d_state in d_states]
                out_of_step = [d_state[:rows] for d_state in d_previous]
                if return_sequences:
                    # (a zero output at a padding step passes nothing back)
                    into_step[0] += d_outputs[t, :rows] * ~padding[t, :rows] if zero_padding else d_outputs[t, :rows]
                if holes[t]:
                    # Padding rows hand their gradient straight to the previous state; real rows
                    # send it into the step.
                    for d_state, carry in zip(into_step, carried):
                        np.multiply(d_state, padding[t, :rows], out=carry[:rows])
                        d_state *= ~padding[t, :rows]
                steps.backward_step(t, gates[:, t, :rows], [state[t, :rows] for state in states], into_step, out_of_step,
                                    dz, dz_recurrent)
                if holes[t]:
                    for d_state, carry in zip(out_of_step, carried):
                        d_state += carry[:rows]
                starting_here = slice(started[t - 1] if t else 0, rows)
                for initial, d_state in zip(d_initial, d_previous):
                    initial[starting_here] = d_state[starting_here]
                d_states, d_previous = d_previous, d_states

            d_kernel_and_bias, d_recurrent_weights, d_x = weight_gradients.finish()
        finally:
            weight_gradients.wait()  # on an error too: no fold may read the buffers once they are handed back
        d_kernel, d_recurrent_kernel, d_bias = steps.keras_gradients(d_kernel_and_bias, d_recurrent_weights)
        if d_x is not None:
            # back to (batch, timesteps, features), in the inputs' order of rows and steps
            d_x = schedule.unsort_rows(d_x[time_order], axis=1).transpose(1, 0, 2)
        d_weights = (d_kernel, d_recurrent_kernel, d_bias) if cell.use_bias else (d_kernel, d_recurrent_kernel)
        return (d_x, *d_weights, *(schedule.unsort_rows(d_state, axis=0) for d_state in d_initial))

    WORKSPACE.give_back_when_freed(backward, taken)
    return packed, backward


class WeightGradients:
    """Collects dz of the steps, going back in time, and turns them into the weight gradients.

    Every weight gradient is a sum over the steps: dW = Σ_t [x_t, 1]ᵀ dz_t (the bias's gradient
    is the row of the constant 1), dU = Σ_t h_{t-1}ᵀ dz_t, and the inputs' gradient dx_t = dz_t Wᵀ.
    With dropout, x_t and h_{t-1} are the dropped ones (per gate where each gate has its own
    mask), and dx_t = Σ_k (dz_k W_kᵀ) · m_k.
    One product per step would be 500 small, slow products; one product over all the steps
    would have to keep every dz in a (gates, timesteps·batch, units) array and stream it from
    main memory. So the steps write their dz into a buffer for `CHUNK_STEPS` steps, and each
    full chunk becomes one product per gradient while it is still in the processor's cache
    (benchmarks/README.md has the measurements).

    No step needs those products, so they run on the helper thread (`threads.in_background`)
    while the loop goes on back in time: there are two chunk buffers, and the steps fill one
    while the helper folds the other. The chunks are folded one at a time, in the order of a
    single thread, so the sums are the same to the last bit.

    Only the rows that have started by a chunk's last step take part in its products; the
    steps of the chunk in which some of those rows had not started yet give them dz = 0.

    Args:
        steps: the cell's FusedSteps: its weights, and the products for its recurrent weights.
        x_ones: the (dropped) inputs with their column of ones, (count, timesteps, batch,
            features + 1): one copy, or one per gate.
        hidden: the hidden states, (timesteps + 1, batch, units); hidden[t] enters step t.
        started: started[t], the number of rows (from the first) that have started by step t.
        inputs_need_gradient: whether to compute dx.
        input_masks: the input dropout masks (count, batch, features), gate-major, or None.
    """

    CHUNK_STEPS = 8

    def __init__(self, steps, x_ones, hidden, started, inputs_need_gradient, input_masks=None):
        gate_count, units, _ = steps.recurrent_kernel.shape
        _, timesteps, batch, features = x_ones.shape
        features -= 1
        dtype = hidden.dtype
        self.steps, self.x_ones, self.hidden, self.started = steps, x_ones, hidden, started
        self.input_masks = input_masks
        self.kernel_transposed = steps.kernel_and_bias[:, :features].transpose(0, 2, 1)
        self.buffers = []  # two (dz, dz_recurrent) pairs, each for a chunk of steps
        for _ in range(2):
            dz = np.empty((gate_count, self.CHUNK_STEPS, batch, units), dtype)
            self.buffers.append((dz, np.empty_like(dz) if steps.separate_recurrent_gradient else dz))
        self.filling = 0  # the buffer the steps write into
        self.fold = None  # the fold handed to the helper last (it reads the other buffer)
        self.d_kernel_and_bias = np.zeros(steps.kernel_and_bias.shape, dtype)
        self.d_recurrent_weights = [np.zeros(w.shape, dtype) for w in steps.recurrent_weights]
        self.d_x = np.zeros((timesteps, batch, features), dtype) if inputs_need_gradient else None
        self.chunk_end = timesteps  # the chunk being filled: steps [chunk_end - CHUNK_STEPS, chunk_end)

    def slots_for(self, t):
        """Where step t writes dz and dz_recurrent, for its started rows; first hands the
        previous chunk to the helper if it is full."""
        if t < self.chunk_end - self.CHUNK_STEPS:
            self._start_folding(self.chunk_end - self.CHUNK_STEPS)
        dz, dz_recurrent = self.buffers[self.filling]
        slot = t - (self.chunk_end - self.CHUNK_STEPS)
        started, chunk_rows = self.started[t], self.started[self.chunk_end - 1]
        if started < chunk_rows:  # rows that start later in the chunk
            dz[:, slot, started:chunk_rows] = 0.0
            dz_recurrent[:, slot, started:chunk_rows] = 0.0
        return dz[:, slot, :started], dz_recurrent[:, slot, :started]

    def finish(self):
        """Fold in the last chunk and wait for the folds; return the gate-major gradients of
        `steps.kernel_and_bias` and of `steps.recurrent_weights`, and dx (time-major, in
        processing order; None if not wanted)."""
        self._start_folding(0)
        self.wait()
        return self.d_kernel_and_bias, self.d_recurrent_weights, self.d_x

    def wait(self):
        """Wait until no fold is running (also when the loop stops early, so that nothing reads
        the buffers once they are handed back)."""
        if self.fold is not None:
            self.fold.result()

    def _start_folding(self, start):
        """Hand steps [start, chunk_end) to the helper and switch to the other buffer. The last
        fold ends first: it reads that buffer, and folds add into the same sums."""
        self.wait()
        self.fold = in_background(self._fold_chunk, start, self.chunk_end, *self.buffers[self.filling])
        self.chunk_end = start
        self.filling = 1 - self.filling

    def _fold_chunk(self, start, end, dz, dz_recurrent):
        """Add the products of steps [start, end), whose dz fill the last slots of the buffer `dz`."""
        count = end - start
        rows = self.started[end - 1]
        if rows == 0:
            return
        gate_count, _, _, units = dz.shape
        first_slot = self.CHUNK_STEPS - count
        # (steps, rows, ...) -> (steps·rows, ...): copies unless every row takes part
        separate = dz_recurrent is not dz
        dz = dz[:, first_slot:, :rows].reshape(gate_count, count * rows, units)
        dz_recurrent = dz_recurrent[:, first_slot:, :rows].reshape(gate_count, count * rows, units) \
            if separate else dz
        x_ones = self.x_ones[:, start:end, :rows].reshape(len(self.x_ones), count * rows, -1)
        self.d_kernel_and_bias += np.matmul(x_ones.transpose(0, 2, 1), dz)
        hidden = self.steps.recurrent_inputs(self.hidden[start:end, :rows], start)
        parts = self.steps.recurrent_weight_gradients(hidden, dz_recurrent)
        for total, part in zip(self.d_recurrent_weights, parts):
            total += part
        if self.d_x is not None:
            d_x = np.matmul(dz, self.kernel_transposed).reshape(gate_count, count, rows, -1)
            if self.input_masks is not None:
                d_x *= self.input_masks[:, None, :rows]
            self.d_x[start:end, :rows] = d_x.sum(axis=0)
