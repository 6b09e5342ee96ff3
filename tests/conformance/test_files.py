"""Model files that move between Keras 3 and tinyseq, both ways, for every layer tinyseq has.

Each case is one model written once against a layers module (`keras.layers` or
`tinyseq.layers`: the same names and arguments). A model trained a little in Keras is saved as
`.keras`, `.h5` and `.weights.h5` and opened in tinyseq; a model trained a little in tinyseq is
saved in the same three formats and opened in Keras. Predictions must agree to 1e-6 (both
compute in float32).
"""

import numpy as np
import pytest

import tinyseq
from tinyseq import layers as tinyseq_layers
from tinyseq import viz
from tinyseq.models import Sequential, load_model, read_metadata

BATCH, STEPS, VOCABULARY = 6, 12, 40


def ids(steps=STEPS, seed=0):
    """Integer ids, 1 to 5 padding zeros in front of each row (as pad_sequences writes them)."""
    rng = np.random.default_rng(seed)
    x = rng.integers(1, VOCABULARY, size=(BATCH, steps))
    for row, padding in enumerate(rng.integers(1, 6, size=BATCH)):
        x[row, :padding] = 0
    return x


def features(seed=0):
    return np.random.default_rng(seed).standard_normal((BATCH, STEPS, 3)).astype("float32")


# name -> (layers of the model given a layers module, inputs, loss, output units)
CASES = {
    "walkthrough": (lambda L: [L.Embedding(5000, 32), L.LSTM(100), L.Dense(1, activation="sigmoid")],
                    lambda: ids(steps=100), "binary_crossentropy"),
    "gru_and_simple_rnn": (lambda L: [L.Embedding(VOCABULARY, 8, mask_zero=True), L.GRU(6, return_sequences=True),
                                      L.SimpleRNN(5, go_backwards=True), L.Dense(1, activation="sigmoid")],
                           ids, "binary_crossentropy"),
    "recurrent_arguments": (lambda L: [L.GRU(5, reset_after=False, return_sequences=True, activation="relu"),
                                       L.LSTM(4, use_bias=False, recurrent_activation="tanh", unit_forget_bias=False,
                                              dropout=0.2, recurrent_dropout=0.3),
                                       L.Dense(2, activation="softmax")],
                            features, "sparse_categorical_crossentropy"),
    "cnn_lstm": (lambda L: [L.Embedding(VOCABULARY, 8), L.Conv1D(filters=6, kernel_size=3, padding="same",
                                                                   activation="relu"),
                            L.MaxPooling1D(pool_size=2), L.LSTM(5), L.Dense(1, activation="sigmoid")],
                 ids, "binary_crossentropy"),
    "bidirectional": (lambda L: [L.Embedding(VOCABULARY, 8, mask_zero=True),
                                 L.Bidirectional(L.LSTM(4, return_sequences=True)),
                                 L.Bidirectional(L.GRU(3), merge_mode="sum"), L.Dense(1, activation="sigmoid")],
                      ids, "binary_crossentropy"),
    "time_distributed_and_global_average": (
        lambda L: [L.Embedding(VOCABULARY, 8), L.SimpleRNN(5, return_sequences=True), L.TimeDistributed(L.Dense(3)),
                   L.GlobalAveragePooling1D(), L.Dense(1, activation="sigmoid")],
        ids, "binary_crossentropy"),
    "pooling_and_spatial_dropout": (
        lambda L: [L.SpatialDropout1D(0.3), L.Conv1D(4, 2, padding="causal", strides=1, dilation_rate=2),
                   L.AveragePooling1D(2), L.Dropout(0.1), L.GlobalMaxPooling1D(), L.Dense(2, activation="softmax")],
        features, "sparse_categorical_crossentropy"),
}
FORMATS = (".keras", ".h5")


def labels(loss):
    rng = np.random.default_rng(3)
    return rng.integers(0, 2, size=BATCH)


def keras_model(keras, case):
    layers, inputs, loss = CASES[case]
    x = inputs()
    model = keras.Sequential([keras.Input(x.shape[1:], dtype="int32" if x.dtype.kind == "i" else "float32"),
                              *layers(keras.layers)])
    model.compile(loss=loss, optimizer="adam", metrics=["accuracy"])
    return model, x, loss


def tinyseq_model(case):
    layers, inputs, loss = CASES[case]
    x = inputs()
    model = Sequential(layers(tinyseq_layers))
    model.build(x.shape)
    model.compile(loss=loss, optimizer="adam", metrics=["accuracy"])
    return model, x, loss


@pytest.mark.parametrize("case", CASES)
def test_a_model_trained_in_keras_opens_in_tinyseq_with_the_same_predictions(keras, case, tmp_path):
    keras.utils.set_random_seed(0)
    model, x, loss = keras_model(keras, case)
    model.fit(x, labels(loss), epochs=2, batch_size=BATCH, verbose=0)
    expected = model.predict(x, verbose=0)
    for suffix in FORMATS:
        model.save(tmp_path / f"model{suffix}")
        ours = load_model(tmp_path / f"model{suffix}")
        np.testing.assert_allclose(ours.predict(x, verbose=0), expected, atol=1e-6, rtol=0, err_msg=suffix)
        assert [type(layer).__name__ for layer in ours.layers] == [type(layer).__name__ for layer in model.layers]
        assert (ours.loss, ours.metric_names, type(ours.optimizer).__name__) == (loss, ["accuracy"], "Adam")
    model.save_weights(tmp_path / "model.weights.h5")
    fresh, _, _ = tinyseq_model(case)
    fresh.load_weights(tmp_path / "model.weights.h5")
    np.testing.assert_allclose(fresh.predict(x, verbose=0), expected, atol=1e-6, rtol=0)


@pytest.mark.parametrize("case", CASES)
def test_a_model_trained_in_tinyseq_opens_in_keras_with_the_same_predictions(keras, case, tmp_path):
    tinyseq.random.seed(0)
    model, x, loss = tinyseq_model(case)
    model.fit(x, labels(loss), epochs=2, batch_size=BATCH, verbose=0)
    expected = model.predict(x, verbose=0)
    for suffix in FORMATS:
        model.save(tmp_path / f"model{suffix}")
        theirs = keras.models.load_model(tmp_path / f"model{suffix}")
        np.testing.assert_allclose(theirs.predict(x, verbose=0), expected, atol=1e-6, rtol=0, err_msg=suffix)
        assert [type(layer).__name__ for layer in theirs.layers] == [type(layer).__name__ for layer in model.layers]
        assert getattr(theirs.loss, "__name__", theirs.loss) == loss and type(theirs.optimizer).__name__ == "Adam"
    model.save_weights(tmp_path / "model.weights.h5")
    fresh, _, _ = keras_model(keras, case)
    fresh.load_weights(tmp_path / "model.weights.h5")
    np.testing.assert_allclose(fresh.predict(x, verbose=0), expected, atol=1e-6, rtol=0)


def test_the_keras_walkthrough_model_is_drawn_explained_and_trained_on_in_tinyseq(keras, tmp_path):
    keras.utils.set_random_seed(0)
    model, x, loss = keras_model(keras, "walkthrough")
    model.fit(x, labels(loss), epochs=1, batch_size=BATCH, verbose=0)
    model.save(tmp_path / "imdb.keras")
    ours = load_model(tmp_path / "imdb.keras")
    review = [int(i) for i in x[0] if i]
    explanation = viz.explain_review(ours, review)
    assert explanation.probability == pytest.approx(float(model.predict(x[:1], verbose=0)[0, 0]), abs=1e-6)
    assert set(explanation.gates) and len(explanation.predictions) == len(review)
    graph = viz.draw(ours(x[:1, -3:]))
    assert "lstm" in graph.source
    before = ours.evaluate(x, labels(loss), verbose=0)[0]
    ours.fit(x, labels(loss), epochs=3, batch_size=BATCH, verbose=0)
    assert ours.evaluate(x, labels(loss), verbose=0)[0] < before


def test_a_tinyseq_checkpoint_in_keras_format_keeps_what_tinyseq_needs_and_keras_still_reads_it(keras, tmp_path):
    tinyseq.random.seed(0)
    model, x, loss = tinyseq_model("gru_and_simple_rnn")
    model.fit(x, labels(loss), epochs=1, batch_size=BATCH, verbose=0)
    for suffix in FORMATS:
        path = tmp_path / f"model{suffix}"
        tinyseq.models.save_model(model, path, include_training_state=True, metadata={"maxlen": STEPS})
        assert read_metadata(path) == {"maxlen": STEPS}
        reloaded = load_model(path)
        assert all(np.array_equal(a, b) for a, b in zip(reloaded.get_weights(), model.get_weights()))
        saved_state, state = reloaded.optimizer.state_dict(), model.optimizer.state_dict()
        assert saved_state["iterations"] == state["iterations"] == 1
        np.testing.assert_allclose(keras.models.load_model(path).predict(x, verbose=0), model.predict(x, verbose=0),
                                   atol=1e-6, rtol=0)


def test_loss_objects_move_both_ways(keras, tmp_path):
    keras.utils.set_random_seed(0)
    theirs = keras.Sequential([keras.Input((STEPS, 3)), keras.layers.GRU(3), keras.layers.Dense(1)])
    theirs.compile(loss=keras.losses.BinaryCrossentropy(from_logits=True), optimizer="rmsprop")
    theirs.save(tmp_path / "logits.keras")
    ours = load_model(tmp_path / "logits.keras")
    assert type(ours.loss).__name__ == "BinaryCrossentropy" and ours.loss.from_logits
    assert type(ours.optimizer).__name__ == "RMSprop"
    x, y = features(), labels("binary_crossentropy").astype("float32")
    assert ours.evaluate(x, y, verbose=0) == pytest.approx(theirs.evaluate(x, y, verbose=0), abs=1e-6)

    mine = Sequential([tinyseq_layers.LSTM(3), tinyseq_layers.Dense(1, activation="sigmoid")])
    mine.build((None, STEPS, 3))
    mine.compile(loss=tinyseq.losses.BinaryCrossentropy(label_smoothing=0.1), optimizer="sgd")
    mine.save(tmp_path / "smoothed.h5")
    reloaded = keras.models.load_model(tmp_path / "smoothed.h5")
    assert reloaded.loss.get_config()["label_smoothing"] == pytest.approx(0.1)
    assert reloaded.evaluate(x, y, verbose=0) == pytest.approx(mine.evaluate(x, y, verbose=0), abs=1e-6)
