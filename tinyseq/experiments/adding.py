"""The adding problem: a plain tanh RNN against an LSTM (and a GRU) as the distance to remember grows.

The task in the form of Arjovsky, Shah & Bengio (2016), after Hochreiter & Schmidhuber (1997):
each of the T steps carries two numbers, a value drawn from U[0, 1] and a marker. Exactly two
markers are 1, one at a random step of the first half and one in the second half; the target
is the sum of the two marked values. Always predicting the mean, 1, gives an MSE equal to the
variance of a sum of two U[0, 1] values: 2/12 = 1/6, the baseline. (A network that sees only the
last step does a little better when that step is marked: 1/6 - 1/(12 (T - floor(T/2))), 0.150 at
T = 10 but 0.165 at T = 100; so at short T, leaving the baseline says little.) Solving the task
means carrying the first marked value across up to T steps of irrelevant inputs.

Setup (the classic comparison's): hidden size 32, batch 64, Adam with learning rate 1e-2 and global
clipnorm 1, LSTM forget-gate bias 1 (Keras's unit_forget_bias), a linear Dense(1) read-out,
mean squared error. The test MSE is measured every `eval_every` iterations on a fixed test set;
"iterations to threshold" is the first such iteration with test MSE < 0.01. The models of one
seed and T see the same batches and the same test set.

The classic comparison is the RNN against the LSTM, so those two run by default; `cells=` chooses
any of `cells.CELL_NAMES` (the IRNN, the GRU, the chrono LSTM with T_max = T) or a learner's own
cell class, and `settings=` any `TrainingSettings` (the defaults above are its defaults). The
expected outcomes are checked only at the default settings, the ones they were measured for.
Tutorials 5 and 9 show what each model does at T = 100.

Each run also records the baseline, 1/6, and the iterations to leave it (see `training`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .. import checks
from ..losses import mean_squared_error
from ..nn import GRU, LSTM, SimpleRNN
from .cells import cell_name, check_cells
from .common import (ExperimentResult, colour_of, describe_jobs, format_table, label_of, new_figure, run_tasks,
                     save_figure, step_cost)
from .training import Task, TrainingSettings, describe_settings, train

THRESHOLD = 0.01
BASELINE_MSE = 1 / 6            # always predicting the mean sum, 1
RNN_FAILS_ABOVE = 0.1           # the RNN is expected to stay above this at T >= 50
# The layers of the classic comparison, as tutorial 5 builds them (`cells.recurrent_layer` builds the same).
RECURRENT_LAYERS = {"rnn": SimpleRNN, "lstm": LSTM, "gru": GRU}
DEFAULT_CELLS = ("rnn", "lstm")
# The default iteration budgets: the simple RNNs get twice the gated cells' iterations.
DEFAULT_ITERATIONS = {"rnn": 2000, "irnn": 2000}
GATED_ITERATIONS = 1000
# The settings of the classic comparison: `TrainingSettings`'s defaults.
AddingSettings = TrainingSettings


@dataclass
class AddingRun:
    """One training run on the adding problem.

    Attributes:
        model: the cell's name (see `cells`), or a learner's cell class's name.
        timesteps: the sequence length T.
        seed: the seed of the weights and the data.
        iterations: the iterations trained.
        iterations_to_threshold: the first evaluated iteration with test MSE < 0.01, or None.
        final_mse: the test MSE after the last iteration.
        curve: [iteration, test MSE] pairs, every `eval_every` iterations.
        seconds: the wall-clock time of the run.
        baseline: the MSE of predicting the mean, 1/6.
        iterations_to_leave_baseline: the first evaluated iteration with test MSE below 0.9 x the
            test set's MSE of always answering 1 (about 1/6; `training.leaves_baseline`), or None.
    """
    model: str
    timesteps: int
    seed: int
    iterations: int
    iterations_to_threshold: int | None
    final_mse: float
    curve: list
    seconds: float
    baseline: float = BASELINE_MSE
    iterations_to_leave_baseline: int | None = None


@dataclass
class AddingResult(ExperimentResult):
    """All runs of `run_adding`, with the settings they used.

    Attributes:
        runs: one `AddingRun` per cell, T and seed.
        models: the cells run (their names), in the order of the table.
        seeds: the seeds.
        budgets: the iteration budget per cell.
        settings: the `TrainingSettings` of every run.
        jobs: the worker processes used (None: this process).
        seconds: the wall-clock time of the whole experiment.
    """
    runs: list
    models: list
    seeds: list
    budgets: dict
    settings: AddingSettings
    jobs: int | None
    seconds: float

    def groups(self):
        """The runs grouped by (T, model), in the order T ascending, then the order of `models`."""
        grouped = {}
        for run in sorted(self.runs, key=lambda r: (r.timesteps, self.models.index(r.model), r.seed)):
            grouped.setdefault((run.timesteps, run.model), []).append(run)
        return grouped

    def expectations(self):
        """The expected outcomes, each with whether it held, keyed by (T, model).

        At the default settings, the LSTM should reach test MSE < 0.01 within its budget for every
        T <= 100; the RNN should still be above 0.1 after its budget for T >= 50 (no claim for
        shorter T, for other cells, or at other settings).
        """
        verdicts = {}
        if self.settings != AddingSettings():
            return verdicts
        for (timesteps, model), runs in self.groups().items():
            if model == "lstm" and timesteps <= 100:
                claim = f"< {THRESHOLD:g} within {self.budgets['lstm']}"
                held = all(r.iterations_to_threshold is not None for r in runs)
            elif model == "rnn" and timesteps >= 50:
                claim = f"> {RNN_FAILS_ABOVE:g} after {self.budgets['rnn']}"
                held = all(r.final_mse > RNN_FAILS_ABOVE for r in runs)
            else:
                continue
            verdicts[(timesteps, model)] = (claim, held)
        return verdicts

    def table(self):
        """Per T and model: iterations to MSE < 0.01 and final MSE for each seed, and the verdict."""
        verdicts = self.expectations()
        rows = []
        for (timesteps, model), runs in self.groups().items():
            claim, held = verdicts.get((timesteps, model), ("-", None))
            rows.append([str(timesteps), model,
                         " ".join("-" if r.iterations_to_threshold is None else str(r.iterations_to_threshold)
                                  for r in runs),
                         " ".join(f"{r.final_mse:.4f}" for r in runs),
                         " ".join("-" if r.iterations_to_leave_baseline is None else str(r.iterations_to_leave_baseline)
                                  for r in runs),
                         claim, {True: "held", False: "NOT HELD", None: ""}[held]])
        budgets = ", ".join(f"{label_of(model)} {self.budgets[model]}" for model in self.models)
        title = (f"Adding problem (baseline MSE 1/6 = {BASELINE_MSE:.4f}), per seed {self.seeds}; iterations "
                 f"trained: {budgets}.\n{describe_settings(self.settings)}\n"
                 f"Test MSE every {self.settings.eval_every} iterations on {self.settings.test_size} sequences; "
                 f"'-' = never below {THRESHOLD:g} (or, for leaving the baseline, never below 0.9 x 1/6).")
        text = format_table(["T", "model", f"iterations to < {THRESHOLD:g}", "final test MSE",
                             "iterations to leave baseline", "expected", "verdict"], rows, title=title)
        return f"{text}\n({self.seconds:.1f} s {describe_jobs(self.jobs)})"

    def rows(self):
        """One row per run."""
        return [{"model": r.model, "timesteps": r.timesteps, "seed": r.seed, "iterations": r.iterations,
                 "iterations_to_threshold": r.iterations_to_threshold, "final_mse": r.final_mse,
                 "iterations_to_leave_baseline": r.iterations_to_leave_baseline, "seconds": r.seconds}
                for r in self.runs]

    def plot(self, path):
        """Test MSE against iterations, one panel per T, every model and seed."""
        groups = self.groups()
        lengths = sorted({t for t, _ in groups})
        figure = new_figure(4 * len(lengths), 3.6)
        axes_list = np.atleast_1d(figure.subplots(1, len(lengths), sharey=True))
        for axes, timesteps in zip(axes_list, lengths):
            for model in self.models:
                for index, run in enumerate(groups.get((timesteps, model), [])):
                    steps, mses = zip(*run.curve)
                    axes.plot(steps, mses, color=colour_of(model), alpha=0.8,
                              label=label_of(model) if index == 0 else None)
            axes.axhline(BASELINE_MSE, color="grey", linestyle="--", linewidth=0.8, label="predict the mean")
            axes.axhline(THRESHOLD, color="black", linestyle=":", linewidth=0.8, label=f"MSE {THRESHOLD:g}")
            axes.set_yscale("log")
            axes.set_title(f"T = {timesteps}")
            axes.set_xlabel("iteration")
        axes_list[0].set_ylabel("test MSE")
        axes_list[0].legend(fontsize="small")
        save_figure(figure, path)


def adding_batch(batch_size, timesteps, generator):
    """Draw adding-problem sequences.

    Args:
        batch_size: the number of sequences.
        timesteps: their length T (at least 2).
        generator: a `numpy.random.Generator`.

    Returns:
        (x, y): x of shape (batch, T, 2) holding [value, marker] per step (float32), and the
        targets y of shape (batch, 1).
    """
    rows = np.arange(batch_size)
    x = np.zeros((batch_size, timesteps, 2), dtype=np.float32)
    x[:, :, 0] = generator.random((batch_size, timesteps))
    first = generator.integers(0, timesteps // 2, batch_size)
    second = generator.integers(timesteps // 2, timesteps, batch_size)
    x[rows, first, 1] = 1
    x[rows, second, 1] = 1
    return x, (x[rows, first, 0] + x[rows, second, 0])[:, None]


def adding_max_dependency(timesteps):
    """The longest distance between a marked value and the answer: T steps (the first step to the last)."""
    return timesteps


def answering_one_mse(targets):
    """The MSE of the memoryless answer, 1 (the mean of the sum), on `targets`, in float64."""
    return float(np.mean((np.asarray(targets, dtype=np.float64) - 1.0) ** 2))


ADDING = Task(name="adding", batch=adding_batch, baseline=lambda timesteps: BASELINE_MSE,
              max_dependency=adding_max_dependency, features=2, outputs=1, loss_function=mean_squared_error,
              every_step=False, min_length=2, no_memory_loss=answering_one_mse)


def train_adding(model, timesteps, seed=0, iterations=1000, settings=AddingSettings()):
    """Train one recurrent network on the adding problem and follow its test MSE.

    The network is the cell's layer and a linear Dense(1) read-out (`training.train`).

    Args:
        model: a cell: a name of `cells.CELL_NAMES` ("rnn", "irnn", "lstm", "lstm_chrono", "gru")
            or a `RecurrentCell` subclass.
        timesteps: the sequence length T.
        seed: seeds the weights (through `tinyseq.random`) and the data.
        iterations: the iteration budget.
        settings: a `TrainingSettings`.

    Returns:
        An `AddingRun`.
    """
    run = train(ADDING, model, timesteps, seed, iterations, settings, where="train_adding")
    reached = next((iteration for iteration, mse in run.curve if mse < THRESHOLD), None)
    return AddingRun(run.cell, run.length, seed, run.iterations, reached, run.final_loss, run.curve, run.seconds,
                     run.baseline, run.iterations_to_leave_baseline)


def iteration_budgets(cells, iterations, where):
    """{cell name: iterations}: `iterations` for every cell, or the defaults (`DEFAULT_ITERATIONS`,
    else 1000) if it is None, or a dict naming a budget for each cell."""
    names = [cell_name(cell) for cell in cells]
    if iterations is None:
        return {name: DEFAULT_ITERATIONS.get(name, GATED_ITERATIONS) for name in names}
    if isinstance(iterations, dict):
        missing = [name for name in names if name not in iterations]
        if missing:
            raise ValueError(f"{where}: iterations names no budget for {', '.join(map(repr, missing))}")
        return {name: checks.positive_int(iterations[name], f"iterations[{name!r}]", where) for name in names}
    budget = checks.positive_int(iterations, "iterations", where)
    return {name: budget for name in names}


def run_adding(lengths=(10, 25, 50, 100), seeds=(0, 1, 2), cells=DEFAULT_CELLS, iterations=None,
               settings=AddingSettings(), jobs=None):
    """Train each cell for every T and seed.

    Args:
        lengths: the sequence lengths T.
        seeds: one run per cell, T and seed.
        cells: names of `cells.CELL_NAMES` or `RecurrentCell` subclasses; default the RNN and the LSTM.
        iterations: the iterations of every run; a dict {cell name: iterations}; or None for the
            defaults, 2000 for the simple RNNs ("rnn", "irnn") and 1000 for the others.
        settings: the `TrainingSettings` of every run.
        jobs: worker processes, or None to run here (see `common.run_tasks`).

    Returns:
        An `AddingResult`.

    Raises:
        ValueError: for an unknown or repeated cell (the message lists the valid ones), a length
            below 2, or a bad setting (named).
    """
    cells = check_cells(cells, "run_adding")
    lengths = [ADDING.check_length(length, "run_adding") for length in lengths]
    budgets = iteration_budgets(cells, iterations, "run_adding")
    settings.checked("run_adding")
    start = time.perf_counter()
    tasks = [dict(model=cell, timesteps=length, seed=seed, iterations=budgets[cell_name(cell)], settings=settings)
             for length in lengths for cell in cells for seed in seeds]
    # Costliest first keeps every worker busy until the end.
    runs = run_tasks(train_adding, tasks, jobs,
                     cost=lambda task: task["iterations"] * task["timesteps"] * step_cost(task["model"]))
    return AddingResult(runs, [cell_name(cell) for cell in cells], list(seeds), budgets, settings, jobs,
                        time.perf_counter() - start)
