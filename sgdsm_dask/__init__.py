"""sgdsm-dask: seamless global daily soil moisture (SGD-SM 2.0) on Dask.

The package is organised along the data's journey: ``readers`` (real file
layouts -> canonical 0.25 deg grid), ``synth`` (a synthetic archive with known
truth), ``staging`` (readers -> chunked Zarr cube on a Dask cluster) and the
command line in ``cli``.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("sgdsm-dask")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
