"""Coordinate axes of a file put in the grid's order, and said in words when they cannot be.

A file's data follow its coordinates: latitude south first or longitude east
first is read in reverse, and a 0..360 longitude axis is rolled to
-180..180, so each value lands where its coordinates say. What cannot be
put right (a wrong size, step or offset, axes in the wrong variables) is
described exactly, instead of "wrong grid".
"""

from __future__ import annotations

import numpy as np

from ..grid import RES


def west_east(lon: np.ndarray, data: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Longitudes in -180..180, west first, with ``data`` reordered along ``axis`` to follow them."""
    lon = np.asarray(lon, dtype=np.float64)
    if lon.size < 2 or not np.all(np.isfinite(lon)):
        return lon, data
    if np.nanmax(lon) > 180.0 and np.nanmin(lon) >= 0.0:  # a 0..360 axis
        lon = np.where(lon >= 180.0, lon - 360.0, lon)
    order = np.argsort(lon, kind="stable")
    if np.array_equal(order, np.arange(lon.size)):
        return lon, data
    return lon[order], np.take(data, order, axis=axis)


def axis_problem(name: str, values: np.ndarray, expected: np.ndarray) -> str | None:
    """Why ``values`` are not the ``expected`` cell centres (``None`` if they are), in words.

    It names the first thing wrong: the size (and whether the values are
    those of the other axis), the order, the step, or where the centres lie.
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1:
        return f"{name} is not a 1-D axis (shape {v.shape})"
    span = f"{v[0]:g}..{v[-1]:g}" if v.size else "nothing"
    if v.size != expected.size:
        problem = f"{name} has {v.size} values ({span}); expected {expected.size}"
        if name.lower().startswith("lat") and v.size and np.nanmax(np.abs(v)) > 90:
            problem += ": they are longitudes (Latitude and Longitude swapped?)"
        return problem
    if not np.all(np.isfinite(v)):
        return f"{name} holds {int(np.count_nonzero(~np.isfinite(v)))} non-finite coordinates"
    values, counts = np.unique(v, return_counts=True)
    if np.any(counts > 1):
        return f"{name} holds {values[counts > 1][0]:g} {int(counts.max())} times: duplicate cells"
    steps = np.diff(v)
    if v.size > 1 and not (np.all(steps > 0) or np.all(steps < 0)):
        at = int(np.flatnonzero(np.sign(steps) != np.sign(steps[0]))[0]) + 1
        return f"{name} is not in order (it turns at index {at}, {v[at]:g})"
    step = float(np.median(np.abs(steps))) if v.size > 1 else RES
    if abs(step - RES) > 1e-3:
        return f"{name} step is {step:.4g} deg; expected {RES:g}"
    if not np.allclose(np.abs(steps), RES, atol=1e-3):
        lo, hi = float(np.abs(steps).min()), float(np.abs(steps).max())
        return f"{name} step varies from {lo:.4g} to {hi:.4g} deg; expected {RES:g} everywhere"
    off = np.sort(v) - np.sort(expected)
    shift = float(np.median(off))
    if abs(shift) > 1e-3:
        hint = " (cell edges given as centres?)" if abs(abs(shift) - RES / 2) < 1e-3 else ""
        return f"{name} centres run {span}, {shift:+g} deg off the grid's {expected[0]:g}..{expected[-1]:g}{hint}"
    worst = float(np.max(np.abs(off)))
    if worst > 1e-3:
        return f"{name} centres run {span}, up to {worst:.2g} deg off the grid's {expected[0]:g}..{expected[-1]:g}"
    return None
