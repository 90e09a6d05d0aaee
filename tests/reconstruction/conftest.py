"""The cube the reconstruction tests share, and its reference reconstruction.

- ``ten_days`` (alias ``staged``): the session archive's 10 days (2015-04-05
  missing) over 0,40,20,50, staged in 4-day time chunks and 40-cell spatial
  chunks: two blocks;
- ``ten_days_reference`` (alias ``reference``): its reconstruction in one
  time chunk, in this process.

Module-scoped; the export tests import them too (tests/export/test_export_files.py).
"""

import json
import subprocess
import sys

import pytest

from sgdsm_dask.cli import main
from sgdsm_dask.io import zarr_store
from sgdsm_dask.reconstruction import ReconstructRequest, reconstruct


def read(store):
    """``sm`` and ``flag`` of a result store."""
    return zarr_store.read_array(store, "sm"), zarr_store.read_array(store, "flag")


#: What a user's plain ``xr.open_zarr`` of a store shows, in a fresh Python where any warning is an error.
PLAIN_OPEN = (
    "import json, sys, xarray as xr; ds = xr.open_zarr(sys.argv[1]); "
    "print(json.dumps({'vars': sorted(ds.data_vars), 'sizes': dict(ds.sizes)}))"
)
#: The product at the top level of a result store (the model's internals are in its model/ group).
RESULT_PRODUCT = ["days_since_observed", "distance_to_observed", "flag", "land", "sm", "sm_uncertainty"]
#: The top level of a staged cube.
STAGED_PRODUCT = ["available", "day_status", "land", "precip", "precip_available", "sensor", "sm"]


def open_plainly(store) -> dict:
    """``{"vars": [...], "sizes": {...}}`` of ``xr.open_zarr(store)`` with no option, run with ``-W error``."""
    proc = subprocess.run(
        [sys.executable, "-W", "error", "-c", PLAIN_OPEN, str(store)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def ten_days(archive, client, tmp_path_factory):
    """The 10-day archive (2015-04-05 missing) staged in 40-cell spatial chunks: two blocks."""
    out = tmp_path_factory.mktemp("rec") / "staged.zarr"
    args = ["stage", "--lprm", str(archive / "lprm"), "--imerg", str(archive / "imerg"), "--out", str(out)]
    args += ["--region", "0,40,20,50", "--time-chunk", "4", "--space-chunk", "40"]
    assert main(args + ["--scheduler", client.scheduler.address]) == 0
    return str(out)


@pytest.fixture(scope="module")
def ten_days_reference(ten_days, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("ref") / "rec.zarr")
    summary = reconstruct(ReconstructRequest(ten_days, out, time_chunk=30))  # one chunk: all 10 days
    assert summary["blocks"] == 2 and summary["tasks_run"] == 2
    return out


@pytest.fixture(scope="module")
def staged(ten_days):
    return ten_days


@pytest.fixture(scope="module")
def reference(ten_days_reference):
    return ten_days_reference
