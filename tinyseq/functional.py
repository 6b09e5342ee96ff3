"""Composite functions, built only from the primitive ops (so their gradients come for free)."""

from __future__ import annotations

from . import ops


def logsumexp(x, axis=-1, keepdims=False):
    """log(sum(exp(x))) over `axis`, shifted by the maximum so exp never overflows."""
    shift = ops.max(x, axis=axis, keepdims=True).detach()  # a constant shift: the result is unchanged
    out = ops.log(ops.sum(ops.exp(x - shift), axis=axis, keepdims=True)) + shift
    return out if keepdims else ops.reshape(out, _squeezed(out.shape, axis))


def log_softmax(x, axis=-1):
    """log of softmax(x) along `axis`, computed stably as x - logsumexp(x)."""
    return x - logsumexp(x, axis=axis, keepdims=True)


def softmax(x, axis=-1):
    """exp(x) / sum(exp(x)) along `axis`."""
    return ops.exp(log_softmax(x, axis=axis))


def _squeezed(shape, axis):
    """`shape` without the axes that `axis` names (every axis for None)."""
    if axis is None:
        return ()
    axes = {a % len(shape) for a in (axis if isinstance(axis, tuple) else (axis,))}
    return tuple(size for i, size in enumerate(shape) if i not in axes)
