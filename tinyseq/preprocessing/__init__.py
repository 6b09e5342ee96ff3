"""Data preprocessing utilities (pure numpy), mirroring ``keras.preprocessing``: ``sequence``
pads id sequences to one length, ``text`` turns text into a model's padded ids (and stores
that recipe in a model file)."""

from . import sequence, text
