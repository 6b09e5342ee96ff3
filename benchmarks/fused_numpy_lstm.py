"""The seed model written by hand in numpy: a peer for `imdb_epoch.py`, not part of tinyseq.

Embedding(5000, 32) -> LSTM(100) -> Dense(1, sigmoid), binary cross-entropy, Adam. The LSTM's
forward and backward through time are the plain numpy kernels the fused kernels are tested
against (tests/reference_kernels.py), written as one would by hand: the input projection for
all steps in one matrix product, the loop over time with the gates side by side in each row
(Keras's layout, i | f | c | o), the per-step gate gradients stored and the weight gradients
summed by big matrix products at the end. It shares no code with tinyseq, so it measures what a
careful hand-written loop costs, with none of tinyseq's machinery (graph, layers, optimizers)
and none of its layout tricks.

    python benchmarks/fused_numpy_lstm.py     # checks the gradients against finite differences
"""

import os
import sys

import numpy as np

# The LSTM kernel lives beside the tests that check the fused kernels against it.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "tests"))
import reference_kernels


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
        x = w["embeddings"][ids]                                  # (B, T, E)
        zeros = np.zeros((len(ids), self.units), x.dtype)
        _, (hidden, _), tape = reference_kernels.forward(reference_kernels.LSTMStep(), x, w["kernel"],
                                                         w["recurrent_kernel"], w["bias"], [zeros, zeros])

        logits = hidden @ w["dense_kernel"] + w["dense_bias"]
        probability = reference_kernels.sigmoid(logits)[:, 0]
        eps = 1e-7
        clipped = np.clip(probability, eps, 1 - eps)
        loss = -np.mean(labels * np.log(clipped) + (1 - labels) * np.log(1 - clipped))

        d_logits = ((probability - labels) / len(ids))[:, None].astype(x.dtype)
        grads = {"dense_kernel": hidden.T @ d_logits, "dense_bias": d_logits.sum(axis=0)}
        d_hidden = d_logits @ w["dense_kernel"].T
        d_x, grads["kernel"], grads["recurrent_kernel"], grads["bias"], _ = reference_kernels.backward(
            tape, None, [d_hidden, zeros])
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
