"""Whole files: their SHA-256, writing them so that no reader ever sees half of one, and folders of them.

A folder (:class:`Folder`) is a local directory or a prefix of an object
store named by an fsspec URL (``s3://bucket/daily``); its files are written
whole either way (:func:`atomic_write`), and read, listed and hashed the same way.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import stat
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import WriteError
from ..paths import filesystem, is_url, join, local_or_url

#: S3 (and most object stores) gives an object's modification time to the second.
REMOTE_CLOCK_NS = 1_000_000_000
#: The latest moment an object of a store without readable times may have changed: later than any manifest.
UNKNOWN_NS = 2**63 - 1


def file_entry(path: str | os.PathLike) -> dict[str, Any]:
    """Size in bytes and SHA-256 of one file (a path or an fsspec URL), read once in 1 MiB blocks."""
    h = hashlib.sha256()
    size = 0
    with _open_read(str(path)) as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
            size += len(block)
    return {"bytes": size, "sha256": h.hexdigest()}


def _open_read(path: str) -> Any:
    if not is_url(path):
        return open(local_or_url(path), "rb")
    fs, key = filesystem(path)
    return fs.open(key, "rb", block_size=1 << 22)


def sha256(path: str | os.PathLike) -> str:
    return file_entry(path)["sha256"]


def atomic_write(final: str | os.PathLike, write: Callable[[Path], None]) -> dict[str, Any]:
    """``write`` the file ``final`` so that it appears whole or not at all; its :func:`file_entry`.

    A local file is written to a hidden temporary name beside ``final``,
    then renamed into place. An object (``final`` an fsspec URL) is written
    the object store's way: ``write`` makes a local file in a temporary
    folder, it is uploaded under the hidden temporary key beside ``final``,
    then copied to ``final`` by the store (one complete object appears at
    once) and the temporary key removed. On failure the temporary file or
    key is removed and ``final`` is left as it was; a failed write (disk
    full, quota, permissions, file-size limit, a store that refuses) is a
    :class:`~sgdsm_dask.errors.WriteError` naming ``final``. The entry is
    hashed from the local file, before it is renamed or uploaded.
    """
    if is_url(str(final)):
        return _put_whole(str(final), write)
    final = Path(final)
    tmp = final.with_name(f".{final.name}.part")
    try:
        write(tmp)
        entry = file_entry(tmp)
        os.replace(tmp, final)
    except Exception as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise WriteError.from_os(str(final), exc) from None
        raise
    return entry


def _put_whole(final: str, write: Callable[[Path], None]) -> dict[str, Any]:
    """:func:`atomic_write` of an object: a local file, uploaded under a temporary key, copied to ``final``."""
    fs, key = filesystem(final)
    parent, name = key.rsplit("/", 1)
    part = f"{parent}/.{name}.part"
    here = Path(tempfile.mkdtemp(prefix="sgdsm-upload-"))
    try:
        local = here / name
        write(local)
        entry = file_entry(local)
        fs.put_file(str(local), part)
        fs.copy(part, key)
        fs.rm_file(part)
    except Exception as exc:
        _forget(fs, part)
        if isinstance(exc, OSError):
            raise WriteError.from_os(final, exc) from None
        raise
    finally:
        shutil.rmtree(here, ignore_errors=True)
    return entry


def _forget(fs: Any, key: str) -> None:
    """Remove the temporary ``key`` of a failed upload, if the store lets us (a later export removes it otherwise)."""
    try:
        fs.rm_file(key)
    except OSError:
        pass


@dataclass(frozen=True)
class Folder:
    """A folder of whole files: a local directory (a plain path) or an object store's prefix (an fsspec URL)."""

    path: str

    @property
    def remote(self) -> bool:
        return is_url(self.path)

    def file(self, name: str) -> Path | str:
        """The file ``name`` in the folder: a :class:`~pathlib.Path`, or a URL."""
        return join(self.path, name) if self.remote else Path(local_or_url(self.path)) / name

    def names(self) -> list[str]:
        """The names directly in the folder, sorted; none where it is absent or not a folder."""
        if not self.remote:
            try:
                return sorted(os.listdir(local_or_url(self.path)))
            except (FileNotFoundError, NotADirectoryError):
                return []
        fs, root = filesystem(self.path)
        try:
            found = fs.ls(root, detail=False)
        except FileNotFoundError:
            return []
        return sorted(p.rstrip("/").rsplit("/", 1)[-1] for p in found if p.rstrip("/") != root.rstrip("/"))

    def is_dir(self) -> bool:
        """Whether the folder exists (on an object store: holds any object)."""
        if not self.remote:
            return os.path.isdir(local_or_url(self.path))
        fs, root = filesystem(self.path)
        return bool(fs.isdir(root))

    def make(self) -> None:
        """Create the folder (and its parents); an object store's prefix needs none."""
        if not self.remote:
            Path(local_or_url(self.path)).mkdir(parents=True, exist_ok=True)

    def read_text(self, name: str) -> str:
        """The text of the file ``name``; an OSError (FileNotFoundError among them) where it cannot be read."""
        if not self.remote:
            return Path(self.file(name)).read_text()
        fs, key = filesystem(str(self.file(name)))
        return fs.cat_file(key).decode()

    def write(self, name: str, write: Callable[[Path], None]) -> dict[str, Any]:
        """:func:`atomic_write` of the file ``name``; its :func:`file_entry`."""
        return atomic_write(self.file(name), write)

    def write_text(self, name: str, text: str) -> dict[str, Any]:
        return self.write(name, lambda tmp: tmp.write_text(text))

    def remove(self, name: str) -> None:
        """Remove the file ``name`` if it is there."""
        if not self.remote:
            Path(self.file(name)).unlink(missing_ok=True)
            return
        fs, key = filesystem(str(self.file(name)))
        try:
            fs.rm_file(key)
        except FileNotFoundError:
            pass

    def stat(self, name: str) -> tuple[int, int, int] | None:
        """Size, and the earliest and latest moment (ns) the file ``name`` can last have changed; None if absent.

        A local file changed at its modification time, or at its inode
        change time if later (a modification time can be set back: os.utime,
        cp -p, rsync -t; the change time cannot). An object changed within
        the second its store records (S3 keeps whole seconds), which no
        user can set.
        """
        if not self.remote:
            try:
                st = os.stat(self.file(name))
            except (FileNotFoundError, NotADirectoryError):
                return None
            if not stat.S_ISREG(st.st_mode):
                return None
            return st.st_size, st.st_mtime_ns, max(st.st_mtime_ns, st.st_ctime_ns)
        fs, key = filesystem(str(self.file(name)))
        try:
            info = fs.info(key)
        except FileNotFoundError:
            return None
        if info.get("type") != "file":
            return None
        when = info.get("LastModified") or info.get("mtime") or info.get("created")
        try:
            ns = int(when.timestamp() * 1e9) if hasattr(when, "timestamp") else int(float(when) * 1e9)
        except (TypeError, ValueError):  # a store that gives no time sgdsm can read: never trusted unread
            return int(info["size"]), 0, UNKNOWN_NS
        return int(info["size"]), ns, ns + REMOTE_CLOCK_NS - 1


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
