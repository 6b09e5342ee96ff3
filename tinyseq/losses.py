"""Loss functions and loss classes, as Keras computes them.

The functions (`binary_crossentropy`, `categorical_crossentropy`,
`sparse_categorical_crossentropy`, `mean_squared_error`) return one loss per sample (a Tensor
of y_pred's shape without its last axis), as Keras's do. The classes (`BinaryCrossentropy`,
...) and `fit` reduce them to one number: the sum of the (sample-weighted) losses divided by
their count, Keras's "sum_over_batch_size".

Shapes are checked, never silently broadcast: y_true of shape (N,) against y_pred of shape (N, 1)
would broadcast to an (N, N) matrix of every prediction against every label, a classic bug that
trains without complaint. As in Keras, a y_true that only lacks (or only adds) y_pred's
trailing axis of size 1 is reshaped to match; any other difference raises ShapeError.
"""

from __future__ import annotations

import numpy as np

from . import checks, functional, ops
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


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0):
    """Per-sample -[y log p + (1 - y) log(1 - p)] for 0/1 targets y, averaged over the last axis.

    Args:
        y_true: targets in [0, 1] (anything else raises ValueError naming it and its position).
        y_pred: probabilities p (clipped to [1e-7, 1 - 1e-7], as Keras does), or logits x if
            `from_logits`, computed stably as max(x, 0) - x y + log(1 + e^-|x|).
        from_logits: whether y_pred holds logits rather than probabilities.
        label_smoothing: in [0, 1]; the targets become y (1 - s) + s / 2.

    Returns:
        A Tensor of y_pred's shape without its last axis: (batch,) for outputs (batch, 1).

    Example:
        >>> from tinyseq import tensor
        >>> binary_crossentropy([1.0, 0.0], tensor([[0.9], [0.2]])).data.round(4)
        array([0.1054, 0.2231], dtype=float32)
    """
    y_pred = _as_tensor(y_pred)
    target = match_shapes(y_true, y_pred.shape, "binary_crossentropy")
    _check_probabilities(target, "binary_crossentropy")
    target = target.astype(y_pred.dtype)
    smoothing = _label_smoothing(label_smoothing, "binary_crossentropy")
    if smoothing:
        target = target * (1 - smoothing) + 0.5 * smoothing
    y_true = Tensor(target)
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
    return ops.mean(losses, axis=-1)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0):
    """Per-sample -sum(y log p) over the class axis, for one-hot (or soft) targets y.

    Args:
        y_true: targets of y_pred's shape, e.g. one-hot rows.
        y_pred: class probabilities over the last axis (renormalised to sum to 1, then clipped
            to [1e-7, 1 - 1e-7], as Keras does), or logits if `from_logits`.
        from_logits: whether y_pred holds logits (then log-softmax is used, stably).
        label_smoothing: in [0, 1]; the targets become y (1 - s) + s / classes.

    Returns:
        A Tensor of y_pred's shape without its last axis.
    """
    y_pred = _as_tensor(y_pred)
    if y_pred.ndim < 1:
        raise ShapeError(f"categorical_crossentropy: y_pred needs a class axis, got shape {y_pred.shape}")
    target = np.asarray(y_true.data if isinstance(y_true, Tensor) else y_true)
    if target.shape != y_pred.shape:
        raise ShapeError(f"categorical_crossentropy: y_true has shape {target.shape} but y_pred has shape "
                         f"{y_pred.shape}; they must be equal (one-hot targets; for integer labels use "
                         f"sparse_categorical_crossentropy)")
    target = target.astype(y_pred.dtype)
    smoothing = _label_smoothing(label_smoothing, "categorical_crossentropy")
    if smoothing:
        target = target * (1 - smoothing) + smoothing / y_pred.shape[-1]
    if from_logits:
        log_probabilities = functional.log_softmax(y_pred, axis=-1)
    else:
        probabilities = y_pred / ops.sum(y_pred, axis=-1, keepdims=True)
        log_probabilities = ops.log(ops.clip(probabilities, EPSILON, 1 - EPSILON))
    return -ops.sum(Tensor(target) * log_probabilities, axis=-1)


def mean_squared_error(y_true, y_pred):
    """Per-sample mean of (y_pred - y_true)² over the last axis.

    Returns:
        A Tensor of y_pred's shape without its last axis.
    """
    y_pred = _as_tensor(y_pred)
    y_true = Tensor(match_shapes(y_true, y_pred.shape, "mean_squared_error").astype(y_pred.dtype))
    return ops.mean((y_pred - y_true) ** 2, axis=-1)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False):
    """Per-sample -log p[label] for integer class labels.

    Args:
        y_true: integer labels in [0, classes), of shape y_pred.shape[:-1] (or with a trailing 1).
        y_pred: class probabilities over the last axis, or logits if `from_logits`. As Keras
            does, probabilities are clipped to [1e-7, 1 - 1e-7] first and then renormalised to
            sum to 1 (log-softmax of their logarithms).
        from_logits: whether y_pred holds logits (then log-softmax is used, stably).

    Returns:
        A Tensor of y_pred's shape without its last axis.

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
    logits = y_pred if from_logits else ops.log(ops.clip(y_pred, EPSILON, 1 - EPSILON))
    rows = ops.reshape(functional.log_softmax(logits, axis=-1), (-1, classes))
    picked = rows[np.arange(rows.shape[0]), labels.reshape(-1)]
    return -ops.reshape(picked, y_pred.shape[:-1])


REDUCTIONS = ("sum_over_batch_size", "sum", "none")


def reduce_losses(values, sample_weight=None, reduction="sum_over_batch_size"):
    """Weight per-sample losses and reduce them, as Keras's losses do.

    Args:
        values: per-sample losses (a Tensor whose first axis is the batch; a scalar is
            returned as it is, as Keras does).
        sample_weight: None, or one weight per sample (shape (batch,)); a sample's weight
            multiplies all its losses (e.g. every time step of a sequence).
        reduction: "sum_over_batch_size" (the weighted sum divided by the number of losses, not
            by the sum of the weights), "sum", or "none" (the weighted losses themselves).

    Returns:
        A Tensor: a scalar unless reduction is "none".
    """
    values = _as_tensor(values)
    if sample_weight is not None and values.ndim:
        weights = np.asarray(sample_weight, dtype=values.dtype)
        if weights.shape != values.shape[:1]:
            raise ShapeError(f"reduce_losses: sample_weight has shape {weights.shape} but the losses have "
                             f"shape {values.shape}; give one weight per sample, shape {values.shape[:1]}")
        values = values * Tensor(weights.reshape(weights.shape + (1,) * (values.ndim - 1)))
    if reduction == "none" or values.ndim == 0:
        return values
    total = ops.sum(values)
    return total if reduction == "sum" else total / values.size


def weighted_loss(loss, y_true, y_pred, sample_weight=None):
    """The scalar loss `fit` minimises: a `Loss` object applied with the sample weights, or a loss
    function's per-sample values reduced with `reduce_losses`."""
    if isinstance(loss, Loss):
        return loss(y_true, y_pred, sample_weight=sample_weight)
    return reduce_losses(loss(y_true, y_pred), sample_weight)


class Loss:
    """Base class of the loss objects: `loss(y_true, y_pred, sample_weight=None)` is a scalar
    Tensor (or per-sample losses with reduction="none").

    Subclasses implement `call(y_true, y_pred)`, the per-sample losses.

    Args:
        reduction: "sum_over_batch_size" (Keras's default), "sum" or "none" (see `reduce_losses`).
        name: the loss's name.
    """

    def __init__(self, reduction="sum_over_batch_size", name=None):
        self.name = name or self.default_name
        self.reduction = checks.one_of(reduction, "reduction", type(self).__name__, REDUCTIONS)

    def __call__(self, y_true, y_pred, sample_weight=None):
        return reduce_losses(self.call(y_true, y_pred), sample_weight, self.reduction)

    def call(self, y_true, y_pred):
        """The per-sample losses."""
        raise NotImplementedError(f"{type(self).__name__}.call is not implemented")

    def get_config(self):
        """The constructor arguments as a JSON-able dict: `type(loss)(**config)` rebuilds it."""
        return {"name": self.name, "reduction": self.reduction}

    def __repr__(self):
        settings = ", ".join(f"{key}={value!r}" for key, value in self.get_config().items())
        return f"{type(self).__name__}({settings})"


class BinaryCrossentropy(Loss):
    """`binary_crossentropy` as an object, e.g. `BinaryCrossentropy(from_logits=True)`.

    Args:
        from_logits, label_smoothing: see `binary_crossentropy`.
        reduction, name: see `Loss`.
    """

    default_name = "binary_crossentropy"

    def __init__(self, from_logits=False, label_smoothing=0.0, reduction="sum_over_batch_size", name=None):
        super().__init__(reduction, name)
        self.from_logits = checks.boolean(from_logits, "from_logits", type(self).__name__)
        self.label_smoothing = _label_smoothing(label_smoothing, type(self).__name__)

    def call(self, y_true, y_pred):
        """See `binary_crossentropy`."""
        return binary_crossentropy(y_true, y_pred, self.from_logits, self.label_smoothing)

    def get_config(self):
        """See `Loss.get_config`."""
        return {**super().get_config(), "from_logits": self.from_logits, "label_smoothing": self.label_smoothing}


class CategoricalCrossentropy(BinaryCrossentropy):
    """`categorical_crossentropy` as an object (same arguments as `BinaryCrossentropy`)."""

    default_name = "categorical_crossentropy"

    def call(self, y_true, y_pred):
        """See `categorical_crossentropy`."""
        return categorical_crossentropy(y_true, y_pred, self.from_logits, self.label_smoothing)


class SparseCategoricalCrossentropy(Loss):
    """`sparse_categorical_crossentropy` as an object.

    Args:
        from_logits: see `sparse_categorical_crossentropy`.
        reduction, name: see `Loss`.
    """

    default_name = "sparse_categorical_crossentropy"

    def __init__(self, from_logits=False, reduction="sum_over_batch_size", name=None):
        super().__init__(reduction, name)
        self.from_logits = checks.boolean(from_logits, "from_logits", type(self).__name__)

    def call(self, y_true, y_pred):
        """See `sparse_categorical_crossentropy`."""
        return sparse_categorical_crossentropy(y_true, y_pred, self.from_logits)

    def get_config(self):
        """See `Loss.get_config`."""
        return {**super().get_config(), "from_logits": self.from_logits}


class MeanSquaredError(Loss):
    """`mean_squared_error` as an object (arguments: see `Loss`)."""

    default_name = "mean_squared_error"

    def call(self, y_true, y_pred):
        """See `mean_squared_error`."""
        return mean_squared_error(y_true, y_pred)


def _label_smoothing(value, where):
    return checks.number(value, "label_smoothing", where, low=0, high=1)


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
    "categorical_crossentropy": categorical_crossentropy,
    "mean_squared_error": mean_squared_error,
    "mse": mean_squared_error,
    "sparse_categorical_crossentropy": sparse_categorical_crossentropy,
}, "a Loss object or a callable loss(y_true, y_pred)")
get = _REGISTRY.get

CLASSES = Registry("loss class", {cls.__name__.lower(): cls for cls in (
    BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy, MeanSquaredError)})
serialize = CLASSES.serialize
deserialize = CLASSES.deserialize
