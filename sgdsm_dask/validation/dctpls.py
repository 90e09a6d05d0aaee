"""DCT-PLS gap filling: Garcia's penalised least squares solved with the discrete cosine transform.

The method behind ESA CCI SM GAPFILLED (Preimesberger et al. 2025, Earth
Syst. Sci. Data). For data ``y`` on a regular grid (here time x lat x lon)
with weights ``W`` (1 observed, 0 gap), the smooth field ``z`` minimises

    ||W^(1/2) (y - z)||^2 + s ||(r D_t + D_lat + D_lon) z||^2,

with ``D_d`` the second difference along axis ``d``, ``s`` the smoothing
and ``r`` the weight of time against space (``r = 1``: the same smoothing
along every axis). Garcia (2010, Comput. Stat. Data Anal. 54, 1167-1178)
solves it by the iteration

    z <- IDCT( Gamma * DCT( W (y - z) + z ) ),
    Gamma = 1 / (1 + s (r Lambda_t + Lambda_lat + Lambda_lon)^2),

where ``Lambda_d = 2 cos(pi i_d / n_d) - 2`` are the eigenvalues of ``D_d``
in the DCT-II basis, with an over-relaxation factor of 1.75 for weighted
data (as in his ``smoothn``). ``s`` is walked down a logarithmic grid, each
``s`` started from the previous solution (:func:`dct_pls_path`): 60
iterations at the first, 15 at each next one. The fill at ``(s, r)``
(:func:`dct_pls_axes`) is the end of that walk, so a tuner that scores
every ``s`` of the walk scores exactly the fill it will later make.

``sgdsm evaluate`` chooses ``s`` and ``r`` on a second set of hidden
pixels (``tuning.py``). :func:`dct_pls` keeps Garcia's generalised
cross-validation, ``GCV(s) = (RSS / n_observed) / (1 - Tr(H) / n)^2`` with
``Tr(H) = sum Gamma`` and ``n`` every cell. On a cube that is mostly
gaps (ocean, swaths: 9 % observed on the real Americas cubes) the RSS of
the few observed cells falls toward 0 faster than the denominator as ``s``
shrinks, so GCV picks the smallest ``s`` of its grid there.

Written here with ``scipy.fft`` (pytesmo's implementation pulls in its
whole grid and I/O stack).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import fft

#: The grid of smoothing parameters tried by GCV (from smooth to detailed).
S_GRID = tuple(10.0 ** np.arange(3.0, -1.5, -0.5))
#: The walk of :func:`dct_pls_path` in ``sgdsm evaluate``: 10^3 down to 10^-3 in half decades.
S_AXES_GRID = tuple(10.0 ** np.arange(3.0, -3.25, -0.5))
#: The weights of time against space tried by ``sgdsm evaluate`` (about half decades).
R_GRID = (0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0, 3000.0)
#: Cells kept around the observations when the walk crops the grid (:func:`dct_pls_path`).
MARGIN = 10


@dataclass
class DctPlsFit:
    """The filled array, the chosen ``s`` and the GCV score of every ``s`` tried."""

    filled: np.ndarray
    s: float
    gcv: dict[float, float]


def eigenvalues(shape: tuple[int, ...], weights: Sequence[float] | None = None) -> np.ndarray:
    """``sum_d w_d Lambda_d``: the weighted second-difference eigenvalues, in DCT-II order (weights 1 by default)."""
    weights = [1.0] * len(shape) if weights is None else list(weights)
    lam = np.zeros(shape, np.float64)
    for axis, (n, w) in enumerate(zip(shape, weights, strict=True)):
        view = [1] * len(shape)
        view[axis] = n
        lam = lam + (w * (2.0 * np.cos(np.pi * np.arange(n) / n) - 2.0)).reshape(view)
    return lam


def _solve(y0: np.ndarray, w: np.ndarray, z: np.ndarray, gamma: np.ndarray, iters: int, tol: float) -> np.ndarray:
    relax = 1.75
    for _ in range(iters):
        new = fft.idctn(gamma * fft.dctn(w * (y0 - z) + z, norm="ortho"), norm="ortho")
        new = relax * new + (1.0 - relax) * z
        change = np.linalg.norm(new - z) / max(float(np.linalg.norm(new)), 1e-12)
        z = new
        if change < tol:
            break
    return z


def dct_pls(
    y: np.ndarray,
    s: float | None = None,
    *,
    s_grid: tuple[float, ...] = S_GRID,
    iters: int = 60,
    warm_iters: int = 15,
    tol: float = 1e-4,
) -> DctPlsFit:
    """Fill the NaNs of ``y`` (any number of dimensions); observed values are returned unchanged.

    With ``s`` given, that smoothing is used; otherwise GCV picks it from
    ``s_grid``. Where nothing is observed at all the result is all NaN.
    """
    w = np.isfinite(y)
    n_obs = int(w.sum())
    if n_obs == 0:
        return DctPlsFit(np.full(y.shape, np.nan, np.float32), float("nan"), {})
    wf = w.astype(np.float64)
    y0 = np.where(w, y, 0.0).astype(np.float64)
    z = np.where(w, y0, y0.sum() / n_obs)  # start from the mean in the gaps
    lam2 = eigenvalues(y.shape) ** 2
    grid = (s,) if s is not None else s_grid
    best, scores = None, {}
    for k, s_k in enumerate(grid):
        gamma = 1.0 / (1.0 + s_k * lam2)
        z = _solve(y0, wf, z, gamma, iters if k == 0 else warm_iters, tol)
        rss = float(np.sum(wf * (y0 - z) ** 2))
        scores[float(s_k)] = rss / n_obs / (1.0 - gamma.sum() / y.size) ** 2
        if best is None or scores[float(s_k)] < scores[best[0]]:
            best = (float(s_k), z)
    assert best is not None
    filled = np.where(w, y, best[1]).astype(np.float32)
    return DctPlsFit(filled, best[0], scores)


def _crop(obs: np.ndarray, margin: int | None) -> tuple[slice, ...]:
    """The box of the spatial axes holding every observed cell, ``margin`` cells wider (all of it with None).

    Each side is then widened to a length the FFT is fast at (a 254 x 507
    box takes 2.5 times as long as 256 x 510), within the grid.
    """
    box = [slice(None)]
    for axis in range(1, obs.ndim):
        n = obs.shape[axis]
        seen = np.flatnonzero(obs.any(axis=tuple(a for a in range(obs.ndim) if a != axis)))
        if margin is None or not seen.size:
            box.append(slice(None))
            continue
        lo, hi = max(int(seen[0]) - margin, 0), min(int(seen[-1]) + margin + 1, n)
        size = fft.next_fast_len(hi - lo, real=True)
        if size >= n:
            box.append(slice(None))
            continue
        hi = min(lo + size, n)
        box.append(slice(hi - size, hi))
    return tuple(box)


def dct_pls_path(
    y: np.ndarray,
    s_grid: Sequence[float],
    time_weight: float = 1.0,
    *,
    iters: int = 60,
    warm_iters: int = 15,
    tol: float = 1e-4,
    margin: int | None = MARGIN,
) -> Iterator[tuple[float, np.ndarray]]:
    """Yield ``(s, filled)`` for each ``s`` of ``s_grid`` in turn, each solve started from the previous one.

    ``y`` is (time, ...) with NaN gaps; ``time_weight`` is ``r`` of the
    module docstring (axis 0 is time). Observed values are returned
    unchanged. The transform runs, in float32, on the box of the grid that
    holds the observations plus ``margin`` cells (None: the whole grid);
    cells outside it are left NaN (nothing is observed near them, so
    nothing there can be scored). Nothing observed: nothing is yielded.
    """
    obs = np.isfinite(y)
    if not obs.any():
        return
    box = _crop(obs, margin)
    w = obs[box]
    wf = w.astype(np.float32)
    y0 = np.where(w, y[box], 0.0).astype(np.float32)
    z = np.where(w, y0, np.float32(y0.sum(dtype=np.float64) / w.sum()))  # start from the mean in the gaps
    lam2 = eigenvalues(w.shape, [time_weight] + [1.0] * (w.ndim - 1)) ** 2
    for k, s in enumerate(s_grid):
        gamma = (1.0 / (1.0 + s * lam2)).astype(np.float32)
        z = _solve(y0, wf, z, gamma, iters if k == 0 else warm_iters, tol)
        filled = np.full(y.shape, np.nan, np.float32)
        filled[box] = z
        yield float(s), np.where(obs, y, filled).astype(np.float32)


def walk_to(s: float, s_grid: Sequence[float] = S_AXES_GRID) -> list[float]:
    """The values of ``s_grid`` down to ``s``, ending at ``s``: the walk that :func:`dct_pls_axes` takes."""
    return [float(g) for g in s_grid if g > s * (1 + 1e-9)] + [float(s)]


def dct_pls_axes(
    y: np.ndarray, s: float, time_weight: float, *, s_grid: Sequence[float] = S_AXES_GRID, margin: int | None = MARGIN
) -> np.ndarray:
    """The fill with smoothing ``s`` and time weight ``time_weight``: :func:`dct_pls_path` down ``s_grid`` to ``s``.

    Nothing observed: all NaN.
    """
    filled = np.full(y.shape, np.nan, np.float32)
    for _, step in dct_pls_path(y, walk_to(s, s_grid), time_weight, margin=margin):
        filled = step
    return filled
