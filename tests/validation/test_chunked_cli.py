"""``sgdsm validate --reference``: a reconstruction scored against the synthetic truth, chunk by chunk on Dask."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import xarray as xr

from sgdsm_dask.cli import main
from sgdsm_dask.testing import one_error_line
from sgdsm_dask.validation import metrics


def test_validate_against_the_truth_store_writes_maps_and_a_table(archive, rec4, client, tmp_path, capsys):
    truth = archive / "truth.zarr"
    out = tmp_path / "val"
    args = ["validate", "--product", str(rec4), "--reference", str(truth), "--out", str(out), "--min-days", "1"]
    assert main([*args, "--scheduler", client.scheduler.address]) == 0
    printed = capsys.readouterr().out
    summary = json.loads((out / "store_scores.json").read_text())
    prod = xr.open_zarr(rec4, consolidated=False)
    ref = xr.open_zarr(truth, consolidated=False).sel(time=prod["time"], lat=prod["lat"], lon=prod["lon"])
    est, flag, tr = prod["sm"].values, prod["flag"].values, ref["sm"].values
    want = metrics.all_scores(est, tr, np.isin(flag, (0, 1)))
    assert summary["scores"]["all"]["RMSE"] == pytest.approx(want["RMSE"], rel=1e-9)
    assert summary["scores"]["all"]["N"] == want["N"] > 0
    assert "| reconstructed |" in printed and (out / "store_scores.md").read_text() in printed
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # what a user opens: plain xr.open_zarr, no warning
        maps = xr.open_zarr(out / "scores.zarr")
    n = maps["n_all"].values
    sq = np.where(np.isin(flag, (0, 1)) & np.isfinite(est) & np.isfinite(tr), (est - tr).astype(np.float64) ** 2, 0)
    with np.errstate(invalid="ignore"):
        want_map = np.where(n >= 1, np.sqrt(sq.sum(0) / np.maximum(n, 1)), np.nan)
    np.testing.assert_allclose(maps["rmse_all"].values, want_map, rtol=1e-5, equal_nan=True)
    assert maps["daily_rmse_all"].sizes["time"] == 4

    # a second run into the same folder is refused, and what is there is kept
    before = sorted(p.name for p in (out / "scores.zarr").iterdir())
    assert main([*args, "--scheduler", client.scheduler.address]) == 2
    assert "scores.zarr: already exists" in one_error_line(capsys.readouterr().err)
    assert sorted(p.name for p in (out / "scores.zarr").iterdir()) == before
    # a local folder of the user's is refused before anything is written, and kept
    mine = tmp_path / "thesis"
    mine.mkdir()
    (mine / "chapter1.md").write_text("mine")
    assert main([*args, "--out", str(mine), "--scheduler", client.scheduler.address]) == 2
    assert "holds files sgdsm validate did not write (1, such as chapter1.md)" in one_error_line(
        capsys.readouterr().err
    )
    assert [p.name for p in mine.iterdir()] == ["chapter1.md"] and (mine / "chapter1.md").read_text() == "mine"


def test_validate_names_a_reference_that_is_not_a_store(rec4, tmp_path, capsys):
    args = ["validate", "--product", str(rec4), "--reference", str(tmp_path / "nope.zarr"), "--out", str(tmp_path)]
    assert main(args) == 2
    assert "nope.zarr: no such reference store" in one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "scores.zarr").exists()
