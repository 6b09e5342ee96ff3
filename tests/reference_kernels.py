"""Recurrent layers forward and backward through time in plain numpy, written the obvious way.

A reference for the fused kernels (tests/test_fused.py) that shares no code and no tricks with
them: Keras's weight layout with the gates side by side in each row (LSTM i, f, c, o; GRU z, r,
h), one loop over time forward and one back, fresh arrays at every step. The weight gradients
are sums over the steps, taken as one matrix product over all of them at the end.
benchmarks/fused_numpy_lstm.py trains its hand-written model with the LSTM below.

Masking as Keras: at a padding step the states carry over; the output at every step is the
hidden state, except that before a sequence's first real step it is zero.

    outputs, final_states, tape = forward(LSTMStep(), x, kernel, recurrent_kernel, bias, states, mask)
    d_x, d_kernel, d_recurrent_kernel, d_bias, d_states = backward(tape, d_outputs, d_final_states)
"""

import numpy as np


def sigmoid(z):
    """σ(z) without overflow warnings: (1 + tanh(z / 2)) / 2."""
    return 0.5 * (1.0 + np.tanh(0.5 * z))


# ---- one step per cell: forward from the two pre-activations, backward to them ----------------
# forward(a, q, states) gets a = x W + b and q = h U (+ the GRU's recurrent bias) and returns
# (new states, what backward needs). backward(saved, d_new_states) returns (da, dq, the
# gradients of the previous states *except* through q, which `backward` below adds).

# An activation and its slope written from its output y.
ACTIVATIONS = {
    "tanh": (np.tanh, lambda y: 1 - y * y),
    "sigmoid": (sigmoid, lambda y: y * (1 - y)),
    "relu": (lambda z: np.maximum(z, 0), lambda y: (y > 0).astype(y.dtype)),
    "linear": (lambda z: z, np.ones_like),
}


class SimpleRNNStep:
    """h' = φ(a + q)."""

    has_recurrent_bias = False

    def __init__(self, activation="tanh"):
        self.activation, self.slope = ACTIVATIONS[activation]

    def forward(self, a, q, states):
        h_new = self.activation(a + q)
        return [h_new], h_new

    def backward(self, h_new, d_states):
        (d_h_new,) = d_states
        dz = d_h_new * self.slope(h_new)
        return dz, dz, [0.0]


class LSTMStep:
    """z = a + q split into i, f, c, o; c' = σ(f) c + σ(i) tanh(c); h' = σ(o) tanh(c')."""

    has_recurrent_bias = False

    def forward(self, a, q, states):
        _, c = states
        z_i, z_f, z_c, z_o = np.split(a + q, 4, axis=1)
        i, f, g, o = sigmoid(z_i), sigmoid(z_f), np.tanh(z_c), sigmoid(z_o)
        c_new = f * c + i * g
        tanh_c_new = np.tanh(c_new)
        return [o * tanh_c_new, c_new], (c, i, f, g, o, tanh_c_new)

    def backward(self, saved, d_states):
        c, i, f, g, o, tanh_c_new = saved
        d_h_new, d_c_new = d_states
        d_c_new = d_c_new + d_h_new * o * (1 - tanh_c_new ** 2)
        dz = np.concatenate([d_c_new * g * i * (1 - i), d_c_new * c * f * (1 - f),
                             d_c_new * i * (1 - g * g), d_h_new * tanh_c_new * o * (1 - o)], axis=1)
        return dz, dz, [0.0, d_c_new * f]


class GRUStep:
    """Keras's reset_after GRU: a and q split into z, r, h;
    h' = σ(z) h + (1 - σ(z)) tanh(a_h + σ(r) q_h)."""

    has_recurrent_bias = True

    def forward(self, a, q, states):
        (h,) = states
        a_z, a_r, a_h = np.split(a, 3, axis=1)
        q_z, q_r, q_h = np.split(q, 3, axis=1)
        z, r = sigmoid(a_z + q_z), sigmoid(a_r + q_r)
        candidate = np.tanh(a_h + r * q_h)
        return [z * h + (1 - z) * candidate], (h, z, r, candidate, q_h)

    def backward(self, saved, d_states):
        h, z, r, candidate, q_h = saved
        (d_h_new,) = d_states
        d_a_z = d_h_new * (h - candidate) * z * (1 - z)
        d_a_h = d_h_new * (1 - z) * (1 - candidate ** 2)
        d_a_r = d_a_h * q_h * r * (1 - r)
        da = np.concatenate([d_a_z, d_a_r, d_a_h], axis=1)
        dq = np.concatenate([d_a_z, d_a_r, d_a_h * r], axis=1)
        return da, dq, [d_h_new * z]


STEPS = {"simple_rnn": SimpleRNNStep, "lstm": LSTMStep, "gru": GRUStep}


# ---- the loop over time ------------------------------------------------------------------------
def forward(step, x, kernel, recurrent_kernel, bias, states, mask=None):
    """Run `step` over x from the first step to the last.

    Args:
        step: a SimpleRNNStep, LSTMStep or GRUStep.
        x: (batch, timesteps, features).
        kernel, recurrent_kernel, bias: the weights in Keras's layout (the GRU's bias has two
            rows: input, recurrent).
        states: the initial states, a list of (batch, units) arrays.
        mask: optional (batch, timesteps) booleans, True at real steps.

    Returns:
        (outputs (batch, timesteps, units), final states, tape for `backward`).
    """
    input_bias, recurrent_bias = (bias[0], bias[1]) if step.has_recurrent_bias else (bias, None)
    x = x.transpose(1, 0, 2)  # time-major
    timesteps, batch, _ = x.shape
    units = recurrent_kernel.shape[0]
    projected = x @ kernel + input_bias  # a = x W + b for all steps at once
    real = None if mask is None else mask.T[:, :, None]  # (timesteps, batch, 1)
    hidden = np.empty((timesteps + 1, batch, units), x.dtype)  # hidden[t] enters step t
    hidden[0] = states[0]
    saved = []
    for t in range(timesteps):
        q = states[0] @ recurrent_kernel
        if recurrent_bias is not None:
            q = q + recurrent_bias
        new_states, saved_t = step.forward(projected[t], q, states)
        saved.append(saved_t)
        if real is not None:  # padding carries the states over
            new_states = [np.where(real[t], new, old) for new, old in zip(new_states, states)]
        states = new_states
        hidden[t + 1] = states[0]
    outputs = hidden[1:]
    if real is not None:  # zero before a sequence's first real step
        outputs = np.where(np.logical_or.accumulate(real, axis=0), outputs, 0)
    tape = (step, x, kernel, recurrent_kernel, recurrent_bias is not None, real, hidden, saved)
    return outputs.transpose(1, 0, 2), states, tape


def backward(tape, d_outputs, d_final_states):
    """Backpropagation through time for `forward`.

    Args:
        tape: what `forward` returned last.
        d_outputs: the gradient of the outputs, (batch, timesteps, units), or None for zero.
        d_final_states: the gradients of the final states, a list of (batch, units) arrays.

    Returns:
        (d_x, d_kernel, d_recurrent_kernel, d_bias, gradients of the initial states).
    """
    step, x, kernel, recurrent_kernel, has_recurrent_bias, real, hidden, saved = tape
    timesteps, batch, features = x.shape
    if d_outputs is not None:
        d_outputs = d_outputs.transpose(1, 0, 2)
        if real is not None:
            d_outputs = np.where(np.logical_or.accumulate(real, axis=0), d_outputs, 0)
    d_states = list(d_final_states)
    d_a = np.empty((timesteps, batch, kernel.shape[1]), x.dtype)
    d_q = np.empty_like(d_a)
    for t in reversed(range(timesteps)):
        if d_outputs is not None:
            d_states[0] = d_states[0] + d_outputs[t]
        if real is None:
            into_step, carried = d_states, [0.0] * len(d_states)
        else:  # real rows send the gradient into the step; padding rows straight to s_{t-1}
            into_step = [np.where(real[t], d, 0) for d in d_states]
            carried = [np.where(real[t], 0, d) for d in d_states]
        d_a[t], d_q[t], direct = step.backward(saved[t], into_step)
        d_states = [d + carry for d, carry in zip(direct, carried)]
        d_states[0] = d_states[0] + d_q[t] @ recurrent_kernel.T

    flat_d_a = d_a.reshape(timesteps * batch, -1)
    flat_d_q = d_q.reshape(timesteps * batch, -1)
    d_kernel = x.reshape(-1, features).T @ flat_d_a
    d_recurrent_kernel = hidden[:-1].reshape(timesteps * batch, -1).T @ flat_d_q
    d_bias = flat_d_a.sum(axis=0)
    if has_recurrent_bias:
        d_bias = np.stack([d_bias, flat_d_q.sum(axis=0)])
    d_x = (d_a @ kernel.T).transpose(1, 0, 2)
    return d_x, d_kernel, d_recurrent_kernel, d_bias, d_states
