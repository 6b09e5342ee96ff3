"""The gap task: "I spent 20 long years working in Spain ... I can speak fluent ___".

Turned into a task: the first token names one of 8 countries, `gap` distractor words drawn at
random follow, and the label is the country's language. Nothing after the first token helps,
so a model must carry one of 8 facts across `gap` steps; guessing gives accuracy 1/8. It is the
memory task of Hochreiter & Schmidhuber (1997, experiment 2), in words.

The model is the library's standard text pipeline, Embedding(32 words, 16) -> SimpleRNN(32) or
LSTM(32) -> Dense(8) logits, trained with sparse categorical cross-entropy, Adam (learning rate
1e-2, global clipnorm 1, as in the adding problem) on fresh random batches, then tested on a
fixed set. The RNN and the LSTM of one seed and gap see the same batches and test set.

"Falls to chance": the smallest gap whose test accuracy, averaged over the seeds, is within 3
standard errors of 1/8 (the standard error of a guessing classifier on all the test sequences).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from .. import random
from ..layers import Dense, Embedding
from ..losses import sparse_categorical_crossentropy
from ..models import Sequential
from ..optimizers import Adam
from ..tensor import no_grad
from .adding import RECURRENT_LAYERS
from .common import ExperimentResult, format_table, new_figure, run_tasks, save_figure, train_step

COUNTRIES = (("spain", "spanish"), ("france", "french"), ("germany", "german"), ("italy", "italian"),
             ("japan", "japanese"), ("china", "chinese"), ("brazil", "portuguese"), ("russia", "russian"))
DISTRACTORS = ("i", "spent", "twenty", "long", "years", "working", "there", "and", "then", "moved", "back",
               "home", "to", "the", "city", "where", "my", "family", "still", "lives", "so", "now", "can", "speak")
VOCABULARY = tuple(country for country, _ in COUNTRIES) + DISTRACTORS   # word id = position
CHANCE = 1 / len(COUNTRIES)


@dataclass(frozen=True)
class GapSettings:
    """The model and training settings shared by every run.

    Attributes:
        units: the recurrent layer's size.
        embedding_size: the word-vector size.
        iterations: training iterations per run.
        batch_size: sequences per iteration.
        learning_rate: Adam's learning rate.
        global_clipnorm: the clipping norm for all gradients together.
        test_size: the number of fixed test sequences.
    """
    units: int = 32
    embedding_size: int = 16
    iterations: int = 800
    batch_size: int = 32
    learning_rate: float = 1e-2
    global_clipnorm: float = 1.0
    test_size: int = 512


@dataclass
class GapRun:
    """One model trained for one gap length.

    Attributes:
        model: "rnn" or "lstm".
        gap: the number of distractor words after the country.
        seed: the seed of the weights and the data.
        accuracy: the test accuracy after training.
        final_loss: the training loss of the last batch.
        seconds: the wall-clock time of the run.
    """
    model: str
    gap: int
    seed: int
    accuracy: float
    final_loss: float
    seconds: float


@dataclass
class GapResult(ExperimentResult):
    """Accuracy against gap length for both models (`run_gap`).

    Attributes:
        runs: one `GapRun` per model, gap and seed.
        gaps: the gap lengths.
        seeds: the seeds.
        settings: the `GapSettings` of every run.
        jobs: the worker processes used.
        seconds: the wall-clock time of the whole experiment.
    """
    runs: list
    gaps: list
    seeds: list
    settings: GapSettings
    jobs: int
    seconds: float

    def accuracies(self, model):
        """{gap: [accuracy per seed]} for one model."""
        return {gap: [r.accuracy for r in self.runs if r.model == model and r.gap == gap] for gap in self.gaps}

    def chance_band(self):
        """Accuracies up to chance + 3 standard errors of guessing on all the test sequences count as chance."""
        tested = self.settings.test_size * len(self.seeds)
        return CHANCE + 3 * math.sqrt(CHANCE * (1 - CHANCE) / tested)

    def falls_to_chance(self, model):
        """The smallest gap at which `model`'s mean accuracy is at chance, or None."""
        band = self.chance_band()
        return next((gap for gap, accs in self.accuracies(model).items() if np.mean(accs) <= band), None)

    def table(self):
        """Mean and per-seed accuracy against gap, and where each model falls to chance."""
        by_model = {model: self.accuracies(model) for model in RECURRENT_LAYERS}
        rows = [[str(gap)] + [f"{np.mean(by_model[m][gap]):.3f} ({' '.join(f'{a:.2f}' for a in by_model[m][gap])})"
                              for m in RECURRENT_LAYERS] for gap in self.gaps]
        example = sentence(np.random.default_rng(0), 8)
        title = (f"Gap task: {len(COUNTRIES)} countries, {len(DISTRACTORS)} distractor words, chance "
                 f"{CHANCE:.3f} (at chance: <= {self.chance_band():.3f}). Example, gap 8: {example}\n"
                 f"Test accuracy after {self.settings.iterations} iterations: mean (per seed {self.seeds}).")
        text = format_table(["gap", "SimpleRNN", "LSTM"], rows, title=title)
        falls = "; ".join(f"{m.upper()} falls to chance at gap "
                          f"{self.falls_to_chance(m) if self.falls_to_chance(m) is not None else '> ' + str(self.gaps[-1])}"
                          for m in RECURRENT_LAYERS)
        return f"{text}\n{falls}\n({self.seconds:.1f} s with {self.jobs} worker process(es))"

    def rows(self):
        """One row per run."""
        return [{"model": r.model, "gap": r.gap, "seed": r.seed, "accuracy": r.accuracy,
                 "final_loss": r.final_loss, "seconds": r.seconds} for r in self.runs]

    def plot(self, path):
        """Accuracy against gap (mean and seeds) for both models, with the chance level."""
        figure = new_figure(6, 4)
        axes = figure.subplots()
        for model, colour in (("rnn", "tab:red"), ("lstm", "tab:blue")):
            accuracies = self.accuracies(model)
            axes.plot(self.gaps, [np.mean(accuracies[g]) for g in self.gaps], "o-", color=colour, label=model.upper())
            for gap in self.gaps:
                axes.plot([gap] * len(accuracies[gap]), accuracies[gap], ".", color=colour, alpha=0.4)
        axes.axhline(CHANCE, color="grey", linestyle="--", label="chance")
        axes.set_xscale("log")
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


def train_gap(model, gap, seed=0, settings=GapSettings()):
    """Train one model on one gap length and test it.

    Args:
        model: "rnn" (SimpleRNN, tanh) or "lstm" (LSTM, forget bias 1).
        gap: the number of distractor words.
        seed: seeds the weights (through `tinyseq.random`) and the data.
        settings: a `GapSettings`.

    Returns:
        A `GapRun`.
    """
    start = time.perf_counter()
    random.seed(seed)
    network = Sequential([Embedding(len(VOCABULARY), settings.embedding_size),
                          RECURRENT_LAYERS[model](settings.units), Dense(len(COUNTRIES))])
    optimizer = Adam(settings.learning_rate, global_clipnorm=settings.global_clipnorm)
    data = np.random.default_rng([seed, gap])  # shared by both models: the same batches
    test_ids, test_labels = gap_batch(settings.test_size, gap, data)

    def loss_function(labels, logits):
        return sparse_categorical_crossentropy(labels, logits, from_logits=True)

    for _ in range(settings.iterations):
        loss, _ = train_step(network, optimizer, loss_function, *gap_batch(settings.batch_size, gap, data))
    with no_grad():
        accuracy = float(np.mean(network(test_ids).data.argmax(axis=-1) == test_labels))
    return GapRun(model, gap, seed, accuracy, loss, time.perf_counter() - start)


def run_gap(gaps=(5, 10, 20, 40, 80), seeds=(0, 1, 2), settings=GapSettings(), jobs=2):
    """Accuracy against gap length for SimpleRNN and LSTM.

    Args:
        gaps: the gap lengths.
        seeds: one run per model, gap and seed.
        settings: the `GapSettings` of every run.
        jobs: worker processes (runs are independent and seeded, so the numbers do not change).

    Returns:
        A `GapResult`.
    """
    start = time.perf_counter()
    tasks = [dict(model=model, gap=gap, seed=seed, settings=settings)
             for gap in gaps for model in RECURRENT_LAYERS for seed in seeds]
    runs = run_tasks(train_gap, tasks, jobs, cost=lambda task: task["gap"] * (3 if task["model"] == "lstm" else 1))
    return GapResult(runs, list(gaps), list(seeds), settings, jobs, time.perf_counter() - start)
