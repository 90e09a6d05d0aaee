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
