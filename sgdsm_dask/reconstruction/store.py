"""The result store: created from a template, resumed or appended to, written a chunk at a time.

Its top level holds the product only: ``sm``, ``flag``, ``land``,
:data:`GAP_VARS` (the uncertainty and gap provenance of each value), the
grid's coordinates and the attributes (provenance, the fitted sigma), so
``xr.open_zarr(path)`` shows what a user wants. What the model needs to
resume and the user does not lives in the subgroup ``model/``
(:data:`MODEL_GROUP`, :func:`model_vars`): the LSTM state at the end of
each time chunk of each block (``state_h``, ``state_c`` and, for
configurations with a memory map, ``state_memory``), the ``done`` markers,
the pixel scale ``sm_std`` and the 'anomaly' network's prior
(``sm_prior``, ``n_observed``); it is read and written here only
(:func:`open_model`, :func:`read_done`, :func:`read_state`,
:func:`read_prior`, :func:`read_scale`, :func:`write_chunk`).

Every task writes its days of the product, then its state, then its
``done`` marker, last (:func:`write_chunk`). A run started again skips
finished chunks and starts each chain from the state stored at its last
finished chunk (:func:`read_state`), so the result is the same as one
uninterrupted run. Where the store may be written at all is
:mod:`sgdsm_dask.io.outputs`' rule; a store from before ``model/`` existed
is refused in one line (:func:`model_group`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from .. import __version__, cf
from ..errors import InputError
from ..flags import Flag
from ..grid import PATCH
from ..io import outputs, zarr_store
from ..model.fill import PatchState
from ..paths import local_or_url
from ..uncertainty import attrs
from .layout import Layout
from .provenance import Provenance, stored

if TYPE_CHECKING:
    from .task import ChunkKey

STATE_DIMS = ("boundary", "block_y", "block_x", "patch_y", "patch_x")
#: Per-day variables beside ``sm`` and ``flag``: sigma of each value and how deep in a gap it lies.
GAP_VARS = ("sm_uncertainty", "days_since_observed", "distance_to_observed")
#: The store attribute holding the :class:`~sgdsm_dask.uncertainty.SigmaModel` fitted on the cube (JSON).
SIGMA_ATTR = "sm_uncertainty_model"
#: The subgroup holding what the model needs and the user does not (:func:`model_vars`); the top level is the product.
MODEL_GROUP = "model"
#: Arrays at the top level of a result store written before :data:`MODEL_GROUP` existed (older sgdsm-dask).
_TOP_LEVEL_INTERNALS = ("done", "state_h", "state_c")


def model_group(path: str, root: Any) -> Any:
    """The :data:`MODEL_GROUP` of the result store ``path`` (``root``: its open root group); one line otherwise.

    A store written before the model's internals had their own group holds
    them beside the product: it is named as such, never read as if empty.
    """
    if MODEL_GROUP in root:
        return root[MODEL_GROUP]
    if any(name in root for name in _TOP_LEVEL_INTERNALS):
        raise InputError(
            path,
            "is a reconstruction store written by an older sgdsm-dask (the model's state at its top level, "
            f"not in {MODEL_GROUP}/): this version cannot resume, append to or export it; "
            "reconstruct the staged cube again (into a new --out, or this one with --overwrite)",
        )
    raise InputError(path, f"has no {MODEL_GROUP}/ group: not a whole reconstruction store of sgdsm reconstruct")


def open_model(path: str, mode: str = "r") -> Any:
    """The open ``model`` group of the result store ``path`` (:func:`model_group`)."""
    return model_group(path, zarr_store.open_group(path, mode=mode))


def read_done(path: str) -> np.ndarray:
    """``done[k, bi, bj]`` of the result store ``path``: whether time chunk ``k`` of block ``(bi, bj)`` is written."""
    return np.asarray(open_model(path)["done"][...])


def read_prior(model: Any, rows: slice, cols: slice) -> tuple[np.ndarray, np.ndarray]:
    """The 'anomaly' network's prior (0 off land) and count of observations over ``rows``, ``cols``."""
    return np.nan_to_num(np.asarray(model["sm_prior"][rows, cols])), np.asarray(model["n_observed"][rows, cols])


def read_scale(model: Any, rows: slice = slice(None), cols: slice = slice(None)) -> np.ndarray:
    """``sm_std``, each pixel's scale of ``sm_uncertainty`` (NaN: fewer than 3 observations), over ``rows``, ``cols``."""
    return np.asarray(model["sm_std"][rows, cols])


@dataclass(frozen=True)
class ResultStore:
    """A result store claimed for one reconstruction: its path, layout and provenance (with its ``store_id``)."""

    path: str
    layout: Layout
    provenance: Provenance
    claimed: outputs.Resumable

    @classmethod
    def claim(
        cls, path: str, layout: Layout, provenance: Provenance, *, overwrite: bool = False, append: bool = False
    ) -> ResultStore:
        """Claim ``path`` for ``provenance``'s request (:class:`outputs.Resumable`); nothing is written yet.

        A store resumed or appended to keeps its ``store_id``; a new or
        overwritten one draws one (export folders tell stores by it).
        """
        claimed = outputs.Resumable.claim(path, "result", provenance.fingerprint(), overwrite=overwrite and not append)
        kept = None
        if claimed.state != "create":  # a store from before model/ is one line here, before anything is written
            model_group(path, zarr_store.open_group(path, mode="r"))
            kept = stored(zarr_store.read_attrs(path))
        return cls(path, layout, provenance.with_store_id(kept), claimed)

    def prepare(self, staged: str, append: bool) -> int:
        """Refuse another request's store (unless appending), create or grow it; the days appended."""
        if not append:
            self.claimed.refuse_other(
                "store holds a reconstruction of another request (checkpoint, staged cube or chunks); "
                "choose another --out, pass --overwrite, or --append for new days"
            )
        if self.claimed.create(lambda: template(staged, self.layout, self.provenance)):
            return 0
        return self._append(staged) if append else 0

    def done(self) -> np.ndarray:
        """``done[k, bi, bj]``: whether time chunk ``k`` of block ``(bi, bj)`` is written."""
        return read_done(self.path)

    def _append(self, staged: str) -> int:
        """Grow the store to the staged cube's days; return how many days were added.

        The days already reconstructed must be the first days of the staged
        cube, with the same checkpoint, chunks and prior. The last time chunk,
        if it was short, and every chunk with a provisional day
        (:meth:`~.layout.Layout.first_to_redo`) are marked unfinished, so that
        they are redone over the grown record from the state stored before
        them: the values are those of one run.
        """
        lay, out = self.layout, self.path
        changed = self.provenance.changed_for_append(stored(zarr_store.read_attrs(out)))
        if changed:  # a store from before overlap was recorded has 4-D states: no append
            raise InputError(out, "cannot append: {} was {!r}, now {!r}".format(*changed))
        g = zarr_store.open_group(out)
        model = model_group(out, g)
        s = zarr_store.open_group(staged, mode="r")
        if g["time"].attrs.get("units") != s["time"].attrs.get("units"):
            raise InputError(staged, "time is encoded differently from the reconstruction's; cannot append")
        t_old, t_new = g["time"][:], s["time"][:]
        n0 = t_old.size
        if t_new.size < n0 or not np.array_equal(t_new[:n0], t_old):
            raise InputError(staged, f"its first {n0} days are not the days already in {out}; cannot append")
        if not (np.array_equal(g["lat"][:], s["lat"][:]) and np.array_equal(g["lon"][:], s["lon"][:])):
            raise InputError(staged, f"its grid differs from {out}'s; cannot append")
        if t_new.size == n0:  # nothing new, or an append stopped after growing the store: its provenance is due
            zarr_store.update_attrs(out, self.provenance.attrs())
            return 0
        nb_old = -(-n0 // lay.time_chunk)
        with zarr_store.writing(out):
            # The chunks to redo are unmarked first, so that a write failing below cannot leave a chunk
            # that must be redone marked as done.
            model["done"][lay.first_to_redo(n0) : nb_old] = 0
            g["time"].resize((lay.days,))
            g["time"][n0:] = t_new[n0:]
            for name in ("sm", "flag", *(v for v in GAP_VARS if v in g)):  # none with --no-uncertainty
                g[name].resize((lay.days, lay.rows, lay.cols))
            for name in ["state_h", "state_c", "done"] + (["state_memory"] if lay.memory else []):
                model[name].resize((lay.n_chunks,) + model[name].shape[1:])
            model["done"][nb_old:] = 0
        zarr_store.consolidate(out)  # the new shapes, for xr.open_zarr
        # last: until then a plain run refuses the store and --append resumes it
        zarr_store.update_attrs(out, self.provenance.attrs())
        return lay.days - n0


def _state_vars(lay: Layout) -> dict[str, tuple]:
    """The LSTM state of every block at the end of every time chunk, and the ``done`` markers."""
    nby, nbx = lay.n_blocks
    ky, kx, nb = *lay.patches_per_block, lay.n_chunks
    shape, chunks = (nb, nby, nbx, ky, kx, lay.hidden), (1, 1, 1, ky, kx, lay.hidden)
    data = {
        f"state_{x.lower()}": (
            (*STATE_DIMS, "hidden"),
            zarr_store.lazy(shape, chunks, np.float32, 0.0),
            {"long_name": f"LSTM {x} of each patch of each block at the end of each time chunk"},
        )
        for x in ("h", "C")
    }
    data["done"] = (
        ("boundary", "block_y", "block_x"),
        zarr_store.lazy((nb, nby, nbx), (1, 1, 1), np.int8, 0),
        {"long_name": "1 when the time chunk of the block is written (written last)"},
    )
    if lay.memory:
        data["state_memory"] = (
            (*STATE_DIMS, "memory", "py", "px"),
            zarr_store.lazy((*shape[:5], 2, PATCH, PATCH), (*chunks[:5], 2, PATCH, PATCH), np.float32, 0.0),
            {"long_name": "decayed mean of past observations (normalised) and its weight, per pixel"},
        )
    return data


def _prior_vars(staged: xr.Dataset, sigma: float) -> dict[str, tuple]:
    """Each pixel's prior over the ``staged`` days given and its count of observations (the 'anomaly' network's).

    One pass over the cube (on the cluster when there is one); the tasks read
    the result from the store, so every time chunk corrects the same prior.
    """
    import dask

    from ..model.anomaly import prior_from_sums

    sm = staged["sm"]
    n, total = dask.compute(sm.notnull().sum("time").data, sm.fillna(0.0).sum("time", dtype=np.float64).data)
    land = staged["land"].values.astype(bool)
    prior, count = prior_from_sums(total, n, land, sigma)
    return {
        "sm_prior": (
            ("lat", "lon"),
            np.where(land, prior, np.nan).astype(np.float32),
            {
                "long_name": "mean of the observations of each pixel over the record (else its neighbours')",
                "units": "m3 m-3",
            },
        ),
        "n_observed": (("lat", "lon"), count.astype(np.int32), {"long_name": "days observed in the record"}),
    }


def _scale_var(staged: xr.Dataset) -> dict[str, tuple]:
    """Each pixel's standard deviation of its observations over the staged record (sigma's pixel scale).

    One pass over the cube at creation; an append keeps it (and the fitted
    sigma), so the values of days already written never change.
    """
    import dask

    from ..uncertainty.calibration import pixel_scale

    sm = staged["sm"]
    obs = sm.fillna(0.0).astype(np.float64)
    n, total, sq = dask.compute(sm.notnull().sum("time").data, obs.sum("time").data, (obs**2).sum("time").data)
    land = staged["land"].values.astype(bool)
    std = pixel_scale(total, sq, n)
    return {
        "sm_std": (
            ("lat", "lon"),
            np.where(land, std, np.nan).astype(np.float32),
            {
                "long_name": "standard deviation of the observations of each pixel over the record "
                "(NaN: fewer than 3; sm_uncertainty takes the land median there): the pixel scale of sm_uncertainty",
                "units": "m3 m-3",
            },
        )
    }


def _gap_vars(lay: Layout) -> dict[str, tuple]:
    """``sm_uncertainty``, ``days_since_observed`` and ``distance_to_observed``, chunked like ``sm``."""
    cube, chunks = (lay.days, lay.rows, lay.cols), (lay.time_chunk, lay.space_chunk, lay.space_chunk)
    return {
        "sm_uncertainty": (
            ("time", "lat", "lon"),
            zarr_store.lazy(cube, chunks, np.float32, np.nan),
            attrs.sm_uncertainty(),
        ),
        "days_since_observed": (
            ("time", "lat", "lon"),
            zarr_store.lazy(cube, chunks, np.int16, -1),
            attrs.days_since_observed(),
        ),
        "distance_to_observed": (
            ("time", "lat", "lon"),
            zarr_store.lazy(cube, chunks, np.int8, -1),
            attrs.distance_to_observed(),
        ),
    }


def template(staged_path: str, lay: Layout, provenance: Provenance) -> xr.DataTree:
    """The result store's template: the product at the top level, the model's internals in ``model/``.

    The top level: ``sm``, ``flag``, the staged land mask and
    :data:`GAP_VARS`, on the grid's coordinates, with the provenance; the
    ``model`` group: :func:`model_vars`.
    """
    staged = xr.open_zarr(local_or_url(staged_path), consolidated=False)
    cube = (lay.days, lay.rows, lay.cols)
    tc, sc = lay.time_chunk, lay.space_chunk
    data = {
        "sm": (
            ("time", "lat", "lon"),
            zarr_store.lazy(cube, (tc, sc, sc), np.float32, np.nan),
            cf.sm("surface soil moisture, gaps filled by the SGD-SM 2.0 LSTM-CNN"),
        ),
        "flag": (
            ("time", "lat", "lon"),
            zarr_store.lazy(cube, (tc, sc, sc), np.int8, int(Flag.NOT_FILLED)),
            cf.flag(),
        ),
        "land": staged["land"].reset_coords(drop=True).load(),  # the grid's coordinates come from cf.grid
        **(_gap_vars(lay) if provenance.uncertainty else {}),  # not with --no-uncertainty
    }
    time = staged["time"].variable.copy(deep=False)  # the staged cube's encoding, which --append compares
    time.attrs = cf.time()
    ds = xr.Dataset(
        data,
        coords={"time": time, **cf.grid(staged["lat"].values, staged["lon"].values)},
        attrs={
            "title": "sgdsm-dask reconstruction (SGD-SM 2.0 LSTM-CNN)",
            "Conventions": "CF-1.8",
            "sgdsm_version": __version__,
            **provenance.attrs(),
        },
    )
    for name in ("sm", "flag", *GAP_VARS):
        if name in ds:
            ds[name].encoding["chunks"] = (tc, sc, sc)
    for name in ("days_since_observed", "distance_to_observed"):
        if name in ds:
            ds[name].encoding["_FillValue"] = -1
    for var in (ds.variables[name] for name in ds.data_vars):
        if {"lat", "lon"} <= set(var.dims):
            var.attrs["grid_mapping"] = cf.GRID_MAPPING
    return xr.DataTree.from_dict({"/": ds, MODEL_GROUP: model_vars(staged, lay, provenance.uncertainty)})


def model_vars(staged: xr.Dataset, lay: Layout, uncertainty: bool = True) -> xr.Dataset:
    """The ``model`` group: the LSTM states, the ``done`` markers, ``sm_std`` and the 'anomaly' network's prior.

    Dimensions ``lat`` and ``lon`` are the top level's (no coordinates of
    their own); the others (``boundary``, ``block_y``, ``hidden``, ...)
    exist only here.
    """
    data = {
        **(_scale_var(staged) if uncertainty else {}),  # sigma's pixel scale
        **_state_vars(lay),
        **(_prior_vars(staged.isel(time=slice(0, lay.prior_days)), lay.prior_sigma) if lay.prior_sigma else {}),
    }
    ds = xr.Dataset(
        data,
        attrs={
            "title": "what sgdsm reconstruct keeps to resume and append: not part of the product",
            "comment": "LSTM state of each block at the end of each time chunk, the done markers (written last), "
            "each pixel's scale of sm_uncertainty and, for the anomaly network, its prior over the record",
        },
    )
    ds["done"].encoding["chunks"] = (1, 1, 1)
    for name in ("state_h", "state_c", "state_memory"):
        if name in ds:
            ds[name].encoding["chunks"] = ds[name].data.chunksize
            ds[name].encoding["compressors"] = None  # model state does not compress; not trying saves time
    return ds


def _state_sel(lay: Layout, key: ChunkKey) -> tuple[slice, ...]:
    ky, kx = lay.block_patches(*key.block)
    k, bi, bj = key.chunk, key.block_y, key.block_x
    return slice(k, k + 1), slice(bi, bi + 1), slice(bj, bj + 1), slice(0, ky), slice(0, kx)


def read_state(model: Any, lay: Layout, key: ChunkKey) -> PatchState:
    """The state stored at the end of ``key``'s chunk (``model``: the store's open ``model`` group)."""
    sel = _state_sel(lay, key)
    h = np.asarray(model["state_h"][sel])[0, 0, 0]
    c = np.asarray(model["state_c"][sel])[0, 0, 0]
    y = np.asarray(model["state_memory"][sel])[0, 0, 0] if lay.memory else None
    return PatchState(h, c, y)


def write_chunk(
    path: str,
    dst: Any,
    model: Any,
    lay: Layout,
    key: ChunkKey,
    sm: np.ndarray,
    flag: np.ndarray,
    state: PatchState,
    gaps: dict[str, np.ndarray] | None = None,
) -> None:
    """Write ``key``'s days of ``sm``, ``flag`` and ``gaps`` (:data:`GAP_VARS`), its end state, its ``done`` marker last.

    ``dst`` is the store's open root group, ``model`` its ``model`` group.
    The ``done`` marker is the commit: the next chunk of the block reads the
    last day's ``days_since_observed`` back once it is set.
    """
    rows, cols = lay.cells(*key.block)
    t0, t1 = lay.chunk_days(key.chunk)
    sel = _state_sel(lay, key)
    k, bi, bj = key.chunk, key.block_y, key.block_x
    with zarr_store.writing(path):
        dst["sm"][t0:t1, rows, cols] = sm
        dst["flag"][t0:t1, rows, cols] = flag
        for name, values in (gaps or {}).items():
            dst[name][t0:t1, rows, cols] = values
        model["state_h"][sel] = state.h[None, None, None]
        model["state_c"][sel] = state.c[None, None, None]
        if lay.memory:
            mem = state.y if state.y is not None else np.zeros(state.h.shape[:2] + (2, PATCH, PATCH), np.float32)
            model["state_memory"][sel] = mem[None, None, None]
        model["done"][k : k + 1, bi : bi + 1, bj : bj + 1] = np.ones((1, 1, 1), np.int8)  # last: the commit
