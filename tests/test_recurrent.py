"""Sequence layers (SimpleRNN, LSTM, GRU) against numpy loops over the reference cell steps."""

import json

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import tinyseq
from tinyseq import ShapeError, gradcheck
from tinyseq.layers import GRU, LSTM, Embedding, SimpleRNN
from test_cells import ARGUMENT_CASES, gru_step, keras_step, lstm_step, simple_rnn_step

# layer class, numpy step, number of states, gates
LAYERS = {
    "simple_rnn": (SimpleRNN, simple_rnn_step, 1, 1),
    "lstm": (LSTM, lstm_step, 2, 4),
    "gru": (GRU, gru_step, 1, 3),
}


def numpy_sequence(step, weights, x, states, go_backwards=False):
    """Run a numpy step over the time axis; return (all outputs, last output, final states)."""
    outputs = []
    for t in (range(x.shape[1] - 1, -1, -1) if go_backwards else range(x.shape[1])):
        output, states = step(x[:, t], states, weights)
        outputs.append(output)
    return np.stack(outputs, axis=1), outputs[-1], states


def built_layer(kind, units, features, rng, **options):
    """A float64 layer with random weights, built for `features` inputs."""
    layer = LAYERS[kind][0](units, dtype="float64", **options)
    layer(np.zeros((1, 1, features)))
    weights = [0.5 * rng.standard_normal(w.shape) for w in layer.get_weights()]
    layer.set_weights(weights)
    return layer, weights


def worst(got, expected):
    return float(np.max(np.abs(np.asarray(got) - expected)))


# ---- parameter counts ----------------------------------------------------------------------


def test_lstm_100_on_32_features_has_keras_count():
    layer = LSTM(100)
    layer(np.zeros((1, 2, 32)))
    assert layer.count_params() == 53_200
    assert [w.shape for w in layer.get_weights()] == [(32, 400), (100, 400), (400,)]


@pytest.mark.parametrize("units, features", [(1, 1), (8, 3), (32, 50)])
def test_simple_rnn_and_gru_counts_follow_keras_formulas(units, features):
    simple, gru = SimpleRNN(units), GRU(units)
    simple(np.zeros((1, 2, features)))
    gru(np.zeros((1, 2, features)))
    assert simple.count_params() == units * (features + units + 1)
    assert gru.count_params() == 3 * units * (features + units + 2)
    assert [w.shape for w in gru.get_weights()] == [(features, 3 * units), (units, 3 * units), (2, 3 * units)]


# ---- values against numpy -------------------------------------------------------------------


@pytest.mark.parametrize("kind", LAYERS)
@pytest.mark.parametrize("go_backwards", [False, True])
def test_sequences_and_states_match_numpy(kind, go_backwards):
    rng = np.random.default_rng(10)
    _, step, state_count, _ = LAYERS[kind]
    layer, weights = built_layer(kind, 4, 3, rng, return_sequences=True, return_state=True,
                                 go_backwards=go_backwards)
    x = rng.standard_normal((2, 6, 3))
    initial = [rng.standard_normal((2, 4)) for _ in range(state_count)]

    result = layer(x, initial_state=initial)
    sequence, _, final_states = numpy_sequence(step, weights, x, initial, go_backwards)

    assert isinstance(result, list) and len(result) == 1 + state_count
    assert worst(result[0].data, sequence) < 1e-12
    for got, expected in zip(result[1:], final_states):
        assert worst(got.data, expected) < 1e-12


@pytest.mark.parametrize("kind", LAYERS)
def test_default_returns_last_output_from_zero_state(kind):
    rng = np.random.default_rng(11)
    _, step, state_count, _ = LAYERS[kind]
    layer, weights = built_layer(kind, 3, 2, rng)
    x = rng.standard_normal((3, 5, 2))
    _, last, _ = numpy_sequence(step, weights, x, [np.zeros((3, 3))] * state_count)
    output = layer(x)
    assert output.shape == (3, 3)
    assert worst(output.data, last) < 1e-12


def test_lstm_return_state_gives_output_h_c():
    rng = np.random.default_rng(12)
    layer, weights = built_layer("lstm", 3, 2, rng, return_state=True)
    x = rng.standard_normal((2, 4, 2))
    output, h, c = layer(x)
    _, _, (h_expected, c_expected) = numpy_sequence(lstm_step, weights, x, [np.zeros((2, 3))] * 2)
    np.testing.assert_array_equal(output.data, h.data)
    assert worst(h.data, h_expected) < 1e-12 and worst(c.data, c_expected) < 1e-12


def test_go_backwards_reads_the_reversed_sequence():
    rng = np.random.default_rng(13)
    forward, weights = built_layer("gru", 3, 2, rng, return_sequences=True)
    backward = GRU(3, return_sequences=True, go_backwards=True, dtype="float64")
    backward(np.zeros((1, 1, 2)))
    backward.set_weights(weights)
    x = rng.standard_normal((2, 5, 2))
    np.testing.assert_array_equal(backward(x).data, forward(x[:, ::-1].copy()).data)


def test_stacked_lstms_match_numpy():
    rng = np.random.default_rng(14)
    first, first_weights = built_layer("lstm", 4, 3, rng, return_sequences=True)
    second, second_weights = built_layer("lstm", 2, 4, rng)
    x = rng.standard_normal((2, 5, 3))
    hidden_sequence, _, _ = numpy_sequence(lstm_step, first_weights, x, [np.zeros((2, 4))] * 2)
    _, last, _ = numpy_sequence(lstm_step, second_weights, hidden_sequence, [np.zeros((2, 2))] * 2)
    assert worst(second(first(x)).data, last) < 1e-12


# ---- gradients ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", LAYERS)
@pytest.mark.parametrize("masked", [False, True])
def test_gradients_over_five_steps_pass_gradcheck(kind, masked):
    rng = np.random.default_rng(15)
    _, _, state_count, _ = LAYERS[kind]
    layer, weights = built_layer(kind, 2, 2, rng, return_sequences=True, return_state=True)
    x = rng.standard_normal((2, 5, 2))
    initial = [rng.standard_normal((2, 2)) for _ in range(state_count)]
    mask = np.array([[0, 1, 1, 0, 1], [1, 1, 1, 1, 0]], dtype=bool) if masked else None

    def run(x, kernel, recurrent_kernel, bias, *initial):
        # The leaves gradcheck made replace the cell's weights, so it differentiates them.
        layer.cell.kernel, layer.cell.recurrent_kernel, layer.cell.bias = kernel, recurrent_kernel, bias
        sequence, *states = layer(x, mask=mask, initial_state=list(initial))
        return tinyseq.concat([sequence.reshape(2, -1)] + states, axis=1)

    gradcheck(run, x, *weights, *initial)


# ---- masking ------------------------------------------------------------------------------


def padded(x, lengths, total, pre):
    """Place each sample's first `length` steps before (pre=False) or after (pre=True) padding."""
    batch, _, features = x.shape
    out = np.full((batch, total, features), 7.0)  # padding values that must not matter
    mask = np.zeros((batch, total), dtype=bool)
    for i, length in enumerate(lengths):
        where = slice(total - length, total) if pre else slice(0, length)
        out[i, where] = x[i, :length]
        mask[i, where] = True
    return out, mask


@pytest.mark.parametrize("kind", LAYERS)
@pytest.mark.parametrize("pre", [True, False], ids=["pre-padding", "post-padding"])
def test_masked_padding_gives_the_unpadded_result(kind, pre):
    rng = np.random.default_rng(16)
    layer, _ = built_layer(kind, 3, 2, rng, return_state=True)
    lengths = [4, 2, 1]
    x = rng.standard_normal((3, 4, 2))
    x_padded, mask = padded(x, lengths, total=6, pre=pre)

    masked_results = layer(x_padded, mask=mask)
    for i, length in enumerate(lengths):
        alone = layer(x[i:i + 1, :length])
        for got, expected in zip(masked_results, alone):
            assert worst(got.data[i], expected.data[0]) < 1e-12


@pytest.mark.parametrize("kind", LAYERS)
def test_masked_steps_repeat_the_previous_output(kind):
    rng = np.random.default_rng(17)
    layer, _ = built_layer(kind, 2, 2, rng, return_sequences=True)
    x = rng.standard_normal((1, 5, 2))
    sequence = layer(x, mask=np.array([[0, 1, 1, 0, 0]], dtype=bool)).data[0]
    unmasked = layer(x[:, 1:3]).data[0]
    np.testing.assert_array_equal(sequence[0], [0.0, 0.0])  # before any real step: zeros, as Keras
    np.testing.assert_allclose(sequence[1:3], unmasked, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(sequence[3], sequence[2])
    np.testing.assert_array_equal(sequence[4], sequence[2])


@settings(max_examples=15, deadline=None)
@given(kind=st.sampled_from(sorted(LAYERS)), lengths=st.lists(st.integers(1, 5), min_size=1, max_size=3),
       pre=st.booleans(), go_backwards=st.booleans())
def test_padding_never_changes_the_result(kind, lengths, pre, go_backwards):
    rng = np.random.default_rng(len(lengths))
    layer, _ = built_layer(kind, 2, 2, rng, go_backwards=go_backwards)
    x = rng.standard_normal((len(lengths), 5, 2))
    x_padded, mask = padded(x, lengths, total=7, pre=pre)
    masked = layer(x_padded, mask=mask).data
    for i, length in enumerate(lengths):
        assert worst(masked[i], layer(x[i:i + 1, :length]).data[0]) < 1e-12


def test_embedding_mask_zero_feeds_the_lstm():
    tinyseq.random.seed(3)
    embedding = Embedding(20, 4, mask_zero=True, dtype="float64")
    lstm = LSTM(3, dtype="float64")
    ids = np.array([[0, 0, 5, 9, 2], [4, 8, 0, 0, 0]])
    mask = embedding.compute_mask(ids)
    np.testing.assert_array_equal(mask, ids != 0)
    out = lstm(embedding(ids), mask=mask)
    assert lstm.compute_mask(ids, mask) is None
    assert worst(out.data[0], lstm(embedding(np.array([[5, 9, 2]]))).data[0]) < 1e-12
    assert worst(out.data[1], lstm(embedding(np.array([[4, 8]]))).data[0]) < 1e-12


# ---- shapes, masks and configs for the model code ------------------------------------------------


def test_compute_output_shape_and_mask_follow_keras():
    lstm = LSTM(32)
    assert lstm.compute_output_shape((None, 500, 8)) == (None, 32)
    assert LSTM(32, return_sequences=True).compute_output_shape((None, 500, 8)) == (None, 500, 32)
    assert LSTM(32, return_state=True).compute_output_shape((None, 500, 8)) == [(None, 32)] * 3
    gru = GRU(4, return_state=True, return_sequences=True)
    assert gru.compute_output_shape((2, 7, 3)) == [(2, 7, 4), (2, 4)]
    mask = np.ones((2, 7), dtype=bool)
    assert lstm.compute_mask(None, mask) is None
    assert LSTM(3, return_sequences=True).compute_mask(None, mask) is mask
    assert LSTM(3, return_sequences=True, return_state=True).compute_mask(None, mask) == [mask, None, None]


@pytest.mark.parametrize("kind", LAYERS)
def test_get_config_rebuilds_the_layer(kind):
    layer = LAYERS[kind][0](5, return_sequences=True, go_backwards=True, name="seq", dtype="float64")
    config = layer.get_config()
    json.dumps(config)
    rebuilt = type(layer)(**config)
    assert rebuilt.get_config() == config
    assert config["name"] == "seq" and config["units"] == 5 and config["dtype"] == "float64"
    assert config["return_sequences"] and config["go_backwards"] and not config["return_state"]


def test_training_argument_is_accepted():
    layer = SimpleRNN(2)
    assert layer(np.zeros((1, 3, 2)), training=True, mask=None).shape == (1, 2)


# ---- bad input ------------------------------------------------------------------------------


def test_two_dimensional_input_is_refused():
    with pytest.raises(ShapeError, match=r"encoder: expected a 3-D input \(batch, timesteps, features\), "
                                         r"got a 2-D input of shape \(4, 32\)"):
        LSTM(8, name="encoder")(np.zeros((4, 32)))


def test_built_layer_refuses_a_different_feature_size():
    layer = GRU(3, name="encoder")
    layer(np.zeros((2, 5, 4)))
    with pytest.raises(ShapeError, match=r"encoder: expected inputs with 4 features \(size of the last axis\), "
                                         r"got shape \(2, 5, 6\)"):
        layer(np.zeros((2, 5, 6)))


def test_initial_state_of_wrong_shape_is_refused():
    layer = LSTM(4, name="encoder")
    with pytest.raises(ShapeError, match=r"encoder: initial_state: state c has shape \(2, 5\); "
                                         r"expected \(2, 4\) \(batch, units\)"):
        layer(np.zeros((2, 3, 1)), initial_state=[np.zeros((2, 4)), np.zeros((2, 5))])


def test_initial_state_count_is_checked():
    with pytest.raises(ValueError, match=r"encoder: initial_state: expected 2 state\(s\) \[h, c\], got 1"):
        LSTM(4, name="encoder")(np.zeros((2, 3, 1)), initial_state=[np.zeros((2, 4))])


def test_mask_of_wrong_shape_is_refused():
    with pytest.raises(ShapeError, match=r"encoder: the mask has shape \(2, 4\); expected \(2, 3\)"):
        SimpleRNN(4, name="encoder")(np.zeros((2, 3, 1)), mask=np.ones((2, 4)))


def test_set_weights_checks_count_and_shapes():
    layer = LSTM(4, name="encoder")
    layer(np.zeros((1, 1, 3)))
    with pytest.raises(ValueError, match=r"set_weights: encoder has 3 weights, got 2"):
        layer.set_weights(layer.get_weights()[:2])
    wrong = [np.zeros((3, 12)), np.zeros((4, 16)), np.zeros(16)]
    with pytest.raises(ValueError, match=r"cell.kernel: expected shape \(3, 16\), got \(3, 12\)"):
        layer.set_weights(wrong)


@pytest.mark.parametrize("flag", ["return_sequences", "return_state", "go_backwards"])
def test_recurrent_flags_must_be_booleans(flag):
    with pytest.raises(ValueError, match=rf"lstm: {flag} must be True or False, got .no."):
        LSTM(4, **{flag: "no"})


# ---- Keras's arguments ------------------------------------------------------------------------------


def keras_sequence(kind, weights, x, options, keep=None, input_masks=None, recurrent_masks=None,
                   zero_output_for_mask=False):
    """`keras_step` over the time axis with Keras's masking: a padding step keeps the states and
    repeats the previous output (outputs zeros with zero_output_for_mask). Returns all outputs."""
    batch, timesteps, _ = x.shape
    units = weights[1].shape[0]
    states = [np.zeros((batch, units)) for _ in range(LAYERS[kind][2])]
    output, outputs = np.zeros((batch, units)), []
    for t in range(timesteps):
        new_output, new_states = keras_step(kind, x[:, t], states, weights, input_masks=input_masks,
                                            recurrent_masks=recurrent_masks, **options)
        kept = np.ones((batch, 1), bool) if keep is None else keep[:, t, None]
        output = np.where(kept, new_output, 0.0 if zero_output_for_mask else output)
        states = [np.where(kept, new, old) for new, old in zip(new_states, states)]
        outputs.append(output)
    return np.stack(outputs, axis=1)


@pytest.mark.parametrize("kind, options", ARGUMENT_CASES)
@pytest.mark.parametrize("implementation", ["fused", "cells"])
def test_layer_arguments_match_keras_equations(kind, options, implementation):
    rng = np.random.default_rng(8)
    layer, weights = built_layer(kind, 4, 3, rng, return_sequences=True, implementation=implementation, **options)
    x = rng.standard_normal((3, 6, 3))
    keep = rng.random((3, 6)) < 0.7
    assert worst(layer(x, mask=keep).data, keras_sequence(kind, weights, x, options, keep)) < 1e-12


@pytest.mark.parametrize("kind", LAYERS)
@pytest.mark.parametrize("implementation", ["fused", "cells", 1])
@pytest.mark.parametrize("rates", [(0.4, 0.0), (0.0, 0.4), (0.3, 0.5)], ids=["dropout", "recurrent", "both"])
def test_dropout_uses_one_set_of_masks_for_every_step(kind, implementation, rates):
    rng = np.random.default_rng(9)
    dropout, recurrent_dropout = rates
    layer, weights = built_layer(kind, 4, 3, rng, return_sequences=True, implementation=implementation,
                                 dropout=dropout, recurrent_dropout=recurrent_dropout)
    x = rng.standard_normal((5, 6, 3))
    keep = rng.random((5, 6)) < 0.8
    tinyseq.set_seed(21)
    input_masks, recurrent_masks = layer.cell.draw_dropout_masks(5)
    tinyseq.set_seed(21)
    dropped = layer(x, mask=keep, training=True).data
    expected = keras_sequence(kind, weights, x, {}, keep, input_masks, recurrent_masks)
    assert worst(dropped, expected) < 1e-12
    assert worst(dropped, keras_sequence(kind, weights, x, {}, keep)) > 1e-2  # dropout changed it
    per_gate = kind != "simple_rnn" and (implementation == 1 or recurrent_dropout > 0)
    if dropout:
        assert len(input_masks) == (LAYERS[kind][3] if per_gate else 1)


@pytest.mark.parametrize("kind", LAYERS)
def test_inference_uses_no_dropout_and_draws_nothing(kind):
    rng = np.random.default_rng(10)
    layer, weights = built_layer(kind, 4, 3, rng, dropout=0.5, recurrent_dropout=0.5)
    plain, _ = built_layer(kind, 4, 3, rng)
    plain.set_weights(weights)
    x = rng.standard_normal((2, 5, 3))
    state = tinyseq.random.get_state()
    np.testing.assert_array_equal(layer(x, training=False).data, plain(x).data)
    layer.eval()
    np.testing.assert_array_equal(layer(x).data, plain(x).data)
    assert tinyseq.random.get_state() == state
    layer.train()
    assert worst(layer(x).data, plain(x).data) > 1e-3  # training mode: dropout is on


def test_predict_and_evaluate_use_no_dropout_while_fit_does():
    from tinyseq.layers import Dense
    from tinyseq.models import Sequential
    tinyseq.set_seed(0)
    ids = np.random.default_rng(11).integers(1, 30, size=(16, 8))
    labels = (ids[:, -1] > 15).astype(np.float32)
    model = Sequential([Embedding(30, 8), LSTM(6, dropout=0.2, recurrent_dropout=0.2), Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    model.fit(ids, labels, epochs=1, batch_size=8, verbose=0)
    twin = Sequential([Embedding(30, 8), LSTM(6), Dense(1, activation="sigmoid")])
    twin.compile(loss="binary_crossentropy", optimizer="adam")
    twin.build((None, 8))
    twin.set_weights(model.get_weights())
    np.testing.assert_array_equal(model.predict(ids, verbose=0), twin.predict(ids, verbose=0))
    assert model.evaluate(ids, labels, verbose=0) == model.evaluate(ids, labels, verbose=0)


@pytest.mark.parametrize("kind", LAYERS)
@pytest.mark.parametrize("return_sequences", [True, False])
def test_zero_output_for_mask_outputs_zeros_at_padding(kind, return_sequences):
    rng = np.random.default_rng(12)
    layer, weights = built_layer(kind, 3, 2, rng, return_sequences=return_sequences, zero_output_for_mask=True,
                                 return_state=True)
    x = rng.standard_normal((3, 5, 2))
    keep = np.array([[1, 1, 1, 0, 0], [0, 1, 0, 1, 1], [0, 0, 0, 0, 0]], bool)  # post, holes, empty
    output, *states = layer(x, mask=keep)
    expected = keras_sequence(kind, weights, x, {}, keep, zero_output_for_mask=True)
    assert worst(output.data, expected if return_sequences else expected[:, -1]) < 1e-12
    assert np.all(expected[~keep] == 0) and np.any(expected[keep] != 0)
    repeating = LAYERS[kind][0](3, return_sequences=return_sequences, return_state=True, dtype="float64")
    repeating(x[:, :1])
    repeating.set_weights(weights)
    _, *carried = repeating(x, mask=keep)
    for got, same in zip(states, carried):  # the states carry over padding either way
        assert worst(got.data, same.data) < 1e-12


@pytest.mark.parametrize("kind", LAYERS)
def test_unroll_is_accepted_and_changes_nothing(kind):
    rng = np.random.default_rng(13)
    rolled, weights = built_layer(kind, 3, 2, rng)
    unrolled, _ = built_layer(kind, 3, 2, rng, unroll=True)
    unrolled.set_weights(weights)
    x = rng.standard_normal((2, 4, 2))
    np.testing.assert_array_equal(unrolled(x).data, rolled(x).data)
    assert unrolled.get_config()["unroll"] is True


@pytest.mark.parametrize("kind", LAYERS)
def test_config_holds_keras_names_and_defaults(kind):
    config = LAYERS[kind][0](2).get_config()
    defaults = {"activation": "tanh", "use_bias": True, "dropout": 0.0, "recurrent_dropout": 0.0, "seed": None,
                "unroll": False, "zero_output_for_mask": False, "implementation": "fused"}
    if kind != "simple_rnn":
        defaults["recurrent_activation"] = "sigmoid"
    if kind == "gru":
        defaults["reset_after"] = True
    assert {key: config[key] for key in defaults} == defaults


@pytest.mark.parametrize("kind, options", [
    ("simple_rnn", {"activation": "softmax", "use_bias": False, "dropout": 0.2, "seed": 4, "unroll": True}),
    ("lstm", {"recurrent_activation": "relu", "recurrent_dropout": 0.2, "implementation": 1,
              "zero_output_for_mask": True}),
    ("gru", {"reset_after": False, "activation": "sigmoid", "dropout": 0.1, "implementation": 2})])
def test_new_layer_arguments_round_trip_through_the_config(kind, options):
    layer = LAYERS[kind][0](3, **options)
    config = layer.get_config()
    json.dumps(config)
    assert {key: config[key] for key in options} == options
    rebuilt = type(layer)(**config)
    assert rebuilt.get_config() == config and rebuilt.runs_fused == layer.runs_fused


def test_the_walkthroughs_dropout_lstm_builds():
    layer = LSTM(100, dropout=0.2, recurrent_dropout=0.2)
    assert layer.runs_fused and layer(np.ones((2, 7, 32), np.float32), training=True).shape == (2, 100)


@pytest.mark.parametrize("argument", ["dropout", "recurrent_dropout"])
def test_dropout_rates_are_checked(argument):
    with pytest.raises(ValueError, match=rf"gru_cell: {argument} must be a number in \[0, 1\), got 1.5"):
        GRU(4, **{argument: 1.5})


@pytest.mark.parametrize("flag", ["unroll", "zero_output_for_mask", "use_bias"])
def test_new_flags_must_be_booleans(flag):
    with pytest.raises(ValueError, match=rf"{flag} must be True or False, got .no."):
        SimpleRNN(4, **{flag: "no"})
