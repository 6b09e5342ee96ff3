"""Which rows of a masked batch each step of a fused kernel runs: from each sequence's first real step on."""

from __future__ import annotations

import numpy as np


class StartSchedule:
    """When each sequence of a batch starts, and the order of rows that makes that cheap.

    A sequence whose first steps are padding (Keras pads at the front by default) waits in
    its initial state until its first real step: padding carries the states over. So the
    kernel sorts the rows by their first real step, and step t runs only on the first
    `started[t]` rows, the ones that have begun. A batch of reviews whose lengths run from 20
    to 500 words then costs about its total number of words, not 500 steps of every review,
    and the result is the same to the last bit of rounding. (Sequences padded at the end, or
    with holes, are handled exactly but not faster: a started row's padding steps are run and
    their result discarded, as in the cells' loop.)

    Args:
        mask: (batch, timesteps) booleans, True at real steps; None for no mask.
        time_order: the slice that puts the steps in processing order (reversed for go_backwards).
        timesteps, batch: the size of the batch.

    Attributes:
        started: started[t], how many rows (from the first, in sorted order) have started by step t.
        padding: (timesteps, batch, 1) booleans in processing order and sorted rows, True at
            padding; None without a mask.
        holes: holes[t], whether a started row is padding at step t.
    """

    def __init__(self, mask, time_order, timesteps, batch):
        self.order = self.inverse = None  # None: the rows stay as they are
        self.started = np.full(timesteps, batch)
        self.padding = None
        self.holes = np.zeros(timesteps, dtype=bool)
        if mask is None:
            return
        real = mask.T[time_order]  # (timesteps, batch)
        first_real = np.where(real.any(axis=0), real.argmax(axis=0), timesteps)
        order = np.argsort(first_real, kind="stable")
        if np.any(order != np.arange(batch)):
            self.order, self.inverse = order, np.argsort(order)
        self.started = np.searchsorted(first_real[order], np.arange(timesteps), side="right")
        self.padding = ~real[:, order, None]
        has_started = np.arange(batch) < self.started[:, None]
        self.holes = (self.padding[..., 0] & has_started).any(axis=1)

    def sort_rows(self, array, axis):
        """`array` with its rows (along `axis`) in the schedule's order."""
        return array if self.order is None else np.take(array, self.order, axis=axis)

    def unsort_rows(self, array, axis):
        """`array` with its rows (along `axis`) back in the batch's order."""
        return array if self.inverse is None else np.take(array, self.inverse, axis=axis)
