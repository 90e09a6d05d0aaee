"""Zarr (format 3) stores built as a lazy template, then filled by region writes.

The template holds every variable's metadata and the coordinates; data
chunks are written later by whichever task owns them (xarray-beam's
``make_template`` / ``write_chunk_to_zarr`` pattern). A task writes whole
chunks only, so no two tasks ever touch the same chunk file.

Every store carries consolidated metadata (:func:`consolidate`), kept
current after each change of metadata (the template, an attribute, a
resize), so ``xr.open_zarr(path)`` opens it without a warning and reads one
file for the whole layout. sgdsm itself never trusts it: :func:`open_group`
reads each array's own metadata, which is current even between a resize and
the consolidation after it.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import warnings
from collections.abc import Iterator, Mapping
from typing import Any

import dask.array as da
import numpy as np
import xarray as xr

from ..errors import InputError, WriteError
from ..paths import local_or_url


def lazy(shape: tuple[int, ...], chunks: tuple[int, ...], dtype: Any, fill: Any = 0) -> da.Array:
    """A lazy constant array that is never computed: ``compute=False`` writes only metadata."""
    return da.full(shape, fill, chunks=chunks, dtype=dtype)


@contextlib.contextmanager
def writing(store: str) -> Iterator[None]:
    """Turn a failed write into a :class:`~sgdsm_dask.errors.WriteError` naming ``store``.

    Zarr writes each chunk to a temporary name and renames it, so a failed
    write leaves the chunk as it was; the caller's commit marker (written
    last) is then not set and a rerun writes the chunk again.
    """
    try:
        yield
    except OSError as exc:
        raise WriteError.from_os(store, exc) from None


def write_template(store: str, template: xr.Dataset | xr.DataTree, kind: str) -> None:
    """Create the ``kind`` store ``store`` from ``template``: metadata and eager (NumPy) variables only.

    A :class:`xarray.DataTree` writes each of its groups (its root at the
    store's top level, each child node in the subgroup of its path; a
    child's variables only, not those it inherits). Call it only where
    :func:`~sgdsm_dask.io.outputs.claim` said ``"create"``: it replaces
    whatever is at ``store``. The template's fingerprint attribute is
    written last, once everything else is in place, so a template whose
    writing stopped is known as such and written again
    (:mod:`sgdsm_dask.io.outputs`); the metadata is consolidated with it.
    """
    from .outputs import FINGERPRINT, KIND

    tree = template if isinstance(template, xr.DataTree) else xr.DataTree(template)
    key = FINGERPRINT[kind]
    fingerprint = tree.attrs[key]
    body = tree.to_dataset(inherit=False)
    body.attrs = {**{k: v for k, v in tree.attrs.items() if k != key}, KIND: kind}
    target = local_or_url(store)
    with writing(store):
        body.to_zarr(target, mode="w", compute=False, zarr_format=3, consolidated=False)
        for node in tree.subtree:
            if node is not tree:
                group = node.relative_to(tree)
                node.to_dataset(inherit=False).to_zarr(
                    target, group=group, mode="w", compute=False, zarr_format=3, consolidated=False
                )
    update_attrs(store, {key: fingerprint})


def open_group(store: str, mode: str = "r+"):
    """The store's Zarr group (one open serves many reads and writes); a clear error if it is not one.

    The group's own metadata, never the consolidated copy: that one lags
    behind a resize until :func:`consolidate` runs.
    """
    import zarr

    try:
        return zarr.open_group(local_or_url(store), mode=mode, zarr_format=3, use_consolidated=False)
    except (FileNotFoundError, KeyError, ValueError) as exc:
        raise InputError(store, f"not a Zarr format 3 store ({exc.__class__.__name__}: {exc})") from None


def exists(store: str) -> bool:
    import zarr

    try:
        zarr.open_group(local_or_url(store), mode="r", zarr_format=3, use_consolidated=False)
    except (FileNotFoundError, KeyError, ValueError):
        return False
    return True


def write_region(store: str, arrays: Mapping[str, np.ndarray], t0: int) -> None:
    """Write ``arrays`` (each with time first) at time index ``t0`` onwards."""
    g = open_group(store)
    with writing(store):
        for name, values in arrays.items():
            arr = g[name]
            t1 = t0 + values.shape[0]
            arr[t0:t1, ...] = values


def read_array(store: str, name: str, sel: tuple[slice, ...] | None = None) -> np.ndarray:
    g = open_group(store, mode="r")
    arr = g[name]
    return np.asarray(arr[sel] if sel is not None else arr[...])


def read_chunks_safely(store: str, name: str, chunk: int, n: int, fill: Any) -> np.ndarray:
    """Read a 1-D array chunk by chunk; a chunk that cannot be decoded (torn by a kill) reads as ``fill``."""
    g = open_group(store, mode="r")
    arr = g[name]
    out = np.full(n, fill, dtype=arr.dtype)
    for t0 in range(0, n, chunk):
        t1 = min(n, t0 + chunk)
        try:
            out[t0:t1] = arr[t0:t1]
        except Exception:  # noqa: BLE001 - any decode error means "not finished"
            out[t0:t1] = fill
    return out


def read_attrs(store: str) -> dict[str, Any]:
    return dict(open_group(store, mode="r").attrs)


def update_attrs(store: str, attrs: Mapping[str, Any]) -> None:
    """Add or replace root attributes of ``store``, then :func:`consolidate` (the client's only, as it says)."""
    _refuse_on_worker(store)
    with writing(store):
        open_group(store).attrs.update(dict(attrs))
    consolidate(store)


def consolidate(store: str) -> None:
    """Write ``store``'s consolidated metadata afresh from the metadata of each of its groups and arrays.

    Called after every change of metadata (:func:`write_template`,
    :func:`update_attrs`, a resize). Only the process that owns the
    store's metadata, the client, ever changes it or consolidates: Dask
    workers write whole chunks of data, never a ``zarr.json``
    (:func:`write_region`, the reconstruction's chunks), so a consolidation
    never runs beside another change of metadata and can never write back
    an attribute or a shape older than the one on disk. The consolidated
    root is written to a temporary name and renamed, as every Zarr file: a
    kill leaves the previous one, which the next change replaces (sgdsm
    reads the groups' own metadata, :func:`open_group`).
    """
    import zarr
    from zarr.errors import ZarrUserWarning

    _refuse_on_worker(store)
    with warnings.catch_warnings(), writing(store):
        # zarr warns on each call that consolidated metadata is not (yet) part of the format 3 spec
        warnings.filterwarnings(
            "ignore", message="Consolidated metadata is currently not part", category=ZarrUserWarning
        )
        zarr.consolidate_metadata(local_or_url(store), zarr_format=3)


def _refuse_on_worker(store: str) -> None:
    """A RuntimeError where a Dask worker's task would change ``store``'s metadata (:func:`consolidate` says why)."""
    if "distributed" not in sys.modules:  # a Dask worker has it imported
        return
    from distributed import get_worker

    try:
        get_worker()
    except ValueError:  # not in a worker's task: the client (or a process without a cluster)
        return
    raise RuntimeError(f"{store}: a Dask worker's task may not change the store's metadata; only the client does")


class _ZarrLeftoverFilter(logging.Filter):
    """Drops asyncio's reports about zarr's other chunk writes of a write that already failed.

    Zarr writes the chunks of one assignment concurrently on its own event
    loop. When one fails (a full disk), the assignment raises at once and
    the task fails with one :class:`~sgdsm_dask.errors.WriteError` (:func:`writing`); the
    sibling writes fail the same way or are still pending, and asyncio
    reports each of them later ("Task exception was never retrieved", "Task
    was destroyed but it is pending!") with a traceback, on the worker's
    stderr, which is the terminal of ``sgdsm``. The error is already the one
    line the client prints.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, OSError) and _raised_in_zarr(exc):
            return False
        message = record.getMessage()
        return not ("Task was destroyed but it is pending" in message and "/zarr/" in message)


def _raised_in_zarr(exc: BaseException) -> bool:
    tb = exc.__traceback__
    while tb is not None:
        if "/zarr/" in tb.tb_frame.f_code.co_filename:
            return True
        tb = tb.tb_next
    return False


def quiet_zarr_leftovers() -> None:
    """In this process, drop asyncio's reports about the sibling writes of a failed write (:class:`_ZarrLeftoverFilter`)."""
    logger = logging.getLogger("asyncio")
    if not any(isinstance(f, _ZarrLeftoverFilter) for f in logger.filters):
        logger.addFilter(_ZarrLeftoverFilter())
