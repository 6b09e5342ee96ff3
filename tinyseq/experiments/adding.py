"""The adding problem: a plain tanh RNN against an LSTM (and a GRU) as the distance to remember grows.

The task in the form of Arjovsky, Shah & Bengio (2016), after Hochreiter & Schmidhuber (1997):
each of the T steps carries two numbers, a value drawn from U[0, 1] and a marker. Exactly two
markers are 1, one at a random step of the first half and one in the second half; the target
is the sum of the two marked values. Always predicting the mean, 1, gives an MSE equal to the
variance of a sum of two U[0, 1] values: 2/12 = 1/6. Solving the task means carrying the first
marked value across up to T steps of irrelevant inputs.

Setup (the classic comparison's): hidden size 32, batch 64, Adam with learning rate 1e-2 and global
clipnorm 1, LSTM forget-gate bias 1 (Keras's unit_forget_bias), a linear Dense(1) read-out,
mean squared error. The test MSE is measured every `eval_every` iterations on a fixed test set;
"iterations to threshold" is the first such iteration with test MSE < 0.01. The models of one
seed and T see the same batches and the same test set.

The classic comparison is the RNN against the LSTM, so those two run by default;
`models=("rnn", "lstm", "gru")` adds a GRU (Keras's defaults, every bias 0), which has no
expectation to check. Tutorials 5 and 9 show what each model does at T = 100.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .. import random
from ..losses import mean_squared_error
from ..models import Sequential
from ..nn import GRU, LSTM, Dense, SimpleRNN
from ..optimizers import Adam
from ..tensor import no_grad
from .common import (COLOURS, LABELS, STEP_COST, ExperimentResult, check_models, describe_jobs, format_table,
                     new_figure, run_tasks, save_figure, train_step)

THRESHOLD = 0.01
BASELINE_MSE = 1 / 6            # always predicting the mean sum, 1
RNN_FAILS_ABOVE = 0.1           # the RNN is expected to stay above this at T >= 50
RECURRENT_LAYERS = {"rnn": SimpleRNN, "lstm": LSTM, "gru": GRU}
DEFAULT_MODELS = ("rnn", "lstm")


@dataclass(frozen=True)
class AddingSettings:
    """The training settings shared by every run, and how the test set is made.

    Attributes:
        units: the hidden size.
        batch_size: sequences per iteration.
        learning_rate: Adam's learning rate.
        global_clipnorm: the clipping norm for all gradients together.
        eval_every: measure the test MSE every this many iterations.
        test_size: the number of fixed test sequences.
    """
    units: int = 32
    batch_size: int = 64
    learning_rate: float = 1e-2
    global_clipnorm: float = 1.0
    eval_every: int = 25
    test_size: int = 512


@dataclass
class AddingRun:
    """One training run on the adding problem.

    Attributes:
        model: a key of `RECURRENT_LAYERS`: "rnn" (SimpleRNN, tanh), "lstm" or "gru".
        timesteps: the sequence length T.
        seed: the seed of the weights and the data.
        iterations: the iterations trained.
        iterations_to_threshold: the first evaluated iteration with test MSE < 0.01, or None.
        final_mse: the test MSE after the last iteration.
        curve: [iteration, test MSE] pairs, every `eval_every` iterations.
        seconds: the wall-clock time of the run.
    """
    model: str
    timesteps: int
    seed: int
    iterations: int
    iterations_to_threshold: int | None
    final_mse: float
    curve: list
    seconds: float


@dataclass
class AddingResult(ExperimentResult):
    """All runs of `run_adding`, with the settings they used.

    Attributes:
        runs: one `AddingRun` per model, T and seed.
        models: the models run, in the order of the table.
        seeds: the seeds.
        budgets: the iteration budget per model.
        settings: the `AddingSettings` of every run.
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

        The LSTM should reach test MSE < 0.01 within its budget for every T <= 100; the RNN
        should still be above 0.1 after its budget for T >= 50 (no claim for shorter T, nor
        for the GRU).
        """
        verdicts = {}
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
                         claim, {True: "held", False: "NOT HELD", None: ""}[held]])
        budgets = ", ".join(f"{LABELS[model]} {self.budgets[model]}" for model in self.models)
        title = (f"Adding problem (baseline MSE 1/6 = {BASELINE_MSE:.4f}), per seed {self.seeds}; iterations "
                 f"trained: {budgets}.\n"
                 f"Test MSE every {self.settings.eval_every} iterations on {self.settings.test_size} sequences; "
                 f"'-' = never below {THRESHOLD:g}.")
        text = format_table(["T", "model", f"iterations to < {THRESHOLD:g}", "final test MSE", "expected",
                             "verdict"], rows, title=title)
        return f"{text}\n({self.seconds:.1f} s {describe_jobs(self.jobs)})"

    def rows(self):
        """One row per run."""
        return [{"model": r.model, "timesteps": r.timesteps, "seed": r.seed, "iterations": r.iterations,
                 "iterations_to_threshold": r.iterations_to_threshold, "final_mse": r.final_mse,
                 "seconds": r.seconds} for r in self.runs]

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
                    axes.plot(steps, mses, color=COLOURS[model], alpha=0.8,
                              label=LABELS[model] if index == 0 else None)
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


def train_adding(model, timesteps, seed=0, iterations=1000, settings=AddingSettings()):
    """Train one recurrent network on the adding problem and follow its test MSE.

    Args:
        model: a key of `RECURRENT_LAYERS`: "rnn" (SimpleRNN, tanh), "lstm" (LSTM, forget
            bias 1) or "gru" (GRU, biases 0).
        timesteps: the sequence length T.
        seed: seeds the weights (through `tinyseq.random`) and the data.
        iterations: the iteration budget.
        settings: an `AddingSettings`.

    Returns:
        An `AddingRun`.
    """
    check_models(model, RECURRENT_LAYERS, "train_adding")
    start = time.perf_counter()
    random.seed(seed)
    network = Sequential([RECURRENT_LAYERS[model](settings.units), Dense(1)])
    optimizer = Adam(settings.learning_rate, global_clipnorm=settings.global_clipnorm)
    # Data from its own stream, keyed by seed and T: every model sees the same batches.
    data = np.random.default_rng([seed, timesteps])
    test_x, test_y = adding_batch(settings.test_size, timesteps, data)
    curve, reached = [], None
    for iteration in range(1, iterations + 1):
        train_step(network, optimizer, mean_squared_error, *adding_batch(settings.batch_size, timesteps, data))
        if iteration % settings.eval_every == 0 or iteration == iterations:
            with no_grad():
                mse = mean_squared_error(test_y, network(test_x)).item()
            curve.append([iteration, mse])
            if reached is None and mse < THRESHOLD:
                reached = iteration
    return AddingRun(model, timesteps, seed, iterations, reached, curve[-1][1], curve, time.perf_counter() - start)


def run_adding(timesteps=(10, 25, 50, 100), seeds=(0, 1, 2), models=DEFAULT_MODELS, rnn_iterations=2000,
               lstm_iterations=1000, gru_iterations=1000, settings=AddingSettings(), jobs=None):
    """Train each model for every T and seed.

    Args:
        timesteps: the sequence lengths.
        seeds: one run per model, T and seed.
        models: keys of `RECURRENT_LAYERS` ("rnn", "lstm", "gru"); default the RNN and the LSTM.
        rnn_iterations, lstm_iterations, gru_iterations: the iterations each model's runs train.
        settings: the `AddingSettings` of every run.
        jobs: worker processes, or None to run here (see `common.run_tasks`).

    Returns:
        An `AddingResult`.

    Raises:
        ValueError: for an unknown or repeated model name (the message lists the valid ones).
    """
    models = check_models(models, RECURRENT_LAYERS, "run_adding")
    start = time.perf_counter()
    iterations = {"rnn": rnn_iterations, "lstm": lstm_iterations, "gru": gru_iterations}
    budgets = {model: iterations[model] for model in models}
    tasks = [dict(model=model, timesteps=length, seed=seed, iterations=budgets[model], settings=settings)
             for length in timesteps for model in models for seed in seeds]
    # Costliest first keeps every worker busy until the end.
    runs = run_tasks(train_adding, tasks, jobs,
                     cost=lambda task: task["iterations"] * task["timesteps"] * STEP_COST[task["model"]])
    return AddingResult(runs, list(models), list(seeds), budgets, settings, jobs, time.perf_counter() - start)
