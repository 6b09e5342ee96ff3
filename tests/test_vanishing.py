"""The vanishing-gradient experiments (`tinyseq vanishing ...`) match the theory they teach.

Small sizes throughout: the full-size figures come from the CLI runs, these pin the claims.
"""

import argparse
import json
import math
import sys

import numpy as np
import pytest

from tinyseq import random
from tinyseq.experiments import norms
from tinyseq.experiments.adding import AddingSettings, adding_batch, run_adding
from tinyseq.experiments.clipping import run_clipping
from tinyseq.experiments.common import jsonable
from tinyseq.experiments.gap import GapSettings, gap_network, run_gap
from tinyseq.experiments.vanishing_cli import EXPERIMENTS, add_vanishing_parser

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
    result = run_adding(timesteps=(30,), seeds=(0,), rnn_iterations=400, lstm_iterations=400,
                        settings=settings, jobs=2)
    final = {run.model: run.final_mse for run in result.runs}
    assert final["lstm"] < 0.03
    assert final["rnn"] > 0.1


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


def test_a_short_gap_run_reports_the_chrono_lstm_in_its_json_and_table():
    result = run_gap(gaps=(3,), seeds=(0,), settings=GapSettings(iterations=5, test_size=32))
    data = strict_json(result.to_json())
    assert data["models"] == ["rnn", "lstm", "lstm_chrono"]
    assert [run["model"] for run in data["runs"]] == ["rnn", "lstm", "lstm_chrono"]
    assert "LSTM chrono accuracy" in result.table() and "LSTM chrono gradient" in result.table()


# ---- the command -------------------------------------------------------------------------------
def run_command(argv):
    parser = argparse.ArgumentParser(prog="tinyseq")
    add_vanishing_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.run(args)


def strict_json(text):
    def refuse(constant):
        raise ValueError(f"not strict JSON: {constant}")
    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize("experiment", list(EXPERIMENTS))
def test_quick_runs_print_a_table_and_write_valid_json_and_csv(experiment, tmp_path, capsys):
    path = tmp_path / f"{experiment}.json"
    assert run_command(["vanishing", experiment, "--quick", "--jobs", "2", "--json", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"Wrote {path}" in out
    data = strict_json(path.read_text())
    assert isinstance(data, dict) and data
    header, *lines = path.with_suffix(".csv").read_text().splitlines()
    assert lines and all(line.count(",") == header.count(",") for line in lines[:5])


def test_plots_are_saved_and_a_missing_matplotlib_is_explained(tmp_path, capsys, monkeypatch):
    plot = tmp_path / "norms.png"
    assert run_command(["vanishing", "norms", "--quick", "--plot", str(plot)]) == 0
    assert plot.read_bytes().startswith(b"\x89PNG")
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # as if matplotlib were not installed
    assert run_command(["vanishing", "norms", "--quick", "--plot", str(tmp_path / "again.png")]) == 2
    assert "pip install tinyseq[plots]" in capsys.readouterr().err
