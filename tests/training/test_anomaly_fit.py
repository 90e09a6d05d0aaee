"""``sgdsm fit``: the ``anomaly`` network learns from a cube's own hidden observations."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr
from scipy import ndimage

from sgdsm_dask.cli import main
from sgdsm_dask.flags import Flag
from sgdsm_dask.model.anomaly import AnomalyConfig, fill_cube
from sgdsm_dask.testing import one_error_line
from sgdsm_dask.training.anomaly import Cube, train
from sgdsm_dask.training.checkpoint import load
from sgdsm_dask.validation import baselines
from sgdsm_dask.validation.simulated import hide

TINY = AnomalyConfig(window=1, per_map=2, width=8, feature=16, hidden=16)


@pytest.fixture(scope="module")
def anomaly_ck(staged4, tmp_path_factory):
    ck = tmp_path_factory.mktemp("anomaly") / "anomaly.pt"
    assert main(["fit", "--store", str(staged4), "--out", str(ck), "--steps", "10", "--batch", "2", "--days", "4"]) == 0
    return ck


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


def test_fit_writes_a_checkpoint_that_evaluate_scores(staged4, tmp_path, capsys, anomaly_ck):
    assert isinstance(load(anomaly_ck).config, AnomalyConfig)  # its hash file written beside it, checked on load
    again = ["fit", "--store", str(staged4), "--out", str(anomaly_ck), "--steps", "10"]
    assert main(again) == 2  # an existing file is not replaced without --overwrite
    assert "--overwrite" in one_error_line(capsys.readouterr().err)
    assert main(["evaluate", "--store", str(staged4), "--checkpoint", str(anomaly_ck), "--no-dct-pls"]) == 0
    assert "| LSTM-CNN |" in capsys.readouterr().out


def _reconstruct(staged4, client, ck, out, *extra):
    args = ["reconstruct", "--store", str(staged4), "--out", str(out), "--checkpoint", str(ck), *extra]
    return main([*args, "--scheduler", client.scheduler.address])


def test_the_dask_chains_give_what_the_whole_cube_gives_whatever_the_time_chunk(
    staged4, client, tmp_path, capsys, anomaly_ck
):
    one, four = tmp_path / "one.zarr", tmp_path / "four.zarr"
    assert _reconstruct(staged4, client, anomaly_ck, one, "--time-chunk", "1") == 0  # the look-ahead crosses chunks
    assert _reconstruct(staged4, client, anomaly_ck, four, "--time-chunk", "4") == 0
    a, b = (xr.open_zarr(x, consolidated=False) for x in (one, four))
    sm = xr.open_zarr(staged4, consolidated=False)
    np.testing.assert_allclose(a["sm"].values, b["sm"].values, atol=1e-6)
    assert np.array_equal(a["flag"].values, b["flag"].values)
    obs = np.isfinite(sm["sm"].values)
    assert np.array_equal(a["sm"].values[obs], sm["sm"].values[obs])  # observed pixels bit for bit
    net = load(anomaly_ck).model()
    whole = fill_cube(net, sm["sm"].values, sm["precip"].values, sm["land"].values.astype(bool))
    np.testing.assert_allclose(a["sm"].values, whole, atol=1e-5)  # the chains fill as the cube held whole
    assert xr.open_zarr(one, group="model", consolidated=False)["sm_prior"].attrs["units"] == "m3 m-3"


def _stage(archive, client, out, end):
    args = ["stage", "--lprm", str(archive / "lprm"), "--imerg", str(archive / "imerg"), "--out", str(out)]
    args += ["--region=0,40,20,50", "--start", "2015-04-01", "--end", end, "--time-chunk", "2"]
    assert main([*args, "--scheduler", client.scheduler.address]) == 0
    return out


def _flags_and_values(folder, day):
    with xr.open_dataset(folder / f"SGD-SM2_{day}.nc") as ds:
        return ds["flag"].values[0], ds["sm"].values[0]


def test_append_refills_the_provisional_days_and_equals_one_run_with_the_same_prior(
    archive, client, tmp_path, capsys, anomaly_ck
):
    window = load(anomaly_ck).config.window
    first = _stage(archive, client, tmp_path / "first6.zarr", "2015-04-06")
    grown = _stage(archive, client, tmp_path / "all10.zarr", "2015-04-10")
    out, files = tmp_path / "rec.zarr", tmp_path / "daily"
    assert _reconstruct(first, client, anomaly_ck, out, "--time-chunk", "2") == 0
    flag = xr.open_zarr(out)["flag"].values
    late = np.arange(6) >= 6 - window  # their days after are not in the cube yet
    assert (flag[late] == Flag.PROVISIONAL).any() and not (flag[late] == Flag.FILLED).any()
    assert not (flag[~late] == Flag.PROVISIONAL).any()
    assert main(["export", "--store", str(out), "--out", str(files)]) == 0
    assert (_flags_and_values(files, "20150406")[0] == Flag.PROVISIONAL).any()  # the files say so too

    assert _reconstruct(grown, client, anomaly_ck, out, "--time-chunk", "2", "--append", "--prior-days", "5") == 2
    assert "prior_days was 6, now 5" in one_error_line(capsys.readouterr().err)  # an append keeps its prior
    capsys.readouterr()
    assert _reconstruct(grown, client, anomaly_ck, out, "--time-chunk", "2", "--append") == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["days_appended"] == 4  # and the chunks holding a provisional day are redone

    one = tmp_path / "one.zarr"  # one run over the grown cube, around the same prior
    assert _reconstruct(grown, client, anomaly_ck, one, "--time-chunk", "2", "--prior-days", "6") == 0
    a, b = xr.open_zarr(out), xr.open_zarr(one)
    assert np.array_equal(a["flag"].values, b["flag"].values)
    np.testing.assert_allclose(a["sm"].values, b["sm"].values, rtol=0, atol=2e-6)
    flag = a["flag"].values
    assert not (flag[:6] == Flag.PROVISIONAL).any() and (flag[:6] == Flag.FILLED).any()
    assert (flag[10 - window :] == Flag.PROVISIONAL).any()

    assert main(["export", "--store", str(out), "--out", str(files)]) == 0  # the provisional files are written again
    got_flag, got_sm = _flags_and_values(files, "20150406")
    assert np.array_equal(got_flag, a["flag"].values[5]) and not (got_flag == Flag.PROVISIONAL).any()
    np.testing.assert_array_equal(got_sm, a["sm"].values[5])
    assert main(["verify", str(files)]) == 0
