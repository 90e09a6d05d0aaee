"""Readers: one day of a real product onto the canonical 0.25 deg grid.

``lprm`` (LPRM L3 daily), ``imerg`` (IMERG Final daily, regridded
conservatively by ``regrid``), ``cube`` (any CF cube, e.g. ESA CCI),
``landmask``; ``units``, ``axes`` and ``ncfile`` check what a file holds.
"""

from .cube import open_cube
from .imerg import parse_imerg_name, read_imerg_day
from .landmask import land_mask
from .lprm import parse_lprm_name, read_lprm_day

__all__ = [
    "land_mask",
    "open_cube",
    "parse_imerg_name",
    "parse_lprm_name",
    "read_imerg_day",
    "read_lprm_day",
]
