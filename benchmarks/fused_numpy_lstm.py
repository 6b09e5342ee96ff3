"""The seed IMDB model written by hand in numpy: a peer for `imdb_epoch.py`, not part of tinyseq.

Embedding(5000, 32) -> LSTM(100) -> Dense(1, sigmoid), binary cross-entropy, Adam, with the
LSTM's forward and backward through time written out as one would by hand: the input projection
for all steps in one matrix product, the loop over time with the gates side by side in each row
(Keras's layout, i | f | c | o), the per-step gate gradients stored and the weight gradients
summed by big matrix products at the end. It shares no code with tinyseq, so it measures what a
careful hand-written loop costs, with none of tinyseq's machinery (graph, layers, optimizers)
and none of its layout tricks.

    python benchmarks/fused_numpy_lstm.py     # checks the gradients against finite differences
"""

import numpy as np


def sigmoid(z):
    """σ(z) without overflow warnings: (1 + tanh(z / 2)) / 2."""
    return 0.5 * (1.0 + np.tanh(0.5 * z))


class HandWrittenSeedModel:
    """The seed model's weights (Keras's initialisers) and one Adam training step on a batch.

    Args:
        vocabulary, embedding_size, units: the layer sizes.
        seed: seeds the initial weights.
        dtype: the floating-point type of everything.
    """

    def __init__(self, vocabulary=5000, embedding_size=32, units=100, seed=0, dtype=np.float32):
        rng = np.random.default_rng(seed)

        def glorot(rows, cols):
            limit = np.sqrt(6.0 / (rows + cols))
            return rng.uniform(-limit, limit, (rows, cols))

        q, r = np.linalg.qr(rng.standard_normal((4 * units, units)))
        bias = np.zeros(4 * units)
        bias[units:2 * units] = 1.0  # unit forget bias
        self.weights = {
            "embeddings": rng.uniform(-0.05, 0.05, (vocabulary, embedding_size)),
            "kernel": glorot(embedding_size, 4 * units),
            "recurrent_kernel": (q * np.sign(np.diag(r))).T,
            "bias": bias,
            "dense_kernel": glorot(units, 1),
            "dense_bias": np.zeros(1),
        }
        self.weights = {name: w.astype(dtype) for name, w in self.weights.items()}
        self.moments = {name: (np.zeros_like(w), np.zeros_like(w)) for name, w in self.weights.items()}
        self.iterations = 0
        self.units = units

    def loss_and_gradients(self, ids, labels):
        """Forward and backward on one batch: return (mean binary cross-entropy, gradients)."""
        w = self.weights
        batch, timesteps = ids.shape
        units = self.units
        x = w["embeddings"][ids].transpose(1, 0, 2)              # (T, B, E), time-major
        projected = x @ w["kernel"] + w["bias"]                   # (T, B, 4U), all steps at once

        hidden = np.zeros((timesteps + 1, batch, units), x.dtype)
        cell = np.zeros((timesteps + 1, batch, units), x.dtype)
        gates = np.empty_like(projected)
        tanh_cell = np.empty((timesteps, batch, units), x.dtype)
        for t in range(timesteps):
            z = projected[t] + hidden[t] @ w["recurrent_kernel"]
            gates[t, :, :2 * units] = sigmoid(z[:, :2 * units])
            gates[t, :, 2 * units:3 * units] = np.tanh(z[:, 2 * units:3 * units])
            gates[t, :, 3 * units:] = sigmoid(z[:, 3 * units:])
            i, f, g, o = np.split(gates[t], 4, axis=1)
            cell[t + 1] = f * cell[t] + i * g
            tanh_cell[t] = np.tanh(cell[t + 1])
            hidden[t + 1] = o * tanh_cell[t]

        logits = hidden[-1] @ w["dense_kernel"] + w["dense_bias"]
        probability = sigmoid(logits)[:, 0]
        eps = 1e-7
        clipped = np.clip(probability, eps, 1 - eps)
        loss = -np.mean(labels * np.log(clipped) + (1 - labels) * np.log(1 - clipped))

        d_logits = ((probability - labels) / batch)[:, None].astype(x.dtype)
        grads = {"dense_kernel": hidden[-1].T @ d_logits, "dense_bias": d_logits.sum(axis=0)}
        d_hidden = d_logits @ w["dense_kernel"].T
        d_cell = np.zeros_like(d_hidden)
        d_gates = np.empty_like(gates)
        for t in reversed(range(timesteps)):
            i, f, g, o = np.split(gates[t], 4, axis=1)
            d_cell = d_cell + d_hidden * o * (1 - tanh_cell[t] ** 2)
            d_gates[t] = np.concatenate([d_cell * g * i * (1 - i), d_cell * cell[t] * f * (1 - f),
                                         d_cell * i * (1 - g * g), d_hidden * tanh_cell[t] * o * (1 - o)],
                                        axis=1)
            d_cell = d_cell * f
            d_hidden = d_gates[t] @ w["recurrent_kernel"].T

        flat_d_gates = d_gates.reshape(timesteps * batch, 4 * units)
        grads["kernel"] = x.reshape(-1, x.shape[2]).T @ flat_d_gates
        grads["recurrent_kernel"] = hidden[:-1].reshape(-1, units).T @ flat_d_gates
        grads["bias"] = flat_d_gates.sum(axis=0)
        d_x = (flat_d_gates @ w["kernel"].T).reshape(timesteps, batch, -1).transpose(1, 0, 2)
        grads["embeddings"] = np.zeros_like(w["embeddings"])
        np.add.at(grads["embeddings"], ids.reshape(-1), d_x.reshape(-1, d_x.shape[2]))
        return loss, grads

    def train_step(self, ids, labels):
        """One Adam step (Keras's defaults) on a batch; return the batch's loss."""
        loss, grads = self.loss_and_gradients(ids, labels)
        self.iterations += 1
        learning_rate, beta_1, beta_2, epsilon = 1e-3, 0.9, 0.999, 1e-7
        step = learning_rate * np.sqrt(1 - beta_2 ** self.iterations) / (1 - beta_1 ** self.iterations)
        for name, weight in self.weights.items():
            m, v = self.moments[name]
            m += (1 - beta_1) * (grads[name] - m)
            v += (1 - beta_2) * (grads[name] ** 2 - v)
            weight -= (step * m / (np.sqrt(v) + epsilon)).astype(weight.dtype)
        return loss


def check_gradients(seed=0):
    """Largest |hand-derived - central difference| over every weight of a small float64 model,
    and the largest gradient, for scale."""
    model = HandWrittenSeedModel(vocabulary=30, embedding_size=3, units=4, dtype=np.float64)
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, 30, (2, 6))
    labels = np.array([0.0, 1.0])
    _, grads = model.loss_and_gradients(ids, labels)
    worst = 0.0
    for name, weight in model.weights.items():
        for index in np.ndindex(weight.shape):
            original = weight[index]
            weight[index] = original + 1e-6
            above, _ = model.loss_and_gradients(ids, labels)
            weight[index] = original - 1e-6
            below, _ = model.loss_and_gradients(ids, labels)
            weight[index] = original
            worst = max(worst, abs((above - below) / 2e-6 - grads[name][index]))
    return worst, max(float(np.abs(g).max()) for g in grads.values())


if __name__ == "__main__":
    difference, scale = check_gradients()
    print(f"largest difference from finite differences: {difference:.1e} (gradients up to {scale:.1e})")
