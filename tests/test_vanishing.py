"""The vanishing-gradient experiments (`tinyseq vanishing ...`) match the theory they teach.

Small sizes throughout: the full-size figures come from the CLI runs, these pin the claims.
"""

import json
import math
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tinyseq import random
from tinyseq.apps.cli import main
from tinyseq.apps.vanishing import EXPERIMENTS
from tinyseq.course import load_result
from tinyseq.experiments import norms
from tinyseq.experiments.adding import AddingSettings, adding_batch, run_adding, train_adding
from tinyseq.experiments.cells import CELL_NAMES
from tinyseq.experiments.clipping import run_clipping
from tinyseq.experiments.common import COLOURS, LABELS, jsonable
from tinyseq.experiments.gap import GapSettings, gap_network, run_gap
from tinyseq.nn.cells import GRUCell

SMALL = dict(timesteps=30, units=16, features=4)


# ---- norms: (a) linear RNN -----------------------------------------------------------------
@pytest.mark.parametrize("rho", [0.5, 0.9, 1.0, 3.0])
def test_linear_rnn_gradient_shrinks_by_exactly_rho_per_step(rho):
    result = norms.rnn_norms("linear", rho, **SMALL)
    assert abs(result.slope - math.log10(rho)) < 1e-6  # the tolerance; float64 gives ~1e-15
    np.testing.assert_allclose(np.diff(result.log10_norms), math.log10(rho), atol=1e-9)  # every step


# ---- norms: (b) tanh RNN, Pascanu et al. eq. 7 ------------------------------------------------
@pytest.mark.parametrize("input_scale", norms.INPUT_SCALES)
@pytest.mark.parametrize("rho", norms.RHOS)
def test_tanh_rnn_obeys_the_eq7_bound_at_every_step(rho, input_scale):
    result = norms.rnn_norms("tanh", rho, input_scale=input_scale, **SMALL)
    # The autograd gradients are the exact Jacobian products that the bound is about...
    assert result.autograd_error < 1e-10
    # ...one step, products and gradients all stay under (gamma lambda_1)^k...
    assert result.obeys_bounds(), (result.step_bound_ratio, result.product_bound_ratio,
                                   result.gradient_bound_ratio)
    # ...checked once more directly on the autograd norms, at every distance k.
    distance = np.arange(SMALL["timesteps"] + 1)
    assert np.all(np.array(result.log10_norms) <= distance * math.log10(result.largest_singular_value) + 1e-12)


def test_tanh_rnn_slopes_against_the_two_predictions():
    for rho in (0.5, 0.8, 0.9):
        strong = norms.rnn_norms("tanh", rho, input_scale=1.0, **SMALL)
        weak = norms.rnn_norms("tanh", rho, input_scale=0.1, **SMALL)
        # The root-mean-square prediction holds whatever the inputs...
        assert abs(strong.slope - strong.predicted_slope_rms) < 0.01
        assert abs(weak.slope - weak.predicted_slope_rms) < 0.01
        # ...the geometric-mean one only when tanh' is nearly uniform (weak inputs).
        assert abs(weak.slope - weak.predicted_slope) < 0.01
        assert strong.slope - strong.predicted_slope > 0.03
    assert norms.rnn_norms("tanh", 3.0, **SMALL).slope > 0  # rho = 3: the norm grows


# ---- norms: (c) LSTM cell path -----------------------------------------------------------------
@pytest.mark.parametrize("forget_bias", norms.FORGET_BIASES)
def test_lstm_cell_path_slope_is_log10_sigmoid_of_the_forget_bias(forget_bias):
    result = norms.lstm_norms(forget_bias, **SMALL)
    predicted = math.log10(1 / (1 + math.exp(-forget_bias)))
    assert result.predicted_slope == pytest.approx(predicted, abs=1e-12)
    assert abs(result.cell_path_slope - predicted) < 0.02
    assert abs(result.all_paths_slope - predicted) < 0.02


def test_a_forget_gate_pinned_at_one_gives_an_exactly_flat_cell_path():
    result = norms.lstm_norms(None, **SMALL)
    assert result.mean_log10_forget == 0.0  # every forget-gate value is exactly 1.0
    assert len(set(result.cell_path_log10_norms)) == 1  # bit for bit the same norm at every k
    assert result.cell_path_slope == 0.0 and result.cell_path_spread == 0.0


# ---- norms: (d) the three cells with default weights -----------------------------------------
@pytest.mark.parametrize("seed", range(5))
def test_with_default_weights_the_gru_passes_far_less_gradient_back_than_the_tanh_rnn(seed):
    # Keras starts every GRU bias at 0, so z ~ 1/2: at distance 50 the GRU keeps about a thousandth
    # of the tanh RNN's gradient with unit inputs, and a billionth with weak ones (where the RNN
    # is nearly linear with rho = 1).
    shape = dict(timesteps=60, units=32, features=8, seed=seed)
    for input_scale, orders_of_magnitude in ((1.0, 2), (0.1, 6)):
        rnn = norms.cell_norms("rnn", input_scale=input_scale, **shape)
        gru = norms.cell_norms("gru", input_scale=input_scale, **shape)
        assert rnn.log10_norms[50] - gru.log10_norms[50] > orders_of_magnitude
        assert rnn.mean_log10_update_gate is None


@pytest.mark.parametrize("seed", range(3))
def test_the_gru_update_gate_starts_at_one_half_and_the_candidate_path_slows_the_decay(seed):
    weak = norms.cell_norms("gru", input_scale=0.1, **SMALL, seed=seed)
    assert weak.mean_log10_update_gate == pytest.approx(math.log10(0.5), abs=0.002)  # z = sigma(~0)
    for result in (weak, norms.cell_norms("gru", input_scale=1.0, **SMALL, seed=seed)):
        # The straight path alone (diag z per step) shrinks faster than the measured gradient.
        assert result.mean_log10_update_gate < result.slope - 0.05
        assert result.slope < -0.1


def test_norms_table_compares_the_three_cells_with_default_weights():
    result = norms.run_norms(timesteps=10, units=8, features=3, cells=("gru", "rnn"))
    assert [(r.input_scale, r.model) for r in result.cells] == [(1.0, "gru"), (1.0, "rnn"), (0.1, "gru"),
                                                                 (0.1, "rnn")]
    assert "(d) cells as they start" in result.table()
    assert {row["experiment"] for row in result.rows()} >= {"gru defaults", "rnn defaults"}


def test_norms_repeat_exactly_under_a_seed():
    first = norms.run_norms(timesteps=10, units=8, features=3, seed=3)
    again = norms.run_norms(timesteps=10, units=8, features=3, seed=3)
    first.seconds = again.seconds = 0.0
    assert first.to_json() == again.to_json()


# ---- adding problem --------------------------------------------------------------------------------
def test_adding_batches_follow_arjovsky_et_al():
    x, y = adding_batch(1000, 20, np.random.default_rng(0))
    markers = x[:, :, 1]
    assert np.all(markers[:, :10].sum(axis=1) == 1) and np.all(markers[:, 10:].sum(axis=1) == 1)
    np.testing.assert_allclose(y[:, 0], (x[:, :, 0] * markers).sum(axis=1), rtol=1e-6)
    assert np.mean((y - 1) ** 2) == pytest.approx(1 / 6, abs=0.02)  # predicting the mean: MSE 1/6


def test_a_short_adding_run_lstm_beats_rnn_by_a_clear_margin():
    # In worker processes (single-threaded BLAS): on a busy machine a multithreaded BLAS in this
    # process can make the fused layers' thin matrix products very slow.
    settings = AddingSettings(eval_every=50, test_size=256)
    result = run_adding(lengths=(30,), seeds=(0,), iterations=400, settings=settings, jobs=2)
    final = {run.model: run.final_mse for run in result.runs}
    assert final["lstm"] < 0.03
    assert final["rnn"] > 0.1


def test_a_gru_learns_the_short_adding_problem():
    result = run_adding(lengths=(10,), seeds=(0,), cells=("gru",), iterations=150,
                        settings=AddingSettings(eval_every=50, test_size=256), jobs=1)
    (run,) = result.runs
    assert run.model == "gru" and run.iterations == 150 and result.budgets == {"gru": 150}
    assert run.final_mse < 0.005 and run.iterations_to_threshold in (100, 150)
    assert "iterations trained: GRU 150" in result.table()
    assert strict_json(result.to_json())["models"] == ["gru"]


def test_the_numbers_do_not_depend_on_the_number_of_workers():
    # The unclipped run is the most sensitive: its gradients explode and amplify any rounding.
    one, three = run_clipping(iterations=80, jobs=1), run_clipping(iterations=80, jobs=3)
    assert [jsonable(run.losses) for run in one.runs] == [jsonable(run.losses) for run in three.runs]
    assert one.runs[0].first_nonfinite is not None and one.runs[1].first_nonfinite is None


# ---- gap task ----------------------------------------------------------------------------------
def test_gap_chrono_lstm_sets_the_input_and_forget_biases_and_nothing_else():
    gap, units = 30, GapSettings().units
    random.seed(0)
    default = gap_network("lstm", gap)
    default.build((None, gap + 1))
    random.seed(0)
    chrono = gap_network("lstm_chrono", gap)
    bias = chrono.layers[1].cell.bias
    forget = bias.data[units:2 * units]
    # Gate order i, f, c, o: b_f = log(u), u ~ U[1, T_max - 1] per unit, T_max = gap + 1...
    assert np.all(forget >= 0) and np.all(forget <= np.float32(math.log(gap)))
    assert len(np.unique(forget)) == units
    np.testing.assert_array_equal(bias.data[:units], -forget)  # ...b_i = -b_f...
    # ...and the candidate and output biases, like every other weight, are the default LSTM's.
    for mine, theirs in zip(chrono.parameters(), default.parameters()):
        if mine is not bias:
            np.testing.assert_array_equal(mine.data, theirs.data)
    np.testing.assert_array_equal(bias.data[2 * units:], default.layers[1].cell.bias.data[2 * units:])
    with pytest.raises(ValueError, match="at least 2"):
        gap_network("lstm_chrono", 0)


def test_a_gru_learns_a_short_gap_and_starts_with_the_zero_biases_of_keras():
    random.seed(0)
    network = gap_network("gru", 5)
    network.build((None, 6))
    layer = network.layers[1]
    assert isinstance(layer.cell, GRUCell) and layer.implementation == "fused"
    np.testing.assert_array_equal(layer.cell.bias.data, np.zeros((2, 3 * GapSettings().units)))
    result = run_gap(lengths=(5,), seeds=(0,), cells=("gru",), settings=GapSettings(iterations=100, test_size=256),
                     jobs=1)
    (run,) = result.runs
    assert run.model == "gru" and run.accuracy == 1.0
    assert "GRU accuracy" in result.table() and "GRU: library defaults (biases 0)" in result.table()


def test_a_short_gap_run_reports_the_chrono_lstm_in_its_json_and_table():
    result = run_gap(lengths=(3,), seeds=(0,), settings=GapSettings(iterations=5, test_size=32))
    data = strict_json(result.to_json())
    assert data["models"] == ["rnn", "lstm", "lstm_chrono"]
    assert [run["model"] for run in data["runs"]] == ["rnn", "lstm", "lstm_chrono"]
    assert "LSTM chrono accuracy" in result.table() and "LSTM chrono gradient" in result.table()


# ---- choosing cells ----------------------------------------------------------------------------------
VALID = "'rnn', 'irnn', 'lstm', 'lstm_chrono', 'gru'"


@pytest.mark.parametrize("name, run", [("run_adding", run_adding), ("run_gap", run_gap),
                                       ("run_norms", norms.run_norms)])
def test_bad_cell_names_are_refused_with_the_valid_ones_listed(name, run):
    with pytest.raises(ValueError, match=re.escape(f"{name}: unknown cell 'GRU'; the cells are {VALID}")):
        run(cells=("rnn", "GRU"))
    with pytest.raises(ValueError, match=re.escape(f"{name}: unknown cells 'a', 'b'; the cells are {VALID}")):
        run(cells=["a", "b"])
    with pytest.raises(ValueError, match=re.escape(f"{name}: cells is empty; choose one or more of {VALID}")):
        run(cells=())
    with pytest.raises(ValueError, match=re.escape(f"{name}: cells lists 'rnn' more than once")):
        run(cells=("rnn", "gru", "rnn"))


def test_the_functions_that_build_one_model_refuse_a_bad_name():
    with pytest.raises(ValueError, match=re.escape(f"train_adding: unknown cell 'lstm-chrono'; the cells are {VALID}")):
        train_adding("lstm-chrono", 10)
    with pytest.raises(ValueError, match=re.escape("gap_network: unknown cell 'grus'")):
        gap_network("grus", 5)
    with pytest.raises(ValueError, match=re.escape("cell_norms: unknown cell 'lstm-chrono'")):
        norms.cell_norms("lstm-chrono")


def test_every_cell_has_one_label_and_one_distinct_colour_in_every_experiment():
    assert set(CELL_NAMES) == set(LABELS) == set(COLOURS)
    assert len(set(COLOURS.values())) == len(COLOURS)
    assert COLOURS["gru"] == "tab:purple" and LABELS["gru"] == "GRU" and LABELS["irnn"] == "IRNN"


# ---- the defaults are unchanged: the shipped numbers come back ------------------------------------
def test_the_adding_defaults_reproduce_the_shipped_curves():
    # The shipped runs evaluate every 25 iterations: their first four points are those of a
    # 100-iteration run with the same defaults (made in workers, as the shipped ones were).
    shipped = {(r["model"], r["timesteps"], r["seed"]): r for r in load_result("vanishing-adding")["runs"]}
    result = run_adding(lengths=(10,), seeds=(1,), iterations=100, jobs=1)
    assert result.settings == AddingSettings()
    for run in result.runs:
        np.testing.assert_allclose(run.curve, shipped[(run.model, 10, 1)]["curve"][:4], rtol=1e-6)


def test_the_gap_defaults_reproduce_the_shipped_runs():
    shipped = {(r["model"], r["gap"], r["seed"]): r for r in load_result("vanishing-gap")["runs"]}
    result = run_gap(lengths=(5,), seeds=(0,), jobs=1)
    assert result.models == ["rnn", "lstm", "lstm_chrono"] and result.settings == GapSettings()
    for run in result.runs:
        expected = shipped[(run.model, 5, 0)]
        assert run.accuracy == expected["accuracy"]
        assert run.final_loss == pytest.approx(expected["final_loss"], rel=1e-4)
        assert run.initial_gradient_ratio == pytest.approx(expected["initial_gradient_ratio"], rel=1e-6)


# ---- norms out to 1,000 steps, every cell ------------------------------------------------------------
def test_norms_reach_a_thousand_steps_for_every_cell():
    result = norms.run_norms(timesteps=1000, units=16, features=4, rhos=(0.9, 3.0), input_scales=(1.0,),
                             forget_biases=(1.0,), cells=CELL_NAMES)
    assert result.theory_timesteps == norms.THEORY_MAX_STEPS       # rho^T must fit in float64
    assert all(len(r.log10_norms) == norms.THEORY_MAX_STEPS + 1 for r in result.linear + result.tanh)
    by_cell = {r.model: r for r in result.cells}
    assert all(len(r.log10_norms) == 1001 and math.isfinite(r.slope) for r in result.cells)
    # Identity and ReLU pass the gradient on unchanged through every unit that stays active...
    assert by_cell["irnn"].log10_norms[500] > -1 > -50 > by_cell["rnn"].log10_norms[500]
    # ...and chrono's long memory times keep the LSTM's far above the default LSTM's.
    assert by_cell["lstm_chrono"].log10_norms[1000] > by_cell["lstm"].log10_norms[1000] + 50
    for row in result.cells:   # a gradient of exactly 0 is reported, not fitted
        norms_at = np.array(row.log10_norms)
        if row.zero_from is None:
            assert np.all(np.isfinite(norms_at))
        else:
            assert norms_at[row.zero_from] == -np.inf and np.all(np.isfinite(norms_at[:row.zero_from]))
    assert "exactly 0 from k" in result.table()


# ---- the command -------------------------------------------------------------------------------
def strict_json(text):
    def refuse(constant):
        raise ValueError(f"not strict JSON: {constant}")
    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize("experiment", list(EXPERIMENTS))
def test_quick_runs_print_a_table_and_write_valid_json_and_csv(experiment, tmp_path, capsys):
    path = tmp_path / f"{experiment}.json"
    assert main(["vanishing", experiment, "--quick", "--jobs", "2", "--json", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"Wrote {path}" in out
    data = strict_json(path.read_text())
    assert isinstance(data, dict) and data
    header, *lines = path.with_suffix(".csv").read_text().splitlines()
    assert lines and all(line.count(",") == header.count(",") for line in lines[:5])


def test_plots_are_saved_and_a_missing_matplotlib_is_explained(tmp_path, capsys, monkeypatch):
    plot = tmp_path / "norms.png"
    assert main(["vanishing", "norms", "--quick", "--plot", str(plot)]) == 0
    assert plot.read_bytes().startswith(b"\x89PNG")
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # as if matplotlib were not installed
    assert main(["vanishing", "norms", "--quick", "--plot", str(tmp_path / "again.png")]) == 2
    assert "pip install tinyseq[plots]" in capsys.readouterr().err


def test_ctrl_c_stops_the_worker_processes_at_once(tmp_path):
    # The whole process group gets SIGINT, as from a terminal's Ctrl-C; the workers leave it to
    # the main process, which stops them and exits 130 instead of waiting for their runs.
    command = [sys.executable, "-m", "tinyseq.apps.cli", "vanishing", "adding", "--jobs", "2"]  # minutes long
    process = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, start_new_session=True)
    time.sleep(6)  # past the workers' start (spawned processes import numpy and tinyseq)
    assert process.poll() is None, "the run ended before it could be interrupted"
    os.killpg(process.pid, signal.SIGINT)
    try:
        _, stderr = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        raise AssertionError("the run did not stop within 30 s of Ctrl-C")
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr


def test_models_flag_chooses_the_cells_and_refuses_repeats_and_unknown_names(capsys):
    assert main(["vanishing", "norms", "--quick", "--models", "gru"]) == 0
    table = capsys.readouterr().out
    assert "GRU" in table and "LSTM, default" not in table
    assert main(["vanishing", "norms", "--quick", "--models", "rnn", "rnn"]) == 2
    assert capsys.readouterr().err.strip() == ("tinyseq vanishing norms: --cells (--models) names rnn more than once: "
                                               "rnn rnn")
    assert main(["vanishing", "adding", "--models", "lstm-chrono"]) == 2
    assert "unknown cell 'lstm-chrono'; the cells are rnn, irnn, lstm, lstm_chrono, gru" in capsys.readouterr().err


@pytest.mark.parametrize("arguments, message", [
    (["norms", "--lr", "0.1"], "--lr does not apply to norms; it takes --cells --lengths --units --seeds"),
    (["clipping", "--cells", "gru", "--clip", "1"], "--cells --clip do not apply to clipping; it takes --lengths "
                                                    "--units --iterations --batch-size --lr --seeds"),
    (["norms", "--lengths", "10", "20"], "norms measures one length; --lengths got 10 20"),
    (["clipping", "--seeds", "0", "1"], "clipping measures one seed; --seeds got 0 1"),
    (["temporal-order", "--lengths", "9"], "--lengths must be at least 10 for temporal-order, got 9"),
    (["adding", "--lengths", "50", "50"], "--lengths names 50 more than once: 50 50"),
    (["gap", "--seed", "1", "--seeds", "2"], "give --seed or --seeds, not both"),
])
def test_settings_an_experiment_does_not_take_or_cannot_use_are_one_line_errors(arguments, message, capsys):
    assert main(["vanishing", *arguments]) == 2
    assert capsys.readouterr().err.strip() == f"tinyseq vanishing {arguments[0]}: {message}"


@pytest.mark.parametrize("arguments, message", [
    (["adding", "--lr", "0"], "argument --lr: must be greater than 0, got 0"),
    (["gap", "--optimizer", "adagrad"], "argument --optimizer: invalid choice: 'adagrad'"),
    (["copying", "--units", "-3"], "argument --units: must be at least 1, got -3"),
    (["adding", "--clip", "x"], "argument --clip"),
])
def test_bad_values_are_one_line_errors(arguments, message, capsys):
    assert main(["vanishing", *arguments]) == 2
    error = capsys.readouterr().err.strip()
    assert message in error and len(error.splitlines()) == 1


def test_settings_reach_the_experiments(tmp_path, capsys):
    path = tmp_path / "gap.json"
    assert main(["vanishing", "gap", "--cells", "irnn", "--lengths", "3", "--iterations", "5", "--units", "4",
                 "--batch-size", "8", "--optimizer", "sgd", "--lr", "0.1", "--clip", "2", "--seeds", "4",
                 "--jobs", "1", "--json", str(path)]) == 0
    data = strict_json(path.read_text())
    assert data["models"] == ["irnn"] and data["gaps"] == [3] and data["seeds"] == [4]
    assert data["settings"] == dict(GapSettings().__dict__, iterations=5, units=4, batch_size=8, optimizer="sgd",
                                    learning_rate=0.1, global_clipnorm=2.0)
    path = tmp_path / "clipping.json"
    assert main(["vanishing", "clipping", "--lengths", "6", "--iterations", "3", "--units", "5", "--batch-size",
                 "2", "--lr", "0.01", "--jobs", "1", "--json", str(path)]) == 0
    data = strict_json(path.read_text())
    assert (data["timesteps"], data["iterations"], data["units"], data["batch_size"], data["learning_rate"]) == (
        6, 3, 5, 2, 0.01)
