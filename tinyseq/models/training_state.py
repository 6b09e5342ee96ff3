"""`TrainingState`: where `fit` is, kept in one object so that a checkpoint can hold it."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class TrainingState:
    """Where `fit` is: saved in checkpoints so training resumes exactly.

    Attributes:
        epoch: the epoch under way (0-based).
        batch: batches of that epoch already done.
        order: the epoch's (shuffled) order of sample indices, or None before it starts.
        totals: per quantity, the batch-size-weighted sum so far this epoch.
        seen: samples seen so far this epoch.
        history: per quantity, the value at the end of each finished epoch.
    """
    epoch: int = 0
    batch: int = 0
    order: np.ndarray | None = None
    totals: dict = field(default_factory=dict)
    seen: int = 0
    history: dict = field(default_factory=dict)

    def start_next_epoch(self):
        """Move to the start of the next epoch."""
        self.epoch, self.batch, self.order, self.totals, self.seen = self.epoch + 1, 0, None, {}, 0

    def averages(self):
        """The running mean of each quantity over the samples seen this epoch."""
        return {name: total / self.seen for name, total in self.totals.items()}
