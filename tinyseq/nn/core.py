"""`Layer`, the Keras conventions every layer shares, and the core layers built on it:
`Dense`, `Activation`, `Embedding`, `Dropout` and `SpatialDropout1D`.

A layer is a `Module` that builds its weights on the first call, from the input shape. On top of
that, `Layer` adds what a Keras model needs from each layer: checking the input's rank and
feature size (with errors that name the layer), `compute_output_shape`, `compute_mask` and
`get_config`.
"""

from __future__ import annotations

import numpy as np

from .. import checks, ops, random
from ..tensor import ShapeError, Tensor, name_scope
from . import activations, init
from .module import Module


class Layer(Module):
    """A Module with Keras's layer conventions.

    Subclasses set the class attributes below, build weights in `build(input_shape)` (setting
    `self.input_features` when the weights fix the size of the last axis), and compute in
    `call(inputs, mask=None, training=None, ...)`. Every call runs inside
    `name_scope(layer.name)`, so the ops it creates can be drawn grouped by layer.

    Attributes:
        min_ndim, max_ndim: the input ranks accepted (None: no limit).
        input_layout: how the expected input is described in error messages.
        input_features: the last-axis size the built weights expect (None: any).
    """

    min_ndim = None
    max_ndim = None
    input_layout = "(batch, ..., features)"
    input_features = None

    def __call__(self, inputs, *args, **kwargs):
        inputs = self.convert_inputs(inputs)
        self.check_input_shape(np.shape(inputs.data if isinstance(inputs, Tensor) else inputs))
        with name_scope(self.name):
            return super().__call__(inputs, *args, **kwargs)

    def convert_inputs(self, inputs):
        """Make a tensor of the layer's dtype from array-like inputs (tensors pass unchanged)."""
        return inputs if isinstance(inputs, Tensor) else Tensor(inputs, dtype=self.dtype)

    def check_input_shape(self, shape):
        """Raise ShapeError, naming the layer, if inputs of `shape` cannot be used.

        Args:
            shape: the input's shape, batch dimension included.
        """
        too_few = self.min_ndim is not None and len(shape) < self.min_ndim
        too_many = self.max_ndim is not None and len(shape) > self.max_ndim
        if too_few or too_many:
            if self.min_ndim == self.max_ndim:
                expected = f"a {self.min_ndim}-D input"
            elif self.max_ndim is None:
                expected = f"an input of at least {self.min_ndim} dimensions"
            else:
                expected = f"an input of {self.min_ndim} to {self.max_ndim} dimensions"
            raise ShapeError(f"{self.name}: expected {expected} {self.input_layout}, "
                             f"got a {len(shape)}-D input of shape {tuple(shape)}")
        if self.input_features is not None and shape[-1] != self.input_features:
            raise ShapeError(f"{self.name}: expected inputs with {self.input_features} features "
                             f"(size of the last axis), got shape {tuple(shape)}")

    def compute_output_shape(self, input_shape):
        """The output shape for `input_shape` (a tuple whose batch size may be None)."""
        return tuple(input_shape)

    def compute_mask(self, inputs, mask=None):
        """The mask that goes with this layer's output: by default the input mask, unchanged."""
        return mask

    def get_config(self):
        """The constructor arguments as a JSON-able dict: `type(layer)(**config)` rebuilds it."""
        return {"name": self.name, "dtype": self.dtype.name}


def affine(inputs, kernel, bias=None):
    """`inputs @ kernel + bias` over the last axis, for inputs of shape (batch, ..., features).

    Inputs with more than two axes are flattened to one matrix first: a batched product would
    broadcast the kernel over the leading axes, and its backward would build one kernel-sized
    gradient per leading index before summing them.
    """
    if inputs.ndim == 2:
        out = inputs @ kernel
    else:
        rows = ops.reshape(inputs, (-1, inputs.shape[-1])) @ kernel
        out = ops.reshape(rows, inputs.shape[:-1] + (kernel.shape[-1],))
    return out if bias is None else out + bias


class Dense(Layer):
    """A fully connected layer: `activation(inputs @ kernel + bias)`.

    Works on (batch, features) and on (batch, timesteps, features), where the same weights are
    applied at every time step.

    Args:
        units: the number of outputs.
        activation: a name from `tinyseq.nn.activations`, a callable, or None (linear).
        use_bias: whether to add a bias.
        kernel_initializer, bias_initializer: initialiser names or callables.
        name: the layer's name (default: dense, dense_1, ...).
        dtype: the weights' dtype.

    Example:
        >>> Dense(1, activation="sigmoid")(np.zeros((4, 100))).shape
        (4, 1)
    """

    min_ndim = 2

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", name=None, dtype="float32"):
        super().__init__(name=name, dtype=dtype)
        self.units = checks.positive_int(units, "units", self.name)
        self.activation = activations.get(activation)
        self.use_bias = checks.boolean(use_bias, "use_bias", self.name)
        self.kernel_initializer = init.get(kernel_initializer)
        self.bias_initializer = init.get(bias_initializer)

    def build(self, input_shape):
        """Create kernel (features, units) and bias (units,)."""
        self.input_features = input_shape[-1]
        self.add_weight("kernel", (input_shape[-1], self.units), self.kernel_initializer)
        self.bias = self.add_weight("bias", (self.units,), self.bias_initializer) if self.use_bias else None

    def call(self, inputs, mask=None, training=None):
        """Apply the layer (`mask` and `training` do not affect it)."""
        return self.activation(affine(inputs, self.kernel, self.bias))

    def compute_output_shape(self, input_shape):
        """The input shape with the last axis replaced by `units`."""
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        """See `Layer.get_config`."""
        return {**super().get_config(), "units": self.units,
                "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
                "kernel_initializer": init.serialize(self.kernel_initializer),
                "bias_initializer": init.serialize(self.bias_initializer)}


class Activation(Layer):
    """Apply an activation function on its own, e.g. `Activation("softmax")`.

    Args:
        activation: a name from `tinyseq.nn.activations` or a callable.
        name: the layer's name.
        dtype: the dtype array-like inputs are converted to.
    """

    def __init__(self, activation, name=None, dtype="float32"):
        super().__init__(name=name, dtype=dtype)
        self.activation = activations.get(activation)

    def call(self, inputs, mask=None, training=None):
        """Apply the activation."""
        return self.activation(inputs)

    def get_config(self):
        """See `Layer.get_config`."""
        return {**super().get_config(), "activation": activations.serialize(self.activation)}


class Embedding(Layer):
    """Turn integer ids into dense vectors by looking up rows of an (input_dim, output_dim) table.

    Args:
        input_dim: the vocabulary size; ids must lie in [0, input_dim).
        output_dim: the length of each vector.
        embeddings_initializer: initialiser name or callable (Keras's default: uniform ±0.05).
        mask_zero: treat id 0 as padding: `compute_mask` then returns `ids != 0`, which
            recurrent layers use to skip the padded steps.
        input_length: Keras 2's fixed sequence length; used by `compute_output_shape` and
            checked on every call.
        name: the layer's name.
        dtype: the dtype of the table (and so of the output).

    Example:
        >>> Embedding(5000, 32).compute_output_shape((None, 500))
        (None, 500, 32)
    """

    min_ndim = 1
    input_layout = "(batch, ...) of integer ids"

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform", mask_zero=False,
                 input_length=None, name=None, dtype="float32"):
        super().__init__(name=name, dtype=dtype)
        self.input_dim = checks.positive_int(input_dim, "input_dim", self.name)
        self.output_dim = checks.positive_int(output_dim, "output_dim", self.name)
        self.embeddings_initializer = init.get(embeddings_initializer)
        self.mask_zero = checks.boolean(mask_zero, "mask_zero", self.name)
        self.input_length = (None if input_length is None
                             else checks.positive_int(input_length, "input_length", self.name))

    def convert_inputs(self, inputs):
        """Ids stay a plain numpy array: they select rows and carry no gradient."""
        return np.asarray(inputs.data if isinstance(inputs, Tensor) else inputs)

    def check_input_shape(self, shape):
        """Besides the rank, check the sequence length against `input_length` if one was given."""
        super().check_input_shape(shape)
        if self.input_length is not None and len(shape) == 2 and shape[1] != self.input_length:
            raise ShapeError(f"{self.name}: expected sequences of input_length={self.input_length}, "
                             f"got ids of shape {tuple(shape)}")

    def build(self, input_shape):
        """Create the (input_dim, output_dim) table."""
        self.add_weight("embeddings", (self.input_dim, self.output_dim), self.embeddings_initializer)

    def call(self, inputs, mask=None, training=None):
        """Look up the rows; an id outside [0, input_dim) raises IndexError naming it."""
        return ops.embedding(self.embeddings, inputs)

    def compute_output_shape(self, input_shape):
        """The ids' shape plus a trailing `output_dim` (with `input_length` as the time axis)."""
        input_shape = tuple(input_shape)
        if self.input_length is not None and len(input_shape) == 2:
            if input_shape[1] not in (None, self.input_length):
                raise ShapeError(f"{self.name}: input_length={self.input_length} does not match "
                                 f"the input shape {input_shape}")
            input_shape = (input_shape[0], self.input_length)
        return input_shape + (self.output_dim,)

    def compute_mask(self, inputs, mask=None):
        """`ids != 0` (a boolean array) when `mask_zero`, else None."""
        if not self.mask_zero:
            return None
        return self.convert_inputs(inputs) != 0

    def get_config(self):
        """See `Layer.get_config`."""
        return {**super().get_config(), "input_dim": self.input_dim, "output_dim": self.output_dim,
                "embeddings_initializer": init.serialize(self.embeddings_initializer),
                "mask_zero": self.mask_zero, "input_length": self.input_length}


class Dropout(Layer):
    """Inverted dropout: in training, zero each input with probability `rate` and scale the
    survivors by 1 / (1 - rate), so nothing needs rescaling at inference, where it does nothing.

    The random choices come from the shared generator (`tinyseq.random`), so a seeded run
    drops the same units every time; or, given a `seed`, from a generator of the layer's own.

    Args:
        rate: the fraction of inputs to drop, in [0, 1).
        seed: None (the shared generator) or an int seeding the layer's own generator.
        name: the layer's name.
        dtype: the dtype array-like inputs are converted to.
    """

    def __init__(self, rate, seed=None, name=None, dtype="float32"):
        super().__init__(name=name, dtype=dtype)
        self.rate = checks.number(rate, "rate", self.name, low=0, high=1, high_open=True)
        self.seed = None if seed is None else checks.non_negative_int(seed, "seed", self.name)
        self.generator = None if seed is None else np.random.default_rng(self.seed)

    def call(self, inputs, mask=None, training=None):
        """Drop inputs if `training` (None: the layer's own `training` mode)."""
        training = self.training if training is None else training
        if not training or self.rate == 0:
            return inputs
        generator = self.generator or random.generator()
        keep = generator.random(self.choices_shape(inputs.shape)) >= self.rate
        return inputs * (keep / (1 - self.rate))

    def choices_shape(self, input_shape):
        """The shape of the keep/drop choices, broadcast over the inputs: one per input here."""
        return input_shape

    def get_config(self):
        """See `Layer.get_config`."""
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


class SpatialDropout1D(Dropout):
    """Dropout of whole channels: in training, each channel of each sequence is zeroed at every
    step with probability `rate` (survivors scaled by 1 / (1 - rate)); at inference it does nothing.

    Neighbouring steps of a convolution's output are alike, so dropping single values barely
    regularises; dropping a channel everywhere does. A mask passes through unchanged.

    Args:
        rate: the fraction of channels to drop, in [0, 1).
        seed: None (the shared generator) or an int seeding the layer's own generator.
        name: the layer's name.
        dtype: the dtype array-like inputs are converted to.
    """

    min_ndim = max_ndim = 3
    input_layout = "(batch, steps, channels)"

    def choices_shape(self, input_shape):
        """(batch, 1, channels): one choice per channel, the same at every step."""
        return (input_shape[0], 1, input_shape[2])

