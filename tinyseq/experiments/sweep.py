"""Sweeps: one task trained over the product of several settings, one JSON line per finished run.

    sweep = run_sweep("adding", {"cell": ["rnn", "lstm"], "length": [50, 100], "seed": [0, 1]},
                      "runs.jsonl", jobs=2)
    sweep.plot("sweep.png")

A run is identified by its task and its full settings (every setting the task's runner receives,
the varied ones and the fixed ones). Each finished run is appended to the JSON-lines file as
one line, written by a single `write` call and flushed to disk, so that a sweep stopped at any
moment (Ctrl-C, a kill, a power cut) leaves only whole lines, plus at worst one torn last line
that the next start removes. Running the same sweep again skips the runs already in the file;
each run seeds its own weights and data from its settings, so a resumed sweep gives the same
results as one that was never interrupted, in any number of worker processes.

A line holds {"task": ..., "settings": {...}, "result": {...}}; the result is whatever the
task's runner returns as JSON (see `tinyseq.experiments.tasks`).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import os
import time

import numpy as np

from .. import checks
from .cells import ALIASES, CELL_NAMES, check_cells
from .common import (
    colour_of,
    describe_jobs,
    format_table,
    jsonable,
    label_of,
    new_figure,
    save_figure,
    step_cost,
    worker_pool,
)
from .tasks import get_task, train_task
from .training import TrainingSettings

# The settings of a run besides its `TrainingSettings`; a sweep's records hold them all.
RUN_SETTINGS = ("cell", "length", "seed", "iterations")
RUN_DEFAULTS = {"seed": 0, "iterations": 1000}

# What a plot can show against the sequence length.
MEASURES = {
    "final_loss": "final test loss",
    "iterations_to_leave_baseline": "iterations to leave the baseline",
}


class SweepMismatch(ValueError):
    """The JSON-lines file holds runs of another sweep (another task or other settings)."""


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a sweep; the runs that had finished are in the file. Carries the counts."""

    def __init__(self, finished, total, path):
        super().__init__(f"interrupted: {finished} of {total} runs are done and kept in {path}; "
                         f"run the same command again to do the other {total - finished}")
        self.finished, self.total, self.path = finished, total, path


def settings_grid(values):
    """Every combination of the settings' values, in order (the last setting varies fastest).

    Args:
        values: {setting name: a sequence of values, or one value}; e.g.
            {"cell": ["rnn", "lstm"], "length": [50, 100], "units": 32}.

    Returns:
        A list of {name: value} dicts, one per combination.

    Raises:
        ValueError: a setting with no values, or with a value listed twice.
    """
    names, choices = [], []
    for name, options in values.items():
        options = list(options) if isinstance(options, (list, tuple)) else [options]
        if not options:
            raise ValueError(f"settings_grid: {name} has no values")
        repeated = sorted({repr(option) for option in options if options.count(option) > 1})
        if repeated:
            raise ValueError(f"settings_grid: {name} lists {', '.join(repeated)} more than once")
        names.append(name)
        choices.append(options)
    return [dict(zip(names, combination)) for combination in itertools.product(*choices)]


def settings_names():
    """The names of a run's settings: cell, length, seed, iterations and the `TrainingSettings` fields."""
    return (*RUN_SETTINGS, *(field.name for field in dataclasses.fields(TrainingSettings)))


def sweep_grid(task, values):
    """The runs of a sweep: every combination of `values`, each with all its settings, checked.

    Args:
        task: a task name (a key of `tasks.TASKS`).
        values: {setting: values or one value}, from `settings_names()`; cell and length are
            required, the others default to seed 0, 1000 iterations and `TrainingSettings()`.

    Returns:
        A list of {setting: value} dicts, every setting named, in grid order.

    Raises:
        ValueError: an unknown task or setting, a missing cell or length, or a value a run would
            refuse (the message is the run's own).
    """
    task = get_task(task, "run_sweep").name
    names = settings_names()
    unknown = [name for name in values if name not in names]
    if unknown:
        raise ValueError(f"run_sweep: unknown setting{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
                         f"the settings are {', '.join(names)}")
    missing = [name for name in ("cell", "length") if name not in values]
    if missing:
        raise ValueError(f"run_sweep: give the {' and '.join(missing)} to sweep over")
    defaults = {**RUN_DEFAULTS, **dataclasses.asdict(TrainingSettings())}
    values = {name: values.get(name, defaults.get(name)) for name in names}
    cells = values["cell"] if isinstance(values["cell"], (list, tuple)) else [values["cell"]]
    values["cell"] = [ALIASES.get(cell, cell) for cell in cells]  # one spelling per cell, in files too
    grid = settings_grid(values)
    for settings in grid:
        check_run(task, settings)
    return grid


def check_run(task, settings):
    """Refuse, before anything runs, a run's settings that `train_task` would refuse (same messages).

    Cells are names here (a sweep's file records them by name; from Python, train your own cell
    class with `tasks.run_task`).
    """
    where = "run_sweep"
    if not isinstance(settings["cell"], str):
        raise TypeError(f"{where}: a sweep's cells are names ({', '.join(CELL_NAMES)}), got {settings['cell']!r}")
    check_cells(settings["cell"], where)
    get_task(task, where).check_length(settings["length"], where)
    checks.positive_int(settings["iterations"], "iterations", where)
    checks.non_negative_int(settings["seed"], "seed", where)
    training = {name: value for name, value in settings.items() if name not in RUN_SETTINGS}
    TrainingSettings(**training).checked(where)


def run_key(task, settings):
    """The identity of a run: its task and settings as canonical JSON text (keys sorted)."""
    return json.dumps({"task": task, "settings": jsonable(settings)}, sort_keys=True)


def read_runs(path):
    """The finished runs in a sweep file, and the size of its whole lines in bytes.

    A last line without its newline is a write that was cut short; it is not returned, and its
    bytes are not counted, so that `repair_tail` can remove it.

    Raises:
        SweepMismatch: a whole line that is not a run record (the file is not a sweep file).
    """
    if not os.path.exists(path):
        return [], 0
    with open(path, "rb") as file:
        data = file.read()
    whole = data[:data.rfind(b"\n") + 1]
    records = []
    for number, line in enumerate(whole.splitlines(), start=1):
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if not (isinstance(record, dict) and {"task", "settings", "result"} <= set(record)):
            raise SweepMismatch(f"{path} line {number} is not a sweep run (JSON with task, settings and "
                                f"result); give --out a new file or a sweep's own file")
        records.append(record)
    return records, len(whole)


def repair_tail(path, size):
    """Cut `path` back to its first `size` bytes (its whole lines), dropping a torn last line."""
    if os.path.exists(path) and os.path.getsize(path) > size:
        with open(path, "r+b") as file:
            file.truncate(size)


def append_run(path, record):
    """Append one run as one line: a single write of the whole line, then flushed to disk."""
    line = (json.dumps(jsonable(record), allow_nan=False, separators=(",", ":")) + "\n").encode()
    handle = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        written = os.write(handle, line)
        while written < len(line):  # only on a nearly full disk; the reader drops a torn line
            written += os.write(handle, line[written:])
        os.fsync(handle)
    finally:
        os.close(handle)


def check_same_sweep(records, task, names, path):
    """Refuse a file whose runs are of another task or have other setting names.

    Raises:
        SweepMismatch: one line saying what the file holds and what to do.
    """
    for record in records:
        if record["task"] != task:
            raise SweepMismatch(f"{path} holds a sweep of the {record['task']} task, not {task}; "
                                f"give --out another file")
        if set(record["settings"]) != set(names):
            raise SweepMismatch(f"{path} holds runs with the settings {', '.join(sorted(record['settings']))}, "
                                f"not {', '.join(sorted(names))}; give --out another file")


def one_run(task, settings):
    """Run one configuration and return its line: {"task", "settings", "result"}."""
    run = settings | {}
    training = TrainingSettings(**{name: run.pop(name) for name in settings if name not in RUN_SETTINGS})
    result = train_task(task, settings=training, **run)
    return {"task": task, "settings": settings, "result": jsonable(dataclasses.asdict(result))}


def _one_run_for(item):
    """`one_run` of a (task, settings, path) item, returning (path, record): what workers run."""
    task, settings, path = item
    return path, one_run(task, settings)


@dataclasses.dataclass
class SweepResult:
    """The runs of one sweep, in the order of its settings grid.

    Attributes:
        task: the task's name.
        varied: the settings given several values, in the order of the grid.
        records: one {"task", "settings", "result"} dict per run of the grid.
        new: how many of them this call ran (the others were in the file already).
        path: the JSON-lines file.
        jobs: the worker processes used (None: this process).
        seconds: the wall-clock time of this call.
    """
    task: str
    varied: list
    records: list
    new: int
    path: str
    jobs: int | None
    seconds: float

    def table(self):
        """One row per run: its cell, length and varied settings, iterations to leave the baseline, final loss."""
        columns = list(dict.fromkeys(["cell", "length", *self.varied]))
        headers = [*columns, "baseline", "left baseline at", "final loss", "seconds"]
        rows = []
        for record in self.records:
            result = record["result"]
            left = result["iterations_to_leave_baseline"]
            rows.append([*(str(record["settings"][name]) for name in columns), f"{result['baseline']:.4f}",
                         "-" if left is None else str(left), _format_loss(result["final_loss"]),
                         f"{result['seconds']:.1f}"])
        title = (f"Sweep of the {self.task} task: {len(self.records)} runs ({self.new} trained now, "
                 f"{len(self.records) - self.new} found in {self.path}); '-' = never left the baseline.")
        return f"{format_table(headers, rows, title=title)}\n({self.seconds:.1f} s {describe_jobs(self.jobs)})"

    def lines(self):
        """The runs grouped into the plot's lines: {(cell, other varied settings): {length: [results]}}."""
        others = [name for name in self.varied if name not in ("cell", "length", "seed")]
        grouped = {}
        for record in self.records:
            settings = record["settings"]
            key = (settings["cell"], tuple((name, settings[name]) for name in others))
            grouped.setdefault(key, {}).setdefault(settings["length"], []).append(record["result"])
        return grouped

    def plot(self, path, measure="final_loss"):
        """Plot `measure` against the sequence length, one line per cell (and per other varied setting).

        Each line joins the means over the seeds; every seed is also drawn as a dot. For the final
        loss the task's no-memory baseline is drawn for comparison; for the iterations, a run that
        never left the baseline is drawn at the top of the axes, as an open marker.
        """
        if measure not in MEASURES:
            raise ValueError(f"SweepResult.plot: measure must be one of {', '.join(MEASURES)}, got {measure!r}")
        figure = new_figure(6.5, 4.2)
        axes = figure.subplots()
        grouped = self.lines()
        ceiling = max((r["iterations"] for r in _all_results(grouped)), default=1)
        one_line_per_cell = len(grouped) == len({cell for cell, _ in grouped})
        for (cell, others), by_length in grouped.items():
            lengths = sorted(by_length)
            measured = {length: [_measured(result, measure, ceiling) for result in by_length[length]]
                        for length in lengths}
            means = [np.mean([value for value, _ in measured[length] if value is not None] or [np.nan])
                     for length in lengths]
            label = label_of(cell) + "".join(f", {name} {value}" for name, value in others)
            line, = axes.plot(lengths, means, "-", color=colour_of(cell) if one_line_per_cell else None, label=label)
            for length in lengths:  # every seed as a dot; open if it never left the baseline
                for value, censored in measured[length]:
                    if value is not None:
                        axes.plot(length, value, "o", color=line.get_color(), mfc="none" if censored else None,
                                  alpha=0.6, markersize=4)
        if measure == "final_loss":
            baselines = sorted({(length, result["baseline"]) for by_length in grouped.values()
                                for length, results in by_length.items() for result in results})
            axes.plot(*zip(*baselines), ":", color="black", label="no-memory baseline")
            axes.set_yscale("log")
        axes.set_xlabel("sequence length T")
        axes.set_ylabel(MEASURES[measure])
        axes.set_title(f"{self.task}: {MEASURES[measure]} against T")
        axes.legend(fontsize="small")
        save_figure(figure, path)


def _format_loss(value):
    return "nan" if value is None or not math.isfinite(value) else f"{value:.4f}"


def _all_results(grouped):
    return [result for by_length in grouped.values() for results in by_length.values() for result in results]


def _measured(result, measure, ceiling):
    """(value, censored): a run that never left the baseline is drawn at the iteration ceiling."""
    value = result[measure]
    if measure == "iterations_to_leave_baseline" and value is None:
        return ceiling, True
    return value, False


def run_sweep(task, values, path, jobs=None, progress=True):
    """Run every combination of `values` not yet in `path`, appending each run as it ends.

    Args:
        task: a task name (a key of `tasks.TASKS`).
        values: {setting: values}, see `sweep_grid`; or a list of such dicts, whose grids are
            run together (e.g. a different number of units for each cell).
        path: the JSON-lines file; created (with its folder) if missing, extended if it holds
            runs of this task.
        jobs: worker processes (runs end, and are written, in any order), or None to run here.
        progress: show a progress bar on stderr (if tqdm is installed; nothing otherwise).

    Returns:
        A `SweepResult` with every run of the grid, those found in the file included.

    Raises:
        ValueError: an unknown task or setting, or a bad value (before any run starts).
        SweepMismatch: the file holds runs of another task or with other settings.
        SweepInterrupted: Ctrl-C; the finished runs are in the file.
    """
    return run_sweeps([(task, values, path)], jobs, progress)[0]


def run_sweeps(sweeps, jobs=None, progress=True, on_run=None):
    """Run several sweeps' missing runs together, the costliest first, each appended to its own file.

    Args:
        sweeps: a list of (task, values, path), as `run_sweep` takes them.
        jobs, progress: see `run_sweep`; one pool of workers runs the runs of every sweep.
        on_run: optional `on_run(path, record)`, called after each run is written (e.g. to log it).

    Returns:
        One `SweepResult` per sweep, in order.
    """
    start = time.perf_counter()
    plans, done, todo = [], {}, {}
    for task, values, path in sweeps:
        task = get_task(task, "run_sweep").name
        grid = [settings for part in ([values] if isinstance(values, dict) else values)
                for settings in sweep_grid(task, part)]
        path = os.fspath(path)
        if path not in done:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            records, size = read_runs(path)
            check_same_sweep(records, task, settings_names(), path)
            repair_tail(path, size)
            done[path] = {run_key(record["task"], record["settings"]): record for record in records}
        for settings in grid:
            if run_key(task, settings) not in done[path]:
                todo[(path, run_key(task, settings))] = (task, settings, path)
        plans.append((task, grid, path))
    total = sum(len(grid) for _, grid, _ in plans)
    finished = total - len(todo)
    bar = _progress_bar(total, finished, ", ".join(dict.fromkeys(task for task, _, _ in plans))) if progress else None
    try:
        for path, record in _runs(sorted(todo.values(), key=_cost, reverse=True), jobs):
            append_run(path, record)
            done[path][run_key(record["task"], record["settings"])] = record
            finished += 1
            if on_run is not None:
                on_run(path, record)
            if bar is not None:
                bar.update(1)
    except KeyboardInterrupt:
        # Counted from the files: Ctrl-C may have come between a line's write and the count.
        written = {path: {run_key(r["task"], r["settings"]) for r in read_runs(path)[0]} for _, _, path in plans}
        finished = sum(run_key(task, settings) in written[path] for task, grid, path in plans for settings in grid)
        raise SweepInterrupted(finished, total, ", ".join(dict.fromkeys(path for _, _, path in plans))) from None
    finally:
        if bar is not None:
            bar.close()
    seconds = time.perf_counter() - start
    results = []
    for task, grid, path in plans:
        varied = [name for name in settings_names() if len({repr(settings[name]) for settings in grid}) > 1]
        new = sum((path, run_key(task, settings)) in todo for settings in grid)
        results.append(SweepResult(task, varied, [done[path][run_key(task, settings)] for settings in grid], new,
                                   path, jobs, seconds))
    return results


def _cost(item):
    """A rough estimate of a run's time, to start the costliest first (the last run then ends sooner)."""
    _, settings, _ = item
    per_step = settings["length"] * settings["batch_size"] * (settings["units"] ** 2 + 64 * settings["units"])
    return settings["iterations"] * per_step * step_cost(settings["cell"])


def _runs(todo, jobs):
    """(path, record) of each run in `todo`, as soon as it ends (here, or in worker processes)."""
    if jobs is None or not todo:
        for task, settings, path in todo:
            yield path, one_run(task, settings)
        return
    with worker_pool(min(jobs, len(todo))) as pool:
        yield from pool.imap_unordered(_one_run_for, todo)


def _progress_bar(total, initial, task):
    """A tqdm bar on stderr, or None when tqdm is not installed (the sweep then runs quietly)."""
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, initial=initial, desc=f"sweep {task}", unit="run", dynamic_ncols=True)
