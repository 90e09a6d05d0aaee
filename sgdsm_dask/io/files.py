"""Whole files: their SHA-256, and writing them so that no reader ever sees half of one."""

from __future__ import annotations

import errno
import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import WriteError


def file_entry(path: str | os.PathLike) -> dict[str, Any]:
    """Size in bytes and SHA-256 of one file, read once in 1 MiB blocks."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
            size += len(block)
    return {"bytes": size, "sha256": h.hexdigest()}


def sha256(path: str | os.PathLike) -> str:
    return file_entry(path)["sha256"]


def atomic_write(final: str | os.PathLike, write: Callable[[Path], None]) -> None:
    """``write`` to a hidden temporary name beside ``final``, then rename it into place.

    On failure the temporary file is removed and ``final`` is left as it
    was; a failed write (disk full, quota, permissions, file-size limit) is
    a :class:`~sgdsm_dask.errors.WriteError` naming ``final``.
    """
    final = Path(final)
    tmp = final.with_name(f".{final.name}.part")
    try:
        write(tmp)
        os.replace(tmp, final)
    except Exception as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise WriteError.from_os(str(final), exc) from None
        raise


#: Bytes :func:`write_failure` tries to add: more than HDF5 writes at once, little enough to cost nothing.
PROBE_BYTES = 1 << 16


def write_failure(path: str | os.PathLike) -> OSError | None:
    """Why writing ``path`` fails, found by appending to it: the operating system's error, or None if it does not.

    Libraries that write a whole file do not always pass the errno on:
    HDF5 says only "HDF error", and netCDF reports any failure to create its
    file as ``EACCES`` (Permission denied), a full disk included. Appending
    (never truncating, so what filled the disk is still there) and syncing
    a few blocks fails the same way their write did, with the real cause
    (``ENOSPC``, ``EDQUOT``, ``EFBIG``, ``EACCES``). The caller removes ``path``.
    """
    try:
        with open(path, "ab") as f:
            f.write(bytes(PROBE_BYTES))
            f.flush()
            os.fsync(f.fileno())
    except OSError as exc:
        return exc if exc.errno is not None else OSError(errno.EIO, str(exc))
    return None
