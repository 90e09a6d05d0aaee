"""sm_uncertainty, days_since_observed and distance_to_observed of a reconstruction (the 10-day cube of two blocks)."""

import json

import numpy as np
import pytest

from sgdsm_dask.flags import Flag
from sgdsm_dask.io import zarr_store
from sgdsm_dask.reconstruction import ReconstructRequest, reconstruct
from sgdsm_dask.uncertainty import OBSERVED_SIGMA, days_since_observed, distance_to_observed

GAPS = ("sm_uncertainty", "days_since_observed", "distance_to_observed")


def _gaps(store):
    return {name: zarr_store.read_array(store, name) for name in GAPS}


def test_every_value_carries_sigma_and_how_deep_in_a_gap_it_lies(staged, reference):
    flag = zarr_store.read_array(reference, "flag")
    g = _gaps(reference)
    sigma, days, dist = g["sm_uncertainty"], g["days_since_observed"], g["distance_to_observed"]
    filled, observed, empty = flag == Flag.FILLED, flag == Flag.OBSERVED, flag == Flag.NOT_FILLED
    assert np.all(sigma[observed] == np.float32(OBSERVED_SIGMA))
    assert np.all((sigma[filled] > 0.002) & (sigma[filled] < 0.5)) and np.isnan(sigma[empty]).all()
    # the closed forms over the whole staged cube (not a block, not a chunk): the record's calendar days
    src = zarr_store.read_array(staged, "sm")
    staged_days = zarr_store.read_array(staged, "day_status") == 1
    obs = np.isfinite(src) & staged_days[:, None, None]
    land = zarr_store.read_array(staged, "land").astype(bool)
    want_days = days_since_observed(obs)
    keep = land[None] | obs
    assert np.array_equal(days[keep], want_days[keep]) and (days[~keep] == -1).all()
    assert (days[observed] == 0).all() and (days[filled] >= 1).all()
    assert (days[4][land] >= 1).all()  # 2015-04-05 is missing: nothing observed, every land pixel a day deeper
    want_dist = distance_to_observed(obs)
    assert np.array_equal(dist[~empty], want_dist[~empty]) and (dist[empty] == -1).all()
    model = json.loads(zarr_store.read_attrs(reference)["sm_uncertainty_model"])
    assert model["n"] > 200 and model["fitted_on"]["seed"] == 7919  # fitted on the cube's own hidden pixels


@pytest.mark.parametrize("time_chunk", [1, 3])
def test_sigma_and_gap_depths_do_not_depend_on_time_chunks_or_workers(staged, reference, client, tmp_path, time_chunk):
    out = str(tmp_path / "rec.zarr")
    reconstruct(ReconstructRequest(staged, out, time_chunk=time_chunk), client)  # 2 worker processes
    got, ref = _gaps(out), _gaps(reference)
    assert np.array_equal(got["days_since_observed"], ref["days_since_observed"])
    assert np.array_equal(got["distance_to_observed"], ref["distance_to_observed"])
    np.testing.assert_allclose(got["sm_uncertainty"], ref["sm_uncertainty"], rtol=1e-4)


def test_a_resumed_run_keeps_its_sigma_and_carries_the_gap_depths(staged, reference, tmp_path):
    import zarr

    out = str(tmp_path / "rec.zarr")
    reconstruct(ReconstructRequest(staged, out, time_chunk=4))
    fitted = zarr_store.read_attrs(out)["sm_uncertainty_model"]
    g = zarr.open_group(out, mode="r+")
    g["model/done"][1:] = 0  # as if stopped after the first chunk: the chains read day 4's depths back
    g["days_since_observed"][4:] = -1
    g["sm_uncertainty"][4:] = np.nan
    summary = reconstruct(ReconstructRequest(staged, out, time_chunk=4))
    assert summary["tasks_resumed"] == 2 and summary["tasks_run"] == 4
    assert zarr_store.read_attrs(out)["sm_uncertainty_model"] == fitted
    ref = _gaps(reference)
    assert np.array_equal(zarr_store.read_array(out, "days_since_observed"), ref["days_since_observed"])
    np.testing.assert_allclose(zarr_store.read_array(out, "sm_uncertainty"), ref["sm_uncertainty"], rtol=1e-4)


def test_series_draws_a_days_uncertainty_map(staged, reference, tmp_path, capsys):
    from sgdsm_dask.cli import main

    png = tmp_path / "map.png"
    args = ["series", "--store", staged, "--result", reference, "--at=10.1,45.1", "--out", str(tmp_path / "s.png")]
    assert main([*args, "--map-day", "2015-04-03", "--map-out", str(png)]) == 0
    assert png.stat().st_size > 10000
    assert main([*args, "--map-day", "2016-01-01", "--map-out", str(png)]) == 2  # its own pictures: drawn again
    assert "has no day 2016-01-01" in capsys.readouterr().err
    # a file of the user's at either name is refused before anything is drawn, and kept
    for option, name in (("--out", "s.png"), ("--map-out", "map.png")):
        mine = tmp_path / f"mine_{name}"
        mine.write_bytes(b"a picture of the user's")
        again = [*args, "--map-day", "2015-04-03", "--map-out", str(png)]
        again[again.index(option) + 1] = str(mine)
        before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
        assert main(again) == 2
        assert "is not a picture sgdsm drew" in capsys.readouterr().err
        assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == before


def test_no_uncertainty_writes_the_same_values_without_sigma_and_its_files_say_so(staged, reference, client, tmp_path):
    import xarray as xr

    from sgdsm_dask.cli import main

    out, daily = tmp_path / "plain.zarr", tmp_path / "daily"
    args = ["reconstruct", "--store", staged, "--out", str(out), "--no-uncertainty", "--export", str(daily)]
    assert main([*args, "--scheduler", client.scheduler.address]) == 0
    for name in ("sm", "flag"):  # the same fill, bit for bit
        assert np.array_equal(zarr_store.read_array(str(out), name), zarr_store.read_array(reference, name), True)
    with xr.open_zarr(out) as ds:
        assert not set(GAPS) & set(ds.variables)
    with xr.open_zarr(out, group="model") as model:
        assert "sm_std" not in model.variables
    assert "sm_uncertainty_model" not in zarr_store.read_attrs(str(out))  # no calibration ran
    with xr.open_dataset(daily / "SGD-SM2_20150402.nc") as day:
        assert "sm_uncertainty" not in day.variables and day["sm"].attrs["ancillary_variables"] == "flag"
    assert main(["verify", str(daily)]) == 0
    # a store is resumed only by the same request: with sigma asked for, the plain store is another request
    assert main(["reconstruct", "--store", staged, "--out", str(out), "--scheduler", client.scheduler.address]) == 2
