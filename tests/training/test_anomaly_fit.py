"""``sgdsm fit``: the ``anomaly`` network learns from a cube's own hidden observations."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from sgdsm_dask.cli import main
from sgdsm_dask.model.anomaly import AnomalyConfig, fill_cube
from sgdsm_dask.testing import one_error_line
from sgdsm_dask.training.anomaly import Cube, train
from sgdsm_dask.training.checkpoint import load
from sgdsm_dask.validation import baselines
from sgdsm_dask.validation.simulated import hide

TINY = AnomalyConfig(window=1, per_map=2, width=8, feature=16, hidden=16)


def _weather(seed: int, t: int = 16, h: int = 64, w: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Each pixel's level plus a daily anomaly that is smooth in space (a wet or dry spell), half the days seen."""
    rng = np.random.default_rng(seed)
    level = ndimage.gaussian_filter(rng.random((h, w)), 3) * 0.6
    spell = np.stack([ndimage.gaussian_filter(rng.standard_normal((h, w)), 6) for _ in range(t)])
    sm = (level[None] + 0.1 * spell / spell.std()).astype(np.float32)
    gaps = ndimage.gaussian_filter(rng.random((t, h, w)), (0, 2, 2)) < 0.5  # gaps in clusters, as swaths leave
    sm[gaps] = np.nan
    return sm, np.ones((h, w), bool)


def test_training_on_one_cube_fills_another_better_than_the_climatology():
    sm, land = _weather(0)
    net = train([Cube(sm, None, land)], TINY, steps=40, batch=4, days=16, lr=0.005, seed=0)
    other, land2 = _weather(1)
    sm_in, hidden = hide(other, land2, 0)
    model = fill_cube(net, sm_in, None, land2)
    clim = baselines.climatology(sm_in)
    ok = hidden & np.isfinite(clim)

    def rmse(a):
        return float(np.sqrt(np.mean((a[ok] - other[ok]) ** 2)))

    assert rmse(model) < 0.8 * rmse(clim)  # it learned to spread the same-day anomaly of the neighbours


def test_fit_writes_a_checkpoint_that_evaluate_scores_and_reconstruct_refuses(staged4, client, tmp_path, capsys):
    ck = tmp_path / "anomaly.pt"
    fit = ["fit", "--store", str(staged4), "--out", str(ck), "--steps", "10", "--batch", "2", "--days", "4"]
    assert main(fit) == 0
    assert isinstance(load(ck).config, AnomalyConfig)  # its hash file written beside it, checked on load
    assert main(fit) == 2  # an existing file is not replaced without --overwrite
    assert "--overwrite" in one_error_line(capsys.readouterr().err)
    assert main(["evaluate", "--store", str(staged4), "--checkpoint", str(ck), "--no-dct-pls"]) == 0
    assert "| LSTM-CNN |" in capsys.readouterr().out
    out = tmp_path / "rec.zarr"
    args = ["reconstruct", "--store", str(staged4), "--out", str(out), "--checkpoint", str(ck)]
    assert main([*args, "--scheduler", client.scheduler.address]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert str(ck) in line and "anomaly" in line
    assert not out.exists()  # refused before anything was written
