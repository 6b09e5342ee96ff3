"""Losses (values, stability, gradients, shape checks) and metrics."""

import math
import warnings

import numpy as np
import pytest

from tinyseq import ShapeError, Tensor, gradcheck, losses, metrics
from tinyseq.losses import binary_crossentropy, mean_squared_error, sparse_categorical_crossentropy


def f64(values, requires_grad=False):
    return Tensor(np.array(values, dtype=np.float64), requires_grad=requires_grad)


# ---- binary crossentropy -------------------------------------------------------------------------


def test_binary_crossentropy_on_probabilities_by_hand():
    loss = binary_crossentropy([1, 0, 1, 0], f64([[0.9], [0.2], [0.6], [0.4]]))
    expected = -(math.log(0.9) + math.log(0.8) + math.log(0.6) + math.log(0.6)) / 4
    assert loss.shape == ()
    assert abs(loss.item() - expected) < 1e-15


@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("labels, message", [
    ([[0], [2]], "binary_crossentropy: label 2 at position (1, 0) is outside [0, 1]"),
    ([0.0, -0.5], "binary_crossentropy: label -0.5 at position (1,) is outside [0, 1]"),
    ([1.0, float("nan")], "binary_crossentropy: label nan at position (1,) is outside [0, 1]"),
])
def test_binary_crossentropy_refuses_labels_outside_0_1_naming_label_and_position(labels, message, from_logits):
    with pytest.raises(ValueError) as error:
        binary_crossentropy(labels, f64([[0.5], [0.5]]) if np.ndim(labels) == 2 else f64([0.5, 0.5]),
                            from_logits=from_logits)
    assert str(error.value) == message + "; its labels are 0/1 classes (or probabilities in between)"


def test_binary_crossentropy_accepts_soft_labels_and_booleans():
    soft = binary_crossentropy([0.25], f64([0.5])).item()
    assert abs(soft - math.log(2)) < 1e-12
    assert binary_crossentropy(np.array([True, False]), f64([0.9, 0.1])).item() == pytest.approx(-math.log(0.9))


def test_binary_crossentropy_clips_probabilities_like_keras():
    loss = binary_crossentropy([0.0, 1.0], f64([1.0, 0.0]))
    assert abs(loss.item() - (-math.log(1e-7))) < 1e-9  # both terms are -log(1e-7)


def test_binary_crossentropy_from_logits_by_hand():
    logits = np.array([-3.0, -0.5, 0.0, 2.0])
    targets = np.array([1.0, 0.0, 1.0, 0.0])
    p = 1 / (1 + np.exp(-logits))
    expected = np.mean(-(targets * np.log(p) + (1 - targets) * np.log(1 - p)))
    assert abs(binary_crossentropy(targets, f64(logits), from_logits=True).item() - expected) < 1e-15


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_binary_crossentropy_from_logits_is_stable_at_1e4(dtype):
    logits = Tensor(np.array([1e4, -1e4, 1e4, -1e4], dtype=dtype), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any overflow or divide RuntimeWarning fails the test
        loss = binary_crossentropy([1.0, 0.0, 0.0, 1.0], logits, from_logits=True)
        loss.backward()
    # correct predictions cost 0, confident wrong ones cost |logit|
    assert np.isfinite(loss.item()) and abs(loss.item() - 2e4 / 4) < 1e-3
    np.testing.assert_array_equal(logits.grad, np.array([0, 0, 1, -1], dtype=dtype) / 4)


@pytest.mark.parametrize("from_logits", [False, True])
def test_binary_crossentropy_gradients_pass_gradcheck(from_logits):
    targets = np.array([[1.0], [0.0], [1.0], [0.5]])
    predictions = [[-2.0], [0.0], [1.5], [0.3]] if from_logits else [[0.2], [0.7], [0.95], [0.5]]
    gradcheck(lambda p: binary_crossentropy(targets, p, from_logits=from_logits), predictions)


def test_binary_crossentropy_gradient_is_exact_at_logit_zero():
    logit = f64([0.0], requires_grad=True)
    binary_crossentropy([1.0], logit, from_logits=True).backward()
    assert logit.grad[0] == -0.5  # sigmoid(0) - 1


# ---- shapes ----------------------------------------------------------------------------------


@pytest.mark.parametrize("loss", [binary_crossentropy, mean_squared_error])
def test_targets_without_the_trailing_axis_are_matched_not_broadcast(loss):
    predictions = f64([[0.9], [0.2], [0.6]])
    flat, column = np.array([1.0, 0.0, 0.0]), np.array([[1.0], [0.0], [0.0]])
    broadcast_bug = loss(np.broadcast_to(flat, (3, 3)), f64(np.broadcast_to(predictions.data, (3, 3))))
    assert loss(flat, predictions).item() == loss(column, predictions).item()
    assert loss(flat, predictions).item() != broadcast_bug.item()


@pytest.mark.parametrize("loss", [binary_crossentropy, mean_squared_error])
def test_other_shape_mismatches_raise_naming_loss_and_shapes(loss):
    name = loss.__name__
    with pytest.raises(ShapeError, match=rf"{name}: y_true has shape \(3,\) but y_pred has shape \(3, 2\)"):
        loss(np.zeros(3), f64(np.zeros((3, 2))))
    with pytest.raises(ShapeError, match=rf"{name}: y_true has shape \(4, 1\) but y_pred has shape \(3, 1\)"):
        loss(np.zeros((4, 1)), f64(np.zeros((3, 1))))


# ---- mean squared error ------------------------------------------------------------------------


def test_mean_squared_error_by_hand_and_gradcheck():
    assert mean_squared_error([1.0, 2.0], f64([[1.5], [0.0]])).item() == (0.25 + 4.0) / 2
    gradcheck(lambda p: mean_squared_error([[1.0, 2.0], [3.0, 4.0]], p), [[0.5, 2.5], [3.0, -1.0]])


# ---- sparse categorical crossentropy ----------------------------------------------------------------


def test_sparse_categorical_crossentropy_from_logits_by_hand():
    logits = np.array([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0]])
    expected = -(np.log(np.exp(1) / np.exp(logits[0]).sum()) + np.log(1 / 3)) / 2
    loss = sparse_categorical_crossentropy([0, 2], f64(logits), from_logits=True)
    assert abs(loss.item() - expected) < 1e-15


def test_sparse_categorical_crossentropy_renormalises_probabilities_like_keras():
    scores = f64([[2.0, 1.0, 1.0], [0.0, 0.5, 0.5]])  # rows sum to 4 and 1
    loss = sparse_categorical_crossentropy([[0], [0]], scores)  # labels may have a trailing 1
    assert abs(loss.item() - (-(math.log(0.5) + math.log(1e-7)) / 2)) < 1e-12


@pytest.mark.parametrize("from_logits", [False, True])
def test_sparse_categorical_crossentropy_gradcheck(from_logits):
    scores = [[0.2, 0.5, 0.3], [0.1, 0.1, 0.8]] if not from_logits else [[1.0, -2.0, 0.5], [0.0, 3.0, 1.0]]
    gradcheck(lambda p: sparse_categorical_crossentropy([1, 2], p, from_logits=from_logits), scores)


def test_sparse_labels_are_checked():
    with pytest.raises(IndexError, match=r"label 3 at position \(1,\) is outside the 3 classes "
                                         r"\(valid labels: 0..2\)"):
        sparse_categorical_crossentropy([0, 3], f64(np.ones((2, 3))))
    with pytest.raises(ShapeError, match=r"sparse_categorical_crossentropy: y_true has shape \(3,\) but "
                                         r"y_pred has shape \(2,\)"):
        sparse_categorical_crossentropy([0, 1, 2], f64(np.ones((2, 3))))


# ---- losses.get -------------------------------------------------------------------------------


def test_losses_get_resolves_keras_names():
    assert losses.get("binary_crossentropy") is binary_crossentropy
    assert losses.get("mse") is losses.get("mean_squared_error") is mean_squared_error
    assert losses.get("sparse_categorical_crossentropy") is sparse_categorical_crossentropy
    custom = lambda y_true, y_pred: y_pred.sum()  # noqa: E731
    assert losses.get(custom) is custom
    with pytest.raises(ValueError, match=r"Unknown loss 'hinge'; valid names: binary_crossentropy, "
                                         r"mean_squared_error, mse, sparse_categorical_crossentropy"):
        losses.get("hinge")


# ---- metrics ---------------------------------------------------------------------------------


def test_binary_accuracy():
    assert metrics.binary_accuracy([1, 0, 1, 0], [[0.9], [0.4], [0.2], [0.6]]) == 0.5
    assert metrics.binary_accuracy([1, 0], [[0.9], [0.4]], threshold=0.95) == 0.5
    assert isinstance(metrics.binary_accuracy(np.ones(3), Tensor(np.ones((3, 1)))), float)
    with pytest.raises(ShapeError, match=r"binary_accuracy: y_true has shape \(2,\) "
                                         r"but y_pred has shape \(3, 1\)"):
        metrics.binary_accuracy([1, 0], np.ones((3, 1)))


def test_sparse_categorical_accuracy():
    scores = np.array([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2], [0.2, 0.2, 0.6]])
    assert metrics.sparse_categorical_accuracy([1, 2, 2], scores) == pytest.approx(2 / 3)
    assert metrics.sparse_categorical_accuracy([[1], [0], [2]], scores) == 1.0


def test_metrics_get_resolves_accuracy_by_the_loss_like_keras():
    assert metrics.get("accuracy", loss="binary_crossentropy") is metrics.binary_accuracy
    assert metrics.get("acc", loss=sparse_categorical_crossentropy) is metrics.sparse_categorical_accuracy
    assert metrics.get("accuracy", loss="mse", output_shape=(None, 1)) is metrics.binary_accuracy
    assert metrics.get("sparse_categorical_accuracy") is metrics.sparse_categorical_accuracy
    with pytest.raises(ValueError, match=r"cannot tell which accuracy 'accuracy' means for loss 'mse'; name it"):
        metrics.get("accuracy", loss="mse", output_shape=(None, 10))

    def my_loss(y_true, y_pred):
        return ((y_pred - y_true) ** 2).mean()
    with pytest.raises(ValueError, match=r"cannot tell which accuracy 'acc' means for loss 'my_loss'; name it"):
        metrics.get("acc", loss=my_loss, output_shape=(None, 10))
    with pytest.raises(ValueError, match=r"Unknown metric 'f1'; valid names: binary_accuracy, sparse_categorical_accuracy \(or pass 'accuracy'"):
        metrics.get("f1")
