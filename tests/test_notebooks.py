"""Every tutorial's notebook (the one the site offers for download, made from the script by
jupytext) executes in fast mode in a fresh folder outside the repository, and shows its figures
and tables inline.

Needs jupytext, nbclient and ipykernel (the docs extra); skipped without them.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from test_docs import SCRIPTS, fresh_folder, hooks, learner_environment, skip_without_data

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("jupytext")
pytest.importorskip("ipykernel")

CELL_SECONDS = 600


def outputs_of(cell, mime_type):
    return [output for output in cell.get("outputs", []) if mime_type in output.get("data", {})]


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_notebook_executes_with_figures_inline(script, tmp_path, monkeypatch):
    skip_without_data(script)
    folder = fresh_folder(tmp_path)
    for name, value in learner_environment().items():  # the kernel inherits this process's environment
        monkeypatch.setenv(name, value)
    for name in ("TINYSEQ_DOCS", "PYTHONPATH", "MPLBACKEND"):
        monkeypatch.delenv(name, raising=False)
    notebook = nbformat.reads(hooks.notebook_of(script), as_version=4)
    nbclient.NotebookClient(notebook, timeout=CELL_SECONDS, kernel_name="python3",
                            resources={"metadata": {"path": str(folder)}}).execute()

    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    for cell in code:
        errors = [output for output in cell.get("outputs", []) if output.get("output_type") == "error"]
        assert not errors, f"{script.name}: a cell failed:\n{cell.source}"
        figures = outputs_of(cell, "image/svg+xml")
        assert all(figure["data"]["image/svg+xml"].lstrip().startswith("<svg") for figure in figures)
        shows = cell.source.count("show(")
        if shows and "def " not in cell.source and "for " not in cell.source:
            assert len(figures) == shows, f"{script.name}: {shows} show() calls, {len(figures)} inline figures:\n{cell.source}"
        if "table(" in cell.source and "def " not in cell.source:
            assert outputs_of(cell, "text/html"), f"{script.name}: a table is not shown inline:\n{cell.source}"
    if any("show(" in cell.source for cell in code):
        assert any(outputs_of(cell, "image/svg+xml") for cell in code), f"{script.name}: no figure shown inline"
    # Inline display saves nothing beside the notebook.
    assert not (folder / "tinyseq-figures").exists()


def test_notebook_has_the_scripts_cells_and_no_outputs(tmp_path):
    script = SCRIPTS[0]
    notebook = nbformat.reads(hooks.notebook_of(script), as_version=4)
    cells = hooks.split_cells(script.read_text(encoding="utf-8"), script.name)
    assert [cell.cell_type for cell in notebook.cells] == [kind for kind, _ in cells]
    assert [cell.source for cell in notebook.cells if cell.cell_type == "code"] == \
        ["\n".join(lines) for kind, lines in cells if kind == "code"]
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code")
    assert notebook.metadata.kernelspec.name == "python3"
    nbformat.validate(notebook)
    assert hooks.notebook_of(script) == hooks.notebook_of(Path(shutil.copy(script, tmp_path / script.name)))
