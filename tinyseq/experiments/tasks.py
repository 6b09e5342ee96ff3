"""The long-memory tasks by name, and runs of any cells over lengths and seeds on one of them.

    adding          `adding`: the sum of two marked values among T (baseline MSE 1/6)
    copying         `copying`: recall 10 symbols after a delay of T (baseline 10 ln 8 / (T + 20))
    temporal_order  `temporal_order`: the order of two markers among T symbols (baseline ln 4)

`train_task` trains one cell on one task, length and seed (`training.train`); `run_task` runs
every combination of cells, lengths and seeds and returns a `TaskResult`, whose table gives, per
length and cell, the iterations to leave the baseline and the final test loss and accuracy.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .. import checks
from .adding import ADDING
from .cells import cell_name, check_cells
from .common import (ExperimentResult, colour_of, describe_jobs, distinct, format_table, label_of, new_figure,
                     run_tasks, save_figure, step_cost)
from .copying import COPYING
from .temporal_order import TEMPORAL_ORDER
from .training import LEAVE_BASELINE_FRACTION, TrainingSettings, describe_settings, train

TASKS = {task.name: task for task in (ADDING, COPYING, TEMPORAL_ORDER)}
# How the loss is measured, for tables and plots.
LOSS_NAMES = {"adding": "test MSE", "copying": "test cross-entropy per step (nats)",
              "temporal_order": "test cross-entropy (nats)"}


def get_task(task, where):
    """The `Task` called `task` ("temporal-order" is read as "temporal_order"); ValueError naming `where` otherwise."""
    name = task.replace("-", "_") if isinstance(task, str) else task
    if name not in TASKS:
        raise ValueError(f"{where}: unknown task {task!r}; the tasks are {', '.join(map(repr, TASKS))}")
    return TASKS[name]


def train_task(task, cell, length, seed=0, iterations=1000, settings=TrainingSettings()):
    """Train `cell` on `task` at `length` for `iterations`, following the test loss from the baseline.

    Args:
        task: a key of `TASKS` ("adding", "copying", "temporal_order").
        cell: a name of `cells.CELL_NAMES` or a `RecurrentCell` subclass.
        length: T (adding, temporal_order: the sequence length; copying: the delay).
        seed: seeds the weights and the data.
        iterations: the number of training batches.
        settings: a `TrainingSettings`.

    Returns:
        A `training.TaskRun`.

    Raises:
        ValueError: for an unknown task or cell, a length the task does not allow, or a bad setting.
    """
    return train(get_task(task, "train_task"), cell, length, seed, iterations, settings, where="train_task")


@dataclass
class TaskResult(ExperimentResult):
    """Every run of `run_task`, with the settings they used.

    Attributes:
        task: the task's name.
        runs: one `TaskRun` per cell, length and seed.
        cells: the cells' names, in the order of the table.
        lengths: the lengths T.
        seeds: the seeds.
        iterations: the iterations of every run.
        settings: the `TrainingSettings` of every run.
        jobs: the worker processes used (None: this process).
        seconds: the wall-clock time of the whole experiment.
    """
    task: str
    runs: list
    cells: list
    lengths: list
    seeds: list
    iterations: int
    settings: TrainingSettings
    jobs: int | None
    seconds: float

    def groups(self):
        """The runs grouped by (length, cell), lengths ascending, cells in the order of `cells`."""
        grouped = {}
        for run in sorted(self.runs, key=lambda r: (r.length, self.cells.index(r.cell), r.seed)):
            grouped.setdefault((run.length, run.cell), []).append(run)
        return grouped

    def table(self):
        """Per length and cell: the baseline, the iterations to leave it, the final loss and accuracy, per seed."""
        rows = []
        for (length, cell), runs in self.groups().items():
            rows.append([str(length), label_of(cell), f"{runs[0].baseline:.4f}",
                         " ".join("-" if r.iterations_to_leave_baseline is None else str(r.iterations_to_leave_baseline)
                                  for r in runs),
                         " ".join(f"{r.final_loss:.4f}" for r in runs),
                         " ".join("-" if r.final_accuracy is None else f"{r.final_accuracy:.2f}" for r in runs)])
        title = (f"{self.task.replace('_', ' ').capitalize()} task, {self.iterations} iterations, per seed "
                 f"{self.seeds}. {describe_settings(self.settings)}\n{LOSS_NAMES[self.task]} every "
                 f"{self.settings.eval_every} iterations on {self.settings.test_size} sequences; leaving the "
                 f"baseline: below {LEAVE_BASELINE_FRACTION:g} x baseline ('-' = never).")
        text = format_table(["T", "cell", "baseline", "iterations to leave baseline", "final loss",
                             "final accuracy"], rows, title=title)
        return f"{text}\n({self.seconds:.1f} s {describe_jobs(self.jobs)})"

    def rows(self):
        """One row per run."""
        return [{"task": r.task, "cell": r.cell, "length": r.length, "seed": r.seed, "iterations": r.iterations,
                 "baseline": r.baseline, "iterations_to_leave_baseline": r.iterations_to_leave_baseline,
                 "final_loss": r.final_loss, "final_accuracy": r.final_accuracy, "seconds": r.seconds}
                for r in self.runs]

    def plot(self, path):
        """Test loss against iterations, one panel per length, every cell and seed, with the baseline."""
        groups = self.groups()
        figure = new_figure(4 * len(self.lengths), 3.6)
        axes_list = np.atleast_1d(figure.subplots(1, len(self.lengths)))
        for axes, length in zip(axes_list, sorted(self.lengths)):
            for cell in self.cells:
                for index, run in enumerate(groups.get((length, cell), [])):
                    steps, losses = zip(*run.curve)
                    axes.plot(steps, losses, color=colour_of(cell), alpha=0.8,
                              label=label_of(cell) if index == 0 else None)
            baseline = TASKS[self.task].baseline(length)
            axes.axhline(baseline, color="grey", linestyle="--", linewidth=0.8, label="no-memory baseline")
            axes.set_yscale("log")
            axes.set_title(f"T = {length}")
            axes.set_xlabel("iteration")
        axes_list[0].set_ylabel(LOSS_NAMES[self.task])
        axes_list[0].legend(fontsize="small")
        save_figure(figure, path)


def run_task(task, cells=("rnn", "lstm"), lengths=(10, 20, 50), seeds=(0,), iterations=1000,
             settings=TrainingSettings(), jobs=None):
    """Train every cell at every length and seed on `task`.

    Args:
        task: a key of `TASKS`.
        cells: names of `cells.CELL_NAMES` or `RecurrentCell` subclasses.
        lengths: the lengths T.
        seeds: one run per cell, length and seed.
        iterations: the iterations of every run.
        settings: the `TrainingSettings` of every run.
        jobs: worker processes, or None to run here (see `common.run_tasks`).

    Returns:
        A `TaskResult`.

    Raises:
        ValueError: for an unknown task or cell, a length the task does not allow, or a bad setting.
    """
    where = "run_task"
    definition = get_task(task, where)
    cells = check_cells(cells, where)
    lengths = distinct([definition.check_length(length, where) for length in lengths], "lengths", where)
    seeds = distinct(list(seeds), "seeds", where)
    iterations = checks.positive_int(iterations, "iterations", where)
    settings.checked(where)
    start = time.perf_counter()
    configurations = [dict(task=definition.name, cell=cell, length=length, seed=seed, iterations=iterations,
                      settings=settings) for length in lengths for cell in cells for seed in seeds]
    runs = run_tasks(train_task, configurations, jobs,
                     cost=lambda run: run["length"] * step_cost(run["cell"]))
    return TaskResult(definition.name, runs, [cell_name(cell) for cell in cells], lengths, seeds, iterations, settings,
                      jobs, time.perf_counter() - start)
