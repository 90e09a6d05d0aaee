"""The manifest of an export folder: every file's SHA-256 and the run's provenance; ``sgdsm verify``.

``sgdsm export`` (and ``sgdsm reconstruct --export``) removes the folder's
manifest when it starts and writes a new one, atomically, when every file
is in place. So a folder with a manifest that verifies is complete and
unaltered; a folder without one holds an export that did not finish.

``manifest.json`` holds the provenance (the reconstruction store, its
checkpoint and SHA-256, the staged cube and the source file of every day,
the sgdsm version, the command) and ``files``: each file's name, size and
SHA-256. ``SHA256SUMS`` beside it holds the same hashes in the format of
``sha256sum -c``, for users without sgdsm; :func:`verify` checks both.

Before it writes its first file an export marks the folder as its own
(``.sgdsm-export.json``: :func:`claim`, holding :func:`identity` of the
reconstruction), and drops the mark once its manifest is written. A killed
export leaves daily files without a manifest; the marker says whose they
are, so the same reconstruction's export resumes there and another's is
refused instead of listing them as its own.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import sys
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import InputError
from ..io.files import Folder, file_entry
from ..reconstruction.provenance import export_identity

MANIFEST = "manifest.json"
SUMS = "SHA256SUMS"
MARKER = ".sgdsm-export.json"
FORMAT = "sgdsm-manifest-1"
MARKER_FORMAT = "sgdsm-export-folder-1"
#: The only names a manifest may list: the daily files of :func:`sgdsm_dask.export.folder.day_name`.
SAFE_NAME = re.compile(r"SGD-SM2_\d{8}\.(nc|tif)")
#: A line of ``SHA256SUMS`` as ``sha256sum`` writes it (text or binary mode).
SUMS_LINE = re.compile(r"([0-9a-fA-F]{64}) [ *](.+)")


def _folder(out_dir: str | os.PathLike) -> Folder:
    return Folder(str(out_dir))


def _read_json(out_dir: str | os.PathLike, name: str) -> Any:
    """The JSON document ``name`` of the folder; None where it is absent or not JSON."""
    try:
        return json.loads(_folder(out_dir).read_text(name))
    except (OSError, ValueError):
        return None


def previous(out_dir: str | os.PathLike) -> dict[str, Any] | None:
    """The folder's manifest as written, or None without a readable one (a new folder, a stopped export).

    A ``manifest.json`` of another format is not ours (another program's):
    None as well, so that the folder is judged by what else it holds.
    """
    doc = _read_json(out_dir, MANIFEST)
    ours = isinstance(doc, dict) and doc.get("format") == FORMAT and isinstance(doc.get("files"), dict)
    return doc if ours else None


def owner(out_dir: str | os.PathLike) -> dict[str, Any] | None:
    """The :func:`identity` of the reconstruction whose export marked ``out_dir`` (:func:`claim`); None if unmarked."""
    doc = _read_json(out_dir, MARKER)
    ours = isinstance(doc, dict) and doc.get("format") == MARKER_FORMAT and isinstance(doc.get("identity"), dict)
    return doc["identity"] if ours else None


def claim(out_dir: str | os.PathLike, provenance: dict[str, Any]) -> None:
    """Mark ``out_dir`` as the export folder of the reconstruction ``provenance`` describes (atomically).

    Written before the first daily file, so that every file in the folder
    can be told apart from another reconstruction's even when the export
    is killed before its manifest.
    """
    doc = {"format": MARKER_FORMAT, "identity": identity(provenance), "result_store": provenance.get("result_store")}
    text = json.dumps(doc, indent=1, sort_keys=True) + "\n"
    _folder(out_dir).write_text(MARKER, text)


#: What makes two exports' files interchangeable (the keys live with the reconstruction's provenance).
identity = export_identity


def remove(out_dir: str | os.PathLike) -> None:
    """Drop the manifest of a folder an export is about to change."""
    for name in (MANIFEST, SUMS):
        _folder(out_dir).remove(name)


def write(out_dir: str | os.PathLike, files: Mapping[str, Mapping[str, Any]], provenance: dict[str, Any]) -> Path | str:
    """Write ``manifest.json`` and ``SHA256SUMS`` (each to a temporary name, then renamed), then drop the marker.

    From then on the manifest says whose the folder is (:func:`claim`), and
    a finished folder holds nothing but its daily files and these two.
    Returns the manifest's path (its URL on an object store).
    """
    out = _folder(out_dir)
    bad = [name for name in files if not SAFE_NAME.fullmatch(name)]
    if bad:
        raise InputError(out.path, f"refusing to list {bad[0]!r} in the manifest: not a daily file name")
    doc = {
        "format": FORMAT,
        "created": f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%dT%H:%M:%SZ}",
        "sgdsm_version": __version__,
        "command": _command(),
        "provenance": provenance,
        "files": {name: dict(files[name]) for name in sorted(files)},
    }
    sums = "".join(f"{files[name]['sha256']}  {name}\n" for name in sorted(files))
    for name, text in ((SUMS, sums), (MANIFEST, json.dumps(doc, indent=1) + "\n")):  # the manifest last
        out.write_text(name, text)
    out.remove(MARKER)
    return out.file(MANIFEST)


def _command() -> str | None:
    """The ``sgdsm`` command line of this process, if it is one (a library call has none)."""
    if Path(sys.argv[0]).name in ("sgdsm", "cli.py", "__main__.py") and len(sys.argv) > 1:
        return "sgdsm " + " ".join(sys.argv[1:])
    return None


def export_provenance(result: str, reconstruction: dict[str, Any] | None = None) -> dict[str, Any]:
    """What an export folder came from: the result store's provenance (or ``reconstruction``) and its cube's sources."""
    from ..io import zarr_store

    if reconstruction is None:
        reconstruction = json.loads(zarr_store.read_attrs(result).get("provenance", "{}"))
    prov: dict[str, Any] = {"result_store": result, "reconstruction": reconstruction}
    staged = prov["reconstruction"].get("staged")
    if staged and zarr_store.exists(staged):
        s = zarr_store.read_attrs(staged)
        prov["staged"] = {
            key: (json.loads(s[key]) if key in ("sources", "skipped") else s[key])
            for key in ("stage_fingerprint", "region", "band", "source", "sources", "skipped")
            if key in s
        }
    return prov


def verify(out_dir: str | os.PathLike, progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Check every file of the manifest; returns ``{"files": n, "problems": [(name, problem), ...]}``.

    Problems: a file missing, of another size or hash; a daily file in the
    folder that the manifest does not list; a listed name that is not a
    daily file name (a manifest edited to reach outside the folder); a
    ``SHA256SUMS`` that is missing or disagrees with the manifest
    (:func:`_check_sums`), since users without sgdsm check the folder by it.
    Hashes compare regardless of case. ``out_dir`` may be an object
    store's URL (``s3://bucket/daily``): each object is read and hashed there.
    """
    out = _folder(out_dir)
    path = out.file(MANIFEST)
    if not out.is_dir():
        raise InputError(out.path, "no such folder")
    try:
        text = out.read_text(MANIFEST)
    except (FileNotFoundError, IsADirectoryError):
        raise InputError(out.path, f"no {MANIFEST}: the export did not finish (run sgdsm export again)") from None
    try:
        doc = json.loads(text)
        listed = doc["files"]
        if doc.get("format") != FORMAT or not isinstance(listed, dict):
            raise ValueError(f"format {doc.get('format')!r}")
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(str(path), f"not an sgdsm manifest ({exc})") from None
    problems: list[tuple[str, str]] = []
    safe = {}
    for name, want in listed.items():
        if not SAFE_NAME.fullmatch(str(name)):
            problems.append((str(name), "not a daily file name; not read (it could point outside the folder)"))
        elif not isinstance(want, dict):
            problems.append((str(name), "its manifest entry is not a record of size and SHA-256"))
        else:
            safe[name] = want

    def check(name: str) -> tuple[str, str] | None:
        want = safe[name]
        if out.stat(name) is None:
            return name, "missing"
        got = file_entry(out.file(name))
        if got["bytes"] != want.get("bytes"):
            return name, f"size {got['bytes']} bytes, the manifest says {want.get('bytes')}"
        if got["sha256"] != str(want.get("sha256")).lower():
            return (
                name,
                f"SHA-256 {got['sha256'][:12]}... differs from the manifest's {str(want.get('sha256'))[:12]}...",
            )
        return None

    with ThreadPoolExecutor(max_workers=min(8, (os.cpu_count() or 1) + 2)) as pool:  # hashlib releases the GIL
        for found in pool.map(check, sorted(safe)):
            if found:
                problems.append(found)
            if progress:
                progress(1)
    for name in out.names():
        if SAFE_NAME.fullmatch(name) and name not in listed:
            problems.append((name, "not in the manifest"))
    problems += [(SUMS, problem) for problem in _check_sums(out, safe)]  # the others are named above
    if not out.remote:  # the STAC catalogue, where the folder has one: its JSON only, the hashes are checked above
        from .stac import check as check_stac  # here: stac imports this module

        problems += check_stac(out.path, safe)
    prov = doc.get("provenance")
    return {
        "out": out.path,
        "files": len(listed),
        "problems": problems,
        "provenance": prov if isinstance(prov, dict) else {},
    }


def _check_sums(out: Folder, listed: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """What is wrong with ``SHA256SUMS`` against the manifest's ``listed`` files (checked against the files).

    ``sha256sum -c SHA256SUMS`` must check exactly the files the manifest
    lists, with the same hashes: a line that differs, a file left out or a
    file added would pass or fail there while ``sgdsm verify`` says otherwise.
    ``listed`` holds the manifest's daily file records only; a line naming
    anything else is reported without being looked at.
    """
    try:
        text = out.read_text(SUMS)
    except FileNotFoundError:
        return ["missing: sha256sum -c cannot check this folder; run the same sgdsm export again to write it"]
    except (OSError, UnicodeDecodeError) as exc:
        return [f"cannot be read ({exc}); run the same sgdsm export again to write it"]
    problems, sums = [], {}
    for number, line in enumerate(text.splitlines(), start=1):
        match = SUMS_LINE.fullmatch(line)
        if match is None:
            problems.append(f"line {number} is not a 'SHA-256  file name' line: {line[:60]!r}")
        elif not SAFE_NAME.fullmatch(match[2]):
            problems.append(f"line {number} names {match[2][:60]!r}, not a daily file name")
        elif match[2] in sums:
            problems.append(f"lists {match[2]} twice")
        else:
            sums[match[2]] = match[1].lower()
    for name in sorted(set(listed) - set(sums)):
        problems.append(f"does not list {name}, which {MANIFEST} lists")
    for name in sorted(set(sums) - set(listed)):
        problems.append(f"lists {name}, which {MANIFEST} does not")
    for name in sorted(set(sums) & set(listed)):
        want = str(listed[name].get("sha256")).lower()
        if sums[name] != want:
            problems.append(f"{name}: SHA-256 {sums[name][:12]}... differs from {MANIFEST}'s {want[:12]}...")
    return problems
