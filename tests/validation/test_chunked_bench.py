"""``benchmarks/evaluate_memory.py`` runs and reports the ratio it is named for."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from benchmarks import evaluate_memory
from sgdsm_dask.validation import metrics


def test_the_benchmarks_stores_score_as_the_in_memory_metrics(tmp_path):
    product, reference = evaluate_memory.write_stores(tmp_path, 10, 90, 100)
    p, r = xr.open_zarr(product, consolidated=False), xr.open_zarr(reference, consolidated=False)
    assert p["sm"].encoding["preferred_chunks"] == {"time": 8, "lat": 90, "lon": 100}
    est, ref, flag = p["sm"].values, r["sm"].values, p["flag"].values
    assert set(np.unique(flag)) == {0, 1} and np.isnan(est[:, :40]).all() and np.isfinite(ref).all()
    row = evaluate_memory.run_once(product, reference, str(tmp_path / "s.zarr"), workers=1)
    assert row["days"] == 10 and row["n_all"] == metrics.count(est, ref)
    assert row["rmse_all"] == pytest.approx(metrics.rmse(est, ref), abs=1e-6)
    assert row["peak_total_mib"] == pytest.approx(row["peak_workers_mib"] + row["peak_client_mib"], abs=0.2)


@pytest.mark.slow
def test_measure_reports_the_ratio_of_the_two_runs(tmp_path):
    r = evaluate_memory.measure(3, 9, workers=1, folder=str(tmp_path), grid=(40, 80))
    short, long_ = r["runs"]
    assert (short["days"], long_["days"]) == (3, 9)
    assert r["validate_memory_ratio_long_over_short"] == round(long_["peak_total_mib"] / short["peak_total_mib"], 3)
    short, long_ = r["evaluate_runs"]  # sgdsm evaluate --chunked of a staged cube of the same lengths
    assert (short["days"], long_["days"]) == (3, 9) and long_["n_scored"] > short["n_scored"] > 0
    assert r["evaluate_memory_ratio_long_over_short"] == round(long_["peak_total_mib"] / short["peak_total_mib"], 3)
    assert list(tmp_path.iterdir()) == []  # the stores are removed
