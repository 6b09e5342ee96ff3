"""Helpers for the fused steps: activations applied in place, and their slopes.

A slope is written in terms of the activation's output y, which the forward pass keeps anyway
(σ' = y (1 - y), tanh' = 1 - y²), so the backward pass needs no pre-activation values. Softmax,
which mixes the units of a row, has a backward function instead of a slope.
"""

from __future__ import annotations

import numpy as np

from .. import activations


def sigmoid_inplace(z):
    """Overwrite z with σ(z) = 1 / (1 + e^-z), the formula of `ops.sigmoid` (an overflow of e^-z
    gives the right limit, 0, and is not reported)."""
    np.negative(z, out=z)
    with np.errstate(over="ignore"):
        np.exp(z, out=z)
    z += 1.0
    np.reciprocal(z, out=z)


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


def hard_sigmoid_inplace(z):
    """Overwrite z with Keras's hard sigmoid, clip(z + 3, 0, 6) / 6."""
    z += 3.0
    np.clip(z, 0.0, 6.0, out=z)
    z /= 6.0


def hard_sigmoid_slope(y, out):
    """hard_sigmoid'(z) from its output y: 1/6 where 0 < y < 1 (the linear part), else 0."""
    np.greater(y, 0, out=out)
    out *= y < 1
    out /= 6.0


def softmax_inplace(z):
    """Overwrite z with its softmax over the last axis, after subtracting each row's maximum (so
    that exp cannot overflow; the result is the same)."""
    z -= z.max(axis=-1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=-1, keepdims=True)


def softmax_backward(y, d_y, out):
    """dz from dy and y = softmax(z): y · (dy - Σ dy · y), the Jacobian diag(y) - y yᵀ applied
    to dy (softmax mixes the units of a row, so it has no element-wise slope)."""
    np.multiply(d_y, y, out=out)
    total = out.sum(axis=-1, keepdims=True)
    np.subtract(d_y, total, out=out)
    out *= y


def elementwise_backward(slope):
    """The backward function of an element-wise activation: dz = dy · slope, the slope from y."""
    def backward(y, d_y, out):
        slope(y, out)
        out *= d_y
    return backward


# The element-wise activations the fused kernels know: (apply in place, slope from the output).
ELEMENTWISE_ACTIVATIONS = {
    activations.tanh: (lambda z: np.tanh(z, out=z), tanh_slope),
    activations.sigmoid: (sigmoid_inplace, sigmoid_slope),
    activations.relu: (lambda z: np.maximum(z, 0, out=z), relu_slope),
    activations.linear: (lambda z: None, linear_slope),
    activations.hard_sigmoid: (hard_sigmoid_inplace, hard_sigmoid_slope),
}

# Activations a fused SimpleRNN can use: (apply in place, backward(y, dy, out) writing dz from the
# activation's output y and its gradient dy). The gated cells use the element-wise ones only.
FUSED_ACTIVATIONS = {
    **{activation: (apply, elementwise_backward(slope))
       for activation, (apply, slope) in ELEMENTWISE_ACTIVATIONS.items()},
    activations.softmax: (softmax_inplace, softmax_backward),
}
