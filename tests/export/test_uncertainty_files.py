"""The daily files carry sigma beside ``sm``: CF-linked, compressed like it, equal to the store."""

import numpy as np

from sgdsm_dask.cli import main
from sgdsm_dask.io import zarr_store
from tests.reconstruction.conftest import ten_days, ten_days_reference  # noqa: F401 - the fixtures used here


def test_daily_files_hold_sigma_linked_from_sm(ten_days_reference, client, tmp_path):  # noqa: F811
    import netCDF4
    import xarray as xr

    out = tmp_path / "daily"
    assert (
        main(["export", "--store", ten_days_reference, "--out", str(out), "--scheduler", client.scheduler.address]) == 0
    )
    path = out / "SGD-SM2_20150403.nc"
    with xr.open_dataset(path) as ds:
        assert ds["sm"].attrs["ancillary_variables"] == "flag sm_uncertainty"
        u = ds["sm_uncertainty"]
        assert u.attrs["standard_name"] == ds["sm"].attrs["standard_name"] + " standard_error"
        assert u.attrs["units"] == ds["sm"].attrs["units"] == "m3 m-3"
        assert u.attrs["grid_mapping"] == "crs"
        stored = zarr_store.read_array(ten_days_reference, "sm_uncertainty")[2]  # 2015-04-03
        np.testing.assert_array_equal(u.values[0], stored)
        assert np.isfinite(u.values[0][ds["flag"].values[0] < 2]).all()
    with netCDF4.Dataset(path) as nc:  # compressed like sm
        for name in ("sm", "sm_uncertainty"):
            assert nc[name].filters()["zlib"] and nc[name].filters()["complevel"] == 1
    assert main(["verify", str(out)]) == 0
