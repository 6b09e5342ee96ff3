"""The `tinyseq` command.

    tinyseq imdb train [--quick] [--epochs 2] ...   the Keras IMDB walkthrough, end to end
    tinyseq imdb predict MODEL "some text"          sentiment of your own sentence
    tinyseq graph {rnn,lstm,gru} -o FILE            draw a cell's computation graph
    tinyseq vanishing {norms,adding,gap,clipping}   vanishing/exploding gradients, measured
    tinyseq exercise {list,start,check}             the course's exercises
    tinyseq demo                                    the bare engine learns XOR

Each application (apps/imdb.py, apps/graph.py, ...) adds its own subcommand. Errors all end
here: a user's mistake is one line on stderr, `tinyseq <command>: <what is wrong>`, and exit
code 2 (a failed check 1); Ctrl-C (and SIGTERM, handled as Ctrl-C) is exit code 130.
`--debug` shows the Python traceback instead. `--threads N` sets how many threads tinyseq
computes with (`tinyseq.threads`), before any command.
"""

from __future__ import annotations

import signal
import sys
import threading

from .. import threads
from .arguments import CommandError, Parser, positive_int
from .demo import add_demo_parser
from .exercise import add_exercise_parser
from .graph import add_graph_parser
from .imdb import add_imdb_parser
from .vanishing import add_vanishing_parser

EXIT_INTERRUPTED = 130


def build_parser():
    """The argument parser of the `tinyseq` command."""
    parser = Parser(prog="tinyseq", description="tinyseq: recurrent networks from primitive ops.",
                    epilog="Exit codes: 0 done, 1 a failed check or an image that could not be rendered, "
                           "2 a mistake in the command or its files (one line on stderr), 130 interrupted.")
    parser.add_argument("--debug", action="store_true",
                        help="on an error, show the Python traceback instead of one line (default: off)")
    parser.add_argument("--threads", type=positive_int, default=None, metavar="N",
                        help="threads to compute with: 1 keeps to one core, more adds a helper thread "
                             "beside the main one (default: the cores this process may use; see tinyseq.threads)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                     help="what to do; `tinyseq COMMAND --help` lists its options")
    add_imdb_parser(commands)
    add_graph_parser(commands)
    add_vanishing_parser(commands)
    add_exercise_parser(commands)
    add_demo_parser(commands)
    return parser


def main(argv=None):
    """Entry point of the `tinyseq` console command; returns the exit status.

    Args:
        argv: the words after `tinyseq` (default: the command line's).
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args, extras = build_parser().parse_known_args(argv)
    except SystemExit as stop:  # --help, or a bad command line (already reported in one line)
        return stop.code
    if extras:
        # argparse takes the words of a list of positionals (predict's texts) only up to the first
        # option; later ones come back here: `imdb predict MODEL --data PATH "a text"`.
        if hasattr(args, "text") and not any(word.startswith("-") and word != "-" for word in extras):
            args.text = [*args.text, *extras]
        else:
            # --threads and --debug belong to `tinyseq` itself, before the command
            command = args.prog.removeprefix("tinyseq ")
            hint = next((f"; put {flag} before the command: `tinyseq {flag}{' N' * (flag == '--threads')} {command} ...`"
                         for flag in (word.split("=")[0] for word in extras) if flag in ("--threads", "--debug")), "")
            print(f"{args.prog}: unrecognized arguments: {' '.join(extras)}{hint} (see `{args.prog} --help`)",
                  file=sys.stderr)
            return 2
    args.argv = argv  # for commands that print how to run them again (imdb train's --resume)
    threads.set_num_threads(args.threads)
    # A polite stop (kill, a scheduler's time limit) is treated as Ctrl-C: training stops after
    # the batch and keeps its checkpoint, and nothing is left half-written.
    in_main_thread = threading.current_thread() is threading.main_thread()  # only it may set handlers
    previous_sigterm = signal.signal(signal.SIGTERM, _as_ctrl_c) if in_main_thread else None
    try:
        return args.run(args)
    except (Exception, KeyboardInterrupt) as error:
        if args.debug:
            raise
        message, status = _explained(error)
        print(f"{args.prog}: {message}", file=sys.stderr)
        return status
    finally:
        if in_main_thread:  # None: a handler set outside Python; the default is the closest to it
            signal.signal(signal.SIGTERM, signal.SIG_DFL if previous_sigterm is None else previous_sigterm)


def _as_ctrl_c(signum, frame):
    """Pass SIGTERM on as SIGINT, to whichever Ctrl-C handler is active (`fit` has its own)."""
    signal.raise_signal(signal.SIGINT)


def _explained(error):
    """What to print about an error that ended a command, and the exit status."""
    if isinstance(error, CommandError):
        return str(error), error.exit_code
    if isinstance(error, KeyboardInterrupt):
        return str(error) or "interrupted", EXIT_INTERRUPTED
    if isinstance(error, OSError):  # e.g. a disk that filled up, or a file removed meanwhile
        return (f"{error.strerror}: {error.filename}" if error.strerror and error.filename else str(error)), 2
    return (f"unexpected error {type(error).__name__}: {error} (a bug in tinyseq: please report it with the "
            f"traceback that `tinyseq --debug ...` shows)"), 1


if __name__ == "__main__":
    sys.exit(main())
