"""The daily file's ``sm_uncertainty`` map, where the result store has one.

``sm_uncertainty`` is a CF ancillary variable of ``sm`` (its standard name
with the ``standard_error`` modifier), compressed like it. The gap depths
(``days_since_observed``, ``distance_to_observed``) stay in the result
store: CF has no standard name for them, and an ACDD checker fails a
geophysical map without one (tests/export/test_compliance.py).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..uncertainty import attrs

#: The maps beside ``sm`` and ``flag``, in the order ``sm``'s ``ancillary_variables`` names them.
GAP_MAPS = ("sm_uncertainty",)

ENCODING = {
    "sm_uncertainty": {
        "zlib": True,
        "shuffle": False,
        "complevel": 1,
        "dtype": "float32",
        "_FillValue": np.float32(np.nan),
    },
}


def gap_maps(days: xr.Dataset) -> dict[str, xr.Variable]:
    """The :data:`GAP_MAPS` of a block of days read from a result store (none for a store without them)."""
    out = {}
    if "sm_uncertainty" in days:
        var = days["sm_uncertainty"].variable.copy(deep=False)
        var.attrs = {
            **attrs.sm_uncertainty(),
            "coverage_content_type": "qualityInformation",
            "valid_range": np.array([0.0, 1.0], np.float32),
        }
        var.encoding = {}
        out["sm_uncertainty"] = var
    return out
