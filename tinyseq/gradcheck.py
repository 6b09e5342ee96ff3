"""`gradcheck`: compare backward's gradients with central finite differences, in float64."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .tensor import Tensor, no_grad


class GradcheckError(AssertionError):
    """Raised by `gradcheck` when an analytic gradient disagrees with the numeric one."""


@dataclass
class GradcheckResult:
    """The worst-agreeing element over all inputs.

    Attributes:
        passed: whether every element is within `atol + rtol * |numeric|`.
        input: which input (position in the argument list) holds the worst element.
        index: that element's index within the input.
        analytic: backward's gradient there.
        numeric: the central-difference estimate there.
        checked: how many elements were compared.
    """
    passed: bool
    input: int
    index: tuple
    analytic: float
    numeric: float
    checked: int

    def __bool__(self):
        return self.passed

    def __str__(self):
        verdict = "passed" if self.passed else "FAILED"
        return (f"gradcheck {verdict} over {self.checked} elements; worst: input {self.input} "
                f"index {self.index}: analytic {self.analytic:.10g}, numeric {self.numeric:.10g}, "
                f"difference {abs(self.analytic - self.numeric):.3g}")


def gradcheck(fn, *inputs, eps=1e-6, rtol=1e-6, atol=1e-8, seed=0, raise_on_failure=True):
    """Check the gradients of `fn(*inputs)` against central differences, in float64.

    Every input (a Tensor or array-like) is copied to a float64 leaf that requires grad. For a
    non-scalar output the checked quantity is sum(output * R) for a fixed random R, so every
    output element counts; a one-element output is checked as it is.

    Args:
        fn: a function of tensors returning a tensor.
        *inputs: the points at which to check.
        eps: the finite-difference step.
        rtol, atol: an element passes when |analytic - numeric| <= atol + rtol * |numeric|.
        seed: seeds R.
        raise_on_failure: raise GradcheckError (with the worst element) instead of returning.

    Returns:
        A GradcheckResult (truthy when passed) describing the worst element.

    Example:
        >>> gradcheck(lambda x: (x * x).sum(), [1.0, 2.0, 3.0]).passed
        True
    """
    leaves = [Tensor(np.array(getattr(x, "data", x), dtype=np.float64), requires_grad=True) for x in inputs]
    output = fn(*leaves)
    weights = (np.ones(output.shape) if output.size == 1
               else np.random.default_rng(seed).standard_normal(output.shape))

    def objective():
        with no_grad():
            return float(np.sum(fn(*leaves).data * weights))

    (output * Tensor(weights)).sum().backward()
    worst, worst_ratio, checked = None, -1.0, 0
    for position, leaf in enumerate(leaves):
        analytic = np.zeros_like(leaf.data) if leaf.grad is None else leaf.grad
        flat = leaf.data.reshape(-1)  # a view: nudging it nudges the leaf
        for i in range(flat.size):
            original = flat[i]
            flat[i] = original + eps
            above = objective()
            flat[i] = original - eps
            below = objective()
            flat[i] = original
            numeric = (above - below) / (2 * eps)
            index = np.unravel_index(i, leaf.shape)
            exact = float(analytic[index])
            ratio = abs(exact - numeric) / (atol + rtol * abs(numeric))
            checked += 1
            if ratio > worst_ratio:
                worst_ratio = ratio
                worst = (position, tuple(int(j) for j in index), exact, numeric)
    if worst is None:
        return GradcheckResult(True, -1, (), 0.0, 0.0, 0)
    result = GradcheckResult(worst_ratio <= 1.0, *worst, checked)
    if raise_on_failure and not result.passed:
        raise GradcheckError(str(result))
    return result
