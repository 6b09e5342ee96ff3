"""Ready-made graphs to draw: one step of a recurrent cell, or the cell unrolled over time.

`unroll` runs any cell over a sequence with each step inside `name_scope(f"t={t}")`, so every
time step becomes a cluster when drawn; `cell_example` builds the graphs `tinyseq graph` draws.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import ops, random
from ..nn.cells import GRUCell, LSTMCell, SimpleRNNCell
from ..tensor import Tensor, name_scope

STATE_NAMES = {"rnn": ("h",), "lstm": ("h", "c"), "gru": ("h",)}
CELL_TITLES = {"rnn": "SimpleRNN", "lstm": "LSTM", "gru": "GRU"}


@dataclass
class Unrolled:
    """What `unroll` computed.

    Attributes:
        inputs: the input of each step, x(1) .. x(T).
        states: the states after each step, e.g. `states[t - 1] == [h(t), c(t)]` for an LSTM.
    """

    inputs: list
    states: list


@dataclass
class Example:
    """A graph ready for `draw`: its outputs, a loss for backward, and display names.

    Attributes:
        outputs: the final states, e.g. `[h(T), c(T)]`; draw these for the plain graph.
        loss: sum of the last hidden state; call backward on it (after `retain_grads`) and
            draw it for the gradient heatmap.
        labels: tensor -> name, for `draw(labels=...)`.
        params: parameter name -> parameter, for `draw(params=...)`.
        title: a caption for the drawing.
    """

    outputs: list
    loss: Tensor
    labels: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)
    title: str = ""


def unroll(cell, x, states):
    """Run `cell` over the time axis of `x`, each step inside `name_scope(f"t={t}")`.

    Args:
        cell: a recurrent cell, called as `cell(x_t, states) -> (output, new_states)`.
        x: a (batch, time, features) tensor; step t reads `x[:, t - 1]`.
        states: the initial states, a list (e.g. `[h0, c0]` for an LSTM).

    Returns:
        An `Unrolled` with the per-step inputs and states.
    """
    inputs, history = [], []
    for t in range(1, x.shape[1] + 1):
        with name_scope(f"t={t}"):
            x_t = x[:, t - 1]  # sliced inside the scope, so x(t) is drawn in its step's cluster
            _, states = cell(x_t, list(states))
        inputs.append(x_t)
        history.append(list(states))
    return Unrolled(inputs, history)


def make_cell(kind, units):
    """A new `SimpleRNNCell`, `LSTMCell` or `GRUCell` for kind "rnn", "lstm" or "gru".

    The cell gets its class's plain name (lstm_cell, not lstm_cell_3), so the same drawing
    comes out however many cells were made before.
    """
    classes = {"rnn": (SimpleRNNCell, "simple_rnn_cell"), "lstm": (LSTMCell, "lstm_cell"),
               "gru": (GRUCell, "gru_cell")}
    if kind not in classes:
        raise ValueError(f"make_cell: kind must be one of {', '.join(classes)}, got {kind!r}")
    cls, name = classes[kind]
    return cls(units, name=name)


def cell_example(kind, steps=1, units=3, features=2, batch=1, seed=0, cell=None):
    """Build the graph of a recurrent cell: one step (steps=1) or unrolled over `steps`.

    One step is drawn without a time cluster, with inputs x(t), h(t−1) (and c(t−1)) and outputs
    h(t) (and c(t)): the familiar gate diagram. Unrolled, the steps start from zero states h(0)
    (and c(0)) and each step is a "t=k" cluster.

    Args:
        kind: "rnn", "lstm" or "gru" (names the states and the title; picks the cell).
        steps: the number of time steps.
        units: the cell's size.
        features: the size of each input vector.
        batch: the batch size.
        seed: seeds the weights and the inputs.
        cell: a cell to use instead of a new one of `kind`.

    Returns:
        An `Example` to draw.
    """
    if kind not in STATE_NAMES:
        raise ValueError(f"cell_example: kind must be one of {', '.join(STATE_NAMES)}, got {kind!r}")
    if steps < 1:
        raise ValueError(f"cell_example: steps must be at least 1, got {steps}")
    random.seed(seed)
    generator = np.random.default_rng(seed)
    cell = cell or make_cell(kind, units)
    names = STATE_NAMES[kind]
    x = Tensor(generator.normal(size=(batch, steps, features)).astype(np.float32))
    labels = {}
    if steps == 1:
        states = [Tensor(generator.normal(scale=0.5, size=(batch, units)).astype(np.float32)) for _ in names]
        labels.update((state, f"{name}(t−1)") for state, name in zip(states, names))
        x_t = x[:, 0]
        _, states = cell(x_t, states)
        labels[x_t] = "x(t)"
        labels.update((state, f"{name}(t)") for state, name in zip(states, names))
        title = f"One {CELL_TITLES[kind]} step"
    else:
        initial = [Tensor(np.zeros((batch, units), np.float32)) for _ in names]
        labels.update((state, f"{name}(0)") for state, name in zip(initial, names))
        unrolled = unroll(cell, x, initial)
        for t, (x_t, step_states) in enumerate(zip(unrolled.inputs, unrolled.states), 1):
            labels[x_t] = f"x({t})"
            labels.update((state, f"{name}({t})") for state, name in zip(step_states, names))
        states = unrolled.states[-1]
        title = f"{CELL_TITLES[kind]} unrolled over {steps} steps"
    loss = ops.sum(states[0])
    labels[loss] = "loss"
    return Example(list(states), loss, labels, dict(cell.named_parameters()), title)
