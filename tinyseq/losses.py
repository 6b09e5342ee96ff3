"""Loss functions, as Keras computes them; each returns the batch mean as a scalar Tensor.

Shapes are checked, never silently broadcast: y_true of shape (N,) against y_pred of shape (N, 1)
would broadcast to an (N, N) matrix of every prediction against every label, a classic bug that
trains without complaint. As in Keras, a y_true that only lacks (or only adds) y_pred's
trailing axis of size 1 is reshaped to match; any other difference raises ShapeError.
"""

from __future__ import annotations

import numpy as np

from . import functional, ops
from .registry import Registry
from .tensor import ShapeError, Tensor

EPSILON = 1e-7  # Keras's backend.epsilon(): keeps log() away from 0 when given probabilities


def match_shapes(y_true, y_pred_shape, name):
    """Return y_true as a numpy array of shape `y_pred_shape`.

    Args:
        y_true: the targets (array-like or Tensor).
        y_pred_shape: the predictions' shape.
        name: the loss or metric, for the error message.

    Raises:
        ShapeError: unless the shapes are equal or differ only by a trailing axis of size 1.
    """
    target = np.asarray(y_true.data if isinstance(y_true, Tensor) else y_true)
    y_pred_shape = tuple(y_pred_shape)
    if target.shape == y_pred_shape:
        return target
    if target.shape + (1,) == y_pred_shape or target.shape == y_pred_shape + (1,):
        return target.reshape(y_pred_shape)
    raise ShapeError(f"{name}: y_true has shape {target.shape} but y_pred has shape {y_pred_shape}; "
                     f"they must be equal (or differ only by a trailing axis of size 1)")


def binary_crossentropy(y_true, y_pred, from_logits=False):
    """Mean of -[y log p + (1 - y) log(1 - p)] for 0/1 targets y.

    Args:
        y_true: targets in [0, 1] (anything else raises ValueError naming it and its position).
        y_pred: probabilities p (clipped to [1e-7, 1 - 1e-7], as Keras does), or logits x if
            `from_logits`, computed stably as max(x, 0) - x y + log(1 + e^-|x|).
        from_logits: whether y_pred holds logits rather than probabilities.

    Returns:
        A scalar Tensor.

    Example:
        >>> from tinyseq import tensor
        >>> binary_crossentropy([1.0, 0.0], tensor([[0.9], [0.2]])).item()   # doctest: +ELLIPSIS
        0.164...
    """
    y_pred = _as_tensor(y_pred)
    target = match_shapes(y_true, y_pred.shape, "binary_crossentropy")
    _check_probabilities(target, "binary_crossentropy")
    y_true = Tensor(target.astype(y_pred.dtype))
    if from_logits:
        # exp only ever sees -|x| <= 0, so it cannot overflow for any logit. Writing max(x, 0) and
        # -|x| with `where` on the sign of x (not relu and abs, whose gradient at 0 is 0) keeps the
        # gradient exact at x = 0: sigmoid(0) - y.
        positive = y_pred.data >= 0
        relu_part = ops.where(positive, y_pred, 0.0)
        minus_abs = ops.where(positive, -y_pred, y_pred)
        losses = relu_part - y_pred * y_true + ops.log(1 + ops.exp(minus_abs))
    else:
        probability = ops.clip(y_pred, EPSILON, 1 - EPSILON)
        losses = -(y_true * ops.log(probability) + (1 - y_true) * ops.log(1 - probability))
    return ops.mean(losses)


def mean_squared_error(y_true, y_pred):
    """Mean of (y_pred - y_true)² over all elements.

    Returns:
        A scalar Tensor.
    """
    y_pred = _as_tensor(y_pred)
    y_true = Tensor(match_shapes(y_true, y_pred.shape, "mean_squared_error").astype(y_pred.dtype))
    return ops.mean((y_pred - y_true) ** 2)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False):
    """Mean of -log p[label] for integer class labels.

    Args:
        y_true: integer labels in [0, classes), of shape y_pred.shape[:-1] (or with a trailing 1).
        y_pred: class probabilities over the last axis (renormalised to sum to 1 and clipped to
            [1e-7, 1 - 1e-7], as Keras does), or logits if `from_logits`.
        from_logits: whether y_pred holds logits (then log-softmax is used, stably).

    Returns:
        A scalar Tensor.

    Raises:
        ShapeError: if the labels' shape does not match; IndexError for a label out of range.
    """
    y_pred = _as_tensor(y_pred)
    if y_pred.ndim < 1:
        raise ShapeError(f"sparse_categorical_crossentropy: y_pred needs a class axis, "
                         f"got shape {y_pred.shape}")
    labels = match_shapes(y_true, y_pred.shape[:-1], "sparse_categorical_crossentropy")
    classes = y_pred.shape[-1]
    labels = ops.checked_ids(labels, classes, "sparse_categorical_crossentropy", "label", f"the {classes} classes")
    if from_logits:
        log_probabilities = functional.log_softmax(y_pred, axis=-1)
    else:
        probabilities = y_pred / ops.sum(y_pred, axis=-1, keepdims=True)
        log_probabilities = ops.log(ops.clip(probabilities, EPSILON, 1 - EPSILON))
    rows = ops.reshape(log_probabilities, (-1, classes))
    picked = rows[np.arange(rows.shape[0]), labels.reshape(-1)]
    return -ops.mean(picked)


def _check_probabilities(labels, loss):
    """Raise ValueError naming `loss`, the first label outside [0, 1] and its position."""
    if labels.dtype.kind not in "biuf":
        raise TypeError(f"{loss}: labels must be numbers in [0, 1], got {labels.dtype} labels")
    outside = ~((labels >= 0) & (labels <= 1))  # also catches NaN
    if outside.any():
        position = tuple(int(i) for i in np.argwhere(outside)[0])
        raise ValueError(f"{loss}: label {labels[position].item()} at position {position} is outside [0, 1]; "
                         f"its labels are 0/1 classes (or probabilities in between)")


def _as_tensor(y_pred):
    return y_pred if isinstance(y_pred, Tensor) else Tensor(y_pred)


_REGISTRY = Registry("loss", {
    "binary_crossentropy": binary_crossentropy,
    "mean_squared_error": mean_squared_error,
    "mse": mean_squared_error,
    "sparse_categorical_crossentropy": sparse_categorical_crossentropy,
}, "a callable loss(y_true, y_pred)")
get = _REGISTRY.get
