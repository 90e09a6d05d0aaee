"""An export folder: what it already holds, whether it is this reconstruction's, and which files to trust.

The one place of that trust, for a local folder and an object store's
prefix alike (:class:`~sgdsm_dask.io.files.Folder`). A folder is written only if it is absent,
empty, or the export folder of this reconstruction: its manifest or, for
an export killed before its manifest, its marker (:func:`manifest.claim`)
says so (:func:`check`). Anything else is one line naming it, and nothing
in it is touched. A file kept from an earlier export is taken at the
manifest's word while it is unchanged since (:func:`reuse`), hashed again
otherwise, and written again if its hash changed, so the same command
repairs what ``sgdsm verify`` finds.
"""

from __future__ import annotations

import os
import re
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError
from ..io.files import Folder, file_entry
from ..paths import absolute
from . import manifest

PREFIX = "SGD-SM2_"
#: The STAC catalogue of a folder (:mod:`.stac`): its collection file and the folder of its Items.
COLLECTION, ITEMS = "collection.json", "items"
_OURS = (
    rf"{PREFIX}\d{{8}}\.(nc|tif)",
    *map(re.escape, (manifest.MANIFEST, manifest.SUMS, manifest.MARKER, COLLECTION)),
)
#: The temporary files of an export's atomic writes: a stopped run's, removed by :func:`clear`.
TEMPORARY = re.compile(r"\.(" + "|".join(_OURS) + r")\.part")

#: Name -> ``{"sha256", "bytes", "listed_ns", "provisional"}`` of the daily files an earlier export's manifest lists.
Known = dict[str, dict[str, Any]]


def day_name(day: np.datetime64, suffix: str = ".nc") -> str:
    """File name of a day; only digits come from data, so no name can leave the output folder."""
    t = pd.Timestamp(day)
    return f"{PREFIX}{t.year:04d}{t.month:02d}{t.day:02d}{suffix}"  # %Y does not pad years before 1000


def location(out_dir: str | os.PathLike) -> str:
    """``out_dir`` as the client means it: the plain absolute path of a local folder, or an object store's URL.

    ``file://`` URLs are plain paths (else a folder named ``file:`` would
    appear in the working directory), and a relative path is made absolute
    here, where the command was typed, since Dask workers resolve it against
    their own working directory. An fsspec URL (``s3://bucket/daily``) is
    kept as given: each file is written locally, then uploaded whole
    (:func:`~sgdsm_dask.io.files.atomic_write`).
    """
    return absolute(str(out_dir))


def check(out_dir: str, provenance: dict[str, Any]) -> Known:
    """What ``out_dir`` already holds for the export ``provenance`` (:func:`manifest.export_provenance`) describes.

    Changes nothing, so that it can run before anything else is checked or
    written. Refused with one line, the folder untouched: a folder whose
    manifest or marker comes from another reconstruction (another result
    store, checkpoint, tiling, region or band; :func:`manifest.identity`),
    daily files that neither identifies, and files that are not an
    export's (the user's): they would otherwise be kept and listed under
    this run's provenance, or mixed with its files. Returns the previous
    manifest's entries (:func:`recorded`), for :func:`reuse`.
    """
    out_dir = location(out_dir)
    now = manifest.identity(provenance)
    old = manifest.previous(out_dir)
    if old is not None:
        _same_reconstruction(out_dir, manifest.identity(old.get("provenance") or {}), now)
        return recorded(old, out_dir)
    names = Folder(out_dir).names()
    daily = [name for name in names if manifest.SAFE_NAME.fullmatch(name)]
    mark = manifest.owner(out_dir)
    if mark is not None:
        if daily:  # a marked folder without daily files holds nothing to mix: any export may take it
            _same_reconstruction(out_dir, mark, now)
        return {}
    _unowned(out_dir, names)
    return {}


def precheck(out_dir: str) -> None:
    """What :func:`check` refuses whatever the reconstruction (a folder no export of sgdsm marked); changes nothing.

    For ``sgdsm run``, before it stages: the reconstruction whose identity
    :func:`check` compares does not exist yet.
    """
    out_dir = location(out_dir)
    if manifest.previous(out_dir) is None and manifest.owner(out_dir) is None:
        _unowned(out_dir, Folder(out_dir).names())


def _unowned(out_dir: str, names: list[str]) -> None:
    """One line unless a folder with neither manifest nor marker holds nothing but temporaries."""
    daily = [name for name in names if manifest.SAFE_NAME.fullmatch(name)]
    if daily:
        _unidentified(out_dir, daily)
    # unmarked: even a STAC catalogue is not an export's (one comes with a manifest), but the user's own
    theirs = [n for n in names if not TEMPORARY.fullmatch(n)]
    if theirs:
        _not_an_export(out_dir, theirs)


def _unidentified(out_dir: str, daily: list[str]) -> None:
    raise InputError(
        out_dir,
        f"holds daily files of an export sgdsm cannot identify ({len(daily)}, such as {daily[0]}; "
        f"no {manifest.MANIFEST} and no {manifest.MARKER}); nothing in it was touched: "
        "choose another folder, or remove them to export here",
    )


def _not_an_export(out_dir: str, theirs: list[str]) -> None:
    shown = ", ".join(repr(n) for n in theirs[:3]) + (f" and {len(theirs) - 3} more" if len(theirs) > 3 else "")
    raise InputError(
        out_dir,
        f"is not an export folder of sgdsm (it holds {shown}, which no sgdsm export wrote); "
        "nothing in it was touched: choose a new or empty folder",
    )


def earlier_export(out_dir: str) -> list[str]:
    """The daily files (and checksums) of the export of another reconstruction in ``out_dir``, to replace it.

    For a folder :func:`check` refused with :class:`AnotherReconstruction`
    (so its manifest or marker names it an export of sgdsm), where the
    request says to replace it (``sgdsm export --overwrite``, a run file's
    ``export.overwrite``, the demo, which rebuilds its reconstruction each
    run). A folder that also holds anything no export writes is refused
    all the same, untouched. Changes nothing itself.
    """
    out_dir = location(out_dir)
    names = Folder(out_dir).names()
    ours = re.compile("|".join(_OURS))
    theirs = [n for n in names if not (ours.fullmatch(n) or TEMPORARY.fullmatch(n) or n == ITEMS)]
    if theirs:
        _not_an_export(out_dir, theirs)
    return [n for n in names if manifest.SAFE_NAME.fullmatch(n) or n == manifest.SUMS]


def apart(out_dir: str, stores: dict[str, str]) -> None:
    """One line if the export folder ``out_dir`` is one of ``stores`` (option -> store), or inside or around one.

    The daily files would land among the store's arrays (or the store in
    the folder), and each would then hold what the other does not expect.
    """
    from ..errors import ConfigError

    def parts(path: str) -> tuple[str, ...]:
        return tuple(p for p in absolute(str(path)).rstrip("/").split("/") if p)

    mine = parts(out_dir)
    for option, store in stores.items():
        theirs = parts(store)
        n = min(len(mine), len(theirs))
        if mine[:n] == theirs[:n]:
            where = "is" if len(mine) == len(theirs) else "lies inside" if len(mine) > len(theirs) else "holds"
            raise ConfigError(
                f"--export {out_dir} {where} the store of {option} {store}: give the daily files a folder of their "
                "own (nothing was written)"
            )


class AnotherReconstruction(InputError):
    """The folder holds the export of another reconstruction (its manifest or marker says so): :func:`check`'s refusal
    that an export asked to replace it (``sgdsm export --overwrite``) turns into :func:`earlier_export`."""


def _same_reconstruction(out_dir: str, was: dict[str, Any], now: dict[str, Any]) -> None:
    """One line unless the reconstruction ``was`` (a folder's manifest or marker) is ``now``'s."""
    if was == now:
        return
    # the settings that differ; the store's id alone only when nothing else does (a rebuilt store)
    keys = [k for k in now if was.get(k) != now[k] and k != "store_id"] or ["store_id"]
    diff = ", ".join(f"{k} {was.get(k)!r} -> {now[k]!r}" for k in keys)
    raise AnotherReconstruction(
        out_dir,
        f"holds the daily files of another reconstruction ({diff}); choose another folder or remove them",
    )


def recorded(doc: dict[str, Any] | None, out_dir: str | os.PathLike | None = None) -> Known:
    """Name -> ``{"sha256", "bytes", "listed_ns", "provisional"}`` of a manifest's daily files (none for None).

    ``listed_ns`` is the earliest moment ``out_dir``'s manifest file can have
    been written (0 without ``out_dir``): a file that cannot have changed
    after it is the file listed (:meth:`~sgdsm_dask.io.files.Folder.stat`:
    a local file's modification and inode change times, an object's time).
    """
    if doc is None:
        return {}
    try:
        st = Folder(str(out_dir)).stat(manifest.MANIFEST) if out_dir is not None else None
    except OSError:
        st = None
    listed_ns = st[1] if st is not None else 0
    return {
        str(k): {
            "sha256": str(v["sha256"]).lower(),  # sha256sum and hashlib write lower case; others may not
            "bytes": v["bytes"] if isinstance(v.get("bytes"), int) else -1,
            "listed_ns": listed_ns,
            "provisional": v.get("provisional") is True,  # written again by the next export (reuse)
        }
        for k, v in doc["files"].items()
        if manifest.SAFE_NAME.fullmatch(str(k)) and isinstance(v, dict) and "sha256" in v
    }


def reuse(where: Folder, names: list[str], known: Known) -> dict[str, dict[str, Any]]:
    """``{name: {"bytes", "sha256"}}`` of those files ``names`` of ``where`` that exist and may be kept.

    A file is taken at the previous manifest's word (``known``) while its
    size matches and it cannot have changed since that manifest
    (:meth:`~sgdsm_dask.io.files.Folder.stat`); otherwise it is read and
    hashed, and removed (to be written again) if the manifest recorded
    another hash. A file the manifest lists as provisional (a day whose
    look-ahead ran past the record's end) is removed and written again: an
    append may have filled its day anew since.
    """
    kept = {}
    for name in names:
        st = where.stat(name)
        if st is None:
            continue
        listed = known.get(name)
        if listed and listed.get("provisional"):
            where.remove(name)
            continue
        if listed and st[0] == listed["bytes"] and st[2] <= listed["listed_ns"]:
            kept[name] = {"bytes": listed["bytes"], "sha256": listed["sha256"]}  # untouched since the manifest
            continue
        entry = file_entry(where.file(name))
        if listed and listed["sha256"] != entry["sha256"]:
            where.remove(name)  # altered or damaged since the last export: written again
        else:
            kept[name] = entry
    return kept


def known_in(known: Known, times: np.ndarray) -> Known:
    """The part of ``known`` about the files of ``times`` (what one export task needs to be sent)."""
    names = {day_name(t, suffix) for t in times for suffix in (".nc", ".tif")}
    return {name: entry for name, entry in known.items() if name in names}


def clear(out_dir: str, provenance: dict[str, Any] | None = None) -> None:
    """Make ``out_dir`` ready to change: create it, mark it as ``provenance``'s, drop its manifest and temporaries.

    The marker (:func:`manifest.claim`) is written before the manifest is
    removed and before any daily file, so that the folder is known as this
    reconstruction's at every moment; run :func:`check` first. Without
    ``provenance`` (callers from before the marker) no marker is written,
    and a killed export then leaves daily files no one can claim.
    """
    where = Folder(location(out_dir))
    where.make()
    if provenance is not None:
        manifest.claim(where.path, provenance)
    manifest.remove(where.path)
    for stale in where.names():
        if TEMPORARY.fullmatch(stale):
            where.remove(stale)
