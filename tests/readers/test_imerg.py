import datetime as dt

import netCDF4
import numpy as np
import pytest

from sgdsm_dask.errors import InputError
from sgdsm_dask.grid import Region
from sgdsm_dask.readers.imerg import parse_imerg_name, read_imerg_day
from sgdsm_dask.synth.writers import write_imerg_day
from sgdsm_dask.testing import BAD_IMERG_KINDS, write_bad_imerg
from tests.conftest import real

V07 = "imerg/3B-DAY.MS.MRG.3IMERG.20230601-S000000-E235959.V07B.subset.nc4"
V06HH = "imerg/GPM_3IMERGHH_V06B_20200101_subset.nc4"


def _w(lo, hi, a, b):
    """Overlap of [lo, hi] and [a, b] in sin(lat) (or plain, when used for lon)."""
    return max(0.0, min(hi, b) - max(lo, a))


def test_real_v07_daily_orientation_units_and_area_weights():
    path = str(real(V07))
    r = Region.from_bounds(120.75, 14.25, 121.25, 14.75)  # 2 x 2 cells around the 3 x 4 subset
    out = read_imerg_day(path, r)
    with netCDF4.Dataset(path) as ds:
        p = ds["precipitation"][0].filled(np.nan)  # (lon, lat) mm/day
        lat = ds["lat"][:]
        lon = ds["lon"][:]
        assert ds["precipitation"].units == "mm/day"

    # The south-west 0.25 cell [120.75, 121.0] x [14.25, 14.5] holds fine cells
    # lon 120.85, 120.95 (whole) and lat 14.35, 14.45 (whole): an area-weighted mean.
    def s(x):
        return float(np.sin(np.deg2rad(x)))

    num = den = 0.0
    for i, lo_c in enumerate(lon):
        for j, la_c in enumerate(lat):
            w = _w(lo_c - 0.05, lo_c + 0.05, 120.75, 121.0) * _w(s(la_c - 0.05), s(la_c + 0.05), s(14.25), s(14.5))
            num += w * p[i, j]
            den += w
    south_west = out[1, 0]  # row 1 = south (north first), column 0 = west
    assert south_west == pytest.approx(num / den, rel=1e-5)
    # the north-west cell holds lat 14.55, 14.65 rows: a different (drier) value
    assert out[0, 0] < south_west


def test_real_v06_halfhourly_group_and_rate_units():
    path = str(real(V06HH))
    r = Region.from_bounds(-30, 30, -15, 45)
    out = read_imerg_day(path, r)
    assert out.shape == (60, 60) and np.isfinite(out).all()
    with netCDF4.Dataset(path) as ds:
        g = ds["Grid"]
        p = g["precipitationCal"][0].filled(np.nan).T  # (lat south first, lon), mm/hr
        lat = g["lat"][:]
    assert lat[0] < lat[-1]
    # mm/hr -> mm/day, and north first: the top row comes from the northern fine rows
    north = p[-3:, :].mean() * 24
    south = p[:3, :].mean() * 24
    assert out[0].mean() == pytest.approx(north, rel=0.05)
    assert out[-1].mean() == pytest.approx(south, rel=0.05)
    # the whole box is covered, so the area-weighted total is conserved
    w_src = np.diff(np.sin(np.deg2rad(np.linspace(30, 45, 151))))
    w_dst = -np.diff(np.sin(np.deg2rad(r.lat_edges())))
    assert (out.astype(np.float64) * w_dst[:, None]).sum() * 0.25 == pytest.approx(
        (p * 24 * w_src[:, None]).sum() * 0.1, rel=1e-5
    )


def test_v06_daily_variable_name(tmp_path):
    lat = np.round(45 - 0.05 - 0.1 * np.arange(20), 4)
    lon = np.round(0.05 + 0.1 * np.arange(30), 4)
    rain = np.full((20, 30), 6.0, dtype=np.float32)
    f = write_imerg_day(tmp_path, dt.date(2010, 5, 1), lat, lon, rain, version=6)
    with netCDF4.Dataset(f) as ds:
        assert "precipitationCal" in ds.variables
    out = read_imerg_day(str(f), Region.from_bounds(0, 43, 3, 45))
    np.testing.assert_allclose(out, 6.0, rtol=1e-6)
    assert parse_imerg_name(str(f)) == dt.date(2010, 5, 1)


@pytest.mark.parametrize(
    "value,problem",
    [
        (-3.0, "negative precipitation"),
        (np.inf, "infinite"),
        (-np.inf, "infinite"),
        (1e30, r"1 values above 1825 mm in a day \(up to 1e\+30 mm\)"),
        (1900.0, "above 1825 mm in a day"),
    ],
)
def test_bad_precipitation_values(tmp_path, value, problem):
    lat = np.round(45 - 0.05 - 0.1 * np.arange(10), 4)
    lon = np.round(0.05 + 0.1 * np.arange(10), 4)
    f = write_imerg_day(tmp_path, dt.date(2010, 5, 1), lat, lon, np.full((10, 10), 2.0, dtype=np.float32))
    with netCDF4.Dataset(f, "a") as ds:
        ds["precipitation"][0, 3, 3] = value
    with pytest.raises(InputError, match=problem) as err:
        read_imerg_day(str(f), Region.from_bounds(0, 44, 1, 45))
    assert str(f) in str(err.value)


def test_wrong_grid_is_reported(tmp_path):
    lat = np.round(45 - 0.125 - 0.25 * np.arange(8), 4)
    lon = np.round(0.125 + 0.25 * np.arange(8), 4)
    f = write_imerg_day(tmp_path, dt.date(2010, 5, 1), lat, lon, np.ones((8, 8), np.float32))
    with pytest.raises(InputError, match="wrong grid"):
        read_imerg_day(str(f), Region.from_bounds(0, 44, 1, 45))


def test_imerg_dates_from_names():
    assert parse_imerg_name("3B-DAY.MS.MRG.3IMERG.20230601-S000000-E235959.V07B.nc4") == dt.date(2023, 6, 1)
    assert parse_imerg_name("GPM_3IMERGHH_V06B_20200101_subset.nc4") == dt.date(2020, 1, 1)
    assert parse_imerg_name("LPRM-AMSR2_L3_D_SOILM3_V001_20150401013507.nc4") is None


def _day(tmp_path, value=2.0, lon0=0.05, n=10):
    lat = np.round(45 - 0.05 - 0.1 * np.arange(n), 4)
    lon = np.round(lon0 + 0.1 * np.arange(n), 4)
    return write_imerg_day(tmp_path, dt.date(2010, 5, 1), lat, lon, np.full((n, n), value, dtype=np.float32))


def test_the_heaviest_possible_day_and_tiny_negatives_are_read(tmp_path):
    f = _day(tmp_path / "a", value=1800.0)  # under the 1825 mm record
    np.testing.assert_allclose(read_imerg_day(str(f), Region.from_bounds(0, 44, 1, 45)), 1800.0)
    g = _day(tmp_path / "b", value=-0.05)  # packing noise, below a rain gauge's 0.1 mm: no rain
    assert (read_imerg_day(str(g), Region.from_bounds(0, 44, 1, 45)) == 0).all()


def test_nan_is_no_value_like_the_fill(tmp_path):
    f = _day(tmp_path)
    with netCDF4.Dataset(f, "a") as ds:
        ds["precipitation"][0, :5, :] = np.nan  # stored (time, lon, lat): the western half, lon 0..0.5
    out = read_imerg_day(str(f), Region.from_bounds(0, 44, 1, 45))
    assert np.isnan(out[:, :2]).all() and np.allclose(out[:, 2:], 2.0)


def test_a_file_that_covers_none_of_the_region_is_refused(tmp_path):
    f = _day(tmp_path)  # covers 0..1 E, 44..45 N
    with pytest.raises(InputError) as err:
        read_imerg_day(str(f), Region.from_bounds(10, 44, 12, 45))
    msg = str(err.value)
    assert str(f) in msg and "covers 0,44,1,45 (W,S,E,N) but none of the region 10,44,12,45" in msg


def test_cells_a_subset_does_not_reach_are_unavailable_not_zero(tmp_path):
    f = _day(tmp_path)  # covers 0..1 E: of the region 0..2 E, the eastern half lies outside it
    out = read_imerg_day(str(f), Region.from_bounds(0, 44, 2, 45))
    assert np.allclose(out[:, :4], 2.0) and np.isnan(out[:, 4:]).all()


def test_longitudes_on_0_360_are_read_where_they_say(tmp_path):
    west = _day(tmp_path / "west", lon0=-0.45)  # -0.5..0.5 E
    east = _day(tmp_path / "east", lon0=-0.45)
    with netCDF4.Dataset(east, "a") as ds:
        v = ds["precipitation"]
        v[0, :5, :] = 7.0  # the cells west of 0
        lon = ds["lon"]
        values = np.asarray(lon[:], dtype=np.float64)
        order = np.argsort(values % 360)
        lon[:] = (values % 360)[order]  # 0.05 .. 0.45, 359.55 .. 359.95
        v[0, :, :] = v[0, :, :][order, :]
    with netCDF4.Dataset(west, "a") as ds:
        ds["precipitation"][0, :5, :] = 7.0
    r = Region.from_bounds(-0.5, 44, 0.5, 45)
    np.testing.assert_array_equal(read_imerg_day(str(east), r), read_imerg_day(str(west), r))
    assert np.allclose(read_imerg_day(str(east), r)[:, :2], 7.0)


@pytest.mark.parametrize("kind", BAD_IMERG_KINDS)
def test_bad_files_get_one_clear_message_naming_the_file(kind, tmp_path):
    bad = write_bad_imerg(kind, real(V07), tmp_path)
    with pytest.raises(InputError) as err:
        read_imerg_day(str(bad), Region.from_bounds(120.75, 14.25, 121.25, 14.75))
    msg = str(err.value)
    assert str(bad) in msg and BAD_IMERG_KINDS[kind] in msg
    assert "\n" not in msg


def test_a_cell_whose_fine_cells_are_all_fill_stays_unavailable(tmp_path):
    # 0.25 deg cell 0.25..0.5 E holds fine cells 0.2..0.5, all fill; its neighbour 0.5.. only touches it
    f = _day(tmp_path)
    with netCDF4.Dataset(f, "a") as ds:
        v = ds["precipitation"]
        v[0, :5, :] = v._FillValue  # stored (time, lon, lat): lon 0..0.5 fill
    out = read_imerg_day(str(f), Region.from_bounds(0, 44, 1, 45))
    assert np.isnan(out[:, :2]).all() and np.allclose(out[:, 2:], 2.0)
