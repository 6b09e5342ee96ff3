"""Per-op overhead of the engine, beside PyTorch CPU measured in the same run.

A chain of 200 element-wise multiplies on 4-element tensors, then one backward: the time per
op is dominated by the framework's bookkeeping, not by arithmetic. Also times the backward of
a 1,000,000-op chain (the depth of a long unrolled RNN, far past Python's recursion limit).

    python benchmarks/op_overhead.py [--repeats 300]
"""

import argparse
import platform
import time

import numpy as np

import tinyseq as ts

CHAIN = 200


def best_time(step, repeats):
    """The fastest of `repeats` runs (the least disturbed by the rest of the machine)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        best = min(best, time.perf_counter() - start)
    return best


def autograd_chain(x, w):
    """One timed step: CHAIN multiplies by w, then backward (the same code for both frameworks)."""
    def step():
        y = x
        for _ in range(CHAIN):
            y = y * w
        y.sum().backward()
    return step


def numpy_chain():
    x, w = np.full(4, 0.5, dtype=np.float32), np.full(4, 1.001, dtype=np.float32)

    def step():
        y = x
        for _ in range(CHAIN):
            y = y * w
    return step


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=300)
    parser.add_argument("--deep", type=int, default=1_000_000, help="length of the deep chain")
    args = parser.parse_args()

    print(f"machine: {platform.processor() or platform.machine()}, {platform.python_implementation()} "
          f"{platform.python_version()}, numpy {np.__version__}")
    x = ts.tensor(np.full(4, 0.5, dtype=np.float32), requires_grad=True)
    w = ts.tensor(np.full(4, 1.001, dtype=np.float32), requires_grad=True)
    per_op = {"tinyseq": best_time(autograd_chain(x, w), args.repeats) / CHAIN}
    try:
        import torch
        torch.set_num_threads(1)
        x, w = torch.full((4,), 0.5, requires_grad=True), torch.full((4,), 1.001, requires_grad=True)
        per_op[f"torch {torch.__version__}"] = best_time(autograd_chain(x, w), args.repeats) / CHAIN
    except ImportError:
        print("(PyTorch is not installed: pip install torch==2.13.0 for the side-by-side figure)")
    per_op["numpy multiply alone (no autograd)"] = best_time(numpy_chain(), args.repeats) / CHAIN

    print(f"\nchain of {CHAIN} multiplies on 4 elements + backward, best of {args.repeats}:")
    for name, seconds in per_op.items():
        print(f"  {name:38s} {seconds * 1e6:6.2f} us/op")
    torch_name = next((name for name in per_op if name.startswith("torch")), None)
    if torch_name:
        print(f"  ratio tinyseq / {torch_name}: {per_op['tinyseq'] / per_op[torch_name]:.2f}")

    x, w = ts.tensor(2.0, requires_grad=True), ts.tensor(1.0, requires_grad=True)
    start = time.perf_counter()
    y = x
    for _ in range(args.deep):
        y = y * w
    forward = time.perf_counter() - start
    start = time.perf_counter()
    y.backward()
    backward = time.perf_counter() - start
    print(f"\n{args.deep:,}-op chain: forward {forward:.2f} s, backward {backward:.2f} s "
          f"({backward / args.deep * 1e6:.2f} us/op); dy/dw = {w.grad} (exact: {2 * args.deep})")


if __name__ == "__main__":
    main()
