"""The realism statistics on arrays whose answers are known, and the benchmark's table."""

import numpy as np
import pytest

from benchmarks import synth_realism
from sgdsm_dask.synth import realism


def _ar1(phi, nt=400, ny=6, nx=6, seed=0):
    rng = np.random.default_rng(seed)
    e = rng.standard_normal((nt, ny, nx))
    x = np.empty_like(e)
    x[0] = e[0]
    for t in range(1, nt):
        x[t] = phi * x[t - 1] + np.sqrt(1 - phi**2) * e[t]
    return x


def test_level_spread_percentiles_and_observed_fraction():
    land = np.array([[True, True, False]])
    sm = np.full((4, 1, 3), np.nan)
    sm[:, 0, 0] = [0.1, 0.2, 0.3, np.nan]  # pixel mean 0.2
    sm[:, 0, 1] = [0.6, 0.6, np.nan, np.nan]  # pixel mean 0.6
    sm[:, 0, 2] = 0.9  # sea: never counts
    assert realism.observed_fraction(sm, land) == pytest.approx(5 / 8)
    s = realism.summary(sm, land, min_obs=2)
    assert s["mean"] == pytest.approx(0.36) and s["std"] == pytest.approx(np.std([0.1, 0.2, 0.3, 0.6, 0.6]))
    assert s["p01"] == pytest.approx(np.percentile([0.1, 0.2, 0.3, 0.6, 0.6], 1))
    assert s["p99"] == pytest.approx(np.percentile([0.1, 0.2, 0.3, 0.6, 0.6], 99))
    assert s["pixel_mean_spread"] == pytest.approx(0.2)  # std of (0.2, 0.6)
    # a pixel seen on fewer than min_obs days has no mean
    assert np.isnan(realism.pixel_means(sm, land, min_obs=3)[0, 1])
    np.testing.assert_allclose(realism.anomalies(sm, land, 2)[:, 0, 0], [-0.1, 0.0, 0.1, np.nan], atol=1e-12)


@pytest.mark.parametrize("phi", [0.0, 0.3, 0.7])
def test_lag1_autocorrelation_of_an_ar1_process(phi):
    x = 0.3 + 0.05 * _ar1(phi)
    land = np.ones(x.shape[1:], bool)
    assert realism.lag1_autocorrelation(x, land) == pytest.approx(phi, abs=0.04)
    # gaps: only pairs observed on both days count, and the answer stays
    x[np.random.default_rng(1).random(x.shape) < 0.3] = np.nan
    assert realism.lag1_autocorrelation(x, land) == pytest.approx(phi, abs=0.05)


def test_spatial_correlation_of_a_2x2_box_sum():
    # x = sum of white noise over a 2 x 2 box: neighbours share half their terms (0.5), two cells none (0)
    e = np.random.default_rng(2).standard_normal((200, 41, 41))
    x = e[:, :-1, :-1] + e[:, 1:, :-1] + e[:, :-1, 1:] + e[:, 1:, 1:]
    land = np.ones(x.shape[1:], bool)
    assert realism.spatial_correlation(x, land, 1) == pytest.approx(0.5, abs=0.02)
    assert realism.spatial_correlation(x, land, 2) == pytest.approx(0.0, abs=0.02)
    # the pixel means are removed first: a static pattern adds nothing
    pattern = np.random.default_rng(3).standard_normal(x.shape[1:])
    assert realism.spatial_correlation(x + 10 * pattern, land, 1) == pytest.approx(0.5, abs=0.02)
    assert realism.anomaly_std(x, land) == pytest.approx(2.0, rel=0.02)
    with pytest.raises(ValueError):
        realism.spatial_correlation(x, land, 0)


def test_fractions_at_the_range_ends():
    sm = np.array([0.0, 0.0, 0.2, 0.5, 0.99, 0.98, 0.3, np.nan]).reshape(8, 1, 1)
    lo, hi = realism.end_fractions(sm, np.ones((1, 1), bool))
    assert lo == pytest.approx(2 / 7) and hi == pytest.approx(1 / 7)


def test_benchmark_prints_one_row_per_statistic_and_a_column_per_cube(tmp_path, capsys):
    import xarray as xr

    x = np.clip(0.3 + 0.05 * _ar1(0.5, nt=30, ny=8, nx=8), 0, 0.99).astype(np.float32)
    land = np.ones((8, 8), bool)
    for name in ("a", "b"):
        xr.Dataset({"sm": (("time", "lat", "lon"), x), "land": (("lat", "lon"), land)}).to_zarr(
            tmp_path / f"{name}.zarr", consolidated=False
        )
    synth_realism.main(["--real", str(tmp_path / "a.zarr"), "--synth", str(tmp_path / "b.zarr")])
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == "| statistic | real: a | synthetic: b |" and len(lines) == 2 + len(realism.ROWS)
    lag1 = next(ln for ln in lines if ln.startswith("| lag-1"))
    a, b = (float(c) for c in lag1.strip("|").split("|")[1:])
    assert a == b == pytest.approx(realism.lag1_autocorrelation(x, land), abs=5e-4)
