"""The `tinyseq` command: `tinyseq demo`, and the subcommands later layers add."""

from __future__ import annotations

import argparse
import sys


def _demo(args):
    from .demo import train_xor
    print("Training a 2-8-1 network on XOR with tinyseq's autograd (primitive ops + backward):")
    train_xor(steps=args.steps, seed=args.seed)
    return 0


def build_parser():
    """The argument parser of the `tinyseq` command."""
    parser = argparse.ArgumentParser(prog="tinyseq", description="tinyseq: recurrent networks from primitive ops.")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="train a tiny network on XOR with the bare engine")
    demo.add_argument("--steps", type=int, default=500)
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(run=_demo)
    return parser


def main(argv=None):
    """Entry point of the `tinyseq` console command."""
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
