"""Seconds per IMDB epoch of the seed model with each cell: tinyseq beside its peers, in one run.

The model is the Keras walkthrough's: Embedding(5000, 32) -> LSTM(100) -> Dense(1, sigmoid),
and the same with GRU(100) or SimpleRNN(100) in place of the LSTM; Adam, binary cross-entropy,
batches of 128 reviews pre-padded to 500 words; an epoch is 196 batches. For each cell every
system trains on the same prepared batches:

    tinyseq fused                   the cell's layer with implementation="fused", all 500 steps
    tinyseq cells                   implementation="cells": each step built from primitive ops
    PyTorch CPU                     nn.LSTM, nn.GRU or nn.RNN(tanh) with Keras's initialisers
                                    (if torch is installed)
    Keras 3 + TensorFlow            keras.layers.LSTM, GRU or SimpleRNN (if keras and
                                    tensorflow are installed)

and the LSTM has three more:

    tinyseq fused + mask            Embedding(mask_zero=True) on the same shuffled batches: each
                                    review runs from its first word (the kernel skips the padding
                                    before it, row by row)
    tinyseq fused + mask + buckets  the same on batches from fit(bucket_by_length=True)'s order
    numpy, hand-written             benchmarks/fused_numpy_lstm.py: the BPTT loop written by hand

Thread settings. By default one invocation measures everything twice, each time with fresh
processes (libraries read their thread counts when they are imported):

    default    what a user gets: all cores, every library's own choice. No thread variable is
               set (OPENBLAS_NUM_THREADS, OMP_NUM_THREADS and MKL_NUM_THREADS are removed from
               the children's environment) and tinyseq's, PyTorch's and TensorFlow's thread
               counts are left alone.
    N          N threads per system: the three variables set to N, tinyseq's and PyTorch's
               set_num_threads(N), and TensorFlow's intra- and inter-op pools set to N.

Each system runs in its own process (so its memory and thread pools are its own), started one
at a time and warmed up on 2 batches. Then, round after round, the processes of a setting take
turns timing the same N batches, so a change in the machine's load hits every system alike;
each system's best round counts. For the bucketed system the N batches are spread evenly over
the epoch's range of lengths, since its batches differ in cost. s/epoch = seconds per batch ×
196. A table per setting (defaults first) gives s/epoch for each cell and system, and its ratio
to the PyTorch, Keras and (for the LSTM) hand-written numpy time of the same cell.

    python benchmarks/imdb_epoch.py [--settings default 1] [--cells lstm gru rnn]
                                    [--batches 10] [--rounds 3] [--data PATH] [--systems ...]
                                    [--openblas-coretype SkylakeX] [--json PATH]
    python benchmarks/imdb_epoch.py --threads 2      # one setting: 2 threads per system

Peak memory is each process's peak resident set size: the data, the libraries and training.
CPU/wall is the process's CPU time over the wall time of its best round: about 1 when it runs
on one core, more when its threads share the work.

`--json PATH` writes every measured number: per setting, cell and system the seconds per
epoch, the seconds per batch and process CPU seconds per batch of every round, the peak
memory, the ratios, and the BLAS kernels and thread counts the process ended up with; with the
machine, library versions, load averages and the checkout's git commit. It is rewritten
(atomically) after each setting.

numpy's BLAS matters: tinyseq and the hand-written loop run their matrix products in numpy's
OpenBLAS, which picks its kernels for the processor it recognises. A processor newer than the
OpenBLAS build (e.g. AMD Zen 5 with OpenBLAS 0.3.31) gets the generic AVX2 "Haswell" kernels,
about half the speed of the AVX-512 ones, while PyTorch (MKL) and TensorFlow (oneDNN) use
AVX-512 anyway. `--openblas-coretype SkylakeX` (the environment variable OPENBLAS_CORETYPE)
selects OpenBLAS's AVX-512 kernels for every numpy system; the tables say which kernels ran.
"""

import argparse
import importlib.metadata
import importlib.util
import itertools
import json
import math
import multiprocessing
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

BATCH_SIZE, MAXLEN, NUM_WORDS, EMBEDDING_SIZE, UNITS = 128, 500, 5000, 32, 100
TRAIN_SAMPLES = 25_000
BATCHES_PER_EPOCH = math.ceil(TRAIN_SAMPLES / BATCH_SIZE)
WARM_UP_BATCHES = 2

CELLS = {"lstm": "LSTM", "gru": "GRU", "rnn": "SimpleRNN"}  # the layer's name in tinyseq and Keras
SYSTEMS = {
    "tinyseq_fused": "tinyseq fused",
    "tinyseq_masked": "tinyseq fused + mask",
    "tinyseq_bucketed": "tinyseq fused + mask + buckets",
    "tinyseq_cells": "tinyseq cells",
    "numpy": "numpy, hand-written",
    "torch": "PyTorch CPU",
    "keras": "Keras 3 + TensorFlow",
}
LSTM_ONLY = ("tinyseq_masked", "tinyseq_bucketed", "numpy")
PEERS = {"torch": "x PyTorch", "keras": "x Keras", "numpy": "x numpy"}  # the ratio columns
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


# ---- the systems: each returns train_batch(ids, labels) ------------------------------------------
def tinyseq_trainer(cell, threads, implementation="fused", masked=False):
    """The seed model in tinyseq with `cell`; `masked` adds Embedding(mask_zero=True). `threads`
    None leaves tinyseq's own thread count."""
    import tinyseq
    from tinyseq import layers
    from tinyseq.models import Sequential
    from tinyseq.threads import set_num_threads
    if threads is not None:
        set_num_threads(threads)
    tinyseq.random.seed(0)
    recurrent = getattr(layers, CELLS[cell])
    model = Sequential([layers.Embedding(NUM_WORDS, EMBEDDING_SIZE, mask_zero=masked),
                        recurrent(UNITS, implementation=implementation), layers.Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    return model.train_step


def numpy_trainer():
    """The hand-written numpy loop of benchmarks/fused_numpy_lstm.py (LSTM only)."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from fused_numpy_lstm import HandWrittenSeedModel
    return HandWrittenSeedModel().train_step


def torch_trainer(cell, threads):
    """The seed model with nn.LSTM, nn.GRU or nn.RNN (tanh), Keras's initialisers and Adam epsilon.

    `threads` None leaves PyTorch's own thread count. The initialisation is Keras's in kind, not
    exactly (the timing does not depend on the values): a glorot kernel, each gate's block of the
    recurrent kernel orthogonal (Keras draws one orthogonal matrix over all gates), zero biases
    but 1 for the LSTM's forget gate. PyTorch's GRU orders its gates r, z, n where Keras has
    z, r, h, which matters for neither; both apply the reset gate after the recurrent product
    (Keras's default reset_after=True).
    """
    import torch
    if threads is not None:
        torch.set_num_threads(threads)
    torch.manual_seed(0)
    recurrent_layer = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[cell]

    class SeedModel(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = torch.nn.Embedding(NUM_WORDS, EMBEDDING_SIZE)
            self.recurrent = recurrent_layer(EMBEDDING_SIZE, UNITS, batch_first=True)
            self.dense = torch.nn.Linear(UNITS, 1)
            torch.nn.init.uniform_(self.embedding.weight, -0.05, 0.05)
            torch.nn.init.xavier_uniform_(self.recurrent.weight_ih_l0)
            gate_count = self.recurrent.weight_hh_l0.shape[0] // UNITS
            for gate in range(gate_count):
                torch.nn.init.orthogonal_(self.recurrent.weight_hh_l0.data[gate * UNITS:(gate + 1) * UNITS])
            torch.nn.init.zeros_(self.recurrent.bias_ih_l0)
            torch.nn.init.zeros_(self.recurrent.bias_hh_l0)
            if cell == "lstm":  # PyTorch's gate order i, f, g, o is Keras's i, f, c, o
                self.recurrent.bias_ih_l0.data[UNITS:2 * UNITS] = 1.0
            torch.nn.init.xavier_uniform_(self.dense.weight)
            torch.nn.init.zeros_(self.dense.bias)

        def forward(self, ids):
            _, state = self.recurrent(self.embedding(ids))
            hidden = state[0] if cell == "lstm" else state  # the LSTM's state is (h, c)
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


def keras_trainer(cell, threads):
    """The seed model in Keras on the TensorFlow backend (Keras's own defaults); `threads` None
    leaves TensorFlow's thread pools as they come."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ["KERAS_BACKEND"] = "tensorflow"
    import tensorflow as tf
    if threads is not None:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    import keras
    keras.utils.set_random_seed(0)
    recurrent = getattr(keras.layers, CELLS[cell])
    model = keras.Sequential([keras.Input((MAXLEN,), dtype="int32"),
                              keras.layers.Embedding(NUM_WORDS, EMBEDDING_SIZE), recurrent(UNITS),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    return lambda ids, labels: model.train_on_batch(ids, labels)


def make_trainer(system, cell, threads):
    """The train_batch function of a system, by its key in SYSTEMS, for `cell`."""
    if system == "tinyseq_fused":
        return tinyseq_trainer(cell, threads, "fused")
    if system in ("tinyseq_masked", "tinyseq_bucketed"):
        return tinyseq_trainer(cell, threads, "fused", masked=True)
    if system == "tinyseq_cells":
        return tinyseq_trainer(cell, threads, "cells")
    if system == "numpy":
        return numpy_trainer()
    if system == "torch":
        return torch_trainer(cell, threads)
    return keras_trainer(cell, threads)


PEER_MODULES = {"torch": ["torch"], "keras": ["keras", "tensorflow"]}


def is_installed(system):
    """Whether the library a peer needs can be imported (tinyseq and numpy always can)."""
    return all(importlib.util.find_spec(module) is not None for module in PEER_MODULES.get(system, []))


# ---- one process per system ------------------------------------------------------------------
def openblas_config():
    """numpy's OpenBLAS in this process: {"kernels": its kernel set, "threads": its thread count}
    (None for what it does not tell, e.g. a numpy built on another BLAS)."""
    import ctypes
    import glob
    names = (("scipy_openblas_", "64_"), ("scipy_openblas_", ""), ("openblas_", ""))
    for path in glob.glob(os.path.join(os.path.dirname(np.__file__) + ".libs", "*openblas*")):
        library = ctypes.CDLL(path)  # the library numpy has loaded already
        for prefix, suffix in names:
            corename = getattr(library, f"{prefix}get_corename{suffix}", None)
            threads = getattr(library, f"{prefix}get_num_threads{suffix}", None)
            if corename and threads:
                corename.restype = ctypes.c_char_p
                return {"kernels": corename().decode(), "threads": threads()}
    return {"kernels": None, "threads": None}


def process_threads():
    """The thread pools this process ended up with: numpy's OpenBLAS, and tinyseq's, PyTorch's
    and TensorFlow's where they are loaded (TensorFlow's 0 means its own choice)."""
    threads = {"openblas": openblas_config()}
    if "tinyseq.threads" in sys.modules:
        threads["tinyseq"] = sys.modules["tinyseq.threads"].get_num_threads()
    if "torch" in sys.modules:
        threads["torch"] = sys.modules["torch"].get_num_threads()
    if "tensorflow" in sys.modules:
        threading = sys.modules["tensorflow"].config.threading
        threads["tensorflow"] = {"intra_op": threading.get_intra_op_parallelism_threads(),
                                 "inter_op": threading.get_inter_op_parallelism_threads()}
    return threads


def serve(system, cell, data_file, threads, connection):
    """In a child process: build the system, warm it up, report its thread pools, then time the
    batches on request."""
    data = np.load(data_file)
    key = "bucketed" if system == "tinyseq_bucketed" else "full"
    batches = list(zip(data[f"{key}_ids"], data[f"{key}_labels"]))
    train_batch = make_trainer(system, cell, threads)
    for ids, labels in itertools.islice(itertools.cycle(batches), WARM_UP_BATCHES):
        train_batch(ids, labels)  # compiles Keras's graph, fills caches and buffers
    connection.send(process_threads())
    while connection.recv() == "run":
        wall, cpu = time.perf_counter(), time.process_time()
        for ids, labels in batches:
            train_batch(ids, labels)
        connection.send((time.perf_counter() - wall, time.process_time() - cpu,
                         resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024))
    connection.close()


# ---- the data ----------------------------------------------------------------------------------
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
    return float(steps_run.mean()), float(steps_run[picked].mean()), float(words)


# ---- one thread setting -----------------------------------------------------------------------
def setting_label(threads):
    """How a table names a thread setting (None: the defaults)."""
    if threads is None:
        return (f"defaults: all {os.cpu_count()} cores, every library's own thread choice "
                f"(no thread variables set)")
    return (f"{threads} thread{'s' if threads > 1 else ''} per system ({', '.join(THREAD_VARIABLES)} = {threads}, "
            f"tinyseq, PyTorch and TensorFlow set to {threads})")


def set_thread_environment(threads):
    """Set what the children read when they import numpy, PyTorch or TensorFlow: no thread
    variable for the defaults (None), else each variable to `threads`."""
    for variable in THREAD_VARIABLES:
        if threads is None:
            os.environ.pop(variable, None)
        else:
            os.environ[variable] = str(threads)


def start_child(cell, system, data_file, threads):
    """Start one system for `cell` in its own process and wait until it has warmed up.
    Returns (process, connection, the thread pools it reports)."""
    context = multiprocessing.get_context("spawn")
    parent_end, child_end = context.Pipe()
    process = context.Process(target=serve, args=(system, cell, data_file, threads, child_end))
    process.start()
    child_end.close()  # so that a child that dies shows as EOFError here instead of a hang
    try:
        return process, parent_end, parent_end.recv()
    except EOFError:
        process.join()
        raise RuntimeError(f"the {SYSTEMS[system]} process for the {CELLS[cell]} ended while starting "
                           f"(exit code {process.exitcode}): see its error above") from None


def stop_children(children):
    """Ask every child to stop and wait for it (a child that already died is just waited for)."""
    for process, connection, _ in children.values():
        try:
            connection.send("stop")
        except OSError:
            pass
        process.join()


def measure_setting(threads, plan, data_file, batch_count, round_count):
    """Time every (cell, system) of `plan` under one thread setting (None: the defaults) in fresh
    processes taking turns round by round. Returns the setting's results as `summarise` makes them."""
    set_thread_environment(threads)
    print(f"\n{setting_label(threads)}", flush=True)
    load_before = os.getloadavg()[0]
    children = {}
    try:
        for cell, systems in plan.items():
            for system in systems:  # one at a time: warming up is not timed, but it is not quiet
                children[cell, system] = start_child(cell, system, data_file, threads)
        rounds = {key: [] for key in children}
        for round_number in range(round_count):
            for (cell, system), (_, connection, _) in children.items():
                connection.send("run")
                wall, cpu, peak = connection.recv()
                rounds[cell, system].append({"wall": wall / batch_count, "cpu": cpu / batch_count, "peak": peak})
                print(f"  round {round_number + 1}: {CELLS[cell]:9s} {SYSTEMS[system]:31s} "
                      f"{wall / batch_count:.3f} s/batch (process CPU {cpu / batch_count:.3f} s)", flush=True)
    finally:
        stop_children(children)
    load_after = os.getloadavg()[0]
    return summarise(threads, plan, rounds, {key: child[2] for key, child in children.items()},
                     load_before, load_after)


def summarise(threads, plan, rounds, thread_pools, load_before, load_after):
    """A setting's results: for each cell and system the best round as s/epoch, every round's
    times, the peak memory, the ratios to the same cell's peers and the process's thread pools."""
    cells = {}
    for cell, systems in plan.items():
        best = {system: min(rounds[cell, system], key=lambda measured: measured["wall"]) for system in systems}
        per_epoch = {system: best[system]["wall"] * BATCHES_PER_EPOCH for system in systems}
        cells[cell] = {system: {
            "name": SYSTEMS[system],
            "seconds_per_epoch": per_epoch[system],
            "seconds_per_batch_by_round": [measured["wall"] for measured in rounds[cell, system]],
            "cpu_seconds_per_batch_by_round": [measured["cpu"] for measured in rounds[cell, system]],
            "cpu_over_wall": best[system]["cpu"] / best[system]["wall"],
            "spread": max(measured["wall"] for measured in rounds[cell, system]) / best[system]["wall"] - 1,
            "peak_memory_bytes": max(measured["peak"] for measured in rounds[cell, system]),
            "ratios": {peer: per_epoch[system] / per_epoch[peer] for peer in PEERS if peer in per_epoch},
            "threads": thread_pools[cell, system],
        } for system in systems}
    kernels = sorted({str(result["threads"]["openblas"]["kernels"])
                      for systems in cells.values() for result in systems.values()})
    return {"setting": "default" if threads is None else threads, "label": setting_label(threads),
            "openblas_kernels": ", ".join(kernels), "load_average_before": load_before,
            "load_average_after": load_after, "cells": cells}


def print_table(setting, batch_count, round_count):
    """One setting's table: a row per cell and system, with ratios to the same cell's peers."""
    peers = [peer for peer in PEERS if any(peer in systems for systems in setting["cells"].values())]
    print(f"\n{setting['label']}; numpy's OpenBLAS kernels: {setting['openblas_kernels']}")
    print(f"seconds per epoch ({BATCHES_PER_EPOCH} batches of {BATCH_SIZE}), best of {round_count} rounds of "
          f"{batch_count} batches; load average {setting['load_average_before']:.1f} before, "
          f"{setting['load_average_after']:.1f} after:")
    columns = "".join(f" {PEERS[peer]:>10s}" for peer in peers)
    print(f"  {'cell':9s} {'system':31s} {'s/epoch':>8s} {'spread':>7s}{columns} {'CPU/wall':>9s} {'peak memory':>12s}")
    for cell, systems in setting["cells"].items():
        for result in systems.values():
            ratios = "".join(f" {result['ratios'][peer]:10.2f}" if peer in result["ratios"] else f" {'':10s}"
                             for peer in peers)
            print(f"  {CELLS[cell]:9s} {result['name']:31s} {result['seconds_per_epoch']:8.1f} "
                  f"{result['spread']:6.0%}{ratios} {result['cpu_over_wall']:9.2f} "
                  f"{result['peak_memory_bytes'] / 2**30:9.2f} GB")
    print("  (spread: how much slower the worst round was than the best; x peer: s/epoch over the same cell's "
          "peer's; CPU/wall: the process's CPU time over wall time in its best round)")


# ---- the run -----------------------------------------------------------------------------------
def checkout_commit():
    """The git commit of the checkout this script is in, and whether tracked files have changed
    since (None outside a git checkout)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        commit = subprocess.run(["git", "-C", root, "rev-parse", "HEAD"], capture_output=True, text=True,
                                check=True).stdout.strip()
        changes = subprocess.run(["git", "--no-optional-locks", "-C", root, "status", "--porcelain",
                                  "--untracked-files=no"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return {"commit": commit, "uncommitted_changes": bool(changes.strip())}


def library_versions():
    """The installed versions of numpy, tinyseq and the peers' libraries (None if absent)."""
    versions = {}
    for distribution in ("numpy", "tinyseq", "torch", "keras", "tensorflow"):
        try:
            versions[distribution] = importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            versions[distribution] = None
    return versions


def write_json(path, report):
    """Write `report` to `path` atomically: a reader sees the old file or the whole new one."""
    directory = os.path.dirname(os.path.abspath(path))
    with tempfile.NamedTemporaryFile("w", dir=directory, suffix=".tmp", delete=False) as file:
        json.dump(report, file, indent=1)
        file.write("\n")
    os.replace(file.name, path)


def positive_count(text):
    """An argparse type: a whole number of at least 1."""
    try:
        count = int(text)
    except ValueError:
        count = 0
    if count < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return count


def thread_setting(text):
    """An argparse type for --settings: "default" (None) or a thread count."""
    if text == "default":
        return None
    try:
        return positive_count(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected 'default' or a positive thread count, got {text!r}") from None


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--settings", nargs="+", type=thread_setting, default=None, metavar="SETTING",
                        help="thread settings, measured in this order: 'default' (all cores, every library's "
                             "own choice) or a thread count per system (default: default 1)")
    parser.add_argument("--threads", type=positive_count, default=None,
                        help="measure one setting only: this many threads per system (same as --settings N)")
    parser.add_argument("--cells", nargs="+", default=list(CELLS), choices=list(CELLS),
                        help="the recurrent layers (default: lstm gru rnn)")
    parser.add_argument("--batches", type=positive_count, default=10, help="batches timed per round (default 10)")
    parser.add_argument("--rounds", type=positive_count, default=3,
                        help="timing rounds; the best counts (default 3)")
    parser.add_argument("--data", default=None, help="the IMDB archive or folder (default: TINYSEQ_DATA or the cache)")
    parser.add_argument("--systems", nargs="+", default=list(SYSTEMS), choices=list(SYSTEMS), metavar="SYSTEM",
                        help=f"the systems, of {', '.join(SYSTEMS)} (default: all; "
                             f"{', '.join(LSTM_ONLY)} run for the LSTM only)")
    parser.add_argument("--openblas-coretype", default=None,
                        help="OpenBLAS kernels for the numpy systems, e.g. SkylakeX for AVX-512 "
                             "(default: OpenBLAS's own choice)")
    parser.add_argument("--json", default=None, metavar="PATH", help="also write every measured number to PATH")
    args = parser.parse_args()
    if args.threads is not None and args.settings is not None:
        parser.error("give either --threads or --settings, not both")
    settings = [args.threads] if args.threads is not None else args.settings or [None, 1]
    if args.json and not os.path.isdir(os.path.dirname(os.path.abspath(args.json))):
        parser.error(f"--json {args.json}: the folder {os.path.dirname(os.path.abspath(args.json))} does not exist")

    if args.openblas_coretype:
        os.environ["OPENBLAS_CORETYPE"] = args.openblas_coretype
    systems = [system for system in args.systems if is_installed(system)]
    for missing in [system for system in args.systems if system not in systems]:
        print(f"({SYSTEMS[missing]} is not installed: skipped)")
    plan = {cell: [system for system in systems if cell == "lstm" or system not in LSTM_ONLY]
            for cell in args.cells}
    plan = {cell: cell_systems for cell, cell_systems in plan.items() if cell_systems}
    if not plan:
        parser.error(f"none of --systems {' '.join(args.systems)} runs for --cells {' '.join(args.cells)}")

    versions = library_versions()
    machine = (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
               f"{platform.python_version()}, " + ", ".join(f"{name} {version}" for name, version in versions.items()
                                                            if version))
    print(f"machine: {machine}")
    report = {"machine": machine, "versions": versions, "checkout": checkout_commit(), "command": sys.argv,
              "batch_size": BATCH_SIZE, "maxlen": MAXLEN, "batches_per_epoch": BATCHES_PER_EPOCH,
              "batches_per_round": args.batches, "rounds": args.rounds,
              "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE"), "settings": []}
    with tempfile.TemporaryDirectory() as directory:
        data_file = os.path.join(directory, "batches.npz")
        epoch_steps, picked_steps, words = prepare_batches(args.batches, args.data, data_file)
        report["data"] = {"word_fraction_of_shuffled_batches": words, "bucketed_epoch_steps_per_batch": epoch_steps,
                          "bucketed_timed_steps_per_batch": picked_steps}
        print(f"shuffled batches: words fill {words:.0%} of the {BATCH_SIZE} × {MAXLEN} ids (the rest is padding)")
        print(f"bucketed epoch: {epoch_steps:.0f} steps run per batch on average (of {MAXLEN}); "
              f"the {args.batches} timed batches average {picked_steps:.0f}")
        for threads in settings:
            report["settings"].append(measure_setting(threads, plan, data_file, args.batches, args.rounds))
            if args.json:
                write_json(args.json, report)
    for setting in report["settings"]:
        print_table(setting, args.batches, args.rounds)


if __name__ == "__main__":
    main()
