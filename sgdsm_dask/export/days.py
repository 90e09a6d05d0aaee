"""The export's task: the days of one time chunk of a result store, checked, then written as files.

A time chunk is read once (not once per day), its values checked against
their flags (:func:`check_values`: a result store with a chunk missing or
damaged is named, not exported as NaN), and each day written whole
(:func:`~sgdsm_dask.io.files.atomic_write`: to a temporary name and renamed
in a local folder; written locally, uploaded under a temporary key and
copied to its name in an object store), so a stopped export never leaves
a broken file under a final name. Files already in the
folder are kept where :func:`~.folder.reuse` trusts them. Days that were
not reconstructed (missing in the archive) get no file, like the 7115
files of the published record.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ..errors import InputError
from ..flags import Flag, reconstructed
from ..io import zarr_store
from ..io.files import Folder
from ..paths import is_url, local_or_url
from ..reconstruction.store import model_group, read_done
from .cog import write_cog
from .folder import day_name, reuse
from .gaps import GAP_MAPS
from .netcdf import dataset, one_day, write_netcdf

#: Advice for a result store whose values cannot be trusted: its chunks are marked done, so only a rebuild redoes them.
REBUILD = (
    "rebuild it with sgdsm reconstruct --overwrite (a plain rerun skips chunks marked done), "
    "then export it into a new folder"
)


def open_result(result: str) -> xr.Dataset:
    """The result store's product (its top level) as NumPy-backed lazy arrays (no Dask graph inside a task)."""
    return xr.open_zarr(local_or_url(result), consolidated=False, chunks=None)


def check_result(result: str) -> None:
    """One line unless ``result`` is a reconstruction store of ``sgdsm reconstruct``; reads metadata only.

    A store of an older sgdsm-dask, with the model's state beside the
    product, is named as such (:func:`~sgdsm_dask.reconstruction.store.model_group`).
    """
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
    missing = [name for name in ("sm", "flag", "time") if name not in group]
    if missing or not (attrs.get("sgdsm_store") == "result" or "reconstruct_fingerprint" in attrs):
        what = f"no {missing[0]!r} array" if missing else "no reconstruction provenance"
        raise InputError(
            result,
            f"is a Zarr store that sgdsm reconstruct did not write ({what}): give the --out store of sgdsm reconstruct",
        )
    if "done" not in model_group(result, group):
        raise InputError(result, "has no model/done markers: not a whole reconstruction store of sgdsm reconstruct")


def finished_chunks(result: str) -> np.ndarray:
    """Per time chunk of ``result``, whether every spatial block of it is reconstructed; one line if unreadable."""
    try:
        done = read_done(result)
    except (RuntimeError, ValueError) as exc:  # a codec's error: a chunk of the markers cut short or overwritten
        raise InputError(result, f"its done markers cannot be read ({exc}): the store is damaged; {REBUILD}") from None
    return done.reshape(done.shape[0], -1).all(axis=1)


def read_days(result: str, src: xr.Dataset, t0: int, t1: int) -> xr.Dataset:
    """``sm`` and ``flag`` of days ``t0`` to ``t1``, loaded; a chunk that cannot be decoded is one line naming the store."""
    names = ["sm", "flag", *(name for name in GAP_MAPS if name in src)]
    block = src[names].isel(time=slice(t0, t1))
    for name in names:
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
    valued = (flag == Flag.OBSERVED) | reconstructed(flag)
    without = valued & ~((sm >= 0) & (sm <= 1))  # NaN compares False
    stray = ~valued & ((flag != Flag.NOT_FILLED) | ~np.isnan(sm))
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
    product: dict[str, str] | None = None,
) -> list[dict[str, Any] | None]:
    """One task: write days ``t0`` to ``t1`` (one time chunk) atomically.

    Returns, per day, ``{file name: {"bytes", "sha256"}}`` of its NetCDF
    (and COG) for the manifest, hashed where they were written, with
    ``"provisional": True`` where the day holds provisional values (written
    again by the next export, :func:`~.folder.reuse`). A file kept
    from an earlier export is taken at the folder's previous manifest's word
    (``known``: :func:`~.folder.check`) where :func:`~.folder.reuse` trusts
    it, written again otherwise. A day without any observed or
    reconstructed pixel (not staged) gets no file and None. ``product``:
    the files' global attributes of the run (:func:`~.netcdf.product_attrs`).
    """
    where = Folder(local_or_url(str(out_dir)))
    src = open_result(result)
    times = src["time"].values[t0:t1]
    finals = [day_name(when) for when in times]
    tifs = [day_name(when, ".tif") for when in times]
    wanted = [[final] + ([tif] if cog else []) for final, tif in zip(finals, tifs, strict=True)]
    kept = reuse(where, [name for names in wanted for name in names], known or {})
    if all(name in kept for names in wanted for name in names):
        return [{name: kept[name] for name in names} for names in wanted]
    block = read_days(result, src, t0, t1)
    check_values(result, block)  # before any file of the chunk is written
    full = dataset(result, block, src.attrs, product)
    entries: list[dict[str, Any] | None] = []
    for i, (final, tif) in enumerate(zip(finals, tifs, strict=True)):
        if not np.any(block["flag"].values[i] != Flag.NOT_FILLED):
            entries.append(None)
            continue
        ds = one_day(full, i)
        if final not in kept:
            kept[final] = where.write(final, lambda tmp, ds=ds: write_netcdf(ds, tmp))
        if cog and tif not in kept:
            kept[tif] = where.write(tif, lambda tmp, ds=ds: write_cog(ds, tmp))
        late = {"provisional": True} if np.any(block["flag"].values[i] == Flag.PROVISIONAL) else {}
        entries.append({name: {**kept[name], **late} for name in wanted[i]})
    return entries
