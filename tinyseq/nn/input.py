"""`Input` and `InputLayer`: declare a model's input shape up front, as `keras.Input` does.

`Sequential([Input((500,)), Embedding(5000, 32), LSTM(100), Dense(1)])` knows its input shape
before it sees data, so it builds at once and `summary()` works. An `InputLayer` holds no
weights and passes its input through unchanged.
"""

from __future__ import annotations

import numbers

import numpy as np

from .core import Layer


class InputLayer(Layer):
    """The shape, batch size and dtype of a model's inputs, as Keras's `InputLayer`.

    Give either `shape` (without the batch axis) with an optional `batch_size`, or
    `batch_shape` (with it), as Keras accepts both.

    Args:
        shape: the shape of one sample, e.g. (500,) for sequences of 500 ids; None for a
            length that varies, e.g. (None, 8).
        batch_size: a fixed batch size, or None (any).
        dtype: the inputs' dtype (default float32, as Keras; integer ids are looked up either way).
        batch_shape: `(batch_size,) + shape` in one tuple, instead of `shape` and `batch_size`.
        name: the layer's name (default input_layer).
        sparse, ragged, optional: accepted for Keras configs; only False is supported.

    Attributes:
        shape: the shape without the batch axis; batch_shape: with it.
    """

    def __init__(self, shape=None, batch_size=None, dtype=None, batch_shape=None, name=None,
                 sparse=False, ragged=False, optional=False):
        super().__init__(name=name, dtype="float32" if dtype is None else dtype)
        if shape is not None and batch_shape is not None:
            raise ValueError(f"{self.name}: give shape or batch_shape, not both "
                             f"(got shape={shape!r}, batch_shape={batch_shape!r})")
        if batch_shape is not None:
            if batch_size is not None:
                raise ValueError(f"{self.name}: give batch_size or batch_shape, not both "
                                 f"(got batch_size={batch_size!r}, batch_shape={batch_shape!r})")
            batch_shape = _dimensions(batch_shape, "batch_shape", self.name)
            if not batch_shape:
                raise ValueError(f"{self.name}: batch_shape needs at least the batch axis, got ()")
            batch_size, shape = batch_shape[0], batch_shape[1:]
        elif shape is None:
            raise ValueError(f"{self.name}: a shape is required, e.g. Input(shape=(500,))")
        else:
            shape = _dimensions(shape, "shape", self.name)
            if batch_size is not None:
                batch_size = _dimensions((batch_size,), "batch_size", self.name)[0]
        for argument, value in (("sparse", sparse), ("ragged", ragged), ("optional", optional)):
            if value not in (False, None):
                raise ValueError(f"{self.name}: {argument}={value!r} is not supported; only {argument}=False")
        self.shape = shape
        self.batch_size = batch_size
        self.built = True

    @property
    def batch_shape(self):
        """`(batch_size,) + shape`: the full input shape, batch axis first (None where it varies)."""
        return (self.batch_size,) + self.shape

    def call(self, inputs, mask=None, training=None):
        """Return the inputs unchanged."""
        return inputs

    def compute_output_shape(self, input_shape):
        """The input shape, unchanged."""
        return tuple(input_shape)

    def get_config(self):
        """Keras's InputLayer config: batch_shape, dtype, sparse, ragged, name, optional."""
        return {"batch_shape": list(self.batch_shape), "dtype": self.dtype.name, "sparse": False,
                "ragged": False, "name": self.name, "optional": False}


def _dimensions(value, argument, where):
    """`value` as a tuple of positive ints or None, with an error naming `argument` otherwise."""
    if not isinstance(value, (tuple, list)) or not all(
            dim is None or (isinstance(dim, (numbers.Integral, np.integer)) and not isinstance(dim, bool)
                            and dim >= 1) for dim in value):
        raise ValueError(f"{where}: {argument} must be a tuple of positive integers or None, got {value!r}")
    return tuple(None if dim is None else int(dim) for dim in value)


def Input(shape=None, batch_size=None, dtype=None, batch_shape=None, name=None):
    """Declare a model's inputs: `Sequential([Input((500,)), Embedding(5000, 32), ...])`.

    Returns an `InputLayer` (Keras returns a symbolic tensor; tinyseq has only Sequential
    models, which need just the shape). See `InputLayer` for the arguments.

    Example:
        >>> Input((500,)).batch_shape
        (None, 500)
    """
    return InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, batch_shape=batch_shape, name=name)
