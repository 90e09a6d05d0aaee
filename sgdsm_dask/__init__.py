"""sgdsm-dask: seamless global daily soil moisture (SGD-SM 2.0) on Dask.

The packages follow the data's journey (docs/architecture.md): ``readers``
(real file layouts -> the 0.25 deg grid) -> ``staging`` (a chunked Zarr
cube) -> ``model`` (the LSTM-CNN) and ``training`` (its loop and checkpoint
files) -> ``reconstruction`` (the filled result store, chains of Dask tasks
along time) -> ``export`` (one CF NetCDF file per day, with a manifest) ->
``validation`` (scores on pixels hidden on purpose, in-situ stations).
``synth`` writes a synthetic archive with known truth, ``runtime`` starts
the Dask clusters, ``commands`` and ``cli`` are the ``sgdsm`` command line,
``pipeline`` runs stage + reconstruct + export from a run file.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("sgdsm-dask")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
