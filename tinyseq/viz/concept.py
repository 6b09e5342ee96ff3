"""`draw_cell_concept`: the textbook picture of an LSTM or GRU cell, drawn by tinyseq.

The picture is the one from papers and blog posts: the state the cell carries (the LSTM's
cell state c, the GRU's hidden state h) runs as a thick line across the top; the gates sit
below it and act on it like valves, one multiplication (how much to keep) and one addition
(what to write); x(t) and h(t−1) come in at the bottom.

Every part carries the name and colour of the `name_scope` the cell computes it in
(forget_gate, cell_state, ...), as the op-level graph `draw` makes of the same step, so each
part of this picture maps onto one cluster of that graph. Given the outputs of one step, the
picture also shows the values each gate took.

Positions are fixed (Graphviz's `neato` engine with pinned nodes): a diagram that always looks
the same is easier to teach from than a layout that shifts with the labels.
"""

from __future__ import annotations

import html
from collections import Counter
from dataclasses import dataclass

import numpy as np

from . import style
from .drawing import Drawing
from .graph import topological_order


@dataclass(frozen=True)
class Part:
    """One drawn piece of a cell diagram.

    Attributes:
        id: the DOT node id.
        at: the position (x, y) in inches; y grows upwards.
        shape: "layer" (a box: σ or tanh with weights before it), "pointwise" (a circle: ×, +),
            "state" (a state's name, where a line starts or ends) or "joint" (a bend or a fork
            of a line, not drawn).
        scope: the name_scope the cell computes it in; picks its colour.
        symbol: what is drawn large: "σ", "×", "c(t)".
        caption: a small line under the symbol, e.g. "forget gate f".
        value: where its value is in a step's graph: (scope name, op name) of the tensor,
            (scope name, "previous") for the previous state that scope keeps part of, or None.
    """

    id: str
    at: tuple
    shape: str
    scope: str | None = None
    symbol: str = ""
    caption: str = ""
    value: tuple | None = None


@dataclass(frozen=True)
class Line:
    """A straight line from one part to another, in the colour of `scope`.

    `arrow` says whether it ends in an arrowhead (lines into a joint do not), `label` names what
    it carries, and `carried` marks the thick line of the state the cell carries along.
    """

    source: str
    target: str
    scope: str
    arrow: bool = True
    label: str = ""
    carried: bool = False


@dataclass(frozen=True)
class Diagram:
    """The parts and lines of one kind of cell, the gate that decides how much of the carried
    state to keep, and the cell's equations: columns of (scope, text) pairs."""

    name: str
    title: str
    parts: tuple
    lines: tuple
    keeper: str
    equations: tuple


_GATE_ROW, _WRITE_ROW, _STATE_ROW, _BUS_ROW, _INPUT_ROW = 1.3, 2.15, 3.0, 0.35, -0.75
_VALUE_POINTS = 9  # the font size of the values

LSTM = Diagram(
    name="LSTM",
    title="LSTM cell: the gates write to the cell state c and read from it",
    parts=(
        Part("c_in", (-1.9, _STATE_ROW), "state", "cell_state", "c(t−1)",
             value=("cell_state", "previous")),
        Part("keep", (1.5, _STATE_ROW), "pointwise", "cell_state", "×", "keep"),
        Part("write", (4.4, _STATE_ROW), "pointwise", "cell_state", "+", "write"),
        Part("fork_c", (7.3, _STATE_ROW), "joint", "cell_state"),
        Part("c_out", (8.8, _STATE_ROW), "state", "cell_state", "c(t)", value=("cell_state", "add")),
        Part("forget", (1.5, _GATE_ROW), "layer", "forget_gate", "σ", "forget gate f",
             ("forget_gate", "sigmoid")),
        Part("input", (2.95, _GATE_ROW), "layer", "input_gate", "σ", "input gate i",
             ("input_gate", "sigmoid")),
        Part("candidate", (4.4, _GATE_ROW), "layer", "candidate", "tanh", "candidate g",
             ("candidate", "tanh")),
        Part("output", (5.85, _GATE_ROW), "layer", "output_gate", "σ", "output gate o",
             ("output_gate", "sigmoid")),
        Part("bend_i", (2.95, _WRITE_ROW), "joint", "input_gate"),
        Part("scale", (4.4, _WRITE_ROW), "pointwise", "cell_state", "×", "i · g"),
        Part("squash", (7.3, _WRITE_ROW), "pointwise", "hidden_state", "tanh"),
        Part("show", (7.3, _GATE_ROW), "pointwise", "hidden_state", "×", "o · tanh(c)"),
        Part("h_out", (8.8, _GATE_ROW), "state", "hidden_state", "h(t)", value=("hidden_state", "mul")),
        Part("h_in", (-1.9, _BUS_ROW), "state", "hidden_state", "h(t−1)"),
        Part("projection", (0.0, _BUS_ROW), "layer", "projection", "z = x·W + h·U + b",
             "split into z_i, z_f, z_c, z_o"),
        Part("x_in", (0.0, _INPUT_ROW), "state", None, "x(t)"),
        Part("bus_f", (1.5, _BUS_ROW), "joint", "projection"),
        Part("bus_i", (2.95, _BUS_ROW), "joint", "projection"),
        Part("bus_c", (4.4, _BUS_ROW), "joint", "projection"),
        Part("bus_o", (5.85, _BUS_ROW), "joint", "projection"),
    ),
    lines=(
        Line("c_in", "keep", "cell_state", carried=True),
        Line("keep", "write", "cell_state", carried=True),
        Line("write", "fork_c", "cell_state", arrow=False, carried=True),
        Line("fork_c", "c_out", "cell_state", carried=True),
        Line("forget", "keep", "forget_gate"),
        Line("input", "bend_i", "input_gate", arrow=False), Line("bend_i", "scale", "input_gate"),
        Line("candidate", "scale", "candidate"), Line("scale", "write", "cell_state"),
        Line("fork_c", "squash", "cell_state"), Line("squash", "show", "hidden_state"),
        Line("output", "show", "output_gate"), Line("show", "h_out", "hidden_state"),
        Line("h_in", "projection", "hidden_state"), Line("x_in", "projection", "projection"),
        Line("projection", "bus_f", "projection", arrow=False),
        Line("bus_f", "bus_i", "projection", arrow=False),
        Line("bus_i", "bus_c", "projection", arrow=False),
        Line("bus_c", "bus_o", "projection", arrow=False),
        Line("bus_f", "forget", "projection", label="z_f"),
        Line("bus_i", "input", "projection", label="z_i"),
        Line("bus_c", "candidate", "projection", label="z_c"),
        Line("bus_o", "output", "projection", label="z_o"),
    ),
    keeper="forget_gate",
    equations=((("forget_gate", "f = σ(z_f)"), ("input_gate", "i = σ(z_i)"),
                ("candidate", "g = tanh(z_c)"), ("output_gate", "o = σ(z_o)")),
               (("cell_state", "c(t) = f · c(t−1) + i · g"),
                ("hidden_state", "h(t) = o · tanh(c(t))"))),
)

GRU = Diagram(
    name="GRU",
    title="GRU cell: the update gate mixes the old state h with a candidate",
    parts=(
        Part("h_in", (-1.6, _STATE_ROW), "state", "hidden_state", "h(t−1)",
             value=("hidden_state", "previous")),
        Part("fork_h", (0.2, _STATE_ROW), "joint", "hidden_state"),
        Part("keep", (2.2, _STATE_ROW), "pointwise", "hidden_state", "×", "z · h(t−1)"),
        Part("mix", (5.4, _STATE_ROW), "pointwise", "hidden_state", "+", "mix"),
        Part("h_out", (7.0, _STATE_ROW), "state", "hidden_state", "h(t)", value=("hidden_state", "add")),
        Part("update", (2.2, _GATE_ROW), "layer", "update_gate", "σ", "update gate z",
             ("update_gate", "sigmoid")),
        Part("reset", (3.8, _GATE_ROW), "layer", "reset_gate", "σ", "reset gate r",
             ("reset_gate", "sigmoid")),
        Part("candidate", (5.4, _GATE_ROW), "layer", "candidate", "tanh", "candidate ĥ",
             ("candidate", "tanh")),
        Part("fork_z", (2.2, _WRITE_ROW), "joint", "update_gate"),
        Part("complement", (3.8, _WRITE_ROW), "pointwise", "hidden_state", "1 −"),
        Part("scale", (5.4, _WRITE_ROW), "pointwise", "hidden_state", "×", "(1 − z) · ĥ"),
        Part("projection", (0.2, _BUS_ROW), "layer", "projection", "x·W + b,  h·U + b′",
             "split into x_z, x_r, x_h and h_z, h_r, h_h"),
        Part("x_in", (0.2, _INPUT_ROW), "state", None, "x(t)"),
        Part("bus_z", (2.2, _BUS_ROW), "joint", "projection"),
        Part("bus_r", (3.8, _BUS_ROW), "joint", "projection"),
        Part("bus_h", (5.4, _BUS_ROW), "joint", "projection"),
    ),
    lines=(
        Line("h_in", "fork_h", "hidden_state", arrow=False, carried=True),
        Line("fork_h", "keep", "hidden_state", carried=True),
        Line("keep", "mix", "hidden_state", carried=True),
        Line("mix", "h_out", "hidden_state", carried=True),
        Line("fork_h", "projection", "hidden_state"), Line("x_in", "projection", "projection"),
        Line("update", "fork_z", "update_gate", arrow=False), Line("fork_z", "keep", "update_gate"),
        Line("fork_z", "complement", "update_gate"), Line("complement", "scale", "hidden_state"),
        Line("reset", "candidate", "reset_gate"),
        Line("candidate", "scale", "candidate"), Line("scale", "mix", "hidden_state"),
        Line("projection", "bus_z", "projection", arrow=False),
        Line("bus_z", "bus_r", "projection", arrow=False),
        Line("bus_r", "bus_h", "projection", arrow=False),
        Line("bus_z", "update", "projection", label="x_z, h_z"),
        Line("bus_r", "reset", "projection", label="x_r, h_r"),
        Line("bus_h", "candidate", "projection", label="x_h, h_h"),
    ),
    keeper="update_gate",
    equations=((("update_gate", "z = σ(x_z + h_z)"), ("reset_gate", "r = σ(x_r + h_r)"),
                ("candidate", "ĥ = tanh(x_h + r · h_h)")),
               (("hidden_state", "h(t) = z · h(t−1) + (1 − z) · ĥ"),)),
)

DIAGRAMS = {"lstm": LSTM, "gru": GRU}


def draw_cell_concept(kind="lstm", step=None, *, title=None, equations=True, max_values=3):
    """Draw the conceptual diagram of an LSTM or GRU cell: its state as a line across the top,
    the gates as valves on it, x(t) and h(t−1) coming in below.

    Each part has the name and colour of the name_scope the cell computes it in, the same as
    the clusters of `draw` on one step of that cell, so the two pictures map onto each other.

    Args:
        kind: "lstm" or "gru".
        step: optional outputs of one step of such a cell (e.g. `[h, c]` from
            `_, (h, c) = cell(x, [h0, c0])`, or `cell_example("lstm").outputs`): each gate and
            state then shows its values for the first sequence of the batch.
        title: the caption above the diagram (default: one naming what the picture shows;
            "" for none).
        equations: write the cell's equations under the diagram, each in its part's colour.
        max_values: how many values of each vector to write; longer vectors end in "…".

    Returns:
        A `Drawing` (a `graphviz.Digraph` using the `neato` engine); save it with
        `write(graph, "cell.svg")` or display it in Jupyter.
    """
    if kind not in DIAGRAMS:
        raise ValueError(f"draw_cell_concept: kind must be one of {', '.join(DIAGRAMS)}, got {kind!r}")
    if not isinstance(max_values, int) or max_values < 1:
        raise ValueError(f"draw_cell_concept: max_values must be a positive int, got {max_values!r}")
    diagram = DIAGRAMS[kind]
    values = {} if step is None else _step_values(step, diagram)
    # layout=neato in the DOT text too, so that `dot -Tsvg` of a saved .dot keeps the positions.
    graph = Drawing(name=f"{kind}_concept", engine="neato", graph_attr={
        "layout": "neato", "fontname": style.FONT, "labelloc": "t", "splines": "false",
        "outputorder": "edgesfirst", "pad": "0.2", "forcelabels": "true", "fontsize": "18"},
        node_attr={"fontname": style.FONT, "fontsize": "12", "penwidth": "1.6"},
        edge_attr={"fontname": style.FONT, "fontsize": "10", "arrowsize": "0.7"})
    # Stretch (or squeeze) the gates sideways to fit their labels; the inputs on the left stay.
    spread = _spread(values, max_values)
    first_gate = next(part.at[0] for part in diagram.parts if part.scope == diagram.keeper)

    def place(x):
        return x if x <= first_gate else first_gate + (x - first_gate) * spread

    lines_at = Counter(end for line in diagram.lines for end in (line.source, line.target))
    for part in diagram.parts:
        graph.node(part.id, pos=f"{place(part.at[0]):.3g},{part.at[1]}!",
                   **_part_attrs(part, values.get(part.id), max_values, fork=lines_at[part.id] > 2))
    for line in diagram.lines:
        graph.edge(line.source, line.target, **_line_attrs(line))
    if equations:
        xs, ys = zip(*(part.at for part in diagram.parts))
        graph.node("equations", label=_equations_label(diagram.equations), shape="plaintext",
                   pos=f"{(place(min(xs)) + place(max(xs))) / 2:.3g},{min(ys) - 0.75}!", fontsize="13")
    caption = diagram.title if title is None else title
    if caption:
        graph.attr(label=caption)
    return graph


def _step_values(step, diagram):
    """Dict part id -> that part's values (first sequence of the batch, a 1-D array), found in
    the graph of `step` (the outputs of one step; of an unrolled graph, the last step).
    Raises ValueError when the graph holds none of them: it was not computed by such a cell."""
    order = topological_order(step)
    found = {}
    for part in diagram.parts:
        if part.value is None:
            continue
        scope, op = part.value
        if op == "previous":
            tensor = _kept_state(order, scope, diagram.keeper)
        else:
            tensor = next((t for t in reversed(order) if t.scope[-1:] == (scope,) and t.op == op), None)
        if tensor is not None:
            data = np.asarray(tensor.data, dtype=np.float64)
            found[part.id] = data.reshape(-1) if data.ndim < 2 else data.reshape(len(data), -1)[0]
    if not found:
        raise ValueError(f"draw_cell_concept: the graph of `step` has none of the scopes of an "
                         f"{diagram.name} cell (e.g. {diagram.keeper}); pass the outputs of one "
                         f"step of that cell")
    return found


def _kept_state(order, scope, keeper):
    """The previous state: the other factor of the multiplication (in `scope`) by the output
    of the `keeper` gate."""
    for t in reversed(order):
        if t.scope[-1:] == (scope,) and t.op == "mul":
            factors = [parent for parent in t.parents if parent.scope[-1:] != (keeper,)]
            if len(factors) == 1 and any(parent.scope[-1:] == (keeper,) for parent in t.parents):
                return factors[0]
    return None


def _spread(values, max_values):
    """How much to stretch the gates' spacing: at 1 they stand 1.45 inches apart, room for
    three values each; closer without values (to fit a page), further apart for more values."""
    characters = max((len(_numbers(v, max_values)) for v in values.values()), default=0)
    widest = max(1.0, characters * 0.6 * _VALUE_POINTS / 72)  # inches; 1: "output gate o"
    return max(0.8, (widest + 0.3) / 1.45)


def _numbers(values, max_values):
    shown = " ".join(f"{v:.2f}".replace("-", "−") for v in values[:max_values])
    return f"[{shown}{' …' if len(values) > max_values else ''}]"


def _equations_label(columns):
    """The equations as a table, one column per group, each equation in its part's colour."""
    cells = [[f'<td align="left"><font color="{style.scope_colors(scope)[1]}">{html.escape(text)}'
              f'</font></td>' for scope, text in column] for column in columns]
    rows = max(len(column) for column in cells)
    body = "".join("<tr>" + "".join(column[i] if i < len(column) else "<td></td>" for column in cells)
                   + "</tr>" for i in range(rows))
    return f'<<table border="0" cellspacing="0" cellpadding="3">{body}</table>>'


def _part_attrs(part, values, max_values, fork):
    """The DOT attributes of a part but its position; `fork` marks a joint where a line splits
    (drawn as a dot)."""
    tint, border = style.scope_colors(part.scope) if part.scope else ("#ffffff", "#555555")
    if part.shape == "joint":
        return {"shape": "point", "width": "0.05" if fork else "0.0", "color": border,
                "label": ""}
    lines = [f'<font point-size="{16 if part.shape == "state" else 18}">{html.escape(part.symbol)}</font>']
    if part.caption:
        lines.append(f'<font point-size="11">{html.escape(part.caption)}</font>')
    if values is not None:
        lines.append(f'<font point-size="{_VALUE_POINTS}" face="Courier">'
                     f'{html.escape(_numbers(values, max_values))}</font>')
    attrs = {"label": "<" + "<br/>".join(lines) + ">"}
    if part.shape == "state":
        attrs.update(shape="plaintext", fontcolor=border if part.scope else "#333333")
    elif part.shape == "layer":
        attrs.update(shape="box", style="rounded,filled", fillcolor=tint, color=border, margin="0.08,0.04")
    else:
        attrs.update(shape="ellipse" if part.caption else "circle",
                     style="filled", fillcolor=tint, color=border, margin="0.02")
    attrs["tooltip"] = f"{part.caption or part.symbol} (scope {part.scope})" if part.scope else part.symbol
    return attrs


def _line_attrs(line):
    color = style.scope_colors(line.scope)[1]
    attrs = {"color": color, "penwidth": "4" if line.carried else "1.8"}
    if not line.arrow:
        attrs["arrowhead"] = "none"
    if line.label:
        attrs.update(xlabel=line.label, fontcolor=color, fontsize="11")
    return attrs
