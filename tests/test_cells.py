"""Recurrent cells against independent numpy implementations of their equations.

The numpy steps below take the weights in Keras's layout and slice out each gate's block by
hand, so they share nothing with the cells' code. test_recurrent.py reuses them.
"""

import json

import numpy as np
import pytest

import tinyseq
from tinyseq import ShapeError, Tensor, gradcheck
from tinyseq.layers import GRUCell, LSTMCell, SimpleRNNCell

# ---- independent numpy references ------------------------------------------------------------


def np_sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def block(matrix, index, units):
    """Columns of gate `index` in a Keras-layout kernel or bias."""
    return matrix[..., index * units:(index + 1) * units]


def simple_rnn_step(x, states, weights):
    kernel, recurrent_kernel, bias = weights
    (h,) = states
    h_new = np.tanh(x @ kernel + h @ recurrent_kernel + bias)
    return h_new, [h_new]


def lstm_step(x, states, weights):
    kernel, recurrent_kernel, bias = weights
    h, c = states
    u = h.shape[1]

    def pre_activation(gate):
        return x @ block(kernel, gate, u) + h @ block(recurrent_kernel, gate, u) + block(bias, gate, u)

    i = np_sigmoid(pre_activation(0))
    f = np_sigmoid(pre_activation(1))
    g = np.tanh(pre_activation(2))
    o = np_sigmoid(pre_activation(3))
    c_new = f * c + i * g
    h_new = o * np.tanh(c_new)
    return h_new, [h_new, c_new]


def gru_step(x, states, weights):
    kernel, recurrent_kernel, bias = weights
    (h,) = states
    u = h.shape[1]
    input_bias, recurrent_bias = bias[0], bias[1]
    z = np_sigmoid(x @ block(kernel, 0, u) + block(input_bias, 0, u)
                   + h @ block(recurrent_kernel, 0, u) + block(recurrent_bias, 0, u))
    r = np_sigmoid(x @ block(kernel, 1, u) + block(input_bias, 1, u)
                   + h @ block(recurrent_kernel, 1, u) + block(recurrent_bias, 1, u))
    hh = np.tanh(x @ block(kernel, 2, u) + block(input_bias, 2, u)
                 + r * (h @ block(recurrent_kernel, 2, u) + block(recurrent_bias, 2, u)))
    h_new = z * h + (1 - z) * hh
    return h_new, [h_new]


# cell class, numpy step, number of states, gates
CELLS = {
    "simple_rnn": (SimpleRNNCell, simple_rnn_step, 1, 1),
    "lstm": (LSTMCell, lstm_step, 2, 4),
    "gru": (GRUCell, gru_step, 1, 3),
}


def random_weights(cell, rng, scale=0.5):
    return [scale * rng.standard_normal(w.shape) for w in cell.get_weights()]


def built_cell(kind, units, features, rng):
    """A float64 cell with random weights, built for `features` inputs."""
    cell_class = CELLS[kind][0]
    cell = cell_class(units, dtype="float64")
    cell(np.zeros((1, features)), cell.get_initial_state(1))
    weights = random_weights(cell, rng)
    cell.set_weights(weights)
    return cell, weights


# ---- forward values ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", CELLS)
def test_cell_step_matches_numpy_equations(kind):
    rng = np.random.default_rng(1)
    _, reference_step, state_count, _ = CELLS[kind]
    cell, weights = built_cell(kind, units=4, features=3, rng=rng)
    x = rng.standard_normal((5, 3))
    states = [rng.standard_normal((5, 4)) for _ in range(state_count)]

    output, new_states = cell(x, states)
    expected_output, expected_states = reference_step(x, states, weights)

    assert isinstance(new_states, list) and len(new_states) == state_count
    np.testing.assert_allclose(output.data, expected_output, rtol=0, atol=1e-12)
    for got, expected in zip(new_states, expected_states):
        np.testing.assert_allclose(got.data, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("kind", CELLS)
def test_five_steps_match_numpy(kind):
    rng = np.random.default_rng(2)
    _, reference_step, state_count, _ = CELLS[kind]
    cell, weights = built_cell(kind, units=3, features=2, rng=rng)
    xs = rng.standard_normal((5, 4, 2))
    states = cell.get_initial_state(4)
    expected = [np.zeros((4, 3))] * state_count
    for x in xs:
        output, states = cell(x, states)
        expected_output, expected = reference_step(x, expected, weights)
    np.testing.assert_allclose(output.data, expected_output, rtol=0, atol=1e-12)


def test_a_single_state_may_be_passed_bare():
    rng = np.random.default_rng(3)
    cell, weights = built_cell("gru", units=2, features=2, rng=rng)
    x, h = rng.standard_normal((3, 2)), rng.standard_normal((3, 2))
    output, _ = cell(x, h)
    np.testing.assert_allclose(output.data, gru_step(x, [h], weights)[0], rtol=0, atol=1e-12)


# ---- gradients ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", CELLS)
def test_gradients_over_five_steps_pass_gradcheck(kind):
    """Gradients reach the inputs, the initial states and all three weights."""
    rng = np.random.default_rng(4)
    _, _, state_count, _ = CELLS[kind]
    cell, weights = built_cell(kind, units=2, features=3, rng=rng)
    xs = rng.standard_normal((5, 2, 3))
    states = [rng.standard_normal((2, 2)) for _ in range(state_count)]

    def five_steps(xs, kernel, recurrent_kernel, bias, *states):
        # The leaves gradcheck made replace the cell's weights, so it differentiates them.
        cell.kernel, cell.recurrent_kernel, cell.bias = kernel, recurrent_kernel, bias
        states = list(states)
        outputs = []
        for t in range(xs.shape[0]):
            output, states = cell(xs[t], states)
            outputs.append(output)
        return tinyseq.stack(outputs + states)

    gradcheck(five_steps, xs, *weights, *states)


# ---- structure ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind, units, features", [("simple_rnn", 5, 3), ("lstm", 4, 6), ("gru", 3, 2)])
def test_weights_have_keras_shapes_and_order(kind, units, features):
    cell_class, _, _, gates = CELLS[kind]
    cell = cell_class(units)
    cell(np.zeros((1, features)), cell.get_initial_state(1))
    bias_shape = (2, 3 * units) if kind == "gru" else (gates * units,)
    assert [name for name, _ in cell.named_parameters()] == ["kernel", "recurrent_kernel", "bias"]
    expected = [(features, gates * units), (units, gates * units), bias_shape]
    assert [w.shape for w in cell.get_weights()] == expected


def test_state_size_as_keras():
    assert SimpleRNNCell(5).state_size == 5
    assert GRUCell(5).state_size == 5
    assert LSTMCell(5).state_size == [5, 5]
    assert LSTMCell(5).output_size == 5


def test_lstm_ops_are_grouped_in_one_name_scope_per_gate():
    cell = LSTMCell(3, name="cell")
    output, (_, new_cell) = cell(np.ones((2, 4)), cell.get_initial_state(2))
    nodes, stack = set(), [output, new_cell]
    while stack:
        node = stack.pop()
        if node not in nodes:
            nodes.add(node)
            stack.extend(node.parents)
    scopes = {node.scope[-1] for node in nodes if node.op != "leaf"}
    assert {"projection", "input_gate", "forget_gate", "candidate", "output_gate",
            "cell_state", "hidden_state"} <= scopes
    # Each gate's activation takes its own named block of z, split off in the projection.
    block_of = {"input_gate": "z_i", "forget_gate": "z_f", "candidate": "z_c", "output_gate": "z_o"}
    activations = {node.scope[-1]: node for node in nodes if node.op in ("sigmoid", "tanh")
                   and node.scope[-1] in block_of}
    assert sorted(activations) == sorted(block_of)
    for gate, activation in activations.items():
        (block,) = activation.parents
        assert (block.op, block.name, block.scope[-1]) == ("getitem", block_of[gate], "projection")
    assert all(node.scope[0] == "cell" for node in nodes if node.op != "leaf")


def test_gru_and_simple_rnn_name_their_parts():
    for cell, expected in [(GRUCell(2), {"update_gate", "reset_gate", "candidate", "hidden_state"}),
                           (SimpleRNNCell(2), {"hidden_state"})]:
        output, _ = cell(np.ones((1, 2)), cell.get_initial_state(1))
        assert output.scope[-1] == "hidden_state"
        seen, stack = set(), [output]
        while stack:
            node = stack.pop()
            seen.add(node.scope[-1] if node.scope else None)
            stack.extend(node.parents)
        assert expected <= seen


def test_gru_names_the_blocks_of_its_projections():
    cell = GRUCell(2)
    output, _ = cell(np.ones((1, 3)), cell.get_initial_state(1))
    seen, stack = {}, [output]
    while stack:
        node = stack.pop()
        if node.name:
            seen[node.name] = node
        stack.extend(node.parents)
    assert sorted(seen) == ["h_h", "h_r", "h_z", "x_h", "x_r", "x_z"]
    assert all(block.op == "getitem" and block.scope[-1] == "projection" for block in seen.values())
    assert all(block.shape == (1, 2) for block in seen.values())


def test_lstm_forget_bias_starts_at_one():
    cell = LSTMCell(3)
    cell(np.zeros((1, 2)), cell.get_initial_state(1))
    np.testing.assert_array_equal(cell.bias.data, [0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    plain = LSTMCell(3, unit_forget_bias=False)
    plain(np.zeros((1, 2)), plain.get_initial_state(1))
    np.testing.assert_array_equal(plain.bias.data, np.zeros(12))


@pytest.mark.parametrize("kind", CELLS)
def test_get_config_rebuilds_the_cell(kind):
    cell = CELLS[kind][0](7, name="my_cell", dtype="float64")
    config = cell.get_config()
    json.dumps(config)
    rebuilt = type(cell)(**config)
    assert rebuilt.get_config() == config
    assert config["name"] == "my_cell" and config["dtype"] == "float64" and config["units"] == 7


# ---- bad input ------------------------------------------------------------------------------


def test_wrong_number_of_states_is_refused():
    cell = LSTMCell(4, name="memory")
    with pytest.raises(ValueError, match=r"memory: states: expected 2 state\(s\) \[h, c\], got 1"):
        cell(np.zeros((2, 3)), [np.zeros((2, 4))])


def test_state_of_wrong_shape_is_refused():
    cell = GRUCell(4, name="gru_cell_x")
    with pytest.raises(ShapeError, match=r"gru_cell_x: states: state h has shape \(2, 5\); expected \(2, 4\)"):
        cell(np.zeros((2, 3)), [np.zeros((2, 5))])


def test_built_cell_refuses_a_different_feature_size():
    cell = SimpleRNNCell(2, name="rnn_cell_x")
    cell(np.zeros((1, 3)), cell.get_initial_state(1))
    with pytest.raises(ShapeError, match=r"rnn_cell_x: expected inputs with 3 features .*got shape \(1, 4\)"):
        cell(np.zeros((1, 4)), cell.get_initial_state(1))


def test_cell_refuses_a_sequence():
    cell = LSTMCell(2, name="step_only")
    with pytest.raises(ShapeError, match=r"step_only: expected a 2-D input \(batch, features\), "
                                         r"got a 3-D input"):
        cell(np.zeros((1, 5, 3)), cell.get_initial_state(1))


def test_cell_accepts_a_tensor_input_of_its_dtype():
    cell = SimpleRNNCell(2)
    output, _ = cell(Tensor(np.ones((1, 3), dtype=np.float32)), cell.get_initial_state(1))
    assert output.dtype == np.float32


# ---- Keras's arguments: activations, use_bias, reset_after, dropout masks -------------------------


def np_softmax(x):
    exps = np.exp(x - x.max(axis=-1, keepdims=True))
    return exps / exps.sum(axis=-1, keepdims=True)


NP_ACTIVATIONS = {"tanh": np.tanh, "sigmoid": np_sigmoid, "relu": lambda v: np.maximum(v, 0),
                  "linear": lambda v: v, "softmax": np_softmax, "hard_sigmoid": lambda v: np.clip(v / 6 + 0.5, 0, 1)}


def keras_step(kind, x, states, weights, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
               reset_after=True, input_masks=None, recurrent_masks=None):
    """Keras's implementation-1 equations, one gate at a time: gate k sees x · input_masks[k] and
    h · recurrent_masks[k] (a single mask serves every gate; None means no dropout)."""
    kernel, recurrent_kernel = weights[:2]
    bias = weights[2] if use_bias else None
    h, u = states[0], states[0].shape[1]
    gates = CELLS[kind][3]

    def masked(value, masks, k):
        return value if masks is None else value * masks[k if len(masks) > 1 else 0]

    xs = [masked(x, input_masks, k) for k in range(gates)]
    hs = [masked(h, recurrent_masks, k) for k in range(gates)]
    input_bias, recurrent_bias = bias if kind == "gru" and reset_after and use_bias else (bias, None)

    def x_part(k):
        return xs[k] @ block(kernel, k, u) + (0 if input_bias is None else block(input_bias, k, u))

    def h_part(k):
        return hs[k] @ block(recurrent_kernel, k, u) + (0 if recurrent_bias is None else block(recurrent_bias, k, u))

    act, squash = NP_ACTIVATIONS[activation], NP_ACTIVATIONS[recurrent_activation]
    if kind == "simple_rnn":
        h_new = act(x_part(0) + h_part(0))
        return h_new, [h_new]
    if kind == "lstm":
        i, f = squash(x_part(0) + h_part(0)), squash(x_part(1) + h_part(1))
        g, o = act(x_part(2) + h_part(2)), squash(x_part(3) + h_part(3))
        c_new = f * states[1] + i * g
        h_new = o * act(c_new)
        return h_new, [h_new, c_new]
    z, r = squash(x_part(0) + h_part(0)), squash(x_part(1) + h_part(1))
    if reset_after:
        hh = act(x_part(2) + r * h_part(2))
    else:
        hh = act(x_part(2) + (r * hs[2]) @ block(recurrent_kernel, 2, u))
    h_new = z * h + (1 - z) * hh
    return h_new, [h_new]


ARGUMENT_CASES = [
    ("simple_rnn", {"activation": "relu"}), ("simple_rnn", {"activation": "softmax"}),
    ("simple_rnn", {"use_bias": False}),
    ("lstm", {}), ("lstm", {"activation": "relu", "recurrent_activation": "tanh"}), ("lstm", {"use_bias": False}),
    ("lstm", {"recurrent_activation": "hard_sigmoid"}),
    ("gru", {}), ("gru", {"reset_after": False}), ("gru", {"reset_after": False, "use_bias": False}),
    ("gru", {"use_bias": False}), ("gru", {"activation": "sigmoid", "recurrent_activation": "linear"}),
]


def random_masks(rng, count, batch, size, rate=0.4):
    return ((rng.random((count, batch, size)) >= rate) / (1 - rate)).astype(np.float64)


@pytest.mark.parametrize("kind, options", ARGUMENT_CASES)
@pytest.mark.parametrize("masks", ["none", "shared", "per_gate"])
def test_cell_arguments_and_dropout_masks_match_keras_equations(kind, options, masks):
    rng = np.random.default_rng(5)
    cell = CELLS[kind][0](4, dtype="float64", **options)
    cell(np.zeros((1, 3)), cell.get_initial_state(1))
    weights = random_weights(cell, rng)
    cell.set_weights(weights)
    x = rng.standard_normal((5, 3))
    states = [rng.standard_normal((5, 4)) for _ in cell.state_names]
    count = {"none": 0, "shared": 1, "per_gate": CELLS[kind][3]}[masks]
    input_masks = random_masks(rng, count, 5, 3) if count else None
    recurrent_masks = random_masks(rng, count, 5, 4) if count else None

    output, new_states = cell.step(cell.project_inputs(x, input_masks), states, recurrent_masks=recurrent_masks)
    expected_output, expected_states = keras_step(kind, x, states, weights, input_masks=input_masks,
                                                  recurrent_masks=recurrent_masks, **options)
    np.testing.assert_allclose(output.data, expected_output, rtol=0, atol=1e-12)
    for got, expected in zip(new_states, expected_states):
        np.testing.assert_allclose(got.data, expected, rtol=0, atol=1e-12)
    if count:  # the masks matter: without them the step differs
        plain, _ = keras_step(kind, x, states, weights, **options)
        assert np.abs(plain - expected_output).max() > 1e-3


@pytest.mark.parametrize("kind, options", [("simple_rnn", {"activation": "softmax"}), ("lstm", {"use_bias": False}),
                                           ("gru", {"reset_after": False}), ("gru", {})])
def test_dropped_out_steps_pass_gradcheck(kind, options):
    rng = np.random.default_rng(6)
    cell = CELLS[kind][0](2, dtype="float64", recurrent_dropout=0.5, **options)  # one mask per gate
    cell(np.zeros((1, 3)), cell.get_initial_state(1))
    tinyseq.set_seed(3)
    input_masks, recurrent_masks = cell.draw_dropout_masks(2)
    weights = random_weights(cell, rng)
    xs = rng.standard_normal((4, 2, 3))
    states = [rng.standard_normal((2, 2)) for _ in cell.state_names]

    def four_steps(xs, *leaves):
        cell.kernel, cell.recurrent_kernel = leaves[:2]
        if cell.use_bias:
            cell.bias = leaves[2]
        states = list(leaves[len(weights):])
        outputs = []
        for t in range(xs.shape[0]):
            output, states = cell.step(cell.project_inputs(xs[t], input_masks), states,
                                       recurrent_masks=recurrent_masks)
            outputs.append(output)
        return tinyseq.stack(outputs + states)

    gradcheck(four_steps, xs, *weights, *states)


@pytest.mark.parametrize("kind, options, count", [
    ("simple_rnn", {"dropout": 0.5, "recurrent_dropout": 0.5}, 1),
    ("lstm", {"dropout": 0.5}, 1), ("lstm", {"dropout": 0.5, "implementation": 1}, 4),
    ("lstm", {"dropout": 0.5, "recurrent_dropout": 0.5}, 4), ("gru", {"dropout": 0.5}, 1),
    ("gru", {"dropout": 0.5, "recurrent_dropout": 0.5}, 3)])
def test_dropout_masks_are_drawn_as_keras_draws_them(kind, options, count):
    cell = CELLS[kind][0](6, **options)
    cell(np.zeros((1, 5)), cell.get_initial_state(1), training=False)
    input_masks, recurrent_masks = cell.draw_dropout_masks(3)
    assert input_masks.shape == (count, 3, 5) and input_masks.dtype == np.float32
    if options.get("recurrent_dropout"):
        assert recurrent_masks.shape == (count, 3, 6)
    else:
        assert recurrent_masks is None
    assert set(np.unique(input_masks)) <= {0.0, 2.0}  # survivors scaled by 1 / (1 - rate)


def test_dropout_keeps_the_expected_value_and_drops_the_rate():
    cell = LSTMCell(100, dropout=0.2, recurrent_dropout=0.7)
    cell(np.zeros((1, 50)), cell.get_initial_state(1), training=False)
    tinyseq.set_seed(0)
    input_masks, recurrent_masks = cell.draw_dropout_masks(400)
    for masks, rate in [(input_masks, 0.2), (recurrent_masks, 0.7)]:
        assert abs(np.mean(masks == 0) - rate) < 0.005
        assert abs(masks.mean() - 1) < 0.01
        np.testing.assert_allclose(masks[masks > 0], 1 / (1 - rate), rtol=1e-6)


def test_masks_come_from_the_shared_generator_or_the_cells_own_seed():
    shared, seeded = GRUCell(4, dropout=0.5), GRUCell(4, dropout=0.5, seed=11)
    for cell in (shared, seeded):
        cell(np.zeros((1, 3)), cell.get_initial_state(1), training=False)
    tinyseq.set_seed(1)
    first = shared.draw_dropout_masks(8)[0]
    tinyseq.set_seed(1)
    np.testing.assert_array_equal(shared.draw_dropout_masks(8)[0], first)
    again = GRUCell(4, dropout=0.5, seed=11)
    again(np.zeros((1, 3)), again.get_initial_state(1), training=False)
    tinyseq.set_seed(2)
    np.testing.assert_array_equal(seeded.draw_dropout_masks(8)[0], again.draw_dropout_masks(8)[0])


def test_a_cell_drops_out_only_in_training():
    rng = np.random.default_rng(7)
    cell = SimpleRNNCell(4, dropout=0.5, recurrent_dropout=0.5, dtype="float64")
    x, h = rng.standard_normal((3, 2)), rng.standard_normal((3, 4))
    plain, _ = cell(x, [h], training=False)
    weights = cell.get_weights()
    np.testing.assert_allclose(plain.data, simple_rnn_step(x, [h], weights)[0], rtol=0, atol=1e-12)
    tinyseq.set_seed(4)
    input_masks, recurrent_masks = cell.draw_dropout_masks(3)
    tinyseq.set_seed(4)
    dropped, _ = cell(x, [h], training=True)
    expected, _ = keras_step("simple_rnn", x, [h], weights, input_masks=input_masks,
                             recurrent_masks=recurrent_masks)
    np.testing.assert_allclose(dropped.data, expected, rtol=0, atol=1e-12)
    assert np.abs(dropped.data - plain.data).max() > 1e-3


def test_a_cell_without_bias_has_keras_two_weights():
    for cell in (SimpleRNNCell(3, use_bias=False), LSTMCell(3, use_bias=False), GRUCell(3, use_bias=False)):
        cell(np.zeros((1, 2)), cell.get_initial_state(1))
        assert cell.bias is None and [name for name, _ in cell.named_parameters()] == ["kernel", "recurrent_kernel"]
    original = GRUCell(3, reset_after=False)
    original(np.zeros((1, 2)), original.get_initial_state(1))
    assert original.bias.shape == (9,)


@pytest.mark.parametrize("kind, options", [
    ("simple_rnn", {"activation": "relu", "use_bias": False, "dropout": 0.1, "recurrent_dropout": 0.2, "seed": 5}),
    ("lstm", {"activation": "relu", "recurrent_activation": "tanh", "implementation": 1, "dropout": 0.3}),
    ("gru", {"reset_after": False, "recurrent_activation": "linear", "recurrent_dropout": 0.25, "seed": 0})])
def test_new_arguments_round_trip_through_the_config(kind, options):
    config = CELLS[kind][0](3, **options).get_config()
    json.dumps(config)
    for argument, value in options.items():
        assert config[argument] == value
    assert type(CELLS[kind][0](3))(**config).get_config() == config


@pytest.mark.parametrize("options, message", [
    ({"dropout": 1.0}, r"lstm_cell: dropout must be a number in \[0, 1\), got 1.0"),
    ({"recurrent_dropout": -0.1}, r"lstm_cell: recurrent_dropout must be a number in \[0, 1\), got -0.1"),
    ({"implementation": 3}, r"lstm_cell: implementation must be one of 1, 2, got 3"),
    ({"seed": -1}, r"lstm_cell: seed must be a non-negative integer, got -1"),
    ({"use_bias": 1}, r"lstm_cell: use_bias must be True or False, got 1"),
    ({"recurrent_activation": "wiggle"}, r"Unknown activation 'wiggle'")])
def test_bad_arguments_are_refused_by_name(options, message):
    with pytest.raises(ValueError, match=message):
        LSTMCell(3, **options)
