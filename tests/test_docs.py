"""The website and the tutorials: every tutorial runs (fast mode), every code block on the site
runs or is checked, and `mkdocs build --strict` passes in under three minutes.

The build test needs the docs extra (`pip install -e ".[docs]"`) and is skipped without it.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
TUTORIALS = ROOT / "tutorials"
SCRIPTS = sorted(TUTORIALS.glob("[0-9][0-9]_*.py"))
PAGES = sorted(DOCS.rglob("*.md"))
BUILD_SECONDS = 180
NEEDS_IMDB = {"06_imdb_sentiment.py"}


def _load_hooks():
    spec = importlib.util.spec_from_file_location("tinyseq_docs_hooks", DOCS / "_tooling" / "hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


hooks = _load_hooks()


def _fences(text):
    """(info string, body) of every fenced code block at any indentation, in order."""
    for match in re.finditer(r"^(?P<indent>[ \t]*)(?P<fence>`{3,})(?P<info>[^\n`]*)\n(?P<body>.*?)^(?P=indent)(?P=fence)[ \t]*$",
                             text, re.M | re.S):
        yield match.group("info").strip(), match.group("body")


def _page_text(page):
    """The page as the build sees it: tutorial directives expanded."""
    return hooks.DIRECTIVE.sub(lambda m: hooks.script_to_markdown(TUTORIALS / m.group("name")),
                               page.read_text(encoding="utf-8"))


# ---- the tutorials -----------------------------------------------------------------------
@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_tutorial_runs_in_fast_mode(script, tmp_path):
    if script.name in NEEDS_IMDB and not _imdb_data():
        pytest.skip("the IMDB archive is not available (TINYSEQ_DATA)")
    env = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", **os.environ, "TINYSEQ_FAST": "1",
           "TINYSEQ_TUTORIAL_OUTPUT": str(tmp_path), "MPLBACKEND": "Agg", "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    env.pop("TINYSEQ_DOCS", None)
    started = time.perf_counter()
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, f"{script.name} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    shows = len(re.findall(r"^\s*show\(", script.read_text(encoding="utf-8"), re.M))
    saved = list(tmp_path.glob("*.svg"))
    assert len(saved) >= min(shows, 1), f"{script.name}: show() saved no figure"
    assert time.perf_counter() - started < 300, f"{script.name} is too slow for its fast mode"


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_tutorial_has_a_page(script):
    pages = [p for p in PAGES if f"<!-- tutorial: {script.name} -->" in p.read_text(encoding="utf-8")]
    assert len(pages) == 1, f"{script.name} should be included by exactly one page, found {pages}"
    cells = hooks.split_cells(script.read_text(encoding="utf-8"), script.name)
    assert cells[0][0] == "markdown" and cells[0][1][0].startswith("# "), \
        f"{script.name} must open with a markdown cell whose first line is '# Title'"


def test_tutorial_pages_are_complete_or_marked_stubs():
    for page in sorted((DOCS / "tutorials").glob("[0-9][0-9]-*.md")):
        text = page.read_text(encoding="utf-8")
        assert hooks.DIRECTIVE.search(text) or '!!! warning "Coming soon"' in text, \
            f"{page.name} neither includes a tutorial script nor says it is a stub"


# ---- every code block on the site --------------------------------------------------------
RUNS = re.compile(r'\bexec="(on|true|yes|1)"')
SHELL_COMMANDS = {"pip", "python", "python3", "tinyseq", "bash", "mkdocs", "apt-get", "sudo", "pytest",
                  "cd", "export", "git", "brew", "TINYSEQ_FAST=1", "jupytext"}


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(DOCS)) for p in PAGES])
def test_every_code_block_runs_or_is_checked(page):
    """Python blocks run at build time (exec="on", so a failure fails the strict build). Shell
    blocks that do not run are checked: known commands, `tinyseq` commands the CLI accepts, and
    tutorial scripts that exist."""
    from tinyseq.cli import build_parser

    for info, body in _fences(_page_text(page)):
        language = info.split()[0] if info else ""
        if language in ("python", "py", "pycon", "console"):
            assert RUNS.search(info), f"{page.name}: a {language} block does not run at build time:\n{body}"
        if language in ("bash", "sh") and not RUNS.search(info):
            for line in body.splitlines():
                command = line.split("#", 1)[0].strip()
                if not command:
                    continue
                words = shlex.split(command)
                while words and "=" in words[0] and words[0] != "TINYSEQ_FAST=1":
                    words.pop(0)
                assert words[0] in SHELL_COMMANDS, f"{page.name}: unknown command in {line!r}"
                if words[0] == "TINYSEQ_FAST=1":
                    words.pop(0)
                if words[0] == "tinyseq":
                    try:
                        build_parser().parse_args(words[1:])
                    except SystemExit as error:
                        pytest.fail(f"{page.name}: `{command}` is not a valid tinyseq command ({error})")
                if words[0] in ("python", "python3") and len(words) > 1 and words[1].endswith(".py"):
                    assert (ROOT / words[1]).is_file(), f"{page.name}: {words[1]} does not exist"
                if words[0] == "bash" and len(words) > 1:
                    assert (ROOT / words[1]).is_file(), f"{page.name}: {words[1]} does not exist"


def _api_modules():
    names = []
    for page in sorted((DOCS / "reference" / "api").glob("*.md")):
        names += re.findall(r"^::: ([\w.]+)", page.read_text(encoding="utf-8"), re.M)
    return names


@pytest.mark.parametrize("module_name", _api_modules())
def test_docstring_examples_on_the_api_pages_run(module_name, tmp_path, monkeypatch):
    """The `>>>` examples the API reference shows run as written (doctest)."""
    import doctest
    import importlib

    if module_name == "tinyseq.datasets.imdb" and not _imdb_data():
        pytest.skip("the IMDB archive is not available (TINYSEQ_DATA)")
    monkeypatch.chdir(tmp_path)                  # examples may write files
    module = importlib.import_module(module_name)
    failures = []
    for test in doctest.DocTestFinder().find(module, module_name):
        if not test.examples:
            continue
        runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
        output = []
        runner.run(test, out=output.append)
        if runner.failures:
            failures.append(f"{test.name}:\n" + "".join(output)[-1500:])
    assert not failures, "docstring examples that do not run:\n" + "\n".join(failures)


def _imdb_data():
    """Point TINYSEQ_DATA at the shared archive when it is beside the checkout; True if found."""
    archive = ROOT.parent / "shared" / "data" / "aclImdb_v1_labeled.tar.gz"
    if not os.environ.get("TINYSEQ_DATA") and archive.is_file():
        os.environ["TINYSEQ_DATA"] = str(archive)
    cache = Path(os.environ.get("TINYSEQ_CACHE", Path.home() / ".cache" / "tinyseq"))
    return bool(os.environ.get("TINYSEQ_DATA")) or any(cache.glob("imdb-*.npz"))


def test_output_capture_keeps_order_and_escapes_text():
    marked = f"a < b\n{hooks.HTML_START}<svg></svg>{hooks.HTML_END}\nafter\n"
    html = hooks.output_to_html(marked)
    assert html.index("a &lt; b") < html.index("<svg></svg>") < html.index("after")


def test_split_cells_refuses_code_outside_cells():
    with pytest.raises(ValueError):
        hooks.split_cells("x = 1\n# %%\ny = 2\n")
    assert hooks.split_cells("# header comment\n# %% [markdown]\n# # T\n# %%\nx = 1\n\n") == \
        [("markdown", ["# T"]), ("code", ["x = 1"])]


# ---- the strict build --------------------------------------------------------------------
@pytest.mark.skipif(importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("material") is None
                    or importlib.util.find_spec("markdown_exec") is None,
                    reason="the docs extra is not installed (pip install -e '.[docs]')")
def test_strict_build(tmp_path):
    if not _imdb_data():
        pytest.skip("the IMDB tutorial needs the IMDB archive (TINYSEQ_DATA)")
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                            cwd=ROOT, capture_output=True, text=True, timeout=900,
                            env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    seconds = time.perf_counter() - started
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stdout[-5000:]}\n{result.stderr[-5000:]}"
    assert seconds < BUILD_SECONDS, f"the site took {seconds:.0f} s to build (limit {BUILD_SECONDS} s)"
    for page in (tmp_path / "site").rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert "Traceback (most recent call last)" not in text, f"{page} shows a Python traceback"
