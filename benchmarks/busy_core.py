"""How `tinyseq imdb train --quick` holds up when another program keeps a core busy.

Runs the command (in a fresh process each time, as a user would) on the quiet machine and
then beside a process that spins on one core, taking turns, and prints the wall and CPU
seconds of each run and the ratio of the medians. The spinner is a plain Python loop: it
never sleeps, so it takes a whole core for as long as it runs.

    python benchmarks/busy_core.py [--runs 3] [--data PATH] [--] [extra train flags ...]

The IMDB data comes from `--data`, `TINYSEQ_DATA` or the cache (see `tinyseq.datasets.imdb`).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time


def spin():
    """Keep one core busy until terminated."""
    while True:
        pass


def timed_run(command):
    """Run `command`; return (wall seconds, CPU seconds of the command's process tree)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per condition (default 3)")
    parser.add_argument("--data", default=None, help="the IMDB archive or folder")
    parser.add_argument("extra", nargs="*", help="more flags for `tinyseq imdb train`")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as directory:
        command = [sys.executable, "-m", "tinyseq.apps.cli", "imdb", "train", "--quick", "--verbose", "0",
                   "--output", os.path.join(directory, "quick.h5"), *(["--data", args.data] if args.data else []),
                   *args.extra]
        print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
              f"load average {os.getloadavg()[0]:.1f}")
        print("command:", " ".join(command[1:]))
        timed_run(command)  # the first run parses the data into the cache; not counted
        runs = {"quiet": [], "one core busy": []}
        for _ in range(args.runs):
            runs["quiet"].append(timed_run(command))
            spinner = multiprocessing.get_context("spawn").Process(target=spin, daemon=True)
            spinner.start()
            try:
                runs["one core busy"].append(timed_run(command))
            finally:
                spinner.terminate()
                spinner.join()
    for condition, results in runs.items():
        walls = ", ".join(f"{wall:.1f}" for wall, _ in results)
        cpus = ", ".join(f"{cpu:.1f}" for _, cpu in results)
        print(f"  {condition:14s} wall {walls} s (median {statistics.median(w for w, _ in results):.1f}); "
              f"CPU {cpus} s")
    quiet, busy = (statistics.median(w for w, _ in runs[c]) for c in runs)
    print(f"  busy / quiet, medians of the wall time: {busy / quiet:.2f}")


if __name__ == "__main__":
    main()
