"""Sweeps (`tinyseq vanishing sweep`) and the papers' reproductions (`tinyseq.experiments.papers`).

A sweep's runs are tiny here (4 units, a few iterations on sequences of 5 to 8 steps): what is
tested is the bookkeeping — the grid, one whole line per run, resuming, refusing another sweep's
file, Ctrl-C and kills — and that a run in a sweep gives exactly what `train_task` gives.
"""

import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import pytest

from tinyseq.apps.cli import main
from tinyseq.experiments import papers, sweep
from tinyseq.experiments.papers import (
    EXPERIMENTS,
    comparison_table,
    first_below,
    reproduction_figure,
)
from tinyseq.experiments.sweep import (
    SweepInterrupted,
    SweepMismatch,
    append_run,
    read_runs,
    run_sweep,
    run_sweeps,
    settings_grid,
    settings_names,
    sweep_grid,
)
from tinyseq.experiments.tasks import train_task
from tinyseq.experiments.training import TrainingSettings

ROOT = Path(__file__).resolve().parents[1]
TINY = {"units": 4, "batch_size": 4, "eval_every": 2, "test_size": 8, "iterations": 4}
TINY_FLAGS = ["--units", "4", "--batch-size", "4", "--eval-every", "2", "--test-size", "8", "--iterations", "4"]


def without_times(records):
    """The records keyed by their settings, without the wall-clock times (the only part that may differ)."""
    keyed = {}
    for record in records:
        result = {key: value for key, value in record["result"].items() if key != "seconds"}
        keyed[json.dumps(record["settings"], sort_keys=True)] = (record["task"], result)
    return keyed


# ---- the grid ------------------------------------------------------------------------------------
def test_the_grid_is_the_product_of_the_values_with_the_last_setting_varying_fastest():
    grid = settings_grid({"cell": ["rnn", "lstm"], "length": [5, 8], "units": 4})
    assert grid == [{"cell": "rnn", "length": 5, "units": 4}, {"cell": "rnn", "length": 8, "units": 4},
                    {"cell": "lstm", "length": 5, "units": 4}, {"cell": "lstm", "length": 8, "units": 4}]
    with pytest.raises(ValueError, match=re.escape("settings_grid: length lists 5 more than once")):
        settings_grid({"length": [5, 8, 5]})
    with pytest.raises(ValueError, match=re.escape("settings_grid: cell has no values")):
        settings_grid({"cell": []})


def test_a_sweep_names_every_setting_of_a_run_and_fills_in_the_defaults():
    (settings,) = sweep_grid("adding", {"cell": "gru", "length": 7})
    assert list(settings) == list(settings_names())
    assert settings == {"cell": "gru", "length": 7, "seed": 0, "iterations": 1000, **asdict(TrainingSettings())}


def test_bad_settings_are_refused_before_any_run_starts(tmp_path):
    path = tmp_path / "runs.jsonl"
    with pytest.raises(ValueError, match=re.escape("run_sweep: unknown task 'copy'; the tasks are ")):
        run_sweep("copy", {"cell": "rnn", "length": 5}, path)
    with pytest.raises(ValueError, match=re.escape("run_sweep: unknown setting hidden; the settings are cell, length")):
        run_sweep("adding", {"cell": "rnn", "length": 5, "hidden": 4}, path)
    with pytest.raises(ValueError, match=re.escape("run_sweep: give the length to sweep over")):
        run_sweep("adding", {"cell": "rnn"}, path)
    with pytest.raises(ValueError, match="units"):  # the run's own message, for the last value
        run_sweep("adding", {"cell": "rnn", "length": 5, "units": [4, 0]}, path)
    assert not path.exists()


# ---- the file --------------------------------------------------------------------------------------
def test_a_torn_last_line_is_ignored_and_cut_off_when_the_sweep_resumes(tmp_path):
    path = tmp_path / "runs.jsonl"
    result = run_sweep("adding", {"cell": "rnn", "length": 5, **TINY}, path)
    whole = path.read_bytes()
    assert whole.count(b"\n") == 1 and whole.endswith(b"\n")
    path.write_bytes(whole + b'{"task": "adding", "settings": {"cell"')  # a write cut short
    records, size = read_runs(path)
    assert len(records) == 1 and size == len(whole)
    again = run_sweep("adding", {"cell": "rnn", "length": 5, **TINY}, path)
    assert again.new == 0 and path.read_bytes() == whole
    assert without_times(again.records) == without_times(result.records)


def test_a_file_of_another_sweep_is_refused_in_one_line(tmp_path):
    path = tmp_path / "runs.jsonl"
    run_sweep("adding", {"cell": "rnn", "length": 5, **TINY}, path)
    with pytest.raises(SweepMismatch, match=f"^{re.escape(str(path))} holds a sweep of the adding task, not copying; "
                                            f"give --out another file$"):
        run_sweep("copying", {"cell": "rnn", "length": 5, **TINY}, path)
    other = tmp_path / "other.jsonl"
    append_run(other, {"task": "adding", "settings": {"cell": "rnn", "length": 5}, "result": {}})
    with pytest.raises(SweepMismatch, match="holds runs with the settings cell, length, not "):
        run_sweep("adding", {"cell": "rnn", "length": 5, **TINY}, other)
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    with pytest.raises(SweepMismatch, match=re.escape(f"{notes} line 1 is not a sweep run")):
        run_sweep("adding", {"cell": "rnn", "length": 5, **TINY}, notes)
    assert notes.read_text() == "my notes\n"


# ---- running ---------------------------------------------------------------------------------------
def test_a_run_in_a_sweep_gives_what_train_task_gives(tmp_path):
    result = run_sweep("copying", {"cell": ["lstm", "gru"], "length": 5, "seed": 3, **TINY}, tmp_path / "runs.jsonl")
    assert [r["settings"]["cell"] for r in result.records] == ["lstm", "gru"]
    assert result.varied == ["cell"] and result.new == 2
    settings = TrainingSettings(units=4, batch_size=4, eval_every=2, test_size=8)
    direct = train_task("copying", "gru", 5, seed=3, iterations=4, settings=settings)
    stored = result.records[1]["result"]
    assert stored["curve"] == direct.curve and stored["final_loss"] == direct.final_loss
    assert stored["baseline"] == pytest.approx(10 * math.log(8) / 25)
    lines = (tmp_path / "runs.jsonl").read_text().splitlines()
    assert [json.loads(line)["settings"]["cell"] for line in lines] == ["lstm", "gru"]


def test_an_interrupted_sweep_keeps_its_finished_runs_and_resumes_to_the_same_results(tmp_path, monkeypatch):
    values = {"cell": ["rnn", "lstm"], "length": [5, 8], **TINY}
    uninterrupted = run_sweep("adding", values, tmp_path / "whole.jsonl")
    path = tmp_path / "resumed.jsonl"
    real_run, calls = sweep.one_run, []

    def interrupted_after_three(task, settings):
        if len(calls) == 3:
            raise KeyboardInterrupt
        calls.append(settings)
        return real_run(task, settings)

    monkeypatch.setattr(sweep, "one_run", interrupted_after_three)
    with pytest.raises(SweepInterrupted, match=re.escape(f"interrupted: 3 of 4 runs are done and kept in {path}; "
                                                         f"run the same command again to do the other 1")):
        run_sweep("adding", values, path)
    assert len(path.read_text().splitlines()) == 3
    monkeypatch.setattr(sweep, "one_run", real_run)
    resumed = run_sweep("adding", values, path)
    assert resumed.new == 1
    assert without_times(resumed.records) == without_times(uninterrupted.records)


def test_worker_processes_give_the_same_runs_and_several_sweeps_share_them(tmp_path):
    here = run_sweep("adding", {"cell": ["rnn", "irnn"], "length": 5, **TINY}, tmp_path / "here.jsonl", jobs=None)
    adding, copying = run_sweeps([("adding", {"cell": ["rnn", "irnn"], "length": 5, **TINY}, tmp_path / "a.jsonl"),
                                  ("copying", [{"cell": "lstm", "length": 5, **TINY},
                                               {"cell": "rnn", "length": 5, **TINY, "units": 6}], tmp_path / "c.jsonl")],
                                 jobs=2)
    assert without_times(adding.records).keys() == without_times(here.records).keys()
    for ours, theirs in zip(adding.records, here.records):
        assert ours["result"]["final_loss"] == pytest.approx(theirs["result"]["final_loss"], rel=1e-5)
    assert [(r["settings"]["cell"], r["settings"]["units"]) for r in copying.records] == [("lstm", 4), ("rnn", 6)]
    assert copying.varied == ["cell", "units"]


def test_the_sweep_plot_shows_the_loss_or_the_iterations_against_length(tmp_path):
    result = run_sweep("adding", {"cell": ["rnn", "lstm"], "length": [5, 8], "seed": [0, 1], **TINY},
                       tmp_path / "runs.jsonl")
    for measure in ("final_loss", "iterations_to_leave_baseline"):
        result.plot(tmp_path / f"{measure}.png", measure=measure)
        assert (tmp_path / f"{measure}.png").read_bytes().startswith(b"\x89PNG")
    assert set(result.lines()) == {("rnn", ()), ("lstm", ())}
    assert sorted(result.lines()[("rnn", ())]) == [5, 8] and len(result.lines()[("rnn", ())][5]) == 2
    with pytest.raises(ValueError, match="SweepResult.plot: measure must be one of final_loss, "):
        result.plot(tmp_path / "x.png", measure="loss")


# ---- the command ---------------------------------------------------------------------------------------
def sweep_command(path, *extra):
    return ["vanishing", "sweep", "adding", "--cells", "rnn", "lstm", "--lengths", "5", "8", *TINY_FLAGS,
            "--out", str(path), "--no-progress", *extra]


def test_the_command_prints_the_table_writes_the_lines_and_the_plot(tmp_path, capsys):
    path, plot = tmp_path / "runs.jsonl", tmp_path / "sweep.svg"
    assert main(sweep_command(path, "--plot", str(plot), "--measure", "iterations_to_leave_baseline")) == 0
    out = capsys.readouterr().out
    assert "Sweep of the adding task: 4 runs (4 trained now, 0 found in" in out
    assert f"Wrote {path}" in out and f"Wrote {plot}" in out
    assert len(path.read_text().splitlines()) == 4 and plot.read_text().lstrip().startswith("<?xml")
    assert main(sweep_command(path)) == 0
    assert "4 runs (0 trained now, 4 found in" in capsys.readouterr().out


def test_the_command_refuses_bad_values_and_another_sweeps_file_in_one_line(tmp_path, capsys):
    path = tmp_path / "runs.jsonl"
    assert main(sweep_command(path)) == 0
    capsys.readouterr()
    assert main(["vanishing", "sweep", "copying", "--cells", "rnn", "--lengths", "5", *TINY_FLAGS,
                 "--out", str(path), "--no-progress"]) == 2
    assert capsys.readouterr().err == (f"tinyseq vanishing sweep: {path} holds a sweep of the adding task, not copying; "
                                       f"give --out another file\n")
    assert main(sweep_command(tmp_path / "b.jsonl", "--lengths", "5", "5")) == 2
    assert capsys.readouterr().err == "tinyseq vanishing sweep: --lengths lists a value more than once: 5 5\n"
    assert main(sweep_command(tmp_path / "c.jsonl", "--cells", "rnn", "grus")) == 2
    assert "invalid choice: 'grus'" in capsys.readouterr().err
    assert main(sweep_command(tmp_path / "d.jsonl", "--lr", "0")) == 2
    assert "--lr: must be greater than 0, got 0" in capsys.readouterr().err
    assert not (tmp_path / "b.jsonl").exists() and not (tmp_path / "d.jsonl").exists()


def start_sweep(path, tmp_path, *extra):
    command = [sys.executable, "-m", "tinyseq.apps.cli", "vanishing", "sweep", "adding", "--cells", "rnn", "lstm",
               "--lengths", "5", "8", "12", *TINY_FLAGS[:-1], "60", "--out", str(path), "--no-progress", *extra]
    return subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def wait_for_lines(path, count, process, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_bytes().count(b"\n") >= count:
            return
        assert process.poll() is None, process.communicate()
        time.sleep(0.05)
    raise AssertionError(f"fewer than {count} runs after {timeout} s")


def test_a_killed_sweep_resumes_to_exactly_the_uninterrupted_sweep(tmp_path, capsys):
    whole, killed = tmp_path / "whole.jsonl", tmp_path / "killed.jsonl"
    process = start_sweep(killed, tmp_path)
    wait_for_lines(killed, 2, process)
    os.killpg(process.pid, signal.SIGKILL)  # no chance to clean up: only what was written counts
    process.communicate()
    finished = killed.read_bytes().count(b"\n")
    assert 2 <= finished < 6, "the sweep ended before it could be killed"
    arguments = ["vanishing", "sweep", "adding", "--cells", "rnn", "lstm", "--lengths", "5", "8", "12",
                 *TINY_FLAGS[:-1], "60", "--no-progress"]
    assert main([*arguments, "--out", str(killed)]) == 0
    assert f"6 runs ({6 - finished} trained now, {finished} found in" in capsys.readouterr().out
    assert main([*arguments, "--out", str(whole)]) == 0
    assert without_times(read_runs(killed)[0]) == without_times(read_runs(whole)[0])


def test_ctrl_c_keeps_the_finished_runs_says_so_in_one_line_and_exits_130(tmp_path):
    path = tmp_path / "runs.jsonl"
    process = start_sweep(path, tmp_path, "--jobs", "2")
    wait_for_lines(path, 1, process)
    os.killpg(process.pid, signal.SIGINT)  # a terminal's Ctrl-C reaches the whole process group
    _, stderr = process.communicate(timeout=60)
    finished = path.read_bytes().count(b"\n")
    assert process.returncode == 130, stderr
    assert stderr == (f"tinyseq vanishing sweep: interrupted: {finished} of 6 runs are done and kept in {path}; "
                      f"run the same command again to do the other {6 - finished}\n")
    assert all(json.loads(line)["task"] == "adding" for line in path.read_text().splitlines())


# ---- the papers ------------------------------------------------------------------------------------------
def test_every_paper_experiment_reports_each_cell_and_length_it_reproduces():
    for experiment in EXPERIMENTS.values():
        assert experiment.result_path().name == f"{experiment.key}.jsonl"
        for cell in experiment.units:
            for length in experiment.lengths:
                assert experiment.reported_for(cell, length) is not None, (experiment.key, cell, length)
        for values in experiment.sweeps():
            sweep_grid(experiment.task, values)  # the protocol is a valid sweep
    copying = EXPERIMENTS["arjovsky2016-copying"]
    assert copying.units == {"lstm": 40, "rnn": 80}
    assert copying.training["optimizer"] == "rmsprop" and copying.training["learning_rate"] == 1e-3
    assert copying.training["batch_size"] == 20


def test_the_comparison_table_and_figure_come_from_the_sweep_files(tmp_path):
    experiment = EXPERIMENTS["hochreiter1997-adding"]
    (settings,) = sweep_grid("adding", experiment.sweeps()[0])
    records = [{"task": "adding", "settings": settings,
                "result": {"iterations": 1500, "final_loss": 0.03, "curve": [[500, 0.2], [1000, 0.05], [1500, 0.03]],
                           "baseline": 1 / 6, "seed": 0}}]
    headers, (row,) = comparison_table(experiment, records)
    assert headers[5:7] == ["tinyseq: leaves baseline", "tinyseq: below 0.04"]
    assert row == ["100", "LSTM", "-", "-", "74,000", "1,000", "1,500", "0.0300", "1,500", "0"]
    assert first_below([[1, 0.5], [2, None], [3, 0.01]], 0.04) == 3
    reproduction_figure(experiment, records).savefig(tmp_path / "figure.png")
    with pytest.raises(FileNotFoundError, match="python benchmarks/papers.py makes it"):
        papers.load_reproduction(experiment, folder=tmp_path)


def test_the_no_memory_loss_is_measured_on_the_runs_own_test_set():
    # Copying: every test set has the analytic baseline. Adding: the MSE of answering 1 on the
    # test set the run drew first from its seed, which is 1/6 only on average.
    copying = {"task": "copying", "settings": {}, "result": {"baseline": 0.1733}}
    assert papers.test_set_baseline(copying) == 0.1733
    small = [papers.test_set_baseline({"task": "adding", "settings": {"length": 400, "seed": seed, "test_size": 256},
                                       "result": {}}) for seed in range(20)]
    assert 0.13 < min(small) < max(small) < 0.20 and abs(sum(small) / 20 - 1 / 6) < 0.01
    large = papers.test_set_baseline({"task": "adding", "settings": {"length": 50, "seed": 0, "test_size": 20000},
                                      "result": {}})
    assert abs(large - 1 / 6) < 0.005


@pytest.mark.parametrize("key", list(EXPERIMENTS))
def test_the_shipped_reproductions_hold_every_run_of_their_protocol(key):
    experiment = EXPERIMENTS[key]
    if not experiment.result_path().exists():
        pytest.skip(f"{experiment.result_path()} is not there yet (python benchmarks/papers.py)")
    records = papers.load_reproduction(experiment)
    expected = [settings for values in experiment.sweeps() for settings in sweep_grid(experiment.task, values)]
    assert sorted(json.dumps(r["settings"], sort_keys=True) for r in records) == \
        sorted(json.dumps(s, sort_keys=True) for s in expected)
    for record in records:
        # A run that has learnt nothing but the mean sits at its own test set's no-memory loss, not
        # at the analytic one: the baseline the page draws is the one the curves level off at.
        result = record["result"]
        if key == "arjovsky2016-adding" and record["settings"]["cell"] == "lstm" and \
                papers.leaves_test_baseline(record) is None:
            assert result["final_loss"] == pytest.approx(papers.test_set_baseline(record), rel=0.15)
