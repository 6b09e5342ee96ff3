"""Weight initialisers, with Keras's defaults and formulas.

An initialiser is any function `initializer(shape, dtype) -> numpy array`. Every random one draws
from the shared generator in `tinyseq.random`, so `tinyseq.random.seed(s)` makes a model's
initial weights identical run after run. Layers accept an initialiser by name ("glorot_uniform")
or as a callable; `get` turns either into a callable and `serialize` turns a built-in one back
into its name (for `get_config`).
"""

from __future__ import annotations

import math

import numpy as np

from .. import random
from ..registry import Registry


def zeros(shape, dtype):
    """All zeros (Keras's default for biases)."""
    return np.zeros(shape, dtype=dtype)


def ones(shape, dtype):
    """All ones (used for the LSTM forget-gate bias when `unit_forget_bias=True`)."""
    return np.ones(shape, dtype=dtype)


def random_uniform(shape, dtype, minval=-0.05, maxval=0.05):
    """Uniform on [minval, maxval); Keras's "uniform", the default for embeddings."""
    return random.generator().uniform(minval, maxval, size=shape).astype(dtype)


def random_normal(shape, dtype, mean=0.0, stddev=0.05):
    """Gaussian N(mean, stddev^2); Keras's "random_normal" (an IRNN's input kernel uses stddev 0.001)."""
    return random.generator().normal(mean, stddev, size=shape).astype(dtype)


def identity(shape, dtype, gain=1.0):
    """`gain` times the identity matrix, for a square recurrent kernel (the IRNN's).

    Le, Jaitly & Hinton (2015): with ReLU units, an identity recurrent kernel and zero biases,
    the state is copied unchanged from step to step at the start, and so is the gradient.
    """
    if len(shape) != 2 or shape[0] != shape[1]:
        raise ValueError(f"identity: the shape must be a square matrix (n, n), got {tuple(shape)}")
    return (gain * np.eye(shape[0])).astype(dtype)


def compute_fans(shape):
    """Keras's (fan_in, fan_out) of a weight shape.

    A (inputs, outputs) matrix has fan_in = inputs and fan_out = outputs; a vector counts its
    length as both; higher-rank (convolution) kernels multiply both by the receptive field.
    """
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive_field = math.prod(shape[:-2])
    return shape[-2] * receptive_field, shape[-1] * receptive_field


def glorot_uniform(shape, dtype):
    """Glorot (Xavier) uniform: U(-limit, limit) with limit = sqrt(6 / (fan_in + fan_out)).

    Keras writes it as variance scaling with scale 1 over the average fan, which is the same
    limit; the `max(1, ...)` guards against empty shapes exactly as Keras does.
    """
    fan_in, fan_out = compute_fans(shape)
    limit = math.sqrt(3.0 / max(1.0, (fan_in + fan_out) / 2.0))
    return random.generator().uniform(-limit, limit, size=shape).astype(dtype)


def orthogonal(shape, dtype, gain=1.0):
    """A random orthogonal matrix (Keras's QR algorithm), the default for recurrent kernels.

    Orthogonal recurrent weights neither grow nor shrink the hidden state when it is multiplied
    by them, which helps gradients survive many time steps. The recipe: QR-factorise a Gaussian
    matrix of the flattened shape (taller than wide), flip the signs of Q's columns so R's
    diagonal is positive (making Q uniformly distributed), and transpose if the shape is wide.
    """
    if len(shape) < 2:
        raise ValueError(f"orthogonal: the shape must have at least 2 dimensions, got {shape}")
    num_rows, num_cols = math.prod(shape[:-1]), shape[-1]
    gaussian = random.generator().standard_normal((max(num_rows, num_cols), min(num_rows, num_cols)))
    q, r = np.linalg.qr(gaussian)
    q *= np.sign(np.diag(r))
    if num_rows < num_cols:
        q = q.T
    return (gain * q.reshape(shape)).astype(dtype)


_REGISTRY = Registry("initializer", {
    "zeros": zeros,
    "ones": ones,
    "random_uniform": random_uniform,
    "uniform": random_uniform,
    "random_normal": random_normal,
    "normal": random_normal,
    "identity": identity,
    "glorot_uniform": glorot_uniform,
    "orthogonal": orthogonal,
}, "a callable initializer(shape, dtype)")
get = _REGISTRY.get
serialize = _REGISTRY.name_of
