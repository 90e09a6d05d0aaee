import netCDF4
import numpy as np
import pytest
import xarray as xr

from sgdsm_dask.errors import InputError
from sgdsm_dask.grid import Region
from sgdsm_dask.readers.cube import inspect_cube, open_cube
from sgdsm_dask.readers.landmask import land_mask
from tests.conftest import real


def test_esa_cci_days_from_a_folder():
    folder = real("esa_cci")
    cube = open_cube(str(folder))
    assert cube.sm.shape == (2, 720, 1440)
    assert str(cube.time.values[0])[:10] == "2016-06-07"
    with netCDF4.Dataset(sorted(folder.glob("*.nc"))[1]) as ds:
        ref = ds["sm"][0].filled(np.nan)
    np.testing.assert_array_equal(cube.sm.values[1], ref.astype(np.float32))


def test_real_americas_cube_is_located_on_the_grid():
    info = inspect_cube(str(real("lprm/lprm_amsr2_x_201504_west.nc")))
    assert info.region == Region.from_bounds(-180, -90, -30, 90)
    assert info.times.size == 30 and info.precip_var is None
    cube = open_cube(info.path)
    frac = np.isfinite(cube.sm.values).mean()
    assert 0.02 < frac < 0.2  # about 8 % of cells valid per day
    assert np.nanmax(cube.sm.values) <= 1.0


def test_cube_problems_are_named(tmp_path):
    r = Region.from_bounds(0, 40, 5, 45)
    t = np.array(["2020-01-01", "2020-01-02"], dtype="datetime64[ns]")
    good = xr.Dataset(
        {"sm": (("time", "lat", "lon"), np.full((2, *r.shape), 30.0, np.float32), {"units": "m3 m-3"})},
        coords={"time": t, "lat": r.lat, "lon": r.lon},
    )
    p = tmp_path / "percent.nc"
    good.to_netcdf(p)
    with pytest.raises(InputError, match="look like percent"):
        open_cube(str(p))
    p2 = tmp_path / "nosm.nc"
    good.rename({"sm": "soil"}).to_netcdf(p2)
    with pytest.raises(InputError, match="missing variable 'sm'"):
        open_cube(str(p2))
    p3 = tmp_path / "halfdeg.nc"
    good.isel(lat=slice(None, None, 2), lon=slice(None, None, 2)).to_netcdf(p3)
    with pytest.raises(InputError, match="wrong grid"):
        open_cube(str(p3))
    p4 = tmp_path / "dup.nc"
    good.assign_coords(time=t[[0, 0]]).to_netcdf(p4)
    with pytest.raises(InputError, match="duplicate or out of order"):
        open_cube(str(p4))
    # south-first latitude is accepted and comes back north first
    p5 = tmp_path / "south_first.nc"
    (good / 100).assign_attrs().isel(lat=slice(None, None, -1)).to_netcdf(p5)
    flipped = open_cube(str(p5))
    assert flipped.lat.values[0] > flipped.lat.values[-1]


@pytest.mark.parametrize(
    "lat,lon,is_land",
    [
        (48.85, 2.35, True),
        (-3.0, -60.0, True),
        (23.0, 10.0, True),
        (0.0, -150.0, False),
        (64.9, -18.5, True),  # Iceland stays
        (72.0, -40.0, False),  # Greenland's ice sheet is excluded
        (-80.0, 0.0, False),  # Antarctica is excluded
        (80.0, -80.0, True),
    ],  # Ellesmere Island stays
)
def test_land_mask_follows_the_paper(lat, lon, is_land):
    r = Region.from_bounds(lon - 0.01, lat - 0.01, lon + 0.01, lat + 0.01)
    assert bool(land_mask(r).all()) is is_land


def test_land_fraction_is_plausible():
    m = land_mask()
    assert m.shape == (720, 1440)
    assert 0.18 < m.mean() < 0.26  # land minus Antarctica and Greenland: about a fifth of cells


def test_a_land_mask_cache_that_cannot_be_written_warns_and_the_run_goes_on(tmp_path, monkeypatch):
    from sgdsm_dask.readers import landmask

    blocked = tmp_path / "cache"
    blocked.write_text("a file where the cache folder should be")
    monkeypatch.setenv("SGDSM_CACHE", str(blocked))
    landmask._global_land.cache_clear()
    try:
        with pytest.warns(UserWarning, match="land mask not cached in"):
            land = land_mask(Region.from_bounds(0, 40, 20, 50))
    finally:
        landmask._global_land.cache_clear()  # the next test reads the session's cache again
    assert land.shape == (40, 80) and 0.3 < land.mean() < 1
    assert blocked.read_text().startswith("a file")  # nothing was written over it
