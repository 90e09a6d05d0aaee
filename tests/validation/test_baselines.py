import numpy as np
import pytest

from sgdsm_dask.validation import baselines, metrics
from sgdsm_dask.validation.simulated import hide, other_days

nan = np.nan


def test_linear_in_time_by_hand():
    sm = np.array([nan, 0.2, nan, nan, 0.5, nan], np.float32)[:, None, None]
    out = baselines.linear_in_time(sm)[:, 0, 0]
    np.testing.assert_allclose(out, [0.2, 0.2, 0.3, 0.4, 0.5, 0.5], rtol=1e-6)
    never = np.full((4, 1, 1), nan, np.float32)
    assert np.isnan(baselines.linear_in_time(never)).all()


def test_climatology_by_hand():
    sm = np.array([[0.1, nan], [0.3, nan], [nan, nan]], np.float32)[:, :, None]
    out = baselines.climatology(sm)[:, :, 0]
    np.testing.assert_allclose(out[:, 0], [0.1, 0.3, 0.2], rtol=1e-6)
    assert np.isnan(out[:, 1]).all()


def test_rmse_skips_nan_pairs():
    est = np.array([0.1, 0.2, nan, 0.4])
    ref = np.array([0.1, 0.5, 0.3, nan])
    assert metrics.rmse(est, ref) == np.sqrt((0 + 0.09) / 2)
    assert metrics.count(est, ref) == 2


def test_hiding_uses_other_days_masks():
    u = other_days(9, seed=3)
    assert sorted(u) == list(range(9)) and not np.any(u == np.arange(9))
    rng = np.random.default_rng(0)
    sm = np.where(rng.random((9, 5, 5)) < 0.5, nan, 0.3).astype(np.float32)
    land = np.ones((5, 5), bool)
    land[0] = False
    sm_in, hidden = hide(sm, land, seed=3)
    obs = np.isfinite(sm)
    np.testing.assert_array_equal(hidden, obs & ~obs[u] & land[None])
    assert np.isnan(sm_in[hidden]).all() and not hidden[:, 0].any()


def test_spin_up_days_are_filled_but_not_scored():
    from sgdsm_dask.validation.simulated import run_evaluation

    rng = np.random.default_rng(1)
    sm = np.where(rng.random((10, 6, 6)) < 0.4, nan, rng.uniform(0.1, 0.4, (10, 6, 6))).astype(np.float32)
    land = np.ones((6, 6), bool)
    seen = []

    def fill(a, p, lnd):
        seen.append(a.shape)
        return baselines.linear_in_time(a)

    # window_fill=False: no sigma calibration, whose windows would call fill again (tests/uncertainty)
    all_days = run_evaluation(sm, None, land, fill, seed=2, window_fill=False).scores[0]
    late = run_evaluation(sm, None, land, fill, seed=2, spin_up=4, window_fill=False).scores[0]
    assert seen == [(10, 6, 6), (10, 6, 6)]  # every day is filled either way
    sm_in, hidden = hide(sm, land, seed=2)
    scorable = hidden & np.isfinite(baselines.climatology(sm_in))  # pixels never observed have no estimate
    assert (all_days.n, late.n) == (int(scorable.sum()), int(scorable[4:].sum()))
    late_days = scorable & (np.arange(10) >= 4)[:, None, None]
    assert late.rmse["linear in time"] == metrics.rmse(baselines.linear_in_time(sm_in), sm, late_days)
    assert late.rmse["linear in time"] != all_days.rmse["linear in time"]


def test_seam_score_by_hand():
    from sgdsm_dask.model.fill import patch_edges
    from sgdsm_dask.validation.metrics import seam_score

    f = np.array([[0.0, 1.0, 3.0, 4.0], [0.0, 1.0, 3.0, 4.0]])
    every = np.ones(f.shape, bool)
    # across the border before column 2: jumps 2 and 2; elsewhere: 1, 1, 1, 1 along x and 0 x 4 along y
    assert seam_score(f, every, [], [2]) == pytest.approx(2.0 / 0.5)
    # pairs touching an observed (not reconstructed) cell do not count: without column 3,
    # across 2, 2; elsewhere x 1, 1 (0 -> 1 in each row) and y 0, 0, 0 (columns 0 to 2)
    some = every.copy()
    some[:, 3] = False
    assert seam_score(f, some, [], [2]) == pytest.approx(2.0 / 0.4)
    # no border pair left: not a number, not a crash
    assert np.isnan(seam_score(f, every, [], []))
    # a tiling's borders, patch starts and ends inside the cells; the last patch ends at the edge:
    # origins 0, 40, 60 edge to edge, 0, 32, 60 at stride 32
    assert list(patch_edges(100, 40)) == [40, 60, 80]
    assert list(patch_edges(100, 40, overlap=8)) == [32, 40, 60, 72]


def test_station_metrics_by_hand_with_nan_pairs_left_out():
    est = np.array([0.10, 0.20, 0.30, nan, 0.50])
    ref = np.array([0.12, 0.18, 0.25, 0.40, nan])
    # pairs kept: (0.10, 0.12), (0.20, 0.18), (0.30, 0.25); differences -0.02, 0.02, 0.05
    s = metrics.all_scores(est, ref)
    assert s["N"] == 3
    assert s["bias"] == pytest.approx(0.05 / 3)
    assert s["MAE"] == pytest.approx(0.09 / 3)
    assert s["RMSE"] == pytest.approx(np.sqrt((0.0004 + 0.0004 + 0.0025) / 3))
    assert s["ubRMSE"] == pytest.approx(np.sqrt(s["RMSE"] ** 2 - s["bias"] ** 2))
    # R by hand: est deviations -0.1, 0, 0.1; ref mean 0.55/3, deviations -0.06333, -0.00333, 0.06667
    de, dr = np.array([-0.1, 0.0, 0.1]), np.array([0.12, 0.18, 0.25]) - 0.55 / 3
    assert s["R"] == pytest.approx((de @ dr) / np.sqrt((de @ de) * (dr @ dr)))
    # too few pairs, or nothing at all: NaN and N, never an exception
    two = metrics.all_scores(est[:2], ref[:2])
    assert np.isnan(two["R"]) and two["N"] == 2
    none = metrics.all_scores(np.array([nan]), np.array([0.1]))
    assert none["N"] == 0 and np.isnan(none["RMSE"]) and np.isnan(none["bias"])


def test_dct_pls_eigenvalues_and_a_smooth_field_filled_better_than_the_other_baselines():
    from sgdsm_dask.validation.dctpls import dct_pls, eigenvalues

    # second-difference eigenvalues 2 cos(pi i / n) - 2 for n = 3: 0, -1, -3; summed over axes
    np.testing.assert_allclose(eigenvalues((3,)), [0.0, -1.0, -3.0], atol=1e-12)
    np.testing.assert_allclose(eigenvalues((3, 2))[2, 1], -3.0 + (2 * np.cos(np.pi / 2) - 2), atol=1e-12)
    rng = np.random.default_rng(0)
    t, y, x = np.meshgrid(np.arange(30), np.arange(40), np.arange(50), indexing="ij")
    truth = 0.25 + 0.1 * np.sin(t / 6) + 0.05 * np.cos(y / 7) * np.sin(x / 9)
    gaps = rng.random(truth.shape) < 0.4
    sm = np.where(gaps, np.nan, truth + rng.normal(0, 0.01, truth.shape))
    fit = dct_pls(sm)
    assert np.array_equal(fit.filled[~gaps], sm[~gaps].astype(np.float32))  # observed values kept
    assert np.isfinite(fit.filled).all() and fit.s in fit.gcv and len(fit.gcv) > 1
    err = metrics.rmse(fit.filled, truth, gaps)
    assert err < 0.005  # the noise is 0.01: smoothing across space and time beats it
    assert err < metrics.rmse(baselines.linear_in_time(sm), truth, gaps) / 2
    assert err < metrics.rmse(baselines.climatology(sm), truth, gaps) / 10
    # nothing observed: nothing invented
    assert np.isnan(dct_pls(np.full((4, 5), np.nan)).filled).all()


def test_pixel_rmse_and_series_pixels_by_hand():
    from sgdsm_dask.validation.simulated import Evaluation

    sm = np.array([[[0.2, 0.3]], [[0.4, 0.3]], [[0.1, nan]]], np.float32)  # 3 days, 1 x 2 pixels
    scored = np.array([[[True, True]], [[True, False]], [[True, False]]])
    model = np.array([[[0.3, 0.3]], [[0.4, 0.5]], [[0.1, 0.2]]], np.float32)
    ev = Evaluation([], sm, sm, scored, {"LSTM-CNN": model})
    per = ev.pixel_rmse(min_days=1)["LSTM-CNN"]
    # pixel 0: errors 0.1, 0, 0 over 3 days; pixel 1: error 0 on its single scored day
    assert per[0, 0] == pytest.approx(np.sqrt(0.01 / 3), rel=1e-5) and per[0, 1] == pytest.approx(0.0, abs=1e-7)
    assert np.isnan(ev.pixel_rmse(min_days=2)["LSTM-CNN"][0, 1])  # too few days: left blank
    assert ev.series_pixels(2) == [(0, 0)]  # the most scored days first; pixel 1 is within 10 cells of it
