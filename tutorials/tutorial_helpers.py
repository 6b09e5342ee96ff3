"""Small helpers the tutorials share: show a figure, and pick a size for a fast run.

Every tutorial is a plain Python script that you can run on its own:

    python tutorials/01_autograd.py

The documentation website runs the very same scripts while it is being built and puts what
they print and draw into the pages. Two things differ between the two ways of running:

* `show(figure)`: on the website the figure (a matplotlib figure or a graphviz graph) is drawn
  into the page as an SVG image; run on its own, the script saves it as an SVG file in
  `tutorials/output/` (or the folder named by TINYSEQ_TUTORIAL_OUTPUT) and prints the path.
* `pick(full=..., fast=...)`: with the environment variable TINYSEQ_FAST=1 (what the tests use)
  the tutorials train smaller models for fewer steps, so they finish in seconds. The results are
  then less good, but every line of code still runs.
"""

from __future__ import annotations

import io
import os
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
"""The repository's root folder (the tutorials read result files from docs/results/ there)."""

FAST = os.environ.get("TINYSEQ_FAST", "") not in ("", "0")
"""True when TINYSEQ_FAST is set (to anything but 0): the quick run used by the tests."""

ON_WEBSITE = os.environ.get("TINYSEQ_DOCS", "") == "1"
"""True while the documentation website is being built (set by its build hook)."""

# What the website's build hook looks for in the printed output: the text between these markers
# is an SVG image to insert into the page as it is (everything else is shown as plain text).
HTML_START = "\x02tinyseq-html\x02"
HTML_END = "\x03tinyseq-html\x03"

_figure_count = 0


def pick(full, fast):
    """Return `fast` in a quick run (TINYSEQ_FAST=1) and `full` otherwise."""
    return fast if FAST else full


def show(figure, name=None):
    """Show a matplotlib figure or a graphviz graph.

    On the website it becomes an SVG image in the page. Run as a script, it is saved to
    `tutorials/output/<script>-<n>.svg` (or `<script>-<name>.svg`), and the path is printed.

    Args:
        figure: a `matplotlib.figure.Figure` or a `graphviz.Digraph` (what
            `tinyseq.viz.draw` returns).
        name: an optional file-name part, e.g. "loss-curve".

    Returns:
        The SVG text.
    """
    global _figure_count
    _figure_count += 1
    svg = _svg_of(figure)
    if ON_WEBSITE:
        # Shrink to the column, but never below 60% of the natural size (scroll sideways instead).
        width = _natural_width_px(svg)
        style = f' style="--natural-width: {width:.0f}px"' if width else ""
        sys.stdout.write(f'{HTML_START}<div class="tinyseq-figure"{style}>{svg}</div>{HTML_END}\n')
    else:
        folder = Path(os.environ.get("TINYSEQ_TUTORIAL_OUTPUT", Path(__file__).parent / "output"))
        folder.mkdir(parents=True, exist_ok=True)
        script = Path(sys.argv[0]).stem or "tutorial"
        path = folder / f"{script}-{name or _figure_count}.svg"
        path.write_text(svg, encoding="utf-8")
        print(f"[figure saved to {path}]")
    _close(figure)
    return svg


def table(headers, rows, align=None):
    """Print a table: an HTML table on the website, aligned plain text when run as a script.

    Args:
        headers: the column titles.
        rows: a list of rows, each a list of cells (already formatted as you want them shown).
        align: optional, one of "l" / "r" per column (default: numbers right, text left).
    """
    rows = [[str(cell) for cell in row] for row in rows]
    if align is None:
        align = ["r" if rows and all(_looks_numeric(row[i]) for row in rows) else "l"
                 for i in range(len(headers))]
    if ON_WEBSITE:
        from html import escape
        style = {"l": "left", "r": "right"}
        head = "".join(f'<th style="text-align:{style[a]}">{escape(str(h))}</th>' for h, a in zip(headers, align))
        body = "".join("<tr>" + "".join(f'<td style="text-align:{style[a]}">{escape(c)}</td>'
                                        for c, a in zip(row, align)) + "</tr>" for row in rows)
        sys.stdout.write(f"{HTML_START}<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{HTML_END}\n")
        return
    widths = [max(len(str(h)), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]

    def line(cells):
        return "  ".join(c.rjust(w) if a == "r" else c.ljust(w) for c, w, a in zip(cells, widths, align)).rstrip()
    print(line([str(h) for h in headers]))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print(line(row))


def _looks_numeric(text):
    return bool(re.fullmatch(r"[-+−]?[\d.,]+(e[-+]?\d+)?\s*[%a-zµ/]*", text.strip()))


def _svg_of(figure):
    """The SVG text of a figure, without the XML prolog (so it can sit inside an HTML page)."""
    if hasattr(figure, "savefig"):  # matplotlib
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", bbox_inches="tight")
        text = buffer.getvalue()
    elif hasattr(figure, "pipe"):  # graphviz
        text = figure.pipe(format="svg", encoding="utf-8")
    else:
        raise TypeError(f"show: expected a matplotlib figure or a graphviz graph, got {type(figure).__name__}")
    start = text.find("<svg")
    if start < 0:
        raise ValueError("show: the figure did not render to SVG")
    # Comments (graphviz writes the node names into them) are not needed inside the page.
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


def use_plain_matplotlib():
    """Configure matplotlib for the tutorials: no window (figures go to `show`), SVG that keeps
    text as text (so it is small and sharp), and a fixed hash so builds are reproducible."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    plt.rcParams.update({"svg.fonttype": "none", "svg.hashsalt": "tinyseq", "figure.dpi": 100,
                         "figure.figsize": (6.4, 3.6), "axes.spines.top": False,
                         "axes.spines.right": False, "axes.grid": True, "grid.alpha": 0.3})
    return plt
