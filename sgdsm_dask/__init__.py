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

The Python API (docs/api.md), xarray in and xarray out, is what the
command line calls too: :func:`stage` and :func:`open_staged`, :func:`fill`
(a cube in memory or on Dask), :func:`reconstruct` and :func:`open_result`
(store to store, resumable), :func:`evaluate` (hidden pixels, baselines)
and :func:`validate` (ISMN stations). They are imported on first use, so
``import sgdsm_dask`` stays light (no torch, no Dask).
"""

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    __version__ = version("sgdsm-dask")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+unknown"

#: The public API, all in :mod:`sgdsm_dask.api`.
API = ("evaluate", "fill", "open_result", "open_staged", "reconstruct", "stage", "validate")

__all__ = ["__version__", *API]

if TYPE_CHECKING:
    from .api import evaluate as evaluate
    from .api import fill as fill
    from .api import open_result as open_result
    from .api import open_staged as open_staged
    from .api import reconstruct as reconstruct
    from .api import stage as stage
    from .api import validate as validate


def __getattr__(name: str) -> Any:
    if name in API:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'sgdsm_dask' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *API])
