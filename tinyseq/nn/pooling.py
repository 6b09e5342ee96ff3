"""Pooling along the time axis, as Keras's: `MaxPooling1D`, `AveragePooling1D`,
`GlobalMaxPooling1D` and `GlobalAveragePooling1D`.

Windowed pooling takes the same strided slices a convolution does (see `convolutional`), one
per position inside the window, stacks them on a new axis and reduces that axis with `ops.max`
or a sum. Global pooling reduces the whole time axis at once.
"""

from __future__ import annotations

import numpy as np

from .. import checks, ops
from ..tensor import ShapeError, Tensor
from .convolutional import channels_last, one_int, pad_steps, padding_choice, window_geometry, window_slices
from .core import Layer


class Pooling1D(Layer):
    """Windowed pooling over (batch, steps, channels): what MaxPooling1D and AveragePooling1D share.

    Subclasses set `pad_value` (what the padding of padding="same" holds) and implement
    `reduce(windows, counts)`.

    Args:
        pool_size: the window length, in steps.
        strides: the step between windows (None: pool_size, so windows do not overlap).
        padding: "valid" (whole windows only) or "same" (ceil(steps / strides) outputs; the
            padding never counts, as in Keras).
        data_format: only "channels_last" (None means it).
        name: the layer's name.
        dtype: the dtype array-like inputs are converted to.
    """

    min_ndim = max_ndim = 3
    input_layout = "(batch, steps, channels)"
    pad_value = 0.0

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, name=None, dtype="float32"):
        super().__init__(name=name, dtype=dtype)
        self.pool_size = (one_int(pool_size, "pool_size", self.name),)
        self.strides = self.pool_size if strides is None else (one_int(strides, "strides", self.name),)
        self.padding = padding_choice(padding, self.name, ("valid", "same"))
        self.data_format = channels_last(data_format, self.name)

    def call(self, inputs, mask=None, training=None):
        """Pool each window (`mask` and `training` do not affect it)."""
        pool_size, stride = self.pool_size[0], self.strides[0]
        outputs, before, after = window_geometry(inputs.shape[1], pool_size, stride, self.padding, self.name)
        padded = pad_steps(inputs, before, after, self.pad_value)
        windows = ops.stack(window_slices(padded, range(pool_size), outputs, stride), axis=2)
        # How many real (not padded) steps each window holds: (1, outputs, 1).
        real = np.pad(np.ones(inputs.shape[1], dtype=inputs.dtype), (before, after))
        counts = sum(real[offset:offset + (outputs - 1) * stride + 1:stride] for offset in range(pool_size))
        return self.reduce(windows, counts[None, :, None])

    def reduce(self, windows, counts):
        """Reduce `windows` (batch, outputs, pool_size, channels) over axis 2."""
        raise NotImplementedError(f"{type(self).__name__}.reduce is not implemented")

    def compute_output_shape(self, input_shape):
        """(batch, output steps, channels); output steps is None when the input's length is."""
        batch_size, length, channels = input_shape
        if length is not None:
            length = window_geometry(length, self.pool_size[0], self.strides[0], self.padding, self.name)[0]
        return (batch_size, length, channels)

    def compute_mask(self, inputs, mask=None):
        """None: the output steps no longer line up with the input's, so the mask is dropped."""
        return None

    def get_config(self):
        """Keras's pooling config keys (see `Layer.get_config`)."""
        return {**super().get_config(), "pool_size": self.pool_size, "padding": self.padding,
                "strides": self.strides, "data_format": self.data_format}


class MaxPooling1D(Pooling1D):
    """The largest value of each window of `pool_size` steps, channel by channel.

    The default halves the sequence: MaxPooling1D() turns (batch, 500, 32) into (batch, 250, 32).
    See `Pooling1D` for the arguments. Where several steps of a window tie for the maximum,
    the gradient is shared between them equally (TensorFlow gives it all to the first).

    Example:
        >>> MaxPooling1D(pool_size=2)(np.zeros((2, 500, 32))).shape
        (2, 250, 32)
    """

    pad_value = -np.inf  # padding can never be the maximum

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, name=None, dtype="float32"):
        super().__init__(pool_size, strides, padding, data_format, name=name, dtype=dtype)

    def reduce(self, windows, counts):
        """The maximum over each window."""
        return ops.max(windows, axis=2)


class AveragePooling1D(Pooling1D):
    """The mean of each window of `pool_size` steps, channel by channel; with padding="same",
    the mean of the real steps only. See `Pooling1D` for the arguments."""

    def reduce(self, windows, counts):
        """The sum over each window divided by its number of real steps."""
        return ops.sum(windows, axis=2) / counts


class GlobalPooling1D(Layer):
    """Pooling over the whole time axis: (batch, steps, channels) to (batch, channels).

    Args:
        data_format: only "channels_last" (None means it).
        keepdims: keep the time axis, with length 1: (batch, 1, channels).
        name: the layer's name.
        dtype: the dtype array-like inputs are converted to.
    """

    min_ndim = max_ndim = 3
    input_layout = "(batch, steps, channels)"

    def __init__(self, data_format=None, keepdims=False, name=None, dtype="float32"):
        super().__init__(name=name, dtype=dtype)
        self.data_format = channels_last(data_format, self.name)
        self.keepdims = checks.boolean(keepdims, "keepdims", self.name)

    def compute_output_shape(self, input_shape):
        """(batch, channels), or (batch, 1, channels) with keepdims."""
        return (input_shape[0], 1, input_shape[-1]) if self.keepdims else (input_shape[0], input_shape[-1])

    def compute_mask(self, inputs, mask=None):
        """None: the time axis is gone, and its mask with it."""
        return None

    def get_config(self):
        """Keras's global pooling config keys (see `Layer.get_config`)."""
        return {**super().get_config(), "data_format": self.data_format, "keepdims": self.keepdims}


class GlobalMaxPooling1D(GlobalPooling1D):
    """The largest value of each channel over all steps. As in Keras, a mask is ignored:
    padded steps take part in the maximum. See `GlobalPooling1D` for the arguments."""

    def call(self, inputs, mask=None, training=None):
        """The maximum over the time axis."""
        return ops.max(inputs, axis=1, keepdims=self.keepdims)


class GlobalAveragePooling1D(GlobalPooling1D):
    """The mean of each channel over all steps, or with a mask (batch, steps) over the real
    (True) steps only, as Keras. See `GlobalPooling1D` for the arguments.

    Example:
        >>> GlobalAveragePooling1D()(np.ones((2, 5, 3)), mask=np.array([[1, 1, 0, 0, 0]] * 2)).shape
        (2, 3)
    """

    def call(self, inputs, mask=None, training=None):
        """The mean over the (unmasked) time axis."""
        if mask is None:
            return ops.mean(inputs, axis=1, keepdims=self.keepdims)
        mask = np.asarray(mask.data if isinstance(mask, Tensor) else mask).astype(bool)
        if mask.shape != inputs.shape[:2]:
            raise ShapeError(f"{self.name}: the mask has shape {mask.shape}; expected "
                             f"{inputs.shape[:2]} (batch, steps)")
        kept = mask[:, :, None]
        total = ops.sum(ops.where(kept, inputs, np.zeros((), dtype=inputs.dtype)), axis=1, keepdims=self.keepdims)
        return total / kept.sum(axis=1, keepdims=self.keepdims).astype(inputs.dtype)
