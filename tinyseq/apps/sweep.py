"""`tinyseq vanishing sweep TASK`: train over the product of several settings, one JSON line per run.

    tinyseq vanishing sweep copying --cells rnn lstm gru --lengths 50 100 200 --seeds 0 1 \\
        --iterations 2000 --out runs.jsonl --jobs 2 --plot sweep.png

Every setting takes one or more values; the sweep runs every combination. Each run's result is
appended to the --out file as it ends, so an interrupted sweep (Ctrl-C, a closed laptop) keeps
what it finished: run the same command again and it skips those runs. A file that holds another
task's sweep is refused. The settings not given take the experiments' defaults (those of
`tinyseq vanishing adding`).
"""

from __future__ import annotations

import argparse

from ..experiments.cells import CELL_NAMES
from ..experiments.common import PlottingUnavailable, new_figure
from ..experiments.sweep import (
    MEASURES,
    SweepMismatch,
    run_sweep,
    settings_names,
    sweep_grid,
)
from ..experiments.tasks import TASKS
from ..experiments.training import OPTIMIZERS, TrainingSettings
from .arguments import CommandError, at_least, positive_int, runs, writable_file

DEFAULT_LENGTHS = (50, 100)
DEFAULT_ITERATIONS = 1000


def positive_float(text):
    """An argparse `type` for a number greater than 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {text}")
    return value


def clip_norm(text):
    """An argparse `type` for a clipping norm: a number greater than 0, or 0 / "none" for no clipping."""
    if text.lower() in ("0", "none"):
        return None
    return positive_float(text)


def plot_file(text):
    """An argparse `type` for the figure: .png, .svg or .pdf, in a writable place."""
    if not text.lower().endswith((".png", ".svg", ".pdf")):
        raise argparse.ArgumentTypeError(f"cannot tell the format from {text!r}; use a name ending in .png, .svg, .pdf")
    return writable_file(text)


def add_sweep_parser(subparsers):
    """Add `sweep` to the `vanishing` command's subcommands.

    Args:
        subparsers: the `vanishing` command's `add_subparsers()` object.

    Returns:
        The `sweep` parser; parsed arguments carry `run=run_sweep_command`.
    """
    defaults = TrainingSettings()
    description = ("Train TASK over the product of the settings' values; each run is appended to --out as it "
                   "ends, and running the same command again skips the runs already there.")
    parser = subparsers.add_parser("sweep", help="train a task over the product of several settings",
                                   description=description)
    tasks = [*TASKS, *(name.replace("_", "-") for name in TASKS if "_" in name)]
    parser.add_argument("task", choices=tasks, help="the task: " + ", ".join(tasks))
    several = {"nargs": "+"}
    parser.add_argument("--cells", **several, metavar="CELL", choices=[*CELL_NAMES, "chrono-lstm"], default=["rnn", "lstm"],
                        help=f"the cells, any of: {' '.join(CELL_NAMES)} (default: rnn lstm)")
    parser.add_argument("--lengths", **several, type=positive_int, metavar="T", default=list(DEFAULT_LENGTHS),
                        help=f"the sequence lengths T (default: {' '.join(map(str, DEFAULT_LENGTHS))})")
    parser.add_argument("--seeds", **several, type=at_least(0), metavar="N", default=[0],
                        help="the seeds of the weights and data (default: 0)")
    parser.add_argument("--iterations", **several, type=positive_int, metavar="N", default=[DEFAULT_ITERATIONS],
                        help=f"training iterations per run (default: {DEFAULT_ITERATIONS})")
    parser.add_argument("--units", **several, type=positive_int, metavar="N", default=[defaults.units],
                        help=f"the recurrent layer's size (default: {defaults.units})")
    parser.add_argument("--batch-size", **several, type=positive_int, metavar="N", default=[defaults.batch_size],
                        help=f"sequences per iteration (default: {defaults.batch_size})")
    parser.add_argument("--optimizer", **several, choices=sorted(OPTIMIZERS), default=[defaults.optimizer],
                        help=f"the optimizer (default: {defaults.optimizer})")
    parser.add_argument("--lr", **several, type=positive_float, metavar="RATE", default=[defaults.learning_rate],
                        help=f"the learning rate (default: {defaults.learning_rate:g})")
    parser.add_argument("--clip", **several, type=clip_norm, metavar="NORM",
                        help=f"clip all gradients together to this norm; 0 or none: no clipping (default: "
                             f"{defaults.global_clipnorm}, or none with --clip-value)")
    parser.add_argument("--clip-value", **several, type=clip_norm, metavar="VALUE", default=[defaults.clip_value],
                        help="clip each gradient element to [-VALUE, VALUE] instead of the norm; 0 or none: "
                             "no clipping (default: none)")
    parser.add_argument("--eval-every", **several, type=positive_int, metavar="N", default=[defaults.eval_every],
                        help=f"measure the test loss every N iterations (default: {defaults.eval_every})")
    parser.add_argument("--test-size", **several, type=positive_int, metavar="N", default=[defaults.test_size],
                        help=f"fixed test sequences (default: {defaults.test_size})")
    parser.add_argument("--out", required=True, type=writable_file, metavar="PATH",
                        help="the JSON-lines file the runs are appended to (resumed if it exists)")
    parser.add_argument("--jobs", type=positive_int, default=1, metavar="N",
                        help="worker processes running at once (default 1; the numbers do not depend on it)")
    parser.add_argument("--plot", type=plot_file, metavar="PATH",
                        help="save a figure of the whole sweep against T (.png, .svg or .pdf; needs matplotlib; default: none)")
    parser.add_argument("--measure", choices=list(MEASURES), default="final_loss",
                        help="what the figure shows against T (default: final_loss)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (default: one, if tqdm is installed)")
    return runs(parser, run_sweep_command)


# The command's flags, by the sweep setting each one sets.
FLAGS = {"cell": "cells", "length": "lengths", "seed": "seeds", "iterations": "iterations", "units": "units",
         "batch_size": "batch_size", "optimizer": "optimizer", "learning_rate": "lr",
         "global_clipnorm": "clip", "clip_value": "clip_value", "eval_every": "eval_every", "test_size": "test_size"}


def sweep_values(args):
    """The sweep's {setting: values} from parsed arguments, each flag's values once, in order."""
    if args.clip is None:  # not given: the default norm, unless gradients are clipped element-wise
        args.clip = [None] if any(args.clip_value) else [TrainingSettings().global_clipnorm]
    values = {}
    for setting in settings_names():
        given = getattr(args, FLAGS[setting]) if setting in FLAGS else [getattr(TrainingSettings(), setting)]
        flag = "--" + FLAGS.get(setting, setting).replace("_", "-")
        unique = list(dict.fromkeys(given))
        if len(unique) < len(given):
            raise CommandError(f"{flag} lists a value more than once: {' '.join(map(str, given))}")
        values[setting] = unique
    return values


def run_sweep_command(args):
    """Run the sweep, print its table and save the figure asked for.

    Returns:
        The exit status, 0.

    Raises:
        CommandError: a bad setting, a file holding another sweep, or a plot without matplotlib.
        SweepInterrupted: Ctrl-C (the finished runs are in the file; exit 130).
    """
    if args.plot:
        try:
            new_figure()
        except PlottingUnavailable as error:
            raise CommandError(str(error)) from None
    values = sweep_values(args)
    try:
        sweep_grid(args.task, values)  # every run's settings checked before the first starts
    except ValueError as error:
        raise CommandError(str(error)) from None
    try:
        result = run_sweep(args.task, values, args.out, jobs=args.jobs, progress=not args.no_progress)
    except SweepMismatch as error:
        raise CommandError(str(error)) from None
    print(result.table())
    print(f"Wrote {args.out}")
    if args.plot:
        result.plot(args.plot, measure=args.measure)
        print(f"Wrote {args.plot}")
    return 0
