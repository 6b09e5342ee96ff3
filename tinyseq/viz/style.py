"""How things look: op symbols, node styles, cluster tints and the gradient colour scale."""

from __future__ import annotations

import math

FONT = "Helvetica"

# The symbols learners know from papers and slides; ops not listed show their own name.
SYMBOLS = {
    "add": "+", "sub": "−", "mul": "×", "div": "÷", "neg": "−x", "pow": "xⁿ",
    "sigmoid": "σ", "tanh": "tanh", "relu": "ReLU", "exp": "exp", "log": "log", "sqrt": "√",
    "abs": "|x|", "maximum": "max", "minimum": "min", "_where": "where",
    "matmul": "@", "embedding": "embed", "sum": "Σ", "mean": "mean", "max": "max",
    "reshape": "reshape", "transpose": "ᵀ", "getitem": "[ ]", "_concat": "concat",
    "_stack": "stack",
}

# Node styles follow the usual LSTM diagram: pointwise ops in circles, layers in boxes.
_POINTWISE = {"add", "sub", "mul", "div", "neg", "pow"}
_PLUMBING = {"reshape", "transpose", "getitem", "_concat", "_stack", "astype"}
STYLES = {
    "pointwise": {"shape": "circle", "style": "filled", "fillcolor": "#f8cfd6", "margin": "0.02"},
    "layer": {"shape": "box", "style": "rounded,filled", "fillcolor": "#fde7a7"},
    "plumbing": {"shape": "box", "style": "rounded,filled", "fillcolor": "#f2f2f2",
                 "color": "#999999"},
    "input": {"shape": "box", "style": "rounded,filled", "fillcolor": "#d5ecd4"},
    "parameter": {"shape": "cylinder", "style": "filled", "fillcolor": "#d6e4f5"},
    "group": {"shape": "box3d", "style": "filled", "fillcolor": "#eeeeee"},
}

# Each part of a recurrent cell has its own colour, the same in every drawing of it: the
# op-level graph's clusters and the conceptual cell diagram, so one maps onto the other.
# (tint: a cluster's or a part's fill; border: its outline, and the lines it draws.)
SCOPE_COLORS = {
    "projection": ("#eceff1", "#8c99a1"),
    "input_gate": ("#e8f5e9", "#6fb374"),
    "forget_gate": ("#fbe9e7", "#d0806f"),
    "candidate": ("#fff8e1", "#d9b440"),
    "output_gate": ("#e3f2fd", "#5f9bd6"),
    "cell_state": ("#f3e5f5", "#a66cb3"),
    "hidden_state": ("#e0f2f1", "#4fa89d"),
    "update_gate": ("#fff3e0", "#e0953f"),
    "reset_gate": ("#fce4ec", "#d97a9c"),
}
# Scopes without a colour of their own take these, in order of first appearance of the name,
# so that the same scope gets the same tint in every time step.
CLUSTER_TINTS = ["#ede7f6", "#f1f8e9", "#e0f7fa", "#fbe9e7", "#e8f5e9", "#fff8e1", "#e3f2fd",
                 "#f3e5f5"]
CLUSTER_BORDERS = ["#9e8cc9", "#a5c77f", "#6cc3cf", "#d0806f", "#6fb374", "#d9b440", "#5f9bd6",
                   "#a66cb3"]
OUTER_CLUSTER = {"style": "rounded,dashed", "color": "#888888", "fontcolor": "#555555"}

# The heatmap scale: ColorBrewer's YlOrRd, pale for a faded gradient, dark red for a strong one.
# Its luminance falls monotonically, so a larger norm is always a darker node.
HEAT = ["#ffffcc", "#ffeda0", "#fed976", "#feb24c", "#fd8d3c", "#fc4e2a", "#e31a1c", "#bd0026",
        "#800026"]
NO_GRADIENT = {"fillcolor": "#ffffff", "color": "#bbbbbb", "fontcolor": "#999999"}


def scope_colors(name, fallback=0):
    """The (tint, border) colours of a scope: its own for the parts of a recurrent cell
    (`SCOPE_COLORS`), else number `fallback` of the shared tints."""
    if name in SCOPE_COLORS:
        return SCOPE_COLORS[name]
    i = fallback % len(CLUSTER_TINTS)
    return CLUSTER_TINTS[i], CLUSTER_BORDERS[i]


def node_kind(op):
    """The style name for an op: "pointwise", "layer" or "plumbing"."""
    if op in _POINTWISE:
        return "pointwise"
    return "plumbing" if op in _PLUMBING else "layer"


def symbol(op):
    """The symbol drawn for an op name, e.g. "σ" for "sigmoid"."""
    return SYMBOLS.get(op, op.lstrip("_"))


def _rgb(hex_color):
    return tuple(int(hex_color[i:i + 2], 16) for i in (1, 3, 5))


def heat_color(log_norm, low, high):
    """The heatmap colour of a node whose gradient norm has log10 `log_norm`.

    Args:
        log_norm: log10 of the gradient norm (-inf for an all-zero gradient).
        low: the log10 norm drawn palest; anything smaller is drawn the same.
        high: the log10 norm drawn darkest; anything larger is drawn the same.

    Returns:
        A "#rrggbb" colour, monotone in `log_norm`: a larger norm never gives a lighter colour.
    """
    position = 0.0 if math.isinf(log_norm) and log_norm < 0 else (log_norm - low) / (high - low)
    position = min(max(position, 0.0), 1.0) * (len(HEAT) - 1)
    i = min(int(position), len(HEAT) - 2)
    share = position - i
    a, b = _rgb(HEAT[i]), _rgb(HEAT[i + 1])
    return "#" + "".join(f"{round(x + (y - x) * share):02x}" for x, y in zip(a, b))


def luminance(hex_color):
    """The luma (0 black .. 1 white) of a "#rrggbb" colour, to pick a readable text colour."""
    r, g, b = _rgb(hex_color)
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255
