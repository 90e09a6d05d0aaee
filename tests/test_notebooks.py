"""Every notebook in ``notebooks/`` runs top to bottom on the demo's output and shows at least one plot."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


@pytest.fixture(scope="module")
def demo_output(tmp_path_factory, client):
    """What a new user has after `sgdsm demo`: here 8 days of it."""
    from sgdsm_dask.demo import run_demo

    out = tmp_path_factory.mktemp("demo")
    run_demo(out, client, days=8)
    return out


def test_there_are_notebooks_and_they_are_stored_without_outputs():
    assert len(NOTEBOOKS) == 3
    for path in NOTEBOOKS:
        book = nbformat.read(path, as_version=4)
        code = [c for c in book.cells if c.cell_type == "code"]
        assert code and all(not c.outputs and c.execution_count is None for c in code), path.name


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_on_the_demo_output_and_shows_a_plot(path, demo_output, tmp_path, monkeypatch):
    from nbclient import NotebookClient

    monkeypatch.setenv("SGDSM_DEMO", str(demo_output))
    book = nbformat.read(path, as_version=4)
    NotebookClient(book, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for c in book.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs), f"{path.name} shows no plot"
    assert not list(tmp_path.iterdir()), "a notebook wrote into its working folder instead of beside the demo output"
