"""Activation functions by name, as Keras's `activation="relu"` arguments expect.

`get` turns a name, a callable or None into a function of a tensor; `serialize` turns a
built-in one back into its name (for `get_config`).
"""

from __future__ import annotations

from .. import functional, ops
from ..registry import Registry


def linear(x):
    """The identity: what `activation=None` means."""
    return x


def sigmoid(x):
    """1 / (1 + e^-x), squashing to (0, 1)."""
    return ops.sigmoid(x)


def tanh(x):
    """Hyperbolic tangent, squashing to (-1, 1)."""
    return ops.tanh(x)


def relu(x):
    """max(x, 0)."""
    return ops.relu(x)


def hard_sigmoid(x):
    """Keras's piecewise-linear sigmoid: 0 below -3, 1 above 3, x / 6 + 1/2 between."""
    return ops.clip(x + 3.0, 0.0, 6.0) / 6.0


def softmax(x):
    """exp(x) / sum(exp(x)) over the last axis: a probability distribution per row."""
    return functional.softmax(x, axis=-1)


_REGISTRY = Registry("activation", {"linear": linear, "sigmoid": sigmoid, "tanh": tanh, "relu": relu,
                                    "hard_sigmoid": hard_sigmoid, "softmax": softmax})
serialize = _REGISTRY.name_of


def get(identifier):
    """The activation called `identifier` (None means linear; a callable is kept as it is)."""
    return linear if identifier is None else _REGISTRY.get(identifier)
