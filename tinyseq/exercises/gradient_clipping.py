"""Exercise `gradient_clipping`: scale a list of gradients down to a global norm."""

from __future__ import annotations

import numpy as np

from ..optimizers import SGD
from .checking import CheckFailure, Exercise, agree, call, matching_mistake, returned_arrays, worst_difference

INTRODUCTION = """
Exercise gradient_clipping (tutorial 03): clip gradients by their global norm.

An exploding gradient makes one update step huge. Clipping by the global norm shrinks all the
gradients by one common factor whenever their joint length is too large, so the direction of
the step is kept and only its length is limited. Write

    clip_by_global_norm(grads, max_norm) -> clipped

    grads     a list of numpy arrays (one per parameter, any shapes)
    max_norm  a positive number
    clipped   a new list of new arrays, of the same shapes, where

        global_norm = sqrt(sum over all arrays of sum(g ** 2))
        clipped[k]  = grads[k] * max_norm / global_norm   if global_norm > max_norm
                      grads[k]                             otherwise

Mind the edge cases: all-zero gradients (a norm of 0 must not divide by zero) and gradients
already below max_norm (unchanged). Do not modify the arrays in grads: return new ones.
(This is what Keras's and tinyseq's optimizers do with global_clipnorm=max_norm.)

Check your answer (any number of times):

    tinyseq exercise check gradient_clipping.py
"""


def clip_by_global_norm(grads, max_norm):
    """Return new arrays: `grads` scaled by max_norm / global norm when that norm exceeds max_norm."""
    global_norm = np.sqrt(sum(np.sum(g ** 2) for g in grads))
    scale = max_norm / max(global_norm, max_norm)
    return [g * scale for g in grads]


def reference(grads, max_norm):
    """tinyseq's optimizers' clipping with global_clipnorm=max_norm."""
    return SGD(global_clipnorm=max_norm).clip_gradients(grads)


def _norm(grads):
    return np.sqrt(sum(np.sum(g ** 2) for g in grads))


MISTAKES = [
    ("each array is clipped to max_norm on its own (that is clipnorm); clip by the norm of all of them together.",
     lambda grads, max_norm: SGD(clipnorm=max_norm).clip_gradients(grads)),
    ("the gradients are scaled even when their norm is below max_norm: scale only when it is larger.",
     lambda grads, max_norm: [g * max_norm / _norm(grads) for g in grads]),
    ("the norm has no square root: it is sqrt(sum of all squares).",
     lambda grads, max_norm: [g * max_norm / max(_norm(grads) ** 2, max_norm) for g in grads]),
    ("each element is clipped to ±max_norm (that is clipvalue); scale all arrays by one common factor.",
     lambda grads, max_norm: [np.clip(g, -max_norm, max_norm) for g in grads]),
    ("the scale is inverted: it is max_norm / global_norm.",
     lambda grads, max_norm: [g * max(_norm(grads), max_norm) / max_norm for g in grads]),
]


def cases():
    """(label, grads, max_norm) cases, from a large norm to none at all."""
    generator = np.random.default_rng(0)
    grads = [generator.standard_normal(shape) for shape in [(3, 4), (4,), (2, 2, 3)]]
    norm = float(_norm(grads))
    return [
        ("three arrays, norm well above max_norm", grads, norm / 4),
        ("three arrays, norm below max_norm", grads, norm * 2),
        ("one array, norm above max_norm", [grads[0] * 10], 1.0),
        ("several arrays, one of them all zeros", [grads[1], np.zeros((2, 3)), grads[0]], 0.5),
        ("all-zero gradients (norm 0)", [np.zeros((2, 3)), np.zeros(5)], 1.0),
        ("the norm exactly max_norm", [np.array([3.0, 4.0])], 5.0),
        ("a single number", [np.array(-7.0)], 2.0),
    ]


def check(functions):
    """Check clip_by_global_norm against the optimizers' clipping; return the number of cases passed."""
    function = functions["clip_by_global_norm"]
    all_cases = cases()
    for number, (label, grads, max_norm) in enumerate(all_cases, 1):
        where = f"clip_by_global_norm, case {number} of {len(all_cases)} ({label}, max_norm {max_norm:.4g})"
        originals = [g.copy() for g in grads]
        result = call(function, grads, max_norm)
        if not all(np.array_equal(g, original) for g, original in zip(grads, originals)):
            raise CheckFailure(f"{where}: the arrays in grads were modified in place; return new arrays "
                               f"(write g * scale, not g *= scale) and leave grads as it was.")
        if not isinstance(result, (list, tuple)) or len(result) != len(grads):
            raise CheckFailure(f"{where}: returned {type(result).__name__}"
                               f"{f' of {len(result)}' if isinstance(result, (list, tuple)) else ''}; "
                               f"return a list of {len(grads)} arrays, one per gradient")
        result = [returned_arrays(value, (f"array {k}",), where)[0] for k, value in enumerate(result)]
        expected = reference(originals, max_norm)
        for k, (mine, theirs) in enumerate(zip(result, expected)):
            if mine.shape != theirs.shape:
                raise CheckFailure(f"{where}: array {k} came back with shape {mine.shape}; "
                                   f"it has shape {theirs.shape}")
        wrong = [k for k, (mine, theirs) in enumerate(zip(result, expected)) if not agree(mine, theirs)]
        if wrong:
            k = wrong[0]
            message = f"{where}: array {k} is wrong {worst_difference(result[k], expected[k])}."
            if any(np.isnan(array).any() for array in result) and not _norm(originals):
                message += (" NaN for all-zero gradients: a norm of 0 was divided by. When the norm "
                            "is not above max_norm, return the gradients unchanged.")
            mistake = matching_mistake(result, expected, MISTAKES, originals, max_norm)
            raise CheckFailure(message + (f"\nYour numbers match a known mistake: {mistake}" if mistake else ""))
    return len(all_cases)


EXERCISE = Exercise(
    name="gradient_clipping", tutorial="03_vanishing_gradients",
    task="clip_by_global_norm(grads, max_norm) -> clipped: scale a list of gradients to a global norm",
    introduction=INTRODUCTION, imports="import numpy as np", solution=(clip_by_global_norm,), check=check)
