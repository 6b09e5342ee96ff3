"""The fused sequence kernels against the cells-from-primitives loop and against plain numpy
kernels (tests/reference_kernels.py), and the exact speed-ups.

Every comparison is in float64, where the implementations may differ only by rounding:
outputs and every gradient (inputs, initial states, kernel, recurrent kernel, bias) must agree
to 1e-14 (times the values' size, against the numpy kernels), for all three cells, with and
without masks, initial states, return_sequences, return_state and go_backwards.
"""

import itertools
import os
import signal

import numpy as np
import pytest
import reference_kernels

import tinyseq
from tinyseq import gradcheck
from tinyseq.callbacks import BackupAndRestore, Callback
from tinyseq.layers import GRU, LSTM, Dense, Embedding, SimpleRNN
from tinyseq.models import Sequential
from tinyseq.models.sequential import BUCKET_POOL_BATCHES, length_bucketed_order, sequence_lengths
from tinyseq.nn.fused.scaffold import fused_recurrence
from tinyseq.nn.fused.schedule import StartSchedule
from tinyseq.nn.fused.workspace import WORKSPACE, Workspace
from tinyseq.optimizers import Adam

LAYERS = {"simple_rnn": SimpleRNN, "lstm": LSTM, "gru": GRU}
TOLERANCE = 1e-14
BATCH, TIMESTEPS, FEATURES, UNITS = 3, 7, 2, 4


def make_mask(kind):
    """Masks that exercise every path: steps padded for the whole batch at either end (the
    skipped ones), padding before and after the real steps, holes in the middle, and
    pre-padded rows out of length order with one that is padding throughout ("ragged": the
    kernel sorts the rows by their first real step and runs only the started ones)."""
    lengths = [2, 0, 5] if kind == "ragged" else [5, 2, 1]
    mask = np.zeros((BATCH, TIMESTEPS), dtype=bool)
    for row, length in enumerate(lengths):
        if kind in ("pre", "ragged"):
            mask[row, TIMESTEPS - length:] = True
        elif kind == "post":
            mask[row, :length] = True
    if kind == "holes":
        mask[:] = np.random.default_rng(1).random((BATCH, TIMESTEPS)) < 0.6
        mask[:, 3] = False  # a step that is padding for every sequence, in the middle
        mask[0, 0] = mask[2, -1] = True
    return None if kind == "none" else mask


def layer_pair(kind, seed=0, **options):
    """The same layer twice, fused and cells, float64, with identical random weights."""
    fused = LAYERS[kind](UNITS, implementation="fused", dtype="float64", **options)
    cells = LAYERS[kind](UNITS, implementation="cells", dtype="float64", **options)
    fused(np.zeros((1, 1, FEATURES)))
    cells(np.zeros((1, 1, FEATURES)))
    rng = np.random.default_rng(seed)
    weights = [0.5 * rng.standard_normal(w.shape) for w in fused.get_weights()]
    fused.set_weights(weights)
    cells.set_weights(weights)
    return fused, cells


def run_and_differentiate(layer, x, mask, initial, seed=0):
    """Outputs of the layer and the gradients of a random projection of all of them."""
    x = tinyseq.tensor(x, requires_grad=True)
    initial = None if initial is None else [tinyseq.tensor(s, requires_grad=True) for s in initial]
    result = layer(x, mask=mask, initial_state=initial)
    outputs = result if isinstance(result, list) else [result]
    rng = np.random.default_rng(seed)
    loss = sum((out * rng.standard_normal(out.shape)).sum() for out in outputs)
    layer.cell.zero_grad()
    loss.backward()
    grads = [x.grad] + [s.grad for s in initial or []] + [p.grad for p in layer.cell.parameters()]
    return [out.data for out in outputs], grads


def scale(arrays):
    """The largest magnitude in `arrays`, at least 1: rounding errors grow with the values (a
    linear SimpleRNN's can reach tens)."""
    return max(1.0, *(float(np.max(np.abs(a))) for a in arrays))


def worst_difference(first, second):
    assert len(first) == len(second)
    return max(float(np.max(np.abs(a - b))) for a, b in zip(first, second))


@pytest.mark.parametrize("kind", sorted(LAYERS))
@pytest.mark.parametrize("mask_kind", ["none", "pre", "post", "holes", "ragged"])
@pytest.mark.parametrize("go_backwards", [False, True], ids=["forwards", "backwards"])
@pytest.mark.parametrize("return_sequences, return_state, with_initial_state",
                         list(itertools.product([False, True], repeat=3)),
                         ids=lambda flag: "yes" if flag else "no")
def test_fused_matches_cells_in_outputs_and_every_gradient(kind, mask_kind, go_backwards, return_sequences,
                                                           return_state, with_initial_state):
    fused, cells = layer_pair(kind, return_sequences=return_sequences, return_state=return_state,
                              go_backwards=go_backwards)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((BATCH, TIMESTEPS, FEATURES))
    state_count = len(fused.cell.state_names)
    initial = [rng.standard_normal((BATCH, UNITS)) for _ in range(state_count)] if with_initial_state else None
    mask = make_mask(mask_kind)

    fused_outputs, fused_grads = run_and_differentiate(fused, x, mask, initial)
    cells_outputs, cells_grads = run_and_differentiate(cells, x, mask, initial)

    assert [o.shape for o in fused_outputs] == [o.shape for o in cells_outputs]
    assert worst_difference(fused_outputs, cells_outputs) <= TOLERANCE
    assert all(g is not None for g in fused_grads) and all(g is not None for g in cells_grads)
    assert worst_difference(fused_grads, cells_grads) <= TOLERANCE


@pytest.mark.parametrize("kind", sorted(LAYERS))
@pytest.mark.parametrize("mask_kind", ["none", "pre", "post", "holes", "ragged"])
@pytest.mark.parametrize("go_backwards", [False, True], ids=["forwards", "backwards"])
@pytest.mark.parametrize("return_sequences", [False, True], ids=["last", "sequences"])
def test_fused_matches_cells_with_zero_output_for_mask(kind, mask_kind, go_backwards, return_sequences):
    fused, cells = layer_pair(kind, return_sequences=return_sequences, return_state=True,
                              go_backwards=go_backwards, zero_output_for_mask=True)
    assert fused.runs_fused
    rng = np.random.default_rng(2)
    x = rng.standard_normal((BATCH, TIMESTEPS, FEATURES))
    initial = [rng.standard_normal((BATCH, UNITS)) for _ in fused.cell.state_names]
    mask = make_mask(mask_kind)
    fused_outputs, fused_grads = run_and_differentiate(fused, x, mask, initial)
    cells_outputs, cells_grads = run_and_differentiate(cells, x, mask, initial)
    assert worst_difference(fused_outputs, cells_outputs) <= TOLERANCE
    assert worst_difference(fused_grads, cells_grads) <= TOLERANCE
    if mask is not None and return_sequences:
        in_order = mask[:, ::-1] if go_backwards else mask
        assert np.all(fused_outputs[0][~in_order] == 0)


@pytest.mark.parametrize("mask_kind", ["none", "pre", "post", "holes", "ragged"])
@pytest.mark.parametrize("go_backwards", [False, True], ids=["forwards", "backwards"])
@pytest.mark.parametrize("options", [{}, {"dropout": 0.3}, {"dropout": 0.3, "recurrent_dropout": 0.4},
                                     {"recurrent_dropout": 0.4, "use_bias": False}, {"zero_output_for_mask": True},
                                     {"activation": "relu", "recurrent_activation": "hard_sigmoid"}], ids=str)
def test_fused_original_gru_matches_cells(mask_kind, go_backwards, options):
    fused, cells = layer_pair("gru", reset_after=False, return_sequences=True, return_state=True,
                              go_backwards=go_backwards, **options)
    assert fused.runs_fused
    rng = np.random.default_rng(4)
    x = rng.standard_normal((BATCH, TIMESTEPS, FEATURES))
    initial = [rng.standard_normal((BATCH, UNITS))]
    results = []
    for layer in (fused, cells):
        tinyseq.set_seed(6)
        results.append(run_and_differentiate(layer, x, make_mask(mask_kind), initial))
    (fused_outputs, fused_grads), (cells_outputs, cells_grads) = results
    assert worst_difference(fused_outputs, cells_outputs) <= TOLERANCE * scale(cells_outputs)
    assert worst_difference(fused_grads, cells_grads) <= TOLERANCE * scale(cells_grads)


GRADCHECK_MASK = np.array([[0, 1, 1, 0], [1, 1, 0, 1]], dtype=bool)


def gradcheck_fused(fused, mask=None, dropout_masks=(None, None)):
    """gradcheck the fused op of layer `fused` over a (2, 4) batch: the inputs, the weights and
    the initial states all get finite-difference gradients."""
    cell = fused.cell
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 4, FEATURES))
    initial = [rng.standard_normal((2, UNITS)) for _ in cell.state_names]

    def run(x, kernel, recurrent_kernel, bias, *states):
        cell.kernel, cell.recurrent_kernel, cell.bias = kernel, recurrent_kernel, bias
        sequence, final_states = fused_recurrence(cell, x, list(states), mask, return_sequences=True,
                                                  dropout_masks=dropout_masks)
        return tinyseq.concat([sequence.reshape(2, -1)] + final_states, axis=1)

    gradcheck(run, x, *fused.get_weights(), *initial)


@pytest.mark.parametrize("recurrent_dropout", [0.0, 0.5])
def test_fused_original_gru_passes_gradcheck(recurrent_dropout):
    fused, _ = layer_pair("gru", reset_after=False, recurrent_dropout=recurrent_dropout)
    tinyseq.set_seed(6)
    gradcheck_fused(fused, GRADCHECK_MASK, fused.cell.draw_dropout_masks(2))


@pytest.mark.parametrize("kind", sorted(LAYERS))
@pytest.mark.parametrize("mask_kind", ["none", "ragged"])
def test_fused_matches_cells_without_a_bias(kind, mask_kind):
    fused, cells = layer_pair(kind, use_bias=False, return_sequences=True, return_state=True, dropout=0.2)
    assert fused.runs_fused and [w.shape for w in fused.get_weights()][2:] == []
    rng = np.random.default_rng(3)
    x = rng.standard_normal((BATCH, TIMESTEPS, FEATURES))
    initial = [rng.standard_normal((BATCH, UNITS)) for _ in fused.cell.state_names]
    results = []
    for layer in (fused, cells):
        tinyseq.set_seed(2)
        results.append(run_and_differentiate(layer, x, make_mask(mask_kind), initial))
    (fused_outputs, fused_grads), (cells_outputs, cells_grads) = results
    assert len(fused_grads) == 1 + len(initial) + 2  # x, the initial states, kernel, recurrent_kernel
    assert worst_difference(fused_outputs, cells_outputs) <= TOLERANCE
    assert worst_difference(fused_grads, cells_grads) <= TOLERANCE


@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("activation, recurrent_activation", [("relu", "hard_sigmoid"), ("linear", "tanh"),
                                                              ("sigmoid", "relu"), ("tanh", "linear")])
def test_fused_gated_cells_know_the_other_activations(kind, activation, recurrent_activation):
    fused, cells = layer_pair(kind, activation=activation, recurrent_activation=recurrent_activation,
                              return_sequences=True, recurrent_dropout=0.3)
    assert fused.runs_fused
    rng = np.random.default_rng(3)
    x = rng.standard_normal((BATCH, TIMESTEPS, FEATURES))
    initial = [rng.standard_normal((BATCH, UNITS)) for _ in fused.cell.state_names]
    results = []
    for layer in (fused, cells):
        tinyseq.set_seed(2)
        results.append(run_and_differentiate(layer, x, make_mask("holes"), initial))
    (fused_outputs, fused_grads), (cells_outputs, cells_grads) = results
    tolerance = 10 * TOLERANCE * scale(cells_outputs + cells_grads)  # unbounded gates: larger rounding
    assert worst_difference(fused_outputs, cells_outputs) <= tolerance
    assert worst_difference(fused_grads, cells_grads) <= tolerance


@pytest.mark.parametrize("activation", ["linear", "sigmoid", "relu", "softmax"])
def test_fused_simple_rnn_knows_the_other_activations(activation):
    fused, cells = layer_pair("simple_rnn", activation=activation, return_sequences=True)
    x = np.random.default_rng(3).standard_normal((BATCH, TIMESTEPS, FEATURES))
    fused_outputs, fused_grads = run_and_differentiate(fused, x, make_mask("holes"), None)
    cells_outputs, cells_grads = run_and_differentiate(cells, x, make_mask("holes"), None)
    assert worst_difference(fused_outputs, cells_outputs) <= TOLERANCE
    assert worst_difference(fused_grads, cells_grads) <= TOLERANCE


@pytest.mark.parametrize("kind", sorted(LAYERS))
@pytest.mark.parametrize("masked", [False, True])
def test_fused_op_passes_gradcheck(kind, masked):
    fused, _ = layer_pair(kind)
    gradcheck_fused(fused, GRADCHECK_MASK if masked else None)


def test_fused_softmax_simple_rnn_passes_gradcheck():
    fused, _ = layer_pair("simple_rnn", activation="softmax")
    assert fused.runs_fused
    gradcheck_fused(fused)


@pytest.mark.parametrize("kind", sorted(LAYERS))
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("per_gate", [False, True], ids=["shared_masks", "masks_per_gate"])
def test_fused_op_with_dropout_passes_gradcheck(kind, masked, per_gate):
    fused, _ = layer_pair(kind, dropout=0.4, recurrent_dropout=0.4 if per_gate else 0.0)
    tinyseq.set_seed(6)
    gradcheck_fused(fused, GRADCHECK_MASK if masked else None, fused.cell.draw_dropout_masks(2))


@pytest.mark.parametrize("kind", sorted(LAYERS))
@pytest.mark.parametrize("mask_kind", ["none", "post", "holes", "ragged"])
@pytest.mark.parametrize("go_backwards", [False, True], ids=["forwards", "backwards"])
@pytest.mark.parametrize("rates, keras_implementation", [((0.3, 0.0), 2), ((0.3, 0.0), 1), ((0.0, 0.5), 2),
                                                         ((0.25, 0.4), 2)],
                         ids=["dropout", "dropout_per_gate", "recurrent", "both"])
def test_fused_and_cells_drop_out_identically(kind, mask_kind, go_backwards, rates, keras_implementation):
    dropout, recurrent_dropout = rates
    fused, cells = layer_pair(kind, return_sequences=True, return_state=True, go_backwards=go_backwards,
                              dropout=dropout, recurrent_dropout=recurrent_dropout)
    if kind != "simple_rnn":
        fused.cell.implementation = cells.cell.implementation = keras_implementation
    assert fused.runs_fused and not cells.runs_fused
    rng = np.random.default_rng(5)
    x = rng.standard_normal((BATCH, TIMESTEPS, FEATURES))
    initial = [rng.standard_normal((BATCH, UNITS)) for _ in fused.cell.state_names]
    mask = make_mask(mask_kind)

    results = []
    for layer in (fused, cells):
        tinyseq.set_seed(8)  # the same masks for both
        results.append(run_and_differentiate(layer, x, mask, initial))
    (fused_outputs, fused_grads), (cells_outputs, cells_grads) = results
    assert worst_difference(fused_outputs, cells_outputs) <= TOLERANCE
    assert worst_difference(fused_grads, cells_grads) <= TOLERANCE
    fused.eval()
    plain_outputs, _ = run_and_differentiate(fused, x, mask, initial)
    assert worst_difference(plain_outputs, fused_outputs) > 1e-3  # the masks did drop something


# ---- against plain numpy kernels -----------------------------------------------------------------


def random_mask(rng, batch, timesteps):
    """None, front padding of random lengths (some rows empty), or random holes after random starts."""
    kind = rng.integers(3)
    if kind == 0:
        return None
    starts = rng.integers(0, timesteps + 1, size=batch)
    mask = np.arange(timesteps) >= starts[:, None]
    return mask & (rng.random((batch, timesteps)) < 0.7) if kind == 2 else mask


def reference_outputs_and_gradients(kind, activation, weights, x, initial, mask, go_backwards, d_sequence,
                                    d_finals):
    """What tests/reference_kernels.py computes: go_backwards is the sequence read reversed."""
    step = reference_kernels.SimpleRNNStep(activation) if kind == "simple_rnn" else reference_kernels.STEPS[kind]()
    order = slice(None, None, -1) if go_backwards else slice(None)
    sequence, finals, tape = reference_kernels.forward(step, x[:, order], *weights, initial,
                                                       None if mask is None else mask[:, order])
    d_x, d_kernel, d_recurrent_kernel, d_bias, d_initial = reference_kernels.backward(tape, d_sequence, d_finals)
    return [sequence, *finals], [d_x[:, order], *d_initial, d_kernel, d_recurrent_kernel, d_bias]


@pytest.mark.parametrize("kind", sorted(LAYERS))
@pytest.mark.parametrize("seed", range(8))
def test_fused_matches_plain_numpy_kernels_on_random_shapes(kind, seed):
    rng = np.random.default_rng(seed)
    batch, timesteps, features, units = (int(n) for n in rng.integers(1, [6, 12, 5, 6], endpoint=True))
    go_backwards = bool(rng.integers(2))
    activation = str(rng.choice(["tanh", "sigmoid", "relu", "linear"])) if kind == "simple_rnn" else "tanh"
    options = {"activation": activation} if kind == "simple_rnn" else {}
    layer = LAYERS[kind](units, dtype="float64", **options)
    layer(np.zeros((1, 1, features)))
    weights = [0.5 * rng.standard_normal(w.shape) for w in layer.get_weights()]
    layer.set_weights(weights)
    x = rng.standard_normal((batch, timesteps, features))
    initial = [rng.standard_normal((batch, units)) for _ in layer.cell.state_names]
    mask = random_mask(rng, batch, timesteps)
    d_sequence = rng.standard_normal((batch, timesteps, units))
    d_finals = [rng.standard_normal((batch, units)) for _ in initial]

    x_leaf = tinyseq.tensor(x, requires_grad=True)
    states = [tinyseq.tensor(s, requires_grad=True) for s in initial]
    sequence, finals = fused_recurrence(layer.cell, x_leaf, states, mask, go_backwards, return_sequences=True)
    layer.cell.zero_grad()
    ((sequence * d_sequence).sum() + sum((f * d).sum() for f, d in zip(finals, d_finals))).backward()
    fused_grads = [x_leaf.grad] + [s.grad for s in states] + [p.grad for p in layer.cell.parameters()]

    expected_outputs, expected_grads = reference_outputs_and_gradients(
        kind, activation, weights, x, initial, mask, go_backwards, d_sequence, d_finals)
    assert worst_difference([sequence.data, *(f.data for f in finals)], expected_outputs) <= TOLERANCE * scale(
        expected_outputs)
    assert worst_difference(fused_grads, expected_grads) <= TOLERANCE * scale(expected_grads)


@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_plain_numpy_kernels_agree_with_finite_differences(kind):
    rng = np.random.default_rng(8)
    batch, timesteps, features, units = 2, 5, 2, 3
    layer = LAYERS[kind](units, dtype="float64")
    layer(np.zeros((1, 1, features)))
    weights = [0.5 * rng.standard_normal(w.shape) for w in layer.get_weights()]
    x = rng.standard_normal((batch, timesteps, features))
    initial = [rng.standard_normal((batch, units)) for _ in layer.cell.state_names]
    mask = np.array([[0, 1, 1, 0, 1], [0, 0, 0, 1, 1]], dtype=bool)  # front padding and a hole
    d_sequence = rng.standard_normal((batch, timesteps, units))
    d_finals = [rng.standard_normal((batch, units)) for _ in initial]
    arrays = [x, *initial, *weights]  # the order of the gradients returned below

    def loss():
        (sequence, *finals), _ = reference_outputs_and_gradients(kind, "tanh", weights, x, initial, mask, False,
                                                                 d_sequence, d_finals)
        return np.sum(sequence * d_sequence) + sum(np.sum(f * d) for f, d in zip(finals, d_finals))

    _, gradients = reference_outputs_and_gradients(kind, "tanh", weights, x, initial, mask, False,
                                                   d_sequence, d_finals)
    for array, gradient in zip(arrays, gradients):
        assert gradient.shape == array.shape
        for index in np.ndindex(array.shape):
            original = array[index]
            array[index] = original + 1e-6
            above = loss()
            array[index] = original - 1e-6
            below = loss()
            array[index] = original
            assert abs((above - below) / 2e-6 - gradient[index]) < 1e-8


# ---- skipping the steps that are padding for the whole batch ----------------------------------


@pytest.mark.parametrize("implementation", ["fused", "cells"])
@pytest.mark.parametrize("padding", ["pre", "post"])
@pytest.mark.parametrize("go_backwards", [False, True], ids=["forwards", "backwards"])
def test_skipping_whole_batch_padding_is_exact(implementation, padding, go_backwards):
    layer = LSTM(UNITS, implementation=implementation, return_sequences=True, return_state=True,
                 go_backwards=go_backwards, dtype="float64")
    reference, _ = layer_pair("lstm", return_sequences=True, return_state=True, go_backwards=go_backwards)
    layer(np.zeros((1, 1, FEATURES)))
    layer.set_weights(reference.get_weights())
    rng = np.random.default_rng(5)
    x = rng.standard_normal((BATCH, TIMESTEPS, FEATURES))
    initial = [rng.standard_normal((BATCH, UNITS)) for _ in range(2)]
    mask = make_mask(padding)

    shorter, _, skipped = layer._skip_padding(tinyseq.tensor(x), mask)
    assert shorter.shape[1] == 5 and sum(skipped) == 2  # the longest sequence has 5 real steps

    skipping_outputs, skipping_grads = run_and_differentiate(layer, x, mask, initial)
    # The reference: the fused op on all the steps, called directly (no skipping).
    x_leaf = tinyseq.tensor(x, requires_grad=True)
    states = [tinyseq.tensor(s, requires_grad=True) for s in initial]
    sequence, finals = fused_recurrence(reference.cell, x_leaf, states, mask, go_backwards, True)
    outputs = [sequence, *finals]
    random = np.random.default_rng(0)
    reference.cell.zero_grad()
    sum((out * random.standard_normal(out.shape)).sum() for out in outputs).backward()
    full_grads = [x_leaf.grad] + [s.grad for s in states] + [p.grad for p in reference.cell.parameters()]

    assert worst_difference(skipping_outputs, [o.data for o in outputs]) <= TOLERANCE
    assert worst_difference(skipping_grads, full_grads) <= TOLERANCE


def test_rows_are_run_from_their_first_real_step_on():
    # Pre-padded lengths 2, 0, 5 in 7 steps: the rows start at steps 5, never and 2.
    mask = make_mask("ragged")
    forwards = StartSchedule(mask, slice(None), TIMESTEPS, BATCH)
    np.testing.assert_array_equal(forwards.order, [2, 0, 1])
    np.testing.assert_array_equal(forwards.started, [0, 0, 1, 1, 1, 2, 2])
    assert not forwards.holes.any()  # a started row is never padding again
    rows = np.arange(BATCH * 2).reshape(BATCH, 2)
    np.testing.assert_array_equal(forwards.sort_rows(rows, axis=0), rows[[2, 0, 1]])
    np.testing.assert_array_equal(forwards.unsort_rows(forwards.sort_rows(rows, axis=0), axis=0), rows)
    # Read backwards, every row with a real step starts at once, and its padding comes after.
    backwards = StartSchedule(mask, slice(None, None, -1), TIMESTEPS, BATCH)
    np.testing.assert_array_equal(backwards.started, [2] * TIMESTEPS)
    assert backwards.holes[2:].all() and not backwards.holes[:2].any()
    unmasked = StartSchedule(None, slice(None), TIMESTEPS, BATCH)
    assert unmasked.order is None and list(unmasked.started) == [BATCH] * TIMESTEPS


@pytest.mark.parametrize("implementation", ["fused", "cells"])
def test_a_batch_of_nothing_but_padding_keeps_the_initial_state(implementation):
    layer = GRU(UNITS, implementation=implementation, return_sequences=True, return_state=True, dtype="float64")
    initial = np.random.default_rng(6).standard_normal((BATCH, UNITS))
    sequence, state = layer(np.ones((BATCH, TIMESTEPS, FEATURES)), mask=np.zeros((BATCH, TIMESTEPS), bool),
                            initial_state=[initial])
    np.testing.assert_array_equal(sequence.data, np.zeros((BATCH, TIMESTEPS, UNITS)))
    np.testing.assert_array_equal(state.data, initial)


# ---- reused buffers ----------------------------------------------------------------------------


def test_buffers_are_reused_only_after_the_graph_is_freed():
    layer, _ = layer_pair("lstm", return_sequences=True)
    rng = np.random.default_rng(7)
    first_x = tinyseq.tensor(rng.standard_normal((BATCH, TIMESTEPS, FEATURES)), requires_grad=True)
    weights = rng.standard_normal((BATCH, TIMESTEPS, UNITS))
    loss = (layer(first_x) * weights).sum()
    loss.backward(retain_graph=True)
    first_gradient = first_x.grad.copy()
    # Another sequence while the first graph is kept: its buffers must not be handed out again.
    (layer(tinyseq.tensor(rng.standard_normal((BATCH, TIMESTEPS, FEATURES)), requires_grad=True))
     * weights).sum().backward()
    loss.backward()
    np.testing.assert_allclose(first_x.grad, 2 * first_gradient, rtol=1e-12, atol=1e-15)


def test_inference_hands_its_buffers_straight_back():
    layer, _ = layer_pair("gru")
    WORKSPACE.clear()
    with tinyseq.no_grad():
        layer(np.ones((BATCH, TIMESTEPS, FEATURES)))
    assert len(WORKSPACE.free) == 4  # inputs with ones, gates, states, the candidates' recurrent part
    buffers = {id(b) for b in WORKSPACE.free}
    with tinyseq.no_grad():
        layer(np.ones((BATCH, TIMESTEPS - 2, FEATURES)))  # shorter: fits in the same buffers
    assert {id(b) for b in WORKSPACE.free} == buffers


def test_two_fused_layers_in_one_graph_both_give_their_buffers_back():
    first = LSTM(UNITS, return_sequences=True, dtype="float64")
    second = LSTM(UNITS, dtype="float64")
    WORKSPACE.clear()
    second(first(tinyseq.tensor(np.ones((BATCH, TIMESTEPS, FEATURES)), requires_grad=True))).sum().backward()
    assert len(WORKSPACE.free) == 10  # five each: inputs with ones, gates, h, c and tanh(c)


def test_clearing_the_workspace_drops_the_free_buffers_only():
    layer, _ = layer_pair("lstm")
    WORKSPACE.clear()
    with tinyseq.no_grad():
        layer(np.ones((BATCH, TIMESTEPS, FEATURES)))
    assert len(WORKSPACE.free) == 5
    WORKSPACE.clear()
    assert WORKSPACE.free == []
    output = layer(tinyseq.tensor(np.ones((BATCH, TIMESTEPS, FEATURES)), requires_grad=True))
    WORKSPACE.clear()  # the graph's buffers are in use: they come back when it is freed
    output.sum().backward()
    assert len(WORKSPACE.free) == 5


def test_workspace_drops_buffers_too_small_to_serve():
    workspace = Workspace()
    small = workspace.take((10,), np.float32)
    workspace.free.append(small.base)
    big = workspace.take((100,), np.float32)
    assert big.shape == (100,) and workspace.free == []
    workspace.free.append(big.base)
    assert workspace.take((5, 2), np.float32).base is big.base


# ---- the layer argument ---------------------------------------------------------------------------


def test_fused_is_the_default_and_records_one_node():
    layer = LSTM(UNITS)
    assert layer.implementation == "fused" and layer.get_config()["implementation"] == "fused"
    output = layer(tinyseq.tensor(np.ones((2, 50, 3), np.float32), requires_grad=True))
    assert output.dtype == np.float32
    assert output.parents[0].op == "fused_lstm"  # the last output is a slice of the one node


def test_implementation_round_trips_through_the_config():
    layer = GRU(3, implementation="cells")
    assert GRU(**layer.get_config()).implementation == "cells"


def test_bad_implementations_are_refused_by_name():
    with pytest.raises(ValueError, match=r"lstm: implementation must be one of 'fused', 'cells', 1, 2, got 'fast'"):
        LSTM(3, implementation="fast")
    with pytest.raises(ValueError, match=r"gru: implementation must be one of 'fused', 'cells', 1, 2, got 3"):
        GRU(3, implementation=3)
    with pytest.raises(ValueError, match=r"simple_rnn: implementation must be one of .*, got True"):
        SimpleRNN(3, implementation=True)


@pytest.mark.parametrize("implementation", ["fused", 1, 2])
def test_keras_implementation_numbers_run_the_fused_kernel(implementation):
    layer = LSTM(UNITS, implementation=implementation)
    assert layer.runs_fused and layer.get_config()["implementation"] == implementation
    assert layer(np.ones((2, 3, 2), np.float32)).parents[0].op == "fused_lstm"


@pytest.mark.parametrize("layer, reason", [
    (SimpleRNN(3, activation=lambda z: z * 2), "no hand-derived slope for the activation"),
    (LSTM(3, activation="softmax"), "no hand-derived slope for the activation <function softmax"),
    (GRU(3, recurrent_activation=lambda z: z), "no hand-derived slope for the recurrent_activation <function"),
])
def test_arguments_the_kernel_lacks_run_the_cells_loop(layer, reason):
    assert not layer.runs_fused
    with pytest.raises(TypeError, match=reason):
        fused_recurrence(layer.cell, None, [])
    output = layer(np.ones((1, 2, 1), np.float32))
    assert output.shape == (1, 3) and output.op != "getitem"  # not a slice of a fused node


def test_mixed_dtypes_are_refused():
    layer = LSTM(3, dtype="float64")
    layer(np.zeros((1, 1, 2)))
    with pytest.raises(TypeError, match=r"fused_lstm: inputs, weights and states have different dtypes"):
        layer(tinyseq.tensor(np.zeros((1, 2, 2), np.float32)))


# ---- length bucketing in fit ----------------------------------------------------------------------


def padded_reviews(count=200, maxlen=30, vocabulary=40, seed=0):
    """Pre-padded sequences of random lengths; label 1 when token 7 occurs."""
    rng = np.random.default_rng(seed)
    x = np.zeros((count, maxlen), dtype=np.int64)
    y = rng.integers(0, 2, size=count)
    for row, length in enumerate(rng.integers(1, maxlen + 1, size=count)):
        x[row, maxlen - length:] = rng.integers(8, vocabulary, size=length)
        if y[row]:
            x[row, maxlen - 1 - rng.integers(0, length)] = 7
    return x, y


def masked_model():
    model = Sequential([Embedding(40, 6, mask_zero=True), LSTM(5), Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer=Adam(learning_rate=0.02), metrics=["accuracy"])
    return model


def test_bucketed_order_is_a_permutation_of_similar_length_batches():
    x, _ = padded_reviews(1000)
    lengths = sequence_lengths(x)
    tinyseq.random.seed(0)
    order = length_bucketed_order(lengths, batch_size=20)
    assert sorted(order) == list(range(1000))
    bucketed = lengths[order].reshape(-1, 20)
    shuffled = lengths[np.random.default_rng(0).permutation(1000)].reshape(-1, 20)
    assert np.ptp(bucketed, axis=1).mean() < 0.6 * np.ptp(shuffled, axis=1).mean()  # similar lengths
    assert bucketed.max(axis=1).mean() < 0.9 * shuffled.max(axis=1).mean()  # fewer steps to run
    tinyseq.random.seed(0)
    np.testing.assert_array_equal(length_bucketed_order(lengths, batch_size=20), order)


def test_bucketed_order_takes_the_pools_in_turn():
    # Every run of BUCKET_POOL_BATCHES batches is one pool: a random sample cut by length, its
    # batches in a random order, so each run of steps sees every range of lengths once.
    lengths = np.random.default_rng(2).integers(1, 500, size=20 * BUCKET_POOL_BATCHES * 6)
    tinyseq.random.seed(0)
    batches = lengths[length_bucketed_order(lengths, batch_size=20)].reshape(6, BUCKET_POOL_BATCHES, 20)
    for pool in batches:
        by_length = pool[np.argsort(pool.min(axis=1))]
        assert np.all(by_length[:-1].max(axis=1) <= by_length[1:].min(axis=1))  # cut by length
        assert pool.max() > 400 and pool.min() < 100  # a random sample: long and short
    firsts = [np.argsort(np.argsort(pool.min(axis=1)))[0] for pool in batches]
    assert len(set(firsts)) > 1  # the pools' batches are not always in length order


def test_bucketed_order_ends_with_a_random_short_batch():
    lengths = np.arange(105) % 17
    tinyseq.random.seed(1)
    permutation = tinyseq.random.generator().permutation(105)
    tinyseq.random.seed(1)
    order = length_bucketed_order(lengths, batch_size=10)
    assert sorted(order) == list(range(105))
    np.testing.assert_array_equal(order[100:], permutation[100:])  # the 5 left over, not the longest
    unshuffled = length_bucketed_order(lengths, batch_size=10, shuffle=False)
    pool = 10 * BUCKET_POOL_BATCHES
    for start in range(0, 100, pool):  # each pool of consecutive samples sorted, the last one may be short
        members = slice(start, min(start + pool, 100))
        np.testing.assert_array_equal(unshuffled[members], start + np.argsort(lengths[members], kind="stable"))
    np.testing.assert_array_equal(unshuffled[100:], np.arange(100, 105))
    assert sorted(length_bucketed_order(lengths[:7], batch_size=10)) == list(range(7))  # no full batch


def test_bucketed_training_is_deterministic_and_resumes_exactly(tmp_path):
    x, y = padded_reviews()

    def run(callbacks=()):
        model = masked_model()
        history = model.fit(x, y, epochs=2, batch_size=16, verbose=0, callbacks=list(callbacks),
                            bucket_by_length=True)
        return model, history

    tinyseq.random.seed(3)
    straight, straight_history = run()
    tinyseq.random.seed(3)
    again, _ = run()
    for a, b in zip(straight.get_weights(), again.get_weights()):
        np.testing.assert_array_equal(a, b)

    class CtrlCInSecondEpoch(Callback):
        def on_train_batch_end(self, batch, logs=None):
            if self.model.training_state.epoch == 1 and batch == 4:
                os.kill(os.getpid(), signal.SIGINT)  # fit stops after this batch and checkpoints

    backup = tmp_path / "bucketed.backup"
    tinyseq.random.seed(3)
    with pytest.raises(KeyboardInterrupt, match="after batch 5 of"):  # Keras counts batches from 0
        run([BackupAndRestore(backup), CtrlCInSecondEpoch()])
    tinyseq.random.seed(999)  # the checkpoint restores the generator and the bucketed order
    resumed, resumed_history = run([BackupAndRestore(backup)])
    for a, b in zip(straight.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert resumed_history.history == straight_history.history


def test_masked_inference_runs_in_length_order_and_answers_in_input_order():
    x, y = padded_reviews(50, maxlen=30, seed=4)
    model = masked_model()
    tinyseq.random.seed(0)
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    batched = model.predict(x, batch_size=16, verbose=0)
    one_by_one = np.concatenate([model.predict(x[i:i + 1], verbose=0) for i in range(len(x))])
    np.testing.assert_allclose(batched, one_by_one, rtol=1e-5, atol=1e-7)  # float32, other product sizes
    loss, accuracy = model.evaluate(x, y, batch_size=16, verbose=0)
    assert accuracy == np.mean((batched[:, 0] > 0.5) == y)
    expected_loss = -np.mean(y * np.log(batched[:, 0]) + (1 - y) * np.log(1 - batched[:, 0]))
    assert abs(loss - expected_loss) < 1e-5
    visited, original_call = [], model.call

    def recording_call(inputs, **options):
        visited.append(sequence_lengths(np.asarray(inputs)))
        return original_call(inputs, **options)

    model.call = recording_call
    model.predict(x, batch_size=16, verbose=0)
    assert np.all(np.diff(np.concatenate(visited)) >= 0)  # the batches went shortest first


def test_sequence_lengths_count_the_real_steps():
    np.testing.assert_array_equal(sequence_lengths(np.array([[0, 0, 3, 4], [5, 0, 6, 0]])), [2, 2])
    features = np.zeros((2, 3, 2))
    features[0, 1, 1] = 1.0
    np.testing.assert_array_equal(sequence_lengths(features), [1, 0])
    with pytest.raises(ValueError, match=r"bucket_by_length: needs sequences"):
        sequence_lengths(np.ones(4))
