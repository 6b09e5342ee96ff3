"""Where the cells path's time goes: one training step of the seed model, its LSTM built from
primitive ops (`implementation="cells"`), profiled with cProfile and grouped by kind of work.

    python benchmarks/cells_profile.py [--cell lstm|gru|rnn] [--batch 128] [--steps 500]

The step runs as `fit` runs it (numpy's BLAS on one thread, see `tinyseq.threads`); the
batch is random ids, which cost the same as reviews of 500 words. cProfile adds its own
overhead to every Python call, so the engine's share comes out somewhat high; the first line
gives the step's time without the profiler.
"""

from __future__ import annotations

import argparse
import cProfile
import platform
import pstats
import time

import numpy as np

import tinyseq
from tinyseq.layers import GRU, LSTM, Dense, Embedding, SimpleRNN
from tinyseq.models import Sequential

CELLS = {"lstm": LSTM, "gru": GRU, "rnn": SimpleRNN}
ELEMENT_WISE = {"add", "sub", "mul", "div", "neg", "_where", "getitem", "_concat", "_stack", "split"}
ENGINE_FILES = ("tinyseq/tensor.py",)
ENGINE_FUNCTIONS = {"op", "_lift", "make_node", "<genexpr>", "<listcomp>"}


def kind_of_work(place):
    """The group a profiled function's own time belongs to, from its file and name."""
    file, _, name = place
    in_ops = file.endswith("tinyseq/ops.py")
    if in_ops and name == "matmul":
        return "matrix products, forward"
    if in_ops and name == "backward":  # matmul's backward: the two gradient products
        return "matrix products, backward"
    if in_ops and name in ("sigmoid", "tanh", "exp"):
        return "sigmoid and tanh, forward"
    if in_ops and name == "<lambda>":
        return "element-wise backward closures"
    if in_ops and name in ELEMENT_WISE:
        return "other element-wise ops, forward"
    if (in_ops and name in ("add_into", "scatter_add_rows")) or name == "zeros_like":
        return "gradients of slices and embeddings into buffers"
    if file.endswith(ENGINE_FILES) or (in_ops and name in ENGINE_FUNCTIONS):
        return "engine bookkeeping (op wrapper, nodes, graph walk, gradient sums)"
    if file.startswith("~") or "{built-in" in name or "method" in name:
        return "Python built-ins (dict, set, list, isinstance, ...)"
    if "tinyseq/optimizers.py" in file:
        return "optimizer"
    return "the rest (layers, cells, losses, numpy's Python functions)"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cell", choices=CELLS, default="lstm")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=500)
    args = parser.parse_args()

    tinyseq.random.seed(0)
    rng = np.random.default_rng(0)
    ids = rng.integers(1, 5000, (args.batch, args.steps))
    labels = rng.integers(0, 2, args.batch).astype(np.float32)
    model = Sequential([Embedding(5000, 32), CELLS[args.cell](100, implementation="cells"),
                        Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer="adam")
    model.train_step(ids, labels)  # builds the model and warms up
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        model.train_step(ids, labels)
        best = min(best, time.perf_counter() - start)
    print(f"machine: {platform.machine()}, Python {platform.python_version()}, numpy {np.__version__}")
    print(f"{args.cell} cells, batch {args.batch} x {args.steps} steps: {best:.3f} s a training step "
          f"(best of 3, no profiler)")

    profile = cProfile.Profile()
    profile.enable()
    model.train_step(ids, labels)
    profile.disable()
    groups = {}
    for place, (_, _, own_time, _, _) in pstats.Stats(profile).stats.items():
        groups[kind_of_work(place)] = groups.get(kind_of_work(place), 0.0) + own_time
    total = sum(groups.values())
    print(f"profiled: {total:.3f} s, by kind of work (own time of each function):")
    for group, seconds in sorted(groups.items(), key=lambda item: -item[1]):
        print(f"  {seconds / total:6.1%} {seconds:7.3f} s  {group}")


if __name__ == "__main__":
    main()
