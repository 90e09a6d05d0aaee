"""Every notebook in ``notebooks/`` runs top to bottom and shows at least one plot.

01-03 work on the demo's output; 04 on the real LPRM cube of the Americas
beside the checkout (skipped with the reason where it is absent). Each
runs in an empty folder that must stay empty: what a notebook writes goes
beside the demo's output (or into ``SGDSM_WORK``), never where it is run.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from tests.conftest import real

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
#: The notebooks on real data, and the file each needs (under ../shared/data/real).
ON_REAL_DATA = {"04_real_americas_cube": "lprm/lprm_amsr2_x_201504_west.nc"}


@pytest.fixture(scope="module")
def demo_output(tmp_path_factory, client):
    """What a new user has after `sgdsm demo`: here 8 days of it."""
    from sgdsm_dask.demo import run_demo

    out = tmp_path_factory.mktemp("demo")
    run_demo(out, client, days=8)
    return out


def test_there_are_notebooks_and_they_are_stored_without_outputs():
    assert [p.stem[:3] for p in NOTEBOOKS] == ["01_", "02_", "03_", "04_"]
    for path in NOTEBOOKS:
        book = nbformat.read(path, as_version=4)
        code = [c for c in book.cells if c.cell_type == "code"]
        assert code and all(not c.outputs and c.execution_count is None for c in code), path.name


def test_the_notebooks_use_the_public_api_not_the_internals():
    for path in NOTEBOOKS:
        code = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
        assert "import sgdsm_dask" in code, path.name
        for internal in ("pipeline", "validation.simulated", "model.fill", "export import", "Image(", "consolidated="):
            assert internal not in code, f"{path.name} uses {internal!r}"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_on_the_demo_output_and_shows_a_plot(path, tmp_path, monkeypatch, request):
    from nbclient import NotebookClient

    if path.stem in ON_REAL_DATA:
        monkeypatch.setenv("SGDSM_REAL_CUBE", str(real(ON_REAL_DATA[path.stem])))  # skips, saying why, if absent
        work = tmp_path / "work"
        monkeypatch.setenv("SGDSM_WORK", str(work))
        tmp_path = tmp_path / "cwd"
        tmp_path.mkdir()
    else:
        monkeypatch.setenv("SGDSM_DEMO", str(request.getfixturevalue("demo_output")))
    book = nbformat.read(path, as_version=4)
    NotebookClient(book, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for c in book.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs), f"{path.name} shows no plot"
    assert not list(tmp_path.iterdir()), "a notebook wrote into its working folder instead of beside the demo output"
    if path.stem in ON_REAL_DATA:
        assert (work / "south_america.zarr" / "zarr.json").exists()  # it staged the real cube, then filled it
