"""The website and the tutorials: every tutorial runs anywhere (fast mode), every code block on
the site runs or is checked, and `mkdocs build --strict` passes in under three minutes.

"Anywhere" is tested as a learner meets it: in a fresh folder outside the repository, with only
the installed tinyseq importable, a tutorial runs as a downloaded script and as its code cells
pasted in order into a fresh Python session (tests/test_notebooks.py runs it as a notebook).

The build test needs the docs extra (`pip install -e ".[docs]"`) and is skipped without it.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
TUTORIALS = ROOT / "tutorials"
SCRIPTS = sorted(TUTORIALS.glob("[0-9][0-9]_*.py"))
PAGES = sorted(DOCS.rglob("*.md"))
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


# ---- the tutorials, run as a learner runs them ----------------------------------------------
def learner_environment():
    """os.environ as a learner's fresh shell has it: fast mode, no site build, nothing of the
    repository on the path (tinyseq is imported from where it is installed)."""
    _imdb_data()
    env = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", **os.environ, "TINYSEQ_FAST": "1"}
    for name in ("TINYSEQ_DOCS", "PYTHONPATH", "MPLBACKEND"):
        env.pop(name, None)
    return env


def fresh_folder(tmp_path):
    """An empty folder outside the repository to run in."""
    folder = tmp_path / "learner"
    folder.mkdir()
    assert ROOT not in folder.resolve().parents, "the test's folder must be outside the repository"
    return folder


def skip_without_data(script):
    if script.name in NEEDS_IMDB and not _imdb_data():
        pytest.skip("the IMDB archive is not available (TINYSEQ_DATA)")


def code_cells(script):
    """The code cells of a tutorial, in order: what a learner copies from its page."""
    return ["\n".join(lines) for kind, lines in hooks.split_cells(script.read_text(encoding="utf-8"), script.name)
            if kind == "code"]


def run_python(arguments, folder, stdin=None):
    result = subprocess.run([sys.executable, *arguments], cwd=folder, env=learner_environment(), input=stdin,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"failed in {folder}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


def assert_figures_saved(script, output, folder):
    """Every figure the run reports is an SVG file in ./tinyseq-figures/, and a script that shows
    figures saved at least one."""
    reported = re.findall(r"^\[figure saved to (.+)\]$", output, re.M)
    saved = sorted((folder / "tinyseq-figures").glob("*.svg"))
    assert sorted(folder / path for path in reported) == saved
    assert all(path.read_text(encoding="utf-8").startswith("<svg") for path in saved)
    if re.search(r"^\s*show\(", script.read_text(encoding="utf-8"), re.M):
        assert saved, f"{script.name}: show() saved no figure"


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_tutorial_runs_as_a_downloaded_script(script, tmp_path):
    skip_without_data(script)
    folder = fresh_folder(tmp_path)
    downloaded = shutil.copy(script, tmp_path / script.name)
    output = run_python([str(downloaded)], folder)
    assert_figures_saved(script, output, folder)


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_tutorial_runs_as_blocks_pasted_into_a_fresh_session(script, tmp_path):
    skip_without_data(script)
    folder = fresh_folder(tmp_path)
    output = run_python(["-"], folder, stdin="\n\n".join(code_cells(script)) + "\n")
    assert_figures_saved(script, output, folder)


RUN_LOCATION = {"__file__", "__spec__", "argv", "getfile", "getsourcefile"}


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_tutorial_does_not_depend_on_where_it_runs(script):
    """No tutorial asks where its own file is (a pasted block has none) or reads files by a path
    of the repository: results come from `tinyseq.course.load_result`."""
    tree = ast.parse(script.read_text(encoding="utf-8"))
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)} | \
            {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    assert not names & RUN_LOCATION, f"{script.name} uses {sorted(names & RUN_LOCATION)}"
    text = script.read_text(encoding="utf-8")
    for forbidden in ("tutorial_helpers", "docs/results", '"docs"', "tutorials/output"):
        assert forbidden not in text, f"{script.name} mentions {forbidden}"


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
    from tinyseq.apps.cli import build_parser

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
                    # a path in the repository, or a tutorial script as downloaded from its page
                    assert (ROOT / words[1]).is_file() or (TUTORIALS / words[1]).is_file(), \
                        f"{page.name}: {words[1]} does not exist"
                if words[0] == "bash" and len(words) > 1:
                    assert (ROOT / words[1]).is_file(), f"{page.name}: {words[1]} does not exist"


def executed_blocks(page):
    """The page's blocks that run at build time, as {session: [(language, code), ...]} in page
    order (blocks without a session share the page's, as the build hook arranges)."""
    sessions = {}
    for info, body in _fences(page.read_text(encoding="utf-8")):
        if not RUNS.search(info):
            continue
        session = re.search(r'session="([^"]+)"', info)
        sessions.setdefault(session.group(1) if session else "page", []).append((info.split()[0], body))
    return sessions


OTHER_PAGES = [page for page in PAGES if executed_blocks(page) and not hooks.DIRECTIVE.search(page.read_text(encoding="utf-8"))]


@pytest.mark.parametrize("page", OTHER_PAGES, ids=[str(p.relative_to(DOCS)) for p in OTHER_PAGES])
def test_page_blocks_run_from_a_fresh_folder(page, tmp_path):
    """The executed blocks of every page that is not a tutorial run in order in a fresh session,
    in a folder outside the repository: Python blocks pasted into Python, `$ ` lines of console
    blocks in a shell."""
    folder = fresh_folder(tmp_path)
    for session, blocks in executed_blocks(page).items():
        python = [code for language, code in blocks if language in ("python", "py")]
        if python:
            run_python(["-"], folder, stdin="\n\n".join(python))
        for language, code in blocks:
            if language == "console":
                for line in code.splitlines():
                    if line.startswith("$ "):
                        result = subprocess.run(line[2:], shell=True, cwd=folder, capture_output=True, text=True,
                                                env={**learner_environment(), "PATH": os.pathsep.join(
                                                    [str(Path(sys.executable).parent), os.environ["PATH"]])})
                        assert result.returncode == 0, f"{page.name}: `{line}` failed:\n{result.stderr[-2000:]}"


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
    return bool(os.environ.get("TINYSEQ_DATA"))


def test_output_capture_keeps_order_and_escapes_text():
    marked = f"a < b\n{hooks.HTML_START}<svg></svg>{hooks.HTML_END}\nafter\n"
    html = hooks.output_to_html(marked)
    assert html.index("a &lt; b") < html.index("<svg></svg>") < html.index("after")


def test_split_cells_refuses_code_outside_cells():
    with pytest.raises(ValueError):
        hooks.split_cells("x = 1\n# %%\ny = 2\n")
    assert hooks.split_cells("# header comment\n# %% [markdown]\n# # T\n# %%\nx = 1\n\n") == \
        [("markdown", ["# T"]), ("code", ["x = 1"])]


# ---- tinyseq.course: what the pages import ---------------------------------------------------
def test_pick_follows_tinyseq_fast(monkeypatch):
    from tinyseq.course import pick

    for value, expected in (("1", "fast"), ("yes", "fast"), ("0", "full"), ("", "full")):
        monkeypatch.setenv("TINYSEQ_FAST", value)
        assert pick(full="full", fast="fast") == expected
    monkeypatch.delenv("TINYSEQ_FAST")
    assert pick(full="full", fast="fast") == "full"


def test_table_as_text_and_as_html(monkeypatch, capsys):
    from tinyseq.course import table

    monkeypatch.delenv("TINYSEQ_DOCS", raising=False)
    table(["model", "accuracy"], [["lstm", "88.0%"], ["simple rnn", "51.2%"]])
    assert capsys.readouterr().out == ("model       accuracy\n"
                                       "----------  --------\n"
                                       "lstm           88.0%\n"
                                       "simple rnn     51.2%\n")
    monkeypatch.setenv("TINYSEQ_DOCS", "1")
    table(["a<b"], [["x&y"]], align=["r"])
    assert capsys.readouterr().out == (f'{hooks.HTML_START}<table><thead><tr><th style="text-align:right">a&lt;b</th>'
                                       f'</tr></thead><tbody><tr><td style="text-align:right">x&amp;y</td></tr>'
                                       f'</tbody></table>{hooks.HTML_END}\n')


def test_table_refuses_ragged_rows_and_bad_alignment():
    from tinyseq.course import table

    with pytest.raises(ValueError, match=r"table: every row needs 2 cells \(one per header\); row 1 has 3"):
        table(["a", "b"], [[1, 2], [1, 2, 3]])
    with pytest.raises(ValueError, match=r"table: align must give 'l' or 'r' for each of the 2 columns, got \['c', 'l'\]"):
        table(["a", "b"], [[1, 2]], align=["c", "l"])


def test_show_saves_in_the_current_folder_outside_jupyter_and_the_site(tmp_path, monkeypatch, capsys):
    import graphviz

    from tinyseq.course import show

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TINYSEQ_DOCS", raising=False)
    monkeypatch.setattr(sys, "argv", [str(tmp_path / "elsewhere" / "my_lesson.py")])
    graph = graphviz.Digraph()
    graph.edge("x", "y")
    svg = show(graph, "edge")
    saved = tmp_path / "tinyseq-figures" / "my_lesson-edge.svg"
    assert capsys.readouterr().out == f"[figure saved to {Path('tinyseq-figures') / 'my_lesson-edge.svg'}]\n"
    assert saved.read_text(encoding="utf-8") == svg and svg.startswith("<svg") and "<!--" not in svg

    monkeypatch.setattr(sys, "argv", ["-"])  # code pasted into `python -`
    show(graph)
    assert re.fullmatch(r"\[figure saved to tinyseq-figures/figure-\d+\.svg\]\n", capsys.readouterr().out)


def test_show_on_the_site_marks_the_svg_for_the_page(monkeypatch, capsys):
    import graphviz

    from tinyseq.course import show

    monkeypatch.setenv("TINYSEQ_DOCS", "1")
    graph = graphviz.Digraph()
    graph.node("x")
    svg = show(graph)
    out = capsys.readouterr().out
    assert out.startswith(f'{hooks.HTML_START}<div class="tinyseq-figure" style="--natural-width: ')
    assert out.endswith(f"{svg}</div>{hooks.HTML_END}\n")
    assert hooks.output_to_html(out).strip() == out.strip()[len(hooks.HTML_START):-len(hooks.HTML_END)]
    with pytest.raises(TypeError, match="show: expected a matplotlib figure or a graphviz graph, got list"):
        show([1, 2])


def test_load_result_reads_shipped_results_and_names_the_known_ones():
    from tinyseq.course import load_result, result_names

    manifest = load_result("manifest")
    for entry in [*manifest["imdb"], manifest["vanishing_gap"]]:
        assert entry["file"].removesuffix(".json") in result_names()
        assert entry["command"].startswith("tinyseq ")
    assert load_result("imdb-train")["settings"]["maxlen"] == 500
    with pytest.raises(ValueError, match=r"load_result: no result named 'imdb'; the results shipped with tinyseq "
                                         r"are .*imdb-seeds, imdb-train, "):
        load_result("imdb")


# ---- the strict build --------------------------------------------------------------------
@pytest.mark.skipif(importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("material") is None
                    or importlib.util.find_spec("markdown_exec") is None,
                    reason="the docs extra is not installed (pip install -e '.[docs]')")
def test_strict_build(tmp_path):
    if not _imdb_data():
        pytest.skip("the IMDB tutorial needs the IMDB archive (TINYSEQ_DATA)")
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                            cwd=ROOT, capture_output=True, text=True, timeout=1800,
                            env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stdout[-5000:]}\n{result.stderr[-5000:]}"
    for page in (tmp_path / "site").rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert "Traceback (most recent call last)" not in text, f"{page} shows a Python traceback"
