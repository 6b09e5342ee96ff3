"""The temporal-order task: in which order did X and Y appear?

Hochreiter & Schmidhuber (1997), experiment 6a, with the marker ranges scaled to the sequence
length T as Pascanu, Mikolov & Bengio (2013) use it. Eight symbols, one-hot: the distractors
a, b, c, d, the markers X and Y, and B and E, which start and end every sequence. Counting steps
from 0, a sequence of length T is

    B, then distractors, except at step t1 in [T/10, 2T/10] and step t2 in [5T/10, 6T/10]
    (both rounded down, bounds included), which hold X or Y, each drawn independently; E at T - 1.

The class is the pair of markers in order: XX 0, XY 1, YX 2, YY 3. At T = 100 the ranges are
Hochreiter & Schmidhuber's, [10, 20] and [50, 60] (whose sequences also vary in length, 100 to
110; here every sequence has length T). The network answers at the last step with logits over the
four classes; the loss is their cross-entropy in nats.

The baseline: the four classes are equally likely whatever the distractors, so a network that
remembers neither marker can do no better than 1/4 each: a loss of ln 4.
"""

from __future__ import annotations

import math

import numpy as np

from .training import Task, crossentropy_of_logits

DISTRACTORS = ("a", "b", "c", "d")
SYMBOLS = DISTRACTORS + ("X", "Y", "B", "E")   # symbol id = position
X, Y, B, E = (SYMBOLS.index(name) for name in "XYBE")
CLASSES = ("XX", "XY", "YX", "YY")
MIN_LENGTH = 10


def marker_ranges(length):
    """The steps the two markers may take: ((first low, first high), (second low, second high)), inclusive."""
    return (length // 10, 2 * length // 10), (5 * length // 10, 6 * length // 10)


def temporal_order_batch(batch_size, length, generator):
    """Draw temporal-order sequences.

    Args:
        batch_size: the number of sequences.
        length: T, at least 10.
        generator: a `numpy.random.Generator`.

    Returns:
        (x, y): x one-hot, float32 (batch, T, 8); y the classes 0-3, (batch,).
    """
    rows = np.arange(batch_size)
    (first_low, first_high), (second_low, second_high) = marker_ranges(length)
    symbols = generator.integers(0, len(DISTRACTORS), (batch_size, length))
    symbols[:, 0], symbols[:, -1] = B, E
    first = generator.integers(first_low, first_high + 1, batch_size)
    second = generator.integers(second_low, second_high + 1, batch_size)
    is_y = generator.integers(0, 2, (batch_size, 2))            # per marker: 0 for X, 1 for Y
    symbols[rows, first] = X + is_y[:, 0]
    symbols[rows, second] = X + is_y[:, 1]
    return np.eye(len(SYMBOLS), dtype=np.float32)[symbols], 2 * is_y[:, 0] + is_y[:, 1]


def class_accuracy(classes, logits):
    """The fraction of sequences whose class has the largest logit."""
    return float(np.mean(logits.argmax(axis=-1) == classes))


TEMPORAL_ORDER = Task(name="temporal_order", batch=temporal_order_batch, baseline=lambda length: math.log(4),
                      max_dependency=lambda length: length - marker_ranges(length)[0][0],  # first marker to the end
                      features=len(SYMBOLS), outputs=len(CLASSES), loss_function=crossentropy_of_logits,
                      every_step=False, min_length=MIN_LENGTH, accuracy=class_accuracy)
