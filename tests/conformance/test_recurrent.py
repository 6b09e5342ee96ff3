"""SimpleRNN, LSTM and GRU with Keras's arguments, against Keras 3 itself.

Each case builds the same layer in Keras and in tinyseq (float64), sets Keras's weights into
tinyseq unchanged, and compares the outputs of a masked batch: activation, recurrent_activation,
use_bias, unit_forget_bias, GRU's reset_after=False, implementation 1 and 2, unroll,
zero_output_for_mask, and dropout in inference. Dropout in training draws random masks, which the
two libraries cannot share by seed, so those cases hand Keras's cell the masks tinyseq's layer
draws (Keras caches its masks on the cell for one call) and check that both then compute the same
outputs and input gradients; and they check that both draw as many masks, of the same shapes and
scale.
"""

import numpy as np
import pytest

import tinyseq
from tinyseq.nn import GRU, LSTM, SimpleRNN

LAYERS = {"SimpleRNN": SimpleRNN, "LSTM": LSTM, "GRU": GRU}
BATCH, TIMESTEPS, FEATURES, UNITS = 3, 6, 4, 5
TOLERANCE = 1e-9  # float64 on both sides: only rounding may differ

# (layer, arguments): every argument tinyseq takes from Keras, one case at a time
ARGUMENT_CASES = [
    ("SimpleRNN", {}), ("SimpleRNN", {"activation": "relu"}), ("SimpleRNN", {"activation": "softmax"}),
    ("SimpleRNN", {"activation": "sigmoid"}), ("SimpleRNN", {"activation": "linear"}),
    ("SimpleRNN", {"use_bias": False}), ("SimpleRNN", {"unroll": True}),
    ("LSTM", {}), ("LSTM", {"activation": "relu"}), ("LSTM", {"recurrent_activation": "tanh"}),
    ("LSTM", {"recurrent_activation": "hard_sigmoid"}), ("GRU", {"recurrent_activation": "hard_sigmoid"}),
    ("LSTM", {"use_bias": False}), ("LSTM", {"unit_forget_bias": False}), ("LSTM", {"implementation": 1}),
    ("LSTM", {"implementation": 2}), ("LSTM", {"unroll": True}),
    ("GRU", {}), ("GRU", {"reset_after": False}), ("GRU", {"reset_after": False, "use_bias": False}),
    ("GRU", {"use_bias": False}), ("GRU", {"activation": "relu", "recurrent_activation": "linear"}),
    ("GRU", {"implementation": 1}), ("GRU", {"unroll": True}),
]
FLAG_CASES = [{"zero_output_for_mask": True}, {"zero_output_for_mask": True, "go_backwards": True},
              {"go_backwards": True}]
DROPOUT = {"dropout": 0.3, "recurrent_dropout": 0.4}


def pair(keras, kind, keras_only=None, **arguments):
    """The layer in Keras (random weights, non-zero biases) and in tinyseq with the same weights;
    `keras_only`: more arguments for Keras's layer."""
    rng = np.random.default_rng(0)
    theirs = getattr(keras.layers, kind)(UNITS, return_sequences=True, return_state=True, dtype="float64",
                                         **arguments, **(keras_only or {}))
    theirs.build((BATCH, TIMESTEPS, FEATURES))
    theirs.set_weights([0.5 * rng.standard_normal(w.shape) for w in theirs.get_weights()])
    ours = LAYERS[kind](UNITS, return_sequences=True, return_state=True, dtype="float64", **arguments)
    ours.build((BATCH, TIMESTEPS, FEATURES))
    ours.set_weights(theirs.get_weights())
    return theirs, ours


def inputs():
    """A batch and its mask: padding at the end, a hole, padding at the front."""
    x = np.random.default_rng(1).standard_normal((BATCH, TIMESTEPS, FEATURES))
    mask = np.array([[1, 1, 1, 1, 0, 0], [1, 0, 1, 1, 1, 1], [0, 0, 1, 1, 1, 1]], dtype=bool)
    return x, mask


def assert_same(theirs, ours):
    """Keras's [sequence, *states] against tinyseq's."""
    assert len(theirs) == len(ours)
    for expected, got in zip(theirs, ours):
        np.testing.assert_allclose(got.data, np.asarray(expected), rtol=TOLERANCE, atol=TOLERANCE)


@pytest.mark.parametrize("kind, arguments", ARGUMENT_CASES, ids=lambda case: str(case))
def test_keras_arguments_compute_what_keras_computes(keras, kind, arguments):
    theirs, ours = pair(keras, kind, **arguments)
    x, mask = inputs()
    assert_same(theirs(x, mask=mask), ours(x, mask=mask))
    config = ours.get_config()
    assert {key: config[key] for key in arguments} == arguments


@pytest.mark.parametrize("kind", sorted(LAYERS))
@pytest.mark.parametrize("flags", FLAG_CASES, ids=str)
@pytest.mark.parametrize("return_sequences", [True, False])
def test_masked_outputs_as_keras(keras, kind, flags, return_sequences):
    theirs, ours = pair(keras, kind, **flags)
    theirs.return_sequences = ours.return_sequences = return_sequences
    x, mask = inputs()
    assert_same(theirs(x, mask=mask), ours(x, mask=mask))


@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_dropout_is_off_in_inference_as_in_keras(keras, kind):
    theirs, ours = pair(keras, kind, **DROPOUT)
    x, mask = inputs()
    assert_same(theirs(x, mask=mask, training=False), ours(x, mask=mask, training=False))
    model = keras.Sequential([keras.Input((TIMESTEPS, FEATURES), dtype="float64"),
                              getattr(keras.layers, kind)(UNITS, dtype="float64", **DROPOUT)])
    model.layers[0].set_weights(theirs.get_weights())
    ours.return_sequences, ours.return_state = False, False
    ours.eval()
    # predict hands Keras's model float32 inputs, so agreement is to float32's precision
    np.testing.assert_allclose(ours(x).data, model.predict(x, verbose=0), rtol=0, atol=1e-6)


# (layer, arguments, masks per gate): how many masks Keras draws for each kind of dropout
DRAWING_CASES = [
    ("SimpleRNN", {"dropout": 0.3}, 1), ("SimpleRNN", DROPOUT, 1),
    ("LSTM", {"dropout": 0.3}, 1), ("LSTM", {"recurrent_dropout": 0.4}, 4), ("LSTM", DROPOUT, 4),
    ("LSTM", {"dropout": 0.3, "implementation": 1}, 4),
    ("GRU", {"dropout": 0.3}, 1), ("GRU", DROPOUT, 3), ("GRU", {"dropout": 0.3, "implementation": 1}, 3),
    ("GRU", {**DROPOUT, "reset_after": False}, 3), ("LSTM", {**DROPOUT, "use_bias": False}, 4),
]


@pytest.mark.parametrize("kind, arguments, count", DRAWING_CASES, ids=str)
def test_masks_are_drawn_as_keras_draws_them(keras, kind, arguments, count):
    theirs, ours = pair(keras, kind, **arguments)
    assert (getattr(theirs.cell, "dropout_mask_count", None) or 1) == count == ours.cell.dropout_mask_count
    keras_masks = [theirs.cell.get_dropout_mask(np.ones((BATCH, FEATURES))),
                   theirs.cell.get_recurrent_dropout_mask(np.ones((BATCH, UNITS)))]
    theirs.cell.reset_dropout_mask()
    theirs.cell.reset_recurrent_dropout_mask()
    for ours_masks, keras_mask, rate in zip(ours.cell.draw_dropout_masks(BATCH), keras_masks,
                                            (ours.cell.dropout, ours.cell.recurrent_dropout)):
        if rate == 0:
            assert ours_masks is None and keras_mask is None
            continue
        keras_mask = np.asarray(keras_mask if count == 1 else np.stack(keras_mask))
        assert ours_masks.shape == keras_mask.reshape(count, BATCH, -1).shape
        # both scale the kept units by 1 / (1 - rate)
        assert set(np.unique(keras_mask)) <= {0.0, 1 / (1 - rate)}
        assert set(np.unique(ours_masks)) <= {0.0, 1 / (1 - rate)}


@pytest.mark.parametrize("kind, arguments, count", DRAWING_CASES, ids=str)
@pytest.mark.parametrize("implementation", ["fused", "cells"])
def test_with_the_same_masks_training_computes_what_keras_computes(keras, kind, arguments, count, implementation):
    tf = pytest.importorskip("tensorflow")
    # Keras 3.15's LSTM and GRU fail in training with dropout and implementation=1 unless told
    # not to try cuDNN (their cuDNN path cannot take masks per gate).
    keras_only = {"use_cudnn": False} if kind != "SimpleRNN" else {}
    theirs, ours = pair(keras, kind, keras_only, **arguments)
    ours.implementation = implementation
    x, mask = inputs()
    tinyseq.set_seed(5)
    masks = ours.cell.draw_dropout_masks(BATCH)
    ours.cell.draw_dropout_masks = lambda batch_size: masks
    # Keras keeps the masks it draws on the cell for the length of one call: put ours there.
    input_masks, recurrent_masks = [None if m is None else (m[0] if count == 1 else list(m)) for m in masks]
    theirs.cell._dropout_mask, theirs.cell._recurrent_dropout_mask = input_masks, recurrent_masks

    x_theirs = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x_theirs)
        expected = theirs(x_theirs, mask=mask, training=True)
        objective = tf.reduce_sum(expected[0] * expected[0])
    x_ours = tinyseq.tensor(x, requires_grad=True)
    got = ours(x_ours, mask=mask, training=True)
    (got[0] * got[0]).sum().backward()

    assert_same(expected, got)
    np.testing.assert_allclose(x_ours.grad, tape.gradient(objective, x_theirs).numpy(), rtol=0, atol=TOLERANCE)
    plain = ours(x, mask=mask, training=False)[0].data
    assert np.abs(plain - got[0].data).max() > 1e-3  # the masks changed the result
