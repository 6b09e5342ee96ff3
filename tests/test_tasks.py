"""The long-memory tasks (adding, copying, temporal order), the cells by name, and settings-driven runs.

Each generator is checked against its definition, each baseline against its formula and against a
Monte-Carlo estimate of the best no-memory loss; every task trains every cell for a few
iterations; bad settings are refused by name.
"""

import dataclasses
import json
import math
import re

import numpy as np
import pytest

from tinyseq import random
from tinyseq.apps.cli import main
from tinyseq.experiments import cells, copying, temporal_order
from tinyseq.experiments.adding import ADDING, BASELINE_MSE, adding_batch
from tinyseq.experiments.common import jsonable
from tinyseq.experiments.tasks import TASKS, get_task, run_task, train_task
from tinyseq.experiments.training import LEAVE_BASELINE_FRACTION, TrainingSettings, build_network, leaves_baseline
from tinyseq.nn.cells import SimpleRNNCell

TINY = TrainingSettings(units=8, batch_size=8, eval_every=2, test_size=32)


def empirical_entropy_per_step(targets, categories):
    """The entropy (nats) of the targets' distribution at each step, averaged over the steps: the
    loss of the best predictor that knows the step but nothing of the inputs, estimated."""
    counts = np.stack([(targets == category).mean(axis=0) for category in range(categories)])
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(counts > 0, -counts * np.log(counts), 0.0)
    return float(terms.sum(axis=0).mean())


# ---- copying -------------------------------------------------------------------------------------
@pytest.mark.parametrize("delay", [1, 7, 100])
def test_copying_sequences_follow_arjovsky_et_al(delay):
    x, y = copying.copying_batch(500, delay, np.random.default_rng(delay))
    steps = delay + 20
    assert x.shape == (500, steps, 10) and x.dtype == np.float32 and y.shape == (500, steps)
    assert np.all(x.sum(axis=-1) == 1)                                  # one-hot
    inputs = x.argmax(axis=-1)
    symbols = inputs[:, :10]
    assert symbols.min() == 0 and symbols.max() == 7                    # drawn from the 8 symbols
    np.testing.assert_array_equal(inputs[:, 10:delay + 9], 8)            # T - 1 blanks
    np.testing.assert_array_equal(inputs[:, delay + 9], 9)               # the delimiter
    np.testing.assert_array_equal(inputs[:, delay + 10:], 8)             # 10 more blanks
    np.testing.assert_array_equal(y[:, :delay + 10], 8)                  # T + 10 blank targets...
    np.testing.assert_array_equal(y[:, delay + 10:], symbols)            # ...then the symbols, in order


@pytest.mark.parametrize("delay", [1, 10, 100, 200])
def test_copying_baseline_is_the_memoryless_loss(delay):
    assert copying.copying_baseline(delay) == pytest.approx(10 * math.log(8) / (delay + 20), rel=1e-15)
    assert COPYING_TASK.baseline(delay) == copying.copying_baseline(delay)
    # Monte Carlo: no predictor that ignores the symbols can beat the per-step entropy of the targets.
    _, y = copying.copying_batch(20000, delay, np.random.default_rng(0))
    assert empirical_entropy_per_step(y, 10) == pytest.approx(copying.copying_baseline(delay), rel=0.01)


COPYING_TASK = TASKS["copying"]


def test_the_memoryless_strategy_scores_exactly_the_copying_baseline():
    delay = 30
    x, y = copying.copying_batch(64, delay, np.random.default_rng(1))
    logits = np.zeros((64, delay + 20, 10))
    logits[:, :delay + 10, 8] = 100.0        # sure of the blank while the answer cannot start
    logits[:, delay + 10:, :8] = 0.0         # then uniform over the 8 symbols
    logits[:, delay + 10:, 8:] = -100.0
    loss = np.mean(COPYING_TASK.loss_function(y, logits).data)
    assert loss == pytest.approx(copying.copying_baseline(delay), rel=1e-6)


def test_copying_accuracy_counts_only_the_recalled_symbols():
    x, y = copying.copying_batch(4, 5, np.random.default_rng(2))
    logits = np.eye(10)[y] * 5.0
    assert copying.recall_accuracy(y, logits) == 1.0
    logits[:, :10] = 0.0                     # wrong blanks do not count
    assert copying.recall_accuracy(y, logits) == 1.0
    logits[0, -1] = np.eye(10)[(y[0, -1] + 1) % 8] * 5.0
    assert copying.recall_accuracy(y, logits) == pytest.approx(39 / 40)


# ---- temporal order --------------------------------------------------------------------------------
@pytest.mark.parametrize("length", [10, 57, 100])
def test_temporal_order_sequences_follow_hochreiter_and_schmidhuber(length):
    x, y = temporal_order.temporal_order_batch(3000, length, np.random.default_rng(length))
    assert x.shape == (3000, length, 8) and x.dtype == np.float32 and y.shape == (3000,)
    assert np.all(x.sum(axis=-1) == 1)
    symbols = x.argmax(axis=-1)
    assert np.all(symbols[:, 0] == temporal_order.B) and np.all(symbols[:, -1] == temporal_order.E)
    middle = symbols[:, 1:-1]
    is_marker = (middle == temporal_order.X) | (middle == temporal_order.Y)
    assert np.all(is_marker.sum(axis=1) == 2)                            # exactly two markers
    assert np.all((middle < 4) | is_marker)                              # the rest distractors a-d
    first, second = (np.nonzero(is_marker)[1].reshape(-1, 2) + 1).T       # steps counted from 0
    (first_low, first_high), (second_low, second_high) = temporal_order.marker_ranges(length)
    assert set(first) == set(range(first_low, first_high + 1))           # every allowed step, and only those
    assert set(second) == set(range(second_low, second_high + 1))
    rows = np.arange(3000)
    first_is_y = symbols[rows, first] == temporal_order.Y
    second_is_y = symbols[rows, second] == temporal_order.Y
    np.testing.assert_array_equal(y, 2 * first_is_y + second_is_y)       # XX 0, XY 1, YX 2, YY 3


def test_temporal_order_ranges_at_length_100_are_the_papers():
    assert temporal_order.marker_ranges(100) == ((10, 20), (50, 60))
    assert temporal_order.marker_ranges(10) == ((1, 2), (5, 6))          # never on B or E


def test_temporal_order_baseline_is_ln_4_and_the_classes_are_uniform():
    assert TASKS["temporal_order"].baseline(50) == math.log(4)
    _, y = temporal_order.temporal_order_batch(40000, 30, np.random.default_rng(3))
    frequencies = np.bincount(y, minlength=4) / len(y)
    entropy = -np.sum(frequencies * np.log(frequencies))
    assert entropy == pytest.approx(math.log(4), abs=1e-3)
    np.testing.assert_allclose(frequencies, 0.25, atol=0.01)


# ---- adding ------------------------------------------------------------------------------------------
def test_adding_baseline_matches_its_target_definition():
    # Values U[0, 1], the target the sum of the two marked ones: predicting the mean, 1, costs
    # Var(U1 + U2) = 2/12 = 1/6, and no constant does better.
    x, y = adding_batch(100000, 20, np.random.default_rng(4))
    assert BASELINE_MSE == ADDING.baseline(20) == pytest.approx(1 / 6, rel=1e-15)
    assert np.mean((y - 1) ** 2) == pytest.approx(1 / 6, rel=0.01)
    assert np.var(y) == pytest.approx(1 / 6, rel=0.01) and np.mean(y) == pytest.approx(1, abs=0.005)


@pytest.mark.parametrize("length", [10, 11, 100])
def test_seeing_only_the_last_step_beats_the_adding_baseline_by_the_stated_margin(length):
    x, y = adding_batch(200000, length, np.random.default_rng(length))
    value, marked = x[:, -1, 0], x[:, -1, 1] == 1
    guess = np.where(marked, value + 0.5, 1.0)              # the best use of the last step alone
    expected = 1 / 6 - 1 / (12 * (length - length // 2))
    assert np.mean((y[:, 0] - guess) ** 2) == pytest.approx(expected, rel=0.01)


# ---- leaving the baseline ---------------------------------------------------------------------------
def test_iterations_to_leave_the_baseline_is_the_first_evaluation_below_nine_tenths_of_it():
    assert LEAVE_BASELINE_FRACTION == 0.9
    curve = [[25, 1.0], [50, 0.95], [75, 0.9], [100, 0.89], [125, 0.95]]
    assert leaves_baseline(curve, 1.0) == 100                            # 0.9 itself does not count
    assert leaves_baseline(curve, 0.5) is None


# ---- cells ----------------------------------------------------------------------------------------------
def test_the_irnn_starts_as_le_jaitly_and_hinton_say():
    random.seed(0)
    cell = cells.make_cell("irnn", 64)
    cell.build((1, 1000))
    np.testing.assert_array_equal(cell.recurrent_kernel.data, np.eye(64))
    np.testing.assert_array_equal(cell.bias.data, 0)
    assert abs(cell.kernel.data.mean()) < 1e-5 and cell.kernel.data.std() == pytest.approx(0.001, rel=0.01)
    assert cell.activation(np.array([-1.0, 2.0])).data.tolist() == [0.0, 2.0]   # ReLU


def test_the_layer_of_each_named_cell_is_fused_and_draws_the_library_layers_weights():
    from tinyseq.nn import GRU, LSTM, SimpleRNN
    for name, layer_class in (("rnn", SimpleRNN), ("lstm", LSTM), ("gru", GRU)):
        random.seed(5)
        ours = cells.recurrent_layer(name, 6)
        ours.build((None, 4, 3))
        random.seed(5)
        theirs = layer_class(6)
        theirs.build((None, 4, 3))
        assert ours.implementation == "fused"
        for mine, library in zip(ours.parameters(), theirs.parameters()):
            np.testing.assert_array_equal(mine.data, library.data)
    assert cells.recurrent_layer("irnn", 6).implementation == "fused"


@pytest.mark.parametrize("task, t_max", [("adding", 40), ("copying", 50), ("temporal_order", 36)])
def test_chrono_lstm_uses_the_tasks_longest_dependency(task, t_max):
    random.seed(1)
    network = build_network(TASKS[task], "lstm_chrono", 40, TrainingSettings(units=64))
    bias = network.layers[0].cell.bias.data
    forget = bias[64:128]
    assert np.all(forget >= 0) and np.all(forget <= np.float32(math.log(t_max - 1)))
    assert forget.max() > np.float32(math.log(t_max - 1)) - 0.2         # spread up to log(T_max - 1)
    np.testing.assert_array_equal(bias[:64], -forget)


def test_cell_names_are_checked_and_chrono_lstm_is_another_spelling():
    assert cells.check_cells(["rnn", "chrono-lstm"], "f") == ("rnn", "lstm_chrono")
    with pytest.raises(ValueError, match=re.escape("f: unknown cell 'tanh'; the cells are 'rnn', 'irnn', 'lstm', "
                                                   "'lstm_chrono', 'gru'")):
        cells.check_cells(["tanh"], "f")
    with pytest.raises(ValueError, match=re.escape("f: cells lists 'lstm_chrono' more than once")):
        cells.check_cells(["lstm_chrono", "chrono-lstm"], "f")
    with pytest.raises(TypeError, match="a RecurrentCell subclass, got"):
        cells.check_cells([SimpleRNNCell(4)], "f")                        # an instance, not a class


# ---- training runs -----------------------------------------------------------------------------------
@pytest.mark.parametrize("cell", cells.CELL_NAMES)
@pytest.mark.parametrize("task", list(TASKS))
def test_every_task_trains_every_cell(task, cell):
    length = TASKS[task].min_length + 3
    run = train_task(task, cell, length, seed=1, iterations=5, settings=TINY)
    assert (run.task, run.cell, run.length, run.seed, run.iterations) == (task, cell, length, 1, 5)
    assert [iteration for iteration, _ in run.curve] == [2, 4, 5]
    assert run.baseline == TASKS[task].baseline(length)
    assert run.final_loss == run.curve[-1][1] and math.isfinite(run.final_loss)
    if task == "adding":
        assert run.accuracy_curve == [] and run.final_accuracy is None
    else:
        assert [i for i, _ in run.accuracy_curve] == [2, 4, 5] and 0 <= run.final_accuracy <= 1
    assert run.iterations_to_leave_baseline == leaves_baseline(run.curve, run.baseline)
    assert run.settings == dataclasses.asdict(TINY)
    json.dumps(jsonable(dataclasses.asdict(run)), allow_nan=False)


def test_a_run_repeats_exactly_and_every_cell_of_a_seed_sees_the_same_test_set():
    first = train_task("copying", "gru", 3, seed=2, iterations=4, settings=TINY)
    again = train_task("copying", "gru", 3, seed=2, iterations=4, settings=TINY)
    assert first.curve == again.curve and first.accuracy_curve == again.accuracy_curve


class HalvingCell(SimpleRNNCell):
    """A learner's cell: a tanh RNN whose new state is half the usual one."""

    def step(self, projected_inputs, states, **options):
        output, (hidden,) = super().step(projected_inputs, states, **options)
        return output * 0.5, [hidden * 0.5]


def test_a_learners_own_cell_class_trains_and_is_recorded_by_name():
    run = train_task("temporal-order", HalvingCell, 12, iterations=3, settings=TINY)
    assert run.cell == "HalvingCell" and run.task == "temporal_order"
    result = run_task("adding", cells=(HalvingCell, "rnn"), lengths=(4,), iterations=2, settings=TINY)
    assert result.cells == ["HalvingCell", "rnn"]
    assert "HalvingCell" in result.table() and "SimpleRNN" in result.table()


def test_run_task_tables_rows_json_and_plot(tmp_path):
    result = run_task("temporal_order", cells=("irnn", "lstm"), lengths=(10, 12), seeds=(0, 1), iterations=3,
                      settings=TINY)
    assert [(r.length, r.cell, r.seed) for r in result.runs] == [
        (10, "irnn", 0), (10, "irnn", 1), (10, "lstm", 0), (10, "lstm", 1),
        (12, "irnn", 0), (12, "irnn", 1), (12, "lstm", 0), (12, "lstm", 1)]
    table = result.table()
    assert "Temporal order task, 3 iterations" in table and f"{math.log(4):.4f}" in table
    assert len(result.rows()) == 8 and result.rows()[0]["baseline"] == math.log(4)
    paths = result.save(str(tmp_path / "order.json"))
    data = json.loads(open(paths[0]).read())
    assert data["task"] == "temporal_order" and len(data["runs"]) == 8
    result.plot(str(tmp_path / "order.png"))
    assert (tmp_path / "order.png").read_bytes().startswith(b"\x89PNG")


# ---- settings ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("arguments, message", [
    (dict(task="copy"), "train_task: unknown task 'copy'; the tasks are 'adding', 'copying', 'temporal_order'"),
    (dict(cell="tanh"), "train_task: unknown cell 'tanh'"),
    (dict(task="temporal_order", length=9), "train_task: the temporal_order task needs a length of at least 10, "
                                            "got 9"),
    (dict(length=0), "train_task: length must be a positive integer, got 0"),
    (dict(iterations=0), "train_task: iterations must be a positive integer, got 0"),
    (dict(settings=TrainingSettings(optimizer="adagrad")),
     "train_task: optimizer must be one of 'adam', 'sgd', 'rmsprop', got 'adagrad'"),
    (dict(settings=TrainingSettings(learning_rate=-1.0)), "train_task: learning_rate must be a positive number"),
    (dict(settings=TrainingSettings(global_clipnorm=0.0)), "train_task: global_clipnorm must be a positive number"),
    (dict(settings=TrainingSettings(units=2.5)), "train_task: units must be a positive integer, got 2.5"),
    (dict(settings=TrainingSettings(batch_size=0)), "train_task: batch_size must be a positive integer, got 0"),
    (dict(settings=TrainingSettings(clip_value=1.0)), "train_task: give global_clipnorm or clip_value, not both"),
])
def test_bad_settings_are_refused_by_name(arguments, message):
    call = dict(task="adding", cell="rnn", length=10, iterations=2, settings=TINY) | arguments
    with pytest.raises(ValueError, match=re.escape(message)):
        train_task(**call)


def test_element_wise_clipping_is_a_setting():
    settings = dataclasses.replace(TINY, global_clipnorm=None, clip_value=0.5)
    optimizer = settings.make_optimizer()
    assert optimizer.clipvalue == 0.5 and optimizer.global_clipnorm is None
    assert get_task("temporal-order", "f") is TASKS["temporal_order"]


def test_run_task_refuses_repeated_lengths_and_seeds():
    with pytest.raises(ValueError, match=re.escape("run_task: lengths lists 10 more than once")):
        run_task("adding", lengths=(10, 10))
    with pytest.raises(ValueError, match=re.escape("run_task: seeds is empty")):
        run_task("adding", seeds=())


# ---- the command ------------------------------------------------------------------------------------
@pytest.mark.parametrize("experiment", ["copying", "temporal-order"])
def test_the_new_tasks_run_from_the_command_line(experiment, tmp_path, capsys):
    path = tmp_path / "run.json"
    assert main(["vanishing", experiment, "--quick", "--cells", "irnn", "chrono-lstm", "--iterations", "4",
                 "--units", "8", "--batch-size", "4", "--optimizer", "rmsprop", "--lr", "0.001", "--clip", "none",
                 "--seeds", "3", "--jobs", "1", "--json", str(path)]) == 0
    assert "no clipping" in capsys.readouterr().out
    data = json.loads(path.read_text())
    assert data["cells"] == ["irnn", "lstm_chrono"] and data["seeds"] == [3] and data["iterations"] == 4
    assert data["settings"] == dict(dataclasses.asdict(TrainingSettings()), units=8, batch_size=4, optimizer="rmsprop",
                                    learning_rate=0.001, global_clipnorm=None)
