"""`draw`: a tensor's graph as a `graphviz.Digraph`, with name scopes as clusters.

One node per tensor: inputs, parameters and ops each have their own style. Scalar constants
(the `1` in `1 - z`) are not nodes of their own: they are written into their op's label.
A `name_scope` becomes a cluster labelled with its name; nested scopes nest. After a backward
pass (with `retain_grads`), `grad_heatmap=True` fills every node by log10 of its gradient norm.
"""

from __future__ import annotations

import contextlib
import html
import math
from pathlib import Path

import graphviz
import numpy as np

from ..nn.module import Parameter
from . import style
from .graph import as_roots, topological_order
from .layout import Clusters, Units, by_depth, chain_hints, collapser, common_scopes

INSTALL_HINT = (
    "Graphviz's `dot` program was not found on PATH, so the graph cannot be rendered to an "
    "image. Install Graphviz (Debian/Ubuntu: sudo apt-get install graphviz; macOS: brew install "
    "graphviz; conda: conda install -c conda-forge graphviz; Windows: winget install graphviz) "
    "and make sure `dot -V` works in a terminal. Without it you still have the DOT source: "
    "graph.source, or tinyseq.viz.write(graph, 'graph.dot').")

FORMATS = ("svg", "png", "pdf")


class GraphvizNotFoundError(RuntimeError):
    """Raised when a graph is rendered but the system Graphviz (`dot`) is not installed."""


@contextlib.contextmanager
def _explain_missing_dot():
    try:
        yield
    except graphviz.ExecutableNotFound:
        raise GraphvizNotFoundError(INSTALL_HINT) from None


class Drawing(graphviz.Digraph):
    """A `graphviz.Digraph` that says how to install Graphviz when `dot` is missing.

    Everything else is graphviz's: `.source` is the DOT text, `.render()`, `.pipe()` and
    inline display in Jupyter work as documented there.
    """

    def render(self, *args, **kwargs):
        """Render to a file, as `graphviz.Digraph.render`; raises GraphvizNotFoundError without `dot`."""
        with _explain_missing_dot():
            return super().render(*args, **kwargs)

    def pipe(self, *args, **kwargs):
        """Render to bytes, as `graphviz.Digraph.pipe`; raises GraphvizNotFoundError without `dot`."""
        with _explain_missing_dot():
            return super().pipe(*args, **kwargs)


def draw(outputs, *, labels=None, params=None, show_params=True, grad_heatmap=False,
         grad_scale=None, show_shapes=True, show_values=False, show_grads=False, collapse=(),
         max_depth=None, title=None, rankdir="LR"):
    """Draw the graph that computed `outputs`, with name scopes as nested clusters.

    Args:
        outputs: a tensor or a list of tensors (e.g. `[h, c]` of an LSTM step).
        labels: a dict from tensor to display name, e.g. `{x: "x(t)", h_prev: "h(t−1)"}`.
            Works for any tensor; labelled ops show the name under their symbol. A tensor
            not in `labels` shows its `.name`, if it has one; a named slice (from
            `split(z, 4, names=...)`) is drawn as that name, e.g. "z_f", "slice of z".
        params: parameter names: a dict name -> tensor, or a module (its `named_parameters()`).
            These tensors, and every `Parameter`, are drawn as parameters.
        show_params: False leaves the parameters out, e.g. the weights an unrolled network
            shares across all its time steps.
        grad_heatmap: fill every node by log10 of its gradient norm, with a legend. Needs
            `retain_grads(output)` before `output.backward()`.
        grad_scale: `(low, high)` in log10 units for the heatmap; norms outside are drawn as
            the end colours. Default: the whole decades spanned by the gradients drawn. Pass a
            fixed scale to compare two drawings.
        show_shapes: False leaves the output shapes out of the labels (for compact slides).
        show_values: add the range of each tensor's values to its label.
        show_grads: add each tensor's gradient norm to its label (always on in the heatmap).
        collapse: scopes to draw as one node each: a name such as "forget_gate" (every scope
            of that name, at any depth) or a path tuple such as ("t=3",).
        max_depth: collapse every scope nested deeper than this (0: one node per time step of
            an unrolled cell; 2: one node per gate, as a step's gates sit at depth 3).
        title: a caption drawn above the graph.
        rankdir: "LR" (data flows left to right) or "TB" (top to bottom).

    Returns:
        A `Drawing` (a `graphviz.Digraph`): `.source` is the DOT text; display it in Jupyter, or
        save it with `write(graph, "graph.svg")`.
    """
    roots = as_roots(outputs)
    order, depth = by_depth(topological_order(roots))
    names = {id(t): str(name) for t, name in (labels or {}).items()}
    named = list(params.named_parameters() if hasattr(params, "named_parameters")
                 else (params or {}).items())
    names.update((id(p), name) for name, p in named if id(p) not in names)
    param_ids = {id(t) for t in order if not t.parents and isinstance(t, Parameter)}
    param_ids.update(id(p) for _, p in named)

    folded = {id(t) for t in order if _is_constant(t) and id(t) not in names}
    hidden = folded if show_params else folded | param_ids
    shown = [t for t in order if id(t) not in hidden]
    norms = {id(t): _grad_norm(t) for t in shown} if (grad_heatmap or show_grads) else {}
    if grad_heatmap and not any(norms[id(t)] is not None for t in shown if t.parents):
        raise ValueError("draw: grad_heatmap needs the gradients of the ops, but none has one. "
                         "Call tinyseq.viz.retain_grads(output) before output.backward().")
    scale = log_scale(norms.values(), grad_scale, "draw") if grad_heatmap else None

    units = Units(collapser(collapse, max_depth))
    weight_scopes = common_scopes(shown, param_ids)
    for i, t in enumerate(shown):
        units.add(t, f"n{i}", depth[id(t)], weight_scopes.get(id(t), t.scope))

    graph = Drawing(name="tinyseq", graph_attr={
        "rankdir": rankdir, "fontname": style.FONT, "newrank": "true", "nodesep": "0.25",
        "ranksep": "0.35", "labelloc": "t", "fontsize": "18"},
        node_attr={"fontname": style.FONT, "fontsize": "11", "penwidth": "1.2"},
        edge_attr={"color": "#555555", "arrowsize": "0.7"})
    edges = list(units.edges(hidden))
    # A weight shared by every time step would pull all the steps to its rank: its edges get
    # constraint=false and take no part in the layout hints.
    invisible, groups = chain_hints(units.all, [(source, target) for source, target, parent in edges
                                                if id(parent) not in param_ids])
    clusters = Clusters(graph, [unit.cluster for unit in units.all], heatmap=grad_heatmap)
    root_ids = {id(t) for t in roots}
    for unit in units.all:
        attrs = _unit_attrs(unit, names, param_ids, folded, norms, scale, show_values, show_shapes)
        if any(id(t) in root_ids for t in unit.members):
            attrs["penwidth"] = "2.5"
        if unit.id in groups:
            attrs["group"] = groups[unit.id]
        clusters.graph_for(unit.cluster).node(unit.id, **attrs)
    clusters.attach()

    for source, target, parent in edges:
        if id(parent) in param_ids:
            graph.edge(source.id, target.id, constraint="false", color="#9db4d3")
        elif source.id in groups and groups[source.id] == groups.get(target.id):
            graph.edge(source.id, target.id, weight="4")  # the group alone leaves a slow climb
        else:
            graph.edge(source.id, target.id)
    for source_id, target_id in invisible:
        graph.edge(source_id, target_id, style="invis")
    if title or scale:
        graph.attr(label=_caption(title, scale))
    return graph


def write(graph, path, dpi=None):
    """Save a drawing to `path`, in the format its suffix names: .svg, .png, .pdf, or .dot/.gv.

    Args:
        graph: a `graphviz.Digraph` (what `draw` returns).
        path: the file to write.
        dpi: for a .png, its resolution: Graphviz's default, 96, gives one pixel per CSS pixel;
            192 gives an image twice as sharp, for a slide or a print.

    Returns:
        The path written, as a `pathlib.Path`.

    Raises:
        GraphvizNotFoundError: an image format was asked for but Graphviz's `dot` is missing.
        ValueError: the suffix is not one of the formats above, or `dpi` is given for another
            format than .png or is not a positive number.
    """
    path = Path(path)
    suffix = path.suffix.lower().lstrip(".")
    if dpi is not None:
        if suffix != "png":
            raise ValueError(f"write: dpi sets the resolution of a .png; {path.name!r} is not one "
                             f"(an .svg or .pdf is sharp at any size)")
        if isinstance(dpi, bool) or not isinstance(dpi, (int, float)) or not 0 < dpi < math.inf:
            raise ValueError(f"write: dpi must be a positive number, got {dpi!r}")
        graph = graph.copy()
        graph.attr(dpi=str(dpi))
    if suffix in ("dot", "gv"):
        path.write_text(graph.source, encoding="utf-8")
        return path
    if suffix not in FORMATS:
        raise ValueError(f"write: cannot tell the format from {path.name!r}; use a name ending "
                         f"in .svg, .png, .pdf or .dot")
    with _explain_missing_dot():
        path.write_bytes(graph.pipe(format=suffix))
    return path


# ---- what each node says -------------------------------------------------------------------
def _name_of(t, names):
    """A tensor's display name: from `draw(labels=...)`, else its own `.name` (None if neither)."""
    return names.get(id(t)) or getattr(t, "name", None)


def _is_constant(t):
    """A Python number lifted into an op: a scalar leaf that no gradient reaches."""
    return not t.parents and t.op == "leaf" and not t.requires_grad and t.size == 1


def _grad_norm(t):
    return None if t.grad is None else float(np.sqrt(np.sum(np.square(t.grad, dtype=np.float64))))


def log_scale(norms, requested, caller):
    """The (low, high) log10 range of a heat scale: `requested` after checking it, else the
    whole decades spanned by the nonzero `norms` (None entries are skipped); `caller` names
    the function in the error message."""
    if requested is not None:
        low, high = (float(x) for x in requested)
        if not low < high:
            raise ValueError(f"{caller}: grad_scale must be (low, high) with low < high, got {requested}")
        return low, high
    logs = [math.log10(norm) for norm in norms if norm]
    if not logs:
        return -1.0, 0.0
    low, high = math.floor(min(logs)), math.ceil(max(logs))
    return float(low), float(high if high > low else low + 1)


def _number(x):
    return f"{x:.3g}".replace("-", "−")


def _shape(t):
    return str(tuple(t.shape)) if t.ndim else "scalar"


def _op_symbol(t, folded):
    """The op's symbol, with any folded constants written where they were: "1 −", "× 0.5"."""
    symbol = style.symbol(t.op)
    constants = [(position, parent) for position, parent in enumerate(t.parents) if id(parent) in folded]
    if len(constants) == 1 and len(t.parents) == 2:
        position, constant = constants[0]
        value = _number(constant.data.item())
        return f"{value} {symbol}" if position == 0 else f"{symbol} {value}"
    return symbol


def _unit_attrs(unit, names, param_ids, folded, norms, scale, show_values, show_shapes):
    if unit.path is not None:
        main, name, kind = unit.path[-1], None, "group"
        details = [f"{len(unit.members)} tensors"]
        tooltip = f"scope: {'/'.join(unit.path)} ({len(unit.members)} tensors)"
    else:
        t = unit.members[0]
        name = _name_of(t, names)
        details = []
        if not t.parents:
            kind = "parameter" if id(t) in param_ids else "input"
            main, name = name or kind, None
        elif t.op == "getitem" and name:
            # A named slice is drawn as what it takes: "z_f", a slice of z.
            kind, main, name = "plumbing", name, None
            details.append(f"slice of {_name_of(t.parents[0], names) or _shape(t.parents[0])}")
        else:
            kind, main = style.node_kind(t.op), _op_symbol(t, folded)
        if show_shapes:
            details.append(_shape(t))
        if show_values and t.size:
            details.append(f"∈ [{_number(float(t.data.min()))}, {_number(float(t.data.max()))}]")
        tooltip = f"{t.op}: shape {_shape(t)}, scope {'/'.join(t.scope) or '(none)'}"
    attrs = dict(style.STYLES[kind])
    if norms:
        present = [norms[id(m)] for m in unit.members if norms[id(m)] is not None]
        norm = max(present) if present else None
        if norm is not None:
            details.append(f"‖grad‖ {norm:.1e}".replace("-", "−"))
            tooltip += f", gradient norm {norm:.3e}"
        if scale is not None:
            _paint(attrs, norm, scale)
    if kind == "pointwise" and (norms or show_values):
        attrs["shape"] = "ellipse"  # a circle around a line of statistics would be huge
    attrs["label"] = _html_label(main, name, details)
    attrs["tooltip"] = tooltip
    return attrs


def _paint(attrs, norm, scale):
    """Fill a node by its gradient norm; a node without gradient gets a dashed white box."""
    if norm is None:
        attrs.update(style.NO_GRADIENT, style=attrs["style"] + ",dashed")
        return
    fill = style.heat_color(math.log10(norm) if norm > 0 else -math.inf, *scale)
    attrs.update(fillcolor=fill, fontcolor="white" if style.luminance(fill) < 0.5 else "black")


def _html_label(main, name, details):
    lines = [f'<font point-size="15">{html.escape(main)}</font>']
    if name:
        lines.append(f"<b>{html.escape(name)}</b>")
    lines += [f'<font point-size="8">{html.escape(detail)}</font>' for detail in details]
    return "<" + "<br/>".join(lines) + ">"


def _caption(title, scale):
    """The graph's label: the title, and for a heatmap the colour scale (one cell per decade
    plus the no-gradient style) right under it, where a reader looks first."""
    rows = [f'<tr><td border="0"><font point-size="20">{html.escape(title)}</font></td></tr>'] if title else []
    if scale:
        legend = heat_legend(scale, "log₁₀ ‖gradient‖ of each tensor")
        rows.append(f'<tr><td border="0">{legend}</td></tr>')
    return f'<<table border="0" cellspacing="2">{"".join(rows)}</table>>'


def heat_legend(scale, heading, no_gradient=True, cell_width=44):
    """The colour scale as an HTML-like table under `heading`: a cell per tick from `scale` =
    (low, high) in log10 units (a tick per decade, or per few decades for a wide range) and, if
    `no_gradient`, one in the style of a node without gradient."""
    low, high = scale
    step = max(1, math.ceil((high - low) / 10))
    ticks = [low + k * step for k in range(int((high - low) // step) + 1)]
    if ticks[-1] < high:
        ticks.append(high)
    cells = []
    for i, tick in enumerate(ticks):
        fill = style.heat_color(tick, low, high)
        text = ("≤ " if i == 0 else "≥ " if i == len(ticks) - 1 else "") + _number(tick)
        color = "white" if style.luminance(fill) < 0.5 else "black"
        cells.append(f'<td bgcolor="{fill}" width="{cell_width}"><font color="{color}">{text}</font></td>')
    if no_gradient:
        none = style.NO_GRADIENT
        cells.append(f'<td bgcolor="{none["fillcolor"]}" color="{none["color"]}">'
                     f'<font color="{none["fontcolor"]}">no gradient</font></td>')
    return ('<table border="0" cellborder="1" cellspacing="0" cellpadding="4">'
            f'<tr><td colspan="{len(cells)}" border="0">{html.escape(heading)}</td></tr>'
            f'<tr>{"".join(cells)}</tr></table>')
