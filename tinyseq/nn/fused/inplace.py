"""Element-wise helpers for the fused steps: activations applied in place, and their slopes.

A slope is written in terms of the activation's output y, which the forward pass keeps anyway
(σ' = y (1 - y), tanh' = 1 - y²), so the backward pass needs no pre-activation values.
"""

from __future__ import annotations

import numpy as np

from .. import activations


def sigmoid_inplace(z):
    """Overwrite z with σ(z) = (1 + tanh(z / 2)) / 2, which cannot overflow (1 / (1 + e^-z) does
    for very negative z).

    Unlike `ops.sigmoid` (which keeps the relative precision of tiny values such as σ(-50)), this
    form needs no temporary array; its absolute error, below 1e-16, is all a gate needs.
    """
    z *= 0.5
    np.tanh(z, out=z)
    z += 1.0
    z *= 0.5


def sigmoid_slope(y, out):
    """σ'(z) from y = σ(z): y (1 - y)."""
    np.subtract(1.0, y, out=out)
    out *= y


def tanh_slope(y, out):
    """tanh'(z) from y = tanh(z): 1 - y²."""
    np.multiply(y, y, out=out)
    np.subtract(1.0, out, out=out)


def relu_slope(y, out):
    """relu'(z) from y = relu(z): 1 where y > 0, else 0."""
    np.greater(y, 0, out=out)


def linear_slope(y, out):
    """The identity's slope: 1."""
    out.fill(1.0)


# Activations a fused SimpleRNN can use: (apply in place, slope from the activation's output).
FUSED_ACTIVATIONS = {
    activations.tanh: (lambda z: np.tanh(z, out=z), tanh_slope),
    activations.sigmoid: (sigmoid_inplace, sigmoid_slope),
    activations.relu: (lambda z: np.maximum(z, 0, out=z), relu_slope),
    activations.linear: (lambda z: None, linear_slope),
}
