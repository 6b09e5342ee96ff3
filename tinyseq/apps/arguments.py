"""What every `tinyseq` command shares: its parser class, argument checks, and its error type.

A user's mistake (a bad value, a missing file, a place that cannot be written) is found as early
as possible, preferably while the arguments are parsed, and reported as one line:
`tinyseq <command>: <what is wrong and what to do>`, exit code 2.
"""

from __future__ import annotations

import argparse
import os
import sys


class CommandError(Exception):
    """A mistake the user can fix; `tinyseq` prints it as one line and exits with `exit_code`."""

    def __init__(self, message, exit_code=2):
        super().__init__(message)
        self.exit_code = exit_code


class Parser(argparse.ArgumentParser):
    """An ArgumentParser that reports a bad command line in one line, `<prog>: <message>`, and
    points to --help instead of printing the whole usage."""

    def error(self, message):
        """Print `message` as one line on stderr and exit with status 2."""
        print(f"{self.prog}: {message} (see `{self.prog} --help`)", file=sys.stderr)
        sys.exit(2)


def runs(parser, function):
    """Make `parser` run `function(args)` and name itself in error messages; returns `parser`."""
    parser.set_defaults(run=function, prog=parser.prog)
    return parser


def at_least(minimum, reason=""):
    """An argparse `type` for an integer no smaller than `minimum` (`reason` says why, if not obvious).

    Example:
        >>> at_least(1)("3")
        3
    """

    def integer(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}{reason}, got {value}")
        return value

    return integer


positive_int = at_least(1)


def existing_path(text):
    """An argparse `type` for a file or folder that exists; returns the path as given."""
    if not os.path.exists(text):
        raise argparse.ArgumentTypeError(f"no such file or folder: {text}")
    return text


def readable_file(text):
    """An argparse `type` for a file that exists and can be read (`-` means standard input)."""
    if text == "-":
        return text
    if not os.path.exists(text):
        raise argparse.ArgumentTypeError(f"no such file: {text}")
    if os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"{text} is a folder, not a file")
    if not os.access(text, os.R_OK):
        raise argparse.ArgumentTypeError(f"{text} cannot be read (permission denied)")
    return text


def writable_file(text):
    """An argparse `type` for a file that can be (re)written: not a folder, in a folder that exists
    and accepts new files. Returns the path as given."""
    problem = unwritable_reason(text)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return text


def unwritable_reason(path):
    """Why `path` cannot be written as a file, or None if it can.

    The folder is tested by creating (and removing) a temporary file in it, the only test that
    sees read-only file systems and permissions as the writer will.
    """
    path = os.fspath(path)
    if not path.strip():
        return "the file name is empty"
    if os.path.isdir(path):
        return f"{path} is a folder; give a file name, e.g. {os.path.join(path, 'out')}"
    if path.endswith(os.sep):
        return f"{path} names a folder (it ends in {os.sep}); give a file name"
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        return f"cannot write {path}: the folder {folder} does not exist"
    probe = os.path.join(folder, f".tinyseq-write-test-{os.getpid()}")
    try:
        with open(probe, "x"):
            pass
        os.remove(probe)
    except OSError as error:
        return f"cannot write {path}: the folder {folder} does not accept new files ({error.strerror})"
    return None


def distinct_files(**flags):
    """Refuse (CommandError) two flags that name the same file, e.g. `--results` and `--output`,
    where one would overwrite the other. `flags` maps each flag's name (`results`) to its path
    or None (not given)."""
    seen = {}
    for flag, path in flags.items():
        if path is None:
            continue
        key, flag = os.path.realpath(path), flag.replace("_", "-")
        if key in seen:
            raise CommandError(f"--{seen[key]} and --{flag} both name {path}; one would overwrite the other: "
                               f"give them different files")
        seen[key] = flag
