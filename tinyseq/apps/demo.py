"""`tinyseq demo`: a one-minute demo of the engine alone, a tiny network learning XOR.

Everything here is primitive ops and `backward()`: no layers, no optimizer object.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import ops
from ..tensor import no_grad, tensor
from .arguments import at_least, positive_int, runs

INPUTS = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
TARGETS = np.array([[0], [1], [1], [0]], dtype=np.float32)


@dataclass
class DemoResult:
    """What the demo learned: the loss before and after, and its predictions for each input."""
    first_loss: float
    final_loss: float
    predictions: np.ndarray


def train_xor(steps=500, hidden=8, learning_rate=0.5, seed=0, report=print):
    """Train a 2-`hidden`-1 tanh/sigmoid network on XOR with plain gradient descent.

    Args:
        steps: gradient steps over the four examples.
        hidden: hidden units.
        learning_rate: step size.
        seed: seeds the initial weights, so the run repeats exactly.
        report: called with a progress line every 100 steps (None for silence).

    Returns:
        A DemoResult.
    """
    if steps < 1:
        raise ValueError(f"train_xor: steps must be at least 1, got {steps}")
    rng = np.random.default_rng(seed)
    w1 = tensor(rng.normal(0, 1, (2, hidden)).astype(np.float32), requires_grad=True)
    b1 = tensor(np.zeros(hidden, np.float32), requires_grad=True)
    w2 = tensor(rng.normal(0, 1, (hidden, 1)).astype(np.float32), requires_grad=True)
    b2 = tensor(np.zeros(1, np.float32), requires_grad=True)
    x, y = tensor(INPUTS), tensor(TARGETS)

    def predict():
        return ops.sigmoid(ops.tanh(x @ w1 + b1) @ w2 + b2)

    losses = []
    for step in range(steps):
        loss = ((predict() - y) ** 2).mean()
        loss.backward()
        with no_grad():
            for p in (w1, b1, w2, b2):
                p.data -= learning_rate * p.grad
                p.grad = None
        losses.append(loss.item())
        if report and (step + 1) % 100 == 0:
            report(f"step {step + 1:4d}  mean squared error {losses[-1]:.5f}")
    with no_grad():
        predictions = predict().numpy()[:, 0]
    if report:
        for inputs, target, prediction in zip(INPUTS, TARGETS[:, 0], predictions):
            report(f"xor{tuple(int(v) for v in inputs)} = {int(target)}   predicted {prediction:.3f}")
    return DemoResult(losses[0], losses[-1], predictions)


def add_demo_parser(commands):
    """Add the `demo` command to `commands` (what `ArgumentParser.add_subparsers()` returned)."""
    parser = commands.add_parser("demo", help="train a tiny network on XOR with the bare engine",
                                 description="Train a 2-8-1 network on XOR with nothing but tensors, primitive "
                                             "ops and backward(), printing the error every 100 steps.")
    parser.add_argument("--steps", type=positive_int, default=500, metavar="N",
                        help="gradient steps (default %(default)s)")
    parser.add_argument("--seed", type=at_least(0), default=0, metavar="N",
                        help="seeds the initial weights, so a run repeats exactly (default %(default)s)")
    return runs(parser, run_demo)


def run_demo(args):
    """Run `tinyseq demo` with parsed arguments; returns the exit status, 0."""
    print("Training a 2-8-1 network on XOR with tinyseq's autograd (primitive ops + backward):")
    train_xor(steps=args.steps, seed=args.seed)
    return 0
