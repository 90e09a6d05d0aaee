"""Small stores for the export-folder tests: the first 4 days of the session archive, staged and reconstructed twice.

``rec_a`` and ``rec_b`` are two reconstructions of the same staged cube
(another ``store_id``, as after ``reconstruct --overwrite`` or into another
store), whose daily files must never be mixed in one folder. ``daily_a`` is
a finished export of ``rec_a``; tests copy it before changing anything.
The fixtures are only read by the tests. ``ten_days`` and
``ten_days_reference`` (the 10-day cube of two blocks and its reference
reconstruction) come from tests/reconstruction/conftest.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sgdsm_dask.cli import main
from tests.reconstruction.conftest import ten_days, ten_days_reference  # noqa: F401 - fixtures of this folder too

BOX = "--region=0,40,20,50"  # the archive fixture's box
DAYS = ["--start", "2015-04-01", "--end", "2015-04-04"]
DAILY = [f"SGD-SM2_2015040{d}.nc" for d in "1234"]


def on(client) -> list[str]:
    """The session cluster's address for ``sgdsm`` (without it the command starts a cluster of its own)."""
    return ["--scheduler", client.scheduler.address]


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (hidden ones too) and its bytes: what a refused run must leave as it was."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="session")
def staged(archive, client, tmp_path_factory) -> Path:
    """Days 1-4 of the archive in 2-day time chunks (two spatial blocks of 40 cells)."""
    store = tmp_path_factory.mktemp("export_staged") / "staged.zarr"
    args = ["stage", "--lprm", str(archive / "lprm"), "--imerg", str(archive / "imerg"), "--out", str(store), BOX]
    assert main([*args, *DAYS, "--time-chunk", "2", "--space-chunk", "40", *on(client)]) == 0
    return store


def _reconstruct(staged: Path, out: Path, client) -> Path:
    assert main(["reconstruct", "--store", str(staged), "--out", str(out), "--time-chunk", "2", *on(client)]) == 0
    return out


@pytest.fixture(scope="session")
def rec_a(staged, client, tmp_path_factory) -> Path:
    return _reconstruct(staged, tmp_path_factory.mktemp("export_rec_a") / "a.zarr", client)


@pytest.fixture(scope="session")
def rec_b(staged, client, tmp_path_factory) -> Path:
    """Another reconstruction of the same cube with the same settings: only its ``store_id`` differs."""
    return _reconstruct(staged, tmp_path_factory.mktemp("export_rec_b") / "b.zarr", client)


@pytest.fixture(scope="session")
def daily_a(rec_a, client, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("export_daily_a") / "daily"
    assert main(["export", "--store", str(rec_a), "--out", str(out), *on(client)]) == 0
    assert sorted(p.name for p in out.glob("SGD-SM2_*.nc")) == DAILY
    return out
