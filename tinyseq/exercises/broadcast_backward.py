"""Exercise `broadcast_backward`: an op's backward when the forward pass broadcast its inputs."""

from __future__ import annotations

import numpy as np

from .. import ops
from ..gradcheck import gradcheck
from ..tensor import Tensor, sum_to_shape
from .checking import CheckFailure, Exercise, agree, call, matching_mistake, returned_arrays, worst_difference

INTRODUCTION = """
Exercise broadcast_backward (tutorial 01): the backward of division, with broadcasting.

numpy broadcasts: a (2, 3) array divided by a (3,) array divides every row by the same three
numbers; a (4, 1) array times a (1, 5) one gives (4, 5). In the backward pass each input must
receive a gradient of its *own* shape. An input that was reused along an axis collects the
gradient from every place it was used: sum the output's gradient over that axis. Write

1. unbroadcast(grad, shape) -> array of `shape`

   grad has the broadcast output's shape; shape is the input's. Sum over the leading axes that
   broadcasting added, and over every axis where `shape` has size 1 but grad does not (keeping
   that axis, with size 1). Example: grad (2, 4, 3) and shape (4, 1): sum over axis 0 (added)
   and over the last axis (size 1 in shape), giving (4, 1).

2. div_backward(grad, a, b) -> (grad_a, grad_b)

   For out = a / b (numpy arrays, broadcast together), given grad = dL/dout, return dL/da and
   dL/db with the shapes of a and b:

       dL/da = grad / b              dL/db = -grad * a / b ** 2

   then reduced with your unbroadcast.

Everything is numpy arrays in and out. This is exactly the job of a tinyseq op's backward
closure (see tinyseq/ops.py); the engine's version of unbroadcast is tensor.sum_to_shape.

Check your answer (any number of times):

    tinyseq exercise check broadcast_backward.py

The checker compares unbroadcast with tinyseq's sum_to_shape, then runs your div_backward as
the backward of a tinyseq op and checks it against finite differences (gradcheck) on random
broadcast pairs of shapes, in float64.
"""


def unbroadcast(grad, shape):
    """Sum `grad` down to `shape`: over the leading axes broadcasting added and over the axes
    where `shape` has size 1 (kept)."""
    leading = grad.ndim - len(shape)
    grad = grad.sum(axis=tuple(range(leading)))
    stretched = tuple(axis for axis, size in enumerate(shape) if size == 1 and grad.shape[axis] != 1)
    return grad.sum(axis=stretched, keepdims=True)


def div_backward(grad, a, b):
    """Return (dL/da, dL/db) for out = a / b, each with its input's shape."""
    return unbroadcast(grad / b, a.shape), unbroadcast(-grad * a / b ** 2, b.shape)


# ---- unbroadcast -----------------------------------------------------------------------------
UNBROADCAST_CASES = [((2, 3), (3,)), ((2, 4, 3), (4, 1)), ((3, 4), (1, 4)), ((3, 4), (3, 1)),
                     ((2, 3), ()), ((2, 5, 3), (1, 5, 1)), ((3, 4), (3, 4)), ((5,), (1,))]


def _leading_only(grad, shape):
    return grad.sum(axis=tuple(range(grad.ndim - len(shape))))


def _kept_axes(grad, shape):
    leading = grad.ndim - len(shape)
    stretched = tuple(leading + axis for axis, size in enumerate(shape)
                      if size == 1 and grad.shape[leading + axis] != 1)
    return grad.sum(axis=stretched, keepdims=True)


UNBROADCAST_MISTAKES = [
    ("only the leading axes are summed; also sum (keeping them) the axes where shape has size 1.",
     lambda grad, shape: (_leading_only(grad, shape),)),
    ("the axes where shape has size 1 are summed but dropped: sum them with keepdims=True.",
     lambda grad, shape: (_leading_only(grad, shape).sum(
         axis=tuple(axis for axis, size in enumerate(shape) if size == 1), keepdims=False),)),
    ("the leading axes are kept: they were added by broadcasting, sum them away.",
     lambda grad, shape: (_kept_axes(grad, shape),)),
    ("the gradient is averaged, not summed: an input used n times collects n gradients.",
     lambda grad, shape: (sum_to_shape(grad, shape) * np.prod(shape) / grad.size,)),
    ("the gradient comes back unreduced.", lambda grad, shape: (grad,)),
]


def _check_unbroadcast(function):
    generator = np.random.default_rng(0)
    for number, (grad_shape, shape) in enumerate(UNBROADCAST_CASES, 1):
        where = f"unbroadcast, case {number} of {len(UNBROADCAST_CASES)} (grad {grad_shape} to shape {shape})"
        grad = generator.standard_normal(grad_shape)
        (result,) = returned_arrays(call(function, grad.copy(), shape), ("the result",), where)
        expected = sum_to_shape(grad, shape)
        if agree(result, expected):
            continue
        message = (f"{where}: returned shape {result.shape}; expected {expected.shape}"
                   if result.shape != expected.shape else f"{where}: wrong {worst_difference(result, expected)}")
        mistake = matching_mistake((result,), (expected,), UNBROADCAST_MISTAKES, grad, shape)
        raise CheckFailure(message + (f"\nYour result matches a known mistake: {mistake}" if mistake else ""))
    return len(UNBROADCAST_CASES)


# ---- div_backward ----------------------------------------------------------------------------
DIVISION_CASES = [((2, 3), (3,)), ((2, 3), (2, 1)), ((4, 1, 3), (2, 1)), ((), (3, 2)), ((3,), (3,)),
                  ((2, 1), (1, 4))]


def _reduced(grad_a, grad_b, a, b):
    return sum_to_shape(grad_a, a.shape), sum_to_shape(grad_b, b.shape)


DIVISION_MISTAKES = [
    ("dL/db has the wrong sign: it is -grad * a / b ** 2 (a larger b makes a / b smaller).",
     lambda g, a, b: _reduced(g / b, g * a / b ** 2, a, b)),
    ("dL/db is missing the factor a: it is -grad * a / b ** 2.",
     lambda g, a, b: _reduced(g / b, -g / b ** 2, a, b)),
    ("dL/db divides by b, not b ** 2: it is -grad * a / b ** 2.",
     lambda g, a, b: _reduced(g / b, -g * a / b, a, b)),
    ("dL/da multiplies by b (the rule of a * b); for a / b it is grad / b.",
     lambda g, a, b: _reduced(g * b, -g * a / b ** 2, a, b)),
    ("the two gradients are returned in the wrong order: (grad_a, grad_b).",
     lambda g, a, b: _reduced(g / b, -g * a / b ** 2, a, b)[::-1]),
]


def reference(grad, a, b):
    """dL/da and dL/db from tinyseq's own div and autograd."""
    a_leaf, b_leaf = Tensor(a, requires_grad=True), Tensor(b, requires_grad=True)
    ops.div(a_leaf, b_leaf).backward(grad)
    return a_leaf.grad, b_leaf.grad


def _division_with(function):
    """A tinyseq op computing a / b whose backward is the learner's div_backward."""
    @ops.primitive(2)
    def learner_div(a, b):
        return a / b, lambda grad: call(function, grad, a, b)
    return learner_div


def _check_division(function):
    generator = np.random.default_rng(1)
    for number, (a_shape, b_shape) in enumerate(DIVISION_CASES, 1):
        where = f"div_backward, case {number} of {len(DIVISION_CASES)} (a {a_shape}, b {b_shape})"
        a = generator.standard_normal(a_shape)
        b = generator.uniform(0.5, 2.0, b_shape) * generator.choice([-1.0, 1.0], b_shape)  # away from 0
        grad = generator.standard_normal(np.broadcast_shapes(a_shape, b_shape))
        result = call(function, grad.copy(), a.copy(), b.copy())
        result = tuple(returned_arrays(result, ("grad_a", "grad_b"), where))
        expected = reference(grad, a, b)
        mistake = matching_mistake(result, expected, DIVISION_MISTAKES, grad, a, b)
        known = f"\nYour result matches a known mistake: {mistake}" if mistake else ""
        for name, mine, theirs in zip(("grad_a", "grad_b"), result, expected):
            if mine.shape != theirs.shape:
                raise CheckFailure(f"{where}: {name} has shape {mine.shape} but {name[-1]} has shape {theirs.shape}: "
                                   f"reduce it with unbroadcast(..., {name[-1]}.shape).{known}")
        check = gradcheck(_division_with(function), a, b, raise_on_failure=False)
        if not check.passed:
            name = ("grad_a", "grad_b")[check.input]
            raise CheckFailure(f"{where}: {name} disagrees with finite differences at {check.index}: yours "
                               f"{check.analytic:.6g}, numeric {check.numeric:.6g}.{known}")
    return len(DIVISION_CASES)


def check(functions):
    """Check unbroadcast, then div_backward; return the number of cases passed."""
    return _check_unbroadcast(functions["unbroadcast"]) + _check_division(functions["div_backward"])


EXERCISE = Exercise(
    name="broadcast_backward", tutorial="01_autograd",
    task="unbroadcast(grad, shape) and div_backward(grad, a, b): gradients reduced to the inputs' shapes",
    introduction=INTRODUCTION, imports="import numpy as np", solution=(unbroadcast, div_backward), check=check)
