"""Exercise `lstm_cell`: one LSTM step in Keras's layout, gate order i, f, c, o."""

from __future__ import annotations

import itertools

import numpy as np

from .. import ops
from ..nn.cells import LSTMCell
from .checking import Exercise, cell_with_weights, check_tensor_function, random_arrays

GATES = ("input gate", "forget gate", "candidate", "output gate")

INTRODUCTION = """
Exercise lstm_cell (tutorial 04): one step of an LSTM.

Write lstm_step(x, h, c, kernel, recurrent_kernel, bias) -> (h_new, c_new), where

    z      = x @ kernel + h @ recurrent_kernel + bias       (batch, 4 * units)
    i      = sigmoid(z[:, 0*units:1*units])                 input gate
    f      = sigmoid(z[:, 1*units:2*units])                 forget gate
    g      = tanh(   z[:, 2*units:3*units])                 candidate values
    o      = sigmoid(z[:, 3*units:4*units])                 output gate
    c_new  = f * c + i * g
    h_new  = o * tanh(c_new)

The weights are in Keras's layout, the four gates' columns side by side in the order i, f, c, o:

    x                 (batch, features)        h, c   (batch, units)   the previous states
    kernel            (features, 4 * units)    multiplies the input
    recurrent_kernel  (units, 4 * units)       multiplies the previous hidden state
    bias              (4 * units,)

Return the tuple (h_new, c_new), each (batch, units). All arguments are tinyseq Tensors: use
tinyseq's ops (`@`, `+`, `*`, slicing, `ops.sigmoid`, `ops.tanh`) on them, not numpy on
`.data`, because the checker also compares the gradients that flow back through your step.

Check your answer (any number of times):

    tinyseq exercise check lstm_cell.py

It runs your step on random shapes and seeds in float64 against tinyseq's LSTMCell and says
which output (h or c) or gradient differs, in which gate's block of columns, and which known
mistake (swapped gates, a missing tanh, a transposed kernel, ...) your numbers match.
"""


def lstm_step(x, h, c, kernel, recurrent_kernel, bias):
    """Return (h_new, c_new) after one LSTM step; gates i, f, c, o in blocks of `units` columns."""
    units = h.shape[1]
    z = x @ kernel + h @ recurrent_kernel + bias
    input_gate = ops.sigmoid(z[:, 0 * units:1 * units])
    forget_gate = ops.sigmoid(z[:, 1 * units:2 * units])
    candidate = ops.tanh(z[:, 2 * units:3 * units])
    output_gate = ops.sigmoid(z[:, 3 * units:4 * units])
    c_new = forget_gate * c + input_gate * candidate
    h_new = output_gate * ops.tanh(c_new)
    return h_new, c_new


def reference(x, h, c, kernel, recurrent_kernel, bias):
    """tinyseq's LSTMCell with these weights, one step: (h', c')."""
    cell = cell_with_weights(LSTMCell, kernel, recurrent_kernel, bias)
    new_hidden, (_, new_cell) = cell.step(cell.project_inputs(x), [h, c])
    return new_hidden, new_cell


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def _transpose_blocks(matrix, count):
    """Transpose each square (units, units) block of a recurrent kernel."""
    return np.concatenate([block.T for block in np.split(matrix, count, axis=1)], axis=1)


def lstm_variant(x, h, c, kernel, recurrent_kernel, bias, order=(0, 1, 2, 3), candidate_activation=np.tanh,
                 output_squash=np.tanh, bias_sign=1, kernel_transposed=False, recurrent_transposed=False,
                 cell_from_hidden=False, output_from_old_cell=False, use_input_gate=True, swap_returns=False):
    """The LSTM step in numpy with known mistakes switched on by the keywords; `order[k]` is
    the block of columns gate k (i, f, c, o) reads."""
    units = h.shape[1]
    kernel = kernel.T if kernel_transposed else kernel
    recurrent = _transpose_blocks(recurrent_kernel, 4) if recurrent_transposed else recurrent_kernel
    z = x @ kernel + h @ recurrent + bias_sign * bias
    input_gate, forget_gate, candidate, output_gate = (z[:, block * units:(block + 1) * units] for block in order)
    input_gate, forget_gate = _sigmoid(input_gate), _sigmoid(forget_gate)
    candidate, output_gate = candidate_activation(candidate), _sigmoid(output_gate)
    c_new = forget_gate * (h if cell_from_hidden else c) + (input_gate if use_input_gate else 1) * candidate
    h_new = output_gate * output_squash(c if output_from_old_cell else c_new)
    return (c_new, h_new) if swap_returns else (h_new, c_new)


def _swapped_gates(order):
    """What a gate order means, in words: which gate reads which gate's columns."""
    misplaced = [f"your {GATES[gate]} reads the {GATES[block]}'s columns"
                 for gate, block in enumerate(order) if gate != block]
    return ("the gates read the wrong blocks of columns: " + ", ".join(misplaced)
            + ". Keras's order is i, f, c, o: input gate [0:u], forget gate [u:2u], candidate [2u:3u], "
              "output gate [3u:4u] (u = units).")


MISTAKES = [(_swapped_gates(order), lambda order=order, **a: lstm_variant(**a, order=order))
            for order in itertools.permutations(range(4)) if order != (0, 1, 2, 3)] + [
    ("the tanh of the new cell state is missing: h_new = o * tanh(c_new), not o * c_new.",
     lambda **a: lstm_variant(**a, output_squash=lambda v: v)),
    ("h_new uses the old cell state: h_new = o * tanh(c_new), with the new c, not tanh(c).",
     lambda **a: lstm_variant(**a, output_from_old_cell=True)),
    ("the candidate uses sigmoid; it is tanh(z_c), so that it can be negative.",
     lambda **a: lstm_variant(**a, candidate_activation=_sigmoid)),
    ("the candidate has no tanh: g = tanh(z[:, 2u:3u]).",
     lambda **a: lstm_variant(**a, candidate_activation=lambda v: v)),
    ("the forget gate multiplies h instead of c: c_new = f * c + i * g.",
     lambda **a: lstm_variant(**a, cell_from_hidden=True)),
    ("the input gate is missing: c_new = f * c + i * g, not f * c + g.",
     lambda **a: lstm_variant(**a, use_input_gate=False)),
    ("the returns are swapped: return (h_new, c_new), in that order.",
     lambda **a: lstm_variant(**a, swap_returns=True)),
    ("the kernel is transposed: write x @ kernel (Keras's layout is (features, 4 * units)).",
     lambda **a: lstm_variant(**a, kernel_transposed=True)),
    ("each gate's block of the recurrent kernel is transposed: write h @ recurrent_kernel, or "
     "h @ recurrent_kernel[:, k*u:(k+1)*u] per gate, without .T.",
     lambda **a: lstm_variant(**a, recurrent_transposed=True)),
    ("the bias is left out.", lambda **a: lstm_variant(**a, bias_sign=0)),
    ("the bias is subtracted; it is added: ... + bias.", lambda **a: lstm_variant(**a, bias_sign=-1)),
]

# Each probe pins the other gates with large bias offsets (sigmoid(±40) is 1 or 0 to float64
# precision) so that one output shows one gate alone: (gate, {block: offset}, output index).
PROBES = [
    ("input gate", {1: -40.0, 2: 40.0, 3: 40.0}, 1),   # f = 0, g = 1: c_new = i
    ("forget gate", {0: -40.0}, 1),                      # i = 0: c_new = f * c
    ("candidate", {0: 40.0, 1: -40.0}, 1),               # i = 1, f = 0: c_new = g
    ("output gate", {0: 40.0, 1: -40.0, 2: 40.0}, 0),    # i = 1, f = 0, g = 1: h_new = o * tanh(1)
]

LAYOUT_HINT = ("Keras's layout: x (batch, features) @ kernel (features, 4*units), "
               "h (batch, units) @ recurrent_kernel (units, 4*units), + bias (4*units,); "
               "then slice z[:, k*units:(k+1)*units] for gate k of i, f, c, o.")

# (batch, features, units). The last case has features = 4 * units, where a transposed kernel
# runs without a shape error and only the numbers can show it.
SHAPES = [(3, 5, 2), (2, 3, 4), (4, 1, 3), (1, 6, 1), (2, 8, 2)]


def cases(seed=0):
    """Random (label, arguments) cases of lstm_step's shapes."""
    return [(f"batch {batch}, features {features}, units {units}, seed {seed + i}",
             random_arrays(seed + i, x=(batch, features), h=(batch, units), c=(batch, units),
                           kernel=(features, 4 * units), recurrent_kernel=(units, 4 * units),
                           bias=(4 * units,)))
            for i, (batch, features, units) in enumerate(SHAPES)]


def check(functions):
    """Check `lstm_step` against LSTMCell; return the number of cases passed."""
    return check_tensor_function(functions["lstm_step"], cases(), reference, ("h_new", "c_new"), MISTAKES,
                                 gate_names=GATES, probes=PROBES, hint=LAYOUT_HINT)


EXERCISE = Exercise(
    name="lstm_cell", tutorial="04_lstm",
    task="lstm_step(x, h, c, kernel, recurrent_kernel, bias) -> (h_new, c_new): one LSTM step, gates i, f, c, o",
    introduction=INTRODUCTION, imports="from tinyseq import ops", solution=(lstm_step,), check=check)
