from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from sgdsm_dask.testing import small_archive

REAL = (Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "real").resolve()
LPRM_REAL = REAL / "lprm" / "LPRM-AMSR2_L3_D_SOILM3_V001_20150401013507.nc4"


def real(rel: str) -> Path:
    p = REAL / rel
    if not p.exists():
        pytest.skip(f"real data {p} is absent (../shared/data/real is only beside the project checkout)")
    return p


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
