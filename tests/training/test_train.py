import json

import numpy as np
import pytest
import torch

from sgdsm_dask.cli import main
from sgdsm_dask.io import zarr_store
from sgdsm_dask.training import checkpoint
from sgdsm_dask.training.samples import SampleRequest, extract
from sgdsm_dask.training.train import eq12
from sgdsm_dask.validation.simulated import evaluate_store


@pytest.fixture(scope="module")
def staged(archive, client, tmp_path_factory):
    out = tmp_path_factory.mktemp("train") / "staged.zarr"
    args = ["stage", "--lprm", str(archive / "lprm"), "--imerg", str(archive / "imerg"), "--out", str(out)]
    assert main(args + ["--region", "0,40,20,50", "--time-chunk", "4", "--scheduler", client.scheduler.address]) == 0
    return out


def test_complete_samples_lay_real_masks_of_other_days(archive, staged, client):
    truth = str(archive / "truth.zarr")
    req = SampleRequest(store=truth, masks=str(staged), n=40, days=3, stride=10, block=4, seed=1)
    s = extract(req, client)
    again = extract(req)  # in this process: the same samples
    assert len(s) == 40
    for f in ("sm", "known", "mask", "precip", "land"):
        np.testing.assert_array_equal(getattr(s, f), getattr(again, f))
    assert np.array_equal(s.known, np.broadcast_to(s.land[:, None], s.known.shape))  # complete: every land pixel
    assert 0.05 < s.hidden_fraction() < 0.95
    # Every laid-over mask is the staged cube's observation mask of some other 3 days at the same place.
    obs = np.isfinite(zarr_store.read_array(str(staged), "sm"))
    tr = zarr_store.read_array(truth, "sm")
    for i in range(5):
        hits = [
            (t, y, x)
            for t in range(tr.shape[0] - 2)
            for y in range(0, 1, 10)
            for x in range(0, 41, 10)
            if np.array_equal(
                np.where(np.isfinite(tr[t : t + 3, y : y + 40, x : x + 40]), tr[t : t + 3, y : y + 40, x : x + 40], 0)
                * s.land[i],
                s.sm[i],
            )
        ]
        assert hits, "sample does not come from the truth store"
        t, y, x = hits[0]
        masks = [obs[u : u + 3, y : y + 40, x : x + 40] & s.land[i] for u in range(obs.shape[0] - 2) if u != t]
        assert any(np.array_equal(m, s.mask[i]) for m in masks)


def test_incomplete_mode_on_the_staged_cube(staged):
    req = SampleRequest(store=str(staged), n=30, days=3, mode="incomplete", min_known=0.2, stride=10, block=4)
    s = extract(req)
    assert len(s) > 0
    frac = s.known.sum(axis=(1, 2, 3)) / (s.land.sum(axis=(1, 2)) * 3)
    assert np.all(frac >= 0.2)
    assert not np.any(s.mask & ~s.known)  # nothing counts as input that was not observed
    with pytest.raises(Exception, match="no 3-day 40 x 40 window qualifies in complete mode"):
        extract(SampleRequest(store=str(staged), n=30, days=3, stride=10, block=4))


def test_sgdsm_train_one_epoch_then_resume(archive, staged, client, tmp_path, capsys):
    out = tmp_path / "tiny.pt"
    base = ["train", "--store", str(archive / "truth.zarr"), "--masks", str(staged), "--out", str(out)]
    base += [
        "--config",
        "tiny",
        "--samples",
        "24",
        "--days",
        "3",
        "--batch",
        "8",
        "--scheduler",
        client.scheduler.address,
    ]
    assert main(base + ["--epochs", "1"]) == 0
    first = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert first["epoch"] == 1 and np.isfinite(first["val_rmse"])
    ck = checkpoint.load(out)
    assert ck.training["epoch"] == 1 and ck.config.name == "tiny"
    assert ck.provenance["sources"][0]["masks"] == str(staged)
    assert ck.normalisation.sm_scale > 0
    # Asking for two epochs continues the same run from epoch 1.
    assert main(base + ["--epochs", "2"]) == 0
    ck2 = checkpoint.load(out)
    assert [h["epoch"] for h in ck2.training["history"]] == [1, 2]
    assert ck2.training["history"][0] == ck.training["history"][0]
    # Another request into the same file is refused without --overwrite.
    assert main(base + ["--epochs", "2", "--alpha", "0.5"]) == 2
    assert "different training run" in capsys.readouterr().err
    # The trained checkpoint fills the staged cube and is scored against the baselines.
    from sgdsm_dask.model.fill import Filler

    scores = evaluate_store(str(staged), Filler.from_checkpoint(str(out)), truth=str(archive / "truth.zarr")).scores
    methods = {"LSTM-CNN", "linear in time", "climatology", "climatology + neighbour anomaly", "DCT-PLS"}
    assert scores[0].n > 0 and set(scores[0].rmse) == methods


def test_eq12_by_hand():
    raw = torch.zeros(1, 1, 40, 40)
    b = {
        "s": torch.zeros(1, 1, 40, 40),
        "m": torch.ones(1, 1, 40, 40),
        "known": torch.ones(1, 1, 40, 40),
        "land": torch.ones(1, 40, 40),
    }
    b["s"][0, 0, 0, 0] = 2.0  # error 2 at a hidden pixel
    b["m"][0, 0, 0, 0] = 0.0
    b["s"][0, 0, 5, 5] = 1.0  # error 1 at an observed pixel
    loss, se, n = eq12(raw, b, alpha=0.1)
    # local: 4; global (all land): 0.1 * (4 + 1)
    assert loss.item() == pytest.approx(4 + 0.1 * 5)
    assert (se.item(), n.item()) == (4.0, 1.0)
