"""Keras 3's import path for utilities: `from tinyseq.utils import pad_sequences, set_random_seed`."""

from .preprocessing.sequence import pad_sequences
from .random import seed as set_random_seed

__all__ = ["pad_sequences", "set_random_seed"]
