"""`Conv1D`: a 1-D convolution over the time axis, channels last, as Keras's.

A convolution slides one small dense layer along the sequence: the output at step t is
`activation(window_t @ kernel + bias)`, where `window_t` holds `kernel_size` consecutive steps
(spaced `dilation_rate` apart) with all their channels. Here that is written with primitive
ops only: pad the sequence, take one strided slice per kernel tap, join the slices side by
side into one (batch, steps, kernel_size * channels) array of windows, and multiply it by the
kernel flattened to (kernel_size * channels, filters). One matrix product does every step,
and autograd differentiates the slices, the join and the product as usual.

This module also holds what pooling shares with convolutions: how "valid", "same" and "causal"
padding set the output length (`window_geometry`), padding the time axis (`pad_steps`) and
the strided slices (`window_slices`).
"""

from __future__ import annotations

import numbers

import numpy as np

from .. import checks, ops
from ..tensor import ShapeError, Tensor
from . import activations, init
from .core import Layer, affine


def window_geometry(length, window, stride, padding, where):
    """How windows of `window` steps, `stride` apart, cover a sequence of `length` steps.

    Follows TensorFlow's rules, which Keras uses: "valid" uses only whole windows inside the
    sequence; "same" gives ceil(length / stride) outputs, padding the sequence evenly (one
    more step after than before when the padding is odd); "causal" pads only before, so the
    output at step t sees no step after t.

    Returns:
        (output length, steps padded before, steps padded after).

    Raises:
        ShapeError: naming `where`, when "valid" windows do not fit in the sequence.
    """
    if padding == "valid":
        if length < window:
            raise ShapeError(f"{where}: the input has {length} steps, fewer than the window of "
                             f"{window} steps that padding='valid' needs")
        return (length - window) // stride + 1, 0, 0
    if padding == "causal":
        return (length - 1) // stride + 1, window - 1, 0
    outputs = -(-length // stride)
    total = max((outputs - 1) * stride + window - length, 0)
    return outputs, total // 2, total - total // 2


def pad_steps(inputs, before, after, value=0.0):
    """`inputs` (batch, steps, channels) with `before` and `after` steps of `value` added."""
    if not before and not after:
        return inputs
    batch_size, _, channels = inputs.shape
    pieces = [Tensor(np.full((batch_size, before, channels), value, dtype=inputs.dtype))] if before else []
    pieces.append(inputs)
    if after:
        pieces.append(Tensor(np.full((batch_size, after, channels), value, dtype=inputs.dtype)))
    return ops.concat(pieces, axis=1)


def window_slices(padded, offsets, outputs, stride):
    """For each offset, the steps `offset, offset + stride, ...` (`outputs` of them) of `padded`."""
    return [padded[:, offset:offset + (outputs - 1) * stride + 1:stride] for offset in offsets]


def one_int(value, argument, where):
    """A positive int given as Keras allows for 1-D layers: an int, or a tuple or list of one int."""
    if isinstance(value, (tuple, list)) and len(value) == 1:
        value = value[0]
    if not (isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, bool) and value >= 1):
        raise ValueError(f"{where}: {argument} must be a positive integer or a tuple of one, got {value!r}")
    return int(value)


def padding_choice(value, where, choices):
    """`value` lower-cased (Keras accepts "SAME"), if it is one of `choices`."""
    if not (isinstance(value, str) and value.lower() in choices):
        raise ValueError(f"{where}: padding must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return value.lower()


def channels_last(data_format, where):
    """Check `data_format` is channels_last (or None, which means it): the only layout here."""
    if data_format not in (None, "channels_last"):
        raise ValueError(f"{where}: only data_format='channels_last' (batch, steps, channels) is "
                         f"supported, got {data_format!r}")
    return "channels_last"


class Conv1D(Layer):
    """A 1-D convolution along the time axis: inputs (batch, steps, channels) give outputs
    (batch, output steps, filters).

    Args:
        filters: the number of output channels.
        kernel_size: the window length, in steps.
        strides: the step between windows.
        padding: "valid" (whole windows only: steps - (window - 1) outputs at stride 1),
            "same" (pad with zeros on both sides: as many outputs as steps at stride 1) or
            "causal" (pad before only: output t depends on inputs up to t alone).
        data_format: only "channels_last" (None means it).
        dilation_rate: the spacing between the window's taps (1: consecutive steps); cannot be
            combined with strides > 1.
        groups: only 1.
        activation: a name from `tinyseq.nn.activations`, a callable, or None (linear).
        use_bias: whether to add a bias per filter.
        kernel_initializer, bias_initializer: initialiser names or callables.
        name: the layer's name (default conv1d, conv1d_1, ...).
        dtype: the weights' dtype.

    Weights, in Keras's layout: kernel (kernel_size, channels, filters), bias (filters,).
    A mask from the layer before is dropped, as Keras drops it.

    Example:
        >>> Conv1D(32, 3, padding="same", activation="relu")(np.zeros((2, 500, 16))).shape
        (2, 500, 32)
    """

    min_ndim = max_ndim = 3
    input_layout = "(batch, steps, channels)"

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", name=None, dtype="float32"):
        super().__init__(name=name, dtype=dtype)
        self.filters = checks.positive_int(filters, "filters", self.name)
        self.kernel_size = (one_int(kernel_size, "kernel_size", self.name),)
        self.strides = (one_int(strides, "strides", self.name),)
        self.padding = padding_choice(padding, self.name, ("valid", "same", "causal"))
        self.data_format = channels_last(data_format, self.name)
        self.dilation_rate = (one_int(dilation_rate, "dilation_rate", self.name),)
        if groups != 1:
            raise ValueError(f"{self.name}: only groups=1 is supported, got {groups!r}")
        if self.strides[0] > 1 and self.dilation_rate[0] > 1:
            raise ValueError(f"{self.name}: strides > 1 cannot be combined with dilation_rate > 1, got "
                             f"strides={self.strides[0]} and dilation_rate={self.dilation_rate[0]}")
        self.activation = activations.get(activation)
        self.use_bias = checks.boolean(use_bias, "use_bias", self.name)
        self.kernel_initializer = init.get(kernel_initializer)
        self.bias_initializer = init.get(bias_initializer)

    @property
    def window(self):
        """The number of steps one window spans: (kernel_size - 1) * dilation_rate + 1."""
        return (self.kernel_size[0] - 1) * self.dilation_rate[0] + 1

    def build(self, input_shape):
        """Create kernel (kernel_size, channels, filters) and bias (filters,)."""
        self.input_features = input_shape[-1]
        self.add_weight("kernel", (self.kernel_size[0], input_shape[-1], self.filters), self.kernel_initializer)
        self.bias = self.add_weight("bias", (self.filters,), self.bias_initializer) if self.use_bias else None

    def call(self, inputs, mask=None, training=None):
        """Convolve (`mask` and `training` do not affect it)."""
        outputs, before, after = window_geometry(inputs.shape[1], self.window, self.strides[0],
                                                 self.padding, self.name)
        padded = pad_steps(inputs, before, after)
        taps = range(0, self.window, self.dilation_rate[0])
        windows = window_slices(padded, taps, outputs, self.strides[0])
        # Tap-major order, as the kernel (kernel_size, channels, filters) flattens.
        patches = ops.concat(windows, axis=-1) if len(windows) > 1 else windows[0]
        kernel = ops.reshape(self.kernel, (-1, self.filters))
        return self.activation(affine(patches, kernel, self.bias))

    def compute_output_shape(self, input_shape):
        """(batch, output steps, filters); output steps is None when the input's length is."""
        batch_size, length = input_shape[0], input_shape[1]
        if length is not None:
            length = window_geometry(length, self.window, self.strides[0], self.padding, self.name)[0]
        return (batch_size, length, self.filters)

    def compute_mask(self, inputs, mask=None):
        """None: the output steps no longer line up with the input's, so the mask is dropped."""
        return None

    def get_config(self):
        """Keras's Conv1D config keys (see `Layer.get_config`)."""
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "strides": self.strides, "padding": self.padding, "data_format": self.data_format,
                "dilation_rate": self.dilation_rate, "groups": 1,
                "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
                "kernel_initializer": init.serialize(self.kernel_initializer),
                "bias_initializer": init.serialize(self.bias_initializer)}
