"""Layers (Dense, Activation, Embedding, Dropout, Conv1D, pooling, SpatialDropout1D, Bidirectional,
TimeDistributed, Input), initialisers and the Layer conventions."""

import json
import math

import numpy as np
import pytest

import tinyseq
from tinyseq import ShapeError, Tensor, gradcheck
from tinyseq.layers import (GRU, LSTM, Activation, AveragePooling1D, Bidirectional, Conv1D, Dense, Dropout,
                            Embedding, GlobalAveragePooling1D, GlobalMaxPooling1D, Input, InputLayer,
                            MaxPooling1D, SimpleRNN, SpatialDropout1D, TimeDistributed)
from tinyseq.models import Sequential, load_model, save_model
from tinyseq.nn import LAYER_CLASSES, activations, init

# ---- Dense ----------------------------------------------------------------------------------


def test_dense_1_on_100_features_has_101_weights():
    layer = Dense(1)
    layer(np.zeros((2, 100)))
    assert layer.count_params() == 101
    assert [w.shape for w in layer.get_weights()] == [(100, 1), (1,)]


def test_dense_matches_numpy_on_matrices_and_sequences():
    rng = np.random.default_rng(0)
    layer = Dense(3, activation="tanh", dtype="float64")
    layer(np.zeros((1, 4)))
    kernel, bias = rng.standard_normal((4, 3)), rng.standard_normal(3)
    layer.set_weights([kernel, bias])
    x = rng.standard_normal((5, 4))
    sequence = rng.standard_normal((2, 6, 4))
    np.testing.assert_allclose(layer(x).data, np.tanh(x @ kernel + bias), rtol=0, atol=1e-12)
    np.testing.assert_allclose(layer(sequence).data, np.tanh(sequence @ kernel + bias), rtol=0, atol=1e-12)


def test_dense_gradients_pass_gradcheck_on_sequences():
    layer = Dense(2, activation="sigmoid", dtype="float64")
    layer(np.zeros((1, 3)))

    def run(x, kernel, bias):
        layer.kernel, layer.bias = kernel, bias
        return layer(x)

    rng = np.random.default_rng(1)
    gradcheck(run, rng.standard_normal((2, 4, 3)), rng.standard_normal((3, 2)), rng.standard_normal(2))


def test_dense_without_bias():
    layer = Dense(4, use_bias=False)
    layer(np.zeros((1, 3)))
    assert [w.shape for w in layer.get_weights()] == [(3, 4)]


def test_dense_output_shape():
    assert Dense(1).compute_output_shape((None, 500, 32)) == (None, 500, 1)
    assert Dense(8).compute_output_shape((None, 100)) == (None, 8)


# ---- Activation -----------------------------------------------------------------------------


@pytest.mark.parametrize("name, reference", [
    ("linear", lambda x: x),
    ("sigmoid", lambda x: 1 / (1 + np.exp(-x))),
    ("tanh", np.tanh),
    ("relu", lambda x: np.maximum(x, 0)),
    ("softmax", lambda x: np.exp(x) / np.exp(x).sum(axis=-1, keepdims=True)),
])
def test_activation_layer_applies_the_named_function(name, reference):
    x = np.random.default_rng(2).standard_normal((3, 4))
    np.testing.assert_allclose(Activation(name, dtype="float64")(x).data, reference(x), rtol=1e-12, atol=1e-12)


def test_unknown_activation_lists_the_valid_names():
    with pytest.raises(ValueError, match=r"Unknown activation 'swishy'; "
                                         r"valid names: linear, sigmoid, tanh, relu, hard_sigmoid, softmax"):
        Activation("swishy")
    assert activations.get(None) is activations.linear


# ---- Embedding ------------------------------------------------------------------------------


def test_embedding_5000_by_32_has_160000_weights_and_looks_up_rows():
    layer = Embedding(5000, 32)
    ids = np.array([[3, 0, 4999], [1, 1, 2]])
    out = layer(ids)
    assert layer.count_params() == 160_000
    assert out.shape == (2, 3, 32)
    np.testing.assert_array_equal(out.data, layer.get_weights()[0][ids])


def test_embedding_output_shape_uses_input_length():
    assert Embedding(5000, 32).compute_output_shape((None, 500)) == (None, 500, 32)
    assert Embedding(5000, 32, input_length=500).compute_output_shape((None, None)) == (None, 500, 32)
    with pytest.raises(ShapeError, match=r"input_length=500 does not match the input shape \(None, 80\)"):
        Embedding(5000, 32, input_length=500).compute_output_shape((None, 80))


def test_embedding_checks_input_length_on_call():
    with pytest.raises(ShapeError, match=r"words: expected sequences of input_length=5, "
                                         r"got ids of shape \(2, 4\)"):
        Embedding(10, 2, input_length=5, name="words")(np.zeros((2, 4), dtype=int))


@pytest.mark.parametrize("bad_id, position", [(10, r"\(1, 0\)"), (-1, r"\(1, 0\)")])
def test_out_of_vocabulary_ids_are_named(bad_id, position):
    layer = Embedding(10, 2)
    ids = np.array([[1, 2], [bad_id, 3]])
    with pytest.raises(IndexError, match=rf"id {bad_id} at position {position} is outside the vocabulary "
                                         rf"of size 10 \(valid ids: 0..9\)"):
        layer(ids)


def test_embedding_mask():
    ids = np.array([[0, 0, 3], [1, 2, 0]])
    np.testing.assert_array_equal(Embedding(5, 2, mask_zero=True).compute_mask(ids), ids != 0)
    assert Embedding(5, 2).compute_mask(ids) is None


def test_embedding_gradient_accumulates_repeated_ids():
    layer = Embedding(4, 2, dtype="float64")
    layer(np.array([[1, 1, 3]])).sum().backward()
    np.testing.assert_array_equal(layer.embeddings.grad, [[0, 0], [2, 2], [0, 0], [1, 1]])


# ---- Dropout --------------------------------------------------------------------------------


def test_dropout_in_training_zeroes_and_rescales():
    tinyseq.random.seed(0)
    x = Tensor(np.ones((200, 50)), requires_grad=True)
    out = Dropout(0.25)(x, training=True)
    values = set(np.unique(out.data))
    assert values == {0.0, 1 / 0.75}
    assert abs(np.mean(out.data == 0) - 0.25) < 0.02
    out.sum().backward()
    np.testing.assert_array_equal(x.grad, out.data)  # the gradient is the same mask, same scale


def test_dropout_is_identity_at_inference_and_follows_the_layer_mode():
    x = Tensor(np.ones((4, 5)))
    layer = Dropout(0.5)
    assert layer(x, training=False) is x
    layer.eval()
    assert layer(x) is x
    layer.train()
    assert np.any(layer(x).data == 0)


def test_dropout_is_seeded_from_the_shared_generator():
    x = np.ones((10, 10), dtype=np.float32)
    tinyseq.random.seed(5)
    first = Dropout(0.5)(x, training=True).data
    tinyseq.random.seed(5)
    second = Dropout(0.5)(x, training=True).data
    np.testing.assert_array_equal(first, second)


def test_dropout_rate_is_validated():
    with pytest.raises(ValueError, match=r"^dropout: rate must be a number in \[0, 1\), got 1$"):
        Dropout(1)
    with pytest.raises(ValueError, match=r"^noise: rate must be a number in \[0, 1\), got nan$"):
        Dropout(float("nan"), name="noise")


# ---- initialisers ---------------------------------------------------------------------------


def test_glorot_uniform_is_kerass_formula_drawn_from_the_shared_generator():
    tinyseq.random.seed(0)
    weights = init.glorot_uniform((30, 70), np.float32)
    limit = math.sqrt(6 / (30 + 70))
    expected = np.random.default_rng(0).uniform(-limit, limit, size=(30, 70)).astype(np.float32)
    np.testing.assert_array_equal(weights, expected)
    assert weights.dtype == np.float32


@pytest.mark.parametrize("shape", [(5, 5), (3, 12), (12, 3)])
def test_orthogonal_follows_kerass_qr_algorithm(shape):
    tinyseq.random.seed(1)
    weights = init.orthogonal(shape, np.float64)
    rows, cols = shape
    gaussian = np.random.default_rng(1).standard_normal((max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(gaussian)
    q = q * np.sign(np.diag(r))
    np.testing.assert_allclose(weights, q.T if rows < cols else q, rtol=0, atol=1e-15)
    small = min(shape)
    gram = weights @ weights.T if rows < cols else weights.T @ weights
    np.testing.assert_allclose(gram, np.eye(small), atol=1e-12)


def test_layers_use_kerass_default_initialisers():
    tinyseq.random.seed(2)
    lstm, embedding = LSTM(8), Embedding(100, 6)
    lstm(np.zeros((1, 1, 4)))
    embedding(np.zeros((1, 1), dtype=int))
    kernel, recurrent_kernel, bias = lstm.get_weights()
    assert np.abs(kernel).max() <= math.sqrt(6 / (4 + 32))
    np.testing.assert_allclose(recurrent_kernel @ recurrent_kernel.T, np.eye(8), atol=1e-5)
    np.testing.assert_array_equal(bias, np.r_[np.zeros(8), np.ones(8), np.zeros(16)])
    table = embedding.get_weights()[0]
    assert np.abs(table).max() <= 0.05 and table.std() > 0.02


def test_initialisers_by_name_or_callable():
    def twos(shape, dtype):
        return np.full(shape, 2.0, dtype)

    layer = Dense(3, kernel_initializer="ones", bias_initializer=twos)
    layer(np.zeros((1, 2)))
    np.testing.assert_array_equal(layer.kernel.data, np.ones((2, 3)))
    np.testing.assert_array_equal(layer.bias.data, [2, 2, 2])
    with pytest.raises(ValueError, match=r"Unknown initializer 'glorot'; valid names: .*glorot_uniform, orthogonal"):
        Dense(3, kernel_initializer="glorot")
    with pytest.raises(ValueError, match=r"cannot serialize the custom initializer"):
        layer.get_config()


def test_same_seed_gives_identical_weights():
    def model_weights(seed):
        tinyseq.random.seed(seed)
        layers = [Embedding(50, 4), LSTM(3, return_sequences=True), GRU(3), SimpleRNN(2), Dense(1)]
        x = layers[0](np.ones((1, 2), dtype=int))
        for layer in layers[1:-2]:
            x = layer(x)
        layers[-2](x.reshape(1, 1, 3))
        layers[-1](np.zeros((1, 2)))
        return [w for layer in layers for w in layer.get_weights()]

    first, again, other = model_weights(7), model_weights(7), model_weights(8)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other))


# ---- the Layer conventions the model code relies on ----------------------------------------------


@pytest.mark.parametrize("layer", [Dense(2), Activation("relu"), Dropout(0.1),
                                   Embedding(10, 2, mask_zero=True)],
                         ids=lambda layer: type(layer).__name__)
def test_get_config_is_json_and_rebuilds_the_layer(layer):
    config = layer.get_config()
    json.dumps(config)
    assert type(layer)(**config).get_config() == config
    assert config["name"] == layer.name and config["dtype"] == "float32"


def test_dense_dropout_and_activation_pass_the_mask_through():
    mask = np.array([[True, False]])
    for layer in (Dense(2), Dropout(0.5), Activation("tanh")):
        assert layer.compute_mask(np.zeros((1, 2, 3)), mask) is mask
        assert layer(np.zeros((1, 2, 3)), mask=mask, training=False).shape[:2] == (1, 2)


def test_built_dense_refuses_a_different_feature_size():
    layer = Dense(1, name="classifier")
    layer(np.zeros((2, 100)))
    with pytest.raises(ShapeError, match=r"classifier: expected inputs with 100 features "
                                         r"\(size of the last axis\), "
                                         r"got shape \(2, 32\)"):
        layer(np.zeros((2, 32)))


def test_dense_refuses_a_vector():
    with pytest.raises(ShapeError, match=r"classifier: expected an input of at least 2 dimensions"):
        Dense(1, name="classifier")(np.zeros(5))


def test_layer_ops_are_scoped_by_layer_name():
    out = Dense(2, name="head")(np.ones((1, 3)))
    assert out.scope[0] == "head"


def test_set_weights_with_wrong_shapes_or_count():
    layer = Dense(2, name="head")
    layer(np.zeros((1, 3)))
    with pytest.raises(ValueError, match=r"set_weights: head has 2 weights, got 1"):
        layer.set_weights([np.zeros((3, 2))])
    with pytest.raises(ValueError, match=r"set_weights: head.bias: expected shape \(2,\), got \(3,\)"):
        layer.set_weights([np.zeros((3, 2)), np.zeros(3)])


def test_positive_sizes_are_required():
    with pytest.raises(ValueError, match=r"units must be a positive integer, got 0"):
        Dense(0)
    with pytest.raises(ValueError, match=r"output_dim must be a positive integer, got 2.5"):
        Embedding(10, 2.5)


# ---- Conv1D ------------------------------------------------------------------------------------


def reference_conv1d(x, kernel, bias, stride, dilation, pad_before, pad_after):
    """Convolution by its definition, one output step at a time."""
    padded = np.pad(x, ((0, 0), (pad_before, pad_after), (0, 0)))
    taps = kernel.shape[0]
    span = (taps - 1) * dilation + 1
    outputs = (padded.shape[1] - span) // stride + 1
    result = np.zeros((x.shape[0], outputs, kernel.shape[2]))
    for t in range(outputs):
        for tap in range(taps):
            result[:, t] += padded[:, t * stride + tap * dilation] @ kernel[tap]
    return result + bias


@pytest.mark.parametrize("padding, kernel_size, stride, dilation, pads", [
    ("valid", 3, 1, 1, (0, 0)), ("valid", 3, 2, 1, (0, 0)), ("valid", 2, 1, 3, (0, 0)),
    ("same", 3, 1, 1, (1, 1)), ("same", 4, 1, 1, (1, 2)), ("same", 3, 2, 1, (0, 1)),
    ("same", 3, 1, 2, (2, 2)), ("causal", 3, 1, 1, (2, 0)), ("causal", 3, 1, 2, (4, 0)),
    ("causal", 2, 3, 1, (1, 0)),
])
def test_conv1d_is_the_convolution_by_definition(padding, kernel_size, stride, dilation, pads):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 8, 3))
    layer = Conv1D(4, kernel_size, strides=stride, padding=padding, dilation_rate=dilation, dtype="float64")
    layer(x)
    kernel, bias = rng.standard_normal((kernel_size, 3, 4)), rng.standard_normal(4)
    layer.set_weights([kernel, bias])
    expected = reference_conv1d(x, kernel, bias, stride, dilation, *pads)
    np.testing.assert_allclose(layer(x).data, expected, rtol=0, atol=1e-12)
    assert layer.compute_output_shape((None, 8, 3)) == (None, expected.shape[1], 4)


@pytest.mark.parametrize("padding, stride, dilation", [("valid", 1, 1), ("same", 2, 1), ("causal", 1, 2)])
def test_conv1d_gradients_pass_gradcheck(padding, stride, dilation):
    layer = Conv1D(3, 3, strides=stride, padding=padding, dilation_rate=dilation, activation="tanh",
                   dtype="float64")
    layer(np.zeros((1, 7, 2)))

    def run(x, kernel, bias):
        layer.kernel, layer.bias = kernel, bias
        return layer(x)

    rng = np.random.default_rng(1)
    gradcheck(run, rng.standard_normal((2, 7, 2)), rng.standard_normal((3, 2, 3)), rng.standard_normal(3))


def test_the_walkthroughs_conv1d_has_kerass_weights_and_keeps_the_length():
    layer = Conv1D(filters=32, kernel_size=3, padding="same", activation="relu")
    out = layer(np.zeros((2, 500, 32), dtype=np.float32))
    assert out.shape == (2, 500, 32) and out.dtype == np.float32
    assert [w.shape for w in layer.get_weights()] == [(3, 32, 32), (32,)]
    assert layer.count_params() == 3104
    assert layer.compute_mask(np.zeros((2, 500, 32)), np.ones((2, 500), bool)) is None


def test_conv1d_without_bias_and_with_kernel_size_as_a_tuple():
    layer = Conv1D(2, (3,), use_bias=False)
    layer(np.zeros((1, 5, 4)))
    assert [w.shape for w in layer.get_weights()] == [(3, 4, 2)]
    assert layer.kernel_size == (3,)


@pytest.mark.parametrize("arguments, message", [
    ({"filters": 0, "kernel_size": 3}, r"conv1d: filters must be a positive integer, got 0"),
    ({"filters": 2, "kernel_size": 0},
     r"conv1d: kernel_size must be a positive integer or a tuple of one, got 0"),
    ({"filters": 2, "kernel_size": (3, 3)}, r"kernel_size must be a positive integer or a tuple of one, got \(3, 3\)"),
    ({"filters": 2, "kernel_size": 3, "padding": "full"},
     r"conv1d: padding must be one of 'valid', 'same', 'causal', got 'full'"),
    ({"filters": 2, "kernel_size": 3, "strides": 2, "dilation_rate": 2},
     r"conv1d: strides > 1 cannot be combined with dilation_rate > 1, got strides=2 and dilation_rate=2"),
    ({"filters": 2, "kernel_size": 3, "data_format": "channels_first"},
     r"conv1d: only data_format='channels_last' \(batch, steps, channels\) is supported, got 'channels_first'"),
    ({"filters": 2, "kernel_size": 3, "groups": 2}, r"conv1d: only groups=1 is supported, got 2"),
])
def test_conv1d_bad_arguments_name_the_layer_and_value(arguments, message):
    with pytest.raises(ValueError, match=message):
        Conv1D(**arguments, name="conv1d")


def test_conv1d_padding_is_case_insensitive_as_in_keras():
    assert Conv1D(2, 3, padding="SAME").padding == "same"


def test_conv1d_refuses_inputs_shorter_than_its_window_and_the_wrong_rank():
    with pytest.raises(ShapeError, match=r"conv: the input has 2 steps, fewer than the window of 5 steps "
                                         r"that padding='valid' needs"):
        Conv1D(2, 3, dilation_rate=2, name="conv")(np.zeros((1, 2, 3)))
    with pytest.raises(ShapeError, match=r"conv: expected a 3-D input \(batch, steps, channels\), got a 2-D"):
        Conv1D(2, 3, name="conv")(np.zeros((1, 3)))


# ---- pooling ---------------------------------------------------------------------------------------


def test_max_pooling_halves_the_sequence_by_default():
    x = np.array([[[1.0], [5.0], [2.0], [0.0], [7.0]]])
    layer = MaxPooling1D()
    np.testing.assert_array_equal(layer(x).data, [[[5.0], [2.0]]])
    assert layer.compute_output_shape((None, 500, 32)) == (None, 250, 32)
    assert layer.strides == (2,) and layer.count_params() == 0


def test_max_pooling_with_same_padding_never_picks_the_padding():
    x = -np.arange(1.0, 6.0).reshape(1, 5, 1)              # all negative: zero padding would win
    np.testing.assert_array_equal(MaxPooling1D(2, padding="same")(x).data, [[[-1.0], [-3.0], [-5.0]]])
    np.testing.assert_array_equal(MaxPooling1D(3, strides=1, padding="same")(x).data[0, :, 0],
                                  [-1.0, -1.0, -2.0, -3.0, -4.0])


def test_average_pooling_counts_real_steps_only():
    x = np.arange(1.0, 6.0).reshape(1, 5, 1)
    np.testing.assert_allclose(AveragePooling1D(2)(x).data[0, :, 0], [1.5, 3.5])
    np.testing.assert_allclose(AveragePooling1D(2, padding="same")(x).data[0, :, 0], [1.5, 3.5, 5.0])
    np.testing.assert_allclose(AveragePooling1D(3, strides=1, padding="same")(x).data[0, :, 0],
                               [1.5, 2.0, 3.0, 4.0, 4.5])


@pytest.mark.parametrize("layer", [MaxPooling1D(3, strides=2), MaxPooling1D(2, padding="same"),
                                   AveragePooling1D(3, strides=1, padding="same"), GlobalMaxPooling1D(),
                                   GlobalAveragePooling1D(keepdims=True)],
                         ids=lambda layer: f"{type(layer).__name__}")
def test_pooling_gradients_pass_gradcheck(layer):
    gradcheck(layer, np.random.default_rng(2).standard_normal((2, 7, 3)))


def test_global_average_pooling_averages_the_unmasked_steps_and_max_ignores_the_mask():
    x = np.array([[[1.0, 10.0], [3.0, 20.0], [100.0, 100.0]]])
    mask = np.array([[True, True, False]])
    np.testing.assert_allclose(GlobalAveragePooling1D()(x, mask=mask).data, [[2.0, 15.0]])
    np.testing.assert_allclose(GlobalAveragePooling1D()(x).data, [[104 / 3, 130 / 3]])
    np.testing.assert_allclose(GlobalMaxPooling1D()(x, mask=mask).data, [[100.0, 100.0]])
    assert GlobalAveragePooling1D(keepdims=True)(x).shape == (1, 1, 2)
    assert GlobalAveragePooling1D().compute_mask(x, mask) is None


def test_global_average_pooling_refuses_a_mask_of_the_wrong_shape():
    with pytest.raises(ShapeError, match=r"avg: the mask has shape \(1, 2\); expected \(1, 3\)"):
        GlobalAveragePooling1D(name="avg")(np.zeros((1, 3, 2)), mask=np.ones((1, 2), bool))


def test_pooling_bad_arguments_name_the_layer_and_value():
    with pytest.raises(ValueError, match=r"pool: pool_size must be a positive integer or a tuple of one, got -1"):
        MaxPooling1D(-1, name="pool")
    with pytest.raises(ValueError, match=r"pool: padding must be one of 'valid', 'same', got 'causal'"):
        MaxPooling1D(padding="causal", name="pool")
    with pytest.raises(ValueError, match=r"pool: keepdims must be True or False, got 1"):
        GlobalMaxPooling1D(keepdims=1, name="pool")


# ---- SpatialDropout1D ------------------------------------------------------------------------------


def test_spatial_dropout_drops_whole_channels_and_rescales():
    tinyseq.set_seed(0)
    out = SpatialDropout1D(0.5)(np.ones((8, 6, 40)), training=True).data
    assert set(np.unique(out)) == {0.0, 2.0}
    assert (out == out[:, :1, :]).all()
    assert 0.35 < (out == 0).mean() < 0.65


def test_spatial_dropout_is_identity_at_inference_and_seeded():
    x = np.random.default_rng(0).standard_normal((2, 3, 4))
    layer = SpatialDropout1D(0.3)
    np.testing.assert_array_equal(layer(x, training=False).data, x.astype(np.float32))
    np.testing.assert_array_equal(layer.eval()(x).data, x.astype(np.float32))
    layer.train()
    tinyseq.set_seed(5)
    first = layer(x).data
    tinyseq.set_seed(5)
    np.testing.assert_array_equal(layer(x).data, first)
    seeded = SpatialDropout1D(0.5, seed=3)
    again = SpatialDropout1D(0.5, seed=3)
    np.testing.assert_array_equal(seeded(np.ones((4, 2, 8))).data, again(np.ones((4, 2, 8))).data)
    with pytest.raises(ValueError, match=r"drop: seed must be a non-negative integer, got -1"):
        SpatialDropout1D(0.5, seed=-1, name="drop")
    with pytest.raises(ValueError, match=r"drop: rate must be a number in \[0, 1\), got 1"):
        SpatialDropout1D(1, name="drop")
    with pytest.raises(ShapeError, match=r"expected a 3-D input \(batch, steps, channels\)"):
        SpatialDropout1D(0.1)(np.zeros((2, 3)))


# ---- Bidirectional --------------------------------------------------------------------------------


def run_both_directions_by_hand(layer_class, x, weights, mask=None, **arguments):
    """The forward and the time-reversed backward outputs, from two separate layers."""
    half = len(weights) // 2
    forward = layer_class(3, dtype="float64", **arguments)
    backward = layer_class(3, dtype="float64", go_backwards=True, **arguments)
    forward(x), backward(x)
    forward.set_weights(weights[:half])
    backward.set_weights(weights[half:])
    return forward(x, mask=mask).data, backward(x, mask=mask).data


@pytest.mark.parametrize("merge_mode, merge", [
    ("concat", lambda f, b: np.concatenate([f, b], axis=-1)), ("sum", lambda f, b: f + b),
    ("mul", lambda f, b: f * b), ("ave", lambda f, b: (f + b) / 2)])
def test_bidirectional_merges_the_forward_and_the_time_ordered_backward_outputs(merge_mode, merge):
    x = np.random.default_rng(0).standard_normal((2, 5, 4))
    layer = Bidirectional(LSTM(3, return_sequences=True, dtype="float64"), merge_mode=merge_mode)
    layer(x)
    weights = [w + 0.1 for w in layer.get_weights()]
    layer.set_weights(weights)
    forward, backward = run_both_directions_by_hand(LSTM, x, weights, return_sequences=True)
    np.testing.assert_allclose(layer(x).data, merge(forward, backward[:, ::-1]), rtol=0, atol=1e-12)


def test_bidirectional_zeroes_masked_steps_of_both_directions_and_keeps_states():
    x = np.random.default_rng(1).standard_normal((2, 5, 4))
    mask = np.array([[1, 1, 1, 0, 0], [0, 1, 1, 1, 1]], bool)
    layer = Bidirectional(GRU(3, return_sequences=True, return_state=True, dtype="float64"), merge_mode=None)
    forward, backward, forward_state, backward_state = layer(x, mask=mask)
    assert (forward.data[~mask] == 0).all() and (backward.data[~mask] == 0).all()
    weights = layer.get_weights()
    by_hand_forward, by_hand_backward = run_both_directions_by_hand(GRU, x, weights, mask, return_sequences=True)
    np.testing.assert_allclose(forward.data[mask], by_hand_forward[mask], atol=1e-12)
    np.testing.assert_allclose(backward.data[mask], by_hand_backward[:, ::-1][mask], atol=1e-12)
    assert forward_state.shape == backward_state.shape == (2, 3)
    assert layer.compute_mask(x, mask) == [mask, mask, None, None]


def test_bidirectional_gradients_pass_gradcheck():
    layer = Bidirectional(SimpleRNN(2, return_sequences=True, implementation="cells", dtype="float64"))
    mask = np.array([[1, 1, 1, 0], [1, 1, 1, 1]], bool)
    gradcheck(lambda x: layer(x, mask=mask), np.random.default_rng(3).standard_normal((2, 4, 3)))


def test_bidirectional_weights_come_forward_first_in_kerass_names():
    layer = Bidirectional(LSTM(4))
    layer(np.zeros((1, 3, 2)))
    assert [name for name, _ in layer.named_parameters()] == [
        f"{direction}_layer.cell.{weight}" for direction in ("forward", "backward")
        for weight in ("kernel", "recurrent_kernel", "bias")]
    assert (layer.forward_layer.name, layer.backward_layer.name) == ("forward_lstm", "backward_lstm")
    assert layer.compute_output_shape((None, 3, 2)) == (None, 8)
    assert Bidirectional(LSTM(4, return_state=True)).compute_output_shape((None, 3, 2)) == [
        (None, 8), (None, 4), (None, 4), (None, 4), (None, 4)]


def test_bidirectional_makes_new_layers_from_the_template():
    template = LSTM(4, name="encoder")
    layer = Bidirectional(template)
    assert layer.forward_layer is not template and not template.go_backwards
    assert layer.backward_layer.go_backwards and layer.forward_layer.name == "forward_encoder"


def test_bidirectional_bad_arguments_name_the_layer_and_value():
    with pytest.raises(ValueError, match=r"bidirectional: merge_mode must be one of 'concat', 'sum', 'mul', "
                                         r"'ave', None, got 'max'"):
        Bidirectional(LSTM(2), merge_mode="max")
    with pytest.raises(TypeError, match=r"bidirectional: layer must be a SimpleRNN, LSTM or GRU, got <Dense 'dense'>"):
        Bidirectional(Dense(2))
    with pytest.raises(TypeError, match=r"Bidirectional: layer must be a layer, got str"):
        Bidirectional("lstm")
    with pytest.raises(ValueError, match=r"bidirectional: the forward and backward layers must go different "
                                         r"ways, but both have go_backwards=False"):
        Bidirectional(LSTM(2), backward_layer=LSTM(2))
    with pytest.raises(ValueError, match=r"must have the same return_sequences, got False and True"):
        Bidirectional(LSTM(2), backward_layer=LSTM(2, go_backwards=True, return_sequences=True))


# ---- TimeDistributed ---------------------------------------------------------------------------------


def test_time_distributed_dense_applies_the_same_weights_at_every_step():
    x = np.random.default_rng(0).standard_normal((2, 5, 3))
    layer = TimeDistributed(Dense(4, activation="softmax", dtype="float64"))
    out = layer(x).data
    kernel, bias = layer.get_weights()
    logits = x @ kernel + bias
    np.testing.assert_allclose(out, np.exp(logits) / np.exp(logits).sum(-1, keepdims=True), atol=1e-12)
    assert layer.compute_output_shape((None, 5, 3)) == (None, 5, 4)
    mask = np.ones((2, 5), bool)
    assert layer.compute_mask(x, mask) is mask
    gradcheck(layer, x)


def test_time_distributed_needs_a_layer_and_a_time_axis():
    with pytest.raises(TypeError, match=r"TimeDistributed: layer must be a layer, got int"):
        TimeDistributed(3)
    with pytest.raises(ShapeError, match=r"time_distributed: expected an input of at least 3 dimensions"):
        TimeDistributed(Dense(2))(np.zeros((2, 3)))


# ---- Input ----------------------------------------------------------------------------------------------


def test_input_describes_the_inputs_without_the_batch_axis():
    layer = Input((500,))
    assert isinstance(layer, InputLayer)
    assert (layer.shape, layer.batch_size, layer.batch_shape, layer.dtype, layer.name) == (
        (500,), None, (None, 500), np.float32, "input_layer")
    fixed = Input((None, 8), batch_size=4, dtype="int32", name="ids")
    assert (fixed.shape, fixed.batch_shape, fixed.dtype, fixed.name) == ((None, 8), (4, None, 8), np.int32, "ids")
    assert InputLayer(batch_shape=(2, 7)).shape == (7,)
    np.testing.assert_array_equal(layer(np.ones((1, 500))).data, np.ones((1, 500)))


@pytest.mark.parametrize("arguments, message", [
    ({}, r"input_layer: a shape is required, e.g. Input\(shape=\(500,\)\)"),
    ({"shape": 500}, r"input_layer: shape must be a tuple of positive integers or None, got 500"),
    ({"shape": (0,)}, r"shape must be a tuple of positive integers or None, got \(0,\)"),
    ({"shape": (5,), "batch_size": -1}, r"batch_size must be a tuple of positive integers or None, got \(-1,\)"),
    ({"shape": (5,), "batch_shape": (None, 5)}, r"give shape or batch_shape, not both"),
])
def test_input_bad_arguments_are_named(arguments, message):
    with pytest.raises(ValueError, match=message):
        Input(**arguments)


# ---- configs and the layer table ----------------------------------------------------------------------

NEW_LAYERS = [
    lambda: Conv1D(8, 3, strides=2, padding="causal", activation="relu", use_bias=False),
    lambda: MaxPooling1D(3, strides=1, padding="same"), lambda: AveragePooling1D(2),
    lambda: GlobalMaxPooling1D(keepdims=True), lambda: GlobalAveragePooling1D(),
    lambda: SpatialDropout1D(0.25, seed=7), lambda: Input((None, 8), batch_size=2, name="tokens"),
    lambda: Bidirectional(GRU(4, return_sequences=True), merge_mode="sum"),
    lambda: Bidirectional(LSTM(4), backward_layer=SimpleRNN(3, go_backwards=True)),
    lambda: TimeDistributed(Dense(3, activation="sigmoid")),
]


@pytest.mark.parametrize("make", NEW_LAYERS, ids=lambda make: type(make()).__name__)
def test_new_layers_configs_go_through_json_and_the_layer_table(make):
    layer = make()
    config = json.loads(json.dumps(layer.get_config()))
    rebuilt = LAYER_CLASSES.deserialize({"class_name": type(layer).__name__, "config": config})
    assert type(rebuilt) is type(layer)
    assert json.loads(json.dumps(rebuilt.get_config())) == config


def test_wrapped_layers_rebuilt_from_config_have_the_same_weights_layout():
    layer = Bidirectional(LSTM(4, return_sequences=True))
    layer(np.zeros((1, 3, 2)))
    rebuilt = LAYER_CLASSES.deserialize(LAYER_CLASSES.serialize(layer))
    rebuilt(np.zeros((1, 3, 2)))
    rebuilt.set_weights(layer.get_weights())
    x = np.random.default_rng(0).standard_normal((2, 3, 2))
    np.testing.assert_array_equal(rebuilt(x).data, layer(x).data)


# ---- in a model: masks, saving, the walkthrough's CNN + LSTM --------------------------------------------


def test_a_convolution_drops_the_embedding_mask_before_the_lstm_as_in_keras():
    ids = np.array([[0, 0, 3, 4, 5, 6], [1, 2, 3, 0, 0, 0]])
    tinyseq.set_seed(0)
    model = Sequential([Embedding(10, 4, mask_zero=True), Conv1D(3, 2, padding="same"), LSTM(2)])
    lstm = model.layers[-1]
    x = model.layers[1](model.layers[0](ids))
    np.testing.assert_allclose(model(ids).data, lstm(x).data, atol=1e-6)   # the LSTM sees no mask


@pytest.mark.parametrize("make_layers", [
    lambda: [Input((12,)), Embedding(30, 6), Conv1D(4, 3, padding="causal", dilation_rate=2, activation="relu"),
             MaxPooling1D(3, strides=2, padding="same"), SpatialDropout1D(0.2), GlobalAveragePooling1D(), Dense(1)],
    lambda: [Embedding(30, 6, mask_zero=True, input_length=12), Bidirectional(GRU(3, return_sequences=True)),
             TimeDistributed(Dense(2)), AveragePooling1D(2), GlobalMaxPooling1D()],
    lambda: [Embedding(30, 6, input_length=12), Bidirectional(LSTM(3), merge_mode="ave"), Dense(2)],
], ids=["conv-pool", "bidirectional-time-distributed", "bidirectional-last"])
def test_models_with_the_new_layers_save_and_load_with_equal_predictions(tmp_path, make_layers):
    tinyseq.set_seed(1)
    model = Sequential(make_layers())
    model.compile(loss="mse", optimizer="adam")
    ids = np.random.default_rng(0).integers(0, 30, size=(4, 12))
    expected = model.predict(ids, verbose=0)
    path = tmp_path / "model.tinyseq"
    save_model(model, str(path))
    loaded = load_model(str(path))
    assert [type(layer) for layer in loaded.layers] == [type(layer) for layer in model.layers]
    assert [json.loads(json.dumps(layer.get_config())) for layer in loaded.layers] == [
        json.loads(json.dumps(layer.get_config())) for layer in model.layers]
    np.testing.assert_array_equal(loaded.predict(ids, verbose=0), expected)


def test_the_walkthroughs_cnn_lstm_model_builds_and_trains_with_only_the_imports_changed():
    from tinyseq.layers import LSTM, Conv1D, Dense, Embedding, MaxPooling1D
    from tinyseq.models import Sequential
    tinyseq.set_seed(0)
    model = Sequential()
    model.add(Embedding(5000, 32, input_length=500))
    model.add(Conv1D(filters=32, kernel_size=3, padding='same', activation='relu'))
    model.add(MaxPooling1D(pool_size=2))
    model.add(LSTM(100))
    model.add(Dense(1, activation='sigmoid'))
    model.compile(loss='binary_crossentropy', optimizer='adam', metrics=['accuracy'])
    assert model.count_params() == 160000 + 3104 + 53200 + 101
    lines = []
    model.summary(print_fn=lines.append)
    assert any("(None, 250, 32)" in line for line in lines)
    rng = np.random.default_rng(0)
    x, y = rng.integers(1, 5000, size=(8, 500)), rng.integers(0, 2, size=(8, 1))
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    after = model.evaluate(x, y, verbose=0)
    assert after[0] < before[0]
