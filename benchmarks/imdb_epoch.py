"""Seconds per IMDB epoch of the seed model: tinyseq beside its peers, measured in one run.

The model is the Keras walkthrough's: Embedding(5000, 32) -> LSTM(100) -> Dense(1, sigmoid),
Adam, binary cross-entropy, batches of 128 reviews pre-padded to 500 words; an epoch is 196
batches. Every system trains on the same prepared batches:

    tinyseq fused                   LSTM(implementation="fused"), all 500 steps
    tinyseq fused + mask            Embedding(mask_zero=True) on the same shuffled batches: each
                                    review runs from its first word (the kernel skips the padding
                                    before it, row by row)
    tinyseq fused + mask + buckets  the same on batches from fit(bucket_by_length=True)'s order
    tinyseq cells                   LSTM(implementation="cells"): the step built from primitive ops
    numpy, hand-written             benchmarks/fused_numpy_lstm.py: the BPTT loop written by hand
    PyTorch CPU                     nn.LSTM with Keras's initialisers (if torch is installed)
    Keras 3 + TensorFlow            keras.layers.LSTM (if keras and tensorflow are installed)

Each system runs in its own process (so its memory and thread pools are its own), started once
and warmed up. Then, round after round, the processes take turns timing the same N batches, so
a change in the machine's load hits every system alike; each system's best round counts. For
the bucketed system the N batches are spread evenly over the epoch's range of lengths, since
its batches differ in cost. s/epoch = seconds per batch × 196.

    python benchmarks/imdb_epoch.py [--batches 10] [--rounds 3] [--threads 2] [--data PATH]
                                    [--openblas-coretype SkylakeX]

Peak memory is each process's peak resident set size: the data, the libraries and training.

numpy's BLAS matters: tinyseq and the hand-written loop run their matrix products in numpy's
OpenBLAS, which picks its kernels for the processor it recognises. A processor newer than the
OpenBLAS build (e.g. AMD Zen 5 with OpenBLAS 0.3.31) gets the generic AVX2 "Haswell" kernels,
about half the speed of the AVX-512 ones, while PyTorch (MKL) and TensorFlow (oneDNN) use
AVX-512 anyway. `--openblas-coretype SkylakeX` (the environment variable OPENBLAS_CORETYPE)
selects OpenBLAS's AVX-512 kernels for every numpy system; the script prints which kernels run.
"""

import argparse
import importlib.util
import math
import multiprocessing
import os
import platform
import resource
import sys
import tempfile
import time

import numpy as np

BATCH_SIZE, MAXLEN, NUM_WORDS, EMBEDDING_SIZE, UNITS = 128, 500, 5000, 32, 100
TRAIN_SAMPLES = 25_000
BATCHES_PER_EPOCH = math.ceil(TRAIN_SAMPLES / BATCH_SIZE)

SYSTEMS = {
    "tinyseq fused": "tinyseq_fused",
    "tinyseq fused + mask": "tinyseq_masked",
    "tinyseq fused + mask + buckets": "tinyseq_bucketed",
    "tinyseq cells": "tinyseq_cells",
    "numpy, hand-written": "numpy",
    "PyTorch CPU": "torch",
    "Keras 3 + TensorFlow": "keras",
}


# ---- the systems: each returns train_batch(ids, labels) ------------------------------------------
def tinyseq_trainer(implementation="fused", masked=False):
    """The seed model in tinyseq; `masked` adds Embedding(mask_zero=True)."""
    import tinyseq
    from tinyseq.layers import LSTM, Dense, Embedding
    from tinyseq.models import Sequential
    tinyseq.random.seed(0)
    model = Sequential([Embedding(NUM_WORDS, EMBEDDING_SIZE, mask_zero=masked),
                        LSTM(UNITS, implementation=implementation), Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    return model.train_step


def numpy_trainer():
    """The hand-written numpy loop of benchmarks/fused_numpy_lstm.py."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from fused_numpy_lstm import HandWrittenSeedModel
    return HandWrittenSeedModel().train_step


def torch_trainer(threads):
    """nn.LSTM with Keras's initialisers (glorot kernel, orthogonal recurrent kernel, zero
    biases but 1 for the forget gate) and Keras's Adam epsilon."""
    import torch
    torch.set_num_threads(threads)
    torch.manual_seed(0)

    class SeedModel(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = torch.nn.Embedding(NUM_WORDS, EMBEDDING_SIZE)
            self.lstm = torch.nn.LSTM(EMBEDDING_SIZE, UNITS, batch_first=True)
            self.dense = torch.nn.Linear(UNITS, 1)
            torch.nn.init.uniform_(self.embedding.weight, -0.05, 0.05)
            for gate in range(4):  # PyTorch's gate order i, f, g, o is Keras's i, f, c, o
                rows = slice(gate * UNITS, (gate + 1) * UNITS)
                torch.nn.init.orthogonal_(self.lstm.weight_hh_l0.data[rows])
            torch.nn.init.xavier_uniform_(self.lstm.weight_ih_l0)
            torch.nn.init.zeros_(self.lstm.bias_ih_l0)
            torch.nn.init.zeros_(self.lstm.bias_hh_l0)
            self.lstm.bias_ih_l0.data[UNITS:2 * UNITS] = 1.0
            torch.nn.init.xavier_uniform_(self.dense.weight)
            torch.nn.init.zeros_(self.dense.bias)

        def forward(self, ids):
            _, (hidden, _) = self.lstm(self.embedding(ids))
            return torch.sigmoid(self.dense(hidden[-1]))[:, 0]

    model = SeedModel()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    loss_function = torch.nn.BCELoss()

    def train_batch(ids, labels):
        optimizer.zero_grad()
        loss = loss_function(model(torch.from_numpy(ids.astype(np.int64))), torch.from_numpy(labels))
        loss.backward()
        optimizer.step()
        return loss.item()
    return train_batch


def keras_trainer(threads):
    """keras.layers.LSTM on the TensorFlow backend (Keras's own defaults)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ["KERAS_BACKEND"] = "tensorflow"
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    import keras
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((MAXLEN,), dtype="int32"),
                              keras.layers.Embedding(NUM_WORDS, EMBEDDING_SIZE), keras.layers.LSTM(UNITS),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    return lambda ids, labels: model.train_on_batch(ids, labels)


def make_trainer(system, threads):
    """The train_batch function of a system, by its key in SYSTEMS."""
    if system == "tinyseq_fused":
        return tinyseq_trainer("fused")
    if system in ("tinyseq_masked", "tinyseq_bucketed"):
        return tinyseq_trainer("fused", masked=True)
    if system == "tinyseq_cells":
        return tinyseq_trainer("cells")
    if system == "numpy":
        return numpy_trainer()
    if system == "torch":
        return torch_trainer(threads)
    return keras_trainer(threads)


def is_installed(system):
    """Whether the library a peer needs can be imported (tinyseq and numpy always can)."""
    modules = {"torch": ["torch"], "keras": ["keras", "tensorflow"]}.get(system, [])
    return all(importlib.util.find_spec(module) is not None for module in modules)


# ---- one process per system ------------------------------------------------------------------
def serve(system, data_file, threads, connection):
    """In a child process: build the system, warm it up, then time the batches on request."""
    data = np.load(data_file)
    key = "bucketed" if system == "tinyseq_bucketed" else "full"
    batches = list(zip(data[f"{key}_ids"], data[f"{key}_labels"]))
    train_batch = make_trainer(system, threads)
    for ids, labels in batches[:2]:  # compiles Keras's graph, fills caches and buffers
        train_batch(ids, labels)
    connection.send("ready")
    while connection.recv() == "run":
        wall, cpu = time.perf_counter(), time.process_time()
        for ids, labels in batches:
            train_batch(ids, labels)
        connection.send((time.perf_counter() - wall, time.process_time() - cpu,
                         resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024))
    connection.close()


def openblas_kernels():
    """The kernel set numpy's OpenBLAS uses in a fresh process (with this environment)."""
    import subprocess
    probe = ("import ctypes, glob, os, numpy\n"
             "names = ('scipy_openblas_get_corename64_', 'scipy_openblas_get_corename', 'openblas_get_corename')\n"
             "for path in glob.glob(os.path.join(os.path.dirname(numpy.__file__) + '.libs', '*openblas*')):\n"
             "    for name in names:\n"
             "        function = getattr(ctypes.CDLL(path), name, None)\n"
             "        if function:\n"
             "            function.restype = ctypes.c_char_p\n"
             "            print(function().decode())\n"
             "            raise SystemExit\n"
             "print('unknown')\n")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    return result.stdout.strip() or "unknown"


def prepare_batches(batch_count, data_path, data_file):
    """Pick the batches every system trains on and save them to `data_file`.

    full: `batch_count` batches of a seeded shuffle, all 500 steps. bucketed: from the order
    `fit(bucket_by_length=True)` uses (same seed), `batch_count` batches spread evenly from the
    shortest to the longest. Returns the steps a bucketed batch runs on average (over the epoch
    and over the picked batches) and the fraction of the shuffled batches' ids that are words.
    """
    import tinyseq
    from tinyseq.apps.imdb import prepare_data
    from tinyseq.models.sequential import length_bucketed_order, sequence_lengths
    (x, y), _ = prepare_data(NUM_WORDS, MAXLEN, path=data_path)
    y = y.astype(np.float32)
    tinyseq.random.seed(0)
    shuffled = tinyseq.random.generator().permutation(len(x))
    full = [shuffled[i * BATCH_SIZE:(i + 1) * BATCH_SIZE] for i in range(batch_count)]
    order = length_bucketed_order(sequence_lengths(x), BATCH_SIZE)
    epoch = [order[i * BATCH_SIZE:(i + 1) * BATCH_SIZE] for i in range(len(x) // BATCH_SIZE)]
    steps_run = np.array([MAXLEN - np.argmax((x[batch] != 0).any(axis=0)) for batch in epoch])
    by_cost = np.argsort(steps_run)
    picked = by_cost[np.linspace(0, len(epoch) - 1, batch_count).round().astype(int)]
    bucketed = [epoch[i] for i in picked]
    np.savez(data_file, full_ids=np.stack([x[b] for b in full]), full_labels=np.stack([y[b] for b in full]),
             bucketed_ids=np.stack([x[b] for b in bucketed]), bucketed_labels=np.stack([y[b] for b in bucketed]))
    words = np.mean([(x[batch] != 0).mean() for batch in full])
    return steps_run.mean(), steps_run[picked].mean(), words


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=10, help="batches timed per round (default 10)")
    parser.add_argument("--rounds", type=int, default=3, help="timing rounds; the best counts (default 3)")
    parser.add_argument("--threads", type=int, default=os.cpu_count(),
                        help="BLAS / PyTorch / TensorFlow threads for every system (default: all cores)")
    parser.add_argument("--data", default=None, help="the IMDB archive or folder (default: TINYSEQ_DATA or the cache)")
    parser.add_argument("--systems", nargs="+", default=list(SYSTEMS.values()), choices=list(SYSTEMS.values()))
    parser.add_argument("--openblas-coretype", default=None,
                        help="OpenBLAS kernels for the numpy systems, e.g. SkylakeX for AVX-512 "
                             "(default: OpenBLAS's own choice)")
    args = parser.parse_args()

    # Children read these when they import numpy, so every system gets the same thread count.
    for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = str(args.threads)
    if args.openblas_coretype:
        os.environ["OPENBLAS_CORETYPE"] = args.openblas_coretype
    names = {key: name for name, key in SYSTEMS.items()}
    systems = [s for s in args.systems if is_installed(s)]
    for missing in sorted(set(args.systems) - set(systems)):
        print(f"({names[missing]} is not installed: skipped)")

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, numpy {np.__version__}; {args.threads} thread(s) per system; "
          f"numpy's OpenBLAS kernels: {openblas_kernels()}")
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as directory:
        data_file = os.path.join(directory, "batches.npz")
        epoch_steps, picked_steps, words = prepare_batches(args.batches, args.data, data_file)
        print(f"shuffled batches: words fill {words:.0%} of the {BATCH_SIZE} × {MAXLEN} ids (the rest is padding)")
        print(f"bucketed epoch: {epoch_steps:.0f} steps run per batch on average (of {MAXLEN}); "
              f"the {args.batches} timed batches average {picked_steps:.0f}")
        context = multiprocessing.get_context("spawn")
        children = {}
        for system in systems:
            parent_end, child_end = context.Pipe()
            process = context.Process(target=serve, args=(system, data_file, args.threads, child_end))
            process.start()
            children[system] = (process, parent_end)
            parent_end.recv()  # started one at a time: warming up is not timed, but it is not quiet
        times = {system: [] for system in systems}
        peaks = {}
        for round_number in range(args.rounds):
            for system, (_, connection) in children.items():
                connection.send("run")
                wall, cpu, peaks[system] = connection.recv()
                times[system].append(wall / args.batches)
                print(f"  round {round_number + 1}: {names[system]:31s} {wall / args.batches:.3f} s/batch "
                      f"(process CPU {cpu / args.batches:.3f} s)", flush=True)
        for process, connection in children.values():
            connection.send("stop")
            process.join()
    load_after = os.getloadavg()[0]

    per_epoch = {system: min(seconds) * BATCHES_PER_EPOCH for system, seconds in times.items()}
    peers = [s for s in ("torch", "keras", "numpy") if s in per_epoch]
    print(f"\nseconds per epoch ({BATCHES_PER_EPOCH} batches of {BATCH_SIZE}), best of {args.rounds} rounds of "
          f"{args.batches} batches; load average {load_before:.1f} before, {load_after:.1f} after:")
    short_names = {"torch": "x PyTorch", "keras": "x Keras", "numpy": "x numpy"}
    columns = "".join(f" {short_names[p]:>10s}" for p in peers)
    print(f"  {'system':31s} {'s/epoch':>8s} {'spread':>7s}{columns} {'peak memory':>12s}")
    for system, seconds in per_epoch.items():
        spread = max(times[system]) / min(times[system]) - 1
        ratios = "".join(f" {seconds / per_epoch[p]:10.2f}" for p in peers)
        print(f"  {names[system]:31s} {seconds:8.1f} {spread:6.0%}{ratios} {peaks[system] / 2**30:9.2f} GB")
    print("  (spread: how much slower the worst round was than the best; x peer: s/epoch over the peer's)")


if __name__ == "__main__":
    main()
