"""The recurrent cells an experiment can train or measure, by name, and how each starts.

    rnn          SimpleRNNCell, tanh, the library's (Keras's) initialisation: glorot-uniform input
                 kernel, orthogonal recurrent kernel, bias 0
    irnn         SimpleRNNCell with ReLU, recurrent kernel the identity, input kernel drawn from
                 N(0, 0.001^2), bias 0 (Le, Jaitly & Hinton 2015, "A simple way to initialize
                 recurrent networks of rectified linear units")
    lstm         LSTMCell with the library's defaults, forget-gate bias 1 (unit_forget_bias)
    lstm_chrono  the same LSTM, whose gate biases are then re-drawn by chrono initialisation
                 (Tallec & Ollivier 2018) for the task's longest dependency; also spelled
                 "chrono-lstm"
    gru          GRUCell with the library's defaults, every bias 0

From Python, a cell may also be a learner's own subclass of `tinyseq.nn.cells.RecurrentCell`:
it is built as `Cell(units, dtype=...)` and recorded in results under its class name. To run in
worker processes (`jobs=`), the class must be defined at the top level of an importable module.
"""

from __future__ import annotations

import functools

import numpy as np

from .. import random
from ..nn import init
from ..nn.cells import GRUCell, LSTMCell, RecurrentCell, SimpleRNNCell
from ..nn.fused.scaffold import fused_support_problem
from ..nn.recurrent import RNN

# Le, Jaitly & Hinton (2015): the non-recurrent weights start from N(0, 0.001^2).
IRNN_INPUT_STDDEV = 0.001
BUILDERS = {
    "rnn": lambda units, dtype: SimpleRNNCell(units, dtype=dtype),
    "irnn": lambda units, dtype: SimpleRNNCell(
        units, activation="relu", recurrent_initializer="identity",
        kernel_initializer=functools.partial(init.random_normal, stddev=IRNN_INPUT_STDDEV), dtype=dtype),
    "lstm": lambda units, dtype: LSTMCell(units, dtype=dtype),
    "lstm_chrono": lambda units, dtype: LSTMCell(units, dtype=dtype),
    "gru": lambda units, dtype: GRUCell(units, dtype=dtype),
}
CELL_NAMES = tuple(BUILDERS)
ALIASES = {"chrono-lstm": "lstm_chrono"}


def check_cells(cells, where, available=CELL_NAMES):
    """Return `cells` as a tuple, each a name from `available` or a `RecurrentCell` subclass, each once.

    Names are returned in their canonical spelling ("chrono-lstm" becomes "lstm_chrono").

    Args:
        cells: a sequence of names and/or cell classes, or a single one.
        where: the function to name in error messages, e.g. "run_adding".
        available: the names this experiment accepts.

    Raises:
        ValueError: for no cells, an unknown name (the valid ones are listed) or a repeated one;
            TypeError for anything else (an instance instead of a class, say).
    """
    cells = (cells,) if isinstance(cells, str) or isinstance(cells, type) else tuple(cells)
    valid = ", ".join(repr(name) for name in available)
    if not cells:
        raise ValueError(f"{where}: cells is empty; choose one or more of {valid}")
    canonical = []
    for cell in cells:
        if isinstance(cell, type) and issubclass(cell, RecurrentCell):
            canonical.append(cell)
        elif isinstance(cell, str):
            canonical.append(ALIASES.get(cell, cell))
        else:
            raise TypeError(f"{where}: a cell is a name ({valid}) or a RecurrentCell subclass, got {cell!r}")
    unknown = [cell for cell in canonical if isinstance(cell, str) and cell not in available]
    if unknown:
        raise ValueError(f"{where}: unknown cell{'s' if len(unknown) > 1 else ''} "
                         f"{', '.join(repr(name) for name in unknown)}; the cells are {valid}")
    names = [cell_name(cell) for cell in canonical]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"{where}: cells lists {', '.join(repr(name) for name in repeated)} more than once")
    return tuple(canonical)


def cell_name(cell):
    """The name a result records: the cell's name, or a class's name."""
    return cell.__name__ if isinstance(cell, type) else cell


def make_cell(cell, units, dtype="float32"):
    """A new, unbuilt cell: `cell` is a name of `CELL_NAMES` or a `RecurrentCell` subclass."""
    if isinstance(cell, type):
        return cell(units, dtype=dtype)
    return BUILDERS[cell](units, dtype)


def recurrent_layer(cell, units, return_sequences=False):
    """The sequence layer that runs `make_cell(cell, units)`: fused where a kernel exists, else cell by cell.

    For the built-in names this is the layer `SimpleRNN`, `LSTM` or `GRU` would build, with the
    same weights drawn in the same order.
    """
    recurrent_cell = make_cell(cell, units)
    implementation = "cells" if fused_support_problem(recurrent_cell) else "fused"
    return RNN(recurrent_cell, return_sequences=return_sequences, implementation=implementation)


def initialise_for_dependency(cell, built_cell, max_dependency):
    """Finish the initialisation that depends on the task: chrono for "lstm_chrono", nothing else.

    Call it once the network is built (its other weights drawn), so that a chrono LSTM shares
    every other weight with the "lstm" of the same seed.

    Args:
        cell: the cell's name (or class).
        built_cell: the built `RecurrentCell`.
        max_dependency: T_max, the longest dependency the task holds.
    """
    if cell == "lstm_chrono":
        chrono_initialize(built_cell, max_dependency)


def chrono_initialize(cell, max_dependency):
    """Chrono initialisation of a built LSTM cell's gate biases (Tallec & Ollivier 2018).

    Per unit, the forget-gate bias becomes b_f = log(u) with u ~ U[1, T_max - 1], drawn from
    `tinyseq.random`, and the input-gate bias b_i = -b_f; the candidate and output biases are
    left as they are. A forget gate sigma(b_f) = u / (1 + u) keeps its cell for about 1 + u
    steps, so the units' memory times spread over [2, T_max].

    Args:
        cell: a built `LSTMCell` (Keras's bias layout: gates i, f, c, o, each `units` wide).
        max_dependency: T_max, the longest dependency the task holds; at least 2.
    """
    if max_dependency < 2:
        raise ValueError(f"chrono_initialize: max_dependency must be at least 2, got {max_dependency}")
    units = cell.units
    bias = cell.bias.data
    forget = np.log(random.generator().uniform(1, max_dependency - 1, units))
    bias[units:2 * units] = forget
    bias[:units] = -bias[units:2 * units]  # negate the stored values, so b_i = -b_f exactly
