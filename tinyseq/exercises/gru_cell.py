"""Exercise `gru_cell`: one GRU step as Keras's default (reset_after=True), gate order z, r, h."""

from __future__ import annotations

import itertools

import numpy as np

from .. import ops
from ..nn.cells import GRUCell
from .checking import Exercise, cell_with_weights, check_tensor_function, random_arrays

GATES = ("update gate", "reset gate", "candidate")

INTRODUCTION = """
Exercise gru_cell (tutorial 09): one step of a GRU, as Keras computes it by default
(reset_after=True).

Write gru_step(x, h, kernel, recurrent_kernel, bias) -> h_new, where

    inputs     = x @ kernel + bias[0]                  (batch, 3 * units)
    recurrent  = h @ recurrent_kernel + bias[1]        (batch, 3 * units)
    z      = sigmoid(inputs[:, 0*u:1*u] + recurrent[:, 0*u:1*u])      update gate
    r      = sigmoid(inputs[:, 1*u:2*u] + recurrent[:, 1*u:2*u])      reset gate
    hh     = tanh(inputs[:, 2*u:3*u] + r * recurrent[:, 2*u:3*u])     candidate
    h_new  = z * h + (1 - z) * hh

(u = units). The update gate z says how much of the old state to keep. The reset gate scales
the recurrent part of the candidate *after* its matrix product: that is what reset_after=True
means, and why the bias has two rows, one for the input side and one for the recurrent side.
The weights are in Keras's layout, the gates' columns side by side in the order z, r, h:

    x                 (batch, features)       h   (batch, units)   the previous state
    kernel            (features, 3 * units)   recurrent_kernel (units, 3 * units)
    bias              (2, 3 * units)          row 0: input bias, row 1: recurrent bias

Return h_new, (batch, units). All arguments are tinyseq Tensors: use tinyseq's ops on them
(`@`, `+`, `*`, `1 - z`, slicing, `ops.sigmoid`, `ops.tanh`), not numpy on `.data`, because the
checker also compares the gradients that flow back through your step.

Check your answer (any number of times):

    tinyseq exercise check gru_cell.py

It runs your step on random shapes and seeds in float64 against tinyseq's GRUCell and says
which gradient or gate differs and which known mistake your numbers match.
"""


def gru_step(x, h, kernel, recurrent_kernel, bias):
    """Return h_new after one GRU step (reset_after=True); gates z, r, h in blocks of `units` columns."""
    units = h.shape[1]
    inputs = x @ kernel + bias[0]
    recurrent = h @ recurrent_kernel + bias[1]
    update_gate = ops.sigmoid(inputs[:, 0 * units:1 * units] + recurrent[:, 0 * units:1 * units])
    reset_gate = ops.sigmoid(inputs[:, 1 * units:2 * units] + recurrent[:, 1 * units:2 * units])
    candidate = ops.tanh(inputs[:, 2 * units:3 * units] + reset_gate * recurrent[:, 2 * units:3 * units])
    return update_gate * h + (1 - update_gate) * candidate


def reference(x, h, kernel, recurrent_kernel, bias):
    """tinyseq's GRUCell with these weights, one step."""
    cell = cell_with_weights(GRUCell, kernel, recurrent_kernel, bias)
    new_hidden, _ = cell.step(cell.project_inputs(x), [h])
    return (new_hidden,)


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def gru_variant(x, h, kernel, recurrent_kernel, bias, order=(0, 1, 2), bias_rows=(0, 1), use_recurrent_bias=True,
                candidate_activation=np.tanh, reset_before_product=False, reset_whole_candidate=False,
                keep_swapped=False, kernel_transposed=False):
    """The GRU step in numpy with known mistakes switched on by the keywords; `order[k]` is the
    block of columns gate k (z, r, h) reads."""
    units = h.shape[1]
    columns = [slice(block * units, (block + 1) * units) for block in order]
    kernel = kernel.T if kernel_transposed else kernel
    inputs = x @ kernel + bias[bias_rows[0]]
    recurrent_bias = bias[bias_rows[1]] * use_recurrent_bias
    recurrent = h @ recurrent_kernel + recurrent_bias
    update_gate = _sigmoid(inputs[:, columns[0]] + recurrent[:, columns[0]])
    reset_gate = _sigmoid(inputs[:, columns[1]] + recurrent[:, columns[1]])
    if reset_before_product:
        recurrent_candidate = (reset_gate * h) @ recurrent_kernel[:, columns[2]] + recurrent_bias[columns[2]]
    else:
        recurrent_candidate = reset_gate * recurrent[:, columns[2]]
    if reset_whole_candidate:
        pre_candidate = reset_gate * (inputs[:, columns[2]] + recurrent[:, columns[2]])
    else:
        pre_candidate = inputs[:, columns[2]] + recurrent_candidate
    candidate = candidate_activation(pre_candidate)
    keep = 1 - update_gate if keep_swapped else update_gate
    return (keep * h + (1 - keep) * candidate,)


def _swapped_gates(order):
    misplaced = [f"your {GATES[gate]} reads the {GATES[block]}'s columns"
                 for gate, block in enumerate(order) if gate != block]
    return ("the gates read the wrong blocks of columns: " + ", ".join(misplaced)
            + ". Keras's order is z, r, h: update gate [0:u], reset gate [u:2u], candidate [2u:3u].")


MISTAKES = [(_swapped_gates(order), lambda order=order, **a: gru_variant(**a, order=order))
            for order in itertools.permutations(range(3)) if order != (0, 1, 2)] + [
    ("the update gate works the other way round: in Keras z is how much of the old state to keep, "
     "h_new = z * h + (1 - z) * hh (yours is (1 - z) * h + z * hh).",
     lambda **a: gru_variant(**a, keep_swapped=True)),
    ("the reset gate is applied before the matrix product, (r * h) @ U_h (Keras's reset_after=False); "
     "with reset_after=True it scales the product: r * (h @ U_h + bias[1] block).",
     lambda **a: gru_variant(**a, reset_before_product=True)),
    ("the reset gate scales the whole candidate input; it scales only the recurrent part: "
     "tanh(inputs_h + r * recurrent_h).",
     lambda **a: gru_variant(**a, reset_whole_candidate=True)),
    ("the bias rows are swapped: row 0 goes with x @ kernel, row 1 with h @ recurrent_kernel.",
     lambda **a: gru_variant(**a, bias_rows=(1, 0))),
    ("the recurrent bias (row 1) is left out: recurrent = h @ recurrent_kernel + bias[1].",
     lambda **a: gru_variant(**a, use_recurrent_bias=False)),
    ("bias row 0 is used on both sides: the recurrent side takes bias[1].",
     lambda **a: gru_variant(**a, bias_rows=(0, 0))),
    ("the candidate has no tanh: hh = tanh(...).", lambda **a: gru_variant(**a, candidate_activation=lambda v: v)),
    ("the candidate uses sigmoid; it is tanh(...), so that it can be negative.",
     lambda **a: gru_variant(**a, candidate_activation=_sigmoid)),
    ("the kernel is transposed: write x @ kernel (Keras's layout is (features, 3 * units)).",
     lambda **a: gru_variant(**a, kernel_transposed=True)),
    ("the previous state is returned unchanged.", lambda x, h, **a: (h,)),
]

# Each probe pins other gates with large bias offsets (sigmoid and tanh of ±40 are 1, 0 or -1
# to float64 precision) so that the output shows one gate: (gate, {block: offset}, output index).
PROBES = [
    ("update gate", {1: 40.0, 2: 40.0}, 0),   # r = 1, hh = 1: h_new = z * h + (1 - z)
    ("reset gate", {0: -40.0}, 0),            # z = 0: h_new = tanh(x_h + r * h_h), with the candidate
    ("candidate", {0: -40.0, 1: 40.0}, 0),    # z = 0, r = 1: h_new = tanh(x_h + h_h)
]

LAYOUT_HINT = ("Keras's layout: x (batch, features) @ kernel (features, 3*units) + bias[0], "
               "h (batch, units) @ recurrent_kernel (units, 3*units) + bias[1]; bias is (2, 3*units), "
               "so add its rows, bias[0] and bias[1], not the whole of it.")

# (batch, features, units). The last case has features = 3 * units, where a transposed kernel
# runs without a shape error and only the numbers can show it.
SHAPES = [(3, 5, 2), (4, 3, 4), (1, 1, 3), (3, 6, 2)]


def cases(seed=0):
    """Random (label, arguments) cases of gru_step's shapes."""
    return [(f"batch {batch}, features {features}, units {units}, seed {seed + i}",
             random_arrays(seed + i, x=(batch, features), h=(batch, units), kernel=(features, 3 * units),
                           recurrent_kernel=(units, 3 * units), bias=(2, 3 * units)))
            for i, (batch, features, units) in enumerate(SHAPES)]


def check(functions):
    """Check `gru_step` against GRUCell; return the number of cases passed."""
    return check_tensor_function(functions["gru_step"], cases(), reference, ("h_new",), MISTAKES,
                                 gate_names=GATES, probes=PROBES, hint=LAYOUT_HINT)


EXERCISE = Exercise(
    name="gru_cell", tutorial="09_gru",
    task="gru_step(x, h, kernel, recurrent_kernel, bias) -> h_new: one GRU step, reset_after=True, gates z, r, h",
    introduction=INTRODUCTION, imports="from tinyseq import ops", solution=(gru_step,), check=check)
