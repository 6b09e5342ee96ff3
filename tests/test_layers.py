"""Core layers (Dense, Activation, Embedding, Dropout), initialisers and the Layer conventions."""

import json
import math

import numpy as np
import pytest

import tinyseq
from tinyseq import ShapeError, Tensor, gradcheck
from tinyseq.layers import GRU, LSTM, Activation, Dense, Dropout, Embedding, SimpleRNN
from tinyseq.nn import activations, init

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
                                         r"valid names: linear, sigmoid, tanh, relu, softmax"):
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
