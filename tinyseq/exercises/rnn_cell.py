"""Exercise `rnn_cell`: one step of a simple RNN, h' = tanh(x W + h U + b), in Keras's layout."""

from __future__ import annotations

import numpy as np

from .. import ops
from ..nn.cells import SimpleRNNCell
from .checking import Exercise, cell_with_weights, check_tensor_function, random_arrays

INTRODUCTION = """
Exercise rnn_cell (tutorial 02): one step of a simple recurrent network.

Write rnn_step(x, h, kernel, recurrent_kernel, bias) -> h_new, where

    h_new = tanh(x @ kernel + h @ recurrent_kernel + bias)

with the weights in Keras's layout:

    x                 (batch, features)   the input at this step
    h                 (batch, units)      the previous hidden state
    kernel            (features, units)   multiplies the input
    recurrent_kernel  (units, units)      multiplies the previous state
    bias              (units,)            added to every row (broadcasting)
    h_new             (batch, units)      the new hidden state: return it

All five arguments are tinyseq Tensors. Use tinyseq's ops (`@`, `+`, `ops.tanh`) on them, not
numpy on `.data`: the checker also compares the gradients that flow back through your step.

Check your answer (any number of times):

    tinyseq exercise check rnn_cell.py

It runs your step on random shapes and seeds in float64 against tinyseq's SimpleRNNCell and
says which output or gradient differs, and which known mistake your numbers match.
"""


def rnn_step(x, h, kernel, recurrent_kernel, bias):
    """Return the new hidden state tanh(x @ kernel + h @ recurrent_kernel + bias), (batch, units)."""
    return ops.tanh(x @ kernel + h @ recurrent_kernel + bias)


def reference(x, h, kernel, recurrent_kernel, bias):
    """tinyseq's SimpleRNNCell with these weights, one step."""
    cell = cell_with_weights(SimpleRNNCell, kernel, recurrent_kernel, bias)
    new_hidden, _ = cell.step(cell.project_inputs(x), [h])
    return (new_hidden,)


def rnn_variant(x, h, kernel, recurrent_kernel, bias, activation=np.tanh, bias_sign=1, kernel_transposed=False,
                recurrent_transposed=False, use_input=True, use_state=True):
    """The RNN step in numpy, with one known mistake switched on by the keyword arguments."""
    kernel = kernel.T if kernel_transposed else kernel
    recurrent = recurrent_kernel.T if recurrent_transposed else recurrent_kernel
    pre_activation = bias_sign * bias + (x @ kernel if use_input else 0) + (h @ recurrent if use_state else 0)
    return (activation(pre_activation),)


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


MISTAKES = [
    ("the tanh is missing: h_new = x @ kernel + h @ recurrent_kernel + bias, with no squashing.",
     lambda **a: rnn_variant(**a, activation=lambda z: z)),
    ("sigmoid instead of tanh: the state must range over (-1, 1), not (0, 1).",
     lambda **a: rnn_variant(**a, activation=_sigmoid)),
    ("relu instead of tanh.", lambda **a: rnn_variant(**a, activation=lambda z: np.maximum(z, 0))),
    ("the recurrent kernel is transposed: write h @ recurrent_kernel (Keras's layout is "
     "(units, units), rows indexed by h's units), not h @ recurrent_kernel.T.",
     lambda **a: rnn_variant(**a, recurrent_transposed=True)),
    ("the kernel is transposed: write x @ kernel (Keras's layout is (features, units)).",
     lambda **a: rnn_variant(**a, kernel_transposed=True)),
    ("the bias is left out.", lambda **a: rnn_variant(**a, bias_sign=0)),
    ("the bias is subtracted; it is added: ... + bias.", lambda **a: rnn_variant(**a, bias_sign=-1)),
    ("the previous state is left out: h @ recurrent_kernel is missing, so the step has no memory.",
     lambda **a: rnn_variant(**a, use_state=False)),
    ("the input is left out: x @ kernel is missing.", lambda **a: rnn_variant(**a, use_input=False)),
    ("the previous state is returned unchanged.", lambda x, h, **a: (h,)),
]

LAYOUT_HINT = ("Keras's layout: x (batch, features) @ kernel (features, units), "
               "h (batch, units) @ recurrent_kernel (units, units), + bias (units,).")

# (batch, features, units). Where features and units differ a transposed kernel fails with a
# shape error; the last case has features = units, where only the numbers can show it.
SHAPES = [(3, 4, 2), (2, 3, 5), (4, 1, 3), (1, 6, 4), (2, 3, 3)]


def cases(seed=0):
    """Random (label, arguments) cases of rnn_step's shapes."""
    return [(f"batch {batch}, features {features}, units {units}, seed {seed + i}",
             random_arrays(seed + i, x=(batch, features), h=(batch, units), kernel=(features, units),
                           recurrent_kernel=(units, units), bias=(units,)))
            for i, (batch, features, units) in enumerate(SHAPES)]


def check(functions):
    """Check `rnn_step` against SimpleRNNCell; return the number of cases passed."""
    return check_tensor_function(functions["rnn_step"], cases(), reference, ("h_new",), MISTAKES,
                                 hint=LAYOUT_HINT)


EXERCISE = Exercise(
    name="rnn_cell", tutorial="02_recurrent_networks",
    task="rnn_step(x, h, kernel, recurrent_kernel, bias) -> h_new: one tanh RNN step, Keras layout",
    introduction=INTRODUCTION, imports="from tinyseq import ops", solution=(rnn_step,), check=check)
