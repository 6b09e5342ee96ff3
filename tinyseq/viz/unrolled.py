"""A compact picture of a long unrolled network: one small box per time step, coloured by how
much gradient reaches that step's state.

The op-level heatmap (`draw(loss, grad_heatmap=True)`) of a 100-step network has thousands of
nodes; this view keeps one number per step, ‖∂L/∂h(t)‖, so 16 to 100 steps fit a page or a
slide. Several networks can share one colour scale, one row each, so a reader sees at a glance
that the simple RNN's colours fade towards the first steps and the LSTM's fade far less.
"""

from __future__ import annotations

import html
import math

import numpy as np

from .. import ops, random
from ..tensor import Tensor
from . import style
from .drawing import Drawing, heat_legend, log_scale
from .examples import STATE_NAMES, Unrolled, make_cell, unroll

# Boxes get smaller as more steps share a row, so that a row stays about 500 points wide
# (with its label, under 600 pt = 800 px: a page's width), but never larger than this.
_ROW_WIDTH, _LARGEST_BOX = 500, 34


def unrolled_grad_norms(source, steps=None, *, state="h", units=8, features=None, seed=0):
    """The gradient norm ‖∂L/∂s(t)‖ reaching each step's state s(t), for t = 1 .. T.

    Args:
        source: what to measure. An `Unrolled` (from `unroll`) after backward, whose states
            kept their gradients (`retain_grads(loss)` before `loss.backward()`); or a cell
            kind ("rnn", "lstm", "gru") or a cell, which is run over `steps` random inputs
            (standard normal, zero initial states) with the loss L = sum(h(T)).
        steps: the sequence length T, for a kind or a cell.
        state: which state: "h", or "c" for an LSTM's cell state.
        units: the size of a new cell made from a kind.
        features: the size of each random input vector (default: the size the cell was built
            for, else 2).
        seed: seeds the inputs, and the weights of a cell not built yet.

    Returns:
        A float64 numpy array of T norms; entry t - 1 is the norm for step t.
    """
    if isinstance(source, Unrolled):
        return _norms_of(source, state)
    if steps is None or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"unrolled_grad_norms: steps must be a positive int, got {steps!r}")
    random.seed(seed)
    cell = make_cell(source, units) if isinstance(source, str) else source
    names = getattr(cell, "state_names", None)
    if names is None:
        raise TypeError(f"unrolled_grad_norms: source must be an Unrolled, a cell kind "
                        f"({', '.join(STATE_NAMES)}) or a recurrent cell, got {type(source).__name__}")
    index = _state_index(names, state)
    features = features or getattr(cell, "input_features", None) or 2
    x = Tensor(np.random.default_rng(seed).normal(size=(1, steps, features)).astype(cell.dtype))
    unrolled = unroll(cell, x, cell.get_initial_state(1))
    for states in unrolled.states:
        states[index].retain_grad()
    ops.sum(unrolled.states[-1][0]).backward()
    return _norms_of(unrolled, state, names)


def _state_index(names, state):
    if state not in names:
        raise ValueError(f"unrolled_grad_norms: state must be one of {', '.join(names)} for this "
                         f"cell, got {state!r}")
    return names.index(state)


def _norms_of(unrolled, state, names=None):
    """The norms of the retained gradients of `state` in every step of `unrolled`."""
    names = names or ("h", "c")[:len(unrolled.states[0])]
    index = _state_index(names, state)
    norms = []
    for t, states in enumerate(unrolled.states, 1):
        grad = states[index].grad
        if grad is None:
            raise ValueError(f"unrolled_grad_norms: the state {state}({t}) has no gradient. Call "
                             f"tinyseq.viz.retain_grads(loss) before loss.backward()")
        norms.append(math.sqrt(np.sum(np.square(grad, dtype=np.float64))))
    return np.array(norms)


def draw_unrolled_norms(norms, *, grad_scale=None, steps_per_row=25, title=None):
    """Draw one small box per time step, filled by log10 of the gradient norm at that step.

    The boxes of each network form a row, the step number under each box; long sequences wrap
    into several rows of `steps_per_row`, with the networks one above the other in each, so a
    column compares the same step. One colour scale, shown below, covers every row.

    Args:
        norms: the norms of one network: a sequence of numbers (step 1 first) or an `Unrolled`
            after backward (see `unrolled_grad_norms`); or a dict from row name to such
            norms, e.g. `{"SimpleRNN": rnn_norms, "LSTM": lstm_norms}`.
        grad_scale: `(low, high)` in log10 units; norms outside are drawn as the end colours.
            Default: the whole decades the norms span. Fix it to compare several drawings.
        steps_per_row: how many steps one row holds before wrapping (25 fits a page).
        title: the caption (default: says what is drawn; "" for none).

    Returns:
        A `Drawing` (a `graphviz.Digraph`); save it with `write(graph, "norms.svg")`.
    """
    rows = _rows(norms)
    if not isinstance(steps_per_row, int) or steps_per_row < 1:
        raise ValueError(f"draw_unrolled_norms: steps_per_row must be a positive int, got {steps_per_row!r}")
    scale = log_scale([norm for values in rows.values() for norm in values], grad_scale, "draw_unrolled_norms")
    longest = max(len(values) for values in rows.values())
    columns = min(steps_per_row, longest)
    box = min(_LARGEST_BOX, _ROW_WIDTH // columns - 2)
    span = columns + 1  # the name column, then one column per step
    # Step numbers small enough to fit under their box (a wider one would widen its column).
    number_size = min(8.0, math.floor(box / (0.62 * len(str(longest))) * 2) / 2)
    body = []
    for start in range(0, longest, columns):
        steps = range(start + 1, start + columns + 1)  # the last row padded: ragged rows skew the columns
        if start:
            body.append(f'<tr><td colspan="{span}" height="6"></td></tr>')
        for name, values in rows.items():
            cells = "".join(_box(values[t - 1], scale, box) if t <= len(values) else "<td></td>"
                            for t in steps)
            body.append(f'<tr><td align="right">{html.escape(name)} </td>{cells}</tr>')
        numbers = "".join(f'<td><font point-size="{number_size:g}">{t}</font></td>' if t <= longest
                          else "<td></td>" for t in steps)
        body.append(f'<tr><td align="right"><font point-size="8" color="#666666">step </font></td>'
                    f'{numbers}</tr>')
    caption = (f"How much gradient reaches each step from a loss at step {longest}"
               if title is None else title)
    legend = heat_legend(scale, "log₁₀ ‖gradient‖ (it flows back from the last step, right to left)",
                         no_gradient=False, cell_width=36)
    graph = Drawing(name="unrolled_norms", graph_attr={"pad": "0.1", "ranksep": "0.15", "labelloc": "t",
                                                       "fontname": style.FONT, "fontsize": "16"},
                    node_attr={"fontname": style.FONT, "fontsize": "11", "shape": "plaintext", "margin": "0"})
    if caption:
        graph.attr(label=caption)
    # Grid and legend are two nodes, one under the other, so that neither widens the other.
    graph.node("steps", label=f'<<table border="0" cellborder="0" cellspacing="2" cellpadding="0">'
                              f'{"".join(body)}</table>>')
    graph.node("legend", label=f"<{legend}>")
    graph.edge("steps", "legend", style="invis")
    return graph


def _rows(norms):
    """`norms` as a dict row name -> list of floats, after checking them."""
    if isinstance(norms, dict):
        if not norms:
            raise ValueError("draw_unrolled_norms: the dict of norms is empty")
        items = norms.items()
    else:
        items = [("", norms)]
    rows = {}
    for name, values in items:
        values = unrolled_grad_norms(values) if isinstance(values, Unrolled) else values
        array = np.asarray(values, dtype=np.float64)
        if array.ndim != 1 or not array.size:
            raise ValueError(f"draw_unrolled_norms: the norms{f' of {name!r}' if name else ''} must "
                             f"be a non-empty 1-D sequence (one per step), got shape {array.shape}")
        if not np.all(np.isfinite(array)) or np.any(array < 0):
            raise ValueError(f"draw_unrolled_norms: norms must be finite and >= 0; "
                             f"{name or 'the norms'} hold {array[~(np.isfinite(array) & (array >= 0))][:3]}")
        rows[str(name)] = [float(v) for v in array]
    return rows


def _box(norm, scale, size):
    """Step t's box, filled with the heat colour of its norm."""
    fill = style.heat_color(math.log10(norm) if norm > 0 else -math.inf, *scale)
    return (f'<td border="1" bgcolor="{fill}" color="#9a9a9a" width="{size}" height="{size}" '
            f'fixedsize="true"></td>')
