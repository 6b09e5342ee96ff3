"""Metrics: plain numpy functions of (y_true, y_pred) returning a Python float.

They only report progress (nothing is differentiated), so they take arrays or tensors and
never build a graph. Shapes follow the same rule as the losses (see `tinyseq.losses`).
"""

from __future__ import annotations

import numpy as np

from . import losses
from .registry import Registry
from .tensor import Tensor


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """The fraction of predictions on the right side of `threshold`.

    Args:
        y_true: 0/1 targets.
        y_pred: probabilities (for logits, pass threshold=0).
        threshold: predictions above it count as 1.

    Example:
        >>> binary_accuracy([1, 0, 1], [[0.9], [0.4], [0.2]])
        0.6666666666666666
    """
    y_pred = _array(y_pred)
    y_true = losses.match_shapes(y_true, y_pred.shape, "binary_accuracy")
    return float(np.mean(y_true == (y_pred > threshold)))


def sparse_categorical_accuracy(y_true, y_pred):
    """The fraction of samples whose highest-scoring class is the label.

    Args:
        y_true: integer labels, of shape y_pred.shape[:-1] (or with a trailing 1).
        y_pred: scores (probabilities or logits) over the last axis.
    """
    y_pred = _array(y_pred)
    labels = losses.match_shapes(y_true, y_pred.shape[:-1], "sparse_categorical_accuracy")
    return float(np.mean(np.argmax(y_pred, axis=-1) == labels))


def _array(x):
    return np.asarray(x.data if isinstance(x, Tensor) else x)


_REGISTRY = Registry("metric", {"binary_accuracy": binary_accuracy,
                                "sparse_categorical_accuracy": sparse_categorical_accuracy},
                     "'accuracy', 'acc', or a callable metric(y_true, y_pred)")


def get(identifier, loss=None, output_shape=None):
    """Return the metric called `identifier`, or `identifier` itself if callable.

    "accuracy" (or "acc") is resolved as Keras does: binary accuracy if the loss is binary
    crossentropy or the model has a single output unit, sparse categorical accuracy if the
    loss is sparse categorical crossentropy.

    Args:
        identifier: a metric name or a callable.
        loss: the model's loss (name or function), used to resolve "accuracy".
        output_shape: the model's output shape, used to resolve "accuracy".

    Raises:
        ValueError: for an unknown name, or an "accuracy" that the loss cannot resolve.
    """
    if identifier in ("accuracy", "acc"):
        loss_name = loss if loss is None or isinstance(loss, str) else getattr(loss, "__name__", repr(loss))
        loss = None if loss is None else losses.get(loss)
        if loss is losses.binary_crossentropy or (output_shape is not None and output_shape[-1] == 1):
            return binary_accuracy
        if loss is losses.sparse_categorical_crossentropy:
            return sparse_categorical_accuracy
        raise ValueError(f"cannot tell which accuracy {identifier!r} means for loss {loss_name!r}; name it: "
                         f"{', '.join(_REGISTRY.entries)}")
    return _REGISTRY.get(identifier)
