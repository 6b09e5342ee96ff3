"""`tinyseq exercise`: list the course's exercises, start one, check an answer.

    tinyseq exercise list                          the exercises, with their tutorials
    tinyseq exercise start NAME [--dir DIR]        write NAME.py, a stub that states the task
    tinyseq exercise check FILE                    exit 0 when right; 1 and what is wrong otherwise
"""

from __future__ import annotations

import argparse

from .. import exercises
from .arguments import CommandError, runs

EXAMPLES = """\
examples:
  tinyseq exercise list
  tinyseq exercise start lstm_cell            writes lstm_cell.py here; the task is its docstring
  tinyseq exercise check lstm_cell.py         run it again after every change
"""


def add_exercise_parser(commands):
    """Add the `exercise` command to `commands` (what `ArgumentParser.add_subparsers()` returned)."""
    parser = commands.add_parser(
        "exercise", help="the course's graded exercises: list, start, check",
        description="Graded exercises along the tutorials: `start` writes a stub whose docstring states "
                    "the task; `check` runs your file on random shapes and seeds against tinyseq's own "
                    "implementation and says what is wrong.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = parser.add_subparsers(dest="exercise_action", required=True, metavar="ACTION")

    runs(actions.add_parser("list", help="the exercises, their tutorials and tasks"), run_list)

    start = actions.add_parser("start", help="write NAME.py, the stub of an exercise")
    start.add_argument("name", metavar="NAME", help=f"one of: {', '.join(exercises.EXERCISES)}")
    start.add_argument("--dir", default=".", metavar="DIR", help="the folder to write it in (default: here)")
    start.add_argument("--force", action="store_true",
                       help="overwrite an existing NAME.py with a fresh stub (your work is lost; default: refuse)")
    runs(start, run_start)

    check = actions.add_parser("check", help="check your answer; exit 0 when right, 1 when not")
    check.add_argument("file", metavar="FILE", help="your file, e.g. lstm_cell.py")
    runs(check, run_check)
    return parser


def run_list(args):
    """Print each exercise's name, tutorial and task; return 0."""
    width = max(len(name) for name in exercises.EXERCISES)
    tutorial_width = max(len(exercise.tutorial) for exercise in exercises.EXERCISES.values())
    for name, exercise in exercises.EXERCISES.items():
        print(f"{name:<{width}}  {exercise.tutorial:<{tutorial_width}}  {exercise.task}")
    print("\nStart one with `tinyseq exercise start NAME`, check it with `tinyseq exercise check NAME.py`.")
    return 0


def run_start(args):
    """Write the stub of exercise `args.name` into `args.dir`; return 0."""
    try:
        path = exercises.start(args.name, args.dir, force=args.force)
    except (KeyError, FileExistsError, NotADirectoryError) as error:
        raise CommandError(error.args[0]) from None
    print(f"Wrote {path}: the task is in its docstring. When you have written it, run\n"
          f"    tinyseq exercise check {path}")
    return 0


def run_check(args):
    """Check the learner's file; print the verdict; return 0 when right, 1 when not."""
    try:
        passed, message = exercises.check_file(args.file)
    except FileNotFoundError as error:
        raise CommandError(f"{error.args[0]}; `tinyseq exercise start NAME` writes one") from None
    except KeyError:
        raise CommandError(f"cannot tell which exercise {args.file} answers: keep the stub's line "
                           f"EXERCISE = \"NAME\", or name the file after the exercise "
                           f"({', '.join(exercises.EXERCISES)})") from None
    print(message)
    return 0 if passed else 1
