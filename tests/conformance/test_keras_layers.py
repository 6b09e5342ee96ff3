"""The convolution, pooling, dropout, wrapper and input layers against Keras 3, case by case.

Each case builds the same layer in both, copies Keras's weights into tinyseq with
`set_weights(keras_layer.get_weights())` unchanged, and compares, in float64, the outputs, the
gradients of a random weighting of the outputs with respect to the inputs and the weights,
the output masks and the configs' keys.
"""

import numpy as np
import pytest

import tinyseq as ts
from tinyseq import layers as ours

tf = pytest.importorskip("tensorflow")

BATCH, STEPS, CHANNELS = 3, 9, 4


def random_inputs(seed=0, steps=STEPS, channels=CHANNELS):
    return np.random.default_rng(seed).standard_normal((BATCH, steps, channels))


def perturbed_weights(layer, seed=1):
    """Keras's weights plus noise, so that zero biases cannot hide a misplaced weight."""
    rng = np.random.default_rng(seed)
    return [w + 0.1 * rng.standard_normal(w.shape) for w in layer.get_weights()]


def run_keras(layer, x, call_kwargs=None, seed=2):
    """Keras's outputs (a list), and the gradients of sum(outputs * random weights) with respect
    to the inputs and to each weight."""
    x_tf = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x_tf)
        outputs = layer(x_tf, **(call_kwargs or {}))
        outputs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
        rng = np.random.default_rng(seed)
        weightings = [rng.standard_normal(tuple(o.shape)) for o in outputs]
        objective = sum(tf.reduce_sum(o * w) for o, w in zip(outputs, weightings))
    grads = tape.gradient(objective, [x_tf, *layer.trainable_weights])
    return [o.numpy() for o in outputs], [g.numpy() for g in grads], weightings


def run_ours(layer, x, weightings, call_kwargs=None):
    x_ours = ts.tensor(x, requires_grad=True)
    layer.zero_grad()
    outputs = layer(x_ours, **(call_kwargs or {}))
    outputs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
    sum((o * ts.tensor(w)).sum() for o, w in zip(outputs, weightings)).backward()
    return [o.data for o in outputs], [x_ours.grad, *(p.grad for p in layer.parameters())]


def assert_same(keras_layer, our_layer, x, call_kwargs=None, copy_weights=True):
    """Build both, copy Keras's (perturbed) weights into ours, compare outputs and the gradients
    with respect to the inputs and the weights."""
    keras_layer.build(x.shape)
    our_layer.build(x.shape)
    our_layer.built = True
    if copy_weights and keras_layer.get_weights():
        keras_layer.set_weights(perturbed_weights(keras_layer))
        assert [w.shape for w in our_layer.get_weights()] == [w.shape for w in keras_layer.get_weights()]
        our_layer.set_weights(keras_layer.get_weights())
    expected, expected_grads, weightings = run_keras(keras_layer, x, call_kwargs)
    got, got_grads = run_ours(our_layer, x, weightings, call_kwargs)
    assert len(got) == len(expected) and len(got_grads) == len(expected_grads)
    for g, e in zip(got + got_grads, expected + expected_grads):
        np.testing.assert_allclose(g, e, rtol=1e-6, atol=1e-9)


def assert_same_config_keys(keras_layer, our_layer, ignore=()):
    """Our config uses Keras's keys (minus the ones Keras has and tinyseq does not support)."""
    keras_keys = set(keras_layer.get_config()) - {"trainable"} - set(ignore)
    assert keras_keys <= set(our_layer.get_config()), keras_keys - set(our_layer.get_config())


# ---- Conv1D ---------------------------------------------------------------------------------
CONV_CASES = [
    {"filters": 5, "kernel_size": 3},
    {"filters": 5, "kernel_size": 3, "padding": "same"},
    {"filters": 5, "kernel_size": 4, "padding": "same"},
    {"filters": 5, "kernel_size": 3, "padding": "causal"},
    {"filters": 2, "kernel_size": 1},
    {"filters": 5, "kernel_size": 3, "strides": 2},
    {"filters": 5, "kernel_size": 4, "strides": 3, "padding": "same"},
    {"filters": 5, "kernel_size": 2, "strides": 2, "padding": "causal"},
    {"filters": 5, "kernel_size": 3, "dilation_rate": 2},
    {"filters": 5, "kernel_size": 3, "dilation_rate": 2, "padding": "same"},
    {"filters": 5, "kernel_size": 3, "dilation_rate": 3, "padding": "causal"},
    {"filters": 5, "kernel_size": 3, "padding": "same", "activation": "relu"},
    {"filters": 5, "kernel_size": 3, "activation": "tanh", "use_bias": False},
    {"filters": 5, "kernel_size": (9,)},
]


@pytest.mark.parametrize("arguments", CONV_CASES, ids=lambda a: "-".join(f"{k}={v}" for k, v in a.items()))
def test_conv1d_matches_keras(keras, arguments):
    keras_layer = keras.layers.Conv1D(**arguments, dtype="float64")
    our_layer = ours.Conv1D(**arguments, dtype="float64")
    x = random_inputs()
    assert_same(keras_layer, our_layer, x)
    assert our_layer.compute_output_shape((None, STEPS, CHANNELS)) == keras_layer.compute_output_shape(
        (None, STEPS, CHANNELS))
    assert_same_config_keys(keras_layer, our_layer,
                            ignore=("kernel_regularizer", "bias_regularizer", "activity_regularizer",
                                    "kernel_constraint", "bias_constraint"))


def test_conv1d_config_values_match_keras(keras):
    arguments = {"filters": 4, "kernel_size": 3, "strides": 1, "padding": "causal", "dilation_rate": 2,
                 "activation": "relu"}
    theirs, mine = keras.layers.Conv1D(**arguments).get_config(), ours.Conv1D(**arguments).get_config()
    for key in ("filters", "kernel_size", "strides", "padding", "data_format", "dilation_rate", "groups",
                "activation", "use_bias"):
        assert mine[key] == theirs[key], key


# ---- pooling -----------------------------------------------------------------------------------
POOL_CASES = [
    {},
    {"pool_size": 3},
    {"pool_size": 2, "strides": 1},
    {"pool_size": 3, "strides": 2},
    {"pool_size": 2, "padding": "same"},
    {"pool_size": 4, "strides": 3, "padding": "same"},
    {"pool_size": 3, "strides": 1, "padding": "same"},
]


@pytest.mark.parametrize("kind", ["MaxPooling1D", "AveragePooling1D"])
@pytest.mark.parametrize("arguments", POOL_CASES, ids=lambda a: "-".join(f"{k}={v}" for k, v in a.items()) or "default")
def test_pooling_matches_keras(keras, kind, arguments):
    if kind == "AveragePooling1D":
        arguments = {"pool_size": 2, **arguments}
    keras_layer = getattr(keras.layers, kind)(**arguments, dtype="float64")
    our_layer = getattr(ours, kind)(**arguments, dtype="float64")
    assert_same(keras_layer, our_layer, random_inputs())
    assert our_layer.compute_output_shape((None, STEPS, CHANNELS)) == keras_layer.compute_output_shape(
        (None, STEPS, CHANNELS))
    theirs = keras_layer.get_config()
    mine = our_layer.get_config()
    assert {key: mine[key] for key in ("pool_size", "strides", "padding", "data_format")} == \
        {key: theirs[key] for key in ("pool_size", "strides", "padding", "data_format")}


MASK = np.array([[1, 1, 1, 1, 1, 1, 0, 0, 0], [0, 0, 1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 1, 1, 1]], bool)


@pytest.mark.parametrize("kind", ["GlobalMaxPooling1D", "GlobalAveragePooling1D"])
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("masked", [False, True])
def test_global_pooling_matches_keras_with_and_without_a_mask(keras, kind, keepdims, masked):
    keras_layer = getattr(keras.layers, kind)(keepdims=keepdims, dtype="float64")
    our_layer = getattr(ours, kind)(keepdims=keepdims, dtype="float64")
    call_kwargs = {"mask": MASK} if masked and kind == "GlobalAveragePooling1D" else {}
    assert_same(keras_layer, our_layer, random_inputs(), call_kwargs)
    assert our_layer.compute_output_shape((None, STEPS, CHANNELS)) == keras_layer.compute_output_shape(
        (None, STEPS, CHANNELS))
    assert our_layer.get_config()["keepdims"] == keras_layer.get_config()["keepdims"]


def keras_output_mask(keras, layers, ids):
    """The mask Keras attaches to the output of Embedding(mask_zero=True) followed by `layers`."""
    model = keras.Sequential([keras.Input((ids.shape[1],)), keras.layers.Embedding(20, CHANNELS, mask_zero=True),
                              *layers])
    x = model.layers[0](ids)
    for layer in model.layers[1:]:
        x = layer(x)
    mask = getattr(x, "_keras_mask", None)
    return None if mask is None else mask.numpy()


@pytest.mark.parametrize("build", [
    lambda m: m.Conv1D(3, 3, padding="same"), lambda m: m.MaxPooling1D(), lambda m: m.GlobalMaxPooling1D(),
    lambda m: m.GlobalAveragePooling1D(), lambda m: m.SpatialDropout1D(0.3),
    lambda m: m.TimeDistributed(m.Dense(3)), lambda m: m.Bidirectional(m.LSTM(3, return_sequences=True)),
    lambda m: m.Bidirectional(m.GRU(3)),
], ids=["conv1d", "max_pooling", "global_max", "global_average", "spatial_dropout", "time_distributed",
        "bidirectional_sequences", "bidirectional_last"])
def test_masks_flow_on_as_in_keras(keras, build):
    ids = np.array([[3, 4, 5, 0, 0, 0], [0, 0, 7, 8, 9, 1]])
    expected = keras_output_mask(keras, [build(keras.layers)], ids)
    embedding = ours.Embedding(20, CHANNELS, mask_zero=True)
    layer = build(ours)
    mask = layer.compute_mask(embedding(ids), embedding.compute_mask(ids))
    if expected is None:
        assert mask is None
    else:
        np.testing.assert_array_equal(mask, expected)


# ---- SpatialDropout1D -----------------------------------------------------------------------------
def test_spatial_dropout_is_identity_at_inference_like_keras(keras):
    x = random_inputs()
    keras_layer = keras.layers.SpatialDropout1D(0.4, dtype="float64")
    our_layer = ours.SpatialDropout1D(0.4, dtype="float64")
    assert_same(keras_layer, our_layer, x, {"training": False})
    assert set(keras_layer.get_config()) - {"trainable"} <= set(our_layer.get_config())


def test_spatial_dropout_in_training_drops_what_keras_drops_the_same_way(keras):
    """Random choices differ, so compare the pattern: whole channels, survivors scaled by 1/(1-rate)."""
    x = np.ones((4, 6, 50))
    keras_out = keras.layers.SpatialDropout1D(0.4)(x, training=True).numpy()
    our_out = ours.SpatialDropout1D(0.4)(x, training=True).data
    for out in (keras_out, our_out):
        dropped, kept = np.isclose(out, 0), np.isclose(out, 1 / 0.6)
        assert (dropped | kept).all() and dropped.any() and kept.any()
        assert (out == out[:, :1, :]).all()      # the same choice at every step


# ---- Bidirectional ----------------------------------------------------------------------------------
BIDIRECTIONAL_CASES = [
    ("LSTM", "concat", {}),
    ("LSTM", "sum", {"return_sequences": True}),
    ("GRU", "mul", {"return_sequences": True}),
    ("SimpleRNN", "ave", {}),
    ("GRU", None, {"return_sequences": True}),
    ("LSTM", "concat", {"return_state": True}),
    ("LSTM", None, {"return_sequences": True, "return_state": True}),
    ("SimpleRNN", "concat", {"return_sequences": True, "return_state": True}),
    ("GRU", "concat", {"return_sequences": True, "return_state": True}),
]


@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("kind, merge_mode, arguments", BIDIRECTIONAL_CASES,
                         ids=[f"{k}-{m}-{'-'.join(a)}" for k, m, a in BIDIRECTIONAL_CASES])
def test_bidirectional_matches_keras(keras, kind, merge_mode, arguments, masked):
    keras_template = getattr(keras.layers, kind)(3, dtype="float64", **arguments)
    keras_layer = keras.layers.Bidirectional(keras_template, merge_mode=merge_mode, dtype="float64")
    our_template = getattr(ours, kind)(3, dtype="float64", **arguments)
    our_layer = ours.Bidirectional(our_template, merge_mode=merge_mode)
    assert_same(keras_layer, our_layer, random_inputs(), {"mask": MASK} if masked else None)
    assert [w.name for w in keras_layer.weights] == [
        name.split(".")[-1] for name, _ in our_layer.named_parameters()]
    for layer, template in ((keras_layer, keras_template), (our_layer, our_template)):
        assert (layer.forward_layer.name, layer.backward_layer.name) == (
            "forward_" + template.name, "backward_" + template.name)
    expected_shape = keras_layer.compute_output_shape((None, STEPS, CHANNELS))
    got_shape = our_layer.compute_output_shape((None, STEPS, CHANNELS))
    assert [tuple(s) for s in got_shape] == [tuple(s) for s in expected_shape] if isinstance(got_shape, list) \
        else tuple(got_shape) == tuple(expected_shape)
    assert set(keras_layer.get_config()) - {"trainable"} <= set(our_layer.get_config())


def test_bidirectional_refuses_a_backwards_template_as_keras_does(keras):
    with pytest.raises(ValueError, match="go_backwards"):
        keras.layers.Bidirectional(keras.layers.GRU(3, go_backwards=True))
    with pytest.raises(ValueError, match="both have go_backwards=True"):
        ours.Bidirectional(ours.GRU(3, go_backwards=True))


def test_bidirectional_with_initial_states_matches_keras(keras):
    x = random_inputs()
    states = [np.random.default_rng(seed).standard_normal((BATCH, 3)) for seed in range(4)]
    keras_layer = keras.layers.Bidirectional(keras.layers.LSTM(3, dtype="float64", return_sequences=True),
                                             dtype="float64")
    our_layer = ours.Bidirectional(ours.LSTM(3, dtype="float64", return_sequences=True))
    keras_layer.build(x.shape)
    keras_layer.set_weights(perturbed_weights(keras_layer))
    our_layer.build(x.shape)
    our_layer.built = True
    our_layer.set_weights(keras_layer.get_weights())
    expected = keras_layer(tf.constant(x), initial_state=[tf.constant(s) for s in states]).numpy()
    got = our_layer(x, initial_state=[ts.tensor(s) for s in states]).data
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-9)


def test_bidirectional_with_an_explicit_backward_layer_matches_keras(keras):
    x = random_inputs()
    keras_layer = keras.layers.Bidirectional(
        keras.layers.LSTM(3, dtype="float64", return_sequences=True),
        backward_layer=keras.layers.GRU(2, dtype="float64", return_sequences=True, go_backwards=True),
        dtype="float64")
    our_layer = ours.Bidirectional(ours.LSTM(3, dtype="float64", return_sequences=True),
                                   backward_layer=ours.GRU(2, dtype="float64", return_sequences=True,
                                                           go_backwards=True))
    assert_same(keras_layer, our_layer, x, {"mask": MASK})


# ---- TimeDistributed ------------------------------------------------------------------------------------
@pytest.mark.parametrize("activation", [None, "softmax"])
def test_time_distributed_dense_matches_keras(keras, activation):
    keras_layer = keras.layers.TimeDistributed(keras.layers.Dense(5, activation=activation, dtype="float64"),
                                               dtype="float64")
    our_layer = ours.TimeDistributed(ours.Dense(5, activation=activation, dtype="float64"))
    assert_same(keras_layer, our_layer, random_inputs())
    assert our_layer.compute_output_shape((None, STEPS, CHANNELS)) == keras_layer.compute_output_shape(
        (None, STEPS, CHANNELS))
    assert set(keras_layer.get_config()) - {"trainable"} <= set(our_layer.get_config())


# ---- Input -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("arguments", [{"shape": (500,)}, {"shape": (None, 8), "batch_size": 4},
                                       {"shape": (7,), "dtype": "int32", "name": "ids"}])
def test_input_layer_config_matches_keras(keras, arguments):
    theirs = keras.layers.InputLayer(**arguments).get_config()
    mine = ours.InputLayer(**arguments).get_config()
    if "name" not in arguments:
        theirs.pop("name"), mine.pop("name")
    assert mine == {**theirs, "batch_shape": list(theirs["batch_shape"])}


def test_the_walkthroughs_cnn_lstm_model_has_kerass_weight_shapes_and_outputs(keras):
    ids = np.random.default_rng(3).integers(0, 5000, size=(2, 500))

    def build(layers):
        return [layers.Embedding(5000, 32), layers.Conv1D(filters=32, kernel_size=3, padding="same",
                                                          activation="relu"),
                layers.MaxPooling1D(pool_size=2), layers.LSTM(100), layers.Dense(1, activation="sigmoid")]

    from tinyseq.models import Sequential
    keras_model = keras.Sequential([keras.Input((500,)), *build(keras.layers)])
    our_model = Sequential(build(ours))
    our_model.build((None, 500))
    assert [w.shape for w in our_model.get_weights()] == [w.shape for w in keras_model.get_weights()]
    our_model.set_weights(keras_model.get_weights())
    np.testing.assert_allclose(our_model.predict(ids, verbose=0), keras_model.predict(ids, verbose=0),
                               rtol=1e-5, atol=1e-6)
