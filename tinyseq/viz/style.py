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

# Tints for innermost clusters (the gates), in order of first appearance of a scope name, so
# that the forget gate of every time step gets the same tint.
CLUSTER_TINTS = ["#fbe9e7", "#e8f5e9", "#fff8e1", "#e3f2fd", "#f3e5f5", "#e0f2f1", "#fff3e0",
                 "#eceff1"]
CLUSTER_BORDERS = ["#d7a39b", "#9fcfa2", "#e6cf7a", "#90bde6", "#c9a3d1", "#8fcbc4", "#e8b77d",
                   "#aab4ba"]
OUTER_CLUSTER = {"style": "rounded,dashed", "color": "#888888", "fontcolor": "#555555"}

# The heatmap scale: ColorBrewer's YlOrRd, pale for a faded gradient, dark red for a strong one.
# Its luminance falls monotonically, so a larger norm is always a darker node.
HEAT = ["#ffffcc", "#ffeda0", "#fed976", "#feb24c", "#fd8d3c", "#fc4e2a", "#e31a1c", "#bd0026",
        "#800026"]
NO_GRADIENT = {"fillcolor": "#ffffff", "color": "#bbbbbb", "fontcolor": "#999999"}


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
