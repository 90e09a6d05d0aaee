"""Paths and fsspec URLs: one place that decides what is local."""

from __future__ import annotations


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
