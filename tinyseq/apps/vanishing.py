"""`tinyseq vanishing EXPERIMENT`: run an experiment, print its table, save files; and `sweep`.

    tinyseq vanishing adding [--cells rnn irnn lstm] [--lengths 50 100] [--iterations 500] ...
    tinyseq vanishing norms --lengths 1000 --cells rnn irnn lstm chrono-lstm gru

Each experiment prints the measured values next to the predictions (or the no-memory baseline).
`--json PATH` also writes the full result as JSON and the table as CSV beside it (PATH with .csv);
`--plot PATH` saves a figure (needs matplotlib: pip install tinyseq[plots]). `--seed N` makes the
run repeat exactly; experiments with several seeds use N, N+1, N+2 (`--seeds` lists them instead).
`--quick` runs a smaller version in seconds; settings given beside it still apply.

The settings (`SETTINGS`) each experiment takes are listed in `EXPERIMENTS`; giving one that an
experiment does not take is an error that names it. `tinyseq vanishing sweep` (in `sweep`) runs a
task over the product of several values of each setting.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from dataclasses import dataclass
from typing import Callable

from ..experiments import adding, gap, norms
from ..experiments.cells import ALIASES, CELL_NAMES
from ..experiments.clipping import run_clipping
from ..experiments.common import PlottingUnavailable, new_figure
from ..experiments.copying import COPYING
from ..experiments.tasks import run_task
from ..experiments.temporal_order import TEMPORAL_ORDER
from ..experiments.training import OPTIMIZERS, TrainingSettings
from .arguments import CommandError, at_least, positive_int, runs, writable_file
from .sweep import add_sweep_parser, clip_norm, positive_float

FULL_SEEDS = 3
# Every setting a command line can give, as (flag, its help).
SETTINGS = {
    "cells": "the cells to compare, any of: " + " ".join(CELL_NAMES) + " (chrono-lstm is lstm_chrono; --models "
             "is the same flag)",
    "lengths": "the lengths T",
    "units": "the recurrent layer's size",
    "iterations": "training iterations per run",
    "batch_size": "sequences per iteration",
    "optimizer": "the optimizer: " + ", ".join(OPTIMIZERS),
    "lr": "the learning rate",
    "clip": "clip all gradients together to this norm; 0 or none: no clipping",
    "seeds": "the seeds, one run each (instead of --seed)",
}
TRAINING = ("cells", "lengths", "units", "iterations", "batch_size", "optimizer", "lr", "clip", "seeds")
SEVERAL_SEEDS = "N, N+1, N+2 from --seed N (quick: N)"
# The defaults of `TrainingSettings`, which the trained experiments share.
TRAINING_DEFAULTS = {"units": "32", "batch_size": "64", "optimizer": "adam", "lr": "0.01", "clip": "1",
                     "seeds": SEVERAL_SEEDS}


@dataclass(frozen=True)
class Experiment:
    """One `tinyseq vanishing` subcommand.

    Attributes:
        run: `run(options, jobs)` -> a result; `options` maps each setting given (or defaulted)
            to its value, plus "quick".
        description: its help line.
        takes: the settings (keys of `SETTINGS`) it accepts.
        min_length: the smallest length T it allows.
        defaults: for each setting it takes, its default in words (for --help).
        one_length, one_seed: whether it measures a single length, a single seed.
        full_seeds: the number of seeds of a full run (N, N+1, ... from --seed N).
    """
    run: Callable
    description: str
    takes: tuple
    defaults: dict
    min_length: int = 1
    one_length: bool = False
    one_seed: bool = False
    full_seeds: int = FULL_SEEDS


def training_settings(options, defaults):
    """`defaults` (a settings dataclass) with the training settings the command line gave."""
    names = {"units": "units", "batch_size": "batch_size", "optimizer": "optimizer", "lr": "learning_rate",
             "clip": "global_clipnorm"}
    return dataclasses.replace(defaults, **{field: options[flag] for flag, field in names.items() if flag in options})


def _norms(options, jobs):
    return norms.run_norms(timesteps=options.get("lengths", [50 if options["quick"] else 100])[0],
                           units=options.get("units", 32), cells=options.get("cells", norms.DEFAULT_CELLS),
                           seed=options["seeds"][0])


def _adding(options, jobs):
    quick_budgets = {"rnn": 400, "irnn": 400}
    iterations = options.get("iterations")
    if iterations is None and options["quick"]:
        iterations = {cell: quick_budgets.get(cell, 600) for cell in options.get("cells", adding.DEFAULT_CELLS)}
    return adding.run_adding(lengths=options.get("lengths", (10, 50) if options["quick"] else (10, 25, 50, 100)),
                             seeds=options["seeds"], cells=options.get("cells", adding.DEFAULT_CELLS),
                             iterations=iterations, settings=training_settings(options, adding.AddingSettings()),
                             jobs=jobs)


def _gap(options, jobs):
    settings = training_settings(options, gap.GapSettings())
    if "iterations" in options:
        settings = dataclasses.replace(settings, iterations=options["iterations"])
    gaps = options.get("lengths", (5, 20, 40) if options["quick"] else (5, 10, 20, 40, 80, 160))
    # The table reads "falls to chance" from the shortest gap up.
    return gap.run_gap(lengths=sorted(gaps),
                       seeds=options["seeds"], cells=options.get("cells", gap.DEFAULT_CELLS), settings=settings,
                       jobs=jobs)


def _task(name, quick_lengths, full_lengths):
    """The runner of a task of `tasks.TASKS`: RNN against LSTM, 1000 iterations (200 quick)."""
    def run(options, jobs):
        return run_task(name, cells=options.get("cells", ("rnn", "lstm")),
                        lengths=options.get("lengths", quick_lengths if options["quick"] else full_lengths),
                        seeds=options["seeds"], iterations=options.get("iterations", 200 if options["quick"] else 1000),
                        settings=training_settings(options, TrainingSettings()), jobs=jobs)
    return run


def _clipping(options, jobs):
    return run_clipping(timesteps=options.get("lengths", [50])[0],
                        iterations=options.get("iterations", 200 if options["quick"] else 1000),
                        learning_rate=options.get("lr", 0.05), seed=options["seeds"][0],
                        units=options.get("units", 32), batch_size=options.get("batch_size", 64), jobs=jobs)


EXPERIMENTS = {
    "norms": Experiment(_norms, "gradient norm against distance: linear RNN, tanh RNN (Pascanu et al. eq. 7), LSTM "
                                "cell path, and the cells as they start (default rnn lstm gru; T 100)",
                        ("cells", "lengths", "units", "seeds"),
                        dict(cells="rnn lstm gru", lengths="100 (quick: 50)", units="32", seeds="N from --seed N"),
                        min_length=2, one_length=True, one_seed=True),
    "adding": Experiment(_adding, "the adding problem: tanh RNN against LSTM (default) for T = 10, 25, 50, 100; "
                                  "baseline MSE 1/6", TRAINING,
                         dict(TRAINING_DEFAULTS, cells="rnn lstm", lengths="10 25 50 100 (quick: 10 50)",
                              iterations="2000 for rnn and irnn, 1000 for the others (quick: 400, 600)"),
                         min_length=2),
    "gap": Experiment(_gap, "remember a country across distractor words: RNN, LSTM, chrono LSTM (default) "
                            "accuracy against gap (--lengths: the gaps)", TRAINING,
                    dict(TRAINING_DEFAULTS, cells="rnn lstm lstm_chrono", lengths="5 10 20 40 80 160 (quick: 5 20 40)",
                         iterations="800", batch_size="32")),
    "copying": Experiment(_task(COPYING.name, (10,), (10, 20, 50)),
                          "the copying memory task: recall 10 symbols after T blanks (Arjovsky et al. 2016); "
                          "baseline 10 ln 8 / (T + 20)", TRAINING,
                          dict(TRAINING_DEFAULTS, cells="rnn lstm", lengths="10 20 50 (quick: 10)",
                               iterations="1000 (quick: 200)"), min_length=COPYING.min_length),
    "temporal-order": Experiment(_task(TEMPORAL_ORDER.name, (20,), (20, 50, 100)),
                                 "the temporal-order task: the order of X and Y among T symbols (Hochreiter & "
                                 "Schmidhuber 1997, 6a); baseline ln 4", TRAINING,
                                 dict(TRAINING_DEFAULTS, cells="rnn lstm", lengths="20 50 100 (quick: 20)",
                                      iterations="1000 (quick: 200)"), min_length=TEMPORAL_ORDER.min_length),
    "clipping": Experiment(_clipping, "exploding gradients with W = 2Q, SGD with and without gradient clipping "
                                      "(a tanh RNN on the adding problem, T 50)",
                           ("lengths", "units", "iterations", "batch_size", "lr", "seeds"),
                           dict(lengths="50", units="32", iterations="1000 (quick: 200)", batch_size="64", lr="0.05",
                                seeds="N from --seed N"), min_length=2, one_length=True, one_seed=True),
}


PLOT_FORMATS = (".png", ".svg", ".pdf")


def plot_path(text):
    """An argparse `type` for a figure's file: .png, .svg or .pdf, in a writable place."""
    if os.path.splitext(text)[1].lower() not in PLOT_FORMATS:
        raise argparse.ArgumentTypeError(f"cannot tell the format from {os.path.basename(text)!r}; "
                                         f"use a name ending in {', '.join(PLOT_FORMATS)}")
    return writable_file(text)


def cell_choice(text):
    """An argparse `type` for a cell's name (chrono-lstm is read as lstm_chrono)."""
    name = ALIASES.get(text, text)
    if name not in CELL_NAMES:
        raise argparse.ArgumentTypeError(f"unknown cell {text!r}; the cells are {', '.join(CELL_NAMES)}")
    return name


def _add_settings(parser, name, experiment):
    """The settings flags. Each is on every experiment's parser, so that one the experiment does
    not take is reported by name (`experiment_options`) instead of being ignored."""
    kinds = {"cells": dict(nargs="+", type=cell_choice, metavar="CELL"),
             "lengths": dict(nargs="+", type=positive_int, metavar="T"),
             "units": dict(type=positive_int, metavar="N"),
             "iterations": dict(type=positive_int, metavar="N"),
             "batch_size": dict(type=positive_int, metavar="N"),
             "optimizer": dict(choices=tuple(OPTIMIZERS)),
             "lr": dict(type=positive_float, metavar="RATE"),
             "clip": dict(type=clip_norm, metavar="NORM"),
             "seeds": dict(nargs="+", type=at_least(0), metavar="N")}
    for setting, kind in kinds.items():
        flags = ["--" + setting.replace("_", "-")] + (["--models"] if setting == "cells" else [])
        if setting in experiment.takes:
            shown = f"{SETTINGS[setting]} (default: {experiment.defaults[setting]})"
        else:
            shown = f"not a setting of {name}: giving it is an error (default: unused)"
        parser.add_argument(*flags, dest=setting, default=argparse.SUPPRESS, help=shown, **kind)


def add_vanishing_parser(subparsers):
    """Add the `vanishing` command, with one subcommand per experiment and `sweep`, to `subparsers`.

    Args:
        subparsers: the object `argparse.ArgumentParser.add_subparsers()` returned.

    Returns:
        The `vanishing` parser. Parsed arguments of an experiment carry `run=run_vanishing`.
    """
    vanishing = subparsers.add_parser(
        "vanishing", help="vanishing and exploding gradients, measured and checked against theory",
        description="Vanishing and exploding gradients, measured with tinyseq and printed next to the "
                    "theory's predictions. --json also writes a CSV beside the JSON.")
    experiments = vanishing.add_subparsers(dest="experiment", required=True)
    for name, experiment in EXPERIMENTS.items():
        parser = experiments.add_parser(name, help=experiment.description, description=experiment.description)
        _add_settings(parser, name, experiment)
        parser.add_argument("--quick", action="store_true", help="a smaller run, in seconds (default: the full run)")
        parser.add_argument("--seed", type=at_least(0), metavar="N",
                            help="the seed (default 0; runs with several seeds use N, N+1, N+2; or give --seeds)")
        parser.add_argument("--json", metavar="PATH", type=writable_file,
                            help="write the result as JSON, and the table as CSV beside it (default: neither)")
        parser.add_argument("--plot", metavar="PATH", type=plot_path,
                            help="save a figure (.png, .svg or .pdf; needs matplotlib; default: none)")
        parser.add_argument("--jobs", type=positive_int, default=2, metavar="N",
                            help="worker processes for the training runs (default 2; the numbers do not depend on it)")
        runs(parser, run_vanishing)
    add_sweep_parser(experiments)
    return vanishing


def experiment_options(args):
    """The settings given on the command line, checked against the experiment, with the seeds resolved.

    Returns:
        A dict: each setting given (keys of `SETTINGS`), "seeds" always, and "quick".

    Raises:
        CommandError: a setting the experiment does not take, a repeated cell, length or seed, a
            length below the experiment's minimum, or several where it measures one.
    """
    experiment = EXPERIMENTS[args.experiment]
    given = {name: getattr(args, name) for name in SETTINGS if hasattr(args, name)}
    refused = [name for name in given if name not in experiment.takes]
    if refused:
        flags = " ".join("--" + name.replace("_", "-") for name in refused)
        takes = " ".join("--" + name.replace("_", "-") for name in experiment.takes)
        raise CommandError(f"{flags} {'does' if len(refused) == 1 else 'do'} not apply to {args.experiment}; "
                           f"it takes {takes}")
    for name in ("cells", "lengths", "seeds"):
        values = given.get(name, [])
        repeated = sorted({str(value) for value in values if values.count(value) > 1})
        if repeated:
            flag = "--cells (--models)" if name == "cells" else f"--{name}"
            raise CommandError(f"{flag} names {' '.join(repeated)} more than once: {' '.join(map(str, values))}")
    short = [length for length in given.get("lengths", []) if length < experiment.min_length]
    if short:
        raise CommandError(f"--lengths must be at least {experiment.min_length} for {args.experiment}, got "
                           f"{' '.join(map(str, short))}")
    for name, single in (("lengths", experiment.one_length), ("seeds", experiment.one_seed)):
        if single and len(given.get(name, [])) > 1:
            values = " ".join(map(str, given[name]))
            raise CommandError(f"{args.experiment} measures one {name[:-1]}; --{name} got {values}")
    if "seeds" in given and args.seed is not None:
        raise CommandError("give --seed or --seeds, not both")
    if "seeds" not in given:
        first = args.seed or 0
        several = 1 if args.quick or experiment.one_seed else experiment.full_seeds
        given["seeds"] = list(range(first, first + several))
    return {**given, "quick": args.quick}


def run_vanishing(args):
    """Run the experiment `args.experiment`, print its table and write the files asked for.

    Args:
        args: parsed arguments: experiment, quick, seed, json, plot, jobs, and the settings given.

    Returns:
        The exit status, 0.

    Raises:
        CommandError: a plot is asked for but matplotlib is missing, or a setting is refused
            (`experiment_options`); both found before the run.
    """
    if args.plot:
        try:
            new_figure()  # find out now, not after the run, that matplotlib is missing
        except PlottingUnavailable as error:
            raise CommandError(str(error)) from None
    options = experiment_options(args)
    result = EXPERIMENTS[args.experiment].run(options, args.jobs)
    print(result.table())
    if args.json:
        print("Wrote " + " and ".join(result.save(args.json)))
    if args.plot:
        result.plot(args.plot)
        print(f"Wrote {args.plot}")
    return 0
