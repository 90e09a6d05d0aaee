import datetime as dt

import netCDF4
import numpy as np
import pytest

from sgdsm_dask.errors import InputError
from sgdsm_dask.grid import Region
from sgdsm_dask.readers.imerg import parse_imerg_name, read_imerg_day
from sgdsm_dask.synth.writers import write_imerg_day
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


@pytest.mark.parametrize("value,problem", [(-3.0, "negative precipitation"), (np.inf, "infinite")])
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
