"""A folder cube is staged opening each task's own files only, into the cube the whole folder combined gives.

Each test compares with the folder opened whole and combined by
coordinates (``cube._open``, as every task did before issue 20), and counts
the files xarray's netCDF4 backend opens while a task runs.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import netCDF4
import numpy as np
import pytest
import xarray as xr

from benchmarks.stage_folder import write_daily_files
from sgdsm_dask.cli import main
from sgdsm_dask.config import StageConfig
from sgdsm_dask.errors import InputError
from sgdsm_dask.grid import Region
from sgdsm_dask.readers import cube
from sgdsm_dask.readers.cube import inspect_cube, read_cube_block
from sgdsm_dask.staging import StageRequest, stage
from sgdsm_dask.testing import SMALL_REGION, one_error_line
from tests.conftest import real

R = Region.from_bounds(2, 46, 6, 50)  # 16 x 16 cells


@pytest.fixture
def opened(monkeypatch) -> list[str]:
    """The files xarray's netCDF4 backend opens from now on, in order (one ``NetCDF4DataStore.open`` per file)."""
    from xarray.backends.netCDF4_ import NetCDF4DataStore

    names: list[str] = []
    real_open = NetCDF4DataStore.open.__func__

    def counting(cls, filename, *args, **kwargs):
        names.append(os.path.basename(str(filename)))
        return real_open(cls, filename, *args, **kwargs)

    monkeypatch.setattr(NetCDF4DataStore, "open", classmethod(counting))
    return names


def _combined(info, t0: int, t1: int, region: Region) -> dict[str, np.ndarray]:
    """Days ``t0:t1`` read as before: the whole folder opened and combined, then the block taken from it."""
    with cube._open(info.path) as ds:
        return cube._read(ds, info, slice(t0, t1), region)


def _blocks(n: int, tc: int) -> list[tuple[int, int]]:
    return [(t0, min(n, t0 + tc)) for t0 in range(0, n, tc)]


def test_each_task_opens_its_own_days_files_once_and_no_other(tmp_path, opened):
    files = write_daily_files(tmp_path / "days", 20, R)
    info = inspect_cube(str(tmp_path / "days"))
    assert info.file_map is not None and info.file_map.files == tuple(map(str, files))
    config = StageConfig(time_chunk=6)
    req = StageRequest(out=str(tmp_path / "cube.zarr"), region=R, config=config, cube=info)
    for t0, t1 in _blocks(20, 6):
        task = req.for_days(t0, t1)  # what one staging task is sent: the map of its own files, not the folder's
        assert task.cube.file_map.files == tuple(map(str, files[t0:t1])), (t0, t1)
        opened.clear()
        days = task.source.read(t0, t1, R, config)  # what one staging task reads
        assert opened == [f.name for f in files[t0:t1]], (t0, t1)
        np.testing.assert_array_equal(days.sm, _combined(info, t0, t1, R)["sm"])
    # staging the folder (in this process, so every open is counted): each file once, 4 tasks
    opened.clear()
    assert stage(req)["staged"] == 20
    assert Counter(opened) == Counter(f.name for f in files)
    with xr.open_zarr(req.out, consolidated=False) as ds:
        np.testing.assert_array_equal(ds.sm.values, _combined(info, 0, 20, R)["sm"])


def _day_file(path: Path, day: str, region: Region, value: float, *, south_first=False, lon360=False) -> None:
    sm = np.full((1, *region.shape), value, np.float32)
    sm[0, ::3, ::2] = np.nan
    ds = xr.Dataset(
        {"sm": (("time", "lat", "lon"), sm, {"units": "m3 m-3"})},
        coords={"time": np.array([day], "datetime64[ns]"), "lat": region.lat, "lon": region.lon},
    )
    if south_first:
        ds = ds.isel(lat=slice(None, None, -1))
    if lon360:
        ds = ds.assign_coords(lon=np.where(ds.lon < 0, ds.lon + 360, ds.lon)).sortby("lon")
    ds.to_netcdf(path)


@pytest.mark.parametrize("layout", ["boxes", "south_first_0_360"])
def test_a_folder_stages_the_cube_the_folder_combined_gives(layout, tmp_path, client, opened):
    """Files on boxes of their own, or south first on 0..360 degrees: each file's cells go where its coordinates say."""
    folder = tmp_path / layout
    folder.mkdir()
    whole = Region.from_bounds(-2, 40, 3, 44)  # 16 x 20 cells across the prime meridian
    flip = {"south_first": True, "lon360": True} if layout != "boxes" else {}
    boxes = [whole] * 5
    if layout == "boxes":  # smaller boxes (from the north-west corner: combining by coordinates needs it)
        boxes[1], boxes[4] = Region.from_bounds(-2, 41, 2, 44), Region.from_bounds(-2, 40, 2, 44)
    for i, box in enumerate(boxes):
        _day_file(folder / f"d{i + 1}.nc", f"2020-01-0{i + 1}", box, 0.1 * (i + 1), **flip)
    info = inspect_cube(str(folder))
    assert info.region == whole and info.file_map is not None
    for region in (whole, Region.from_bounds(-2, 40, 0, 42)):
        for t0, t1 in [(0, 5), (0, 2), (1, 4), (4, 5)]:
            opened.clear()
            got = read_cube_block(info, t0, t1, region)["sm"]
            assert opened == [f"d{i + 1}.nc" for i in range(t0, t1)]
            np.testing.assert_array_equal(got, _combined(info, t0, t1, region)["sm"])
    block = read_cube_block(info, 0, 5, whole)["sm"]
    assert np.isfinite(block).any(axis=(1, 2)).all()
    if layout == "boxes":  # the smaller box's day is NaN outside the box (its east and south), its value inside
        assert np.isnan(block[1, :, -4:]).all() and np.isnan(block[1, -4:, :]).all()
        assert np.isfinite(block[1, :-4, :-4]).any() and np.nanmax(block[1]) == np.float32(0.2)
    # staged on worker processes: the same cube
    req = StageRequest(out=str(tmp_path / "cube.zarr"), region=whole, config=StageConfig(time_chunk=2), cube=info)
    assert stage(req, client)["staged"] == 5
    with xr.open_zarr(req.out, consolidated=False) as ds:
        np.testing.assert_array_equal(ds.sm.values, _combined(info, 0, 5, whole)["sm"])


def test_real_esa_cci_days_are_read_from_their_own_file(opened):
    folder = real("esa_cci")
    info = inspect_cube(str(folder))
    names = sorted(p.name for p in folder.glob("*.nc"))
    for region in (SMALL_REGION, info.region):
        for t in range(2):
            opened.clear()
            got = read_cube_block(info, t, t + 1, region)["sm"]
            assert opened == [names[t]] and str(info.times[t]).replace("-", "") in names[t]
            np.testing.assert_array_equal(got, _combined(info, t, t + 1, region)["sm"])


def test_a_bad_file_of_a_folder_is_one_line_naming_it(tmp_path, client, capsys):
    files = write_daily_files(tmp_path / "days", 12, R)
    # a file in percent among fractions, on a day inspection does not read (it reads days 0, 6 and 11)
    with netCDF4.Dataset(files[3], "a") as ds:
        ds["sm"][:] = ds["sm"][:] * 100
    out = tmp_path / "cube.zarr"
    capsys.readouterr()
    rc = main(["stage", "--cube", str(tmp_path / "days"), "--out", str(out), "--scheduler", client.scheduler.address])
    line = one_error_line(capsys.readouterr().err)
    assert rc == 2 and str(files[3]) in line and "the values look like percent" in line, line
    # a file broken after inspection: the task that opens it names it
    info = inspect_cube(str(tmp_path / "days"))  # percent again: inspection reads days 0, 6, 11 only
    files[8].write_bytes(b"not a netCDF file")
    with pytest.raises(InputError) as exc:
        read_cube_block(info, 8, 12, R)
    assert exc.value.path == str(files[8]) and "cannot be opened as a NetCDF file" in str(exc.value)
    assert "\n" not in str(exc.value)
    files[8].unlink()
    with pytest.raises(InputError, match="file not found") as exc:
        read_cube_block(info, 8, 12, R)
    assert exc.value.path == str(files[8])


def test_files_of_several_days_each_are_cut_where_the_blocks_cross_them(tmp_path, opened):
    """Three files of 5 days, named against their date order: blocks across file edges read the right days."""
    folder = tmp_path / "pentads"
    folder.mkdir()
    rng = np.random.default_rng(4)
    names = ["c.nc", "b.nc", "a.nc"]  # c holds the first days: the names sort the other way
    for k, name in enumerate(names):
        start = np.datetime64("2015-04-01") + np.timedelta64(5 * k, "D")
        time = start + np.arange(5).astype("timedelta64[D]")
        sm = (0.1 + 0.3 * rng.random((5, *R.shape))).astype(np.float32)
        xr.Dataset(
            {"sm": (("time", "lat", "lon"), sm, {"units": "m3 m-3"})},
            coords={"time": time.astype("datetime64[ns]"), "lat": R.lat, "lon": R.lon},
        ).to_netcdf(folder / name)
    info = inspect_cube(str(folder))
    for t0, t1 in [(3, 7), (4, 11), (0, 15), (10, 15)]:
        task = info.for_days(t0, t1)
        held = {os.path.basename(f) for f in task.file_map.files}
        assert held == {names[k] for k in range(t0 // 5, (t1 - 1) // 5 + 1)}, (t0, t1)
        opened.clear()
        got = read_cube_block(task, t0, t1, R)
        assert sorted(opened) == sorted(held)
        np.testing.assert_array_equal(got["sm"], _combined(info, t0, t1, R)["sm"])
