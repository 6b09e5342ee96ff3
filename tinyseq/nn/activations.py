"""Activation functions by name, as Keras's `activation="relu"` arguments expect.

`get` turns a name, a callable or None into a function of a tensor; `serialize` turns a
built-in one back into its name (for `get_config`).
"""

from __future__ import annotations

from .. import functional, ops


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


def softmax(x):
    """exp(x) / sum(exp(x)) over the last axis: a probability distribution per row."""
    return functional.softmax(x, axis=-1)


_BY_NAME = {"linear": linear, "sigmoid": sigmoid, "tanh": tanh, "relu": relu, "softmax": softmax}
_NAMES = {function: name for name, function in _BY_NAME.items()}


def get(identifier):
    """Return the activation called `identifier`; None means linear; a callable is kept.

    Raises:
        ValueError: for an unknown name (the message lists the valid ones).
    """
    if identifier is None:
        return linear
    if callable(identifier):
        return identifier
    if identifier in _BY_NAME:
        return _BY_NAME[identifier]
    raise ValueError(f"Unknown activation {identifier!r}; valid names: {', '.join(_BY_NAME)}")


def serialize(activation):
    """The name of a built-in activation, for a layer's `get_config`.

    Raises:
        ValueError: for a custom callable, which has no name a config could rebuild it from.
    """
    if activation in _NAMES:
        return _NAMES[activation]
    raise ValueError(f"cannot serialize the custom activation {activation!r}; get_config can only "
                     f"name the built-in ones: {', '.join(_BY_NAME)}")
