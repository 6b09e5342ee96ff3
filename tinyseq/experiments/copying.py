"""The copying memory task: read 10 symbols, wait T steps, then write them back.

The layout of Arjovsky, Shah & Bengio (2016, section 4.1), after Hochreiter & Schmidhuber (1997):
ten categories, 0-7 the symbols, 8 the blank, 9 the delimiter. A sequence has T + 20 steps:

    input:   s_1 ... s_10   8 ... 8 (T - 1 blanks)   9   8 ... 8 (10 blanks)
    target:  8 ... 8 (T + 10 blanks)                      s_1 ... s_10

the ten symbols drawn uniformly and independently from 0-7. Inputs are one-hot vectors of the
ten categories; the network answers at every step with logits over the ten categories, and the
loss is the cross-entropy averaged over all T + 20 steps (and the batch), in nats.

The baseline (Arjovsky et al.'s "memoryless strategy"): a network that remembers nothing can
still predict the blank at the first T + 10 steps (it sees where the delimiter is) at no cost,
then can only guess each of the ten symbols, uniformly from 8: a loss of ln 8 at each of those
10 steps, so 10 ln 8 / (T + 20) per step.

Accuracy: the fraction of the ten recalled symbols predicted right (arg max of the logits).
"""

from __future__ import annotations

import math

import numpy as np

from .training import Task, crossentropy_of_logits

SYMBOLS = 8            # categories 0-7
BLANK = 8
DELIMITER = 9
CATEGORIES = 10
RECALLED = 10          # the symbols to remember


def copying_batch(batch_size, delay, generator):
    """Draw copying-task sequences.

    Args:
        batch_size: the number of sequences.
        delay: T, at least 1; the sequences are T + 20 steps long.
        generator: a `numpy.random.Generator`.

    Returns:
        (x, y): x one-hot, float32 (batch, T + 20, 10); y the target categories, (batch, T + 20).
    """
    steps = delay + 2 * RECALLED
    symbols = generator.integers(0, SYMBOLS, (batch_size, RECALLED))
    inputs = np.full((batch_size, steps), BLANK)
    inputs[:, :RECALLED] = symbols
    inputs[:, delay + RECALLED - 1] = DELIMITER
    targets = np.full((batch_size, steps), BLANK)
    targets[:, -RECALLED:] = symbols
    return np.eye(CATEGORIES, dtype=np.float32)[inputs], targets


def copying_baseline(delay):
    """The memoryless loss per step: 10 ln 8 / (T + 20) nats."""
    return RECALLED * math.log(SYMBOLS) / (delay + 2 * RECALLED)


def recall_accuracy(targets, logits):
    """The fraction of the ten recalled symbols whose logit is the largest."""
    return float(np.mean(logits[:, -RECALLED:].argmax(axis=-1) == targets[:, -RECALLED:]))


COPYING = Task(name="copying", batch=copying_batch, baseline=copying_baseline,
               max_dependency=lambda delay: delay + RECALLED,   # s_i read at step i, written at T + 10 + i
               features=CATEGORIES, outputs=CATEGORIES, loss_function=crossentropy_of_logits, every_step=True,
               min_length=1, accuracy=recall_accuracy)
