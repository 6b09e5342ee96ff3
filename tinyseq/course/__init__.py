"""What the course's tutorials need to run anywhere: show a figure, print a table, pick a size,
read a measured result.

The tutorials import these from the package, so a page runs the same way wherever its code
goes: copied block by block into a Python session in any folder, downloaded as a script, or
opened as a notebook.

* `show(figure)` draws a matplotlib figure or a graphviz graph where the reader is looking:
  inline in Jupyter, into the page while the website is built (TINYSEQ_DOCS=1), and otherwise
  as an SVG file under `./tinyseq-figures/` in the current folder (the path is printed).
* `table(headers, rows)` prints a table the same three ways.
* `pick(full=..., fast=...)` returns `fast` when TINYSEQ_FAST=1 (smaller models, fewer steps:
  every line still runs, in seconds) and `full` otherwise.
* `load_result(name)` returns a measurement shipped with the package, for results that take
  too long to compute on the page (a full IMDB training, eleven seeds); `result_names()` lists
  them.
"""

from __future__ import annotations

import html
import io
import json
import os
import re
import sys
from importlib import resources
from pathlib import Path

from ..viz.drawing import INSTALL_HINT, GraphvizNotFoundError

__all__ = ["FIGURE_FOLDER", "load_result", "pick", "result_names", "show", "table",
           "use_plain_matplotlib"]

FIGURE_FOLDER = "tinyseq-figures"
"""Where `show` saves figures outside Jupyter and the website: this folder in the current directory."""

# What the website's build hook (docs/_tooling/hooks.py) looks for in the printed output: the
# text between these markers is HTML (an SVG figure, a table) to put into the page as it is.
HTML_START = "\x02tinyseq-html\x02"
HTML_END = "\x03tinyseq-html\x03"

_figures_shown = 0


def fast_mode():
    """True when the environment variable TINYSEQ_FAST is set to anything but "" or "0"."""
    return os.environ.get("TINYSEQ_FAST", "") not in ("", "0")


def pick(full, fast):
    """Return `fast` in a quick run (TINYSEQ_FAST=1) and `full` otherwise.

    Example:
        >>> pick(full=20_000, fast=200) in (20_000, 200)
        True
    """
    return fast if fast_mode() else full


def show(figure, name=None):
    """Show a matplotlib figure or a graphviz graph, wherever the code runs.

    In Jupyter the SVG is displayed inline in the cell's output. While the website is built
    (TINYSEQ_DOCS=1) it goes into the page. Anywhere else (a script, a Python prompt) it is saved
    as `./tinyseq-figures/<script>-<n>.svg` (or `<script>-<name>.svg`) and the path is printed.
    A matplotlib figure is closed once shown.

    Args:
        figure: a `matplotlib.figure.Figure` or a `graphviz.Digraph` (what `tinyseq.viz.draw`
            returns).
        name: an optional file-name part, e.g. "loss-curve".

    Returns:
        The SVG text.
    """
    global _figures_shown
    svg = _svg_of(figure)
    _figures_shown += 1
    where = _where()
    if where == "website":
        # Shrink to the column, but never below 60 % of the natural size (scroll sideways instead).
        width = _natural_width_px(svg)
        style = f' style="--natural-width: {width:.0f}px"' if width else ""
        sys.stdout.write(f'{HTML_START}<div class="tinyseq-figure"{style}>{svg}</div>{HTML_END}\n')
    elif where == "jupyter":
        from IPython.display import SVG, display
        display(SVG(svg))
    else:
        folder = Path(FIGURE_FOLDER)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{_script_name()}-{name or _figures_shown}.svg"
        path.write_text(svg, encoding="utf-8")
        print(f"[figure saved to {path}]")
    _close(figure)
    return svg


def table(headers, rows, align=None):
    """Print a table: HTML in Jupyter and on the website, aligned plain text anywhere else.

    Args:
        headers: the column titles.
        rows: a list of rows, each a list of cells (already formatted as they should appear).
        align: optional, one of "l" / "r" per column (default: columns of numbers right,
            others left).

    Example:
        >>> table(["step", "loss"], [[1, "0.69"], [10, "0.31"]])
        step  loss
        ----  ----
           1  0.69
          10  0.31
    """
    rows = [[str(cell) for cell in row] for row in rows]
    bad = [i for i, row in enumerate(rows) if len(row) != len(headers)]
    if bad:
        raise ValueError(f"table: every row needs {len(headers)} cells (one per header); "
                         f"row {bad[0]} has {len(rows[bad[0]])}")
    if align is None:
        align = ["r" if rows and all(_looks_numeric(row[i]) for row in rows) else "l"
                 for i in range(len(headers))]
    elif len(align) != len(headers) or set(align) - {"l", "r"}:
        raise ValueError(f"table: align must give 'l' or 'r' for each of the {len(headers)} columns, "
                         f"got {align!r}")
    where = _where()
    if where == "website":
        sys.stdout.write(f"{HTML_START}{_html_table(headers, rows, align)}{HTML_END}\n")
    elif where == "jupyter":
        from IPython.display import HTML, display
        display(HTML(_html_table(headers, rows, align)))
    else:
        print(_text_table(headers, rows, align))


def load_result(name):
    """Return a measurement shipped with tinyseq (the parsed JSON file `name`.json).

    These are runs too long to repeat on a page; each page that uses one says the command that
    measured it.

    Args:
        name: the result's name, e.g. "imdb-train" (see `result_names()`).

    Example:
        >>> "imdb-train" in result_names()
        True
    """
    names = result_names()
    if name not in names:
        raise ValueError(f"load_result: no result named {name!r}; the results shipped with tinyseq are "
                         f"{', '.join(names)}")
    return json.loads(_results_folder().joinpath(f"{name}.json").read_text(encoding="utf-8"))


def result_names():
    """The names `load_result` accepts, sorted."""
    return sorted(entry.name[:-len(".json")] for entry in _results_folder().iterdir()
                  if entry.name.endswith(".json"))


def use_plain_matplotlib():
    """Set matplotlib up for the tutorials and return `matplotlib.pyplot`.

    No window opens (figures go through `show`), SVG keeps its text as text (small and sharp),
    and a fixed hash salt makes the SVG the same on every run.
    """
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    plt.rcParams.update({"svg.fonttype": "none", "svg.hashsalt": "tinyseq", "figure.dpi": 100,
                         "figure.figsize": (6.4, 3.6), "axes.spines.top": False,
                         "axes.spines.right": False, "axes.grid": True, "grid.alpha": 0.3})
    return plt


# ---- where the code runs ---------------------------------------------------------------------
def _where():
    """"website" during the site build, "jupyter" inside a notebook kernel, else "files"."""
    if os.environ.get("TINYSEQ_DOCS", "") == "1":
        return "website"
    shell = sys.modules.get("IPython") and sys.modules["IPython"].get_ipython()
    # A notebook kernel has a `kernel`; the terminal IPython has none and gets files like a script.
    if shell is not None and getattr(shell, "kernel", None) is not None:
        return "jupyter"
    return "files"


def _script_name():
    """The running script's name without .py, or "figure" at a prompt or for `python -`."""
    stem = Path(sys.argv[0]).stem if sys.argv and sys.argv[0] else ""
    return stem if stem and stem not in ("-", "-c") else "figure"


def _results_folder():
    return resources.files(__package__).joinpath("results")


# ---- drawing -----------------------------------------------------------------------------------
def _svg_of(figure):
    """The SVG text of a figure, without the XML prolog or comments (so it can sit in HTML)."""
    if hasattr(figure, "savefig"):  # matplotlib
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", bbox_inches="tight")
        text = buffer.getvalue()
    elif hasattr(figure, "pipe"):  # graphviz
        import graphviz
        try:
            text = figure.pipe(format="svg", encoding="utf-8")
        except graphviz.ExecutableNotFound:
            raise GraphvizNotFoundError(f"show: {INSTALL_HINT}") from None
    else:
        raise TypeError(f"show: expected a matplotlib figure or a graphviz graph, got {type(figure).__name__}")
    start = text.find("<svg")
    if start < 0:
        raise ValueError(f"show: the {type(figure).__name__} did not render to SVG")
    # graphviz writes node names into comments; the page does not need them.
    return re.sub(r"<!--.*?-->", "", text[start:], flags=re.S)


def _natural_width_px(svg):
    match = re.match(r'<svg[^>]*?\swidth="([\d.]+)(pt|px)?"', svg)
    if not match:
        return None
    return float(match.group(1)) * (4 / 3 if match.group(2) == "pt" else 1)


def _close(figure):
    if hasattr(figure, "savefig"):
        import matplotlib.pyplot as plt
        plt.close(figure)


# ---- tables ------------------------------------------------------------------------------------
def _looks_numeric(text):
    return bool(re.fullmatch(r"[-+−]?[\d.,]+(e[-+]?\d+)?\s*[%a-zµ/]*", text.strip()))


def _html_table(headers, rows, align):
    side = {"l": "left", "r": "right"}
    head = "".join(f'<th style="text-align:{side[a]}">{html.escape(str(h))}</th>' for h, a in zip(headers, align))
    body = "".join("<tr>" + "".join(f'<td style="text-align:{side[a]}">{html.escape(cell)}</td>'
                                    for cell, a in zip(row, align)) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _text_table(headers, rows, align):
    headers = [str(h) for h in headers]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]

    def line(cells):
        return "  ".join(c.rjust(w) if a == "r" else c.ljust(w) for c, w, a in zip(cells, widths, align)).rstrip()
    return "\n".join([line(headers), "  ".join("-" * w for w in widths), *(line(row) for row in rows)])
