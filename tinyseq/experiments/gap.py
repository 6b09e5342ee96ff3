"""The gap task: "I spent 20 long years working in Spain ... I can speak fluent ___".

Turned into a task: the first token names one of 8 countries, `gap` distractor words drawn at
random follow, and the label is the country's language. Nothing after the first token helps,
so a model must carry one of 8 facts across `gap` steps; guessing gives accuracy 1/8. It is, in
words, much like experiment 2 of Hochreiter & Schmidhuber (1997): remember the first symbol
across a run of distractors.

The model is the library's standard text pipeline, Embedding(32 words, 16) -> recurrent layer
(32 units) -> Dense(8) logits, trained with sparse categorical cross-entropy, Adam (learning rate
1e-2, global clipnorm 1, as in the adding problem) on fresh random batches, then tested on a
fixed set; `GapSettings` changes any of these. Every cell of `cells.CELL_NAMES` (and a learner's
own cell class) can be trained, all seeing the same batches and test set for one seed and gap;
the first three run by default:

    rnn          SimpleRNN with the library's (Keras's) defaults
    lstm         LSTM with the library's defaults, forget-gate bias 1 (unit_forget_bias)
    lstm_chrono  the same LSTM (the same initial weights), whose gate biases are then re-drawn
                 by chrono initialisation (Tallec & Ollivier 2018, "Can recurrent neural
                 networks warp time?"): per unit b_f = log(u), u ~ U[1, T_max - 1], b_i = -b_f,
                 with T_max = gap + 1, the longest dependency in the task.
    gru          GRU with the library's (Keras's) defaults: every bias 0, so the update gate
                 starts near sigma(0) = 1/2 (`tinyseq vanishing norms`, table (d))
    irnn         ReLU RNN with an identity recurrent kernel (Le, Jaitly & Hinton 2015; see `cells`)

The defaults are Keras's: Embedding uniform(-0.05, 0.05), glorot-uniform input kernels, an
orthogonal recurrent kernel, zero biases except the LSTM's forget gate. They decide what the
table shows; `tinyseq vanishing norms` measures the two mechanisms at work:

* SimpleRNN: its inputs x W are tiny (embeddings of at most 0.05 through a glorot kernel), so
  tanh works near its linear part (tanh' ~ 1), and the orthogonal kernel has every singular
  value 1. At the start it is nearly a linear RNN with rho = 1, whose gradient barely decays:
  norms table (b), rho = 1 with weak inputs, slope -0.0185 per step, a factor 10 only every ~54
  steps. That is the initialisation, not an ability of tanh RNNs: with unit-size inputs the
  same table gives -0.14 per step. So the RNN learns gaps far longer than the default LSTM.
  It does degrade at the longest gaps, although its gradient ratio there is still larger than
  the chrono LSTM's: what goes wrong happens during training, which the gradient column
  (measured before it) does not see.
* LSTM, default: along the cell state the gradient shrinks by the forget gate at every step,
  sigma(b_f)^k = 0.73^k for b_f = 1 (norms table (c): slope -0.136 per step, a factor 10 every
  ~7 steps). Its memory horizon at the start is a few steps; training has to open the forget
  gates with a gradient that has itself vanished across the gap, and from a gap of a few tens
  of steps it does not manage within the iterations given.
* LSTM, chrono: the forget-gate bias sets the horizon (table (c)), so chrono sets it from the
  task. sigma(log u) = u / (1 + u): each unit forgets a fraction 1 / (1 + u) per step, so the
  units' memory times spread over [2, T_max] and some of them carry the country across the
  whole gap from the first iteration. With b_i = -b_f the input gate starts at about 1 - f,
  the leaky-integrator form the paper derives the gates from.

What the runs show (the chrono LSTM perfect at every gap, the default LSTM at chance from a gap
of 40, the RNN between the two) is measured in tutorial 5 from the result tinyseq ships.

"Falls to chance": the smallest gap whose test accuracy, averaged over the seeds, is within 3
standard errors of 1/8 (the standard error of a guessing classifier on all the test sequences).
A model that stays above it at every gap run is reported as "not within the gaps tested".

Beside the accuracy, each run measures, before training, how much of the gradient reaches the
country: ||dL/dx_first|| / ||dL/dx_last|| over the embedded inputs of the test set. It is the
vanishing gradient of `norms` in the model actually trained. It explains the two LSTMs (the
default's falls by orders of magnitude with the gap, the chrono one's hardly at all); it does
not explain the RNN's decline at the longest gaps (see above).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from .. import checks, ops, random
from ..models import Sequential
from ..nn import Dense, Embedding
from ..tensor import no_grad
from .cells import cell_name, check_cells, initialise_for_dependency, recurrent_layer
from .common import (ExperimentResult, colour_of, describe_jobs, distinct, format_table, label_of, new_figure,
                     run_tasks, save_figure, step_cost, train_step)
from .training import check_common_settings, crossentropy_of_logits, describe_settings, make_optimizer

COUNTRIES = (("spain", "spanish"), ("france", "french"), ("germany", "german"), ("italy", "italian"),
             ("japan", "japanese"), ("china", "chinese"), ("brazil", "portuguese"), ("russia", "russian"))
DISTRACTORS = ("i", "spent", "twenty", "long", "years", "working", "there", "and", "then", "moved", "back",
               "home", "to", "the", "city", "where", "my", "family", "still", "lives", "so", "now", "can", "speak")
VOCABULARY = tuple(country for country, _ in COUNTRIES) + DISTRACTORS   # word id = position
CHANCE = 1 / len(COUNTRIES)
DEFAULT_CELLS = ("rnn", "lstm", "lstm_chrono")
# How each cell starts, for the table's title.
SETUPS = {"rnn": "SimpleRNN: library defaults", "lstm": "LSTM: library defaults (forget bias 1)",
          "lstm_chrono": "LSTM chrono: that LSTM with b_f = log U[1, gap], b_i = -b_f (Tallec & Ollivier 2018)",
          "gru": "GRU: library defaults (biases 0)",
          "irnn": "IRNN: ReLU, recurrent kernel I, input kernel N(0, 0.001^2) (Le et al. 2015)"}


@dataclass(frozen=True)
class GapSettings:
    """The model and training settings shared by every run.

    Attributes:
        units: the recurrent layer's size.
        embedding_size: the word-vector size.
        iterations: training iterations per run.
        batch_size: sequences per iteration.
        learning_rate: the optimizer's learning rate.
        global_clipnorm: the clipping norm for all gradients together, or None for no clipping.
        test_size: the number of fixed test sequences.
        optimizer: "adam", "sgd" or "rmsprop" (see `training.OPTIMIZERS`).
        clip_value: clip every gradient element to this instead, or None (see `TrainingSettings`).
    """
    units: int = 32
    embedding_size: int = 16
    iterations: int = 800
    batch_size: int = 32
    learning_rate: float = 1e-2
    global_clipnorm: float | None = 1.0
    test_size: int = 512
    optimizer: str = "adam"
    clip_value: float | None = None

    def checked(self, where):
        """These settings, each checked; ValueError naming `where` and the bad setting otherwise."""
        check_common_settings(self, where)
        checks.positive_int(self.embedding_size, "embedding_size", where)
        checks.positive_int(self.iterations, "iterations", where)
        return self


@dataclass
class GapRun:
    """One model trained for one gap length.

    Attributes:
        model: the cell's name (see `cells`), or a learner's cell class's name.
        gap: the number of distractor words after the country.
        seed: the seed of the weights and the data.
        accuracy: the test accuracy after training.
        final_loss: the training loss of the last batch.
        initial_gradient_ratio: before training, ||dL/dx_first|| / ||dL/dx_last|| for the
            embedded test inputs (how much of the gradient reaches the country).
        seconds: the wall-clock time of the run.
    """
    model: str
    gap: int
    seed: int
    accuracy: float
    final_loss: float
    initial_gradient_ratio: float
    seconds: float


@dataclass
class GapResult(ExperimentResult):
    """Accuracy against gap length for each model (`run_gap`).

    Attributes:
        runs: one `GapRun` per cell, gap and seed.
        models: the cells run (their names).
        gaps: the gap lengths.
        seeds: the seeds.
        settings: the `GapSettings` of every run.
        jobs: the worker processes used (None: this process).
        seconds: the wall-clock time of the whole experiment.
    """
    runs: list
    models: list
    gaps: list
    seeds: list
    settings: GapSettings
    jobs: int | None
    seconds: float

    def by_gap(self, model, field="accuracy"):
        """{gap: [value per seed]} of a `GapRun` field (default: the accuracy) for one model."""
        return {gap: [getattr(r, field) for r in self.runs if r.model == model and r.gap == gap] for gap in self.gaps}

    def chance_band(self):
        """Accuracies up to chance + 3 standard errors of guessing on all the test sequences count as chance."""
        tested = self.settings.test_size * len(self.seeds)
        return CHANCE + 3 * math.sqrt(CHANCE * (1 - CHANCE) / tested)

    def falls_to_chance(self, model):
        """The smallest gap at which `model`'s mean accuracy is at chance, or None."""
        band = self.chance_band()
        return next((gap for gap, accs in self.by_gap(model).items() if np.mean(accs) <= band), None)

    def table(self):
        """Mean and per-seed accuracy against gap, the initial gradient ratio, and where each
        model falls to chance."""
        accuracy = {model: self.by_gap(model) for model in self.models}
        ratio = {model: self.by_gap(model, "initial_gradient_ratio") for model in self.models}
        rows = [[str(gap)]
                + [f"{np.mean(accuracy[m][gap]):.3f} ({' '.join(f'{a:.2f}' for a in accuracy[m][gap])})"
                   for m in self.models]
                + [f"{geometric_mean(ratio[m][gap]):.1e}" for m in self.models]
                for gap in self.gaps]
        example = sentence(np.random.default_rng(0), 8)
        why_chrono = ("Why chrono: the forget bias sets the LSTM's memory horizon (norms (c): the cell gradient "
                      "shrinks as sigma(b_f)^k, 0.73^k at b_f = 1);\nchrono spreads the units' memory times over "
                      "[2, gap + 1], the dependencies the task holds.\n")
        title = (f"Gap task: {len(COUNTRIES)} countries, {len(DISTRACTORS)} distractor words, chance "
                 f"{CHANCE:.3f} (at chance: <= {self.chance_band():.3f}). Example, gap 8: {example}\n"
                 + "; ".join(SETUPS.get(model, f"{model}: a learner's cell") for model in self.models) + ".\n"
                 + f"{describe_settings(self.settings)}\n"
                 + (why_chrono if "lstm_chrono" in self.models else "")
                 + f"Test accuracy after {self.settings.iterations} iterations: mean (per seed {self.seeds}). "
                 f"Gradient reaching the country before training:\n||dL/dx_first|| / ||dL/dx_last|| "
                 f"(geometric mean over seeds).")
        headers = ([f"{label_of(m)} accuracy" for m in self.models]
                   + [f"{label_of(m)} gradient" for m in self.models])
        text = format_table(["gap"] + headers, rows, title=title)
        falls = "; ".join(f"{label_of(model)}: {self.describe_fall(model)}" for model in self.models)
        return f"{text}\nFalls to chance: {falls}\n({self.seconds:.1f} s {describe_jobs(self.jobs)})"

    def describe_fall(self, model):
        """Where `model` falls to chance, in words: "gap 40" or "not within the gaps tested (<= 160)"."""
        gap = self.falls_to_chance(model)
        return f"not within the gaps tested (<= {self.gaps[-1]})" if gap is None else f"gap {gap}"

    def rows(self):
        """One row per run."""
        return [{"model": r.model, "gap": r.gap, "seed": r.seed, "accuracy": r.accuracy,
                 "final_loss": r.final_loss, "initial_gradient_ratio": r.initial_gradient_ratio,
                 "seconds": r.seconds} for r in self.runs]

    def plot(self, path):
        """Accuracy against gap (mean and seeds) for each model, with the chance level."""
        figure = new_figure(6, 4)
        axes = figure.subplots()
        for model in self.models:
            colour, accuracies = colour_of(model), self.by_gap(model)
            axes.plot(self.gaps, [np.mean(accuracies[g]) for g in self.gaps], "o-", color=colour, label=label_of(model))
            for gap in self.gaps:
                axes.plot([gap] * len(accuracies[gap]), accuracies[gap], ".", color=colour, alpha=0.4)
        axes.axhline(CHANCE, color="grey", linestyle="--", label="chance")
        axes.set_xscale("log")
        axes.set_xticks(self.gaps, [str(gap) for gap in self.gaps])
        axes.minorticks_off()
        axes.set_xlabel("gap (distractor words between the country and the answer)")
        axes.set_ylabel("test accuracy")
        axes.legend()
        save_figure(figure, path)


def gap_batch(batch_size, gap, generator):
    """Draw gap-task sequences: ids (batch, gap + 1) with the country first, and its label."""
    labels = generator.integers(0, len(COUNTRIES), batch_size)
    ids = generator.integers(len(COUNTRIES), len(VOCABULARY), (batch_size, gap + 1))
    ids[:, 0] = labels  # country i has word id i
    return ids, labels


def sentence(generator, gap):
    """One example as text: "spain the years ... -> spanish"."""
    ids, labels = gap_batch(1, gap, generator)
    return " ".join(VOCABULARY[i] for i in ids[0]) + " -> " + COUNTRIES[labels[0]][1]


def gap_network(model, gap, settings=GapSettings()):
    """The network of one cell for one gap length, built, its weights drawn from `tinyseq.random`.

    Args:
        model: a cell: a name of `cells.CELL_NAMES` ("rnn", "irnn", "lstm", "lstm_chrono" (then
            `cells.chrono_initialize` with T_max = gap + 1), "gru") or a `RecurrentCell` subclass.
        gap: the number of distractor words.
        settings: a `GapSettings`.

    Returns:
        A `Sequential`: Embedding -> the recurrent layer -> Dense logits.

    Raises:
        ValueError: for an unknown cell name (the message lists them).
    """
    (cell,) = check_cells(model, "gap_network")
    recurrent = recurrent_layer(cell, settings.units)
    network = Sequential([Embedding(len(VOCABULARY), settings.embedding_size), recurrent, Dense(len(COUNTRIES))])
    # Built before the chrono draw, in the order a first call would build it: every other weight
    # of "lstm_chrono" is then the "lstm" model's of the same seed, and only the gate biases differ.
    network.build((None, gap + 1))
    initialise_for_dependency(cell, recurrent.cell, gap + 1)
    return network


def train_gap(model, gap, seed=0, settings=GapSettings()):
    """Train one model on one gap length and test it.

    Args:
        model: a cell (see `gap_network`).
        gap: the number of distractor words.
        seed: seeds the weights (through `tinyseq.random`) and the data.
        settings: a `GapSettings`.

    Returns:
        A `GapRun`.
    """
    start = time.perf_counter()
    random.seed(seed)
    network = gap_network(model, gap, settings)
    optimizer = make_optimizer(settings)
    data = np.random.default_rng([seed, gap])  # shared by every model: the same batches
    test_ids, test_labels = gap_batch(settings.test_size, gap, data)
    gradient_ratio = first_to_last_gradient(network, crossentropy_of_logits, test_ids, test_labels)
    for _ in range(settings.iterations):
        loss, _ = train_step(network, optimizer, crossentropy_of_logits, *gap_batch(settings.batch_size, gap, data))
    with no_grad():
        accuracy = float(np.mean(network(test_ids).data.argmax(axis=-1) == test_labels))
    return GapRun(cell_name(model), gap, seed, accuracy, loss, gradient_ratio, time.perf_counter() - start)


def geometric_mean(values):
    """The geometric mean, 0 when a value is 0 (a gradient too small for float32 to hold)."""
    values = np.asarray(values, dtype=np.float64)
    return 0.0 if (values == 0).any() else float(np.exp(np.mean(np.log(values))))


def first_to_last_gradient(network, loss_function, ids, labels):
    """||dL/dx_first|| / ||dL/dx_last||, over a batch, for the embedded inputs x of `network`.

    Args:
        network: a `Sequential` whose first layer is the `Embedding`.
        loss_function: `loss_function(labels, outputs)` -> the loss per sample; its mean is differentiated.
        ids, labels: a batch.

    The parameters' gradients are left behind; a training step clears them before its own.
    """
    embedding, *rest = network.layers
    outputs = embedded = embedding(ids).retain_grad()
    for layer in rest:
        outputs = layer(outputs)
    ops.mean(loss_function(labels, outputs)).backward()
    per_step = np.linalg.norm(embedded.grad, axis=(0, 2))
    return float(per_step[0] / per_step[-1])


def run_gap(lengths=(5, 10, 20, 40, 80, 160), seeds=(0, 1, 2), cells=DEFAULT_CELLS, settings=GapSettings(),
            jobs=None):
    """Accuracy against gap length for each cell (default: SimpleRNN, LSTM and chrono LSTM).

    Args:
        lengths: the gap lengths, increasing.
        seeds: one run per cell, gap and seed.
        cells: names of `cells.CELL_NAMES` or `RecurrentCell` subclasses.
        settings: the `GapSettings` of every run.
        jobs: worker processes, or None to run here (see `common.run_tasks`).

    Returns:
        A `GapResult`.

    Raises:
        ValueError: for an unknown or repeated cell (the message lists the valid ones), gaps not
            increasing, or a bad setting (named).
    """
    cells = check_cells(cells, "run_gap")
    gaps = distinct([checks.positive_int(gap, "lengths", "run_gap") for gap in lengths], "lengths", "run_gap")
    if gaps != sorted(gaps):
        raise ValueError(f"run_gap: lengths must increase (falling to chance is read from the shortest gap up), "
                         f"got {gaps}")
    seeds = distinct(seeds, "seeds", "run_gap")
    settings.checked("run_gap")
    start = time.perf_counter()
    tasks = [dict(model=cell, gap=gap, seed=seed, settings=settings)
             for gap in gaps for cell in cells for seed in seeds]
    runs = run_tasks(train_gap, tasks, jobs, cost=lambda task: task["gap"] * step_cost(task["model"]))
    return GapResult(runs, [cell_name(cell) for cell in cells], gaps, seeds, settings, jobs,
                     time.perf_counter() - start)
