"""Helpers for tests and benchmarks: small archives and a corpus of bad files."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import numpy as np

from .grid import Region
from .readers.imerg import VARIABLES as IMERG_VARIABLES
from .synth import SynthRequest, write_archive

#: A small box over Europe (40 x 80 cells): land, sea, mountains.
SMALL_REGION = Region.from_bounds(0.0, 40.0, 20.0, 50.0)


def small_archive(
    out_dir: str | os.PathLike,
    days: int = 10,
    *,
    start: dt.date = dt.date(2015, 4, 1),
    region: Region = SMALL_REGION,
    seed: int = 7,
    **kw,
) -> Path:
    """A synthetic archive written in this process (no cluster)."""
    return write_archive(SynthRequest(str(out_dir), start, days, region, seed=seed, **kw))


#: The broken LPRM files of :func:`write_bad_lprm`, each with the words its error message must hold.
BAD_KINDS = {
    "truncated": "truncated or corrupt",
    "random_bytes": "truncated or corrupt",
    "half_degree": "wrong grid",
    "missing_variable": "missing variable 'soil_moisture_c1'",
    "percent_as_fraction": "look like percent",
    "fraction_as_percent": "look like fractions",
    "all_fill": "empty day",
    "swapped_dims": "dimensions",
    "infinite_sm": "infinite values",
    "shifted_lon": "Longitude centres run",
}


def one_error_line(stderr: str) -> str:
    """The single ``sgdsm: error:`` line of a failed command; asserts there is exactly one and no traceback."""
    lines = [ln for ln in stderr.splitlines() if ln.startswith("sgdsm: error:")]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr, stderr
    return lines[0]


def _broken_copy(good: str | os.PathLike, folder: str | os.PathLike, keep: float | None) -> tuple[Path, Path]:
    """``(good, out)``: ``out`` is ``good``'s name in ``folder``; with ``keep``, the first fraction of its bytes."""
    good = Path(good)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / good.name
    if keep is not None:
        data = good.read_bytes()
        out.write_bytes(data[: int(len(data) * keep)])
    return good, out


def write_bad_lprm(kind: str, good: str | os.PathLike, folder: str | os.PathLike) -> Path:
    """A broken copy of the LPRM file ``good``, with the same (valid) file name."""
    import netCDF4

    good, out = _broken_copy(good, folder, 0.5 if kind == "truncated" else None)
    if kind == "truncated":
        return out
    if kind == "random_bytes":
        out.write_bytes(np.random.default_rng(0).bytes(50_000))
        return out
    if kind in ("half_degree", "swapped_dims"):
        lat = 90.0 - 0.25 - 0.5 * np.arange(360)
        lon = -180.0 + 0.25 + 0.5 * np.arange(720)
        with netCDF4.Dataset(out, "w") as ds:
            ds.createDimension("Longitude", lon.size)
            ds.createDimension("Latitude", lat.size)
            ds.createVariable("Latitude", "f4", ("Latitude",))[:] = lat
            ds.createVariable("Longitude", "f4", ("Longitude",))[:] = lon
            dims = ("Longitude", "Latitude") if kind == "half_degree" else ("Longitude", "Time")
            if kind == "swapped_dims":
                ds.createDimension("Time", lat.size)
            v = ds.createVariable("soil_moisture_c1", "i2", dims, fill_value=np.int16(-32767))
            v.units = "percent"
            v[:] = np.full((lon.size, lat.size), 20, dtype=np.int16)
        return out
    shutil.copy(good, out)
    with netCDF4.Dataset(out, "a") as ds:
        v = ds.variables["soil_moisture_c1"]
        v.set_auto_maskandscale(False)
        raw = v[:]
        if kind == "missing_variable":
            ds.renameVariable("soil_moisture_c1", "sm_c1_renamed")
        elif kind == "percent_as_fraction":
            v.units = "m3 m-3"  # values stay in percent
        elif kind == "fraction_as_percent":
            valid = raw != -32767
            frac = np.where(valid, np.where(raw > 0, 1, 0), -32767).astype(np.int16)
            v[:] = frac
        elif kind == "all_fill":
            v[:] = np.full(raw.shape, -32767, dtype=np.int16)
        elif kind == "infinite_sm":  # a float copy of the variable, with inf in a scatter of cells
            ds.renameVariable("soil_moisture_c1", "soil_moisture_c1_int16")
            f = ds.createVariable("soil_moisture_c1", "f4", v.dimensions, fill_value=np.float32(-32767))
            f.units = "percent"
            values = raw.astype(np.float32)
            values[values.shape[0] // 2 :: 9, values.shape[1] // 2 :: 7] = np.inf
            f[:] = values
        elif kind == "shifted_lon":  # cell edges stored as centres: every longitude a half cell west
            lon = ds.variables["Longitude"]
            lon[:] = lon[:] - 0.125
        else:
            raise ValueError(f"unknown bad kind {kind!r}")
    return out


#: The broken IMERG files of :func:`write_bad_imerg`, each with the words its error message must hold.
BAD_IMERG_KINDS = {
    "negative_precip": "negative precipitation",
    "infinite_precip": "infinite",
    "truncated": "truncated or corrupt",
    "huge_precip": "more than the greatest rainfall ever measured",
    "elsewhere": "none of the region",
}


def write_bad_imerg(kind: str, good: str | os.PathLike, folder: str | os.PathLike) -> Path:
    """A broken copy of the IMERG daily file ``good``, with the same (valid) file name."""
    import netCDF4

    good, out = _broken_copy(good, folder, 1 / 3 if kind == "truncated" else None)
    if kind == "truncated":
        return out
    values = {"negative_precip": -4.0, "infinite_precip": np.inf, "huge_precip": 1e30}
    if kind not in values and kind != "elsewhere":
        raise ValueError(f"unknown bad kind {kind!r}")
    shutil.copy(good, out)
    with netCDF4.Dataset(out, "a") as ds:
        if kind == "elsewhere":  # the same file half the world away: it covers none of the region
            lon = ds.variables["lon"]
            lon[:] = lon[:] + 180.0
            return out
        v = next(ds.variables[n] for n in IMERG_VARIABLES if n in ds.variables)  # V07 or V06 daily
        v.set_auto_maskandscale(False)
        block = v[0, :, :]
        block[block.shape[0] // 2 :: 7, block.shape[1] // 2 :: 5] = values[kind]  # a scatter over the whole globe
        v[0, :, :] = block
    return out
