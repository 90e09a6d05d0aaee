"""sigma and gap provenance as plain arrays: closed forms, carries across chunks, and calibration on known errors."""

import numpy as np
import pytest

from sgdsm_dask.uncertainty import (
    DISTANCE_CAP,
    SigmaModel,
    days_since_observed,
    distance_to_observed,
    fit_sigma,
    reliability,
)
from sgdsm_dask.uncertainty.calibration import MIN_WINDOWS, windows


def test_days_since_observed_counts_calendar_days_and_carries_across_chunks():
    rng = np.random.default_rng(1)
    obs = rng.random((40, 5, 6)) < 0.3
    whole = days_since_observed(obs)
    # closed form, pixel by pixel: days since the last True, counting from the day before the record
    for i in range(5):
        for j in range(6):
            last = -1
            for t in range(40):
                last = t if obs[t, i, j] else last
                assert whole[t, i, j] == t - last
    # chunks of any size, each carrying the previous chunk's last day, give the same counts
    for size in (1, 3, 7):
        parts, before = [], None
        for t0 in range(0, 40, size):
            part = days_since_observed(obs[t0 : t0 + size], before)
            parts.append(part)
            before = part[-1]
        assert np.array_equal(np.concatenate(parts), whole)


def test_distance_to_observed_is_exact_in_cells_and_capped():
    obs = np.zeros((2, 50, 60), bool)
    obs[0, 10, 10] = True  # day 1 has nothing observed
    d = distance_to_observed(obs)
    assert d[0, 10, 10] == 0 and d[0, 10, 13] == 3 and d[0, 14, 13] == 5  # a 3-4-5 triangle
    assert d[0, 49, 59] == DISTANCE_CAP and (d[1] == DISTANCE_CAP).all()
    # a block with a margin of DISTANCE_CAP cells around it sees the same distances as the whole grid
    obs = np.random.default_rng(2).random((3, 120, 120)) < 0.002
    whole = distance_to_observed(obs)
    block = distance_to_observed(obs[:, 40 - DISTANCE_CAP : 80 + DISTANCE_CAP, 40 - DISTANCE_CAP : 80 + DISTANCE_CAP])
    own = block[:, DISTANCE_CAP:-DISTANCE_CAP, DISTANCE_CAP:-DISTANCE_CAP]
    assert np.array_equal(own, whole[:, 40:80, 40:80])


def _draws(n, rng, tails=None):
    days = rng.integers(1, 15, n)
    dist = rng.integers(0, 33, n)
    scale = rng.uniform(0.02, 0.12, n)
    # a sigma of the model's form: steps with gap depth, a power of the distance and of the pixel's scale
    true = (
        0.02
        * np.exp(0.2 * (days >= 2) + 0.3 * (days >= 4) + 0.3 * (days >= 8))
        * (1 + dist) ** 0.3
        * np.sqrt(scale / 0.05)
    )
    z = rng.standard_normal(n) if tails is None else rng.standard_t(tails, n) / np.sqrt(tails / (tails - 2))
    return true * z, days, dist, scale, true


def test_fitted_sigma_covers_gaussian_errors_as_a_gaussian_on_new_pixels():
    rng = np.random.default_rng(3)
    model = fit_sigma(*_draws(60000, rng)[:4])
    err, days, dist, scale, true = _draws(60000, rng)
    sigma = model.sigma(days, dist, scale)
    np.testing.assert_allclose(sigma, true, rtol=0.08)  # the shape is recovered, not only the level
    rel = reliability(err, sigma, days)
    assert rel.rows[0]["within_1"] == pytest.approx(0.683, abs=0.015)
    assert rel.rows[0]["within_2"] == pytest.approx(0.954, abs=0.01)
    assert rel.spearman == pytest.approx(1.0)  # deeper gaps: larger errors and larger sigma
    assert [r["class"] for r in rel.rows] == ["all", "1", "2-3", "4-7", "8+"]
    assert SigmaModel.from_json(model.to_json()) == model


def test_heavy_tailed_errors_get_the_factor_that_covers_both_intervals():
    rng = np.random.default_rng(4)
    model = fit_sigma(*_draws(60000, rng, tails=4)[:4])
    err, days, dist, scale, _ = _draws(60000, rng, tails=4)
    rel = reliability(err, model.sigma(days, dist, scale), days)
    assert 0.63 <= rel.rows[0]["within_1"] <= 0.73 and 0.92 <= rel.rows[0]["within_2"] <= 0.97
    assert model.factor < 1  # the likelihood's scale alone covers too many within one sigma


def test_without_hidden_pixels_sigma_is_nan_and_with_few_only_the_level():
    assert np.isnan(fit_sigma(np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0)).sigma([3], [2], [0.05])).all()
    few = fit_sigma(np.array([0.03, -0.03, 0.03]), np.array([1, 5, 9]), np.array([1, 2, 3]), np.full(3, 0.05))
    np.testing.assert_allclose(few.sigma([1, 9], [0, 30], [0.05, 0.05]), 0.03, rtol=1e-6)


def test_calibration_windows_are_seeded_inside_the_cube_on_land():
    land = np.zeros((300, 500), bool)
    land[100:250, 50:400] = True
    a, b = windows(land, 90), windows(land, 90)
    assert a == b and len(a) >= MIN_WINDOWS
    for w in a:
        assert 0 <= w.t0 < w.t1 <= 90 and 0 <= w.r0 < w.r1 <= 300 and 0 <= w.c0 < w.c1 <= 500
        assert land[w.r0 : w.r1, w.c0 : w.c1].mean() >= 0.25
    small = windows(np.ones((20, 30), bool), 5)  # smaller than a window: the whole cube, at other days
    assert all((w.r0, w.r1, w.c0, w.c1, w.t0, w.t1) == (0, 20, 0, 30, 0, 5) for w in small)


def test_the_lstm_cnn_fills_a_window_without_its_look_ahead_days_and_its_errors_stay_the_same():
    from sgdsm_dask.model.fill import Filler
    from sgdsm_dask.uncertainty.calibration import Window, WindowData, hidden_errors, window_fill

    rng = np.random.default_rng(5)
    sm = np.where(rng.random((12, 48, 56)) < 0.4, rng.uniform(0.05, 0.45, (12, 48, 56)), np.nan).astype(np.float32)
    precip = rng.gamma(0.5, 4.0, sm.shape).astype(np.float32)
    data = WindowData(sm, precip, np.ones((48, 56), bool), np.full((48, 56), 2), np.full((48, 56), 0.05))
    # a window inside a longer cube: 3 days of spin-up and 3 of look-ahead, neither fitted on
    data.inner = Window(10, 22, 0, 48, 0, 56).inner((40, 48, 56), 8, 3)
    filler = Filler.from_checkpoint(overlap=8)
    fill, days_given = window_fill(filler), []

    def whole(a, p, land, sums):  # the same model given every day of the window (no `causal`: nothing is cut)
        return filler.run(a, p, land)[0]

    def counted(a, p, land, sums):
        days_given.append(a.shape[0])
        return fill(a, p, land, sums)

    counted.causal = fill.causal
    got, want = hidden_errors(data, counted), hidden_errors(data, whole)
    assert fill.causal and days_given == [9]  # days 0-8: the last fitted day is 8
    assert want[0].size > 100 and all(np.array_equal(g, w) for g, w in zip(got, want, strict=True))


def test_thedays_before_a_window_are_read_back_only_as_far_as_its_observed_pixels_need():
    import zarr

    from sgdsm_dask.reconstruction.calibration import days_before

    rng = np.random.default_rng(6)
    sm = np.where(rng.random((60, 6, 7)) < 0.15, 0.3, np.nan).astype(np.float32)
    sm[:, 0, 0] = np.nan  # never observed: the whole past counts, at no pixel the window observes
    staged = rng.random(60) < 0.9
    store = zarr.create_array(store={}, shape=sm.shape, chunks=(8, 6, 7), dtype="f4", fill_value=np.nan)
    store[:] = sm
    reads = []

    class Counted:  # the staged array, counting the days read
        chunks = store.chunks

        def __getitem__(self, sel):
            reads.append(sel[0].stop - sel[0].start)
            return store[sel]

    for t0 in (1, 8, 13, 59):
        want = days_since_observed(np.isfinite(sm[:t0]) & staged[:t0, None, None])[-1]
        every = np.ones((6, 7), bool)
        assert np.array_equal(days_before(store, staged, t0, slice(None), slice(None), every), want)
        need = every.copy()
        need[0, 0] = False
        reads.clear()
        got = days_before(Counted(), staged, t0, slice(None), slice(None), need)
        assert got.dtype == want.dtype and np.array_equal(got[need], want[need]) and (got <= want).all()
        if t0 == 59:
            assert sum(reads) < t0  # not the whole past: the pixel never observed is not waited for


def test_the_calibration_takes_out_of_a_prior_only_the_hidden_pixels_of_the_days_it_counts():
    """A prior over the first days (``--prior-days``): a window's hidden pixels after them are not in its sums."""
    from sgdsm_dask.uncertainty.calibration import CALIBRATION_SEED, WindowData, hidden_errors
    from sgdsm_dask.validation.simulated import hide

    rng = np.random.default_rng(0)
    sm = rng.random((8, 12, 12)).astype(np.float32)
    sm[rng.random(sm.shape) < 0.4] = np.nan
    land, first = np.ones((12, 12), bool), 5
    obs = np.isfinite(sm[:first])
    sums = (np.where(obs, sm[:first], 0.0).sum(axis=0, dtype=np.float64), obs.sum(axis=0).astype(np.float64))
    given = {}

    def fill(sm_in, precip, land, s):
        given["sums"] = s
        return np.where(np.isfinite(sm_in), sm_in, 0.5).astype(np.float32)

    data = WindowData(sm, None, land, None, np.full((12, 12), 0.1), sums, in_prior=np.arange(8) < first)
    hidden_errors(data, fill)
    kept = obs & ~hide(sm, land, CALIBRATION_SEED)[1][:first]
    np.testing.assert_array_equal(given["sums"][1], kept.sum(axis=0))  # never below zero
    np.testing.assert_allclose(given["sums"][0], np.where(kept, sm[:first], 0.0).sum(axis=0, dtype=np.float64))
