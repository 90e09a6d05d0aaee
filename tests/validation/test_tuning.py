"""The strong baselines of ``sgdsm evaluate`` and the choice of their parameters on a second hidden set."""

import numpy as np
import pytest

from sgdsm_dask.validation import baselines, dctpls, metrics, tuning
from sgdsm_dask.validation.simulated import CLASS_EDGES, NEIGHBOUR, hide, run_evaluation

nan = np.nan


def _anomaly_cube(seed=0, shape=(20, 24, 30), width=6.0, gaps=0.5):
    """A per-pixel climatology plus, each day, an anomaly smooth over ``width`` cells; some pixels of each day missing."""
    rng = np.random.default_rng(seed)
    t, y, x = np.meshgrid(*map(np.arange, shape), indexing="ij")
    clim = rng.uniform(0.1, 0.4, shape[1:])
    phase = rng.uniform(0, 2 * np.pi, (shape[0], 1, 1))
    amp = rng.uniform(-0.1, 0.1, (shape[0], 1, 1))
    truth = clim[None] + amp * np.sin(x / width + phase) * np.cos(y / width - phase)
    sm = np.where(rng.random(shape) < gaps, nan, truth).astype(np.float32)
    return sm, truth


def test_neighbour_anomaly_beats_climatology_on_a_spatially_correlated_anomaly():
    sm, _ = _anomaly_cube()
    land = np.ones(sm.shape[1:], bool)
    sm_in, hidden = hide(sm, land, seed=0)
    clim = baselines.climatology(sm_in)
    near = baselines.neighbour_anomaly(sm_in, sigma=2.0)
    assert metrics.rmse(near, sm, hidden) < 0.6 * metrics.rmse(clim, sm, hidden)
    # what every method saw is returned as it was
    seen = np.isfinite(sm_in)
    assert np.array_equal(near[seen], sm_in[seen])
    np.testing.assert_array_equal(np.isfinite(near), np.isfinite(clim))  # and filled wherever climatology is


def test_neighbour_anomaly_by_hand_and_plain_climatology_without_neighbours():
    # one row of 12 pixels over 4 days; pixel 0 is observed on days 0-2 (climatology 0.2)
    sm = np.full((4, 1, 12), nan, np.float32)
    sm[:3, 0, 0] = [0.1, 0.2, 0.3]
    sm[:, 0, 1] = [0.3, 0.2, 0.3, 0.4]  # its neighbour: climatology 0.3, and on day 3 an anomaly of +0.1
    sm[:, 0, 11] = [0.5, 0.5, 0.5, 0.1]  # far away (11 cells): anomaly -0.3 on day 3
    out = baselines.neighbour_anomaly(sm, sigma=1.0)[:, 0]
    # day 3 at pixel 0: the only neighbour within 3 sigma is pixel 1, so its anomaly is taken whole
    assert out[3, 0] == pytest.approx(0.2 + 0.1, abs=1e-6)
    # with a narrower Gaussian the neighbour weighs less than the 1e-3 threshold: plain climatology
    assert baselines.neighbour_anomaly(sm, sigma=0.25)[3, 0, 0] == pytest.approx(0.2, abs=1e-6)
    # pixels 2 to 10 are never observed: no climatology, so NaN, as climatology leaves them
    assert np.isnan(out[:, 2:11]).all()
    # observed values are returned unchanged
    seen = np.isfinite(sm[:, 0])
    assert np.array_equal(out[seen], sm[:, 0][seen])
    np.testing.assert_array_equal(np.isnan(out), np.isnan(baselines.climatology(sm)[:, 0]))


def test_the_tuned_sigma_is_the_best_on_the_second_hidden_set_and_follows_the_anomaly_width():
    land = np.ones((24, 30), bool)
    picked = {}
    for width in (1.0, 8.0):
        sm, _ = _anomaly_cube(seed=3, width=width, gaps=0.3)
        sm_in, _ = hide(sm, land, seed=5)
        filled, choice = tuning.neighbour_anomaly(sm_in, land, seed=5)
        # the table is the RMSE of each sigma on the second set, recomputed here by hand
        cube, second = hide(sm_in, land, seed=6)
        for (sigma,), e in choice.rmse.items():
            assert e == pytest.approx(metrics.rmse(baselines.neighbour_anomaly(cube, sigma), sm_in, second))
        assert choice.rmse[(choice.param["sigma"],)] == min(choice.rmse.values())
        assert np.array_equal(filled, baselines.neighbour_anomaly(sm_in, choice.param["sigma"]), equal_nan=True)
        has_climatology = np.isfinite(baselines.pixel_climatology(cube))[None]
        assert choice.n == int((second & has_climatology).sum()) > 0 and "sigma" in choice.describe()
        picked[width] = choice.param["sigma"]
    assert picked[1.0] < picked[8.0]


def test_the_choices_never_read_the_scored_pixels():
    sm, _ = _anomaly_cube(seed=1, shape=(12, 16, 20))
    land = np.ones(sm.shape[1:], bool)

    def fill(a, p, lnd):
        return baselines.linear_in_time(a)

    ev = run_evaluation(sm, None, land, fill, seed=4)
    _, hidden = hide(sm, land, seed=4)
    changed = sm.copy()
    changed[hidden] = np.random.default_rng(9).uniform(0.0, 0.9, int(hidden.sum()))  # other values, same pixels
    ev2 = run_evaluation(changed, None, land, fill, seed=4)
    assert set(ev.choices) == {NEIGHBOUR, "DCT-PLS"}
    for name, choice in ev.choices.items():
        assert ev2.choices[name].param == choice.param and ev2.choices[name].rmse == choice.rmse, name
    assert ev2.scores[0].rmse[NEIGHBOUR] != ev.scores[0].rmse[NEIGHBOUR]  # the scores do read them


def _time_or_space(along_time: bool, shape=(16, 14, 14), seed=0):
    """Truth that varies only along one axis: per pixel constant in time (``along_time``), or per day smooth in space."""
    rng = np.random.default_rng(seed)
    t, y, x = np.meshgrid(*map(np.arange, shape), indexing="ij")
    if along_time:  # each pixel its own level, steady over time: its other days tell its gaps
        truth = np.broadcast_to(rng.uniform(0.1, 0.4, shape[1:]), shape)
    else:  # each day its own smooth pattern: the same day's neighbours tell its gaps
        amp = rng.uniform(-0.15, 0.15, (shape[0], 1, 1))
        truth = 0.25 + amp * np.sin((x + 2 * t) / 3.0) * np.cos(y / 4.0)
    gaps = rng.random(shape) < 0.4
    return np.where(gaps, nan, truth).astype(np.float32), truth, gaps


def test_anisotropic_dct_pls_with_r_large_smooths_more_in_time():
    # the eigenvalues of r D_t + D_lat: r (2 cos(pi i / n) - 2) along time
    np.testing.assert_allclose(dctpls.eigenvalues((3, 2), (10.0, 1.0))[2, 1], 10 * -3.0 + -2.0, atol=1e-12)
    sm, truth, gaps = _time_or_space(along_time=True)
    wiggle, err = {}, {}
    along = ((0, 16), (2, 14))  # (axis, length): time, and a row of the grid
    for r in (0.1, 30.0):
        filled = dctpls.dct_pls_axes(sm, s=0.01, time_weight=r)
        assert np.array_equal(filled[~gaps], sm[~gaps])  # observed values kept
        # the mean second difference of the fills along time and along a row of the grid
        wiggle[r] = [np.abs(np.diff(filled, 2, axis=ax))[gaps.take(range(1, n - 1), ax)].mean() for ax, n in along]
        err[r] = metrics.rmse(filled, truth, gaps)
    assert wiggle[30.0][0] < wiggle[0.1][0] / 3 and wiggle[30.0][1] > wiggle[0.1][1]  # smoother in time, less in space
    assert err[30.0] < err[0.1] / 3  # the truth is steady in time: smoothing in time pays


def test_the_tuned_dct_pls_weighs_time_where_the_structure_is_in_time_and_space_where_it_is_in_space():
    land = np.ones((14, 14), bool)
    chosen = {}
    for along_time in (True, False):
        sm, truth, gaps = _time_or_space(along_time, seed=2)
        sm_in, hidden = hide(sm, land, seed=0)
        filled, choice = tuning.dct_pls(sm_in, land, seed=0)
        s, r = choice.param["s"], choice.param["r"]
        assert (s, r) in choice.rmse and choice.rmse[(s, r)] == min(choice.rmse.values())
        np.testing.assert_array_equal(filled, dctpls.dct_pls_axes(sm_in, s, r))  # the fill is the one scored
        chosen[along_time] = r
    # each day its own pattern: the same day's neighbours beat the pixel's other days
    assert metrics.rmse(filled, sm, hidden) < metrics.rmse(baselines.climatology(sm_in), sm, hidden) / 2
    assert chosen[True] >= 10 * chosen[False], chosen


def test_the_class_table_adds_up_to_the_scored_pixels_and_the_table_names_the_choices():
    sm, _ = _anomaly_cube(seed=2, shape=(12, 16, 20))
    sm[:, :4] = sm[:, :4] * 2.2  # some wetter pixels
    land = np.ones(sm.shape[1:], bool)
    ev = run_evaluation(sm, None, land, lambda a, p, lnd: baselines.climatology(a), seed=1)
    first = ev.scores[0]
    assert sum(c.n for c in first.classes) == first.n and len(first.classes) > 2
    labels = [f"{lo:.1f}-{hi:.1f}" for lo, hi in zip(CLASS_EDGES[:-1], CLASS_EDGES[1:], strict=True)]
    assert [c.pixels for c in first.classes] == [b for b in labels if b in {c.pixels for c in first.classes}]
    clim = baselines.pixel_climatology(ev.sm_in)
    in_02 = ev.scored & ((clim >= 0.2) & (clim < 0.3))[None]
    by_label = {c.pixels: c for c in first.classes}
    assert by_label["0.2-0.3"].n == int(in_02.sum())
    assert by_label["0.2-0.3"].bias["climatology"] == pytest.approx(
        metrics.bias(ev.estimates["climatology"], ev.sm, in_02)
    )
    text = ev.table()
    best = min((m for m in first.rmse if m != "LSTM-CNN"), key=first.rmse.get)
    assert f"Best baseline on the hidden observed pixels: {best} ({first.rmse[best]:.4f})." in text
    assert f"Ratio LSTM-CNN RMSE / best baseline RMSE: {first.rmse['LSTM-CNN'] / first.rmse[best]:.3f}" in text
    sigma = ev.choices[NEIGHBOUR].param["sigma"]
    assert f"- {NEIGHBOUR}: sigma {sigma:g} cells (chosen on a second hidden set" in text
    assert "- DCT-PLS: s " in text and "by class of their climatology" in text
    assert "| 0.2-0.3 | " in text


def test_without_dct_pls_the_other_baselines_are_still_tuned():
    from sgdsm_dask.validation.simulated import baseline_estimates

    sm, _ = _anomaly_cube(seed=4, shape=(8, 10, 10))
    out, choices = baseline_estimates(sm, np.ones((10, 10), bool), seed=0, dct=False)
    assert set(out) == {"linear in time", "climatology", NEIGHBOUR} and set(choices) == {NEIGHBOUR}
