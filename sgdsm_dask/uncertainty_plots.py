"""Figures of sigma: the reliability diagram of an evaluation and the uncertainty map of a day.

Made with ``matplotlib.figure.Figure`` directly (no pyplot state), like
:mod:`sgdsm_dask.plots`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def reliability_plot(rel: Any, png: str | Path) -> Path:
    """Fractions within ±1σ and ±2σ per gap-depth class against the Gaussian's, and mean σ against RMSE.

    ``rel``: an :class:`~sgdsm_dask.uncertainty.Reliability`.
    """
    from matplotlib.figure import Figure

    from .plots import _save
    from .uncertainty.sigma import GAUSS_1, GAUSS_2

    rows = [r for r in rel.rows if r["n"]]
    names = [r["class"] for r in rows]
    x = np.arange(len(rows))
    fig = Figure(figsize=(11, 4))
    a, b = fig.subplots(1, 2)
    for key, goal, band, color in (
        ("within_1", GAUSS_1, (0.63, 0.73), "tab:blue"),
        ("within_2", GAUSS_2, (0.92, 0.97), "tab:orange"),
    ):
        a.bar(x + (-0.2 if key == "within_1" else 0.2), [r[key] for r in rows], 0.4, color=color, label=key)
        a.axhspan(*band, color=color, alpha=0.15)
        a.axhline(goal, color=color, ls="--", lw=1)
    a.set_xticks(x, [f"{n}\n(n={r['n']})" for n, r in zip(names, rows, strict=True)])
    a.set_ylim(0.4, 1.0)
    a.set_xlabel("days since observed")
    a.set_ylabel("fraction of hidden pixels")
    a.set_title("errors within ±1σ (blue) and ±2σ (orange); dashed: Gaussian")
    rmse, sig = [r["rmse"] for r in rows[1:]], [r["mean_sigma"] for r in rows[1:]]
    b.plot(sig, rmse, "o-", color="tab:green")
    for n, s_, e in zip(names[1:], sig, rmse, strict=True):
        b.annotate(n, (s_, e), textcoords="offset points", xytext=(4, 4))
    lo, hi = min(sig + rmse) * 0.9, max(sig + rmse) * 1.1
    b.plot([lo, hi], [lo, hi], color="grey", lw=1, ls=":")
    b.set_xlabel("mean σ (m3/m3)")
    b.set_ylabel("RMSE (m3/m3)")
    b.set_title(f"per gap-depth class (Spearman {rel.spearman:.2f})")
    return _save(fig, png, dpi=110)


def uncertainty_map(
    sm: np.ndarray, sigma: np.ndarray, days: np.ndarray, lat: np.ndarray, lon: np.ndarray, title: str, png: str | Path
) -> Path:
    """Three maps of a day: the filled soil moisture, its sigma and the days since each pixel was observed."""
    from matplotlib.figure import Figure

    from .plots import _extent, _save

    ext = _extent(lat, lon)
    fig = Figure(figsize=(15, 4.2))
    axes = fig.subplots(1, 3)
    d = np.asarray(days, float)
    d = np.where((d >= 0) & np.isfinite(sm), d, np.nan)  # only where there is a value: land
    for ax, img, name, cmap, vmax in (
        (axes[0], sm, "sm (m3/m3)", "YlGnBu", 0.5),
        (
            axes[1],
            sigma,
            "sm_uncertainty σ (m3/m3)",
            "magma_r",
            float(np.nanpercentile(sigma, 99)) if np.isfinite(sigma).any() else 0.1,
        ),
        (axes[2], d, "days since observed", "viridis", 10),
    ):
        im = ax.imshow(img, extent=ext, origin="upper", cmap=cmap, vmin=0, vmax=vmax, interpolation="nearest")
        ax.set_title(name)
        fig.colorbar(im, ax=ax, shrink=0.8)
    fig.suptitle(title)
    return _save(fig, png, dpi=100)


def result_day_map(result: str, day: str, png: str | Path) -> Path:
    """:func:`uncertainty_map` of ``day`` (YYYY-MM-DD) of a result store; one line if it has no sigma or no such day."""
    import pandas as pd
    import xarray as xr

    from .errors import InputError

    rs = xr.open_zarr(result, consolidated=False)
    if "sm_uncertainty" not in rs:
        raise InputError(result, "has no sm_uncertainty: reconstruct it again with this version of sgdsm")
    when = pd.Timestamp(day)
    hit = np.flatnonzero(rs["time"].values == np.datetime64(when, "ns"))
    if not hit.size:
        raise InputError(result, f"has no day {when:%Y-%m-%d}")
    one = rs.isel(time=int(hit[0]))
    return uncertainty_map(
        one["sm"].values,
        one["sm_uncertainty"].values,
        one["days_since_observed"].values,
        rs["lat"].values,
        rs["lon"].values,
        f"{result}: {when:%Y-%m-%d}",
        png,
    )
