"""``sgdsm stage``: daily files -> a chunked Zarr format 3 cube, on a Dask cluster.

The store is written as a template first (metadata, coordinates, land mask),
then each Dask task reads the days of one time chunk and writes that chunk's
``sm`` and ``precip`` for the whole region. Only after a task's data is in
the store does the client write the chunk's per-day records (``day_status``,
``sensor``, ``available``, ``precip_available``). A stage stopped at any
point and started again finds the chunks whose records are written and does
only the others; a chunk torn by the stop is simply done again.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from .. import __version__, cf
from ..config import StageConfig
from ..errors import InputError
from ..grid import PATCH, Region
from ..io import outputs, zarr_store
from ..paths import absolute, require_shared
from ..readers.cube import CubeInfo
from ..readers.landmask import land_mask
from ..runner import run_tasks
from .inventory import DayPlan
from .sources import SENSOR_MEANINGS, Archive, Cube, Source
from .status import STATUS_MEANINGS, DayStatus

RECORDS = ("day_status", "sensor", "available", "precip_available")


@dataclass(frozen=True)
class StageRequest:
    """A cube to build: from an LPRM/IMERG archive (``plans``) or from a CF cube (``cube``): its :attr:`source`."""

    out: str
    region: Region
    config: StageConfig = field(default_factory=StageConfig)
    plans: tuple[DayPlan, ...] = ()
    cube: CubeInfo | None = None

    def __post_init__(self) -> None:
        # the workers write the store: the path must mean there what it means here
        object.__setattr__(self, "out", absolute(self.out))

    @property
    def source(self) -> Source:
        """Where the days come from (:mod:`.sources`)."""
        return Cube(self.cube) if self.cube is not None else Archive(self.plans)

    def dates(self) -> np.ndarray:
        return self.source.dates()

    def for_days(self, t0: int, t1: int) -> StageRequest:
        """This request as the task of days ``t0:t1`` needs it: a folder cube's file map cut to their files.

        A staging task carries its request; the whole folder's map in each
        would grow every task with the folder, and all tasks are submitted
        at once. (An archive's day plans are still sent whole.)
        """
        if self.cube is None or self.cube.file_map is None:
            return self
        return replace(self, cube=self.cube.for_days(t0, t1))

    def fingerprint(self) -> str:
        """Identity of the request; a store is resumed only by the same request."""
        key = {
            "region": self.region.to_text(),
            "dates": [str(d) for d in self.dates()],
            "band": self.config.band,
            "time_chunk": self.config.time_chunk,
            "space_chunk": self.config.space_chunk,
            "sources": self.source.identity(),
        }
        return outputs.fingerprint(key)


@dataclass(frozen=True)
class BlockResult:
    t0: int
    records: dict[str, np.ndarray]
    skipped: dict[str, str]  # date -> reason
    error: InputError | None = None  # bad input with on_error="raise": nothing of the block was written


def _record_vars(nt: int, tc: int) -> dict[str, tuple]:
    """The per-day records of a staged cube; ``day_status``, the commit marker, among them."""
    return {
        "day_status": (
            "time",
            zarr_store.lazy((nt,), (tc,), np.int8, 0),
            {
                "flag_values": np.array(list(DayStatus), dtype=np.int8),
                "flag_meanings": STATUS_MEANINGS,
            },
        ),
        "sensor": (
            "time",
            zarr_store.lazy((nt,), (tc,), np.int8, 0),
            {
                "flag_values": np.arange(5, dtype=np.int8),
                "flag_meanings": SENSOR_MEANINGS,
            },
        ),
        "available": (
            "time",
            zarr_store.lazy((nt,), (tc,), bool, False),
            {"long_name": "soil moisture staged for the day"},
        ),
        "precip_available": (
            "time",
            zarr_store.lazy((nt,), (tc,), bool, False),
            {"long_name": "precipitation staged for the day (false: unavailable, not zero rain)"},
        ),
    }


def _attrs(req: StageRequest) -> dict[str, Any]:
    return {
        "title": "sgdsm-dask staged cube",
        "Conventions": "CF-1.8",
        "source": req.source.description,
        "history": f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%dT%H:%M:%SZ} sgdsm stage (sgdsm-dask {__version__})",
        "sgdsm_version": __version__,
        "stage_fingerprint": req.fingerprint(),
        "region": req.region.to_text(),
        "band": req.config.band,
        "patch_size": PATCH,
        "sources": json.dumps(req.source.files()),
        "skipped": json.dumps({}),
    }


def _template(req: StageRequest) -> xr.Dataset:
    dates = req.dates()
    nt = dates.size
    ny, nx = req.region.shape
    tc = req.config.time_chunk
    sc = req.config.space_chunk
    chunks = (tc, min(sc, ny), min(sc, nx))
    shape = (nt, ny, nx)
    ds = xr.Dataset(
        {
            "sm": (
                ("time", "lat", "lon"),
                zarr_store.lazy(shape, chunks, np.float32, np.nan),
                cf.sm(f"surface soil moisture, LPRM descending pass, band {req.config.band} (NaN: not observed)"),
            ),
            "precip": (
                ("time", "lat", "lon"),
                zarr_store.lazy(shape, chunks, np.float32, np.nan),
                cf.precip(
                    "daily precipitation, GPM IMERG Final, conservatively regridded to 0.25 deg (NaN: unavailable)"
                ),
            ),
            "land": (
                ("lat", "lon"),
                land_mask(req.region),
                {
                    "long_name": "land to reconstruct (global-land-mask GLOBE 1 km, >=50% land; Antarctica and most of Greenland excluded)",
                },
            ),
            **_record_vars(nt, tc),
        },
        coords={
            "time": ("time", pd.DatetimeIndex(dates.astype("datetime64[ns]")), cf.time()),
            **cf.grid(req.region.lat, req.region.lon),  # with the cell bounds and the grid mapping crs
        },
        attrs=_attrs(req),
    )
    ds["time"].encoding.update(cf.TIME_ENCODING)
    for name in ("sm", "precip", "land"):
        ds[name].attrs["grid_mapping"] = cf.GRID_MAPPING
    for name in ("sm", "precip"):
        ds[name].encoding.update({"chunks": chunks})
    for name in RECORDS:
        ds[name].encoding.update({"chunks": (tc,)})
    return ds


def stage_block(req: StageRequest, t0: int, t1: int) -> BlockResult:
    """Read days ``t0:t1`` and write their ``sm`` and ``precip`` into the store (runs on a worker).

    Bad input is returned, not raised: it is the user's data, not a worker
    failure, so Dask should neither log a traceback nor retry it.
    """
    try:
        return _stage_block(req, t0, t1)
    except InputError as exc:
        return BlockResult(t0=t0, records={}, skipped={}, error=exc)


def _stage_block(req: StageRequest, t0: int, t1: int) -> BlockResult:
    days = req.source.read(t0, t1, req.region, req.config)
    zarr_store.write_region(req.out, {"sm": days.sm, "precip": days.precip}, t0)
    records = {
        "day_status": days.status,
        "sensor": days.sensor,
        "available": days.status == DayStatus.STAGED,
        "precip_available": days.precip_available,
    }
    return BlockResult(t0=t0, records=records, skipped=days.skipped)


def _prepare_store(req: StageRequest, overwrite: bool) -> np.ndarray:
    """Create the store, or check it belongs to this request (:class:`outputs.Resumable`); return ``day_status``."""
    nt = req.dates().size
    store = outputs.Resumable.claim(req.out, "staged", req.fingerprint(), overwrite=overwrite)
    store.refuse_other(
        "store exists and was staged from a different request (dates, region, band, chunks or files); "
        "choose another --out or pass --overwrite"
    )
    if store.create(lambda: _template(req)):
        return np.full(nt, DayStatus.PENDING, dtype=np.int8)
    return store.markers("day_status", req.config.time_chunk, nt, DayStatus.PENDING)


def _days(res: BlockResult) -> int:
    return res.records["day_status"].size


def stage(
    req: StageRequest,
    client: Any | None = None,
    *,
    overwrite: bool = False,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Build or resume the staged cube; returns a summary.

    Parameters
    ----------
    client
        A ``distributed.Client``; without one the blocks run in this process.
    overwrite
        Start afresh even if ``req.out`` holds a cube of another request.
    progress
        Called with the number of days each finished block held.
    """
    require_shared(req.out, client)
    status = _prepare_store(req, overwrite)
    nt = status.size
    tc = req.config.time_chunk
    todo = [(t0, min(nt, t0 + tc)) for t0 in range(0, nt, tc) if np.any(status[t0 : t0 + tc] == DayStatus.PENDING)]
    resumed = -(-nt // tc) - len(todo)  # blocks already committed
    if progress and resumed:
        progress(int(np.count_nonzero(status != DayStatus.PENDING)))
    skipped = json.loads(zarr_store.read_attrs(req.out).get("skipped", "{}"))

    def commit(res: BlockResult) -> None:
        if res.error is not None:
            raise res.error
        if res.skipped:
            skipped.update(res.skipped)
            zarr_store.update_attrs(req.out, {"skipped": json.dumps(skipped, sort_keys=True)})
        # day_status is the commit marker: written last, so a stop between
        # these writes leaves the block pending and it is done again.
        others = {k: v for k, v in res.records.items() if k != "day_status"}
        zarr_store.write_region(req.out, others, res.t0)
        zarr_store.write_region(req.out, {"day_status": res.records["day_status"]}, res.t0)

    def key(item: tuple[StageRequest, int, int]) -> str:
        return f"stage-{req.fingerprint()}-{item[1]}"

    blocks = [(req.for_days(t0, t1), t0, t1) for t0, t1 in todo]
    for _, res in run_tasks(client, stage_block, blocks, key=key, progress=progress, size=_days):
        commit(res)
    final = zarr_store.read_chunks_safely(req.out, "day_status", tc, nt, DayStatus.PENDING)
    zarr_store.update_attrs(req.out, {"stage_complete": bool(np.all(final != DayStatus.PENDING))})
    return {
        "store": req.out,
        "days": nt,
        "staged": int(np.count_nonzero(final == DayStatus.STAGED)),
        "missing": int(np.count_nonzero(final == DayStatus.MISSING)),
        "skipped": int(np.count_nonzero(final == DayStatus.SKIPPED)),
        "blocks_done": len(todo),
        "blocks_resumed": resumed,
        "skip_reasons": skipped,
    }
