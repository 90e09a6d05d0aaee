"""The hiding and the baselines of ``sgdsm evaluate`` as lazy Dask arrays, for records larger than memory.

:mod:`.simulated`, :mod:`.baselines` and :mod:`.dctpls` work on whole
numpy cubes. The paper's record is 7115 x 720 x 1440 days x cells (about
29 GB per float32 variable), so the chunked evaluation chains these
functions instead: each takes and returns ``(time, lat, lon)`` float32
Dask arrays with NaN gaps, keeps the input's chunks (:func:`dct_pls`
excepted: it returns its own blocks) and needs, per task, one chunk (plus
a halo where a method looks at neighbours), never the whole record. On a
cube small enough to hold they give the numpy functions' numbers
(``tests/validation/test_lazy.py``): :func:`hide`, :func:`linear_in_time`
and :func:`climatology` bit for bit, :func:`pixel_climatology` and
:func:`neighbour_anomaly` to float round-off, :func:`dct_pls` bit for bit
when the cube is one block.

Linear interpolation needs, for every cell, the last observed day before
it and the next one after it: a forward and a backward fill across the
time chunks. A graph asking for both chains at once for the same output
chunk makes Dask hold one whole direction in memory, so it comes in two
steps the caller can stage through a store in between:
:func:`next_observed` (the backward chain) and :func:`linear_in_time`
(the forward chain and the combination). :func:`linear_in_time_all` chains
the two for cubes that fit.
"""

from __future__ import annotations

from itertools import product
from typing import Any

import dask.array as da
import numpy as np
from dask.array.reductions import cumreduction

from . import dctpls
from .simulated import other_days

#: The scan keys of :func:`next_observed` and :func:`linear_in_time`: ``day << 32 | float32 bits`` of the value.
_LOW = np.uint64(0xFFFFFFFF)
_SHIFT = np.uint64(32)
#: The backward scan's key where nothing is observed at or after a day (above any ``day << 32 | bits``).
_NONE_AFTER = np.uint64(np.iinfo(np.uint64).max)


def hide(sm: da.Array, land: np.ndarray, seed: int) -> tuple[da.Array, da.Array]:
    """:func:`.simulated.hide` of a Dask cube: ``(sm with pixels hidden, hidden mask)``, chunked as ``sm``.

    A pixel observed on day ``t`` is hidden where it is a gap on day
    ``u(t)`` (:func:`.simulated.other_days` with ``seed``) and on land. The
    observed mask of the days ``u(t)`` is the mask indexed along time by
    ``u``, one group of days per time chunk of ``sm``
    (:func:`dask.array.shuffle`), so an output chunk reads, from each input
    chunk, only the days it needs. (``obs[u]`` would do the same indexing
    but cut the result into chunks of ``T // n_chunks`` days, so that
    rechunking it back to ``sm``'s chunks reads days from a neighbour's
    pieces as well.)
    """
    import dask

    obs = da.isfinite(sm)
    u = other_days(sm.shape[0], seed)
    ends = np.cumsum((0, *sm.chunks[0]))
    with dask.config.set({"array.chunk-size-tolerance": 1.0}):  # one group per chunk: none merged
        other = obs.shuffle([u[a:b].tolist() for a, b in zip(ends[:-1], ends[1:], strict=True)], axis=0)
    hidden = obs & ~other & _spatial(land, sm)[None]
    return da.where(hidden, np.nan, sm).astype(np.float32), hidden


def pixel_climatology(sm: da.Array) -> da.Array:
    """:func:`.baselines.pixel_climatology` of a Dask cube: ``(lat, lon)`` float32, chunked as ``sm``'s cells.

    The mean of each pixel's observed days, summed in float64 over the time
    chunks (so it equals the numpy one to round-off); NaN where never observed.
    """
    obs = da.isfinite(sm)
    n = obs.sum(axis=0)
    total = da.where(obs, sm, 0.0).sum(axis=0, dtype=np.float64)
    return da.where(n > 0, total / da.maximum(n, 1), np.nan).astype(np.float32)


def climatology(sm: da.Array, clim: np.ndarray | da.Array) -> da.Array:
    """:func:`.baselines.climatology` of a Dask cube: its gaps filled with ``clim``, each pixel's mean.

    ``clim`` is ``(lat, lon)``, numpy or Dask (typically
    :func:`pixel_climatology` of ``sm``, computed or staged once).
    """
    return da.where(da.isfinite(sm), sm, _spatial(clim, sm)[None]).astype(np.float32)


def next_observed(sm: da.Array) -> tuple[da.Array, da.Array]:
    """Per cell and day, ``(value, day)`` of the next observed day at or after it: the backward half of the fill.

    ``value`` is float32 (NaN where the cell is not observed again),
    ``day`` int32, the index of that day in ``sm`` (``T = sm.shape[0]``
    where it is not observed again); both chunked as ``sm``. They come
    from one scan from the last time chunk to the first
    (:func:`dask.array.reductions.cumreduction` on the reversed cube, each
    chunk carrying on from the one after it), so a task holds one chunk
    and the carried day. Stage both in a store (or compute them together)
    before :func:`linear_in_time`, which runs the forward scan.
    """
    t = sm.shape[0]
    keys = sm.map_blocks(_observed_keys, first=0, none=_NONE_AFTER, dtype=np.uint64)
    scan = cumreduction(_earliest, np.minimum, _NONE_AFTER, keys[::-1], axis=0, dtype=np.uint64)[::-1]
    value = scan.map_blocks(_key_value, none=_NONE_AFTER, dtype=np.float32)
    day = scan.map_blocks(_key_day, none=_NONE_AFTER, days=t, dtype=np.int32)
    return value, day


def linear_in_time(sm: da.Array, next_value: da.Array, next_index: da.Array) -> da.Array:
    """:func:`.baselines.linear_in_time` of a Dask cube, given its :func:`next_observed`; chunked as ``sm``.

    Runs the forward scan (the last observed day at or before each day,
    each time chunk carrying on from the one before it) and, per chunk,
    the numpy function's arithmetic on the same dtypes: ``pv + (nv - pv) * w``
    with ``w`` the float64 ratio of the integer days, the nearest value held
    before the first and after the last observation, NaN where the pixel
    is never observed. So the result equals the numpy one bit for bit.
    """
    keys = sm.map_blocks(_observed_keys, first=1, none=np.uint64(0), dtype=np.uint64)
    last = cumreduction(_latest, np.maximum, np.uint64(0), keys, axis=0, dtype=np.uint64)
    nv, ni = next_value.rechunk(sm.chunks), next_index.rechunk(sm.chunks)
    return da.map_blocks(_interpolate, sm, last, nv, ni, days=sm.shape[0], dtype=np.float32)


def linear_in_time_all(sm: da.Array) -> da.Array:
    """:func:`linear_in_time` with its :func:`next_observed` in the same graph (cubes that fit in memory).

    Both scans then feed the same output chunks, so Dask holds one of
    them whole: for a long record stage :func:`next_observed` first.
    """
    return linear_in_time(sm, *next_observed(sm))


def neighbour_anomaly(sm: da.Array, clim: np.ndarray | da.Array, sigma: float, min_weight: float = 1e-3) -> da.Array:
    """:func:`.baselines.neighbour_anomaly` of a Dask cube, given its climatology; chunked as ``sm``.

    ``clim`` is ``(lat, lon)``, the cube's :func:`pixel_climatology` (the
    numpy function computes it from the cube it fills; here it is given so
    that it is computed, or staged, once). Each day's anomaly and weight
    are smoothed by the same Gaussian (``scipy.ndimage.gaussian_filter``,
    cut at 3 sigma, zero outside the grid) on each chunk grown by the
    filter's radius ``int(3 sigma + 0.5)`` along lat and lon
    (:func:`dask.array.map_overlap`, zeros beyond the grid's edges, no
    overlap in time), so a cell by a chunk border sees its real neighbours.
    Equal to the numpy fill to float round-off.
    """
    c = _spatial(clim, sm).astype(np.float64)[None]
    obs = da.isfinite(sm)
    a = da.where(obs, sm - c, 0.0)
    m = obs.astype(np.float64)
    radius = int(3.0 * float(sigma) + 0.5)
    smooth = {"depth": (0, radius, radius), "boundary": 0.0, "dtype": np.float64, "sigma": float(sigma)}
    # map_overlap rechunks a chunk thinner than the radius; come back to sm's chunks
    num = a.map_overlap(_gaussian_days, **smooth).rechunk(sm.chunks)
    den = m.map_overlap(_gaussian_days, **smooth).rechunk(sm.chunks)
    anomaly = da.where(den >= min_weight, num / da.maximum(den, min_weight), 0.0)
    return da.where(obs, sm, c + anomaly).astype(np.float32)


def dct_pls(
    sm: da.Array,
    s: float,
    r: float,
    block: tuple[int, int, int] = (32, 256, 256),
    halo: tuple[int, int, int] = (16, 32, 32),
) -> da.Array:
    """DCT-PLS on a moving window in time and space: each block filled with its halo, in memory bounded per block.

    The cube is cut into blocks of ``block`` (days, rows, columns; the last
    of each axis shorter). Each block is :func:`.dctpls.dct_pls_axes` with
    smoothing ``s`` and time weight ``r`` of the block plus ``halo`` days and
    cells on every side (cut at the grid's edges, nothing padded beyond
    them), trimmed back to the block. A task holds one window, whatever the
    length of the record. The result is chunked by ``block``, not as ``sm``.
    ESA CCI SM GAPFILLED (Preimesberger et al. 2025, Earth Syst. Sci. Data
    17, 4305) likewise applies DCT-PLS on a spatial moving window.

    When the cube is one block this is :func:`.dctpls.dct_pls_axes` of the
    whole cube, bit for bit. Otherwise a block's fill sees only its halo,
    not the whole cube, and differs a little from the whole-cube fill, the
    more so the farther the smoothing reaches. On the test cube of
    ``tests/validation/test_lazy.py`` (48 days x 40 x 56 cells of smooth
    waves, spread 0.037 m3/m3, 36 % gaps) in blocks of 16 x 16 x 24 with
    halos of 8, the gap cells differ from the whole-cube fill by RMS 1.4e-5
    and at most 2.0e-4 with ``s = 1, r = 1``; by RMS 8.7e-4 and at most
    3.2e-3 with ``s = 10, r = 3``; by RMS 3.2e-3 and at most 0.021 with
    ``s = 1, r = 30`` (strong smoothing in time wants a longer time halo).
    Observed cells are passed through unchanged; a window with nothing
    observed comes out NaN.

    :func:`dask.array.map_overlap` is not used: it rechunks an array whose
    last chunk is thinner than the halo (40 days in blocks of 32 with a
    halo of 16 become 24 + 16), which would move the blocks. Each window is
    a slice of ``sm`` instead (Dask reads only the chunks it touches).
    """
    import dask

    fill = dask.delayed(_fill_window, pure=True)
    axes = [_windows(n, b, h) for n, b, h in zip(sm.shape, block, halo, strict=True)]
    out = np.empty(tuple(len(a) for a in axes), dtype=object)
    for k in product(*(range(len(a)) for a in axes)):
        window, trim, shape = zip(*(axes[d][i] for d, i in enumerate(k)), strict=True)
        out[k] = da.from_delayed(fill(sm[window], trim, s, r), shape, np.float32)
    return da.block(out.tolist())


def _spatial(field: np.ndarray | da.Array, sm: da.Array) -> da.Array:
    """A ``(lat, lon)`` field as a Dask array chunked as ``sm``'s cells."""
    if isinstance(field, da.Array):
        return field.rechunk(sm.chunks[1:])
    return da.from_array(np.asarray(field), chunks=sm.chunks[1:])


def _observed_keys(
    block: np.ndarray, first: int, none: np.uint64, block_info: dict[Any, Any] | None = None
) -> np.ndarray:
    """Per cell, ``day << 32 | bits`` where observed, ``none`` where not; days counted from ``first`` on the cube.

    The forward scan counts from 1, so that its ``none`` (0) sorts below
    every observation, the backward one from 0, its ``none`` above all:
    the running max or min of the keys carries the latest or earliest
    observed day and its float32 value together, bit for bit.
    """
    assert block_info is not None
    t0 = block_info[0]["array-location"][0][0] + first
    day = np.arange(t0, t0 + block.shape[0], dtype=np.uint64)[:, None, None]
    bits = np.ascontiguousarray(block, np.float32).view(np.uint32).astype(np.uint64)
    return np.where(np.isfinite(block), (day << _SHIFT) | bits, none)


def _latest(block: np.ndarray, axis: int) -> np.ndarray:
    """The forward scan within a time chunk: the latest observation at or before each day."""
    return np.maximum.accumulate(block, axis=axis)


def _earliest(block: np.ndarray, axis: int) -> np.ndarray:
    """The backward scan within a (reversed) time chunk: the earliest observation at or after each day."""
    return np.minimum.accumulate(block, axis=axis)


def _key_value(key: np.ndarray, none: np.uint64) -> np.ndarray:
    """The float32 value of a scan key (NaN for ``none``)."""
    value = (key & _LOW).astype(np.uint32).view(np.float32)
    return np.where(key == none, np.float32(np.nan), value)


def _key_day(key: np.ndarray, none: np.uint64, days: int) -> np.ndarray:
    """The day of a backward scan key (``days`` for ``none``), int32."""
    return np.where(key == none, days, key >> _SHIFT).astype(np.int32)


def _interpolate(
    y: np.ndarray,
    last: np.ndarray,
    nv: np.ndarray,
    ni: np.ndarray,
    days: int,
    block_info: dict[Any, Any] | None = None,
) -> np.ndarray:
    """One chunk of :func:`linear_in_time`: :func:`.baselines.linear_in_time`'s combination, same dtypes and order."""
    assert block_info is not None
    t0 = block_info[0]["array-location"][0][0]
    idx = np.arange(t0, t0 + y.shape[0])[:, None, None]
    prev_i = (last >> _SHIFT).astype(np.int64) - 1  # -1: nothing observed before
    next_i = ni.astype(np.int64)
    pv = (last & _LOW).astype(np.uint32).view(np.float32)
    nv = np.asarray(nv, np.float32)
    has_prev, has_next = prev_i >= 0, next_i < days
    span = np.maximum(next_i - prev_i, 1)
    w = (idx - prev_i) / span
    both = pv + (nv - pv) * w
    out = np.where(has_prev & has_next, both, np.where(has_prev, pv, nv))
    out = np.where(has_prev | has_next, out, np.nan)
    return np.where(np.isfinite(y), y, out).astype(np.float32)


def _gaussian_days(block: np.ndarray, sigma: float) -> np.ndarray:
    """Each day of ``block`` smoothed by :func:`.baselines.neighbour_anomaly`'s Gaussian (zero outside)."""
    from scipy.ndimage import gaussian_filter

    return gaussian_filter(block, sigma=(0.0, sigma, sigma), mode="constant", cval=0.0, truncate=3.0)


def _windows(n: int, size: int, halo: int) -> list[tuple[slice, slice, int]]:
    """Per block of ``size`` along an axis of ``n``: its window (``halo`` more each side, within the axis),
    the block's place in the window, and its length."""
    out = []
    for a in range(0, n, size):
        b = min(a + size, n)
        lo, hi = max(a - halo, 0), min(b + halo, n)
        out.append((slice(lo, hi), slice(a - lo, b - lo), b - a))
    return out


def _fill_window(window: np.ndarray, trim: tuple[slice, ...], s: float, r: float) -> np.ndarray:
    """One block of :func:`dct_pls`: the fill of its window, trimmed to the block."""
    return dctpls.dct_pls_axes(window, s, r)[trim]
