"""The units layer, and cubes staged through it as a user types ``sgdsm stage --cube``.

A cube's units are read, not assumed: precipitation in m, kg m-2 s-1 or mm/h
is staged as mm/day, soil moisture in percent as m3/m3, and units that are
unknown, values that contradict their units, ``inf``, dimensions named
another way and calendars without dates are either read correctly or one
error line naming the file; where the line comes before staging, no store
is left behind.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from sgdsm_dask.cli import main
from sgdsm_dask.errors import InputError
from sgdsm_dask.grid import Region
from sgdsm_dask.readers import units
from sgdsm_dask.testing import one_error_line

R = Region.from_bounds(0, 40, 2, 42)  # 8 x 8 cells
DAYS = ["2020-01-01", "2020-01-02", "2020-01-03", "2020-01-04", "2020-01-05"]
SM = 0.25


def _cube(
    path,
    *,
    sm=SM,
    sm_attrs=None,
    precip=None,
    precip_name="precip",
    precip_attrs=None,
    precip_dims=("time", "lat", "lon"),
    precip_coords=True,
    times=DAYS,
):
    """A small cube on ``R``: ``sm`` (a value or an array) and, if given, precipitation."""
    shape = (len(times), *R.shape)
    coords = {"time": np.array(times, dtype="datetime64[ns]"), "lat": R.lat, "lon": R.lon}
    data = {"sm": (("time", "lat", "lon"), np.broadcast_to(np.float32(sm), shape).copy(), sm_attrs or {})}
    if precip is not None:
        data[precip_name] = (precip_dims, np.broadcast_to(np.float32(precip), shape).copy(), precip_attrs or {})
        t, y, x = precip_dims
        if precip_coords:
            coords.update({t: coords["time"], y: R.lat, x: R.lon})
    xr.Dataset(data, coords=coords).to_netcdf(path)
    return path


def _stage(cube, tmp_path, client, *extra):
    out = tmp_path / "staged.zarr"
    args = ["stage", "--cube", str(cube), "--out", str(out), "--time-chunk", "1", *extra]
    return main([*args, "--scheduler", client.scheduler.address]), out


def _refused(cube, tmp_path, client, capsys, *words):
    """Staging ``cube`` is one error line naming it and holding ``words``, and no store is left."""
    capsys.readouterr()
    rc, out = _stage(cube, tmp_path, client)
    line = one_error_line(capsys.readouterr().err)
    assert rc == 2 and str(cube) in line and all(w in line for w in words), line
    assert not out.exists()
    return line


def _staged(out, name):
    with xr.open_zarr(out, consolidated=False) as ds:
        return ds[name].values, ds.time.values.astype("datetime64[D]")


# ---- the layer itself ----


@pytest.mark.parametrize(
    "text,divisor",
    [
        ("m3 m-3", 1.0),
        ("m3/m3", 1.0),
        ("m^3 m^-3", 1.0),
        ("m**3 m**-3", 1.0),
        ("m3.m-3", 1.0),
        ("cm3 cm-3", 1.0),
        ("1", 1.0),
        ("fraction", 1.0),
        ("", 1.0),
        (None, 1.0),
        ("percent", 100.0),
        ("%", 100.0),
        ("Percent", 100.0),
        ("vol %", 100.0),
    ],
)
def test_soil_moisture_units_are_parsed_not_matched(text, divisor):
    assert units.sm_divisor("f.nc", "sm", text) == divisor


@pytest.mark.parametrize(
    "text,factor",
    [
        ("mm/day", 1.0),
        ("mm d-1", 1.0),
        ("mm day-1", 1.0),
        ("mmday-1", 1.0),
        ("mm", 1.0),  # in a daily cube: the day's total
        ("kg m-2", 1.0),  # a kg of water over a square metre is a millimetre
        ("mm/h", 24.0),
        ("mm hr-1", 24.0),
        ("mm/hr", 24.0),
        ("m", 1000.0),  # ERA5 tp, summed over the day
        ("kg m-2 s-1", 86400.0),
        ("kg/m2/s", 86400.0),
        ("kg m**-2 s**-1", 86400.0),
        ("m s-1", 86_400_000.0),
    ],
)
def test_precipitation_units_are_parsed_to_mm_per_day(text, factor):
    assert units.precip_factor("f.nc", "p", text) == factor


@pytest.mark.parametrize(
    "text,words",
    [
        ("K", "expected volumetric soil moisture"),
        ("m", "expected volumetric soil moisture"),
        ("kg m-2", "water per area or per mass of soil"),
        ("kg kg-1", "water per area or per mass of soil"),
        ("percent saturation", "a degree of saturation"),
        ("%sat", "a degree of saturation"),
    ],
)
def test_units_that_are_not_volumetric_soil_moisture_are_named(text, words):
    with pytest.raises(InputError) as err:
        units.sm_divisor("f.nc", "sm", text)
    assert str(err.value).startswith("f.nc: sm has units") and repr(text) in str(err.value) and words in str(err.value)


@pytest.mark.parametrize(
    "text,kw,words",
    [
        ("K", {}, "has units 'K'; expected a rate"),
        ("mm/month", {}, "has units 'mm/month'; expected a rate"),
        ("m3 m-3", {}, "has units 'm3 m-3'; expected a rate"),
        (None, {}, "has no units attribute"),
        ("m", {"cell_methods": "time: mean"}, "averaged over time"),
        ("mm", {"step_days": 30.0}, "steps are 30 days"),
        ("mm", {"amounts": False}, "has units 'mm'; expected mm/day or mm/hr"),
    ],
)
def test_units_that_are_not_rain_or_not_daily_are_named(text, kw, words):
    with pytest.raises(InputError) as err:
        units.precip_factor("f.nc", "p", text, **kw)
    assert str(err.value).startswith("f.nc: p ") and words in str(err.value)


def test_soil_moisture_values_are_checked_against_their_units():
    fractions = np.full(200, 0.3, np.float32)
    with pytest.raises(InputError, match="every value is <= 1: the values look like fractions"):
        units.check_sm("f.nc", "sm", "%", fractions, 100.0)
    with pytest.raises(InputError, match=r"values up to 30 but units='m3 m-3': the values look like percent"):
        units.check_sm("f.nc", "sm", "m3 m-3", fractions * 100, 1.0)
    with pytest.raises(InputError, match=r"1 values outside 0..1 m3/m3 read as % \(0.3 to 1.3 m3/m3\)"):
        units.check_sm("f.nc", "sm", "%", np.r_[fractions * 100, 130], 100.0)
    with pytest.raises(InputError, match="1 values outside 0..1"):
        units.check_sm("f.nc", "sm", "m3 m-3", np.r_[fractions, -0.2], 1.0)
    with pytest.raises(InputError, match="holds 1 infinite values"):
        units.check_sm("f.nc", "sm", "m3 m-3", np.r_[fractions, np.inf], 1.0)
    # rounding just past 0 or 1 is clipped; NaN stays "not observed"
    out = units.check_sm("f.nc", "sm", "m3 m-3", np.array([1.00005, -0.00005, np.nan, 0.2], np.float32), 1.0)
    np.testing.assert_array_equal(out, np.array([1, 0, np.nan, 0.2], np.float32))
    # percent is divided in float32, so the staged value is exactly stored / 100
    assert units.check_sm("f.nc", "sm", "%", np.array([33.0], np.float32), 100.0)[0] == np.float32(33) / np.float32(100)


def test_precipitation_values_are_checked_against_the_world_record():
    assert units.MAX_DAILY_MM == 1825.0
    np.testing.assert_array_equal(
        units.check_precip("f.nc", "p", np.array([1825, 0, np.nan], np.float32))[:2], [1825, 0]
    )
    with pytest.raises(InputError, match=r"1 values above 1825 mm in a day \(up to 1826 mm\)"):
        units.check_precip("f.nc", "p", np.array([1826], np.float32))
    # a half-hourly rate of 3000 mm/day is 62.5 mm in its half hour: heavy, possible
    assert units.check_precip("f.nc", "p", np.array([3000], np.float32), period_hours=0.5)[0] == 3000
    # packing noise (ERA5 has it) is no rain; a real negative is refused
    assert units.check_precip("f.nc", "p", np.array([-0.05], np.float32))[0] == 0
    with pytest.raises(InputError, match=r"1 negative precipitation values \(down to -0.5 mm/day\)"):
        units.check_precip("f.nc", "p", np.array([-0.5], np.float32))
    with pytest.raises(InputError, match="holds 1 infinite values"):
        units.check_precip("f.nc", "p", np.array([-np.inf], np.float32))


# ---- cubes through `sgdsm stage --cube` ----


@pytest.mark.parametrize(
    "name,text,stored,mm_day",
    [
        ("tp", "m", 0.005, 5.0),  # ERA5 total precipitation, the day's total in metres
        ("precip", "kg m-2 s-1", 5.0 / 86400, 5.0),
        ("precip", "mm/h", 0.25, 6.0),
        ("precip", "mm hr-1", 0.25, 6.0),
        ("precip", "mm/day", 5.0, 5.0),
        ("precip", "mm d-1", 5.0, 5.0),
        ("precip", "mm day-1", 5.0, 5.0),
        ("precip", "mm", 5.0, 5.0),
    ],
)
def test_cube_precipitation_is_staged_in_mm_per_day(name, text, stored, mm_day, tmp_path, client):
    cube = _cube(tmp_path / "rain.nc", precip=stored, precip_name=name, precip_attrs={"units": text})
    rc, out = _stage(cube, tmp_path, client)
    assert rc == 0
    precip, _ = _staged(out, "precip")
    np.testing.assert_allclose(precip, mm_day, rtol=1e-6)
    assert _staged(out, "precip_available")[0].all()


@pytest.mark.parametrize(
    "attrs,words",
    [
        ({"units": "K"}, ["precip has units 'K'", "expected a rate (mm/day, mm/h, kg m-2 s-1)"]),
        ({"units": "mm/month"}, ["precip has units 'mm/month'"]),
        ({}, ["precip has no units attribute"]),
        ({"units": "m", "cell_methods": "time: mean"}, ["precip is an amount ('m') averaged over time"]),
    ],
    ids=["kelvin", "per_month", "no_units", "mean_of_hourly_totals"],
)
def test_cube_precipitation_of_unknown_units_is_one_line(attrs, words, tmp_path, client, capsys):
    cube = _cube(tmp_path / "rain.nc", precip=0.001, precip_attrs=attrs)
    _refused(cube, tmp_path, client, capsys, *words)


@pytest.mark.parametrize(
    "text,stored",
    [
        ("m3 m-3", SM),
        ("m3/m3", SM),
        ("m^3 m^-3", SM),
        ("1", SM),
        ("fraction", SM),
        ("%", SM * 100),
        ("percent", SM * 100),
    ],
)
def test_cube_soil_moisture_units_are_read(text, stored, tmp_path, client):
    cube = _cube(tmp_path / "sm.nc", sm=stored, sm_attrs={"units": text})
    rc, out = _stage(cube, tmp_path, client)
    assert rc == 0
    np.testing.assert_allclose(_staged(out, "sm")[0], SM, rtol=1e-6)


@pytest.mark.parametrize(
    "text,stored,words",
    [
        ("percent", SM, ["sm says units=percent but every value is <= 1: the values look like fractions"]),
        ("%", SM, ["the values look like fractions"]),
        ("K", SM, ["sm has units 'K'; expected volumetric soil moisture"]),
        ("kg m-2", 30.0, ["water per area or per mass of soil"]),
        ("percent saturation", 60.0, ["a degree of saturation, not volumetric soil moisture"]),
        ("percent", 130.0, ["sm has 192 values outside 0..1 m3/m3 read as percent (1.3 to 1.3 m3/m3)"]),
        ("m3 m-3", -0.2, ["sm has 192 values outside 0..1 m3/m3 read as m3 m-3"]),
    ],
)
def test_cube_soil_moisture_that_its_units_contradict_is_one_line(text, stored, words, tmp_path, client, capsys):
    cube = _cube(tmp_path / "sm.nc", sm=stored, sm_attrs={"units": text})
    _refused(cube, tmp_path, client, capsys, *words)


@pytest.mark.parametrize("variable", ["sm", "precip"])
@pytest.mark.parametrize("value", [np.inf, -np.inf])
def test_cube_inf_is_one_line_before_any_store(variable, value, tmp_path, client, capsys):
    # on the first day, which inspection reads before a store is made
    sm = np.full((len(DAYS), *R.shape), SM, np.float32)
    rain = np.full_like(sm, 2.0)
    (sm if variable == "sm" else rain)[0, 3, 3] = value
    cube = _cube(tmp_path / "inf.nc", sm=sm, precip=rain, precip_attrs={"units": "mm/day"})
    _refused(cube, tmp_path, client, capsys, f"{variable} holds 1 infinite values")


def test_cube_inf_on_a_day_inspection_skips_is_one_line_from_the_worker(tmp_path, client, capsys):
    rain = np.full((len(DAYS), *R.shape), 2.0, np.float32)
    rain[1, 0, 0] = np.inf  # inspection reads days 0, 2 and 4
    cube = _cube(tmp_path / "inf.nc", precip=rain, precip_attrs={"units": "mm/day"})
    capsys.readouterr()
    rc, out = _stage(cube, tmp_path, client)
    line = one_error_line(capsys.readouterr().err)
    assert rc == 2 and str(cube) in line and "precip holds 1 infinite values" in line
    assert not _staged(out, "day_status")[0][1]  # the day is not staged: still pending


@pytest.mark.parametrize(
    "dims",
    [("valid_time", "latitude", "longitude"), ("time", "y", "x")],
    ids=["era5_names", "y_x_with_coordinates"],
)
def test_cube_precipitation_with_its_own_dimension_names_is_read(dims, tmp_path, client):
    rain = np.arange(len(DAYS) * R.shape[0] * R.shape[1], dtype=np.float32).reshape(len(DAYS), *R.shape) / 100
    shape = rain.shape
    t, y, x = dims
    ds = xr.Dataset(
        {
            "sm": (("time", "lat", "lon"), np.full(shape, SM, np.float32), {"units": "m3 m-3"}),
            # stored south first, with its own time coordinate
            "tp": (dims, rain[:, ::-1, :] / 1000, {"units": "m"}),
        },
        coords={
            "time": np.array(DAYS, dtype="datetime64[ns]"),
            "lat": R.lat,
            "lon": R.lon,
            **({t: np.array(DAYS, dtype="datetime64[ns]")} if t != "time" else {}),
            y: R.lat[::-1],
            x: R.lon,
        },
    )
    cube = tmp_path / "era5.nc"
    ds.to_netcdf(cube)
    rc, out = _stage(cube, tmp_path, client)
    assert rc == 0
    np.testing.assert_allclose(_staged(out, "precip")[0], rain, rtol=1e-6)


def test_cube_precipitation_whose_cells_are_unknown_is_one_line(tmp_path, client, capsys):
    cube = _cube(
        tmp_path / "yx.nc",
        precip=2.0,
        precip_attrs={"units": "mm/day"},
        precip_dims=("time", "y", "x"),
        precip_coords=False,
    )
    _refused(cube, tmp_path, client, capsys, "precip's dimension 'y' has no coordinate values")


def test_cube_precipitation_on_another_box_or_other_days_is_one_line(tmp_path, client, capsys):
    other = Region.from_bounds(2, 40, 4, 42)
    ds = xr.open_dataset(_cube(tmp_path / "base.nc")).load()
    ds["tp"] = xr.DataArray(
        np.ones((len(DAYS), *other.shape), np.float32),
        dims=("time", "latitude", "longitude"),
        coords={"latitude": other.lat, "longitude": other.lon},
        attrs={"units": "m"},
    )
    box = tmp_path / "box.nc"
    ds.to_netcdf(box)
    _refused(box, tmp_path, client, capsys, "tp covers 2,40,4,42 but sm covers 0,40,2,42: they must match")
    ds = xr.open_dataset(_cube(tmp_path / "base2.nc")).load()
    later = np.array(DAYS, dtype="datetime64[ns]") + np.timedelta64(1, "D")
    ds["tp"] = xr.DataArray(
        np.ones((len(DAYS), *R.shape), np.float32),
        dims=("valid_time", "lat", "lon"),
        coords={"valid_time": later},
        attrs={"units": "m"},
    )
    shifted = tmp_path / "shifted.nc"
    ds.to_netcdf(shifted)
    _refused(shifted, tmp_path, client, capsys, "tp holds the days 2020-01-02..2020-01-06 (5) but sm 2020-01-01..")


def _calendar_cube(path, calendar, first, n=4):
    """A cube whose time axis is ``n`` days from ``first`` in ``calendar`` (written as numbers, as models write it)."""
    ds = xr.Dataset(
        {"sm": (("time", "lat", "lon"), np.full((n, *R.shape), SM, np.float32), {"units": "m3 m-3"})},
        coords={
            "time": ("time", np.arange(n), {"units": f"days since {first}", "calendar": calendar}),
            "lat": R.lat,
            "lon": R.lon,
        },
    )
    ds.to_netcdf(path)
    return path


def test_a_noleap_cube_is_read_with_its_dates(tmp_path, client):
    # noleap has no 29 February: 2020-02-27, 28, 03-01, 03-02
    cube = _calendar_cube(tmp_path / "noleap.nc", "noleap", "2020-02-27")
    rc, out = _stage(cube, tmp_path, client)
    assert rc == 0
    sm, days = _staged(out, "sm")
    np.testing.assert_array_equal(
        days, np.array(["2020-02-27", "2020-02-28", "2020-03-01", "2020-03-02"], "datetime64[D]")
    )
    np.testing.assert_allclose(sm, SM)


@pytest.mark.parametrize(
    "calendar,first,words",
    [
        ("360_day", "2020-02-28", ["uses the '360_day' calendar, which is not supported"]),
        ("julian", "2020-02-28", ["uses the 'julian' calendar, which is not supported"]),
        ("all_leap", "2021-02-27", ["(all_leap calendar) holds 2021-02-29, which is no date"]),
    ],
)
def test_a_calendar_without_dates_is_named(calendar, first, words, tmp_path, client, capsys):
    cube = _calendar_cube(tmp_path / f"{calendar}.nc", calendar, first)
    line = _refused(cube, tmp_path, client, capsys, *words)
    assert "units missing" not in line


@pytest.mark.parametrize("layout", ["zero_to_360", "east_first"])
def test_cube_longitudes_on_0_360_or_east_first_are_read_where_they_say(layout, tmp_path, client):
    west = Region.from_bounds(-2, 40, 0, 42)  # 358..360 E on a 0..360 axis
    sm = (np.arange(west.shape[1], dtype=np.float32) / 100 + 0.1)[None, None, :].repeat(2, 0).repeat(8, 1)
    lon = west.lon % 360 if layout == "zero_to_360" else west.lon[::-1]
    stored = sm if layout == "zero_to_360" else sm[:, :, ::-1]
    ds = xr.Dataset(
        {"sm": (("time", "lat", "lon"), stored, {"units": "m3 m-3"})},
        coords={"time": np.array(DAYS[:2], dtype="datetime64[ns]"), "lat": west.lat, "lon": lon},
    )
    cube = tmp_path / f"{layout}.nc"
    ds.to_netcdf(cube)
    rc, out = _stage(cube, tmp_path, client)
    assert rc == 0
    np.testing.assert_array_equal(_staged(out, "sm")[0], sm)
    with xr.open_zarr(out, consolidated=False) as staged:
        np.testing.assert_allclose(staged.lon.values, west.lon)
