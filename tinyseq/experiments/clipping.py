"""Exploding gradients, and gradient clipping (Pascanu, Mikolov & Bengio 2013) as the cure.

A tanh SimpleRNN(32) whose recurrent kernel starts at 2 Q (Q random orthogonal, so lambda_1 = 2)
is trained with plain SGD (learning rate 0.05) on the adding problem with T = 50, batch 64,
three times on the same batches:

* unclipped: the gradient through 50 steps is huge from the first iteration (thousands), so
  the first SGD steps throw the weights far enough to saturate every tanh unit at +-1. From
  then on the recurrent gradients are zero, and SGD on the read-out, whose 32 inputs are all
  +-1, overshoots by a growing factor each step until the loss overflows;
* clipped at global norm 1 (the cure): every update has norm at most 0.05, so the
  weights, and the loss, stay finite, although the gradients keep exploding;
* a control, unclipped with lambda_1 = 1: same learning rate, no explosion, a finite loss. It
  shows that the divergence comes from the recurrent kernel's scale, not the learning rate.

Every iteration records the loss and the global gradient norm before clipping.
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass

import numpy as np

from .. import checks, random
from ..losses import mean_squared_error
from ..models import Sequential
from ..nn import Dense, SimpleRNN, init
from ..optimizers import SGD
from .adding import adding_batch
from .common import ExperimentResult, describe_jobs, format_table, new_figure, run_tasks, save_figure, train_step

CONFIGURATIONS = (("unclipped", 2.0, None), ("clipped", 2.0, 1.0), ("control", 1.0, None))


@dataclass
class ClippingRun:
    """One SGD run of a tanh RNN on the adding problem.

    Attributes:
        name: "unclipped", "clipped" or "control".
        rho: the scale of the orthogonal initial recurrent kernel (its lambda_1).
        global_clipnorm: the clipping norm, or None.
        losses: the training loss at each iteration (the last one inf or nan if it diverged).
        gradient_norms: the global gradient norm before clipping at each iteration.
        first_nonfinite: the first iteration whose loss is not finite (training stops there), or None.
        seconds: the wall-clock time of the run.
    """
    name: str
    rho: float
    global_clipnorm: float | None
    losses: list
    gradient_norms: list
    first_nonfinite: int | None
    seconds: float


@dataclass
class ClippingResult(ExperimentResult):
    """The three runs of `run_clipping`.

    Attributes:
        runs: the unclipped, clipped and control `ClippingRun`s.
        timesteps: the sequence length.
        iterations: the iteration budget.
        learning_rate: SGD's learning rate.
        seed: the seed of the weights and batches (the same for all three runs).
        units: the hidden size.
        batch_size: sequences per iteration.
        jobs: the worker processes used (None: this process).
        seconds: the wall-clock time of the whole experiment.
    """
    runs: list
    timesteps: int
    iterations: int
    learning_rate: float
    seed: int
    jobs: int | None
    seconds: float
    units: int = 32
    batch_size: int = 64

    def summary_rows(self):
        """Per run: the settings, when the loss stopped being finite, and the pre-clip norms."""
        rows = []
        for run in self.runs:
            finite = [n for n in run.gradient_norms if math.isfinite(n)]
            rows.append({"run": run.name, "lambda_1": run.rho, "clipnorm": run.global_clipnorm,
                         "iterations": len(run.losses), "first_nonfinite_loss": run.first_nonfinite,
                         "first_norm": run.gradient_norms[0], "median_norm": float(np.median(finite)),
                         "max_norm": max(finite), "final_loss": run.losses[-1]})
        return rows

    def table(self):
        """A summary per run, then the loss and pre-clip norm at chosen iterations."""
        summary = format_table(
            ["run", "lambda_1", "clip", "iterations", "loss not finite at", "norm at 1", "median norm",
             "max norm", "final loss"],
            [[r["run"], f"{r['lambda_1']:g}", "-" if r["clipnorm"] is None else f"{r['clipnorm']:g}",
              str(r["iterations"]), "never" if r["first_nonfinite_loss"] is None else str(r["first_nonfinite_loss"]),
              f"{r['first_norm']:.3g}", f"{r['median_norm']:.3g}", f"{r['max_norm']:.3g}", _number(r["final_loss"])]
             for r in self.summary_rows()],
            title=f"Exploding gradients: tanh RNN ({self.units} units), T={self.timesteps}, batch {self.batch_size}, "
                  f"SGD learning rate {self.learning_rate:g}; "
                  f"norms are global gradient norms before clipping.\nExpected: unclipped (lambda_1 = 2) reaches a "
                  f"non-finite loss; clipped at global norm 1 does not.")
        marks = sorted({i for i in (1, 2, 3, 5, 10, 20, 50, 100, 200, 500, 1000, 2000) if i <= self.iterations}
                       | {len(r.losses) for r in self.runs})
        trace = format_table(
            ["iteration"] + [f"{r.name} {what}" for r in self.runs for what in ("loss", "norm")],
            [[str(i)] + [value for r in self.runs for value in (
                (_number(r.losses[i - 1]), f"{r.gradient_norms[i - 1]:.3g}") if i <= len(r.losses) else ("", ""))]
             for i in marks],
            title="Loss and pre-clip gradient norm at chosen iterations:")
        return f"{summary}\n\n{trace}\n({self.seconds:.1f} s {describe_jobs(self.jobs)})"

    def rows(self):
        """One row per run and iteration."""
        return [{"run": r.name, "iteration": i + 1, "loss": loss, "gradient_norm": norm}
                for r in self.runs for i, (loss, norm) in enumerate(zip(r.losses, r.gradient_norms))]

    def plot(self, path):
        """Training loss and pre-clip gradient norm against iterations, log scales."""
        figure = new_figure(11, 4)
        loss_axes, norm_axes = figure.subplots(1, 2)
        for run in self.runs:
            steps = np.arange(1, len(run.losses) + 1)
            loss_axes.plot(steps, run.losses, label=run.name)
            norm_axes.plot(steps, run.gradient_norms, label=run.name)
            if run.first_nonfinite is not None:
                loss_axes.axvline(run.first_nonfinite, color="grey", linestyle=":")
        for axes, label in ((loss_axes, "training loss (MSE)"), (norm_axes, "gradient norm before clipping")):
            axes.set_yscale("log")
            axes.set_xlabel("iteration")
            axes.set_ylabel(label)
            axes.legend()
        save_figure(figure, path)


def train_clipping(name, rho, global_clipnorm, timesteps=50, iterations=1000, learning_rate=0.05, units=32,
                   batch_size=64, seed=0):
    """Train a tanh RNN with recurrent kernel rho * Q by SGD and record losses and gradient norms.

    Args:
        name: a label for the run.
        rho: the scale of the orthogonal initial recurrent kernel.
        global_clipnorm: clip all gradients together to this norm, or None.
        timesteps: the adding problem's T.
        iterations: the budget; the run stops early at the first non-finite loss.
        learning_rate: SGD's learning rate.
        units: the hidden size.
        batch_size: sequences per iteration.
        seed: seeds the weights and the batches.

    Returns:
        A `ClippingRun`.
    """
    start = time.perf_counter()
    random.seed(seed)
    network = Sequential([SimpleRNN(units, recurrent_initializer=functools.partial(init.orthogonal, gain=rho)),
                          Dense(1)])
    optimizer = SGD(learning_rate, global_clipnorm=global_clipnorm)
    data = np.random.default_rng([seed, timesteps])
    losses, norms, first_nonfinite = [], [], None
    # Overflow is the phenomenon under study here, not a bug to be warned about.
    with np.errstate(over="ignore", invalid="ignore"):
        for iteration in range(1, iterations + 1):
            loss, norm = train_step(network, optimizer, mean_squared_error, *adding_batch(batch_size, timesteps, data))
            losses.append(loss)
            norms.append(norm)
            if not math.isfinite(loss):
                first_nonfinite = iteration
                break
    return ClippingRun(name, float(rho), global_clipnorm, losses, norms, first_nonfinite, time.perf_counter() - start)


def run_clipping(timesteps=50, iterations=1000, learning_rate=0.05, seed=0, units=32, batch_size=64, jobs=None):
    """The unclipped, clipped and control runs, on the same batches.

    The cell (a tanh RNN), the optimizer (SGD) and the clipping (none, then global norm 1) are
    what the experiment compares, so they are not settings.

    Args:
        timesteps: the adding problem's T.
        iterations: the budget of each run.
        learning_rate: SGD's learning rate.
        seed: seeds the weights and the batches of all three runs.
        units: the hidden size.
        batch_size: sequences per iteration.
        jobs: worker processes, or None to run here (see `common.run_tasks`).

    Returns:
        A `ClippingResult`.

    Raises:
        ValueError: for a bad setting (named).
    """
    where = "run_clipping"
    if checks.positive_int(timesteps, "timesteps", where) < 2:
        raise ValueError(f"{where}: timesteps must be at least 2 (the adding problem marks two steps), got {timesteps}")
    for value, argument in ((iterations, "iterations"), (units, "units"), (batch_size, "batch_size")):
        checks.positive_int(value, argument, where)
    checks.positive_number(learning_rate, "learning_rate", where)
    start = time.perf_counter()
    tasks = [dict(name=name, rho=rho, global_clipnorm=clip, timesteps=timesteps, iterations=iterations,
                  learning_rate=learning_rate, units=units, batch_size=batch_size, seed=seed)
             for name, rho, clip in CONFIGURATIONS]
    runs = run_tasks(train_clipping, tasks, jobs)
    return ClippingResult(runs, timesteps, iterations, learning_rate, seed, jobs, time.perf_counter() - start,
                          units, batch_size)


def _number(value):
    return "not finite" if value is None or not math.isfinite(value) else f"{value:.4g}"
