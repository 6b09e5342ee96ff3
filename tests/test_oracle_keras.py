"""tinyseq against Keras 3 (TensorFlow backend), where both are installed.

The claim checked: tinyseq keeps Keras's weight layout, so `get_weights()` from one goes into
`set_weights()` of the other unchanged, and the two then compute the same outputs and gradients.
Skipped where keras or tensorflow is not installed (`pip install -e ".[peers]"`).
"""

import os

import numpy as np
import pytest

import tinyseq as ts
from tinyseq.models import Sequential
from tinyseq.nn import GRU, LSTM, Dense, Embedding, SimpleRNN

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

pytestmark = pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                                reason="these tests use Keras's TensorFlow backend")

LAYERS = {"simple_rnn": (SimpleRNN, "SimpleRNN"), "lstm": (LSTM, "LSTM"), "gru": (GRU, "GRU")}


@pytest.mark.parametrize("return_sequences", [True, False])
@pytest.mark.parametrize("kind", LAYERS)
def test_keras_weights_give_the_same_outputs_and_gradients_in_tinyseq(kind, return_sequences):
    ours_class, keras_name = LAYERS[kind]
    batch, steps, features, units = 3, 6, 4, 5
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, steps, features))
    theirs = getattr(keras.layers, keras_name)(units, return_sequences=return_sequences, dtype="float64")
    theirs.build((batch, steps, features))
    # Non-zero biases, so a misplaced bias block cannot hide.
    theirs.set_weights([w + 0.1 * rng.standard_normal(w.shape) for w in theirs.get_weights()])

    ours = ours_class(units, return_sequences=return_sequences, dtype="float64")
    ours.build((batch, steps, features))
    ours.set_weights(theirs.get_weights())                       # unchanged: the same layout

    x_ours = ts.tensor(x, requires_grad=True)
    out = ours(x_ours)
    x_theirs = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x_theirs)
        expected = theirs(x_theirs)
        weights = rng.standard_normal(expected.shape)
        objective = tf.reduce_sum(expected * weights)
    np.testing.assert_allclose(out.data, expected.numpy(), rtol=1e-10, atol=1e-12)

    grads = tape.gradient(objective, [x_theirs, *theirs.trainable_weights])
    (out * ts.tensor(weights)).sum().backward()
    np.testing.assert_allclose(x_ours.grad, grads[0].numpy(), rtol=1e-9, atol=1e-11)
    for parameter, expected_grad in zip(ours.parameters(), grads[1:]):
        np.testing.assert_allclose(parameter.grad, expected_grad.numpy(), rtol=1e-9, atol=1e-11)


def test_a_whole_model_moves_both_ways_with_get_weights_and_set_weights():
    vocabulary, length = 50, 12
    ids = np.random.default_rng(1).integers(1, vocabulary, size=(4, length))
    keras_model = keras.Sequential([keras.Input((length,)), keras.layers.Embedding(vocabulary, 8),
                                    keras.layers.LSTM(6), keras.layers.Dense(1, activation="sigmoid")])
    ours = Sequential([Embedding(vocabulary, 8, input_length=length), LSTM(6), Dense(1, activation="sigmoid")])
    ours.build((None, length))
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in keras_model.get_weights()]

    ours.set_weights(keras_model.get_weights())                  # Keras -> tinyseq
    np.testing.assert_allclose(ours.predict(ids, verbose=0), keras_model.predict(ids, verbose=0),
                               rtol=1e-5, atol=1e-6)
    ts.set_seed(3)
    retrained = Sequential([Embedding(vocabulary, 8, input_length=length), LSTM(6), Dense(1, activation="sigmoid")])
    retrained.build((None, length))
    keras_model.set_weights(retrained.get_weights())             # tinyseq -> Keras
    np.testing.assert_allclose(keras_model.predict(ids, verbose=0), retrained.predict(ids, verbose=0),
                               rtol=1e-5, atol=1e-6)
