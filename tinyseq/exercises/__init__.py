"""Graded exercises along the course: `tinyseq exercise list | start NAME | check FILE`.

Each exercise lives in one module of this package: the stub's text (task, equations, shapes),
the reference solution (functions named as the learner's), the known mistakes and the checker.
`start` writes the stub; `check` runs the learner's file and compares it with tinyseq's own
implementation (cells, layers, autograd, gradcheck) on random shapes and seeds in float64.
"""

from __future__ import annotations

from pathlib import Path

from . import (bptt, broadcast_backward, engine_backward, gradient_clipping, gru_cell, lstm_cell, padding_mask,
               rnn_cell)
from .checking import CheckFailure, Exercise, exercise_name_in, learner_module

__all__ = ["EXERCISES", "CheckFailure", "Exercise", "check_file", "get", "start"]

# In the order of the course's tutorials.
EXERCISES = {module.EXERCISE.name: module.EXERCISE for module in (
    engine_backward, broadcast_backward, rnn_cell, bptt, gradient_clipping, lstm_cell, padding_mask, gru_cell)}


def get(name):
    """The exercise called `name`.

    Raises:
        KeyError: for an unknown name; the message lists the exercises.
    """
    if name not in EXERCISES:
        raise KeyError(f"unknown exercise {name!r}; the exercises are: {', '.join(EXERCISES)}")
    return EXERCISES[name]


def start(name, directory=".", force=False):
    """Write the stub of exercise `name` to DIRECTORY/NAME.py and return that path.

    Raises:
        KeyError: for an unknown name.
        FileExistsError: when the file exists and `force` is false (a learner's work is never
            overwritten by accident).
        NotADirectoryError: when `directory` is a file.
    """
    exercise = get(name)
    if Path(directory).exists() and not Path(directory).is_dir():
        raise NotADirectoryError(f"{directory} is a file, not a folder to write {name}.py in")
    path = Path(directory) / f"{name}.py"
    if path.exists() and not force:
        raise FileExistsError(f"{path} already exists; pass --force to overwrite it with a fresh stub")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(exercise.stub())
    return path


def check_file(path):
    """Check a learner's file; return (passed, message).

    The exercise is the one named by the file's `EXERCISE = "..."` line, else by its file name.

    Raises:
        FileNotFoundError: when there is no such file.
        KeyError: when the file answers no known exercise.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}" + (" (a folder)" if path.is_dir() else ""))
    exercise = get(exercise_name_in(path))
    try:
        with learner_module(path, exercise.function_names) as functions:
            passed = exercise.check(functions)
    except CheckFailure as failure:
        return False, f"{path.name}: {exercise.name}: not yet.\n{failure}"
    return True, f"{path.name}: {exercise.name}: passed: {passed} cases."
