"""The ``anomaly`` network: a correction around each pixel's prior, per-map partial convolutions, look-ahead."""

from __future__ import annotations

import numpy as np
import torch

from sgdsm_dask.model.anomaly import AnomalyConfig, AnomalyNet, PerMapPartialConv, fill_cube, prior_of, run_sequence

SMALL = AnomalyConfig(window=2, per_map=2, width=6, feature=8, hidden=8)


def _cube(seed=0, t=6, h=48, w=52):
    rng = np.random.default_rng(seed)
    level = 0.1 + 0.3 * rng.random((h, w))
    sm = (level[None] + 0.05 * rng.standard_normal((t, h, w))).astype(np.float32)
    land = np.ones((h, w), bool)
    land[:, -6:] = False  # a strip of sea
    sm[rng.random(sm.shape) < 0.5] = np.nan
    sm[:, ~land] = np.nan
    return sm, land


def test_an_untrained_network_returns_each_pixels_prior_and_the_observations_unchanged():
    sm, land = _cube()
    filled = fill_cube(AnomalyNet(SMALL), sm, None, land)
    prior, _ = prior_of(sm, land, SMALL.prior_sigma)
    obs = np.isfinite(sm)
    assert np.array_equal(filled[obs], sm[obs])  # bit for bit
    gaps = ~obs & land[None]
    np.testing.assert_allclose(filled[gaps], np.broadcast_to(prior, sm.shape)[gaps], atol=1e-6)
    assert np.isnan(filled[:, ~land]).all()


def test_a_pixel_never_observed_takes_the_prior_of_its_neighbours():
    sm, land = _cube()
    sm[:, 20, 20] = np.nan
    prior, n = prior_of(sm, land, 2.0)
    assert n[20, 20] == 0
    around = [prior[20 + dy, 20 + dx] for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx]
    assert min(around) <= prior[20, 20] <= max(around)


def test_each_input_map_is_normalised_by_its_own_mask_and_ignores_what_it_hides():
    torch.manual_seed(0)
    pc = PerMapPartialConv(maps=2, out_per_map=3)
    x = torch.rand(1, 2, 12, 12)
    mask = (torch.rand(1, 2, 12, 12) > 0.5).float()
    out = pc(x, mask)
    hidden_changed = torch.where(mask > 0, x, torch.full_like(x, 99.0))
    torch.testing.assert_close(pc(hidden_changed, mask), out)  # values under a gap do not count
    other = mask.clone()
    other[:, 1] = 1.0  # the second map now fully observed: the first map's features stay as they were
    torch.testing.assert_close(pc(x, other)[:, :3], out[:, :3])


def test_a_day_sees_the_days_after_it_within_its_window_and_no_further():
    torch.manual_seed(0)
    net = AnomalyNet(SMALL)
    torch.nn.init.normal_(net.out.weight, std=0.1)  # a network that is not the prior
    n, t, p = 1, 6, SMALL.patch
    inp = {
        "a": torch.zeros(n, t, p, p),
        "m": torch.zeros(n, t, p, p),
        "static": torch.zeros(n, 2, p, p),
        "precip": torch.full((n, t, p, p), -1.0),
        "land": torch.ones(n, 1, p, p),
    }
    base = run_sequence(net, inp)
    inp["a"][:, 2], inp["m"][:, 2] = 1.0, 1.0  # an observation on day 2
    moved = (run_sequence(net, inp) - base).abs().amax(dim=(0, 2, 3))
    assert moved[0] > 0  # day 0 sees day 2 (window 2)
    assert moved[2] > 0
    late = {k: v.clone() for k, v in inp.items()}
    late["a"][:, 2], late["m"][:, 2] = 0.0, 0.0
    late["a"][:, 5], late["m"][:, 5] = 1.0, 1.0  # day 5: beyond the windows of days 0-2 (the state runs forward)
    first = (run_sequence(net, late) - base).abs().amax(dim=(0, 2, 3))
    assert first[0] == 0 and first[1] == 0 and first[2] == 0
    assert first[3] > 0


def test_the_base_features_gaussian_is_scipys_with_zeros_beyond_the_edge():
    from scipy import ndimage

    from sgdsm_dask.model.anomaly import _gauss

    x = np.random.default_rng(1).random((2, 3, 30, 34)).astype(np.float32)
    for sigma in (1.0, 2.0, 4.0):
        want = ndimage.gaussian_filter(x, (0, 0, sigma, sigma), mode="constant", truncate=3.0)
        np.testing.assert_allclose(_gauss(torch.from_numpy(x), sigma).numpy(), want, atol=1e-6)


def _smooth_cube(seed=0, t=12, h=64, w=64):
    """Each pixel's level plus a same-day anomaly smooth over a few cells: what the linear base can learn."""
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    level = 0.15 + 0.25 * rng.random((h, w))
    anom = ndimage.gaussian_filter(rng.standard_normal((t, h, w)), (0, 3, 3)) * 0.6
    sm = (level[None] + anom + 0.005 * rng.standard_normal((t, h, w))).astype(np.float32)
    land = np.ones((h, w), bool)
    keep = ndimage.gaussian_filter(rng.random((t, h, w)), (0, 2, 2)) > 0.5  # gaps in patches, as swaths leave them
    return np.where(keep, sm, np.nan).astype(np.float32), land


def test_the_linear_base_alone_fills_hidden_pixels_better_than_the_prior():
    from sgdsm_dask.training.anomaly import Cube, _hiding, fit_base
    from sgdsm_dask.validation.simulated import hide

    cfg = AnomalyConfig(window=1, per_map=2, width=6, feature=8, hidden=8)
    train_sm, land = _smooth_cube(0)
    net = AnomalyNet(cfg)
    fit_base(net, [_hiding(Cube(train_sm, None, land), cfg, 101 + k) for k in range(2)])
    assert net.base_w.abs().sum() > 0
    sm, land = _smooth_cube(1)  # another cube: the weights are not fitted on what is scored
    sm_in, hidden = hide(sm, land, 0)
    prior, _ = prior_of(sm_in, land, cfg.prior_sigma)
    based = fill_cube(net, sm_in, None, land)
    rmse_prior = np.sqrt(np.mean((np.broadcast_to(prior, sm.shape)[hidden] - sm[hidden]) ** 2))
    rmse_base = np.sqrt(np.mean((based[hidden] - sm[hidden]) ** 2))
    assert rmse_base < 0.8 * rmse_prior, (rmse_base, rmse_prior)


def _rainy_cube(seed=0, t=14, h=64, w=64, lag=0):
    """Each pixel's level, wetted on the days it rains (more where it is dry): rain maps smooth over many cells.

    With ``lag`` 1 the soil shows the rain of the day before (a morning
    overpass before the day's storms), not the day's.
    """
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    level = 0.1 + 0.3 * rng.random((h, w))
    rain = np.clip(ndimage.gaussian_filter(rng.standard_normal((t, h, w)), (0, 6, 6)) * 60.0, 0.0, None)
    wets = np.roll(rain, lag, axis=0)
    wets[:lag] = 0.0
    sm = level[None] + 0.08 * np.log1p(wets) * (0.6 - level[None]) / 0.4 + 0.005 * rng.standard_normal((t, h, w))
    land = np.ones((h, w), bool)
    keep = ndimage.gaussian_filter(rng.random((t, h, w)), (0, 2, 2)) > 0.5
    return np.where(keep, sm, np.nan).astype(np.float32), rain.astype(np.float32), land


def test_the_linear_base_takes_the_days_rain_and_ignores_a_cube_without_any():
    from sgdsm_dask.training.anomaly import Cube, _hiding, fit_base
    from sgdsm_dask.validation.simulated import hide

    cfg = AnomalyConfig(window=1, per_map=2, width=6, feature=8, hidden=8)
    train_sm, train_rain, land = _rainy_cube(0)
    net = AnomalyNet(cfg)
    fit_base(net, [_hiding(Cube(train_sm, train_rain, land), cfg, 101 + k) for k in range(2)])
    assert net.base_w[-cfg.base_rain :].abs().sum() > 0  # the rain terms
    sm, rain, land = _rainy_cube(1)  # another cube: the weights are not fitted on what is scored
    sm_in, hidden = hide(sm, land, 0)
    with_rain = fill_cube(net, sm_in, rain, land)
    without = fill_cube(net, sm_in, None, land)

    def rmse(a):
        return np.sqrt(np.mean((a[hidden] - sm[hidden]) ** 2))

    assert rmse(with_rain) < 0.8 * rmse(without), (rmse(with_rain), rmse(without))
    net.base_w[-cfg.base_rain :] = 0.0  # without rain data the rain terms are zero: their weights change nothing
    np.testing.assert_array_equal(fill_cube(net, sm_in, None, land), without)


def test_the_linear_base_takes_the_rain_of_the_days_around_where_the_soil_shows_yesterdays():
    from sgdsm_dask.training.anomaly import Cube, _hiding, fit_base
    from sgdsm_dask.validation.simulated import hide

    cfg = AnomalyConfig(window=1, per_map=2, width=6, feature=8, hidden=8)
    train_sm, train_rain, land = _rainy_cube(0, lag=1)
    net = AnomalyNet(cfg)
    fit_base(net, [_hiding(Cube(train_sm, train_rain, land), cfg, 101 + k) for k in range(2)])
    sm, rain, land = _rainy_cube(1, lag=1)
    sm_in, hidden = hide(sm, land, 0)
    hidden[0] = False  # the first day has no day before to take the rain of

    def rmse(a):
        return np.sqrt(np.mean((a[hidden] - sm[hidden]) ** 2))

    fitted = rmse(fill_cube(net, sm_in, rain, land))
    net.base_w[-(cfg.base_rain - 2) :] = 0.0  # the terms of the days around; the day's two are kept
    assert fitted < 0.8 * rmse(fill_cube(net, sm_in, rain, land))
