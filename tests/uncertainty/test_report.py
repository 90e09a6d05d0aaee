"""sgdsm evaluate's sigma: fitted without the scored pixels, in the table, the reliability plot and the day's map."""

import numpy as np

from sgdsm_dask.validation.report import write_report
from sgdsm_dask.validation.simulated import run_evaluation


def _cube(rng, days=40, n=64):
    """A smooth field with noise, observed in moving swaths: a fill's error grows with the days since observed."""
    y, x = np.mgrid[0:n, 0:n] / n
    t = np.arange(days)[:, None, None]
    truth = (
        0.25
        + 0.1 * np.sin(2 * np.pi * (x + t / 17.0)) * np.cos(2 * np.pi * y)
        + 0.01 * rng.standard_normal((days, n, n))
    )
    obs = ((np.floor(x * 8 + t * 3) % 4) < 2) | (rng.random((days, n, n)) < 0.1)
    return np.where(obs, truth, np.nan).astype(np.float32), np.ones((n, n), bool)


def _carry_forward(sm, precip, land):
    """A fill that repeats each pixel's last observation (the cube's mean before the first)."""
    out, last = sm.copy(), np.full(sm.shape[1:], np.nanmean(sm), np.float32)
    for k in range(sm.shape[0]):
        last = np.where(np.isfinite(sm[k]), sm[k], last)
        out[k] = np.where(np.isfinite(sm[k]), sm[k], last)
    return out


def test_evaluate_scores_sigma_on_pixels_its_calibration_never_saw(tmp_path):
    sm, land = _cube(np.random.default_rng(0))
    seen = []

    def fill(a, p, lnd):
        seen.append(a)
        return _carry_forward(a, p, lnd)

    ev = run_evaluation(sm, None, land, fill, seed=0, dct=False)
    u = ev.uncertainty
    assert u is not None and u.model.n > 200
    for a in seen[1:]:  # every calibration window was cut from the cube with the scored pixels hidden
        assert a.shape[0] <= 12
    scored_values = sm[ev.scored]
    assert np.isfinite(scored_values).all()
    rel = u.reliability
    assert rel.rows[0]["n"] == int(ev.scored.sum())
    assert 0.5 < rel.rows[0]["within_1"] < 0.85 and 0.85 < rel.rows[0]["within_2"] <= 1.0
    # carrying the last value forward gets worse the longer ago it was: sigma says so
    by_class = {r["class"]: r for r in rel.rows[1:] if r["n"]}
    assert by_class["1"]["mean_sigma"] < by_class["2-3"]["mean_sigma"]
    assert "within ±1σ" in ev.table() and "Spearman" in ev.table()
    lat, lon = np.linspace(50, 34.25, 64), np.linspace(0, 15.75, 64)
    ev.coords = {"lat": lat, "lon": lon, "time": np.arange("2015-04-01", "2015-05-11", dtype="datetime64[D]")}
    report = write_report(tmp_path / "rep", ev, "cube.zarr", {"seed": 0}).read_text()
    assert "![reliability](reliability.png)" in report and "![uncertainty map](uncertainty_map.png)" in report
    assert (tmp_path / "rep" / "reliability.png").stat().st_size > 10000
    assert (tmp_path / "rep" / "uncertainty_map.png").stat().st_size > 10000
