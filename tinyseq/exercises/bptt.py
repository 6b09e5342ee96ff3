"""Exercise `bptt`: backpropagation through time by hand, in numpy, checked against autograd."""

from __future__ import annotations

import numpy as np

from .. import ops
from ..nn.cells import SimpleRNNCell
from ..tensor import Tensor
from .checking import (CheckFailure, Exercise, agree, call, cell_with_weights, matching_mistake, returned_arrays,
                       worst_difference)

INTRODUCTION = """
Exercise bptt (tutorial 03): backpropagation through time, by hand.

rnn_forward below runs a simple RNN over a sequence in plain numpy:

    h_0 = h0,   h_t = tanh(xs[:, t-1] @ kernel + h_(t-1) @ recurrent_kernel + bias),  t = 1..T

and returns hs, the states h_1 .. h_T as an array (batch, T, units). Some loss L follows, and
you are given grad_hs = dL/dhs, (batch, T, units): the gradient arriving at every step's state
from the layers above. Write

    bptt(xs, h0, kernel, recurrent_kernel, bias, grad_hs)
        -> (grad_kernel, grad_recurrent_kernel, grad_bias, grad_h0)

the gradients of L with respect to kernel (features, units), recurrent_kernel (units, units),
bias (units,) and h0 (batch, units), as numpy arrays of those shapes. Walk the steps backwards,
from T down to 1, carrying the gradient of the state back one step at a time:

    dh   = grad_hs[:, t-1] + (what step t+1 sent back to h_t)
    da   = dh * (1 - h_t ** 2)                     through the tanh
    grad_kernel += x_t.T @ da;  grad_recurrent_kernel += h_(t-1).T @ da;  grad_bias += da summed over the batch
    send da @ recurrent_kernel.T back to h_(t-1)

Everything here is numpy: xs (batch, T, features), h0, the weights and grad_hs are arrays.

Check your answer (any number of times):

    tinyseq exercise check bptt.py

The checker runs the same RNN in tinyseq (SimpleRNNCell, step by step), lets autograd compute
the four gradients, and compares them with yours on random shapes and seeds in float64.
"""


def rnn_forward(xs, h0, kernel, recurrent_kernel, bias):
    """Run a tanh RNN over xs (batch, T, features) from h0; return the states h_1..h_T, (batch, T, units)."""
    h = h0
    states = []
    for t in range(xs.shape[1]):
        h = np.tanh(xs[:, t] @ kernel + h @ recurrent_kernel + bias)
        states.append(h)
    return np.stack(states, axis=1)


def bptt(xs, h0, kernel, recurrent_kernel, bias, grad_hs):
    """Return (grad_kernel, grad_recurrent_kernel, grad_bias, grad_h0) for the loss whose gradient
    with respect to rnn_forward's states is grad_hs."""
    hs = rnn_forward(xs, h0, kernel, recurrent_kernel, bias)
    previous_states = np.concatenate([h0[:, None], hs[:, :-1]], axis=1)  # h_(t-1) for every step
    grad_kernel, grad_recurrent_kernel = np.zeros_like(kernel), np.zeros_like(recurrent_kernel)
    grad_bias = np.zeros_like(bias)
    grad_carried = np.zeros_like(h0)  # what step t+1 sends back to h_t
    for t in reversed(range(xs.shape[1])):
        grad_state = grad_hs[:, t] + grad_carried
        grad_pre_activation = grad_state * (1 - hs[:, t] ** 2)
        grad_kernel += xs[:, t].T @ grad_pre_activation
        grad_recurrent_kernel += previous_states[:, t].T @ grad_pre_activation
        grad_bias += grad_pre_activation.sum(axis=0)
        grad_carried = grad_pre_activation @ recurrent_kernel.T
    return grad_kernel, grad_recurrent_kernel, grad_bias, grad_carried


GRADIENT_NAMES = ("grad_kernel", "grad_recurrent_kernel", "grad_bias", "grad_h0")


def reference(xs, h0, kernel, recurrent_kernel, bias, grad_hs):
    """The four gradients from tinyseq's autograd through SimpleRNNCell, step by step."""
    weights = [Tensor(array, requires_grad=True) for array in (kernel, recurrent_kernel, bias)]
    start = Tensor(h0, requires_grad=True)
    cell = cell_with_weights(SimpleRNNCell, *weights)
    h, states = start, []
    for t in range(xs.shape[1]):
        h, _ = cell.step(cell.project_inputs(Tensor(xs[:, t])), [h])
        states.append(h)
    (ops.stack(states, axis=1) * Tensor(grad_hs)).sum().backward()
    return tuple(leaf.grad for leaf in (*weights, start))


def bptt_variant(xs, h0, kernel, recurrent_kernel, bias, grad_hs, carry=True, tanh_derivative=True,
                 state_offset=0, transpose_recurrent=True):
    """BPTT in numpy with known mistakes switched on by the keywords (`state_offset=1` pairs
    each step with its own new state instead of the previous one)."""
    hs = rnn_forward(xs, h0, kernel, recurrent_kernel, bias)
    with_start = np.concatenate([h0[:, None], hs], axis=1)  # h_0 .. h_T
    grads = [np.zeros_like(kernel), np.zeros_like(recurrent_kernel), np.zeros_like(bias)]
    carried = np.zeros_like(h0)
    for t in reversed(range(xs.shape[1])):
        grad_pre_activation = (grad_hs[:, t] + carried) * ((1 - hs[:, t] ** 2) if tanh_derivative else 1)
        grads[0] += xs[:, t].T @ grad_pre_activation
        grads[1] += with_start[:, t + state_offset].T @ grad_pre_activation
        grads[2] += grad_pre_activation.sum(axis=0)
        sent_back = grad_pre_activation @ (recurrent_kernel.T if transpose_recurrent else recurrent_kernel)
        carried = sent_back if carry else np.zeros_like(sent_back)
    return (*grads, sent_back)


MISTAKES = [
    ("the gradient is not carried back through time: each step's dh must add what the later step "
     "sent back to h_t (da @ recurrent_kernel.T), not only grad_hs[:, t].",
     lambda *a: bptt_variant(*a, carry=False)),
    ("the tanh's derivative is missing: da = dh * (1 - h_t ** 2).",
     lambda *a: bptt_variant(*a, tanh_derivative=False)),
    ("grad_recurrent_kernel pairs step t with its own new state h_t; it is h_(t-1).T @ da, the state "
     "the step read.",
     lambda *a: bptt_variant(*a, state_offset=1)),
    ("the recurrent kernel is not transposed on the way back: h_(t-1) receives da @ recurrent_kernel.T.",
     lambda *a: bptt_variant(*a, transpose_recurrent=False)),
    ("the signs are flipped: these are gradients of L, not the descent direction -dL.",
     lambda *a: tuple(-g for g in bptt(*a))),
]

SHAPES_HINT = ("The shapes: xs (batch, T, features), h0 (batch, units), grad_hs (batch, T, units); "
               "grad_kernel (features, units), grad_recurrent_kernel (units, units), grad_bias (units,): "
               "da summed over the batch, grad_h0 (batch, units).")

# (batch, timesteps, features, units)
SHAPES = [(3, 4, 2, 3), (2, 6, 3, 2), (1, 3, 1, 4), (4, 1, 2, 2), (2, 8, 2, 3)]


def cases(seed=0):
    """(label, arguments) cases; the weights are scaled so that the tanh is neither linear nor flat."""
    result = []
    for i, (batch, timesteps, features, units) in enumerate(SHAPES):
        generator = np.random.default_rng(seed + i)
        arguments = (generator.standard_normal((batch, timesteps, features)), generator.standard_normal((batch, units)),
                     generator.standard_normal((features, units)) * 0.8,
                     generator.standard_normal((units, units)) * 0.8, generator.standard_normal(units) * 0.5,
                     generator.standard_normal((batch, timesteps, units)))
        result.append((f"batch {batch}, timesteps {timesteps}, features {features}, units {units}, seed {seed + i}",
                       arguments))
    return result


def check(functions):
    """Check bptt against autograd; return the number of cases passed."""
    function = functions["bptt"]
    all_cases = cases()
    for number, (label, arguments) in enumerate(all_cases, 1):
        where = f"bptt, case {number} of {len(all_cases)} ({label})"
        result = call(function, *(a.copy() for a in arguments), hint=SHAPES_HINT)
        result = returned_arrays(result, GRADIENT_NAMES, where)
        expected = reference(*arguments)
        for name, mine, theirs in zip(GRADIENT_NAMES, result, expected):
            if mine.shape != theirs.shape:
                raise CheckFailure(f"{where}: {name} has shape {mine.shape}; expected {theirs.shape}"
                                   + (" (sum over the batch)" if name == "grad_bias" else ""))
        wrong = [i for i in range(4) if not agree(result[i], expected[i])]
        if wrong:
            details = "; ".join(f"{GRADIENT_NAMES[i]} is wrong {worst_difference(result[i], expected[i])}"
                                for i in wrong)
            right = [GRADIENT_NAMES[i] for i in range(4) if i not in wrong]
            mistake = matching_mistake(result, expected, MISTAKES, *arguments)
            raise CheckFailure(f"{where}: {details}" + (f"; {', '.join(right)} right." if right else ".")
                               + (f"\nYour numbers match a known mistake: {mistake}" if mistake else
                                  "\nThey match none of the known mistakes: compare each line with the "
                                  "recipe in the docstring."))
    return len(all_cases)


EXERCISE = Exercise(
    name="bptt", tutorial="03_vanishing_gradients",
    task="bptt(xs, h0, kernel, recurrent_kernel, bias, grad_hs) -> four gradients, by hand in numpy",
    introduction=INTRODUCTION, imports="import numpy as np", given=(rnn_forward,), solution=(bptt,), check=check)
