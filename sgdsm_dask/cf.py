"""The CF attributes of the variables sgdsm writes, in one place.

The staged cube, the result store and the daily files describe soil
moisture, precipitation, the ``flag`` and time the same way; each store
says in its own ``long_name`` what its values are.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .flags import FLAG_MEANINGS, Flag

#: How every store and file encodes time: whole days, int32.
TIME_ENCODING = {"units": "days since 1970-01-01", "calendar": "proleptic_gregorian", "dtype": "int32"}


def sm(long_name: str, **extra: Any) -> dict[str, Any]:
    """Volumetric soil moisture (m3 m-3)."""
    return {
        "units": "m3 m-3",
        "standard_name": "volume_fraction_of_condensed_water_in_soil",
        "long_name": long_name,
        **extra,
    }


def precip(long_name: str) -> dict[str, Any]:
    """Daily precipitation (mm/day)."""
    return {"units": "mm day-1", "standard_name": "lwe_thickness_of_precipitation_amount", "long_name": long_name}


def flag(**extra: Any) -> dict[str, Any]:
    """The origin of each value (:class:`~sgdsm_dask.flags.Flag`)."""
    return {**extra, "flag_values": np.array(list(Flag), dtype=np.int8), "flag_meanings": FLAG_MEANINGS}
