"""The daily files of a reconstruction: one sink, :class:`DailyFiles`, that every export drives.

``sgdsm export`` (:func:`export`) tells the sink each time chunk that is
reconstructed in every block; ``sgdsm reconstruct --export`` tells it each
time chunk as soon as its last block is finished, so files are written
while later chunks are reconstructed. Either way: :meth:`DailyFiles.check`
(before anything is written), :meth:`~DailyFiles.open`,
:meth:`~DailyFiles.chunk_finished` per time chunk, :meth:`~DailyFiles.close`
(the manifest, once every file is in place).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from ..config import ProductMetadata
from ..io import zarr_store
from ..paths import require_shared
from ..runner import TaskPool
from . import folder, manifest, stac
from .days import check_result, export_days, finished_chunks, open_result
from .netcdf import product_attrs


class DailyFiles:
    """The export folder ``out_dir`` of one result store, filled a time chunk at a time."""

    def __init__(
        self,
        out_dir: str | os.PathLike,
        *,
        cog: bool = False,
        client: Any | None = None,
        progress: Callable[[int], None] | None = None,
        metadata: ProductMetadata | None = None,
        replace: bool = False,
    ) -> None:
        self.out = folder.location(out_dir)  # absolute on the client; an object store's URL as given
        self.replace = replace  # an earlier export of another reconstruction of ours there is replaced
        require_shared(self.out, client)  # memory:// lives in this process only
        self.cog = cog
        self.metadata = metadata  # who made the files, their licence (None: the defaults)
        self.client = client
        self.progress = progress
        self.known: folder.Known = {}
        self.provenance: dict[str, Any] | None = None

    def check(self, provenance: dict[str, Any]) -> None:
        """Refuse a folder that is not this export's (:func:`folder.check`); changes nothing.

        With ``replace``, an export folder of another reconstruction of
        sgdsm is taken instead (:func:`folder.earlier_export`): its files are
        removed when the export opens.
        """
        self.stale: list[str] = []
        try:
            self.known = folder.check(self.out, provenance)
        except folder.AnotherReconstruction:
            if not self.replace:
                raise
            self.stale, self.known = folder.earlier_export(self.out), {}
        self.provenance = provenance

    def open(self, result: str) -> None:
        """Claim the folder for ``result`` (mark it, drop its manifest and temporaries); after :meth:`check`.

        The files of an earlier export being replaced go first, while its
        manifest still names the folder as that export's; then the mark of
        this one (:func:`folder.clear`).
        """
        where = folder.Folder(self.out)
        for name in self.stale:
            where.remove(name)
        folder.clear(self.out, self.provenance)
        self.result = result
        self.times = open_result(result)["time"].values
        self.product = product_attrs(self.metadata, self.provenance)  # the files' global attributes of this run
        self.pool = TaskPool(self.client, self.progress, size=len)
        self.entries: list[dict[str, Any] | None] = []

    def chunk_finished(self, t0: int, t1: int) -> None:
        """Days ``t0`` to ``t1`` (a time chunk) are reconstructed in every block: write their files.

        On a cluster the task runs beside the caller's; the files of tasks
        already finished are collected, and a failed one (a full disk) stops
        the run now, not at the end.
        """
        known = folder.known_in(self.known, self.times[t0:t1])
        self.pool.submit(export_days, self.result, self.out, t0, t1, self.cog, known, self.product)
        self._collect(wait=False)

    def close(self, catalogue: bool = False) -> dict[str, Any]:
        """Wait for every file, then write the manifest (and the STAC catalogue: :func:`finish`); the summary."""
        self._collect(wait=True)
        return finish(self.result, self.out, self.entries, catalogue)

    def _collect(self, wait: bool) -> None:
        for _, days in self.pool.finished(wait):
            self.entries.extend(days)


def finish(result: str, out_dir: str, entries: list[dict[str, Any] | None], catalogue: bool = False) -> dict[str, Any]:
    """Write the folder's manifest once every day's files are in place; the export's summary.

    A STAC catalogue the folder holds is brought up to date (a stale one
    would omit the days just added), whichever command exported; with
    ``catalogue``, one is written where there is none.
    """
    out_dir = folder.location(out_dir)
    days = [e for e in entries if e is not None]
    files = {name: entry for day in days for name, entry in day.items()}
    path = manifest.write(out_dir, files, manifest.export_provenance(result))
    summary = {"out": str(out_dir), "files": len(days), "cog_files": len(files) - len(days), "manifest": str(path)}
    if catalogue or stac.exists(out_dir):
        summary["stac"] = stac.write_catalogue(out_dir)["collection"]
    return summary


def export(
    result: str,
    out_dir: str,
    client: Any | None = None,
    progress: Callable[[int], None] | None = None,
    cog: bool = False,
    total: Callable[[int], None] | None = None,
    metadata: ProductMetadata | None = None,
    catalogue: bool = False,
    replace: bool = False,
) -> dict[str, Any]:
    """Write every reconstructed day of ``result`` into ``out_dir`` (and a COG per day with ``cog``), then the manifest.

    Time chunks that are not reconstructed in every block yet are left out
    (``days_unfinished`` in the summary): a half-filled day is never written.
    ``total`` is told how many days ``progress`` will count (a bar's ETA).
    ``metadata`` names the files' creator and licence (default: :class:`ProductMetadata`'s).
    ``catalogue``: write a STAC catalogue of the folder too (one it holds is always kept up to date).
    ``replace``: an export folder of another reconstruction of sgdsm is replaced (:meth:`DailyFiles.check`).
    """
    sink = DailyFiles(out_dir, cog=cog, client=client, progress=progress, metadata=metadata, replace=replace)
    if catalogue:  # a folder the catalogue cannot be written to: one line before any file, not after them all
        stac.local_folder(sink.out)
    check_result(result)
    require_shared(result, client, "read")
    finished = finished_chunks(result)
    sink.check(manifest.export_provenance(result))
    sink.open(result)
    times = sink.times
    tc = zarr_store.open_group(result, mode="r")["sm"].chunks[0]
    chunks = [(t0, min(times.size, t0 + tc)) for t0 in range(0, times.size, tc)]
    if total:
        total(sum(t1 - t0 for k, (t0, t1) in enumerate(chunks) if finished[k]))
    for k, (t0, t1) in enumerate(chunks):
        if finished[k]:
            sink.chunk_finished(t0, t1)
    summary = sink.close(catalogue)
    summary["days_unfinished"] = sum(t1 - t0 for k, (t0, t1) in enumerate(chunks) if not finished[k])
    return summary
