"""Paths and fsspec URLs: one place that decides what is local."""

from __future__ import annotations

from typing import Any


def local_or_url(path: str) -> str:
    """``file://`` URLs as plain paths; other URLs (``s3://``, ``memory://`` ...) as given.

    fsspec's local store does not create folders on write, and netCDF4 and
    ``os.path`` want plain paths, so local files are always handled as such.
    """
    path = str(path)
    return path[len("file://") :] if path.startswith("file://") else path


def absolute(path: str) -> str:
    """``path`` as the client means it, for every process: a local path made absolute, a URL as given.

    Dask workers resolve a relative path against their own working
    directory, which need not be the caller's: every output (and input)
    path is made absolute where the command was typed, before a task sees it.
    ``file://`` URLs become plain absolute paths.
    """
    import os

    local = local_or_url(path)
    return local if "://" in local else os.path.abspath(os.path.expanduser(local))


def is_url(path: str) -> bool:
    """Whether ``path`` names a remote (non-local) fsspec location."""
    return "://" in local_or_url(path)


def shared_between_processes(store: str) -> bool:
    """Whether other processes (Dask workers) see the same ``store``; ``memory://`` lives in one process."""
    return not local_or_url(store).startswith("memory://")


def require_shared(store: str, client: object | None, use: str = "write") -> None:
    """An InputError when Dask worker processes (``client``) would ``use`` ``store`` but cannot see it."""
    from .errors import InputError

    if client is not None and not shared_between_processes(store):
        raise InputError(store, f"a memory:// store lives in this process only; Dask worker processes cannot {use} it")


def exists(path: str) -> bool:
    """Whether anything is at ``path``: a file, folder or link on a disk, an object or a prefix on a store."""
    import os

    local = local_or_url(path)
    if not is_url(local):
        return os.path.lexists(local)
    fs, key = filesystem(local)
    return bool(fs.exists(key))


def filesystem(path: str) -> tuple[Any, str]:
    """The fsspec filesystem of ``path`` and the path within it; credentials come from the environment.

    Listings are never cached: Dask workers (other processes) add files
    that a cached listing of this process would not show. An object
    store's credentials and endpoint are the ones its library reads from
    the environment (for S3: ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
    ``AWS_ENDPOINT_URL``, ``AWS_PROFILE``); no sgdsm option takes them, so none
    is ever printed or written (docs/cloud.md).
    """
    from fsspec.core import url_to_fs

    return url_to_fs(local_or_url(path), use_listings_cache=False)


def join(folder: str, name: str) -> str:
    """``name`` inside ``folder``: a path, or a URL joined with ``/``."""
    import os

    local = local_or_url(folder)
    return f"{local.rstrip('/')}/{name}" if is_url(local) else os.path.join(local, name)
