"""Open NetCDF4/HDF5 files, local or by fsspec URL, and read raw variables.

Every failure to open or decode becomes an :class:`~sgdsm_dask.errors.InputError`
naming the file, so a truncated download is reported as such, not as an
HDF5 traceback.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InputError
from ..paths import filesystem, is_url, local_or_url


@contextmanager
def open_nc(path: str) -> Iterator[Any]:
    """A netCDF4-like dataset with automatic masking and scaling switched off.

    A file named by an fsspec URL (``s3://...``) is read whole, in one
    request, and opened from memory by the same netCDF4 library as a local
    file, so both give the same values bit for bit.
    """
    path = str(path)
    import netCDF4

    local = local_or_url(path)
    if is_url(local):
        data = _fetch(path)
        size = len(data)
        opening = lambda: netCDF4.Dataset(local.rsplit("/", 1)[-1] or "file", "r", memory=data)  # noqa: E731
    else:
        if not os.path.exists(local):
            raise InputError(path, "file not found")
        size = os.path.getsize(local)
        opening = lambda: netCDF4.Dataset(local, "r")  # noqa: E731
    try:
        ds = opening()
    except (OSError, RuntimeError) as exc:
        raise InputError(
            path, f"not a readable NetCDF4/HDF5 file ({size} bytes), truncated or corrupt ({exc})"
        ) from None
    try:
        ds.set_auto_maskandscale(False)
        yield ds
    finally:
        ds.close()


def _fetch(path: str) -> bytes:
    """The bytes of the file at the fsspec URL ``path``; one line naming it where it cannot be read."""
    fs, key = filesystem(path)
    try:
        return bytes(fs.cat_file(key))
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except (OSError, ValueError) as exc:
        raise InputError(path, f"cannot be read ({exc.__class__.__name__}: {exc})") from None


@dataclass(frozen=True)
class RawVar:
    """A variable as stored: values, dimension names and attributes."""

    values: np.ndarray
    dims: tuple[str, ...]
    attrs: dict[str, Any]


def find_var(ds: Any, names: tuple[str, ...], groups: tuple[str, ...] = ("",)) -> tuple[Any, str, Any] | None:
    """First of ``names`` present in the root or one of ``groups``: (variable, name, group)."""
    for g in groups:
        node = ds if not g else ds.groups.get(g)
        if node is None:
            continue
        for n in names:
            if n in node.variables:
                return node.variables[n], n, node
    return None


def read_raw(path: str, var: Any) -> RawVar:
    """Read a whole variable without masking or scaling."""
    try:
        values = np.asarray(var[...])
    except (OSError, RuntimeError, IndexError, ValueError) as exc:
        raise InputError(path, f"variable {var.name!r} cannot be read, file truncated or corrupt ({exc})") from None
    attrs = {k: var.getncattr(k) for k in var.ncattrs()}
    return RawVar(values=values, dims=tuple(var.dimensions), attrs=attrs)


def variable_names(ds: Any) -> list[str]:
    names = list(ds.variables)
    for g, node in getattr(ds, "groups", {}).items():
        names += [f"{g}/{n}" for n in node.variables]
    return names
