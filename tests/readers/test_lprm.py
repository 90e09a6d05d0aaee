import datetime as dt
import shutil

import netCDF4
import numpy as np
import pytest

from sgdsm_dask.errors import InputError
from sgdsm_dask.grid import LAT, LON, Region
from sgdsm_dask.readers.lprm import parse_lprm_name, read_lprm_day
from sgdsm_dask.testing import BAD_KINDS, write_bad_lprm
from tests.conftest import real

REAL_NAME = "lprm/LPRM-AMSR2_L3_D_SOILM3_V001_20150401013507.nc4"


def test_real_file_is_exactly_c1_over_100_at_the_right_place():
    path = real(REAL_NAME)
    ours = read_lprm_day(str(path))
    # Read independently: netCDF4's own masking and scaling, then / 100.
    with netCDF4.Dataset(path) as ds:
        ref = ds["soil_moisture_c1"][:] / 100  # (Longitude, Latitude), masked
        lat = ds["Latitude"][:]
        lon = ds["Longitude"][:]
    rows = np.searchsorted(-LAT, -lat.astype(np.float64))
    cols = np.searchsorted(LON, lon.astype(np.float64))
    assert np.allclose(LAT[rows], lat) and np.allclose(LON[cols], lon)
    expected = np.full((720, 1440), np.nan, dtype=np.float32)
    expected[np.ix_(rows, cols)] = np.ma.filled(ref.astype(np.float32), np.nan).T
    valid = np.isfinite(expected)
    assert valid.sum() == 98866  # the file's count of valid C1 retrievals
    np.testing.assert_array_equal(np.isfinite(ours), valid)
    np.testing.assert_array_equal(ours[valid], expected[valid])  # exact, not close
    assert 0.0 <= np.nanmin(ours) and np.nanmax(ours) <= 1.0


def test_real_file_region_is_a_window_and_band_selectable():
    path = str(real(REAL_NAME))
    full = read_lprm_day(path)
    r = Region.from_bounds(-70, -20, -40, 10)
    np.testing.assert_array_equal(read_lprm_day(path, r), full[r.slices])
    x = read_lprm_day(path, band="x")
    both = np.isfinite(x) & np.isfinite(full)
    assert both.sum() > 50000 and np.any(x[both] != full[both])  # X band is another retrieval


@pytest.mark.parametrize(
    "name,sensor,day",
    [
        ("LPRM-AMSR2_L3_D_SOILM3_V001_20150401013507.nc4", "AMSR2", dt.date(2015, 4, 1)),
        ("LPRM-AMSR_E_L3_D_SOILM3_V002_20070115020000.nc4", "AMSR-E", dt.date(2007, 1, 15)),
        ("LPRM-WSAT_L3_D_SOILM3_V001_20120101.nc4", "WindSat", dt.date(2012, 1, 1)),
    ],
)
def test_file_names_give_sensor_and_date(name, sensor, day):
    parsed = parse_lprm_name(f"/data/{name}")
    assert parsed is not None and parsed.sensor == sensor and parsed.date == day and parsed.orbit_pass == "D"


def test_non_lprm_names_are_not_parsed():
    assert parse_lprm_name("3B-DAY.MS.MRG.3IMERG.20230601-S000000-E235959.V07B.nc4") is None
    assert parse_lprm_name("LPRM-AMSR2_L3_D_SOILM3_V001_20151341.nc4") is None  # no such date


@pytest.mark.parametrize("kind", BAD_KINDS)
def test_bad_files_get_one_clear_message_naming_the_file(kind, tmp_path):
    bad = write_bad_lprm(kind, real(REAL_NAME), tmp_path)
    with pytest.raises(InputError) as err:
        read_lprm_day(str(bad))
    msg = str(err.value)
    assert str(bad) in msg and BAD_KINDS[kind] in msg
    assert "\n" not in msg


def test_missing_file_is_reported(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        read_lprm_day(str(tmp_path / "LPRM-AMSR2_L3_D_SOILM3_V001_20150401.nc4"))


def _rewritten(path, tmp_path, lon_of, flip_data):
    """A copy of the real file with new Longitude values and its columns (Longitude rows as stored) reversed or not."""
    out = tmp_path / path.name
    shutil.copy(path, out)
    with netCDF4.Dataset(out, "a") as ds:
        lon = ds["Longitude"]
        lon[:] = lon_of(np.asarray(lon[:], dtype=np.float64))
        for name in ("soil_moisture_c1",):
            v = ds[name]
            v.set_auto_maskandscale(False)
            v[:] = flip_data(v[:])
    return out


@pytest.mark.parametrize(
    "layout",
    ["east_first", "zero_to_360"],
)
def test_longitudes_east_first_or_on_0_360_are_read_where_they_say(layout, tmp_path):
    path = real(REAL_NAME)
    expected = read_lprm_day(str(path))
    if layout == "east_first":  # Longitude 179.875 .. -179.875, the data reversed with it
        out = _rewritten(path, tmp_path, lambda lon: lon[::-1], lambda d: d[::-1, :])
    else:  # 0.125 .. 359.875: the western half moved to the end
        half = LON.size // 2
        out = _rewritten(path, tmp_path, lambda lon: np.roll(lon % 360, -half), lambda d: np.roll(d, -half, axis=0))
    np.testing.assert_array_equal(read_lprm_day(str(out)), expected)


def _with_axis(path, tmp_path, name, change):
    out = tmp_path / name / path.name
    out.parent.mkdir()
    shutil.copy(path, out)
    with netCDF4.Dataset(out, "a") as ds:
        ds[name][:] = change(np.asarray(ds[name][:], dtype=np.float64))
    return out


@pytest.mark.parametrize(
    "name,change,words",
    [
        (
            "Latitude",
            lambda v: v[[*range(100), 101, 100, *range(102, v.size)]],
            "Latitude is not in order (it turns at index 101",
        ),
        ("Longitude", lambda v: np.where(np.arange(v.size) == 7, v[6], v), "Longitude holds -178.375 2 times"),
        ("Longitude", lambda v: v * 1.01, "Longitude step is 0.2525 deg"),
        ("Longitude", lambda v: v * 1.001, "Longitude centres run -180.055..180.055, up to 0.18 deg off"),
    ],
    ids=["latitude_out_of_order", "duplicate_longitude", "longitude_step", "longitude_stretched"],
)
def test_a_grid_that_cannot_be_read_is_said_exactly(name, change, words, tmp_path):
    path = real(REAL_NAME)
    bad = _with_axis(path, tmp_path, name, change)
    with pytest.raises(InputError) as err:
        read_lprm_day(str(bad))
    msg = str(err.value)
    assert str(bad) in msg and "wrong grid" in msg and words in msg, msg


def test_a_latitude_axis_holding_longitudes_is_named(tmp_path):
    # axes mixed up when the file was written
    path = real(REAL_NAME)
    swapped = tmp_path / "swapped" / path.name
    swapped.parent.mkdir()
    with netCDF4.Dataset(swapped, "w") as ds:
        ds.createDimension("Longitude", 720)
        ds.createDimension("Latitude", 1440)
        ds.createVariable("Longitude", "f4", ("Longitude",))[:] = LAT
        ds.createVariable("Latitude", "f4", ("Latitude",))[:] = LON
        v = ds.createVariable("soil_moisture_c1", "i2", ("Longitude", "Latitude"), fill_value=np.int16(-32767))
        v.units = "percent"
        v[:] = np.full((720, 1440), 20, np.int16)
    with pytest.raises(InputError) as err:
        read_lprm_day(str(swapped))
    msg = str(err.value)
    assert str(swapped) in msg and "Latitude has 1440 values" in msg and "Latitude and Longitude swapped" in msg
