"""`tinyseq graph`: draw a recurrent cell's graph, or its gradient heatmap, to a file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .drawing import FORMATS, GraphvizNotFoundError, draw, write
from .examples import STATE_NAMES, cell_example
from .graph import retain_grads

DEFAULT_SCALE = (-5.0, 0.0)

EPILOG = """\
examples:
  tinyseq graph lstm -o lstm_step.png                     the gates of one LSTM step
  tinyseq graph rnn --steps 16 --grad-heatmap -o rnn.png  where the gradient fades
  tinyseq graph lstm --steps 16 --grad-heatmap --collapse projection input_gate \\
      forget_gate candidate output_gate -o lstm.png       gates as single nodes

drawing your own code (Python):
  from tinyseq import viz
  with tinyseq.name_scope("my_block"):      # each scope becomes a labelled cluster
      y = ...
  viz.write(viz.draw(y, labels={x: "x"}), "mine.svg")
  # heatmap: viz.retain_grads(loss); loss.backward(); viz.draw(loss, grad_heatmap=True)
"""


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
    parser.add_argument("-o", "--output", required=True, type=Path,
                        help=f"the file to write; its suffix picks the format ({', '.join(FORMATS)}, dot)")
    parser.add_argument("--steps", type=int, default=1,
                        help="time steps to unroll (default 1: a single step, no time clusters)")
    parser.add_argument("--grad-heatmap", action="store_true",
                        help="colour nodes by log10 of their gradient norm")
    parser.add_argument("--grad-scale", type=float, nargs=2, metavar=("LOW", "HIGH"),
                        default=DEFAULT_SCALE,
                        help="the heatmap's log10 range (default: %(default)s, fixed so that "
                             "drawings can be compared)")
    parser.add_argument("--collapse", action="extend", nargs="+", default=[], metavar="SCOPE",
                        help="draw every scope of this name as one node (e.g. forget_gate t=3)")
    parser.add_argument("--depth", type=int, default=None,
                        help="draw scopes nested deeper than this as single nodes")
    parser.add_argument("--params", action=argparse.BooleanOptionalAction, default=None,
                        help="draw the weights (default: for a single step only)")
    parser.add_argument("--values", action="store_true", help="show each tensor's value range")
    parser.add_argument("--shapes", action=argparse.BooleanOptionalAction, default=True,
                        help="show each tensor's shape (default: yes)")
    parser.add_argument("--units", type=int, default=3, help="the cell's size (default 3)")
    parser.add_argument("--features", type=int, default=2, help="the input size (default 2)")
    parser.add_argument("--batch", type=int, default=1, help="the batch size (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="seeds weights and inputs (default 0)")
    parser.set_defaults(run=graph_command)
    return parser


def graph_command(args):
    """Run `tinyseq graph` with parsed arguments (see `add_graph_parser`).

    Returns:
        The exit status: 0 on success, 1 if the image could not be rendered (the DOT source is
        then written next to it), 2 for invalid arguments.
    """
    suffix = args.output.suffix.lower().lstrip(".")
    if suffix not in FORMATS + ("dot", "gv"):
        print(f"tinyseq graph: cannot tell the format from {args.output.name!r}; use a name ending "
              f"in .svg, .png, .pdf or .dot", file=sys.stderr)
        return 2
    if args.steps < 1:
        print(f"tinyseq graph: --steps must be at least 1, got {args.steps}", file=sys.stderr)
        return 2
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
                 grad_heatmap=args.grad_heatmap, grad_scale=args.grad_scale,
                 show_shapes=args.shapes, show_values=args.values, collapse=args.collapse,
                 max_depth=args.depth, title=title)
    try:
        write(graph, args.output)
    except GraphvizNotFoundError as error:
        fallback = write(graph, args.output.with_suffix(".dot"))
        print(f"tinyseq graph: {error}\nWrote the DOT source to {fallback} instead.", file=sys.stderr)
        return 1
    print(f"wrote {args.output}")
    return 0
