"""Fixtures and helpers shared by every test folder.

Fixtures:

- ``archive`` (session): ten synthetic days of LPRM and IMERG files over a
  small European box (0-20 E, 40-50 N), written in the real file layouts,
  with 2015-04-05 missing from the LPRM archive; tests only read it.
- ``client`` (session): a ``distributed.Client`` on a ``LocalCluster`` of two
  worker processes with one thread each, the dashboard on 127.0.0.1.
- ``staged4`` (session): the archive's first four days staged by ``sgdsm
  stage`` in 2-day time chunks (one 40 x 80-cell block);
- ``rec4`` (session): ``staged4`` reconstructed by ``sgdsm reconstruct`` in
  2-day chunks. Tests only read these two (or are refused writing them):
  copy them before changing anything.
- ``_cache_dir`` (session, autouse): ``SGDSM_CACHE`` pointed at the session's
  temporary folder, so the land-mask cache is shared by the whole session
  and its ``sgdsm`` subprocesses, and never written to the user's home.

Helpers: ``real(rel)`` is the path of a file under ``../shared/data/real/``
beside the checkout, or skips the test with a reason when it is absent
(``REAL``, ``LPRM_REAL``: that folder and its AMSR2 LPRM day).

Folders add their own: ``tests/export/conftest.py``,
``tests/integration/conftest.py`` and ``tests/reconstruction/conftest.py``
list theirs in their docstrings.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from sgdsm_dask.cli import main
from sgdsm_dask.testing import small_archive

REAL = (Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "real").resolve()
LPRM_REAL = REAL / "lprm" / "LPRM-AMSR2_L3_D_SOILM3_V001_20150401013507.nc4"


def real(rel: str) -> Path:
    p = REAL / rel
    if not p.exists():
        pytest.skip(f"real data {p} is absent (../shared/data/real is only beside the project checkout)")
    return p


def write_run_file(path: Path, archive: Path, time_chunk: int, stage: dict | None = None, tail: str = "") -> Path:
    """An ``sgdsm run`` file at ``path``: stage ``archive``'s 0-20 E, 40-50 N box into ``staged.zarr``
    (plus the ``stage`` keys), reconstruct into ``result.zarr``, export to ``daily``; ``tail`` is
    appended (more sections)."""
    extra = "".join(f"  {key}: {value}\n" for key, value in (stage or {}).items())
    path.write_text(
        f"""
stage:
  lprm: {archive / "lprm"}
  imerg: {archive / "imerg"}
  out: staged.zarr
  region: "0,40,20,50"
  time_chunk: {time_chunk}
{extra}reconstruct:
  out: result.zarr
  time_chunk: {time_chunk}
export:
  out: daily
{tail}"""
    )
    return path


@pytest.fixture(autouse=True, scope="session")
def _cache_dir(tmp_path_factory):
    # One land-mask cache for the whole session, outside the user's home; session-scoped so that
    # session fixtures (and the sgdsm subprocesses they start) see it too.
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SGDSM_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
        yield


@pytest.fixture(scope="session")
def archive(tmp_path_factory) -> Path:
    """Ten synthetic days over a small European box; 2015-04-05 missing from the LPRM archive."""
    out = tmp_path_factory.mktemp("archive")
    return small_archive(out, days=10, missing_days=(dt.date(2015, 4, 5),))


@pytest.fixture(scope="session")
def client():
    from distributed import Client, LocalCluster

    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address="127.0.0.1:0") as lc,
        Client(lc) as c,
    ):
        yield c


@pytest.fixture(scope="session")
def staged4(archive, client, tmp_path_factory) -> Path:
    store = tmp_path_factory.mktemp("staged4") / "staged.zarr"
    args = ["stage", "--lprm", str(archive / "lprm"), "--imerg", str(archive / "imerg"), "--out", str(store)]
    args += ["--region=0,40,20,50", "--start", "2015-04-01", "--end", "2015-04-04", "--time-chunk", "2"]
    assert main([*args, "--scheduler", client.scheduler.address]) == 0
    return store


@pytest.fixture(scope="session")
def rec4(staged4, client, tmp_path_factory) -> Path:
    done = tmp_path_factory.mktemp("rec4") / "done.zarr"
    args = ["reconstruct", "--store", str(staged4), "--out", str(done), "--time-chunk", "2"]
    assert main([*args, "--scheduler", client.scheduler.address]) == 0
    return done
