"""Parameters of the baselines, chosen on a second set of hidden pixels and never on the scored ones.

``sgdsm evaluate`` scores every method on pixels it hid
(:func:`~sgdsm_dask.validation.simulated.hide` with ``seed``). A baseline
with a parameter (the neighbour anomaly's ``sigma``, DCT-PLS's ``s`` and
``r``) gets it here from ``sm_in``, the cube every method sees, in which
the scored pixels are already NaN: a second set of its observed pixels is
hidden with another derangement of the days (``seed + 1``), the baseline
fills that cube with each candidate, and the candidate with the lowest RMSE
on the second set wins. The baseline then fills ``sm_in`` with it. The
values of the scored pixels never reach the choice.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import baselines, dctpls, metrics

#: The neighbour anomaly's Gaussian widths tried, in cells.
SIGMA_GRID = (0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0)


@dataclass
class Choice:
    """What one baseline's tuning chose.

    ``param`` maps each parameter's name to its chosen value; ``rmse`` maps
    every candidate tried (a tuple of values, in ``param``'s order) to its
    RMSE on the ``n`` pixels of the second hidden set; ``seconds`` is the
    time of the tuning and of the final fill together.
    """

    method: str
    param: dict[str, float]
    rmse: dict[tuple[float, ...], float] = field(default_factory=dict)
    n: int = 0
    seconds: float = 0.0
    unit: str = ""  # of the parameters, for the table ("cells")
    note: str = ""  # what the parameters mean, for the table
    at_edge: list[str] = field(default_factory=list)  # parameters chosen at an end of their grid

    def describe(self) -> str:
        """One line: ``sigma 2 cells (chosen on a second hidden set of ... pixels, ...)``."""
        values = ", ".join(f"{k} {_fmt(v)}" for k, v in self.param.items()) + (f" {self.unit}" if self.unit else "")
        note = f"{self.note}; " if self.note else ""
        if not self.n:
            return f"{self.method}: {values} ({note}the default: no second hidden pixel to choose on)"
        best = self.rmse[tuple(self.param.values())]
        ends = "the end of its grid" if len(self.at_edge) == 1 else "the ends of their grids"
        edge = f"; {' and '.join(self.at_edge)} at {ends}" if self.at_edge else ""
        return (
            f"{self.method}: {values} ({note}chosen on a second hidden set of {self.n} pixels, RMSE there "
            f"{best:.4f}, {len(self.rmse)} candidates{edge}; {self.seconds:.1f} s with the fill)"
        )


def _fmt(value: float) -> str:
    """Three significant digits, never in exponent form: 1000, 0.00316, 2."""
    return np.format_float_positional(value, precision=3, unique=True, fractional=False, trim="-")


def _ends(value: float, grid: Sequence[float]) -> bool:
    return len(grid) > 1 and value in (min(grid), max(grid))


def second_set(sm_in: np.ndarray, land: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``sm_in`` with a second set of its observed land pixels hidden (days deranged with ``seed + 1``), and that set."""
    from .simulated import hide

    return hide(sm_in, land, seed + 1)


def choose(
    sm_in: np.ndarray,
    land: np.ndarray,
    seed: int,
    fill: Callable[[np.ndarray, Any], np.ndarray],
    candidates: Sequence[Any],
) -> tuple[Any, dict[Any, float], int]:
    """The candidate whose ``fill(cube, candidate)`` is best on the second hidden set of ``sm_in``.

    Returns ``(best, RMSE per candidate, n)``, scored on the second-set
    pixels every candidate filled (the first candidate wins ties; with no
    such pixel, ``n`` is 0 and the first candidate is returned).
    """
    cube, hidden = second_set(sm_in, land, seed)
    ests = {c: fill(cube, c) for c in candidates}
    common = hidden & np.isfinite(sm_in)
    for est in ests.values():
        common &= np.isfinite(est)
    rmse = {c: metrics.rmse(est, sm_in, common) for c, est in ests.items()}
    n = int(common.sum())
    best = min(candidates, key=lambda c: rmse[c]) if n else candidates[0]
    return best, rmse, n


def neighbour_anomaly(
    sm_in: np.ndarray, land: np.ndarray, seed: int, sigmas: Sequence[float] = SIGMA_GRID
) -> tuple[np.ndarray, Choice]:
    """:func:`baselines.neighbour_anomaly` of ``sm_in`` with ``sigma`` chosen on the second hidden set."""
    t0 = time.perf_counter()
    best, rmse, n = choose(sm_in, land, seed, baselines.neighbour_anomaly, list(sigmas))
    filled = baselines.neighbour_anomaly(sm_in, best)
    return filled, neighbour_choice(best, rmse, n, time.perf_counter() - t0, sigmas)


def neighbour_choice(
    best: float, rmse: dict[float, float], n: int, seconds: float, sigmas: Sequence[float] = SIGMA_GRID
) -> Choice:
    """The :class:`Choice` of the neighbour anomaly's ``sigma``: ``best`` of ``rmse`` (per candidate) on ``n`` pixels."""
    table = {(float(k),): v for k, v in rmse.items()}
    choice = Choice("climatology + neighbour anomaly", {"sigma": float(best)}, table, n, seconds, unit="cells")
    choice.at_edge = ["sigma"] if n and _ends(best, sigmas) else []
    return choice


def dct_pls(
    sm_in: np.ndarray,
    land: np.ndarray,
    seed: int,
    s_grid: Sequence[float] = dctpls.S_AXES_GRID,
    r_grid: Sequence[float] = dctpls.R_GRID,
    patience: int = 2,
) -> tuple[np.ndarray, Choice]:
    """:func:`dctpls.dct_pls_axes` of ``sm_in`` with ``s`` and ``r`` chosen on the second hidden set.

    A coordinate search: for one ``r``, one walk down ``s_grid``
    (:func:`dctpls.dct_pls_path`) scores every ``s`` of the walk, and stops
    once ``patience`` steps in a row are worse than its best. ``r`` starts
    at 1 (or the value of ``r_grid`` nearest to it) and moves along
    ``r_grid`` two values at a time while that improves, then one value at
    a time. Each ``(s, r)`` scored is the very fill
    :func:`dctpls.dct_pls_axes` makes with it. With no second hidden pixel,
    ``s = 1, r = 1`` (or the grids' values nearest to them).
    """
    t0 = time.perf_counter()
    cube, hidden = second_set(sm_in, land, seed)
    where = hidden & np.isfinite(sm_in)
    rmse: dict[tuple[float, ...], float] = {}

    def walk(r: float) -> float:
        best, worse = np.inf, 0
        for s, filled in dctpls.dct_pls_path(cube, s_grid, r):
            rmse[(s, r)] = e = metrics.rmse(filled, sm_in, where)
            best, worse = (e, 0) if e < best else (best, worse + 1)
            if worse >= patience:
                break
        return best

    r_list = [float(r) for r in r_grid]
    start = min(range(len(r_list)), key=lambda i: abs(np.log(r_list[i])))  # r = 1, or the nearest
    n = int(where.sum())
    if n:
        at, score = start, {start: walk(r_list[start])}
        for step in (2, 1):  # every other r first, then the neighbours of the best
            moved = True
            while moved:
                moved = False
                for j in (at + step, at - step):
                    if 0 <= j < len(r_list) and j not in score:
                        score[j] = walk(r_list[j])
                    if j in score and score[j] < score[at]:
                        at, moved = j, True
                        break
        s_best, r_best = min((k for k in rmse if k[1] == r_list[at]), key=lambda k: rmse[k])
    else:
        s_best = min(s_grid, key=lambda s: abs(np.log(s)))
        r_best = r_list[start]
    filled = dctpls.dct_pls_axes(sm_in, s_best, r_best, s_grid=s_grid)
    choice = Choice("DCT-PLS", {"s": float(s_best), "r": float(r_best)}, rmse, n, time.perf_counter() - t0)
    choice.note = "s the smoothing, r the weight of time against space"
    choice.at_edge = [k for k, v, g in (("s", s_best, s_grid), ("r", r_best, r_grid)) if n and _ends(v, g)]
    return filled, choice
