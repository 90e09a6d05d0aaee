"""Staging: real (or synthetic) daily files -> one chunked Zarr cube, on Dask."""

from .inventory import DayPlan, plan_days
from .stage import StageRequest, stage

__all__ = ["DayPlan", "StageRequest", "plan_days", "stage"]
