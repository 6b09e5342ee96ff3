"""Reproduce the published long-memory experiments of `tinyseq.experiments.papers` into
docs/results/papers/, one sweep file per experiment, each run appended as it ends.

    python benchmarks/papers.py                        # all of them, 2 worker processes
    python benchmarks/papers.py --only arjovsky2016-copying --jobs 1

Stopped and started again, it skips the runs already in the files. The iterations and seeds
run are in `tinyseq.experiments.papers` (each experiment's `iterations` and `seeds`); the
docs page docs/explanation/papers-reproduced.md reads the files this writes.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time

from tinyseq.experiments.papers import EXPERIMENTS, RESULTS, comparison_table
from tinyseq.experiments.sweep import SweepInterrupted, run_sweeps


def log_run(path, record):
    """One line per finished run: when, which, how long, and where it left the baseline."""
    settings, result = record["settings"], record["result"]
    print(f"{time.strftime('%H:%M:%S')} {record['task']} {settings['cell']} T={settings['length']} "
          f"seed={settings['seed']} {settings['iterations']} it.: {result['seconds']:.0f} s, left the baseline at "
          f"{result['iterations_to_leave_baseline']}, final loss {result['final_loss']} -> {path}", flush=True)


def main(argv=None):
    """Run the reproductions asked for, print each one's comparison table and the wall time."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=list(EXPERIMENTS), default=list(EXPERIMENTS),
                        help="the experiments to run (default: all)")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--folder", default=str(RESULTS), help=f"where the sweep files go (default {RESULTS})")
    args = parser.parse_args(argv)
    # Stop cleanly (the workers too, the finished runs kept) on Ctrl-C and on kill, also when
    # started in the background, where the shell has SIGINT ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    experiments = [EXPERIMENTS[key] for key in args.only]
    start = time.time()
    print(f"{time.strftime('%H:%M:%S')} starting {', '.join(args.only)} with {args.jobs} workers", flush=True)
    try:
        results = run_sweeps([(e.task, e.sweeps(), e.result_path(args.folder)) for e in experiments],
                             jobs=args.jobs, progress=False, on_run=log_run)
    except SweepInterrupted as error:
        print(error, file=sys.stderr)
        return 130
    for experiment, result in zip(experiments, results):
        headers, rows = comparison_table(experiment, result.records)
        run_seconds = sum(record["result"]["seconds"] for record in result.records)
        print(f"\n{experiment.reference.citation}, {experiment.section}: {experiment.title} "
              f"({len(result.records)} runs, {run_seconds:.0f} s of training in total)")
        for row in [headers, *rows]:
            print("  " + " | ".join(row))
    print(f"\n{time.strftime('%H:%M:%S')} done in {time.time() - start:.0f} s of wall time", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
