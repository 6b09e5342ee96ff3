"""Argument checks shared by every public function: one check per kind of argument.

Each check returns the value in its plain Python form (an `int`, a `float`, a `bool`) or raises
ValueError with one message format, naming where the argument was given, the argument and the
value:

    fit: batch_size must be a positive integer, got -5

Args common to every check:
    value: what the caller passed.
    argument: the argument's name.
    where: the function, layer or object it was passed to ("fit", "lstm", "adam").
"""

from __future__ import annotations

import math
import numbers

import numpy as np


def _refuse(value, argument, where, expected, also=None):
    alternatives = f" or {also}" if also else ""
    if isinstance(value, np.generic):
        value = value.item()  # show 2.5, not np.float64(2.5)
    raise ValueError(f"{where}: {argument} must be {expected}{alternatives}, got {value!r}")


def _is_integer(value):
    # bool is an int subclass, but True as a batch size is a mistake, not a 1
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def positive_int(value, argument, where):
    """`value` as an int ≥ 1 (sizes, counts, batch sizes)."""
    if not (_is_integer(value) and value >= 1):
        _refuse(value, argument, where, "a positive integer")
    return int(value)


def non_negative_int(value, argument, where):
    """`value` as an int ≥ 0 (starting epochs, steps to wait)."""
    if not (_is_integer(value) and value >= 0):
        _refuse(value, argument, where, "a non-negative integer")
    return int(value)


def number(value, argument, where, low=None, high=None, low_open=False, high_open=False, also=None):
    """`value` as a finite float between `low` and `high` (None: no bound).

    Args:
        low_open, high_open: whether the bound itself is excluded.
        also: what else the caller accepts, added to the message ("a LearningRateSchedule").
    """
    too_low = low is not None and _is_real(value) and (value <= low if low_open else value < low)
    too_high = high is not None and _is_real(value) and (value >= high if high_open else value > high)
    if not _is_real(value) or too_low or too_high:
        _refuse(value, argument, where, _describe_interval(low, high, low_open, high_open), also)
    return float(value)


def _describe_interval(low, high, low_open, high_open):
    if high is None and low == 0:
        return "a positive number" if low_open else "a non-negative number"
    if low is None and high is None:
        return "a finite number"
    if high is None:
        return f"a number {'>' if low_open else '≥'} {low}"
    if low is None:
        return f"a number {'<' if high_open else '≤'} {high}"
    return f"a number in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"


def non_negative_number(value, argument, where, also=None):
    """`value` as a finite float ≥ 0 (learning rates)."""
    return number(value, argument, where, low=0, also=also)


def positive_number(value, argument, where):
    """`value` as a finite float > 0 (clipping norms, epsilons)."""
    return number(value, argument, where, low=0, low_open=True)


def boolean(value, argument, where):
    """`value` as a bool; only True and False (numpy's too) are accepted, not 0, 1 or "yes"."""
    if not isinstance(value, (bool, np.bool_)):
        _refuse(value, argument, where, "True or False")
    return bool(value)


def _same_kind(value, choice):
    return isinstance(value, (bool, np.bool_)) == isinstance(choice, bool) and isinstance(value, str) == isinstance(choice, str)


def one_of(value, argument, where, choices):
    """`value` itself, if it equals one of `choices` (True never stands in for 1, nor 1 for True)."""
    if not any(_same_kind(value, choice) and value == choice for choice in choices):
        _refuse(value, argument, where, "one of " + ", ".join(repr(choice) for choice in choices))
    return value
