"""One seedable random generator for everything tinyseq draws: initial weights, dropout, shuffling.

`tinyseq.random.seed(42)` (or `tinyseq.set_seed(42)`) makes every later draw repeat run after run.
"""

from __future__ import annotations

import numpy as np

_generator = np.random.default_rng()


def seed(value):
    """Reseed the shared generator; the same seed gives the same weights and batches every run."""
    global _generator
    _generator = np.random.default_rng(value)


def generator():
    """The shared `numpy.random.Generator` (reseeded by `seed`)."""
    return _generator


def get_state():
    """The generator's state, to save in a checkpoint so a resumed run draws the same numbers."""
    return _generator.bit_generator.state


def set_state(state):
    """Restore a state from `get_state`."""
    _generator.bit_generator.state = state
