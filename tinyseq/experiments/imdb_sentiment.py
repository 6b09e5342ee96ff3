"""The classic Keras IMDB walkthrough as a function: load, pad, build, train, evaluate, save, predict.

Embedding(5000, 32) -> LSTM(100) -> Dense(1, sigmoid), adam, binary cross-entropy, batch 128,
2 epochs, reviews padded to 500 words: 213,301 parameters. The CLI (`tinyseq imdb train`)
calls `train_seed_model` and prints what it returns.

tinyseq changes one thing in the recipe, unless told not to: Adam's learning rate (0.001, as
the walkthrough's) falls linearly to 0 over the last epoch (`walkthrough_optimizer`).
"""

from __future__ import annotations

import json
import math
import os
import platform
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from .. import random
from ..callbacks import BackupAndRestore, Callback
from ..datasets import imdb
from ..files import atomic_write
from ..layers import LSTM, Dense, Embedding
from ..models import Sequential
from ..optimizers import Adam
from ..preprocessing.sequence import pad_sequences
from ..schedules import LinearDecay

WALKTHROUGH_SENTENCES = ("i really liked the movie and had fun", "professional disappointment")


def build_seed_model(num_words=5000, maxlen=500, embedding_size=32, units=100, mask_zero=False, optimizer="adam"):
    """The walkthrough's model, compiled as it compiles it (with `optimizer`, by default "adam").

    With `mask_zero`, padding (id 0) is masked: the LSTM carries its state over padded steps,
    so it runs each review from its first word on (an IMDB epoch about 1.6 times as fast).
    """
    model = Sequential([Embedding(num_words, embedding_size, input_length=maxlen, mask_zero=mask_zero),
                        LSTM(units), Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer=optimizer, metrics=["accuracy"])
    return model


def walkthrough_optimizer(steps_per_epoch, epochs, decay_learning_rate=True):
    """Adam at the walkthrough's learning rate, 0.001; with `decay_learning_rate`, held there for
    all epochs but the last, over which it falls linearly to 0.

    Why the fall: at a constant 0.001 the weights still jump from batch to batch at the end of
    the second epoch, so the test accuracy depends on where the last batches left them; runs
    that differ only in their seed end points apart. Letting the step size fall over the last
    epoch lets them settle (the figures over 11 seeds are in `benchmarks/README.md`).
    """
    if not decay_learning_rate:
        return Adam(1e-3)
    return Adam(LinearDecay(1e-3, decay_steps=steps_per_epoch, hold_steps=steps_per_epoch * (epochs - 1)))


def prepare_data(num_words=5000, maxlen=500, path=None, train_samples=None, test_samples=None):
    """Load IMDB with the top `num_words` words and pad/truncate every review to `maxlen` ids.

    `train_samples` / `test_samples` take the first N (already shuffled) reviews of each split.
    """
    (x_train, y_train), (x_test, y_test) = imdb.load_data(path=path, num_words=num_words)
    x_train, y_train = x_train[:train_samples], y_train[:train_samples]
    x_test, y_test = x_test[:test_samples], y_test[:test_samples]
    return (pad_sequences(x_train, maxlen=maxlen), y_train), (pad_sequences(x_test, maxlen=maxlen), y_test)


def predict_texts(model, texts, path=None):
    """The model's positive-sentiment probability for each text (encoded with the right offsets)."""
    num_words = model.layers[0].input_dim
    maxlen = model.input_shape[1]
    ids = [imdb.encode_text(text, num_words=num_words, path=path) for text in texts]
    return model.predict(pad_sequences(ids, maxlen=maxlen), verbose=0)[:, 0]


class EpochTimer(Callback):
    """Records the wall-clock seconds of every epoch (validation included)."""

    def __init__(self):
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.start)


@dataclass
class IMDBResult:
    """What a training run measured."""
    test_loss: float
    test_accuracy: float
    epoch_seconds: list
    history: dict
    sentences: dict
    parameters: int
    settings: dict
    machine: dict = field(default_factory=lambda: {
        "python": platform.python_version(), "numpy": np.__version__,
        "processor": platform.processor() or platform.machine(), "cores": os.cpu_count()})

    def save(self, path):
        """Write the result as JSON (atomically)."""
        with atomic_write(path, "w") as file:
            json.dump(asdict(self), file, indent=1)


def train_seed_model(output="imdb.h5", epochs=2, batch_size=128, maxlen=500, num_words=5000, path=None,
                     train_samples=None, test_samples=None, seed=0, resume=False, verbose=1,
                     mask_zero=False, bucket_by_length=False, decay_learning_rate=True):
    """Train the walkthrough's model end to end and return an IMDBResult.

    `mask_zero` and `bucket_by_length` (batches of similar lengths, see `Sequential.fit`) are
    the exact speed-ups; the walkthrough uses neither. `decay_learning_rate=False` keeps Adam's
    learning rate constant, as the walkthrough does (see `walkthrough_optimizer`).

    A checkpoint of the run is kept at `output + ".backup"` (every epoch, and on Ctrl-C); with
    `resume=True` training continues from it to exactly the weights of an uninterrupted run.
    """
    backup = f"{output}.backup"
    if os.path.exists(backup) and not resume:
        raise FileExistsError(f"{backup} holds an interrupted run: resume it (--resume) or delete it")
    if resume and not os.path.exists(backup):
        raise FileNotFoundError(f"--resume: there is no checkpoint at {backup}")
    random.seed(seed)
    (x_train, y_train), (x_test, y_test) = prepare_data(num_words, maxlen, path, train_samples, test_samples)
    if verbose:
        print(f"{len(x_train)} train sequences, {len(x_test)} test sequences, padded to {x_train.shape[1]}")
    steps_per_epoch = math.ceil(len(x_train) / batch_size)
    model = build_seed_model(num_words, maxlen, mask_zero=mask_zero,
                             optimizer=walkthrough_optimizer(steps_per_epoch, epochs, decay_learning_rate))
    if verbose:
        model.summary()
    timer = EpochTimer()
    history = model.fit(x_train, y_train, validation_data=(x_test, y_test), epochs=epochs, batch_size=batch_size,
                        callbacks=[BackupAndRestore(backup), timer], verbose=verbose,
                        bucket_by_length=bucket_by_length)
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    model.save(output)
    probabilities = predict_texts(model, WALKTHROUGH_SENTENCES, path=path)
    return IMDBResult(
        test_loss=loss, test_accuracy=accuracy, epoch_seconds=timer.seconds, history=history.history,
        sentences={text: float(p) for text, p in zip(WALKTHROUGH_SENTENCES, probabilities)},
        parameters=model.count_params(),
        settings={"epochs": epochs, "batch_size": batch_size, "maxlen": maxlen, "num_words": num_words,
                  "train_samples": len(x_train), "test_samples": len(x_test), "seed": seed, "resumed": resume,
                  "mask_zero": mask_zero, "bucket_by_length": bucket_by_length,
                  "decay_learning_rate": decay_learning_rate})
