"""`tinyseq graph`: draw a recurrent cell's graph, or its gradient heatmap, to a file."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from ..viz.concept import DIAGRAMS, draw_cell_concept
from ..viz.drawing import FORMATS, GraphvizNotFoundError, draw, write
from ..viz.examples import CELL_TITLES, STATE_NAMES, cell_example
from ..viz.graph import retain_grads
from ..viz.unrolled import draw_unrolled_norms, unrolled_grad_norms
from .arguments import CommandError, at_least, positive_int, runs, unwritable_reason

DEFAULT_SCALE = (-5.0, 0.0)
# Past this many steps an op-level heatmap is too wide to read; --compact is suggested instead.
COMPACT_ABOVE = 20
# Past this many steps Graphviz takes minutes to hours to lay out every op (100 steps: ~20 s).
MAX_GRAPH_STEPS = 200

EPILOG = """\
examples:
  tinyseq graph lstm -o lstm_step.png                     the gates of one LSTM step
  tinyseq graph rnn --steps 16 --grad-heatmap -o rnn.png  where the gradient fades
  tinyseq graph lstm --steps 16 --grad-heatmap --collapse projection input_gate \\
      forget_gate candidate output_gate -o lstm.png       gates as single nodes
  tinyseq graph lstm --concept -o cell.svg                the textbook picture of the cell
  tinyseq graph rnn --steps 100 --compact --compare lstm -o fade.svg
                                                          one box per step, RNN above LSTM

drawing your own code (Python):
  from tinyseq import viz
  with tinyseq.name_scope("my_block"):      # each scope becomes a labelled cluster
      y = ...
  viz.write(viz.draw(y, labels={x: "x"}), "mine.svg")
  # heatmap: viz.retain_grads(loss); loss.backward(); viz.draw(loss, grad_heatmap=True)
"""


def drawing_path(text):
    """An argparse `type` for the file to draw to: a suffix that names a format, in a writable place."""
    suffix = Path(text).suffix.lower().lstrip(".")
    if suffix not in FORMATS + ("dot", "gv"):
        raise argparse.ArgumentTypeError(f"cannot tell the format from {Path(text).name!r}; use a name ending "
                                         f"in .svg, .png, .pdf or .dot")
    problem = unwritable_reason(text)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return Path(text)


def heatmap_range(text):
    """An argparse `type` for one end of the heatmap's log10 range: a finite number."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def add_graph_parser(subparsers):
    """Add the `graph` subcommand to an argparse subparsers object.

    Args:
        subparsers: what `ArgumentParser.add_subparsers()` returned.

    Returns:
        The new subparser; its `run` default is `graph_command`.
    """
    parser = subparsers.add_parser(
        "graph", help="draw a recurrent cell's computation graph or gradient heatmap",
        description="Draw the computation graph of one step of a recurrent cell, its gates as "
                    "clusters, or the cell unrolled over time with a cluster per step. With "
                    "--grad-heatmap each node is coloured by log10 of its gradient norm after "
                    "backward from loss = sum(h(T)).",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("cell", choices=sorted(STATE_NAMES), help="the cell to draw")
    parser.add_argument("-o", "--output", required=True, type=drawing_path, metavar="FILE",
                        help=f"the file to write; its suffix picks the format ({', '.join(FORMATS)}, dot)")
    parser.add_argument("--steps", type=positive_int, default=1, metavar="N",
                        help="time steps to unroll (default 1: a single step, no time clusters)")
    parser.add_argument("--grad-heatmap", action="store_true",
                        help="colour nodes by log10 of their gradient norm (default: no); past "
                             f"{COMPACT_ABOVE} steps the drawing gets too wide to read: use --compact")
    parser.add_argument("--compact", action="store_true",
                        help="with --steps N: draw one box per time step instead of the graph, coloured "
                             "by log10 of the gradient norm reaching h(t) from loss = sum(h(N)); 16 to "
                             "100 steps fit a page (default: no)")
    parser.add_argument("--compare", nargs="+", choices=sorted(STATE_NAMES), default=[], metavar="CELL",
                        help="with --compact: add a row for each of these cells (rnn, lstm, gru), on "
                             "the same colour scale (default: none)")
    parser.add_argument("--concept", action="store_true",
                        help="draw the textbook picture of an LSTM or GRU cell instead of its graph: "
                             "the state it carries as a line, the gates as valves on it, in the colours "
                             "of the graph's clusters; with --values, one step's gate values (default: no)")
    parser.add_argument("--grad-scale", type=heatmap_range, nargs=2, metavar=("LOW", "HIGH"),
                        help="the log10 range of the colours, LOW below HIGH (default: -5 0 for "
                             "--grad-heatmap, fixed so that drawings can be compared; the decades the "
                             "norms span for --compact)")
    parser.add_argument("--collapse", action="extend", nargs="+", default=[], metavar="SCOPE",
                        help="draw every scope of this name as one node (e.g. forget_gate t=3; default: none)")
    parser.add_argument("--depth", type=at_least(0), default=None, metavar="N",
                        help="draw scopes nested deeper than this as single nodes (0: one node per time step "
                             "of an unrolled cell; default: no limit)")
    parser.add_argument("--params", action=argparse.BooleanOptionalAction, default=None,
                        help="draw the weights (default: for a single step only)")
    parser.add_argument("--values", action="store_true",
                        help="show each tensor's value range; with --concept, each gate's values (default: no)")
    parser.add_argument("--shapes", action=argparse.BooleanOptionalAction, default=True,
                        help="show each tensor's shape (default: yes)")
    parser.add_argument("--units", type=positive_int, default=3, metavar="N", help="the cell's size (default 3)")
    parser.add_argument("--features", type=positive_int, default=2, metavar="N", help="the input size (default 2)")
    parser.add_argument("--batch", type=positive_int, default=1, metavar="N", help="the batch size (default 1)")
    parser.add_argument("--seed", type=at_least(0), default=0, metavar="N", help="seeds weights and inputs (default 0)")
    return runs(parser, graph_command)


def graph_command(args):
    """Run `tinyseq graph` with parsed arguments (see `add_graph_parser`).

    Returns:
        The exit status: 0 on success, 1 if the image could not be rendered (the DOT source is
        then written next to it).

    Raises:
        CommandError: the --grad-scale range is empty or reversed, or the options do not go
            together (see `check_drawing_options`).
    """
    if args.grad_scale is not None:
        low, high = args.grad_scale
        if not low < high:
            raise CommandError(f"--grad-scale: LOW must be below HIGH, got {low:g} {high:g}")
    check_drawing_options(args)
    if args.concept:
        step = cell_example(args.cell, units=args.units, features=args.features, batch=args.batch,
                            seed=args.seed).outputs if args.values else None
        return save(draw_cell_concept(args.cell, step), args.output)
    if args.compact:
        rows = {CELL_TITLES[kind]: unrolled_grad_norms(kind, args.steps, units=args.units,
                                                       features=args.features, seed=args.seed)
                for kind in dict.fromkeys([args.cell, *args.compare])}
        return save(draw_unrolled_norms(rows, grad_scale=args.grad_scale), args.output)
    if args.grad_heatmap and args.steps > COMPACT_ABOVE and args.depth is None and not args.collapse:
        print(f"tinyseq graph: a heatmap of {args.steps} steps draws every op and gets very wide; "
              f"--compact draws one box per step instead", file=sys.stderr)
    example = cell_example(args.cell, steps=args.steps, units=args.units, features=args.features,
                           batch=args.batch, seed=args.seed)
    outputs, title = example.outputs, example.title
    if args.grad_heatmap:
        retain_grads(example.loss)
        example.loss.backward()
        outputs = example.loss
        title += f": gradients of loss = sum(h({args.steps if args.steps > 1 else 't'}))"
    graph = draw(outputs, labels=example.labels, params=example.params,
                 show_params=args.steps == 1 if args.params is None else args.params,
                 grad_heatmap=args.grad_heatmap, grad_scale=args.grad_scale or DEFAULT_SCALE,
                 show_shapes=args.shapes, show_values=args.values, collapse=args.collapse,
                 max_depth=args.depth, title=title)
    return save(graph, args.output)


def check_drawing_options(args):
    """Raise CommandError for options that do not go together: --concept draws one step of an
    LSTM or GRU; --compact needs several steps; --compare only adds rows to --compact; a graph
    of every op has at most MAX_GRAPH_STEPS steps."""
    if args.concept:
        if args.cell not in DIAGRAMS:
            raise CommandError(f"--concept draws an LSTM or GRU cell ({', '.join(DIAGRAMS)}); a simple "
                               f"RNN has no gates: draw its graph with `tinyseq graph rnn -o FILE`")
        if args.steps > 1 or args.grad_heatmap or args.compact:
            raise CommandError("--concept draws one step: leave out --steps, --grad-heatmap and --compact")
    if args.compact and args.steps < 2:
        raise CommandError("--compact draws one box per time step: give the number of steps, "
                           "e.g. --steps 50")
    if args.compare and not args.compact:
        raise CommandError("--compare adds rows to a --compact drawing: add --compact --steps N")
    if args.steps > MAX_GRAPH_STEPS and not args.compact:
        raise CommandError(f"--steps {args.steps}: a graph of every op can show at most {MAX_GRAPH_STEPS} steps "
                           f"(Graphviz would take hours to lay it out); --compact draws one box per step")


def save(graph, path):
    """Write `graph` to `path` and say so; without Graphviz, write the DOT source next to it.

    Returns:
        The exit status: 0, or 1 if only the DOT source could be written.
    """
    try:
        write(graph, path)
    except GraphvizNotFoundError as error:
        fallback = write(graph, path.with_suffix(".dot"))
        print(f"tinyseq graph: {error}\nWrote the DOT source to {fallback} instead.", file=sys.stderr)
        return 1
    print(f"wrote {path}")
    return 0
