"""Published long-memory experiments as data: each paper's protocol, what it reports, how tinyseq's
reproduction differs from it, and the reproduction's runs read back from its sweep file.

    experiment = EXPERIMENTS["arjovsky2016-adding"]
    for values in experiment.sweeps():             # what benchmarks/papers.py runs
        run_sweep(experiment.task, values, experiment.result_path())
    records = load_reproduction(experiment)
    figure = reproduction_figure(experiment, records)
    headers, rows = comparison_table(experiment, records)

The papers:

* Arjovsky, Shah & Bengio (2016), "Unitary evolution recurrent neural networks", ICML, §4.1
  (copying memory, Figure 1) and §4.2 (adding, Figure 2). Their settings come from the paper's
  text and the authors' code (github.com/amarshah/complex_RNN: memory_problem.py,
  adding_problem.py, models.py, optimizations.py, and the LaTeX of paper/uRNN/uRNN.tex). What
  they report is the text's verdicts, and numbers read by eye off the figure files of that
  repository (draft of 14 December 2015): approximate, to the resolution of a plotted curve.
* Hochreiter & Schmidhuber (1997), "Long short-term memory", Neural Computation 9(8), experiment
  4, the adding problem at T = 100 (also experiment 1 of their NIPS 9 paper, "LSTM can solve hard
  long time lag problems"): the number of training sequences until their stop criterion.

"Leaves the baseline" is tinyseq's definition (`training.leaves_baseline`), measured against the
no-memory loss of the run's own test set (`test_set_baseline`): the first evaluated iteration
whose test loss is below 0.9 times it. For the papers' curves it is where their plotted curve
crosses that line.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .common import colour_of, label_of, new_figure
from .sweep import read_runs, run_key, sweep_grid
from .tasks import get_task
from .training import LEAVE_BASELINE_FRACTION

RESULTS = Path(__file__).resolve().parents[2] / "docs" / "results" / "papers"
"""Where the reproductions' sweep files are kept: docs/results/papers/ of the source tree."""


@dataclass(frozen=True)
class Reference:
    """A paper, as the docs cite it."""
    citation: str
    title: str
    venue: str
    url: str


@dataclass(frozen=True)
class Reported:
    """What a paper reports for one cell at one length.

    Attributes:
        cell: tinyseq's name of the cell ("rnn" for the tanh RNN).
        length: T.
        verdict: the paper's words, or what its figure shows, in one line.
        leaves_baseline: the iteration (batch) at which the paper's curve falls below 0.9 x
            baseline, or None if it never does within `horizon`.
        final_loss: the curve's loss at `horizon`, read off the figure (None: not shown).
        horizon: the iterations (batches) the paper's curve covers.
        curve: whether the paper shows a curve to read `leaves_baseline` from (False: it gives
            only its own criterion, in `verdict`).
    """
    cell: str
    length: int
    verdict: str
    leaves_baseline: int | None
    final_loss: float | None
    horizon: int
    curve: bool = True


@dataclass(frozen=True)
class PaperExperiment:
    """One published experiment and its reproduction in tinyseq.

    Attributes:
        key: the experiment's name, also its result file's (`<key>.jsonl`).
        title: a short title.
        reference: the paper.
        section: where in the paper.
        task: tinyseq's task ("adding", "copying").
        lengths: the lengths T reproduced.
        units: {cell: hidden size}, the paper's, per cell.
        training: the `TrainingSettings` values of every run (the paper's protocol, as far as
            tinyseq has the setting).
        iterations: {T: iterations run by every cell} (the cut: fewer than the paper's horizon).
        seeds: the seeds run.
        protocol: the paper's setup, in words.
        reported: what the paper reports, one `Reported` per cell and length.
        differences: where tinyseq's runs differ from the paper's protocol, and why.
        paper_runs: how many runs the paper's figure or number stands for.
        target_loss: a loss that the paper's own success criterion corresponds to (None: none).
    """
    key: str
    title: str
    reference: Reference
    section: str
    task: str
    lengths: tuple
    units: dict
    training: dict
    iterations: dict
    seeds: tuple
    protocol: str
    reported: tuple
    differences: tuple
    paper_runs: str
    target_loss: float | None = None

    def sweeps(self):
        """The `run_sweep` values of the reproduction: one grid per cell and length (units and iterations differ)."""
        return [{"cell": cell, "length": length, "seed": list(self.seeds), "iterations": self.iterations[length],
                 "units": units, **self.training}
                for cell, units in self.units.items() for length in self.lengths]

    def result_path(self, folder=RESULTS):
        """The sweep file of the reproduction in `folder`."""
        return Path(folder) / f"{self.key}.jsonl"

    def reported_for(self, cell, length):
        """The paper's `Reported` for `cell` at `length`, or None."""
        return next((r for r in self.reported if r.cell == cell and r.length == length), None)


ARJOVSKY_2016 = Reference(
    "Arjovsky, Shah & Bengio (2016)", "Unitary evolution recurrent neural networks",
    "Proceedings of the 33rd International Conference on Machine Learning (ICML), PMLR 48; arXiv:1511.06464",
    "https://arxiv.org/abs/1511.06464")
HOCHREITER_1997 = Reference(
    "Hochreiter & Schmidhuber (1997)", "Long short-term memory", "Neural Computation 9(8):1735-1780",
    "https://doi.org/10.1162/neco.1997.9.8.1735")

# Arjovsky et al.: RMSProp, learning rate 1e-3, decay 0.9, batches of 20; the RNN's and the
# LSTM's gradients clipped element by element to [-1, 1] (T.clip in their code).
ARJOVSKY_TRAINING = {"batch_size": 20, "optimizer": "rmsprop", "learning_rate": 1e-3, "global_clipnorm": None,
                     "clip_value": 1.0, "eval_every": 100, "test_size": 256}
ARJOVSKY_DIFFERENCES = (
    ("Initialisation: the authors' code draws every matrix (input, recurrent, output) from Glorot's uniform "
     "distribution; tinyseq's RNN and LSTM start their recurrent kernel orthogonal (Keras's default), and its "
     "IRNN draws the input kernel from N(0, 0.001^2) as Le et al. (2015) do (the authors: Glorot uniform)."),
    ("The LSTM: the authors' output gate also sees the new cell state through a full matrix (units x units, "
     "Glorot uniform; not the diagonal peepholes of Gers et al.), and it learns its initial hidden and cell states; "
     "tinyseq's (Keras's) has neither and starts from zeros. Both start the forget-gate bias at 1."),
    ("RMSProp: the authors start the running mean of squared gradients at 1e-3 and add no epsilon; tinyseq's "
     "(Keras's) starts it at 0 with epsilon 1e-7, so its first steps are larger."),
    ("The test set: the authors measure on 10,000 fixed sequences every 50 iterations; tinyseq on 256 every 100, "
     "which costs a tenth of the time and makes each point noisier (about 10 % relative for the losses here)."),
    ("The data: the authors draw 100,000 training sequences once and cycle through them; tinyseq draws a fresh "
     "batch every iteration."),
)

ARJOVSKY_COPYING = PaperExperiment(
    key="arjovsky2016-copying",
    title="Copying memory, T = 100 and 200",
    reference=ARJOVSKY_2016,
    section="§4.1, Figure 1",
    task="copying",
    lengths=(100, 200),
    units={"lstm": 40, "rnn": 80},
    training=ARJOVSKY_TRAINING,
    iterations={100: 2000, 200: 2000},
    seeds=(0,),
    protocol="10 symbols drawn from 8, T - 1 blanks, a delimiter, 10 blanks (T + 20 steps); the cross-entropy "
             "of the symbol predicted at every step, averaged over the T + 20 steps. LSTM with 40 units, tanh "
             "RNN with 80 (about 6,500 parameters each); RMSProp, learning rate 1e-3, decay 0.9, batches of 20, "
             "gradients clipped to [-1, 1]; curves over 1,000,000 training sequences (50,000 iterations).",
    reported=(
        Reported("lstm", 100, "the only case where the LSTM beats the baseline: after a plateau, slowly "
                              "(0.145 against 0.173 after 50,000 iterations)", 30000, 0.145, 50000),
        Reported("rnn", 100, "the cost of the memoryless strategy throughout", None, 0.172, 50000),
        Reported("lstm", 200, "almost exactly the baseline; a shallow dip to 0.090 (baseline 0.0945) between "
                              "10,000 and 17,500 iterations", None, 0.0945, 50000),
        Reported("rnn", 200, "the cost of the memoryless strategy throughout", None, 0.0945, 50000),
    ),
    differences=ARJOVSKY_DIFFERENCES,
    paper_runs="one curve per model",
)

ARJOVSKY_ADDING = PaperExperiment(
    key="arjovsky2016-adding",
    title="Adding, T = 100, 200 and 400",
    reference=ARJOVSKY_2016,
    section="§4.2, Figure 2",
    task="adding",
    lengths=(100, 200, 400),
    units={"lstm": 128, "rnn": 128, "irnn": 128},
    training=ARJOVSKY_TRAINING,
    iterations={100: 3000, 200: 2000, 400: 1000},
    seeds=(0,),
    protocol="Values from U[0, 1], one marker in each half of the sequence, the target the sum of the two "
             "marked values; mean squared error, baseline 0.167. 128 units for the tanh RNN, the IRNN and the "
             "LSTM; RMSProp, learning rate 1e-3, decay 0.9, batches of 20 and of 50 (the better one shown), "
             "gradients clipped to [-1, 1]; curves over 30,000 to 47,000 iterations.",
    reported=(
        Reported("lstm", 100, "beats the baseline convincingly", 1200, 0.005, 30000),
        Reported("rnn", 100, "does not beat the baseline", None, 0.167, 30000),
        Reported("irnn", 100, "does not beat the baseline (not plotted: 'particularly unstable')", None, None, 30000),
        Reported("lstm", 200, "beats the baseline convincingly", 6000, 0.003, 47000),
        Reported("rnn", 200, "does not beat the baseline", None, 0.167, 36000),
        Reported("irnn", 200, "does not beat the baseline (not plotted)", None, None, 36000),
        Reported("lstm", 400, "beats the baseline convincingly", 8000, 0.005, 30000),
        Reported("rnn", 400, "does not beat the baseline", None, 0.167, 36000),
        Reported("irnn", 400, "does not beat the baseline (not plotted)", None, None, 36000),
    ),
    differences=(*ARJOVSKY_DIFFERENCES,
                 ("The IRNN: the authors ran it only 'with incredibly low learning rates and gradient clipping' "
                  "and do not give them; tinyseq runs it with the others' settings.")),
    paper_runs="one curve per model, the better of batches of 20 and 50",
)

HOCHREITER_ADDING = PaperExperiment(
    key="hochreiter1997-adding",
    title="Adding, T = 100",
    reference=HOCHREITER_1997,
    section="experiment 4, the adding problem",
    task="adding",
    lengths=(100,),
    units={"lstm": 4},
    training={"batch_size": 1, "optimizer": "sgd", "learning_rate": 0.5, "global_clipnorm": None,
              "clip_value": None, "eval_every": 500, "test_size": 256},
    iterations={100: 3000},
    seeds=(0,),
    protocol=("Values from U[-1, 1], sequences of T to 1.1 T steps, the first marker among the first 10 steps and "
              "the second among the first T/2 - 1; the target 0.5 + (X1 + X2) / 4, in [0, 1]. Two memory blocks "
              "of two cells (4 cells, no forget gate; the output unit sees only the cells), trained online, one "
              "sequence at a time, by gradient descent (learning rate 0.5, as we read the paper). Training stops "
              "once the average training error is below 0.01 and the 2,000 most recent sequences all had an "
              "absolute error below 0.04: at T = 100, after 74,000 training sequences."),
    reported=(Reported("lstm", 100, "solved (its stop criterion met) after 74,000 training sequences",
                       None, None, 74000, curve=False),),
    differences=(
        ("The task: tinyseq's adding problem is Arjovsky et al.'s (values in [0, 1], fixed length, one marker in "
         "each half, the plain sum as target). Their target is the sum of values 2v - 1 scaled to (X1 + X2 + 2) / 4, "
         "which is exactly half of tinyseq's sum, so their average error of 0.01 corresponds to a mean squared "
         "error of 0.04 here (reading their error as a mean squared error), their baseline to 1/24 and tinyseq's "
         "to 1/6. Their first marker is always among the first 10 steps, a longer lag than tinyseq's."),
        ("The network: 4 units of tinyseq's LSTM (with a forget gate, bias 1, Keras's initialisation) and a "
         "linear Dense(1) read-out; theirs has no forget gate, negative input-gate biases and a sigmoid output "
         "unit, and truncates the gradient outside the memory cells."),
        ("The measure: the test MSE on 256 fixed sequences every 500 sequences, not their training-error "
         "criterion; 'reached' below is the first test MSE under 0.04."),
    ),
    paper_runs="as the paper reports it",
    target_loss=0.04,
)

EXPERIMENTS = {experiment.key: experiment for experiment in (ARJOVSKY_COPYING, ARJOVSKY_ADDING, HOCHREITER_ADDING)}


def load_reproduction(experiment, folder=RESULTS):
    """The runs of `experiment`'s reproduction, from its sweep file, in the order cell, length, seed.

    Only the runs of the current protocol count (its settings, iterations and seeds); runs of
    earlier protocols may stay in the file.

    Raises:
        FileNotFoundError: the file is missing (run benchmarks/papers.py to make it).
    """
    path = experiment.result_path(folder)
    if not os.path.exists(path):
        raise FileNotFoundError(f"load_reproduction: {path} does not exist; python benchmarks/papers.py makes it")
    records, _ = read_runs(path)
    protocol = {run_key(experiment.task, settings) for values in experiment.sweeps()
                for settings in sweep_grid(experiment.task, values)}
    order = list(experiment.units)
    return sorted((r for r in records if run_key(r["task"], r["settings"]) in protocol),
                  key=lambda r: (order.index(r["settings"]["cell"]), r["settings"]["length"], r["settings"]["seed"]))


def test_set_baseline(record):
    """The no-memory loss on the fixed test set the run was measured on.

    For the copying task it is the analytic baseline whatever the test set (every test sequence
    has 10 symbols to recall among T + 20 steps). For the adding problem it is the MSE of always
    answering 1, the mean of the sum, on that test set: with a few hundred sequences it differs
    from 1/6 by several per cent (about 0.012 for 256), so a model that has learnt only the mean
    can sit well below 0.9 x 1/6, or above it. The test set is drawn again from the run's seed, as
    the run drew it (`training.train`: first, from `np.random.default_rng([seed, length])`).
    """
    settings, result = record["settings"], record["result"]
    if record["task"] != "adding":
        return result["baseline"]
    task = get_task("adding", "test_set_baseline")
    _, targets = task.batch(settings["test_size"], settings["length"],
                            np.random.default_rng([settings["seed"], settings["length"]]))
    return task.no_memory_loss(targets)


def leaves_test_baseline(record):
    """The first evaluated iteration with test loss below 0.9 x `test_set_baseline`, or None."""
    line = LEAVE_BASELINE_FRACTION * test_set_baseline(record)
    return first_below(record["result"]["curve"], line)


def first_below(curve, loss):
    """The first iteration of `curve` ([iteration, loss] pairs) whose loss is below `loss`, or None."""
    return next((iteration for iteration, value in curve if value is not None and value < loss), None)


def _iterations(value):
    return "never" if value is None else f"{value:,}"


def comparison_table(experiment, records):
    """The paper's figures beside tinyseq's, one row per cell and length.

    Returns:
        (headers, rows) of text, for `tinyseq.course.table`.
    """
    headers = ["T", "cell", "paper: leaves baseline", "paper: loss at end", "paper: iterations",
               "tinyseq: leaves baseline", "tinyseq: final loss", "tinyseq: iterations", "seeds"]
    if experiment.target_loss is not None:
        headers.insert(6, f"tinyseq: below {experiment.target_loss:g}")
    rows = []
    for cell in experiment.units:
        for length in experiment.lengths:
            ran = [r for r in records if r["settings"]["cell"] == cell and r["settings"]["length"] == length]
            runs = [r["result"] for r in ran]
            paper = experiment.reported_for(cell, length)
            row = [str(length), label_of(cell),
                   "-" if paper is None or not paper.curve else (
                       f"~{_iterations(paper.leaves_baseline)}" if paper.leaves_baseline else "never"),
                   "-" if paper is None or paper.final_loss is None else f"~{paper.final_loss:g}",
                   "-" if paper is None else f"{paper.horizon:,}",
                   " / ".join(_iterations(leaves_test_baseline(r)) for r in ran) or "not run",
                   " / ".join(_loss(run["final_loss"]) for run in runs) or "-",
                   " / ".join(f"{run['iterations']:,}" for run in runs) or "-",
                   " ".join(str(run["seed"]) for run in runs) or "-"]
            if experiment.target_loss is not None:
                row.insert(6, " / ".join(_iterations(first_below(run["curve"], experiment.target_loss))
                                         for run in runs) or "-")
            rows.append(row)
    return headers, rows


def _loss(value):
    return "diverged" if value is None or not np.isfinite(value) else f"{value:.4f}"


def reproduction_figure(experiment, records):
    """tinyseq's test-loss curves, one panel per length, with the baseline and the paper's marks.

    Each panel shows every cell's curve (one line per seed), the no-memory loss of the test set
    (dashed, `test_set_baseline`), 0.9 x it (dotted: below it a run has left the baseline), and
    where the paper's curve left the baseline (a vertical line in the cell's colour, or a note at
    the right edge when that is beyond the iterations run).

    Returns:
        A matplotlib `Figure`.
    """
    lengths = experiment.lengths
    figure = new_figure(4.2 * len(lengths), 3.6)
    axes_list = np.atleast_1d(figure.subplots(1, len(lengths)))
    for axes, length in zip(axes_list, lengths):
        baseline = None
        for cell in experiment.units:
            ran = [r for r in records if r["settings"]["cell"] == cell and r["settings"]["length"] == length]
            for index, record in enumerate(ran):
                steps, losses = zip(*record["result"]["curve"])
                losses = [np.nan if value is None else value for value in losses]
                axes.plot(steps, losses, color=colour_of(cell), alpha=0.85,
                          label=f"tinyseq {label_of(cell)}" if index == 0 else None)
                baseline = test_set_baseline(record)
            paper = experiment.reported_for(cell, length)
            if paper is not None and paper.leaves_baseline is not None:
                ran = experiment.iterations[length]
                if paper.leaves_baseline <= ran:
                    axes.axvline(paper.leaves_baseline, color=colour_of(cell), linestyle="-.", linewidth=1,
                                 label=f"paper: {label_of(cell)} leaves the baseline")
                else:  # beyond the iterations run: say where, at the right edge
                    axes.annotate(f"paper: {label_of(cell)} leaves\nthe baseline at ~{paper.leaves_baseline:,} →",
                                  xy=(1, 0.97), xycoords="axes fraction", ha="right", va="top", fontsize="x-small",
                                  color=colour_of(cell))
        if baseline is not None:
            axes.axhline(baseline, color="black", linestyle="--", linewidth=0.9, label="no-memory loss (test set)")
            axes.axhline(LEAVE_BASELINE_FRACTION * baseline, color="grey", linestyle=":", linewidth=0.9,
                         label=f"{LEAVE_BASELINE_FRACTION:g} x baseline")
            axes.set_ylim(0, 2 * baseline)
        if experiment.target_loss is not None:
            axes.axhline(experiment.target_loss, color="tab:orange", linestyle=":", linewidth=0.9,
                         label=f"paper's criterion ({experiment.target_loss:g})")
        axes.set_xlim(0, experiment.iterations[length])
        axes.set_title(f"T = {length}")
        axes.set_xlabel("iteration")
    axes_list[0].set_ylabel("test loss")
    axes_list[-1].legend(fontsize="x-small")
    figure.suptitle(f"{experiment.reference.citation}, {experiment.section}: tinyseq's runs")
    return figure


def cuts_table(experiments=None):
    """What each reproduction ran against what the paper ran, per length: the cut, as a table.

    Returns:
        (headers, rows) of text, for `tinyseq.course.table`.
    """
    headers = ["experiment", "T", "paper: iterations", "tinyseq: iterations", "share run", "paper: runs",
               "tinyseq: seeds"]
    rows = []
    for experiment in experiments or EXPERIMENTS.values():
        for length in experiment.lengths:
            horizon = max(r.horizon for r in experiment.reported if r.length == length)
            run = experiment.iterations[length]
            rows.append([f"{experiment.reference.citation}, {experiment.title}", str(length), f"{horizon:,}",
                         f"{run:,}", f"{run / horizon:.0%}", experiment.paper_runs,
                         " ".join(str(seed) for seed in experiment.seeds)])
    return headers, rows
