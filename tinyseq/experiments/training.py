"""Train any cell on any sequence task with given settings, and follow its test loss from the baseline.

A `Task` says how to draw a batch for a length T, what the network's output is (one vector at
the last step, or one per step), which loss is minimised, and the loss of the best predictor that
remembers nothing: the baseline. `train` trains one cell on one task and length with a
`TrainingSettings`, measuring the test loss (and accuracy) every `eval_every` iterations on a
fixed test set, and returns a `TaskRun`.

"Iterations to leave the baseline": the first evaluated iteration whose test loss is below
`LEAVE_BASELINE_FRACTION` (0.9) times the baseline, or None if no evaluation is. The baseline
is the papers' no-memory loss: that of the best prediction made without the inputs the answer
depends on (it may know the step it is at). A test loss 10% below it means the model has begun
to carry those inputs across the sequence. The curve is compared with the no-memory loss on its
own test set (`TaskRun.test_baseline`), which for the adding problem differs from 1/6 by a few
percent: a model that has learnt only the mean must not count as leaving.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .. import checks, random
from ..losses import sparse_categorical_crossentropy
from ..models import Sequential
from ..nn import Dense
from ..optimizers import SGD, Adam, RMSprop
from ..tensor import no_grad
from .cells import cell_name, check_cells, initialise_for_dependency, recurrent_layer
from .common import mean_loss, train_step

LEAVE_BASELINE_FRACTION = 0.9
OPTIMIZERS = {"adam": Adam, "sgd": SGD, "rmsprop": RMSprop}


@dataclass(frozen=True)
class TrainingSettings:
    """The model and training settings of a run.

    Attributes:
        units: the recurrent layer's size.
        batch_size: sequences per iteration.
        optimizer: "adam", "sgd" (no momentum) or "rmsprop" (rho 0.9).
        learning_rate: the optimizer's learning rate.
        global_clipnorm: the clipping norm for all gradients together, or None for no clipping.
        eval_every: measure the test loss every this many iterations (and after the last).
        test_size: the number of fixed test sequences.
        clip_value: clip every gradient element to [-clip_value, clip_value] instead (as
            Arjovsky et al.'s code does), or None; only with global_clipnorm=None.
    """
    units: int = 32
    batch_size: int = 64
    optimizer: str = "adam"
    learning_rate: float = 1e-2
    global_clipnorm: float | None = 1.0
    eval_every: int = 25
    test_size: int = 512
    clip_value: float | None = None

    def checked(self, where):
        """These settings, each checked; ValueError naming `where` and the bad setting otherwise."""
        check_common_settings(self, where)
        checks.positive_int(self.eval_every, "eval_every", where)
        return self

    def make_optimizer(self):
        """A new optimizer of these settings."""
        return make_optimizer(self)


def check_common_settings(settings, where):
    """Check the settings every trained experiment has: units, batch_size, optimizer,
    learning_rate, global_clipnorm, clip_value and test_size (ValueError naming `where` and the setting)."""
    checks.positive_int(settings.units, "units", where)
    checks.positive_int(settings.batch_size, "batch_size", where)
    checks.one_of(settings.optimizer, "optimizer", where, tuple(OPTIMIZERS))
    checks.positive_number(settings.learning_rate, "learning_rate", where)
    if settings.global_clipnorm is not None:
        checks.number(settings.global_clipnorm, "global_clipnorm", where, low=0, low_open=True,
                      also="None (no clipping)")
    checks.positive_int(settings.test_size, "test_size", where)
    if settings.clip_value is not None:
        checks.number(settings.clip_value, "clip_value", where, low=0, low_open=True, also="None (no clipping)")
        if settings.global_clipnorm is not None:
            raise ValueError(f"{where}: give global_clipnorm or clip_value, not both (got {settings.global_clipnorm} "
                             f"and {settings.clip_value}); set global_clipnorm=None to clip element-wise")


def make_optimizer(settings):
    """A new optimizer from `settings.optimizer`, `.learning_rate`, `.global_clipnorm` and `.clip_value`."""
    return OPTIMIZERS[settings.optimizer](settings.learning_rate, global_clipnorm=settings.global_clipnorm,
                                          clipvalue=settings.clip_value)


def crossentropy_of_logits(labels, logits):
    """The cross-entropy, in nats, of each prediction (per sample, and per step where there are steps)."""
    return sparse_categorical_crossentropy(labels, logits, from_logits=True)


def describe_settings(settings):
    """The settings in words, for a table's title: "32 units, batch 64, adam (learning rate 0.01), ..."."""
    clipping = "no clipping" if settings.global_clipnorm is None else f"global clipnorm {settings.global_clipnorm:g}"
    return (f"{settings.units} units, batch {settings.batch_size}, {settings.optimizer} (learning rate "
            f"{settings.learning_rate:g}), {clipping}.")


@dataclass(frozen=True)
class Task:
    """A sequence task, as `train` needs it.

    Attributes:
        name: its name, e.g. "copying".
        batch: `batch(batch_size, length, generator)` -> (x, y): float32 inputs (batch, steps,
            features) and the targets.
        baseline: `baseline(length)` -> the no-memory loss, computed analytically.
        max_dependency: `max_dependency(length)` -> the longest distance, in steps, between an
            input and the output that needs it (chrono's T_max).
        features: the size of an input vector.
        outputs: the size of the read-out (1 for a regression, the number of classes otherwise).
        loss_function: `loss_function(y, outputs)` -> the loss per sample (and step), a tensor.
        every_step: whether the network answers at every step (else only at the last).
        min_length: the smallest length the task is defined for.
        accuracy: `accuracy(y, outputs)` -> the fraction right (outputs as an array), or None
            for a regression.
        no_memory_loss: `no_memory_loss(y)` -> the loss of the memoryless answer on the targets
            `y` of one test set, where a finite test set moves it away from `baseline` (the
            adding problem: the MSE of always answering 1); None where it does not.
    """
    name: str
    batch: Callable
    baseline: Callable
    max_dependency: Callable
    features: int
    outputs: int
    loss_function: Callable
    every_step: bool
    min_length: int
    accuracy: Callable | None = None
    no_memory_loss: Callable | None = None

    def check_length(self, length, where):
        """`length` as an int, if the task is defined for it; ValueError naming `where` otherwise."""
        length = checks.positive_int(length, "length", where)
        if length < self.min_length:
            raise ValueError(f"{where}: the {self.name} task needs a length of at least {self.min_length}, "
                             f"got {length}")
        return length


@dataclass
class TaskRun:
    """One cell trained on one task, length and seed.

    Attributes:
        task: the task's name.
        cell: the cell's name (a class's name for a learner's own cell).
        length: T (see the task for what it counts).
        seed: the seed of the weights and the data.
        iterations: the iterations trained.
        settings: the `TrainingSettings`, as a dict.
        baseline: the task's no-memory loss for this length, computed analytically.
        test_baseline: the no-memory loss on this run's test set (`Task.no_memory_loss`), what
            the curve is compared with.
        curve: [iteration, test loss] every `eval_every` iterations and after the last.
        accuracy_curve: [iteration, test accuracy] at the same iterations ([] for a regression).
        iterations_to_leave_baseline: the first evaluated iteration with test loss below
            `LEAVE_BASELINE_FRACTION` x test_baseline, or None.
        final_loss: the test loss after the last iteration.
        final_accuracy: the test accuracy after the last iteration, or None for a regression.
        seconds: the wall-clock time of the run.
    """
    task: str
    cell: str
    length: int
    seed: int
    iterations: int
    settings: dict
    baseline: float
    test_baseline: float
    curve: list
    accuracy_curve: list
    iterations_to_leave_baseline: int | None
    final_loss: float
    final_accuracy: float | None
    seconds: float


def leaves_baseline(curve, baseline):
    """The first iteration of `curve` ([iteration, loss] pairs) with loss < 0.9 x baseline, or None."""
    return next((iteration for iteration, loss in curve if loss < LEAVE_BASELINE_FRACTION * baseline), None)


def build_network(task, cell, length, settings):
    """The network of `cell` for `task` at `length`, built, its weights drawn from `tinyseq.random`.

    The recurrent layer (all its steps' outputs when the task answers at every step), then a
    Dense read-out of `task.outputs`. Chrono initialisation, when asked for, comes last.
    """
    recurrent = recurrent_layer(cell, settings.units, return_sequences=task.every_step)
    network = Sequential([recurrent, Dense(task.outputs)])
    network.build((None, None, task.features))
    initialise_for_dependency(cell, recurrent.cell, task.max_dependency(length))
    return network


def train(task, cell, length, seed=0, iterations=1000, settings=TrainingSettings(), where="train"):
    """Train `cell` on `task` at `length` and follow the test loss every `settings.eval_every` iterations.

    Args:
        task: a `Task`.
        cell: a name of `cells.CELL_NAMES` or a `RecurrentCell` subclass.
        length: T.
        seed: seeds the weights (through `tinyseq.random`) and the data stream
            `np.random.default_rng([seed, length])`, from which the test set is drawn first; every
            cell of one seed and length sees the same test set and batches.
        iterations: the number of training batches.
        settings: a `TrainingSettings`.
        where: the function to name in error messages.

    Returns:
        A `TaskRun`.
    """
    (cell,) = check_cells(cell, where)
    length = task.check_length(length, where)
    iterations = checks.positive_int(iterations, "iterations", where)
    settings.checked(where)
    start = time.perf_counter()
    random.seed(seed)
    network = build_network(task, cell, length, settings)
    optimizer = settings.make_optimizer()
    data = np.random.default_rng([seed, length])
    test_x, test_y = task.batch(settings.test_size, length, data)
    curve, accuracy_curve = [], []
    for iteration in range(1, iterations + 1):
        train_step(network, optimizer, task.loss_function, *task.batch(settings.batch_size, length, data))
        if iteration % settings.eval_every == 0 or iteration == iterations:
            with no_grad():
                outputs = network(test_x)
                curve.append([iteration, mean_loss(task.loss_function, test_y, outputs)])
            if task.accuracy is not None:
                accuracy_curve.append([iteration, task.accuracy(test_y, outputs.data)])
    baseline = task.baseline(length)
    test_baseline = baseline if task.no_memory_loss is None else task.no_memory_loss(test_y)
    return TaskRun(task.name, cell_name(cell), length, seed, iterations, dataclasses.asdict(settings), baseline,
                   test_baseline, curve, accuracy_curve, leaves_baseline(curve, test_baseline), curve[-1][1],
                   accuracy_curve[-1][1] if accuracy_curve else None, time.perf_counter() - start)
