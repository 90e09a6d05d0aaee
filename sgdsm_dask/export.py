"""``sgdsm export``: one CF-1.8 / ACDD-1.3 NetCDF4 file per day from a reconstruction store.

Files are written one task per time chunk of the result store (Dask tasks
on a cluster, a loop without one; each chunk is read once, not once per
day), each file to a temporary
name in the output folder and renamed when complete, so a stopped export never
leaves a broken file under a final name; a rerun skips the days whose file
exists (trusted while it is unchanged since the folder's manifest, hashed
again otherwise: :func:`check_folder`). Days that were not reconstructed (missing in the archive) get no
file, like the 7115 files of the published record.

A folder is written only if it is absent, empty, or the export folder of
this reconstruction (its manifest or marker says so: :func:`check_folder`);
anything else is one line naming it, and nothing in it is touched. A day is
written only if its values agree with its flags (:func:`check_values`): a
result store with a chunk missing or damaged is named, not exported as NaN.

With ``cog`` each day also gets ``SGD-SM2_YYYYMMDD.tif``, a Cloud-Optimized
GeoTIFF of ``sm`` (float32, north up, EPSG:4326, NaN as nodata, DEFLATE,
internal tiles and overviews) for GIS users; ``flag`` stays in the NetCDF.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from . import __version__, manifest
from .errors import InputError
from .io import zarr_store
from .io.files import atomic_write, file_entry, write_failure
from .model.fill import FLAG_FILLED, FLAG_MEANINGS, FLAG_NOT_FILLED, FLAG_OBSERVED
from .paths import absolute, is_url, local_or_url, require_shared

PREFIX = "SGD-SM2_"
_OURS = (rf"{PREFIX}\d{{8}}\.(nc|tif)", *map(re.escape, (manifest.MANIFEST, manifest.SUMS, manifest.MARKER)))
#: The temporary files of an export's atomic writes: a stopped run's, removed by :func:`clear_folder`.
TEMPORARY = re.compile(r"\.(" + "|".join(_OURS) + r")\.part")
_HDF5_WRITE = threading.Lock()  # HDF5 is not thread-safe: one file write at a time per process

ENCODING = {
    # zlib level 1: on a synthetic 720 x 360 day 15 ms and 334 KiB against 19 ms and 311 KiB at
    # level 4 (byte shuffle made these NaN-heavy maps larger, not smaller)
    "sm": {"zlib": True, "shuffle": False, "complevel": 1, "dtype": "float32", "_FillValue": np.float32(np.nan)},
    "flag": {"zlib": True, "shuffle": False, "complevel": 1, "dtype": "int8", "_FillValue": None},
    "time": {"units": "days since 1970-01-01", "calendar": "proleptic_gregorian", "dtype": "int32"},
    "lat": {"_FillValue": None},
    "lon": {"_FillValue": None},
}


def day_name(day: np.datetime64, suffix: str = ".nc") -> str:
    """File name of a day; only digits come from data, so no name can leave the output folder."""
    t = pd.Timestamp(day)
    return f"{PREFIX}{t.year:04d}{t.month:02d}{t.day:02d}{suffix}"  # %Y does not pad years before 1000


#: Advice for a result store whose values cannot be trusted: its chunks are marked done, so only a rebuild redoes them.
REBUILD = (
    "rebuild it with sgdsm reconstruct --overwrite (a plain rerun skips chunks marked done), "
    "then export it into a new folder"
)


def open_result(result: str) -> xr.Dataset:
    """The result store as NumPy-backed lazy arrays (no Dask graph inside a task)."""
    return xr.open_zarr(local_or_url(result), consolidated=False, chunks=None)


def folder(out_dir: str | os.PathLike) -> str:
    """``out_dir`` as the plain absolute path of a local folder, as the client means it.

    ``file://`` URLs are plain paths (else a folder named ``file:`` would
    appear in the working directory), and a relative path is made absolute
    here, where the command was typed, since Dask workers resolve it against
    their own working directory. Object stores are refused until export
    writes them (NetCDF needs a local file).
    """
    local = local_or_url(str(out_dir))
    if is_url(local):
        raise InputError(
            str(out_dir),
            "sgdsm export writes local folders only for now (a path or a file:// URL); "
            "object stores such as s3:// or memory:// come in a later release",
        )
    return absolute(local)


def check_result(result: str) -> None:
    """One line unless ``result`` is a reconstruction store of ``sgdsm reconstruct``; reads attributes only."""
    if not zarr_store.exists(result):
        local = local_or_url(result)
        if not is_url(local) and not os.path.lexists(local):
            raise InputError(result, "no such store (give the --out store of sgdsm reconstruct)")
        raise InputError(result, "not a Zarr store: give the --out store of sgdsm reconstruct")
    attrs = zarr_store.read_attrs(result)
    if attrs.get("sgdsm_store") == "staged" or "stage_fingerprint" in attrs:
        raise InputError(
            result,
            "is a staged cube, not a reconstruction: run sgdsm reconstruct --store on it first, "
            "then export the reconstruction store it writes",
        )
    group = zarr_store.open_group(result, mode="r")
    missing = [name for name in ("sm", "flag", "done", "time") if name not in group]
    if missing or not (attrs.get("sgdsm_store") == "result" or "reconstruct_fingerprint" in attrs):
        what = f"no {missing[0]!r} array" if missing else "no reconstruction provenance"
        raise InputError(
            result,
            f"is a Zarr store that sgdsm reconstruct did not write ({what}): give the --out store of sgdsm reconstruct",
        )


def _dataset(result: str, days: xr.Dataset, attrs: dict[str, Any]) -> xr.Dataset:
    """The CF / ACDD dataset of ``days`` (a time chunk: built once, cut per day by :func:`_one_day`)."""
    import rioxarray  # noqa: F401 - registers the .rio accessor

    lat, lon = days["lat"].values, days["lon"].values
    grid = xr.Dataset(
        coords={
            "time": ("time", days["time"].values, {"standard_name": "time", "axis": "T"}),
            "lat": ("lat", lat, {"units": "degrees_north", "standard_name": "latitude", "axis": "Y"}),
            "lon": ("lon", lon, {"units": "degrees_east", "standard_name": "longitude", "axis": "X"}),
        }
    )
    # the CRS goes on the coordinates alone: write_crs deep-copies what it is given (0.1 s for 8 global days)
    grid = grid.rio.write_crs("EPSG:4326", grid_mapping_name="crs")
    ds = grid.assign(
        sm=days["sm"].variable.astype(np.float32, copy=False), flag=days["flag"].variable.astype(np.int8, copy=False)
    )
    ds["sm"].attrs = {
        "units": "m3 m-3",
        "standard_name": "volume_fraction_of_condensed_water_in_soil",
        "long_name": "surface soil moisture, gaps filled (SGD-SM 2.0 LSTM-CNN)",
        "valid_range": np.array([0.0, 1.0], np.float32),
    }
    ds["flag"].attrs = {
        "long_name": "origin of the soil moisture value",
        "flag_values": np.array([FLAG_OBSERVED, FLAG_FILLED, FLAG_NOT_FILLED], np.int8),
        "flag_meanings": FLAG_MEANINGS,
    }
    ds = ds.rio.set_spatial_dims(x_dim="lon", y_dim="lat")
    for name in ("sm", "flag"):  # as an attribute, so the per-variable encoding below cannot drop it
        ds[name].encoding.pop("grid_mapping", None)
        ds[name].attrs["grid_mapping"] = "crs"
    ds.attrs = {
        "Conventions": "CF-1.8, ACDD-1.3",
        "title": "Seamless global daily soil moisture (SGD-SM 2.0 method), sgdsm-dask",
        "summary": "Daily LPRM soil moisture with gaps filled by an LSTM-CNN with partial convolutions "
        "that also sees GPM IMERG precipitation (Zhang et al., ESSD 2022).",
        "institution": "sgdsm-dask users",
        "source": f"reconstruction store {os.path.basename(result.rstrip('/'))}",
        "history": f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%dT%H:%M:%SZ} sgdsm export (sgdsm-dask {__version__})",
        "references": "Zhang, Q. et al. (2022), Earth Syst. Sci. Data, 14, 1845-1863",
        "provenance": attrs.get("provenance", ""),
        "geospatial_lat_min": float(lat.min() - 0.125),
        "geospatial_lat_max": float(lat.max() + 0.125),
        "geospatial_lon_min": float(lon.min() - 0.125),
        "geospatial_lon_max": float(lon.max() + 0.125),
        "geospatial_lat_resolution": "0.25 degree",
        "geospatial_lon_resolution": "0.25 degree",
        "date_created": f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%dT%H:%M:%SZ}",
    }
    return ds


def _one_day(ds: xr.Dataset, i: int) -> xr.Dataset:
    day = ds.isel(time=slice(i, i + 1))
    day0 = pd.Timestamp(day["time"].values[0])
    day.attrs = {
        **ds.attrs,
        "time_coverage_start": f"{day0:%Y-%m-%d}T00:00:00Z",
        "time_coverage_end": f"{day0:%Y-%m-%d}T23:59:59Z",
    }
    return day


def _write_cog(ds: xr.Dataset, path: Path) -> None:
    sm = ds["sm"].isel(time=0).sortby("lat", ascending=False)  # north up
    sm = sm.rio.write_nodata(np.float32(np.nan), encoded=False)
    sm.rio.to_raster(path, driver="COG", compress="DEFLATE", predictor=3, blocksize=256)


def read_days(result: str, src: xr.Dataset, t0: int, t1: int) -> xr.Dataset:
    """``sm`` and ``flag`` of days ``t0`` to ``t1``, loaded; a chunk that cannot be decoded is one line naming the store."""
    block = src[["sm", "flag"]].isel(time=slice(t0, t1))
    for name in ("sm", "flag"):
        try:
            block[name].variable.load()
        except (RuntimeError, ValueError) as exc:  # a codec's or zarr's error: a chunk cut short or overwritten
            first, last = (pd.Timestamp(t) for t in src["time"].values[[t0, t1 - 1]])
            days = f"{first:%Y-%m-%d} to {last:%Y-%m-%d}"
            raise InputError(
                result, f"{name} of the days {days} cannot be read ({exc}): the store is damaged; {REBUILD}"
            ) from None
    return block


def check_values(result: str, block: xr.Dataset) -> None:
    """One line naming ``result`` and the first day whose values contradict their flags; nothing to write then.

    A pixel flagged observed or reconstructed holds a finite value in [0, 1],
    one flagged not reconstructed holds NaN. A chunk of ``sm`` that is
    missing reads as NaN, one of ``flag`` as 0 (observed): exported, they
    would give files of NaN under flags that promise values, and a manifest
    that verifies.
    """
    sm, flag = block["sm"].values, block["flag"].values
    valued = (flag == FLAG_OBSERVED) | (flag == FLAG_FILLED)
    without = valued & ~((sm >= 0) & (sm <= 1))  # NaN compares False
    stray = ~valued & ((flag != FLAG_NOT_FILLED) | ~np.isnan(sm))
    for i, when in enumerate(block["time"].values):
        n, m = int(without[i].sum()), int(stray[i].sum())
        if n or m:
            what = [f"{n} pixels flagged observed or reconstructed hold NaN or a value outside [0, 1]"] if n else []
            what += [f"{m} pixels hold a value or flag other than NaN where flagged not reconstructed"] if m else []
            raise InputError(
                result,
                f"{pd.Timestamp(when):%Y-%m-%d}: {'; '.join(what)}: a chunk of the store is missing or damaged, "
                f"so no file was written for that day; {REBUILD}",
            )


def export_days(
    result: str,
    out_dir: str,
    t0: int,
    t1: int,
    cog: bool = False,
    known: dict[str, dict[str, Any]] | None = None,
) -> list[dict[str, Any] | None]:
    """One task: write days ``t0`` to ``t1`` (one time chunk) atomically.

    Returns, per day, ``{file name: {"bytes", "sha256"}}`` of its NetCDF
    (and COG) for the manifest, hashed where they were written. A file kept
    from an earlier export is taken at the folder's previous manifest's word
    (``known``, :func:`check_folder`) while its size matches and it has not
    been modified since that manifest; otherwise it is read and hashed, and
    written again if the manifest recorded another hash. A day without any
    observed or reconstructed pixel (not staged) gets no file and None.
    """
    known = known or {}
    out_dir = local_or_url(str(out_dir))
    src = open_result(result)
    times = src["time"].values[t0:t1]
    finals = [Path(out_dir) / day_name(when) for when in times]
    tifs = [Path(out_dir) / day_name(when, ".tif") for when in times]
    wanted = [[final] + ([tif] if cog else []) for final, tif in zip(finals, tifs, strict=True)]
    kept = {}
    for f in (f for files in wanted for f in files if f.exists()):
        listed, st = known.get(f.name), f.stat()
        # a modification time can be set back (os.utime, cp -p, rsync -t); the inode change time cannot
        unchanged = max(st.st_mtime_ns, st.st_ctime_ns) <= listed["listed_ns"] if listed else False
        if listed and st.st_size == listed["bytes"] and unchanged:
            kept[f.name] = {"bytes": listed["bytes"], "sha256": listed["sha256"]}  # untouched since the manifest
            continue
        entry = file_entry(f)
        if listed and listed["sha256"] != entry["sha256"]:
            f.unlink()  # altered or damaged since the last export: written again below
        else:
            kept[f.name] = entry
    if all(f.name in kept for files in wanted for f in files):
        return [{f.name: kept[f.name] for f in files} for files in wanted]
    block = read_days(result, src, t0, t1)
    check_values(result, block)  # before any file of the chunk is written
    full = _dataset(result, block, src.attrs)
    entries: list[dict[str, Any] | None] = []
    for i, (final, tif) in enumerate(zip(finals, tifs, strict=True)):
        if not np.any(block["flag"].values[i] != FLAG_NOT_FILLED):
            entries.append(None)
            continue
        ds = _one_day(full, i)
        if final.name not in kept:
            atomic_write(final, lambda tmp, ds=ds: _write_netcdf(ds, tmp))
        if cog and tif.name not in kept:
            atomic_write(tif, lambda tmp, ds=ds: _write_cog(ds, tmp))
        entries.append({f.name: kept.get(f.name) or file_entry(f) for f in wanted[i]})
    return entries


def finish(result: str, out_dir: str, entries: list[dict[str, Any] | None]) -> dict[str, Any]:
    """Write the folder's manifest once every day's files are in place; the export's summary."""
    out_dir = folder(out_dir)
    days = [e for e in entries if e is not None]
    files = {name: entry for day in days for name, entry in day.items()}
    path = manifest.write(out_dir, files, manifest.export_provenance(result))
    return {"out": str(out_dir), "files": len(days), "cog_files": len(files) - len(days), "manifest": str(path)}


def _write_netcdf(ds: xr.Dataset, path: Path) -> None:
    """``ds.to_netcdf`` under a lock of this process only.

    Inside a Dask worker, ``to_netcdf`` adds a cluster-wide ``distributed.Lock``
    per file, taken through the scheduler for every HDF5 access (about 100
    round trips for one day). Each file here has exactly one writer, so all
    that is needed is to keep the HDF5 calls of this process's threads apart.
    """
    from xarray.backends import NetCDF4DataStore

    try:
        store = NetCDF4DataStore.open(str(path), mode="w", format="NETCDF4", lock=_HDF5_WRITE)
        try:
            ds.dump_to_store(store, encoding=ENCODING)
        finally:
            store.close()
    except (RuntimeError, OSError) as exc:
        if isinstance(exc, RuntimeError) and not str(exc).startswith("NetCDF:"):
            raise
        # netCDF reports a file it cannot create as EACCES (a full disk too), HDF5 a failed write without an
        # errno: the same write of a few blocks, by the operating system, says what it is
        cause = write_failure(path)
        if isinstance(exc, OSError):
            raise (cause or exc) from None
        if cause is not None:
            raise OSError(cause.errno, f"{exc}: {cause.strerror}") from None
        why = f"{exc}: the disk is full, a quota or file-size limit was reached, or the folder is not writable"
        raise OSError(why) from None


def check_folder(out_dir: str, provenance: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """What ``out_dir`` already holds for the run ``provenance`` (:func:`manifest.export_provenance`) describes.

    Changes nothing, so that it can run before anything else is checked or
    written. ``out_dir`` may be absent or empty, or the export folder of
    this reconstruction: its manifest or, for an export that was killed
    before its manifest, its marker (:func:`manifest.claim`) says so.
    Refused with one line, the folder untouched: a folder whose manifest or
    marker comes from another reconstruction (another result store,
    checkpoint, tiling, region or band; :func:`manifest.identity`), daily
    files that neither identifies, and files that are not an export's (the
    user's): they would otherwise be kept and listed under this run's
    provenance, or mixed with its files. Returns the previous manifest's
    entries (:func:`manifest.recorded`): a kept file is trusted without
    reading it while its size is the recorded one and it has not been
    modified or changed since the manifest was written, hashed otherwise and
    written again if its hash changed, so the same command repairs what
    ``sgdsm verify`` finds.
    """
    out_dir = folder(out_dir)
    now = manifest.identity(provenance)
    old = manifest.previous(out_dir)
    if old is not None:
        _same_reconstruction(out_dir, manifest.identity(old.get("provenance") or {}), now)
        return manifest.recorded(old, out_dir)
    names = _entries(out_dir)
    daily = [name for name in names if manifest.SAFE_NAME.fullmatch(name)]
    mark = manifest.owner(out_dir)
    if mark is not None:
        if daily:  # a marked folder without daily files holds nothing to mix: any export may take it
            _same_reconstruction(out_dir, mark, now)
        return {}
    if daily:
        raise InputError(
            out_dir,
            f"holds daily files of an export sgdsm cannot identify ({len(daily)}, such as {daily[0]}; "
            f"no {manifest.MANIFEST} and no {manifest.MARKER}); nothing in it was touched: "
            "choose another folder, or remove them to export here",
        )
    theirs = [name for name in names if not TEMPORARY.fullmatch(name)]
    if theirs:
        shown = ", ".join(repr(n) for n in theirs[:3]) + (f" and {len(theirs) - 3} more" if len(theirs) > 3 else "")
        raise InputError(
            out_dir,
            f"is not an export folder of sgdsm (it holds {shown}, which no sgdsm export wrote); "
            "nothing in it was touched: choose a new or empty folder",
        )
    return {}


def _entries(out_dir: str) -> list[str]:
    """The names in ``out_dir``; none where it is absent or not a folder (creating it says what that is)."""
    try:
        return sorted(os.listdir(out_dir))
    except (FileNotFoundError, NotADirectoryError):
        return []


def _same_reconstruction(out_dir: str, was: dict[str, Any], now: dict[str, Any]) -> None:
    """One line unless the reconstruction ``was`` (a folder's manifest or marker) is ``now``'s."""
    if was == now:
        return
    # the settings that differ; the store's id alone only when nothing else does (a rebuilt store)
    keys = [k for k in now if was.get(k) != now[k] and k != "store_id"] or ["store_id"]
    diff = ", ".join(f"{k} {was.get(k)!r} -> {now[k]!r}" for k in keys)
    raise InputError(
        out_dir,
        f"holds the daily files of another reconstruction ({diff}); choose another folder or remove them",
    )


def clear_folder(out_dir: str, provenance: dict[str, Any] | None = None) -> None:
    """Make ``out_dir`` ready to change: create it, mark it as ``provenance``'s, drop its manifest and temporaries.

    The marker (:func:`manifest.claim`) is written before the manifest is
    removed and before any daily file, so that the folder is known as this
    reconstruction's at every moment; run :func:`check_folder` first.
    Without ``provenance`` (callers from before the marker) no marker is
    written, and a killed export then leaves daily files no one can claim.
    """
    out_dir = folder(out_dir)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    if provenance is not None:
        manifest.claim(out_dir, provenance)
    manifest.remove(out_dir)
    for stale in Path(out_dir).iterdir():
        if TEMPORARY.fullmatch(stale.name):
            stale.unlink()


def prepare(out_dir: str, provenance: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """:func:`check_folder`, then :func:`clear_folder`: ``sgdsm export``'s first step."""
    known = check_folder(out_dir, provenance)
    clear_folder(out_dir, provenance)
    return known


def known_in(known: dict[str, dict[str, Any]], times: np.ndarray) -> dict[str, dict[str, Any]]:
    """The part of ``known`` about the files of ``times`` (what one export task needs to be sent)."""
    names = {day_name(t, suffix) for t in times for suffix in (".nc", ".tif")}
    return {name: entry for name, entry in known.items() if name in names}


def finished_chunks(result: str) -> np.ndarray:
    """Per time chunk of ``result``, whether every spatial block of it is reconstructed."""
    done = zarr_store.read_array(result, "done")
    return done.reshape(done.shape[0], -1).all(axis=1)


def export(
    result: str,
    out_dir: str,
    client: Any | None = None,
    progress: Callable[[int], None] | None = None,
    cog: bool = False,
    known: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Write every reconstructed day of ``result`` into ``out_dir`` (and a COG per day with ``cog``), then the manifest.

    Time chunks that are not reconstructed in every block yet are left out
    (``days_unfinished`` in the summary): a half-filled day is never written.
    ``known``: what :func:`prepare` returned, when the caller already
    prepared the folder.
    """
    out_dir = folder(out_dir)
    check_result(result)
    require_shared(result, client, "read")
    try:
        finished = finished_chunks(result)
    except (RuntimeError, ValueError) as exc:  # a codec's error: a chunk of the markers cut short or overwritten
        raise InputError(result, f"its done markers cannot be read ({exc}): the store is damaged; {REBUILD}") from None
    if known is None:
        known = prepare(out_dir, manifest.export_provenance(result))
    times = open_result(result)["time"].values
    tc = zarr_store.open_group(result, mode="r")["sm"].chunks[0]
    chunks = [(t0, min(times.size, t0 + tc)) for t0 in range(0, times.size, tc)]
    ready = [(t0, t1) for k, (t0, t1) in enumerate(chunks) if finished[k]]
    entries: list[dict[str, Any] | None] = []
    if client is None:
        for t0, t1 in ready:
            done = export_days(result, str(out_dir), t0, t1, cog, known_in(known, times[t0:t1]))
            entries += done
            if progress:
                progress(len(done))
    else:
        from distributed import as_completed

        futs = [
            client.submit(export_days, result, str(out_dir), t0, t1, cog, known_in(known, times[t0:t1]), pure=False)
            for t0, t1 in ready
        ]
        for f in as_completed(futs):
            done = f.result()
            entries += done
            if progress:
                progress(len(done))
    summary = finish(result, str(out_dir), entries)
    summary["days_unfinished"] = sum(t1 - t0 for k, (t0, t1) in enumerate(chunks) if not finished[k])
    return summary
