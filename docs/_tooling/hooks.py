"""MkDocs hooks for the tinyseq site (listed under `hooks:` in mkdocs.yml).

1. Tutorials are Python scripts in `tutorials/` written in the "percent" format: cells start
   with `# %%` (code) or `# %% [markdown]` (text, every line a comment). A page containing

       <!-- tutorial: 01_autograd.py -->

   gets the whole script in that place: text cells become the page's prose and code cells become
   markdown-exec blocks, run at build time in one session per page. So the page *is* the script:
   they cannot drift apart, and every number on the page is computed while the site builds.
   Each script is published under downloads/ as it is and as a Jupyter notebook made from it by
   jupytext (`notebook_of`), and the page links to both.

2. Output of executed Python blocks. markdown-exec captures only what the block itself prints;
   here everything written to stdout while a block runs is captured, in order (also what
   library code prints). In blocks with `html="on"` the text is shown as preformatted text and
   the parts `tinyseq.course.show()` / `table()` mark as HTML (SVG figures, tables) are
   inserted as they are.

3. Environment for the executed code: TINYSEQ_DOCS=1 (so `show()` draws into the page),
   matplotlib without a window, and the IMDB archive found the way quickstart.sh finds it. The
   code imports only the installed tinyseq, as a reader's copy of it would.
"""

from __future__ import annotations

import builtins
import contextlib
import functools
import html
import io
import logging
import os
import re
import sys
import time
from pathlib import Path

# The pages' code multiplies small matrices: one BLAS thread is fastest, and extra threads that
# spin while the machine is busy can slow a build down many times over. (Set before the pages'
# code first imports numpy.)
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

# The markers tinyseq.course writes around HTML in printed output (tinyseq imports numpy: after
# the thread settings above).
from tinyseq.course import HTML_END, HTML_START  # noqa: E402

log = logging.getLogger("mkdocs.hooks.tinyseq")
ROOT = Path(__file__).resolve().parents[2]
TUTORIALS = ROOT / "tutorials"
DIRECTIVE = re.compile(r"^<!--\s*tutorial:\s*(?P<name>[\w.-]+\.py)\s*-->\s*$", re.M)
CELL = re.compile(r"^# %%(?P<rest>.*)$")
DOWNLOADS_URL = "../downloads/"  # relative to a page docs/tutorials/<name>.md


# ---- 3. environment ------------------------------------------------------------------------
def on_startup(command, dirty):
    os.environ["TINYSEQ_DOCS"] = "1"
    os.environ.setdefault("MPLBACKEND", "Agg")
    # Shell blocks (`$ tinyseq ...`) run the `tinyseq` installed beside this Python (a venv's).
    os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    archive = ROOT.parent / "shared" / "data" / "aclImdb_v1_labeled.tar.gz"
    if "TINYSEQ_DATA" not in os.environ and archive.is_file():
        os.environ["TINYSEQ_DATA"] = str(archive)
    _capture_all_output()


# ---- 2. output capture -----------------------------------------------------------------------
def _capture_all_output():
    """Route each executed block's whole stdout into the page (see the module docstring)."""
    try:
        from markdown_exec._internal import main
        from markdown_exec._internal.formatters import base, python
        python._run_python, python._buffer_print, main.formatters  # noqa: B018 (fail loudly if renamed)
    except (ImportError, AttributeError) as error:  # a markdown-exec release moved its internals
        raise RuntimeError(f"docs hooks: this markdown-exec version is not supported ({error}); "
                           f"pin the one in pyproject.toml's docs extra") from error

    # The block's own print() goes to the real stdout (redirected below), keeping the order.
    python._buffer_print = lambda buffer, *texts, **kwargs: builtins.print(*texts, **kwargs)

    def run(code, *, as_html, **kwargs):
        captured = io.StringIO()
        with contextlib.redirect_stdout(captured):
            python._run_python(code, **kwargs)
        text = captured.getvalue()
        return output_to_html(text) if as_html else text

    def format_python(**kwargs):
        return base.base_format(language="python", run=functools.partial(run, as_html=kwargs.get("html", False)),
                                **kwargs)

    main.formatters["python"] = main.formatters["py"] = format_python


def output_to_html(text):
    """Printed text as <pre> blocks, with the marked HTML parts (figures, tables) left as they are."""
    parts = []
    for i, piece in enumerate(re.split(f"{HTML_START}|{HTML_END}", text)):
        if i % 2:
            parts.append(piece)
        elif piece.strip("\n"):
            parts.append(f'<pre class="tinyseq-output"><code>{html.escape(piece.strip(chr(10)))}</code></pre>')
    return "\n".join(parts)


# ---- 1. tutorials as pages ----------------------------------------------------------------------
def on_page_markdown(markdown, page, config, files):
    _started[page.file.src_uri] = time.perf_counter()
    markdown = DIRECTIVE.sub(lambda m: script_to_markdown(TUTORIALS / m.group("name")), markdown)
    return default_session(markdown, re.sub(r"\W+", "_", page.file.src_uri))


_started, _seconds = {}, {}


def on_page_content(html, page, config, files):
    _seconds[page.file.src_uri] = time.perf_counter() - _started.pop(page.file.src_uri, time.perf_counter())
    return html


def on_post_build(config):
    """Report the pages whose code took longest, to keep the build under its time budget."""
    slow = sorted(_seconds.items(), key=lambda item: -item[1])[:5]
    log.info("docs: slowest pages: " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in slow))
    _seconds.clear()


FENCE_INFO = re.compile(r'^(?P<fence>[ \t]*`{3,}\s*(?:python|py)\b)(?P<info>[^\n]*\bexec="(?:on|true|yes|1)"[^\n]*)$',
                        re.M)


def default_session(markdown, session):
    """Executed Python blocks without a `session` share one per page, so later blocks see what
    earlier ones defined, as in a script."""
    def add(match):
        info = match.group("info")
        return match.group(0) if "session=" in info else f'{match.group("fence")}{info} session="{session}"'
    return FENCE_INFO.sub(add, markdown)


def script_to_markdown(path):
    """The page text for a percent-format tutorial script (see the module docstring)."""
    if not path.is_file():
        raise FileNotFoundError(f"docs: tutorial script {path} does not exist")
    cells = split_cells(path.read_text(encoding="utf-8"), path.name)
    session = path.stem
    out = []
    for kind, lines in cells:
        if kind == "markdown":
            out.append("\n".join(lines))
        else:
            code = "\n".join(lines)
            out.append(f'````python exec="on" source="block" html="on" session="{session}"\n{code}\n````')
    text = "\n\n".join(out) + "\n"
    notebook = path.with_suffix(".ipynb").name
    note = (f'!!! tip "Run this tutorial yourself"\n'
            f"    [:material-download: Notebook]({DOWNLOADS_URL}{notebook}){{ .md-button download }}\n"
            f"    [:material-download: Python script]({DOWNLOADS_URL}{path.name}){{ .md-button download }}\n\n"
            f"    This page is the script `{path.name}`, run while the site was built: every output "
            f"and figure below was produced by the code above it. With tinyseq and matplotlib "
            f"installed (the `plots` extra), open the notebook in Jupyter (figures appear inline), "
            f"run `python {path.name}` in any folder (figures are saved to `./tinyseq-figures/`), "
            f"or paste the blocks one after another into Python. "
            f"`TINYSEQ_FAST=1` trains smaller models, in seconds.\n")
    # The note goes right below the page title.
    title = re.search(r"^# .*$", text, re.M)
    if title is None:
        raise ValueError(f"docs: {path.name} must start with a markdown cell holding '# Title'")
    return text[:title.end()] + "\n\n" + note + text[title.end():]


def on_files(files, config):
    """Publish each tutorial under downloads/ as its script and as a notebook."""
    from mkdocs.structure.files import File

    for script in sorted(TUTORIALS.glob("*.py")):
        files.append(File.generated(config, f"downloads/{script.name}", abs_src_path=str(script)))
        files.append(File.generated(config, f"downloads/{script.stem}.ipynb", content=notebook_of(script)))
    return files


def notebook_of(script):
    """The Jupyter notebook (JSON text) of a percent-format script: the same cells, no outputs."""
    import jupytext

    notebook = jupytext.reads(script.read_text(encoding="utf-8"), fmt="py:percent")
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.metadata.pop("jupytext", None)  # a plain notebook, not paired with a script
    for number, cell in enumerate(notebook.cells):
        cell.id = f"cell-{number}"  # the same notebook on every build (jupytext draws random ids)
    return jupytext.writes(notebook, fmt="ipynb")


def split_cells(source, name="script"):
    """Split a percent-format script into [("markdown" | "code", lines)], dropping empty cells.

    Lines before the first `# %%` must be comments or blank (nothing may run unseen)."""
    cells, kind, lines = [], None, []
    for number, line in enumerate(source.splitlines(), 1):
        marker = CELL.match(line)
        if marker:
            if kind:
                cells.append((kind, lines))
            kind = "markdown" if marker.group("rest").strip().startswith("[markdown]") else "code"
            lines = []
        elif kind is None:
            if line.strip() and not line.lstrip().startswith("#"):
                raise ValueError(f"docs: {name}:{number}: code before the first '# %%' cell")
        elif kind == "markdown":
            if line.strip() and not line.startswith("#"):
                raise ValueError(f"docs: {name}:{number}: a markdown cell line must start with '#'")
            lines.append(line[2:] if line.startswith("# ") else line[1:])
        else:
            lines.append(line)
    if kind:
        cells.append((kind, lines))
    trimmed = []
    for kind, lines in cells:
        while lines and not lines[0].strip():
            lines.pop(0)
        while lines and not lines[-1].strip():
            lines.pop()
        if lines:
            trimmed.append((kind, lines))
    return trimmed
