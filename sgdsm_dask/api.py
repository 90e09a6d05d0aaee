"""The Python API: xarray in, xarray out (what notebooks use, and what ``sgdsm stage`` and ``reconstruct`` call).

- :func:`stage` builds (or resumes) a staged cube and returns it opened;
  :func:`open_staged` opens one;
- :func:`fill` fills a cube held in memory or on Dask with the LSTM-CNN,
  the same numbers as ``sgdsm reconstruct`` (lazily on Dask: one chain of
  tasks per spatial block, the LSTM state handed along time);
- :func:`reconstruct` is ``sgdsm reconstruct``: store to store, resumable,
  returning the result opened by :func:`open_result`, which shows the
  product (``sm``, ``flag``, ...) without the model's state and markers;
- :func:`evaluate` scores the model and the baselines on pixels hidden
  on purpose (``sgdsm evaluate``); :func:`validate` scores a result against
  ISMN stations (``sgdsm validate``).

Paths may be fsspec URLs. ``client`` is a ``distributed.Client``; without
one the current Dask client is used if there is one, else the work runs in
this process. docs/api.md shows each function at work.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from .grid import DEFAULT_OVERLAP, PATCH, Region

if TYPE_CHECKING:
    import pandas as pd

    from .config import ProductMetadata

#: ``progress``: True for tqdm bars (in a terminal or a notebook), False or None for none, or a tqdm-like factory.
Progress = bool | Callable[..., Any] | None

__all__ = ["evaluate", "fill", "open_result", "open_staged", "reconstruct", "stage", "validate"]


def _client(client: Any | None) -> Any | None:
    """``client``, else the current Dask client, else None (run in this process)."""
    if client is not None:
        return client
    try:
        from distributed import default_client

        return default_client()
    except (ImportError, ValueError):
        return None


def _connection(client: Any | None, connect: Callable[[], AbstractContextManager[Any]] | None) -> Any:
    """The client to run on, as a context manager: ``connect()``'s, else :func:`_client`'s (kept open)."""
    return connect() if connect is not None else nullcontext(_client(client))


def _bars(progress: Progress) -> Callable[..., Any] | None:
    if progress is True:
        from tqdm.auto import tqdm

        return tqdm
    return progress or None


def _region(region: Region | str | tuple[float, float, float, float] | None) -> Region | None:
    if region is None or isinstance(region, Region):
        return region
    if isinstance(region, str):
        return Region.parse(region)
    return Region.from_bounds(*(float(v) for v in region))


def _date(day: dt.date | str | None) -> dt.date | None:
    return dt.date.fromisoformat(day) if isinstance(day, str) else day


def _open(path: str | os.PathLike) -> xr.Dataset:
    """The top level of the store ``path``, lazily on Dask.

    From each array's own metadata: the consolidated copy (which plain
    ``xr.open_zarr(path)`` reads) lags a resize until it is written again.
    """
    from .paths import local_or_url

    return xr.open_zarr(local_or_url(str(path)), consolidated=False)


def stage(
    out: str | os.PathLike,
    *,
    lprm: str | None = None,
    imerg: str | None = None,
    cube: str | None = None,
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
    region: Region | str | tuple[float, float, float, float] | None = None,
    band: str = "c1",
    time_chunk: int = 8,
    space_chunk: int = 360,
    on_error: str = "raise",
    overwrite: bool = False,
    client: Any | None = None,
    progress: Progress = True,
    note: Callable[[str], None] | None = None,
    on_summary: Callable[[dict[str, Any]], None] | None = None,
    connect: Callable[[], AbstractContextManager[Any]] | None = None,
) -> xr.Dataset:
    """Stage daily LPRM (and IMERG) files, or a CF cube, into a chunked Zarr cube; return it opened.

    The same as ``sgdsm stage``: a store of the same request is resumed
    where it stopped, one of another request is refused unless
    ``overwrite``.

    Parameters
    ----------
    out
        The staged Zarr store to write or resume.
    lprm, imerg
        LPRM L3 and IMERG Final daily files: a folder, a glob or an fsspec URL
        (without ``imerg`` the rain is marked unavailable).
    cube
        Instead of ``lprm``/``imerg``: a CF NetCDF file or Zarr store with ``sm`` [and ``precip``].
    start, end
        First and last day (``YYYY-MM-DD`` or dates; default: the span of the LPRM files).
    region
        ``"W,S,E,N"``, ``(W, S, E, N)`` in degrees or a :class:`~sgdsm_dask.grid.Region`
        (default: the whole grid, or the cube's own region).
    band
        LPRM frequency band of soil moisture: ``"c1"``, ``"c2"`` or ``"x"``.
    time_chunk, space_chunk
        Days and cells per chunk of the store (``space_chunk`` a multiple of 40).
    on_error
        ``"raise"``: a bad input file stops the run; ``"skip"``: the day is recorded as skipped.
    overwrite
        Replace a store staged from a different request.
    client
        A ``distributed.Client`` (default: the current one, else this process).
    progress
        True: a tqdm bar of the days; False: none; or a tqdm-like factory.
    note
        Takes the warnings (missing rain, skipped days), one line each (default: stderr).
    on_summary
        Called with the run's summary (what ``sgdsm stage`` prints).
    connect
        Instead of ``client``: opens one (a context manager) once the inputs
        are checked, as the command line starts its cluster only for good input.

    Returns
    -------
    xarray.Dataset
        The staged cube, as :func:`open_staged` opens it.

    Examples
    --------
    >>> cube = sgdsm_dask.stage("box.zarr", lprm="archive/lprm", imerg="archive/imerg",
    ...                         region="10,-10,30,10")  # doctest: +SKIP
    >>> cube["sm"].isel(time=0).plot()  # doctest: +SKIP
    """
    from .config import StageConfig, invalid
    from .pipeline import build_stage_request, stage_step, stderr_note

    try:
        config = StageConfig(band=band, time_chunk=time_chunk, space_chunk=space_chunk, on_error=on_error)
    except ValueError as exc:  # pydantic's ValidationError: the option and its rule
        raise invalid("stage options", exc) from None
    req = build_stage_request(
        str(out), config, lprm=lprm, imerg=imerg, cube=cube, start=_date(start), end=_date(end), region=_region(region)
    )
    with _connection(client, connect) as c:
        summary = stage_step(req, c, overwrite=overwrite, progress=_bars(progress), note=note or stderr_note)
    if on_summary is not None:
        on_summary(summary)
    return open_staged(req.out)


def open_staged(path: str | os.PathLike) -> xr.Dataset:
    """Open a staged cube written by :func:`stage` (``sgdsm stage``), lazily on Dask.

    Parameters
    ----------
    path
        The staged Zarr store (a path or an fsspec URL).

    Returns
    -------
    xarray.Dataset
        ``sm`` (time, lat, lon; NaN = not observed), ``precip`` (NaN =
        unavailable), ``land`` (lat, lon) and the per-day records
        (``day_status``, ``sensor``, ``available``, ``precip_available``).

    Raises
    ------
    sgdsm_dask.errors.InputError
        If ``path`` is not a staged cube.

    Examples
    --------
    >>> cube = sgdsm_dask.open_staged("sgdsm-demo/staged.zarr")  # doctest: +SKIP
    >>> cube["sm"].notnull().where(cube["land"]).mean(("lat", "lon")).plot()  # doctest: +SKIP
    """
    from .errors import InputError
    from .io import outputs, zarr_store

    if not zarr_store.exists(str(path)):
        raise InputError(str(path), "not a staged cube (no Zarr format 3 store here): run sgdsm stage first")
    kind = outputs.kind_of(zarr_store.read_attrs(str(path)))
    if kind != "staged":
        what = f"a {outputs.NAMES[kind]}" if kind else "a Zarr store sgdsm did not stage"
        raise InputError(str(path), f"is {what}, not a staged cube")
    return _open(path)


def open_result(path: str | os.PathLike) -> xr.Dataset:
    """Open a reconstruction store (:func:`reconstruct`, ``sgdsm reconstruct``): the product only, lazily on Dask.

    Parameters
    ----------
    path
        The result store (a path or an fsspec URL).

    Returns
    -------
    xarray.Dataset
        The store's top level, its product: ``sm`` (filled, m3/m3),
        ``flag`` (0 observed, 1 reconstructed, 2 not reconstructed),
        ``land``, ``sm_uncertainty``, ``days_since_observed`` and
        ``distance_to_observed``. What the model keeps to resume (the LSTM
        state, the ``done`` markers, ``sm_std``, the ``anomaly`` network's
        prior) lives in the store's ``model/`` group, not shown; plain
        ``xr.open_zarr(path)`` opens the same product.

    Raises
    ------
    sgdsm_dask.errors.InputError
        If ``path`` is not a reconstruction store, or one of an older
        sgdsm-dask (its model state beside the product: reconstruct again).

    Examples
    --------
    >>> result = sgdsm_dask.open_result("sgdsm-demo/reconstructed.zarr")  # doctest: +SKIP
    >>> result["sm"].isel(time=-1).plot(vmin=0, vmax=0.5)  # doctest: +SKIP
    """
    from .export import check_result

    check_result(str(path))
    return _open(path)


def reconstruct(
    staged: str | os.PathLike,
    out: str | os.PathLike,
    checkpoint: str | os.PathLike | None = None,
    *,
    time_chunk: int = 8,
    space_chunk: int | None = None,
    overlap: int = DEFAULT_OVERLAP,
    overwrite: bool = False,
    append: bool = False,
    uncertainty: bool = True,
    prior_days: int | None = None,
    export_to: str | os.PathLike | None = None,
    cog: bool = False,
    metadata: ProductMetadata | str | os.PathLike | None = None,
    client: Any | None = None,
    progress: Progress = True,
    note: Callable[[str], None] | None = None,
    on_summary: Callable[[dict[str, Any]], None] | None = None,
    connect: Callable[[], AbstractContextManager[Any]] | None = None,
) -> xr.Dataset:
    """Fill a staged store into a result store on Dask (``sgdsm reconstruct``); return the result opened.

    Each spatial block is a chain of tasks along time, each handing the LSTM
    state of its time chunk to the next; the state at every chunk boundary
    is stored, so the same call resumes a stopped run and ``append``
    continues one when the staged cube has new days.

    Parameters
    ----------
    staged
        A staged cube (:func:`stage`).
    out
        The result store to write or resume.
    checkpoint
        The model's weights (default: the shipped checkpoint).
    time_chunk
        Days per task of a chain.
    space_chunk
        Cells per side of a spatial block (default: the staged cube's spatial chunk).
    overlap
        Cells by which neighbouring patches overlap, blended (0: edge to edge, as the paper).
    overwrite, append
        Replace a store of another request; or continue one over new days.
    uncertainty
        Write ``sm_uncertainty`` and the gap depths beside ``sm`` (σ fitted on
        the cube first); False: ``sm`` and ``flag`` only, the same values, a
        little faster.
    prior_days
        The 'anomaly' network only: its per-pixel prior is the mean of the
        first ``prior_days`` days (default: all of them; ``append``: the
        store's). One run with the store's ``prior_days`` equals an append.
    export_to, cog
        Also write the daily NetCDF files (and a GeoTIFF each with ``cog``) into this folder.
    metadata
        With ``export_to``: who made the files and their licence, a
        :class:`~sgdsm_dask.config.ProductMetadata` or the path of a YAML file of
        the run file's ``metadata`` fields (docs/run.md; default: no creator
        named, licence CC-BY-4.0).
    client
        A ``distributed.Client`` (default: the current one, else this process).
    progress
        True: a tqdm bar of the tasks (with its total, so an ETA); False: none; or a tqdm-like factory.
    note
        Takes the warnings (no rain in the cube, a GPU left idle), one line each (default: stderr).
    on_summary
        Called with the run's summary (what ``sgdsm reconstruct`` prints).
    connect
        Instead of ``client``: opens one (a context manager) once the request is made.

    Returns
    -------
    xarray.Dataset
        The result store, as :func:`open_result` opens it.

    Examples
    --------
    >>> result = sgdsm_dask.reconstruct("box.zarr", "box_result.zarr")  # doctest: +SKIP
    """
    from .config import load_metadata
    from .errors import ConfigError
    from .pipeline import reconstruct_step, stderr_note
    from .reconstruction import ReconstructRequest

    if metadata is not None and export_to is None:
        raise ConfigError("metadata names the daily files' creator: give it with export_to (--export DIR)")
    if isinstance(metadata, (str, os.PathLike)):
        metadata = load_metadata(str(metadata))  # checked before a cluster starts
    req = ReconstructRequest(
        str(staged),
        str(out),
        checkpoint=None if checkpoint is None else str(checkpoint),
        time_chunk=time_chunk,
        space_chunk=space_chunk,
        overlap=overlap,
        uncertainty=uncertainty,
        prior_days=prior_days,
    )
    with _connection(client, connect) as c:
        summary = reconstruct_step(
            req,
            c,
            overwrite=overwrite,
            append=append,
            export_to=None if export_to is None else str(export_to),
            cog=cog,
            metadata=metadata,
            progress=_bars(progress),
            note=note or stderr_note,
        )
    if on_summary is not None:
        on_summary(summary)
    return open_result(req.out)


# --- fill: the chains of sgdsm reconstruct as a Dask graph over a cube --------------------------------------


def _grid(ds: xr.Dataset | xr.DataArray, who: str) -> tuple[xr.Dataset, bool]:
    """``ds`` as a Dataset of (time, lat, lon) variables, north first; and whether latitude had to be flipped."""
    from .errors import SgdsmError

    if isinstance(ds, xr.DataArray):
        ds = ds.to_dataset(name="sm")
    if "sm" not in ds:
        raise SgdsmError(f"{who}: the dataset has no 'sm' variable (it has {', '.join(map(str, ds.data_vars))})")
    if set(ds["sm"].dims) != {"time", "lat", "lon"}:
        raise SgdsmError(f"{who}: 'sm' has dimensions {ds['sm'].dims}; expected time, lat and lon")
    flip = ds.sizes["lat"] > 1 and float(ds["lat"][0]) < float(ds["lat"][-1])
    return (ds.isel(lat=slice(None, None, -1)) if flip else ds), flip


def _land(ds: xr.Dataset, who: str) -> np.ndarray:
    """The cube's ``land``, else the paper's land mask where the cube is a piece of the 0.25 deg grid."""
    from .errors import SgdsmError
    from .grid import locate
    from .readers.landmask import land_mask

    if "land" in ds:
        return np.asarray(ds["land"].transpose("lat", "lon").values).astype(bool)
    try:
        return land_mask(locate(ds["lat"].values, ds["lon"].values))
    except ValueError as exc:
        raise SgdsmError(f"{who}: the cube has no 'land' variable and is not on the 0.25 deg grid ({exc})") from None


def fill(
    ds: xr.Dataset | xr.DataArray,
    checkpoint: str | os.PathLike | None = None,
    *,
    time_chunk: int | None = None,
    space_chunk: int | None = None,
    overlap: int = DEFAULT_OVERLAP,
) -> xr.Dataset:
    """Fill the gaps of a soil-moisture cube with the LSTM-CNN: the numbers of ``sgdsm reconstruct``, as xarray.

    Each spatial block is a chain of Dask tasks along time, each task
    taking the LSTM state of the previous time chunk and handing its own on,
    as ``sgdsm reconstruct`` runs them (the result does not depend on the
    chunking). On a Dask-backed cube the result is lazy: nothing runs until
    it is computed, written (``to_zarr``) or plotted, on the current Dask
    scheduler; compute ``sm`` and ``flag`` together (``.compute()`` or
    ``.persist()`` the Dataset), not one after the other. A cube held in
    memory gives a result in memory.

    Parameters
    ----------
    ds
        ``sm`` (time, lat, lon; m3/m3, NaN in the gaps) as a DataArray, or a
        Dataset with ``sm`` and optionally ``precip`` (mm/day; NaN =
        unavailable; absent: no rain data), ``land`` (lat, lon; default: the
        paper's land mask where the cube is on the 0.25 deg grid) and
        ``day_status`` (a staged cube's: days not staged are not fed to the
        model, as ``sgdsm reconstruct`` does). :func:`open_staged` gives
        such a Dataset. Latitude may run either way.
    checkpoint
        The model's weights (default: the shipped checkpoint).
    time_chunk
        Days per task (default: the cube's Dask chunk along time, else 8).
    space_chunk
        Cells per side of a spatial block, a multiple of 40 (default: the
        cube's Dask chunk rounded up to whole patches, else one block).
    overlap
        Cells by which neighbouring patches overlap, blended (0: edge to edge, as the paper).

    Returns
    -------
    xarray.Dataset
        ``sm`` (float32, observed pixels as given, land gaps filled, NaN
        elsewhere), ``flag`` (int8: 0 observed, 1 reconstructed, 2 not
        reconstructed) and ``land``, on the input's coordinates; the
        checkpoint and settings in ``attrs``.

    Examples
    --------
    >>> cube = sgdsm_dask.open_staged("sgdsm-demo/staged.zarr")  # doctest: +SKIP
    >>> filled = sgdsm_dask.fill(cube).compute()  # doctest: +SKIP
    >>> filled["sm"].isel(time=-1).plot(vmin=0, vmax=0.5)  # doctest: +SKIP
    """
    import dask.array as da

    from . import __version__, cf
    from .reconstruction.graph import fill_arrays, layout_for
    from .staging.status import DayStatus
    from .training.checkpoint import load, resolve

    ds, flipped = _grid(ds, "fill")
    sm = ds["sm"].transpose("time", "lat", "lon")
    lazy = sm.chunks is not None
    land = _land(ds, "fill")
    path = resolve(checkpoint)  # a file, a shipped checkpoint's name, or the shipped default
    ck = load(path)
    days, rows, cols = sm.shape
    if time_chunk is None:
        time_chunk = int(sm.chunks[0][0]) if lazy else 8
    if space_chunk is None:
        cells = max(max(sm.chunks[1]), max(sm.chunks[2])) if lazy else max(rows, cols)
        space_chunk = -(-cells // PATCH) * PATCH
    lay = layout_for(ck, (days, rows, cols), time_chunk, space_chunk, overlap)

    sm_d = sm.data.astype(np.float32) if lazy else da.from_array(np.asarray(sm.values, np.float32), chunks=-1)
    if "precip" in ds:
        pr = ds["precip"].transpose("time", "lat", "lon")
        pr_d = pr.data.astype(np.float32) if pr.chunks is not None else da.from_array(pr.values.astype(np.float32))
    else:  # no rain data: NaN, as a staged cube without IMERG holds
        pr_d = da.full(sm.shape, np.nan, np.float32, chunks=sm_d.chunks)
    if "day_status" in ds:
        staged = np.asarray(ds["day_status"].values) == DayStatus.STAGED
    else:
        staged = np.ones(days, bool)
    filled, flag = fill_arrays(path, ck.sha256, lay, sm_d, pr_d, land, staged)
    coords = {"time": ds["time"], "lat": ds["lat"], "lon": ds["lon"]}
    out = xr.Dataset(
        {
            "sm": (sm.dims, filled, cf.sm("surface soil moisture, gaps filled by the SGD-SM 2.0 LSTM-CNN")),
            "flag": (sm.dims, flag, cf.flag()),
            "land": (("lat", "lon"), land),
        },
        coords=coords,
        attrs={
            "title": "sgdsm-dask reconstruction (SGD-SM 2.0 LSTM-CNN)",
            "checkpoint": path,
            "checkpoint_sha256": ck.sha256,
            "model": ck.config.name,
            "time_chunk": lay.time_chunk,
            "space_chunk": lay.space_chunk,
            "overlap": lay.overlap,
            "sgdsm_version": __version__,
        },
    )
    if flipped:
        out = out.isel(lat=slice(None, None, -1))
    return out if lazy else out.compute()


# --- scores ------------------------------------------------------------------------------------------------


def _scores(ev: Any, keep_fills: bool) -> xr.Dataset:
    """An :class:`~sgdsm_dask.validation.simulated.Evaluation` as a Dataset of scores."""
    from .validation.simulated import best_baseline

    first = ev.scores[0]
    methods = list(first.rmse)

    def table(scores: list[Any], dim: str) -> dict[str, tuple]:
        suffix = "" if dim == "pixels" else f"_by_{dim}"
        return {
            f"rmse{suffix}": (
                (dim, "fill_method"),
                [[s.rmse[m] for m in methods] for s in scores],
                {"units": "m3 m-3"},
            ),
            f"bias{suffix}": (
                (dim, "fill_method"),
                [[s.bias[m] for m in methods] for s in scores],
                {"units": "m3 m-3"},
            ),
            f"n{suffix}": ((dim,), [s.n for s in scores], {"long_name": "pixel-days scored"}),
        }

    data = table(ev.scores, "pixels")
    coords: dict[str, Any] = {"fill_method": methods, "pixels": [s.pixels for s in ev.scores]}
    if first.bands:
        data.update(table(first.bands, "band"))
        coords["band"] = [b.pixels for b in first.bands]
    if first.classes:
        data.update(table(first.classes, "climatology"))
        coords["climatology"] = [c.pixels for c in first.classes]
    space = ("lat", "lon")
    for name in ("lat", "lon"):
        if name in ev.coords:
            coords[name] = ev.coords[name]
    rmse_maps = ev.pixel_rmse()
    data["pixel_rmse"] = (("fill_method", *space), np.stack([rmse_maps[m] for m in methods]), {"units": "m3 m-3"})
    if keep_fills:
        cube = ("time", *space)
        if "time" in ev.coords:
            coords["time"] = ev.coords["time"]
        data["filled"] = (("fill_method", *cube), np.stack([ev.estimates[m] for m in methods]), {"units": "m3 m-3"})
        data["sm_in"] = (cube, ev.sm_in, {"long_name": "soil moisture with the scored pixels hidden"})
        data["scored"] = (cube, ev.scored, {"long_name": "hidden pixels that are scored"})
    best = best_baseline(first)
    attrs = {
        "table": ev.table(),
        "best_baseline": best or "",
        "choices": "; ".join(c.describe() for c in ev.choices.values()),
    }
    if best is not None and "LSTM-CNN" in first.rmse and first.rmse[best] > 0:
        attrs["ratio_to_best_baseline"] = first.rmse["LSTM-CNN"] / first.rmse[best]
    if first.seam is not None:
        attrs["seam_score"] = first.seam
    return xr.Dataset(data, coords=coords, attrs=attrs)


def evaluate(
    ds: xr.Dataset,
    checkpoint: str | os.PathLike | None = None,
    *,
    truth: xr.Dataset | xr.DataArray | str | os.PathLike | None = None,
    seed: int = 0,
    spin_up: int = 0,
    overlap: int = DEFAULT_OVERLAP,
    dct: bool = True,
    keep_fills: bool = False,
) -> xr.Dataset:
    """Hide observed pixels with other days' gaps, fill them with the model and the baselines, score them.

    The scores of ``sgdsm evaluate`` (the same numbers on the same cube):
    the LSTM-CNN against linear interpolation in time, per-pixel
    climatology, climatology plus the neighbours' anomaly and DCT-PLS, their
    parameters chosen on a second set of hidden pixels. The cube is read
    into memory.

    Parameters
    ----------
    ds
        A cube with ``sm`` (time, lat, lon), ``land`` and optionally
        ``precip``, north first: :func:`open_staged`, or a part of it
        (``.sel(lat=..., lon=...)``).
    checkpoint
        The model's weights (default: the shipped checkpoint).
    truth
        The gap-free truth (a synthetic archive's ``truth.zarr``, or its ``sm``):
        the real gaps are scored against it too.
    seed
        Seed of the hiding.
    spin_up
        Days filled but not scored (the model's state starts at zero on the first day).
    overlap
        Cells by which neighbouring patches overlap, blended.
    dct
        Include DCT-PLS (the slowest baseline).
    keep_fills
        Also return every method's filled cube (``filled``), the cube given
        to them (``sm_in``) and the scored pixels (``scored``), for maps and
        time series.

    Returns
    -------
    xarray.Dataset
        ``rmse`` and ``bias`` (pixels, fill_method) and ``n`` (pixels), per
        latitude band (``*_by_band``) and class of climatology
        (``*_by_climatology``), each pixel's RMSE (``pixel_rmse``: fill_method,
        lat, lon); ``attrs`` hold the Markdown ``table`` ``sgdsm evaluate``
        prints, the ``best_baseline``, the model's ``ratio_to_best_baseline``,
        the baselines' ``choices`` and the ``seam_score``.
        ``.rmse.to_pandas()`` is the table as a DataFrame.

    Examples
    --------
    >>> scores = sgdsm_dask.evaluate(sgdsm_dask.open_staged("sgdsm-demo/staged.zarr"))  # doctest: +SKIP
    >>> scores["rmse"].to_pandas()  # doctest: +SKIP
    >>> scores["pixel_rmse"].plot(col="fill_method")  # doctest: +SKIP
    """
    from .errors import SgdsmError
    from .model.fill import Filler
    from .training.checkpoint import load
    from .validation.simulated import evaluate_filler

    ds, flipped = _grid(ds, "evaluate")
    if flipped:
        raise SgdsmError("evaluate: latitude runs south to north; give the cube north first (.sortby('lat', False))")
    sm = np.asarray(ds["sm"].transpose("time", "lat", "lon").values, np.float32)
    land = _land(ds, "evaluate")
    precip = None
    if "precip" in ds:
        precip = np.asarray(ds["precip"].transpose("time", "lat", "lon").values, np.float32)
        if not np.isfinite(precip).any():
            precip = None
    tr = None
    if truth is not None:
        if isinstance(truth, (str, os.PathLike)):
            truth = _open(truth).sel(lat=ds["lat"], lon=ds["lon"], time=ds["time"])
        tr_da = truth["sm"] if isinstance(truth, xr.Dataset) else truth
        tr = np.asarray(tr_da.transpose("time", "lat", "lon").values, np.float32)
        if tr.shape != sm.shape:
            raise SgdsmError(f"evaluate: truth of shape {tr.shape} does not match the cube's {sm.shape}")
    filler = Filler.from_checkpoint(load(None if checkpoint is None else str(checkpoint)), overlap=overlap)
    lat = np.asarray(ds["lat"].values)
    ev = evaluate_filler(filler, sm, precip, land, lat, seed=seed, truth=tr, spin_up=spin_up, dct=dct)
    ev.coords = {"lat": lat, "lon": np.asarray(ds["lon"].values), "time": np.asarray(ds["time"].values)}
    return _scores(ev, keep_fills)


def validate(
    product: str | os.PathLike,
    ismn: str | os.PathLike,
    out: str | os.PathLike | None = None,
    *,
    max_depth: float = 0.1,
    sensor: str = "AMSR2",
) -> pd.DataFrame:
    """Score a reconstruction against ISMN in-situ stations (``sgdsm validate``, the paper's Table 1).

    Each station is matched to its pixel, its hourly readings around the
    descending overpass are averaged, and R, RMSE, MAE, ubRMSE, bias and N
    are computed for the observed and the reconstructed pixels apart.

    Parameters
    ----------
    product
        A result store (:func:`reconstruct`).
    ismn
        An ISMN download: its ``.zip`` or its folder.
    out
        Folder for the CSV, the Markdown table and the scatter plots
        (default: a new temporary folder).
    max_depth
        Deepest sensor end kept, in metres (the surface layer: 0.05).
    sensor
        ``"AMSR2"``, ``"AMSR-E"`` or ``"WindSat"``: sets the overpass time.

    Returns
    -------
    pandas.DataFrame
        One row per station and subset of pixels (``pixels``: observed,
        reconstructed, all), with the scores; ``attrs`` hold the folder
        (``out``), the ``markdown`` table, the ``plots`` and the stations
        left out (``skipped``).

    Examples
    --------
    >>> table = sgdsm_dask.validate("result.zarr", "ismn.zip")  # doctest: +SKIP
    >>> table.groupby("pixels")[["R", "RMSE", "MAE"]].mean()  # doctest: +SKIP
    """
    import pandas as pd

    from .validation.insitu import validate as insitu_validate

    folder = str(out) if out is not None else tempfile.mkdtemp(prefix="sgdsm-validate-")
    summary = insitu_validate(str(product), str(ismn), folder, max_depth=max_depth, sensor=sensor)
    table = pd.read_csv(summary["csv"])
    table.attrs = {"out": folder, **{k: summary[k] for k in ("markdown", "plots", "skipped")}}
    return table
