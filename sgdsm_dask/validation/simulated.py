"""Scoring on pixels hidden on purpose with the real gap masks of other days.

For every day ``t`` the observed pixels that are gaps on another day
``u(t)`` (a seeded random derangement of the days) are hidden, the cube is
filled by the model and by the baselines, and each is scored on the hidden
pixels, where the observed value is the reference. On a synthetic archive
the true field is known everywhere, so the real gaps are scored as well.

The baselines with a parameter get it from a second set of hidden pixels
(``tuning.py``), never from the scored ones. The table names the chosen
parameters, the best baseline and the model's RMSE over it, and gives the
RMSE and bias by class of the scored pixels' climatology.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import baselines, metrics

NEIGHBOUR = "climatology + neighbour anomaly"
#: Classes of a scored pixel's climatology (m3/m3) in the table; the first and last are open-ended.
CLASS_EDGES = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.7, 1.0)


def other_days(n: int, seed: int) -> np.ndarray:
    """A random permutation of ``range(n)`` with no fixed point (n >= 2)."""
    rng = np.random.default_rng(seed)
    while True:
        u = rng.permutation(n)
        if n < 2 or not np.any(u == np.arange(n)):
            return u


def hide(sm: np.ndarray, land: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(sm with pixels hidden, hidden mask)``; only land pixels are hidden."""
    obs = np.isfinite(sm)
    u = other_days(sm.shape[0], seed)
    hidden = obs & ~obs[u] & land[None]
    return np.where(hidden, np.nan, sm).astype(np.float32), hidden


@dataclass
class Score:
    """RMSE per method on one set of pixels."""

    pixels: str
    n: int
    rmse: dict[str, float] = field(default_factory=dict)
    bias: dict[str, float] = field(default_factory=dict)  # mean of method minus reference
    seam: float | None = None  # of the model's fill, on the first Score only
    bands: list[Score] = field(default_factory=list)  # per latitude band, on the first Score only
    classes: list[Score] = field(default_factory=list)  # per class of climatology, on the first Score only


def filled_by_all(estimates: dict[str, np.ndarray], reference: np.ndarray, where: np.ndarray) -> np.ndarray:
    """``where``, less the pixels the reference or any method left empty."""
    common = where & np.isfinite(reference)
    for est in estimates.values():
        common &= np.isfinite(est)
    return common


def score_methods(estimates: dict[str, np.ndarray], reference: np.ndarray, where: np.ndarray, label: str) -> Score:
    """RMSE and bias of every method on ``where`` (pixels all methods filled)."""
    common = filled_by_all(estimates, reference, where)
    s = Score(label, int(common.sum()))
    for name, est in estimates.items():
        s.rmse[name] = metrics.rmse(est, reference, common)
        s.bias[name] = metrics.bias(est, reference, common)
    return s


def baseline_estimates(
    sm_in: np.ndarray, land: np.ndarray | None = None, seed: int = 0, dct: bool = True
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The fills a user would otherwise pick, and the parameters chosen for them.

    Linear in time, climatology, climatology + neighbour anomaly and
    (``dct``) DCT-PLS with separate smoothing in time and space. The last
    two have their parameters chosen on a second set of pixels hidden from
    ``sm_in`` with ``seed + 1`` (:mod:`.tuning`; ``land``: where to hide,
    all of it by default). Returns ``(fills, choices)``, both keyed by the
    method's name; the choices are :class:`.tuning.Choice`.
    """
    from . import tuning

    if land is None:
        land = np.ones(sm_in.shape[1:], bool)
    out = {"linear in time": baselines.linear_in_time(sm_in), "climatology": baselines.climatology(sm_in)}
    choices = {}
    out[NEIGHBOUR], choices[NEIGHBOUR] = tuning.neighbour_anomaly(sm_in, land, seed)
    if dct:
        out["DCT-PLS"], choices["DCT-PLS"] = tuning.dct_pls(sm_in, land, seed)
    return out, choices


def class_scores(
    estimates: dict[str, np.ndarray],
    reference: np.ndarray,
    where: np.ndarray,
    clim: np.ndarray,
    edges: tuple[float, ...] = CLASS_EDGES,
) -> list[Score]:
    """:func:`score_methods` per class of ``clim`` (each pixel's climatology, (H, W)); empty classes left out.

    The first class takes everything below its upper edge and the last
    everything above its lower edge, so the classes' ``n`` add up to the
    pixels of ``where`` that every method filled and that have a climatology.
    """
    k = np.digitize(clim, edges[1:-1])  # 0 .. len(edges) - 2; NaN is kept out below
    out = []
    for i, (lo, hi) in enumerate(zip(edges[:-1], edges[1:], strict=True)):
        in_class = (k == i) & np.isfinite(clim)
        s = score_methods(estimates, reference, where & in_class[None], f"{lo:.1f}-{hi:.1f}")
        if s.n:
            out.append(s)
    return out


def band_scores(
    estimates: dict[str, np.ndarray], reference: np.ndarray, where: np.ndarray, lat: np.ndarray, width: float = 10.0
) -> list[Score]:
    """:func:`score_methods` per latitude band of ``width`` degrees (south to north; empty bands left out)."""
    edges = np.arange(np.floor(lat.min() / width) * width, lat.max() + width, width)
    out = []
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        rows = np.flatnonzero((lat >= lo) & (lat < hi))
        if not rows.size:
            continue
        band = slice(rows[0], rows[-1] + 1)  # the grid's latitudes are sorted: a band is a run of rows
        ests = {name: est[:, band] for name, est in estimates.items()}  # views: each band scans only its rows
        s = score_methods(ests, reference[:, band], where[:, band], f"{lo:+.0f} to {hi:+.0f}")
        if s.n:
            out.append(s)
    return out


@dataclass
class Uncertainty:
    """The model's sigma on the evaluated cube, fitted as ``sgdsm reconstruct`` fits it, and its reliability.

    ``sigma`` and ``days`` (days since observed) are cubes like the fill;
    ``reliability`` is scored on the scored pixels, which the calibration
    never saw (it hides others, with its own seed, from the cube the model
    was given).
    """

    sigma: np.ndarray
    days: np.ndarray
    model: Any  # uncertainty.SigmaModel
    reliability: Any  # uncertainty.Reliability

    def text(self) -> str:
        m = self.model
        return "\n".join(
            [
                "Reliability of the LSTM-CNN's sm_uncertainty (σ) on the hidden observed pixels, by days since "
                "observed (a Gaussian error: 0.683 within ±1σ, 0.954 within ±2σ):",
                "",
                self.reliability.table(),
                "",
                f"σ was fitted as sgdsm reconstruct fits it: on {m.n} other pixels hidden with seed "
                f"{m.fitted_on.get('seed')} in {m.fitted_on.get('windows')} windows of the cube the model was given.",
            ]
        )


def model_uncertainty(
    sm: np.ndarray,
    sm_in: np.ndarray,
    precip: np.ndarray | None,
    land: np.ndarray,
    filled: np.ndarray,
    scored: np.ndarray,
    fill: Any,
) -> Uncertainty:
    """sigma of the model's ``filled`` cube fitted on ``sm_in`` alone (as a reconstruction would), scored on ``scored``.

    ``fill(sm, precip, land, sums) -> filled`` fills the calibration windows
    (:func:`~sgdsm_dask.uncertainty.calibration.window_fill`).
    """
    from ..uncertainty import OBSERVED_SIGMA, days_since_observed, distance_to_observed, reliability
    from ..uncertainty.calibration import Window, WindowData, calibrate, pixel_scale

    obs = np.isfinite(sm_in)
    days = days_since_observed(obs)
    dist = distance_to_observed(obs)
    v = np.where(obs, sm_in, 0.0).astype(np.float64)
    total, count = v.sum(0), obs.sum(0)
    scale = pixel_scale(total, (v**2).sum(0), count)

    def cut(win: Window) -> WindowData:
        rows, cols = win.cells
        t = slice(win.t0, win.t1)
        before = days[win.t0 - 1, rows, cols] if win.t0 else None
        pr = None if precip is None else precip[t, rows, cols]
        sums = (total[rows, cols], count[rows, cols].astype(np.float64))
        return WindowData(sm_in[t, rows, cols], pr, land[rows, cols], before, scale[rows, cols], sums)

    model = calibrate(cut, scale, land, sm.shape[0], fill)
    sigma = np.full(sm.shape, np.nan, np.float32)
    gaps = ~obs & land[None] & np.isfinite(filled)
    sigma[gaps] = model.sigma(days[gaps], dist[gaps], np.broadcast_to(scale, sm.shape)[gaps])
    sigma[obs & land[None]] = OBSERVED_SIGMA
    rel = reliability((filled - sm)[scored], sigma[scored], days[scored])
    return Uncertainty(sigma, days, model, rel)


@dataclass
class Evaluation:
    """Everything one evaluation made: the scores and the arrays behind them (for maps and time series).

    ``estimates`` are the methods' filled cubes, ``sm_in`` the cube with the
    hidden pixels removed, ``scored`` the hidden pixels that count (every
    method filled them, after the spin-up).
    """

    scores: list[Score]
    sm: np.ndarray
    sm_in: np.ndarray
    scored: np.ndarray
    estimates: dict[str, np.ndarray]
    precip: np.ndarray | None = None
    truth: np.ndarray | None = None
    coords: dict[str, np.ndarray] = field(default_factory=dict)  # time, lat, lon where known
    choices: dict[str, Any] = field(default_factory=dict)  # method -> tuning.Choice: its chosen parameters
    uncertainty: Uncertainty | None = None  # the model's sigma and how well it covers the scored errors

    def retrieval_error(self) -> float | None:
        """RMSE of the observations against the truth (a synthetic archive's retrieval error; None without truth).

        Every score on hidden observed pixels carries it: a perfect fill
        scores about this much there.
        """
        if self.truth is None:
            return None
        seen = np.isfinite(self.sm) & np.isfinite(self.truth)
        return metrics.rmse(self.sm, self.truth, seen) if seen.any() else None

    def table(self) -> str:
        """:func:`table_text` of the scores, with the chosen parameters (and the reliability of sigma)."""
        return table_text(self.scores, self.choices, self.retrieval_error(), self.uncertainty)

    def pixel_rmse(self, min_days: int = 3) -> dict[str, np.ndarray]:
        """Per method, each pixel's RMSE over its scored days (NaN where fewer than ``min_days``)."""
        n = self.scored.sum(axis=0)
        out = {}
        for name, est in self.estimates.items():
            sq = np.where(self.scored, (est.astype(np.float64) - self.sm) ** 2, 0.0).sum(axis=0)
            out[name] = np.where(n >= min_days, np.sqrt(sq / np.maximum(n, 1)), np.nan)
        return out

    def series_pixels(self, k: int = 3) -> list[tuple[int, int]]:
        """Up to ``k`` pixels with the most scored days, spread over the region (no two within 10 cells)."""
        n = self.scored.sum(axis=0).astype(float)
        chosen: list[tuple[int, int]] = []
        for flat in np.argsort(n, axis=None)[::-1]:
            i, j = np.unravel_index(int(flat), n.shape)
            if n[i, j] == 0 or len(chosen) == k:
                break
            if all(max(abs(i - a), abs(j - b)) > 10 for a, b in chosen):
                chosen.append((int(i), int(j)))
        return chosen


def run_evaluation(
    sm: np.ndarray,
    precip: np.ndarray | None,
    land: np.ndarray,
    fill: Any,
    seed: int = 0,
    truth: np.ndarray | None = None,
    spin_up: int = 0,
    seam_edges: tuple[np.ndarray, np.ndarray] | None = None,
    lat: np.ndarray | None = None,
    dct: bool = True,
    window_fill: Any | None = None,
) -> Evaluation:
    """Hide, fill with ``fill(sm_in, precip, land) -> filled`` and the baselines, score.

    The first ``spin_up`` days are filled by every method but scored for none
    (the model's state starts at zero on the first day of a cube). With
    ``seam_edges`` (the patch borders along y and x), the first score also
    carries the seam score of the model's fill (:func:`metrics.seam_score`),
    and with ``lat`` (the rows' latitudes) the scores per 10-degree band.
    ``dct`` adds DCT-PLS to the baselines. The first score also carries the
    scores per class of climatology (computed from the cube with the scored
    pixels hidden). ``window_fill`` (default ``fill``) fills the windows
    sigma is calibrated on (:func:`model_uncertainty`); False: no sigma.
    """
    sm_in, hidden = hide(sm, land, seed)
    base, choices = baseline_estimates(sm_in, land, seed, dct)
    est = {"LSTM-CNN": fill(sm_in, precip, land), **base}
    after = np.arange(sm.shape[0])[:, None, None] >= spin_up
    scored = filled_by_all(est, sm, hidden & after)
    scores = [score_methods(est, sm, scored, "hidden observed pixels")]
    scores[0].classes = class_scores(est, sm, scored, baselines.pixel_climatology(sm_in))
    if seam_edges is not None:
        reconstructed = ~np.isfinite(sm_in) & land[None] & after
        scores[0].seam = metrics.seam_score(est["LSTM-CNN"], reconstructed, *seam_edges)
    if lat is not None:
        scores[0].bands = band_scores(est, sm, scored, lat)
    if truth is not None:  # the same hidden pixels against the truth, without the retrieval noise; then every gap
        gaps = ~np.isfinite(sm) & land[None]
        scores.append(score_methods(est, truth, scored, "hidden pixels vs truth"))
        scores.append(score_methods(est, truth, (gaps | hidden) & after, "all gaps vs truth"))
    coords = {"lat": lat} if lat is not None else {}
    ev = Evaluation(scores, sm, sm_in, scored, est, precip, truth, coords, choices)
    if window_fill is not False:
        wf = (lambda a, p, lnd, _sums: fill(a, p, lnd)) if window_fill is None else window_fill
        ev.uncertainty = model_uncertainty(sm, sm_in, precip, land, est["LSTM-CNN"], scored, wf)
    return ev


def table_text(
    scores: list[Score], choices: dict[str, Any], noise: float | None, uncertainty: Uncertainty | None
) -> str:
    """What ``sgdsm evaluate`` prints: :func:`table`, the retrieval error ``noise`` and the reliability of sigma."""
    text = table(scores, choices)
    if noise is not None:
        text += (
            f"\n\nRetrieval error of the observations against the truth: RMSE {noise:.4f} "
            "(part of every score on hidden observed pixels; the truth columns are without it)."
        )
    if uncertainty is not None:
        text += "\n\n" + uncertainty.text()
    return text


def best_baseline(score: Score, model: str = "LSTM-CNN") -> str | None:
    """The method other than ``model`` with the lowest RMSE in ``score`` (None without one)."""
    others = [m for m in score.rmse if m != model and np.isfinite(score.rmse[m])]
    return min(others, key=lambda m: score.rmse[m]) if others else None


#: How every table of :func:`table` begins (``sgdsm evaluate --out`` replaces only a file that begins so).
TABLE_START = "| method | RMSE "


def table(scores: list[Score], choices: dict[str, Any] | None = None) -> str:
    """A Markdown table: one row per method, one column per pixel set; then the best baseline and the details.

    ``choices`` (method -> :class:`.tuning.Choice`) names the parameters the
    baselines were given. The seam score, when known, is the last line.
    """
    methods = list(scores[0].rmse)
    head = "| method | " + " | ".join(f"RMSE {s.pixels} (n={s.n})" for s in scores) + " |"  # starts with TABLE_START
    rule = "|---|" + "---|" * len(scores)
    rows = [f"| {m} | " + " | ".join(f"{s.rmse[m]:.4f}" for s in scores) + " |" for m in methods]
    lines = [head, rule, *rows]
    best = best_baseline(scores[0])
    if best is not None:
        lines += ["", f"Best baseline on the {scores[0].pixels}: {best} ({scores[0].rmse[best]:.4f})."]
        if "LSTM-CNN" in scores[0].rmse and scores[0].rmse[best] > 0:
            ratio = scores[0].rmse["LSTM-CNN"] / scores[0].rmse[best]
            lines.append(f"Ratio LSTM-CNN RMSE / best baseline RMSE: {ratio:.3f} (below 1: the model is better).")
    if choices:
        lines += ["", "Parameters of the baselines (never chosen on the scored pixels):", ""]
        lines += [f"- {c.describe()}" for c in choices.values()]
    if scores[0].bands:
        lines += ["", "RMSE of the hidden observed pixels by latitude band (degrees north):", ""]
        lines += ["| band | n | " + " | ".join(methods) + " |", "|---|---|" + "---|" * len(methods)]
        for b in scores[0].bands:
            lines.append(f"| {b.pixels} | {b.n} | " + " | ".join(f"{b.rmse[m]:.4f}" for m in methods) + " |")
    if scores[0].classes:
        lines += ["", "RMSE / bias of the hidden observed pixels by class of their climatology (m3/m3):", ""]
        lines += ["| climatology | n | " + " | ".join(methods) + " |", "|---|---|" + "---|" * len(methods)]
        for c in scores[0].classes:
            cells = " | ".join(f"{c.rmse[m]:.4f} / {c.bias[m]:+.4f}" for m in methods)
            lines.append(f"| {c.pixels} | {c.n} | {cells} |")
    lines += ["", "Bias (mean of method minus reference; m3/m3):", ""]
    lines += ["| method | " + " | ".join(s.pixels for s in scores) + " |", rule]
    lines += [f"| {m} | " + " | ".join(f"{s.bias[m]:+.4f}" for s in scores) + " |" for m in methods]
    if scores[0].seam is not None:
        lines += [
            "",
            f"Seam score of the LSTM-CNN fill (jump across patch borders / elsewhere; 1 = none): {scores[0].seam:.2f}",
        ]
    return "\n".join(lines)


def evaluate_filler(
    filler: Any,
    sm: np.ndarray,
    precip: np.ndarray | None,
    land: np.ndarray,
    lat: np.ndarray,
    *,
    seed: int = 0,
    truth: np.ndarray | None = None,
    spin_up: int = 0,
    dct: bool = True,
    window_fill: Any | None = None,
) -> Evaluation:
    """:func:`run_evaluation` of a :class:`~sgdsm_dask.model.fill.Filler`'s fill, its seams scored at its patch borders."""
    from ..model.fill import patch_edges

    edges = tuple(patch_edges(n, filler.patch, filler.overlap) for n in land.shape)
    return run_evaluation(
        sm,
        precip,
        land,
        lambda a, p, lnd: filler.run(a, p, lnd)[0],
        seed=seed,
        truth=truth,
        spin_up=spin_up,
        seam_edges=edges,
        lat=lat,
        dct=dct,
        window_fill=window_fill,
    )


def evaluate_store(
    store: str,
    filler: Any,
    seed: int = 0,
    truth: str | None = None,
    region: Any | None = None,
    spin_up: int = 0,
    dct: bool = True,
) -> Evaluation:
    """:func:`run_evaluation` on a staged store, or the ``region`` box of it (read whole: regional cubes)."""
    from ..errors import InputError
    from ..io import zarr_store
    from ..training.samples import store_window

    rows, cols, _ = store_window(store, region)
    sel = (slice(None), rows, cols)
    sm = zarr_store.read_array(store, "sm", sel)
    land = zarr_store.read_array(store, "land", (rows, cols)).astype(bool)
    precip = zarr_store.read_array(store, "precip", sel)
    if not np.isfinite(precip).any():
        precip = None
    tr = None
    if truth is not None:
        tr = zarr_store.read_array(truth, "sm", sel)
        if tr.shape != sm.shape:
            raise InputError(truth, f"truth of shape {tr.shape} does not match {store}'s {sm.shape}")
    lat = zarr_store.read_array(store, "lat", (rows,))
    ev = evaluate_filler(
        filler, sm, precip, land, lat, seed=seed, truth=tr, spin_up=spin_up, dct=dct, window_fill=_window_fill(filler)
    )
    ev.coords = {"lat": lat, "lon": zarr_store.read_array(store, "lon", (cols,)), "time": _times(store)}
    return ev


def _window_fill(filler: Any) -> Any:
    """How the calibration windows are filled: by the model (after ``--fit``, the network it trained)."""
    from ..uncertainty.calibration import window_fill

    return lambda *a: window_fill(getattr(filler, "trained", filler))(*a)


def _times(store: str) -> np.ndarray:
    import xarray as xr

    return xr.open_zarr(store, consolidated=False)["time"].values
