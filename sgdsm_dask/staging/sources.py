"""Where a staged cube's days come from, behind one small protocol.

Staging reads days from one of two kinds of source: an :class:`Archive` of
daily LPRM (and IMERG) files planned by :func:`~sgdsm_dask.staging.plan_days`,
or one CF :class:`Cube` (a NetCDF file, a folder of them, a Zarr store) that
:func:`~sgdsm_dask.readers.cube.inspect_cube` has checked. Both give their
dates, an identity for the request's fingerprint, what the store records
about them, and the arrays of a block of days (:class:`Days`); a new kind
of source is one more class with these members.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from ..config import StageConfig
from ..errors import InputError
from ..grid import Region
from ..readers.cube import CubeInfo, read_cube_block
from ..readers.imerg import read_imerg_day
from ..readers.lprm import read_lprm_day
from .inventory import DayPlan
from .status import DayStatus

SENSOR_CODES = {None: 0, "AMSR-E": 1, "WindSat": 2, "AMSR2": 3, "other": 4}
SENSOR_MEANINGS = "none AMSR-E WindSat AMSR2 other"


@dataclass
class Days:
    """Days ``t0:t1`` of a source on the region, as staging writes them (NaN: not observed, no rain data)."""

    sm: np.ndarray
    precip: np.ndarray
    status: np.ndarray
    sensor: np.ndarray
    precip_available: np.ndarray
    skipped: dict[str, str] = field(default_factory=dict)  # date (or "date precip") -> reason

    @classmethod
    def empty(cls, n: int, shape: tuple[int, int]) -> Days:
        return cls(
            sm=np.full((n, *shape), np.nan, np.float32),
            precip=np.full((n, *shape), np.nan, np.float32),
            status=np.full(n, DayStatus.MISSING, np.int8),
            sensor=np.zeros(n, np.int8),
            precip_available=np.zeros(n, bool),
        )


class Source(Protocol):
    """What staging needs of where its days come from."""

    description: str  # the staged store's ``source`` attribute

    def dates(self) -> np.ndarray:
        """The days, ``datetime64[D]``, in order."""

    def identity(self) -> Any:
        """The inputs behind the days, JSON-able: part of the stage request's fingerprint."""

    def files(self) -> dict[str, list[str | None]]:
        """Per day, the file names it came from (the store's ``sources`` attribute)."""

    def warning(self) -> str | None:
        """A line to print before staging, if the source lacks something the model uses."""

    def read(self, t0: int, t1: int, region: Region, config: StageConfig) -> Days:
        """Days ``t0:t1`` on ``region`` (runs on a worker); bad input raises :class:`InputError`."""


@dataclass(frozen=True)
class Archive:
    """Daily LPRM files and, optionally, IMERG files: one :class:`DayPlan` per day."""

    plans: tuple[DayPlan, ...]
    description: str = "LPRM L3 daily descending + GPM IMERG Final daily"

    def dates(self) -> np.ndarray:
        return np.array([p.date for p in self.plans], dtype="datetime64[D]")

    def identity(self) -> Any:
        return [(p.lprm, p.imerg, p.problem) for p in self.plans]

    def files(self) -> dict[str, list[str | None]]:
        name = lambda path: path and path.rsplit("/", 1)[-1]  # noqa: E731
        return {str(p.date): [name(p.lprm), name(p.imerg)] for p in self.plans}

    def warning(self) -> str | None:
        if any(p.imerg for p in self.plans):
            return None
        return "warning: no IMERG files; precipitation is recorded as unavailable, not as zero rain"

    def read(self, t0: int, t1: int, region: Region, config: StageConfig) -> Days:
        days = Days.empty(t1 - t0, region.shape)
        for i, plan in enumerate(self.plans[t0:t1]):
            days.sensor[i] = SENSOR_CODES.get(plan.sensor, 0)
            if plan.problem:
                days.status[i] = DayStatus.SKIPPED
                days.skipped[str(plan.date)] = plan.problem
                continue
            if plan.lprm is not None:
                sm = _read(
                    lambda plan=plan: read_lprm_day(plan.lprm, region, config.band), config, days, str(plan.date)
                )
                if sm is not None:
                    days.sm[i], days.status[i] = sm, DayStatus.STAGED
                else:
                    days.status[i] = DayStatus.SKIPPED
            if plan.imerg is not None:
                rain = _read(lambda plan=plan: read_imerg_day(plan.imerg, region), config, days, f"{plan.date} precip")
                if rain is not None:
                    days.precip[i] = rain
                    days.precip_available[i] = bool(np.isfinite(rain).any())  # all fill over the region: unavailable
        return days


def _read(read: Any, config: StageConfig, days: Days, what: str) -> np.ndarray | None:
    """``read()``, or None with the reason recorded under ``what`` when bad input is to be skipped."""
    try:
        return read()
    except InputError as exc:
        if config.on_error != "skip":
            raise
        days.skipped[what] = str(exc)
        return None


@dataclass(frozen=True)
class Cube:
    """One CF cube with ``sm`` (and maybe ``precip``), checked by :func:`~sgdsm_dask.readers.cube.inspect_cube`."""

    info: CubeInfo

    @property
    def description(self) -> str:
        return f"cube {self.info.path}"

    def dates(self) -> np.ndarray:
        return self.info.times

    def identity(self) -> Any:
        return self.info.path

    def files(self) -> dict[str, list[str | None]]:
        return {}

    def warning(self) -> str | None:
        return None  # a cube without rain is named after the reconstruction, which runs without it

    def read(self, t0: int, t1: int, region: Region, config: StageConfig) -> Days:
        n = t1 - t0
        days = Days.empty(n, region.shape)
        block = read_cube_block(self.info, t0, t1, region)
        days.sm[:] = block["sm"]
        days.status[:] = DayStatus.STAGED
        days.sensor[:] = SENSOR_CODES["other"]
        if "precip" in block:
            days.precip[:] = block["precip"]
            days.precip_available[:] = np.isfinite(block["precip"]).reshape(n, -1).any(axis=1)
        return days
