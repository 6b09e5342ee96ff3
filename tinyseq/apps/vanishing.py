"""`tinyseq vanishing {norms,adding,gap,clipping}`: run an experiment, print its table, save files.

    tinyseq vanishing norms [--quick] [--seed N] [--json PATH] [--plot PATH] [--jobs N]

Each subcommand prints the measured values next to the predictions. `--json PATH` also writes
the full result as JSON and the table as CSV beside it (PATH with .csv); `--plot PATH` saves a
figure (needs matplotlib: pip install tinyseq[plots]). `--seed N` makes the run repeat exactly;
experiments with several seeds use N, N+1, N+2. `--quick` runs a smaller version in seconds.
"""

from __future__ import annotations

import argparse
import os

from ..experiments import adding, gap, norms
from ..experiments.clipping import run_clipping
from ..experiments.common import PlottingUnavailable, new_figure
from .arguments import CommandError, at_least, positive_int, runs, writable_file

FULL_SEEDS = 3


def _norms(quick, seed, jobs, models):
    return norms.run_norms(timesteps=50 if quick else 100, seed=seed, models=models)


def _adding(quick, seed, jobs, models):
    if quick:
        return adding.run_adding(timesteps=(10, 50), seeds=(seed,), models=models, rnn_iterations=400,
                                 lstm_iterations=600, gru_iterations=600, jobs=jobs)
    return adding.run_adding(seeds=tuple(range(seed, seed + FULL_SEEDS)), models=models, jobs=jobs)


def _gap(quick, seed, jobs, models):
    if quick:
        return gap.run_gap(gaps=(5, 20, 40), seeds=(seed,), models=models, jobs=jobs)
    return gap.run_gap(seeds=tuple(range(seed, seed + FULL_SEEDS)), models=models, jobs=jobs)


def _clipping(quick, seed, jobs, models):
    return run_clipping(iterations=200 if quick else 1000, seed=seed, jobs=jobs)


# name: (runner, description, the models it can train, those it trains by default)
EXPERIMENTS = {
    "norms": (_norms, "gradient norm against distance: linear RNN, tanh RNN (Pascanu et al. eq. 7), LSTM cell "
                      "path, and the three cells with default weights", tuple(norms.CELLS), tuple(norms.CELLS)),
    "adding": (_adding, "the adding problem: tanh RNN against LSTM (and GRU, with --models) for T = 10, 25, 50, 100",
               tuple(adding.RECURRENT_LAYERS), adding.DEFAULT_MODELS),
    "gap": (_gap, "remember a country across distractor words: RNN, LSTM, chrono LSTM (and GRU, with --models) "
                  "accuracy against gap", tuple(gap.MODELS), gap.DEFAULT_MODELS),
    "clipping": (_clipping, "exploding gradients with W = 2Q, SGD with and without gradient clipping", (), ()),
}


PLOT_FORMATS = (".png", ".svg", ".pdf")


def plot_path(text):
    """An argparse `type` for a figure's file: .png, .svg or .pdf, in a writable place."""
    if os.path.splitext(text)[1].lower() not in PLOT_FORMATS:
        raise argparse.ArgumentTypeError(f"cannot tell the format from {os.path.basename(text)!r}; "
                                         f"use a name ending in {', '.join(PLOT_FORMATS)}")
    return writable_file(text)


def add_vanishing_parser(subparsers):
    """Add the `vanishing` command, with one subcommand per experiment, to `subparsers`.

    Args:
        subparsers: the object `argparse.ArgumentParser.add_subparsers()` returned.

    Returns:
        The `vanishing` parser. Parsed arguments carry `run=run_vanishing`.
    """
    vanishing = subparsers.add_parser(
        "vanishing", help="vanishing and exploding gradients, measured and checked against theory",
        description="Vanishing and exploding gradients, measured with tinyseq and printed next to the "
                    "theory's predictions. --json also writes a CSV beside the JSON.")
    experiments = vanishing.add_subparsers(dest="experiment", required=True)
    for name, (_, description, choices, defaults) in EXPERIMENTS.items():
        parser = experiments.add_parser(name, help=description, description=description)
        if choices:
            parser.add_argument("--models", nargs="+", metavar="MODEL", choices=choices, default=list(defaults),
                                help=f"the models to compare, any of: {' '.join(choices)} "
                                     f"(default: {' '.join(defaults)})")
        parser.add_argument("--quick", action="store_true", help="a smaller run, in seconds (default: the full run)")
        parser.add_argument("--seed", type=at_least(0), default=0, metavar="N",
                            help="the seed (default 0; runs with several seeds use N, N+1, N+2)")
        parser.add_argument("--json", metavar="PATH", type=writable_file,
                            help="write the result as JSON, and the table as CSV beside it (default: neither)")
        parser.add_argument("--plot", metavar="PATH", type=plot_path,
                            help="save a figure (.png, .svg or .pdf; needs matplotlib; default: none)")
        parser.add_argument("--jobs", type=positive_int, default=2, metavar="N",
                            help="worker processes for the training runs (default 2; the numbers do not depend on it)")
        runs(parser, run_vanishing)
    return vanishing


def run_vanishing(args):
    """Run the experiment `args.experiment`, print its table and write the files asked for.

    Args:
        args: parsed arguments with experiment, quick, seed, json, plot, jobs and (but for clipping)
            models.

    Returns:
        The exit status, 0.

    Raises:
        CommandError: a plot is asked for but matplotlib is missing, or --models repeats a
            model (found before the run).
    """
    if args.plot:
        try:
            new_figure()  # find out now, not after the run, that matplotlib is missing
        except PlottingUnavailable as error:
            raise CommandError(str(error)) from None
    models = tuple(getattr(args, "models", ()))
    if len(set(models)) < len(models):
        raise CommandError(f"--models names a model more than once: {' '.join(models)}")
    run = EXPERIMENTS[args.experiment][0]
    result = run(args.quick, args.seed, args.jobs, models)
    print(result.table())
    if args.json:
        print("Wrote " + " and ".join(result.save(args.json)))
    if args.plot:
        result.plot(args.plot)
        print(f"Wrote {args.plot}")
    return 0
