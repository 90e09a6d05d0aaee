"""The benchmark suite runs, and the plain loop it compares against computes what sgdsm computes."""

from __future__ import annotations

import pytest

from benchmarks import full_record


@pytest.mark.slow
def test_plain_loop_and_dask_reconstruct_agree_and_the_projection_is_reported():
    r = full_record.measure(short=2, long_=3, plain_days=2, workers=1)
    # the same model on the same patches with the same state carry: the same values to float32 round-off
    assert r["plain_loop"]["same_filled_pixels"] and r["plain_loop"]["max_abs_difference"] < 1e-5
    assert [run["days"] for run in r["runs"]] == [2, 3] and all(run["files"] == run["days"] for run in r["runs"])
    assert r["projected_full_record_hours"] > 0 and r["scaling_linearity"] > 0 and r["dask_over_plain_loop"] > 0
    # the projection is the 7115-day record at the long run's seconds per day, the linearity long over short
    short, long_ = r["runs"]
    assert r["projected_full_record_hours"] == round(7115 * long_["s_per_day"] / 3600, 3)
    assert r["scaling_linearity"] == round(long_["s_per_day"] / short["s_per_day"], 3)
    assert long_["s_per_day"] == pytest.approx((long_["stage_s"] + long_["reconstruct_export_s"]) / 3, abs=0.005)
