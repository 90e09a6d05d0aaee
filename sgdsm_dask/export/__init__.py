"""Export: a reconstruction store -> one CF-1.8 NetCDF4 file per day (and a GeoTIFF), with a verified manifest.

- :mod:`.daily`: :class:`DailyFiles`, the sink that ``sgdsm export``
  (:func:`export`) and ``sgdsm reconstruct --export`` both drive;
- :mod:`.days`: the task (one time chunk's files) and the checks of the result store;
- :mod:`.folder`: what a folder holds, whether it is this reconstruction's, which files to trust;
- :mod:`.netcdf`, :mod:`.cog`: the file formats;
- :mod:`.manifest`: ``manifest.json``, ``SHA256SUMS``, the folder's marker, ``sgdsm verify``.
"""

from .daily import DailyFiles, export, finish
from .days import check_result, export_days, open_result
from .folder import day_name
from .manifest import verify

__all__ = ["DailyFiles", "check_result", "day_name", "export", "export_days", "finish", "open_result", "verify"]
