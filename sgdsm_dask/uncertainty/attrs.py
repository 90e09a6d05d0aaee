"""CF attributes of the uncertainty and gap-provenance variables, in the result store and the daily files."""

from __future__ import annotations

from typing import Any


def sm_uncertainty(**extra: Any) -> dict[str, Any]:
    """The standard error of ``sm`` (m3 m-3), a CF ``standard_error`` ancillary variable."""
    return {
        "units": "m3 m-3",
        "standard_name": "volume_fraction_of_condensed_water_in_soil standard_error",
        "long_name": "expected standard deviation of the error of sm (calibrated on pixels hidden on purpose)",
        "comment": "reconstructed pixels: fitted on this cube's own hidden pixels from days since observed, "
        "distance to the nearest observation and the pixel's variability (docs/validation.md); observed pixels: "
        "0.04, the target accuracy of satellite soil moisture, not a measured error (no retrieval error is staged)",
        **extra,
    }


def days_since_observed(**extra: Any) -> dict[str, Any]:
    """Days since the pixel was last observed (0: observed that day)."""
    # a count, not a duration: "days" as units makes xarray open the map as timedelta64
    return {
        "units": "1",
        "long_name": "number of days since the pixel was last observed (0: observed this day)",
        "comment": "counted in calendar days; a pixel not observed since the record began counts from the day "
        "before its first day (a lower bound); -1: not land",
        **extra,
    }


def distance_to_observed(**extra: Any) -> dict[str, Any]:
    """Cells to the nearest observation of the same day."""
    return {
        "units": "1",
        "long_name": "distance in grid cells to the nearest observed pixel of the same day (0: observed)",
        "comment": "Euclidean, rounded; 32 means 32 cells or more; -1: not reconstructed",
        **extra,
    }
