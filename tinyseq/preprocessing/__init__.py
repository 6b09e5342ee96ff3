"""Data preprocessing utilities (pure numpy), mirroring ``keras.preprocessing``."""

from . import sequence
