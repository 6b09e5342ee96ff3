"""Losses (values, stability, gradients, shape checks) and metrics."""

import math
import warnings

import numpy as np
import pytest

from tinyseq import ShapeError, Tensor, gradcheck, losses, metrics
from tinyseq.losses import (BinaryCrossentropy, CategoricalCrossentropy, MeanSquaredError,
                            SparseCategoricalCrossentropy, binary_crossentropy, categorical_crossentropy,
                            mean_squared_error, sparse_categorical_crossentropy)


def f64(values, requires_grad=False):
    return Tensor(np.array(values, dtype=np.float64), requires_grad=requires_grad)


# ---- binary crossentropy -------------------------------------------------------------------------


def test_binary_crossentropy_on_probabilities_by_hand_one_loss_per_sample():
    loss = binary_crossentropy([1, 0, 1, 0], f64([[0.9], [0.2], [0.6], [0.4]]))
    assert loss.shape == (4,)
    np.testing.assert_allclose(loss.data, -np.log([0.9, 0.8, 0.6, 0.6]), rtol=0, atol=1e-15)


def test_binary_crossentropy_averages_over_the_last_axis_as_keras():
    loss = binary_crossentropy([[1, 0], [0, 0]], f64([[0.9, 0.2], [0.5, 0.4]]))
    np.testing.assert_allclose(loss.data, [-(math.log(0.9) + math.log(0.8)) / 2, -(math.log(0.5) + math.log(0.6)) / 2],
                               rtol=0, atol=1e-15)


def test_binary_crossentropy_label_smoothing_moves_targets_toward_one_half():
    loss = binary_crossentropy([1.0, 0.0], f64([[0.9], [0.2]]), label_smoothing=0.2)
    # targets 0.9 and 0.1
    expected = [-(0.9 * math.log(0.9) + 0.1 * math.log(0.1)), -(0.1 * math.log(0.2) + 0.9 * math.log(0.8))]
    np.testing.assert_allclose(loss.data, expected, rtol=0, atol=1e-15)
    with pytest.raises(ValueError, match=r"binary_crossentropy: label_smoothing must be a number in \[0, 1\], got 1.5"):
        binary_crossentropy([1.0], f64([[0.5]]), label_smoothing=1.5)


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
    assert binary_crossentropy(np.array([True, False]), f64([[0.9], [0.1]])).data == pytest.approx([-math.log(0.9)] * 2)


def test_binary_crossentropy_clips_probabilities_like_keras():
    loss = binary_crossentropy([0.0, 1.0], f64([[1.0], [0.0]]))
    np.testing.assert_allclose(loss.data, [-math.log(1e-7)] * 2, rtol=1e-9)  # clipped to 1e-7


def test_binary_crossentropy_from_logits_by_hand():
    logits = np.array([-3.0, -0.5, 0.0, 2.0])
    targets = np.array([1.0, 0.0, 1.0, 0.0])
    p = 1 / (1 + np.exp(-logits))
    expected = -(targets * np.log(p) + (1 - targets) * np.log(1 - p))
    loss = binary_crossentropy(targets[:, None], f64(logits[:, None]), from_logits=True)
    np.testing.assert_allclose(loss.data, expected, rtol=1e-15)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_binary_crossentropy_from_logits_is_stable_at_1e4(dtype):
    logits = Tensor(np.array([1e4, -1e4, 1e4, -1e4], dtype=dtype), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any overflow or divide RuntimeWarning fails the test
        loss = BinaryCrossentropy(from_logits=True)([1.0, 0.0, 0.0, 1.0], logits)
        loss.backward()
    # correct predictions cost 0, confident wrong ones cost |logit|
    assert np.isfinite(loss.item()) and abs(loss.item() - 2e4 / 4) < 1e-3
    np.testing.assert_array_equal(logits.grad, np.array([0, 0, 1, -1], dtype=dtype) / 4)


@pytest.mark.parametrize("from_logits", [False, True])
def test_binary_crossentropy_gradients_pass_gradcheck(from_logits):
    targets = np.array([[1.0], [0.0], [1.0], [0.5]])
    predictions = [[-2.0], [0.0], [1.5], [0.3]] if from_logits else [[0.2], [0.7], [0.95], [0.5]]
    gradcheck(lambda p: binary_crossentropy(targets, p, from_logits=from_logits).sum(), predictions)


def test_binary_crossentropy_gradient_is_exact_at_logit_zero():
    logit = f64([0.0], requires_grad=True)
    binary_crossentropy([[1.0]], logit.reshape(1, 1), from_logits=True).backward()
    assert logit.grad[0] == -0.5  # sigmoid(0) - 1


# ---- shapes ----------------------------------------------------------------------------------


@pytest.mark.parametrize("loss", [binary_crossentropy, mean_squared_error])
def test_targets_without_the_trailing_axis_are_matched_not_broadcast(loss):
    predictions = f64([[0.9], [0.2], [0.6]])
    flat, column = np.array([1.0, 0.0, 0.0]), np.array([[1.0], [0.0], [0.0]])
    broadcast_bug = loss(np.broadcast_to(flat, (3, 3)), f64(np.broadcast_to(predictions.data, (3, 3))))
    np.testing.assert_array_equal(loss(flat, predictions).data, loss(column, predictions).data)
    assert loss(flat, predictions).data.mean() != broadcast_bug.data.mean()


@pytest.mark.parametrize("loss", [binary_crossentropy, mean_squared_error])
def test_other_shape_mismatches_raise_naming_loss_and_shapes(loss):
    name = loss.__name__
    with pytest.raises(ShapeError, match=rf"{name}: y_true has shape \(3,\) but y_pred has shape \(3, 2\)"):
        loss(np.zeros(3), f64(np.zeros((3, 2))))
    with pytest.raises(ShapeError, match=rf"{name}: y_true has shape \(4, 1\) but y_pred has shape \(3, 1\)"):
        loss(np.zeros((4, 1)), f64(np.zeros((3, 1))))


# ---- mean squared error ------------------------------------------------------------------------


def test_mean_squared_error_by_hand_and_gradcheck():
    np.testing.assert_array_equal(mean_squared_error([1.0, 2.0], f64([[1.5], [0.0]])).data, [0.25, 4.0])
    np.testing.assert_array_equal(mean_squared_error([[1.0, 2.0]], f64([[1.5, 0.0]])).data, [(0.25 + 4.0) / 2])
    assert MeanSquaredError()([1.0, 2.0], f64([[1.5], [0.0]])).item() == (0.25 + 4.0) / 2
    gradcheck(lambda p: mean_squared_error([[1.0, 2.0], [3.0, 4.0]], p).sum(), [[0.5, 2.5], [3.0, -1.0]])


# ---- sparse categorical crossentropy ----------------------------------------------------------------


def test_sparse_categorical_crossentropy_from_logits_by_hand():
    logits = np.array([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0]])
    expected = [-np.log(np.exp(1) / np.exp(logits[0]).sum()), -np.log(1 / 3)]
    loss = sparse_categorical_crossentropy([0, 2], f64(logits), from_logits=True)
    np.testing.assert_allclose(loss.data, expected, rtol=0, atol=1e-15)


def test_sparse_categorical_crossentropy_clips_then_renormalises_probabilities_like_keras():
    scores = f64([[2.0, 1.0, 1.0], [0.0, 0.5, 0.5]])
    loss = sparse_categorical_crossentropy([[0], [0]], scores)  # labels may have a trailing 1
    # clipped to [1e-7, 1 - 1e-7] first: (1 - 1e-7, 1 - 1e-7, 1 - 1e-7) and (1e-7, 0.5, 0.5); then normalised
    expected = [-math.log(1 / 3), -math.log(1e-7 / (1 + 1e-7))]
    np.testing.assert_allclose(loss.data, expected, rtol=1e-12)


@pytest.mark.parametrize("from_logits", [False, True])
def test_sparse_categorical_crossentropy_gradcheck(from_logits):
    scores = [[0.2, 0.5, 0.3], [0.1, 0.1, 0.8]] if not from_logits else [[1.0, -2.0, 0.5], [0.0, 3.0, 1.0]]
    gradcheck(lambda p: sparse_categorical_crossentropy([1, 2], p, from_logits=from_logits).sum(), scores)


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
    assert losses.get("categorical_crossentropy") is categorical_crossentropy
    custom = lambda y_true, y_pred: y_pred.sum()  # noqa: E731
    assert losses.get(custom) is custom
    loss_object = BinaryCrossentropy(from_logits=True)
    assert losses.get(loss_object) is loss_object
    with pytest.raises(ValueError, match=r"Unknown loss 'hinge'; valid names: binary_crossentropy, "
                                         r"categorical_crossentropy, mean_squared_error, mse, "
                                         r"sparse_categorical_crossentropy \(or pass a Loss object"):
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


def test_categorical_accuracy():
    scores = np.array([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2], [0.2, 0.2, 0.6]])
    one_hot = np.eye(3)[[1, 2, 2]]
    assert metrics.categorical_accuracy(one_hot, scores) == pytest.approx(2 / 3)
    with pytest.raises(ShapeError, match=r"categorical_accuracy: y_true has shape \(3,\) but y_pred has shape \(3, 3\)"):
        metrics.categorical_accuracy([1, 2, 2], np.ones((3, 3)))


@pytest.mark.parametrize("y_true, y_pred, chosen", [
    (np.array([1, 0, 1]), np.array([[0.9], [0.4], [0.2]]), "binary_accuracy"),           # one output unit
    (np.array([[1], [0], [1]]), np.array([[0.9], [0.4], [0.2]]), "binary_accuracy"),
    (np.array([1, 0, 2]), np.array([[0.1, 0.8, 0.1], [0.6, 0.3, 0.1], [0.2, 0.5, 0.3]]), "sparse_categorical_accuracy"),
    (np.array([[1], [0], [2]]), np.array([[0.1, 0.8, 0.1], [0.6, 0.3, 0.1], [0.2, 0.5, 0.3]]),
     "sparse_categorical_accuracy"),
    (np.eye(3)[[1, 0, 2]], np.array([[0.1, 0.8, 0.1], [0.6, 0.3, 0.1], [0.2, 0.5, 0.3]]), "categorical_accuracy"),
])
def test_accuracy_is_chosen_from_the_shapes_as_keras(y_true, y_pred, chosen):
    assert metrics.get("accuracy") is metrics.get("acc") is metrics.accuracy
    assert metrics.accuracy(y_true, y_pred) == getattr(metrics, chosen)(y_true, y_pred)
    assert metrics.accuracy(y_true, y_pred) == pytest.approx(2 / 3)


def test_metrics_get_by_name_or_callable():
    assert metrics.get("sparse_categorical_accuracy") is metrics.sparse_categorical_accuracy
    assert metrics.get("Categorical_Accuracy") is metrics.categorical_accuracy
    custom = lambda y_true, y_pred: 0.0  # noqa: E731
    assert metrics.get(custom) is custom
    with pytest.raises(ValueError, match=r"Unknown metric 'f1'; valid names: accuracy, acc, binary_accuracy, "
                                         r"categorical_accuracy, sparse_categorical_accuracy \(or pass a callable"):
        metrics.get("f1")


# ---- categorical crossentropy --------------------------------------------------------------------


def test_categorical_crossentropy_on_probabilities_normalises_then_clips_as_keras():
    scores = f64([[2.0, 1.0, 1.0], [0.0, 0.5, 0.5]])  # the first row sums to 4
    loss = categorical_crossentropy(np.eye(3)[[0, 0]], scores)
    np.testing.assert_allclose(loss.data, [-math.log(0.5), -math.log(1e-7)], rtol=1e-12)


def test_categorical_crossentropy_from_logits_and_soft_targets_by_hand():
    logits = np.array([[1.0, 2.0, 3.0]])
    targets = np.array([[0.2, 0.3, 0.5]])
    log_p = logits - np.log(np.exp(logits).sum())
    loss = categorical_crossentropy(targets, f64(logits), from_logits=True)
    np.testing.assert_allclose(loss.data, [-(targets * log_p).sum()], rtol=1e-15)
    smoothed = categorical_crossentropy(np.array([[0.0, 0.0, 1.0]]), f64(logits), from_logits=True, label_smoothing=0.3)
    np.testing.assert_allclose(smoothed.data, [-(np.array([0.1, 0.1, 0.8]) * log_p).sum()], rtol=1e-15)


@pytest.mark.parametrize("from_logits", [False, True])
def test_categorical_crossentropy_gradcheck(from_logits):
    scores = [[0.2, 0.5, 0.3], [0.1, 0.1, 0.8]] if not from_logits else [[1.0, -2.0, 0.5], [0.0, 3.0, 1.0]]
    targets = np.array([[0.0, 1.0, 0.0], [0.3, 0.3, 0.4]])
    gradcheck(lambda p: categorical_crossentropy(targets, p, from_logits=from_logits).sum(), scores)


def test_categorical_crossentropy_wants_targets_of_the_predictions_shape():
    with pytest.raises(ShapeError, match=r"categorical_crossentropy: y_true has shape \(2,\) but y_pred has shape "
                                         r"\(2, 3\); they must be equal \(one-hot targets; for integer labels use "
                                         r"sparse_categorical_crossentropy\)"):
        categorical_crossentropy([0, 1], f64(np.ones((2, 3))))


# ---- reduction and loss objects ------------------------------------------------------------------


def test_reduce_losses_divides_the_weighted_sum_by_the_count_not_by_the_weights():
    values = f64([1.0, 2.0, 3.0, 4.0])
    assert losses.reduce_losses(values).item() == 2.5
    assert losses.reduce_losses(values, [1.0, 0.0, 2.0, 0.5]).item() == (1 + 0 + 6 + 2) / 4
    assert losses.reduce_losses(values, [1.0, 0.0, 2.0, 0.5], reduction="sum").item() == 9.0
    np.testing.assert_array_equal(losses.reduce_losses(values, [1.0, 0.0, 2.0, 0.5], reduction="none").data,
                                  [1.0, 0.0, 6.0, 2.0])
    # a sample's weight covers all its time steps
    per_step = f64([[1.0, 3.0], [2.0, 2.0]])
    assert losses.reduce_losses(per_step, [2.0, 0.0]).item() == (2 + 6) / 4
    with pytest.raises(ShapeError, match=r"reduce_losses: sample_weight has shape \(3,\) but the losses have shape "
                                         r"\(4,\); give one weight per sample, shape \(4,\)"):
        losses.reduce_losses(values, [1.0, 2.0, 3.0])


@pytest.mark.parametrize("make, function, y_true, y_pred", [
    (lambda: BinaryCrossentropy(label_smoothing=0.1), lambda y, p: binary_crossentropy(y, p, label_smoothing=0.1),
     [1, 0, 1], [[0.8], [0.3], [0.4]]),
    (lambda: CategoricalCrossentropy(from_logits=True),
     lambda y, p: categorical_crossentropy(y, p, from_logits=True), np.eye(3)[[0, 2, 1]], np.arange(9.0).reshape(3, 3)),
    (lambda: SparseCategoricalCrossentropy(), sparse_categorical_crossentropy, [0, 2, 1],
     [[0.2, 0.3, 0.5], [0.1, 0.1, 0.8], [0.6, 0.2, 0.2]]),
    (lambda: MeanSquaredError(), mean_squared_error, [1.0, 2.0, 3.0], [[0.5], [2.5], [2.0]]),
])
def test_loss_objects_reduce_the_functions_values_with_sample_weights(make, function, y_true, y_pred):
    per_sample = function(y_true, f64(y_pred)).data
    weights = np.array([0.5, 2.0, 1.0])
    assert make()(y_true, f64(y_pred)).item() == pytest.approx(per_sample.mean(), rel=1e-15)
    assert make()(y_true, f64(y_pred), sample_weight=weights).item() == pytest.approx(
        (per_sample * weights).mean(), rel=1e-15)


def test_loss_objects_check_their_arguments_and_serialize():
    with pytest.raises(ValueError, match=r"BinaryCrossentropy: from_logits must be True or False, got 'yes'"):
        BinaryCrossentropy(from_logits="yes")
    with pytest.raises(ValueError, match=r"CategoricalCrossentropy: label_smoothing must be a number in \[0, 1\], got -0.1"):
        CategoricalCrossentropy(label_smoothing=-0.1)
    with pytest.raises(ValueError, match=r"MeanSquaredError: reduction must be one of 'sum_over_batch_size', 'sum', "
                                         r"'none', got 'mean'"):
        MeanSquaredError(reduction="mean")
    loss = SparseCategoricalCrossentropy(from_logits=True, name="xent")
    config = losses.serialize(loss)
    assert config == {"class_name": "SparseCategoricalCrossentropy",
                      "config": {"name": "xent", "reduction": "sum_over_batch_size", "from_logits": True}}
    rebuilt = losses.deserialize(config)
    assert type(rebuilt) is SparseCategoricalCrossentropy and rebuilt.get_config() == config["config"]
