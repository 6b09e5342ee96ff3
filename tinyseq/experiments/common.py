"""What the vanishing-gradient experiments share: a training step, worker processes, text
tables, JSON and CSV files, plots.

Every experiment returns a dataclass that mixes in `ExperimentResult`, which gives it
`to_json()` and `save()` on top of its own `table()`, `rows()` and `plot()`. Files are written
atomically (a temporary file, then `os.replace`), so an interrupted run never leaves half a file
where a finished one is expected.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import json
import math
import multiprocessing
import os
import signal

import numpy as np

from .. import ops, threads
from ..files import atomic_write
from .cells import cell_name

# Every experiment names and colours a cell the same way, in its tables and its plots.
LABELS = {"rnn": "SimpleRNN", "irnn": "IRNN", "lstm": "LSTM", "lstm_chrono": "LSTM chrono", "gru": "GRU"}
COLOURS = {"rnn": "tab:red", "irnn": "tab:orange", "lstm": "tab:blue", "lstm_chrono": "tab:green",
           "gru": "tab:purple"}
# A learner's own cells, which have no colour of their own, take these in turn.
OTHER_COLOURS = ("tab:brown", "tab:pink", "tab:olive", "tab:cyan", "tab:gray")
# The time of a training step relative to the SimpleRNN's, to start the costliest runs first.
STEP_COST = {"rnn": 1, "irnn": 1, "lstm": 3, "lstm_chrono": 3, "gru": 3}
# A learner's own cell runs step by step (no fused kernel), slower than any fused cell.
OTHER_STEP_COST = 5


def label_of(cell):
    """The cell's name in tables and legends ("SimpleRNN"); a learner's cell keeps its own name."""
    return LABELS.get(cell_name(cell), cell_name(cell))


def colour_of(cell):
    """The cell's colour in every plot; a learner's cells share `OTHER_COLOURS` by name."""
    name = cell_name(cell)
    if name in COLOURS:
        return COLOURS[name]
    return OTHER_COLOURS[sum(map(ord, name)) % len(OTHER_COLOURS)]


def step_cost(cell):
    """The relative time of one training step of `cell` (`STEP_COST`), to start the costliest runs first."""
    return STEP_COST.get(cell_name(cell), OTHER_STEP_COST)


def distinct(values, argument, where):
    """`values` as a list, if it is not empty and names nothing twice; ValueError naming `where` otherwise."""
    values = list(values)
    if not values:
        raise ValueError(f"{where}: {argument} is empty")
    repeated = sorted({value for value in values if values.count(value) > 1})
    if repeated:
        raise ValueError(f"{where}: {argument} lists {', '.join(map(str, repeated))} more than once")
    return values


class PlottingUnavailable(RuntimeError):
    """Raised when a plot is asked for but matplotlib (the `plots` extra) is not installed."""


class ExperimentResult:
    """Mixin for the result dataclasses: JSON and CSV output from `table`/`rows`/`plot`.

    Subclasses are dataclasses and implement `table()` (the printed text), `rows()` (the
    table as a list of dicts, for CSV) and `plot(path)`.
    """

    def table(self):
        """The measured values next to the predictions, as printed text."""
        raise NotImplementedError(f"{type(self).__name__}.table is not implemented")

    def rows(self):
        """The printed table as a list of flat dicts (one per row), for CSV."""
        raise NotImplementedError(f"{type(self).__name__}.rows is not implemented")

    def plot(self, path):
        """Save a figure of the result to `path` (the suffix picks the format)."""
        raise NotImplementedError(f"{type(self).__name__}.plot is not implemented")

    def to_json(self):
        """Every field as strict JSON text; non-finite numbers (a diverged loss) become null."""
        return json.dumps(jsonable(dataclasses.asdict(self)), indent=1, allow_nan=False)

    def save(self, json_path):
        """Write the JSON to `json_path` and the table as CSV beside it (same name, .csv).

        Returns:
            The paths written, JSON first.
        """
        csv_path = os.path.splitext(json_path)[0] + ".csv"
        write_atomically(json_path, self.to_json() + "\n")
        write_atomically(csv_path, csv_text(self.rows()))
        return [json_path, csv_path]


def jsonable(value):
    """Turn numpy scalars and arrays into Python values, and NaN or ±inf into None."""
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [jsonable(item) for item in value]
    if isinstance(value, (np.integer, np.bool_)):
        return value.item()
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


def write_atomically(path, text):
    """Write `text` to `path` atomically (see `tinyseq.files.atomic_write`)."""
    with atomic_write(path, "w", encoding="utf-8", newline="") as file:
        file.write(text)


def csv_text(rows):
    """CSV text for a list of dicts; the columns are the keys of the first row, in order."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows({key: jsonable(value) for key, value in row.items()} for row in rows)
    return buffer.getvalue()


def format_table(headers, rows, title=None):
    """Right-aligned plain-text columns under a header line, with an optional title above.

    Args:
        headers: the column names.
        rows: one sequence of already formatted strings per row.
        title: a line printed above the table.
    """
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows)]
    lines = [] if title is None else [title]
    lines.append("  ".join(str(h).rjust(w) for h, w in zip(headers, widths)))
    lines.append("  ".join("-" * w for w in widths))
    lines.extend("  ".join(str(c).rjust(w) for c, w in zip(row, widths)) for row in rows)
    return "\n".join(lines)


def new_figure(width=10.0, height=4.0):
    """A matplotlib `Figure` (no pyplot, so no backend or global state), imported only when a
    plot is made.

    Raises:
        PlottingUnavailable: if matplotlib is missing, saying how to install it.
    """
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise PlottingUnavailable("plotting needs matplotlib: pip install tinyseq[plots]") from None
    return Figure(figsize=(width, height), layout="constrained")


def save_figure(figure, path):
    """Save `figure` to `path` atomically; the suffix picks the format (.png, .svg, .pdf)."""
    with atomic_write(path) as file:
        figure.savefig(file, dpi=120, format=os.path.splitext(path)[1][1:] or "png")


def fitted_slope(values):
    """The least-squares slope of `values` against their index 0, 1, 2, ... (per step).

    Only the finite values count: log10 of a gradient that is exactly 0 (float64 underflow, or
    ReLU units all inactive) is -inf, and says nothing about the slope before it.
    """
    values = np.asarray(values, dtype=np.float64)
    steps = np.arange(len(values), dtype=np.float64)
    finite = np.isfinite(values)
    if finite.sum() < 2:
        return math.nan
    values, steps = values[finite], steps[finite]
    centred = steps - steps.mean()
    return float(np.dot(centred, values - values.mean()) / np.dot(centred, centred))


def global_norm(arrays):
    """The L2 norm of all the arrays taken together (what `global_clipnorm` compares), in float64."""
    return math.sqrt(sum(float(np.sum(np.square(a, dtype=np.float64))) for a in arrays))


def mean_loss(loss_function, y, predictions):
    """The mean of `loss_function(y, predictions)` over every sample (and step), as a float."""
    return ops.mean(loss_function(y, predictions)).item()


@threads.single_threaded_blas()  # as `Sequential.train_step`: see `tinyseq.threads`
def train_step(model, optimizer, loss_function, x, y):
    """One step of gradient descent: forward, mean loss, backward, optimizer step.

    Args:
        model: a module mapping `x` to predictions (built by its first call).
        optimizer: a `tinyseq.optimizers` optimizer; it applies its own clipping.
        loss_function: `loss_function(y_true, y_pred)` -> the loss per sample (as the functions
            of `tinyseq.losses` return it); the step minimises its mean.
        x, y: one batch.

    Returns:
        (loss, gradient norm): the batch's mean loss and the global gradient norm before clipping.
    """
    loss = ops.mean(loss_function(y, model(x)))
    model.zero_grad()
    loss.backward()
    parameters = model.parameters()
    norm = global_norm(p.grad for p in parameters)
    optimizer.step(parameters)
    return loss.item(), norm


# Worker processes run their BLAS single-threaded (see `run_tasks`).
BLAS_THREADS = {name: "1" for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}


def run_tasks(function, tasks, jobs=None, cost=None):
    """`[function(**task) for task in tasks]`, here or in `jobs` worker processes.

    Workers are spawned (not forked), so they start clean, with single-threaded BLAS: `jobs`
    processes already keep `jobs` cores busy, and a multithreaded BLAS inside each of them only
    fights the others for the cores (OpenBLAS's threads spin while they wait, which slows small
    matrix products down badly on a busy machine). Each task seeds its own random draws, so the results
    are the same for any number of workers. Running here (jobs=None) uses this process's BLAS,
    whose different summation order can change the last bits (and, in a run whose gradients
    explode, more than that).

    Spawned workers import the main module, so a script that asks for workers must start its
    work under `if __name__ == "__main__":` (the `tinyseq` command does).

    Args:
        function: a module-level function (workers import it by name).
        tasks: a list of keyword-argument dicts.
        jobs: the number of worker processes, or None to run everything here, in order.
        cost: optional `cost(task)` estimate; the costliest tasks start first so that the
            workers finish at about the same time.

    Returns:
        The results, in the order of `tasks`.
    """
    if jobs is None:
        return [function(**task) for task in tasks]
    if not (isinstance(jobs, int) and jobs >= 1):
        raise ValueError(f"jobs must be a positive number of worker processes or None, got {jobs}")
    order = sorted(range(len(tasks)), key=lambda i: -cost(tasks[i])) if cost else range(len(tasks))
    with worker_pool(min(jobs, len(tasks))) as pool:
        pending = {i: pool.apply_async(function, kwds=tasks[i]) for i in order}
        return [pending[i].get() for i in range(len(tasks))]


@contextlib.contextmanager
def worker_pool(jobs):
    """A pool of `jobs` spawned worker processes with single-threaded BLAS (see `run_tasks`).

    The workers ignore Ctrl-C, which the main process handles: on any exception inside the block
    (Ctrl-C, a failed task) the workers are stopped at once, not after their runs; otherwise the
    pool is closed and joined when the block ends.

    Raises:
        ValueError: if `jobs` is not a positive number of processes.
    """
    if not (isinstance(jobs, int) and jobs >= 1):
        raise ValueError(f"worker_pool: jobs must be a positive number of worker processes, got {jobs}")
    with _environment(BLAS_THREADS):  # spawned workers read it when they import numpy
        pool = multiprocessing.get_context("spawn").Pool(jobs, initializer=_start_worker)
    try:
        yield pool
        pool.close()
    except BaseException:
        pool.terminate()  # Ctrl-C or a failed task: stop the other workers now, not after their runs
        raise
    finally:
        pool.join()


def _start_worker():
    """Workers leave Ctrl-C to the main process, which stops them all (`run_tasks`), and compute
    on one thread: the workers already keep the cores busy (the results do not change)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threads.set_num_threads(1)


def describe_jobs(jobs):
    """How a result was computed, for its table: "in this process" or "in 2 worker processes"."""
    return "in this process" if jobs is None else f"in {jobs} worker process{'es' if jobs > 1 else ''}"


@contextlib.contextmanager
def _environment(variables):
    """Set environment variables inside the block and restore the previous values after it."""
    previous = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
