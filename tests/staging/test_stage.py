import datetime as dt
import json
import shutil

import dask
import numpy as np
import pytest
import xarray as xr
import zarr

from sgdsm_dask.config import SensorPeriod, SensorTimeline, StageConfig
from sgdsm_dask.errors import InputError
from sgdsm_dask.readers import read_imerg_day, read_lprm_day
from sgdsm_dask.readers.cube import inspect_cube
from sgdsm_dask.staging import StageRequest, plan_days, stage
from sgdsm_dask.staging.inventory import list_files
from sgdsm_dask.staging.status import DayStatus
from sgdsm_dask.testing import SMALL_REGION, write_bad_lprm
from tests.conftest import real

TL = SensorTimeline()


def _request(archive, out, *, imerg=True, config=None, lprm_dir=None, on_error="raise"):
    config = config or StageConfig(time_chunk=2, space_chunk=40, on_error=on_error)
    plans = plan_days(
        list_files(str(lprm_dir or archive / "lprm")),
        list_files(str(archive / "imerg")) if imerg else [],
        TL,
        on_error=on_error,
    )
    return StageRequest(out=str(out), region=SMALL_REGION, config=config, plans=tuple(plans))


def _open(store):
    return xr.open_zarr(store, consolidated=False)


def test_plan_records_missing_days_and_follows_the_timeline(archive):
    plans = plan_days(list_files(str(archive / "lprm")), list_files(str(archive / "imerg")), TL)
    assert [p.date for p in plans] == [dt.date(2015, 4, 1) + dt.timedelta(days=i) for i in range(10)]
    gap = plans[4]
    assert gap.date == dt.date(2015, 4, 5) and gap.lprm is None and gap.imerg is not None
    # A timeline that says WindSat flew in April 2015 finds no WindSat file: no usable day, which is an error.
    windsat = SensorTimeline(periods=(SensorPeriod(sensor="WindSat", start=dt.date(2015, 1, 1)),))
    with pytest.raises(InputError, match="9 AMSR2 files .*not in the timeline"):
        plan_days(list_files(str(archive / "lprm")), [], windsat)


def test_duplicate_dates_are_named_or_skipped(archive, tmp_path):
    files = list_files(str(archive / "lprm"))
    dup = tmp_path / (files[0].rsplit("/", 1)[-1][:-10] + "235959.nc4")
    shutil.copy(files[0], dup)
    with pytest.raises(InputError, match="duplicate date 2015-04-01"):
        plan_days(files + [str(dup)], [], TL)
    plans = plan_days(files + [str(dup)], [], TL, on_error="skip")
    assert plans[0].problem and plans[0].lprm is None


def test_stage_writes_exact_values_records_and_cf_metadata(archive, tmp_path):
    store = tmp_path / "cube.zarr"
    summary = stage(_request(archive, store))
    assert summary["staged"] == 9 and summary["missing"] == 1 and summary["skipped"] == 0
    g = zarr.open_group(str(store), mode="r")
    assert g.metadata.zarr_format == 3
    assert g["sm"].chunks == (2, 40, 40)  # spatial chunks are whole patches
    ds = _open(store)
    assert ds.sm.dims == ("time", "lat", "lon") and ds.sm.dtype == np.float32
    assert ds.sm.attrs["units"] == "m3 m-3" and ds.precip.attrs["units"] == "mm day-1"
    assert ds.attrs["Conventions"] == "CF-1.8"
    np.testing.assert_array_equal(ds.lat.values, SMALL_REGION.lat)
    plans = plan_days(list_files(str(archive / "lprm")), list_files(str(archive / "imerg")), TL)
    for i, p in enumerate(plans):
        if p.lprm:
            np.testing.assert_array_equal(ds.sm.values[i], read_lprm_day(p.lprm, SMALL_REGION))
        np.testing.assert_array_equal(ds.precip.values[i], read_imerg_day(p.imerg, SMALL_REGION))
    assert ds.day_status.values.tolist() == [DayStatus.STAGED] * 4 + [DayStatus.MISSING] + [DayStatus.STAGED] * 5
    assert ds.available.values.tolist() == [True] * 4 + [False] + [True] * 5
    assert np.isnan(ds.sm.values[4]).all()  # a missing day is not invented
    assert ds.sensor.attrs["flag_meanings"].split()[int(ds.sensor.values[0])] == "AMSR2"
    assert ds.land.values.any() and not ds.land.values.all()
    assert json.loads(ds.attrs["sources"])["2015-04-05"][0] is None


def test_no_precipitation_is_unavailable_not_zero(archive, tmp_path):
    store = tmp_path / "norain.zarr"
    stage(_request(archive, store, imerg=False))
    ds = _open(store)
    assert not ds.precip_available.values.any()
    assert np.isnan(ds.precip.values).all()


def test_bad_file_stops_with_its_name_and_keeps_what_was_staged(archive, tmp_path):
    lprm = tmp_path / "lprm"
    shutil.copytree(archive / "lprm", lprm)
    victim = sorted(list_files(str(lprm)))[6]  # 2015-04-08: the fourth time chunk
    write_bad_lprm("truncated", victim, tmp_path / "bad")
    shutil.copy(tmp_path / "bad" / victim.rsplit("/", 1)[-1], victim)
    store = tmp_path / "cube.zarr"
    with pytest.raises(InputError, match="truncated or corrupt") as err:
        stage(_request(archive, store, lprm_dir=lprm))
    assert victim in str(err.value)
    status = _open(store).day_status.values
    assert (status[:6] != 0).all() and (status[6:] == 0).all()  # the first three chunks are kept
    before = _open(store).sm.values[:6].copy()
    # Going on with --on-error skip resumes: finished chunks are not redone, the bad day is recorded.
    summary = stage(_request(archive, store, lprm_dir=lprm, on_error="skip"))
    assert summary["blocks_resumed"] == 3 and summary["blocks_done"] == 2
    ds = _open(store)
    np.testing.assert_array_equal(ds.sm.values[:6], before)
    assert ds.day_status.values[7] == DayStatus.SKIPPED
    assert "truncated" in json.loads(ds.attrs["skipped"])["2015-04-08"]


def test_store_of_another_request_is_not_overwritten(archive, tmp_path):
    store = tmp_path / "cube.zarr"
    stage(_request(archive, store))
    other = _request(archive, store, config=StageConfig(time_chunk=4, space_chunk=40))
    with pytest.raises(InputError, match="different request"):
        stage(other)
    assert stage(other, overwrite=True)["staged"] == 9


def test_cluster_stage_equals_in_process(archive, tmp_path, client):
    with pytest.raises(InputError, match="worker processes cannot write it"):
        stage(_request(archive, "memory://nowhere.zarr"), client)
    a, b = tmp_path / "a.zarr", tmp_path / "b.zarr"
    stage(_request(archive, a))
    stage(_request(archive, b), client)
    xr.testing.assert_identical(_open(a).drop_attrs(), _open(b).drop_attrs())


def test_stage_esa_cci_cube(tmp_path, client):
    folder = real("esa_cci")
    info = inspect_cube(str(folder))
    store = tmp_path / "cci.zarr"
    req = StageRequest(out=str(store), region=SMALL_REGION, config=StageConfig(time_chunk=1, space_chunk=40), cube=info)
    assert stage(req, client)["staged"] == 2
    ds = _open(store)
    src = xr.open_mfdataset(sorted(folder.glob("*.nc")), combine="by_coords")
    ref = src.sm.sel(lat=ds.lat, lon=ds.lon).values.astype(np.float32)
    np.testing.assert_array_equal(ds.sm.values, ref)
    assert not ds.precip_available.values.any()


@pytest.mark.parametrize("scheme", ["memory://", "file://"])
def test_stores_by_fsspec_url(archive, tmp_path, scheme):
    store = f"{scheme}{tmp_path}/url.zarr" if scheme == "file://" else f"memory://{tmp_path.name}/url.zarr"
    lprm_url = f"file://{archive / 'lprm'}"
    plans = plan_days(list_files(lprm_url), list_files(str(archive / "imerg")), TL)
    assert plans[0].lprm.startswith("/")  # local files come back as plain paths
    req = StageRequest(
        out=store, region=SMALL_REGION, config=StageConfig(time_chunk=2, space_chunk=40), plans=tuple(plans)
    )
    assert stage(req)["staged"] == 9
    # Read in this process: a memory:// store is invisible to the worker processes of an active Client.
    with dask.config.set(scheduler="synchronous"):
        ds = xr.open_zarr(store.removeprefix("file://"), consolidated=False).load()
    assert int(ds.day_status.values[4]) == DayStatus.MISSING and np.isfinite(ds.sm.values[0]).any()


def test_a_block_is_committed_only_when_its_status_is_written(archive, tmp_path, monkeypatch):
    """A stop between the record writes of a block must leave the block pending."""
    from sgdsm_dask.io import zarr_store

    store = tmp_path / "cube.zarr"
    req = _request(archive, store)
    real_write = zarr_store.write_region
    calls = []

    def stop_before_status(path, arrays, t0):
        if "day_status" in arrays and t0 == 4:
            calls.append(t0)
            raise KeyboardInterrupt  # stands in for SIGKILL at this point
        return real_write(path, arrays, t0)

    monkeypatch.setattr(zarr_store, "write_region", stop_before_status)
    with pytest.raises(KeyboardInterrupt):
        stage(req)
    monkeypatch.setattr(zarr_store, "write_region", real_write)
    assert calls == [4]
    partial = _open(store)
    assert bool(partial.precip_available.values[5])  # the block's other records were written ...
    assert partial.day_status.values[4:6].tolist() == [0, 0]  # ... but not its marker: still pending
    summary = stage(req)
    assert summary["blocks_done"] == 3 and summary["blocks_resumed"] == 2
    fresh = tmp_path / "fresh.zarr"
    stage(_request(archive, fresh))
    xr.testing.assert_identical(_open(store).drop_attrs(), _open(fresh).drop_attrs())


def test_a_day_whose_rain_is_all_fill_over_the_region_is_unavailable_not_zero(archive, tmp_path):
    import netCDF4

    from sgdsm_dask.readers.imerg import VARIABLES

    imerg = tmp_path / "imerg"
    shutil.copytree(archive / "imerg", imerg)
    day = next(f for f in sorted(imerg.rglob("*.nc4")) if "20150402" in f.name)
    with netCDF4.Dataset(day, "a") as ds:  # a file that covers the region but holds only its fill value there
        v = next(ds.variables[n] for n in VARIABLES if n in ds.variables)
        v.set_auto_maskandscale(False)
        v[:] = np.full(v.shape, v.getncattr("_FillValue"), v.dtype)
    plans = plan_days(list_files(str(archive / "lprm")), list_files(str(imerg)), TL)
    req = StageRequest(
        out=str(tmp_path / "s.zarr"), region=SMALL_REGION, config=StageConfig(time_chunk=2), plans=tuple(plans)
    )
    stage(req)
    g = zarr.open_group(req.out, mode="r")
    assert not g["precip_available"][1] and np.isnan(g["precip"][1]).all()
    assert g["precip_available"][[0, 2, 3]].all() and g["day_status"][1] == DayStatus.STAGED
