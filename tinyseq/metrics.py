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


def categorical_accuracy(y_true, y_pred):
    """The fraction of samples whose highest-scoring class is the one-hot target's class.

    Args:
        y_true: one-hot (or soft) targets of y_pred's shape; their argmax is the class.
        y_pred: scores (probabilities or logits) over the last axis.
    """
    y_pred = _array(y_pred)
    y_true = losses.match_shapes(y_true, y_pred.shape, "categorical_accuracy")
    return float(np.mean(np.argmax(y_true, axis=-1) == np.argmax(y_pred, axis=-1)))


def accuracy(y_true, y_pred):
    """Keras's "accuracy": which one is chosen from the shapes alone, as Keras does.

    Binary accuracy if y_pred has one unit on its last axis; sparse categorical accuracy if
    y_true has fewer axes than y_pred, or a last axis of 1 against several classes; otherwise
    categorical accuracy. (The loss plays no part: "accuracy" with "mse" on one output unit
    is binary accuracy.)
    """
    return _accuracy_for(np.shape(_array(y_true)), np.shape(_array(y_pred)))(y_true, y_pred)


def _accuracy_for(true_shape, predicted_shape):
    if predicted_shape[-1] == 1:
        return binary_accuracy
    if len(true_shape) < len(predicted_shape) or true_shape[-1] == 1:
        return sparse_categorical_accuracy
    return categorical_accuracy


def _array(x):
    return np.asarray(x.data if isinstance(x, Tensor) else x)


_REGISTRY = Registry("metric", {"accuracy": accuracy, "acc": accuracy, "binary_accuracy": binary_accuracy,
                                "categorical_accuracy": categorical_accuracy,
                                "sparse_categorical_accuracy": sparse_categorical_accuracy},
                     "a callable metric(y_true, y_pred)")


def get(identifier):
    """Return the metric called `identifier` ("accuracy" or "acc": see `accuracy`), or
    `identifier` itself if callable.

    Raises:
        ValueError: for an unknown name (the message lists the valid ones).
    """
    return _REGISTRY.get(identifier)
