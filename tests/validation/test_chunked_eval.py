"""``sgdsm evaluate --chunked``: the in-memory evaluation's table, computed slab by slab on a cluster of processes."""

from __future__ import annotations

import re

import numpy as np
import pytest
import xarray as xr

from sgdsm_dask.cli import main
from sgdsm_dask.commands.evaluate import claim_report
from sgdsm_dask.model.fill import Filler
from sgdsm_dask.testing import SMALL_REGION
from sgdsm_dask.training.checkpoint import load, resolve
from sgdsm_dask.validation import baselines
from sgdsm_dask.validation.chunked_eval import evaluate_chunked
from sgdsm_dask.validation.report import TITLE
from sgdsm_dask.validation.simulated import TABLE_START, evaluate_store

TIMED = re.compile(r"; [0-9.]+ s with the fill")  # how long a tuning took: the one thing that may differ


@pytest.fixture(scope="module")
def staged10(archive, client, tmp_path_factory):
    """All ten days of the small archive (one of them missing from the LPRM files), staged."""
    store = tmp_path_factory.mktemp("staged10") / "staged.zarr"
    args = ["stage", "--lprm", str(archive / "lprm"), "--imerg", str(archive / "imerg"), "--out", str(store)]
    args += ["--region", SMALL_REGION.to_text(), "--start", "2015-04-01", "--end", "2015-04-10"]
    assert main([*args, "--scheduler", client.scheduler.address]) == 0
    return store


def test_the_chunked_table_is_the_in_memory_table_line_for_line(staged10, archive, client, tmp_path):
    truth = str(archive / "truth.zarr")
    ev = evaluate_store(str(staged10), Filler.from_checkpoint(load(resolve(None)), overlap=8), truth=truth, spin_up=1)
    maps = tmp_path / "maps.zarr"
    ce = evaluate_chunked(str(staged10), None, overlap=8, truth=truth, spin_up=1, time_chunk=3, maps=str(maps))
    # five slabs of 3 days: linear interpolation, the gap depths and the sums cross four slab borders
    assert TIMED.sub("", ce.table()) == TIMED.sub("", ev.table())
    assert ev.uncertainty is not None and "within ±2σ" in ce.table()
    written = xr.open_zarr(maps)
    assert list(written["fill_method"].values) == list(ev.estimates)
    for name, rmse in ev.pixel_rmse().items():
        # float32 maps; the model's chains sum their patches in another order than one fill of the whole cube
        np.testing.assert_allclose(written["pixel_rmse"].sel(fill_method=name).values, rmse, atol=1e-5, err_msg=name)
    with pytest.raises(Exception, match="already exists"):
        evaluate_chunked(str(staged10), None, overlap=8, maps=str(maps), dct=False)


def test_each_of_the_models_chunks_is_filled_once_whatever_the_number_of_slabs(staged10, monkeypatch):
    """A slab's scoring takes its days of the one graph of chains, not a copy that runs them again from day 0."""
    import collections

    import dask

    from sgdsm_dask.reconstruction import graph

    calls: collections.Counter = collections.Counter()
    fill_task = graph.fill_task

    def counted(path, sha256, lay, key, *args):
        calls[key] += 1
        return fill_task(path, sha256, lay, key, *args)

    monkeypatch.setattr(graph, "fill_task", counted)
    with dask.config.set(scheduler="synchronous"):  # in this process, where the count is kept
        evaluate_chunked(str(staged10), None, overlap=8, time_chunk=2, dct=False, sigma=False)
    assert calls and set(calls.values()) == {1}, dict(calls)
    assert len({key.chunk for key in calls}) == 5  # ten days in chunks of two: the chains crossed four borders


def test_linear_interpolation_of_slabs_with_their_carried_ends_is_that_of_the_whole_record():
    rng = np.random.default_rng(4)
    sm = rng.random((23, 5, 6)).astype(np.float32)
    sm[rng.random(sm.shape) < 0.7] = np.nan
    sm[:, 0, 0] = np.nan
    sm[[1, 19], 0, 0] = [0.1, 0.5]  # observed on two days, five slabs apart
    whole = baselines.linear_in_time(sm)
    obs = np.isfinite(sm)
    idx = np.arange(23)[:, None, None]
    for t0 in range(0, 23, 4):
        t1 = min(23, t0 + 4)
        before = obs[:t0].any(0)
        last = np.max(np.where(obs[:t0], idx[:t0], -1), axis=0) if t0 else np.full((5, 6), -1)
        pv = np.take_along_axis(sm, np.clip(last, 0, None)[None], 0)[0]
        later = obs[t1:].any(0)
        first = t1 + np.argmax(obs[t1:], axis=0) if t1 < 23 else np.full((5, 6), 23)
        nv = np.take_along_axis(sm, np.clip(first, 0, 22)[None], 0)[0]
        part = baselines.linear_in_time(
            sm[t0:t1], (np.where(before, pv, np.nan), last), (nv, np.where(later, first, 23)), t0=t0, days=23
        )
        np.testing.assert_array_equal(part, whole[t0:t1])
    np.testing.assert_allclose(whole[10, 0, 0], 0.1 + 0.4 * 9 / 18, rtol=1e-6)


def test_sgdsm_evaluate_chunked_prints_the_table_writes_the_maps_and_refuses_what_it_cannot_do(
    staged10, client, tmp_path, capsys
):
    maps, work = tmp_path / "m.zarr", tmp_path / "work"
    work.mkdir()
    (work / "mine.txt").write_text("a file of the user's")
    base = ["evaluate", "--store", str(staged10), "--no-dct-pls", "--scheduler", client.scheduler.address]
    args = ["--chunked", "--maps", str(maps), "--time-chunk", "4", "--out", str(tmp_path / "t.md"), "--work", str(work)]
    assert main([*base, *args]) == 0
    assert [p.name for p in work.iterdir()] == ["mine.txt"]  # the work store is gone, the user's file kept
    out = capsys.readouterr().out
    assert "| LSTM-CNN |" in out and "Ratio LSTM-CNN RMSE / best baseline RMSE" in out
    assert (tmp_path / "t.md").read_text().strip() in out
    assert (tmp_path / "t.md").read_text().startswith(TABLE_START)  # what a rerun may replace
    assert xr.open_zarr(maps)["pixel_rmse"].sizes["fill_method"] == 4
    for extra, word in ((["--chunked", "--report", str(tmp_path / "r")], "--report"), (["--maps", "x.zarr"], "--maps")):
        assert main([*base, *extra]) == 2
        assert word in capsys.readouterr().err
    assert not (tmp_path / "r").exists() and not (tmp_path / "x.zarr").exists()
    # a folder of the user's where the work store or the maps would go (not a Zarr store) is refused, kept
    (work / "sgdsm-evaluate-work.zarr").mkdir()
    (work / "sgdsm-evaluate-work.zarr" / "mine.txt").write_text("kept")
    (tmp_path / "theirs").mkdir()
    (tmp_path / "theirs" / "mine.txt").write_text("kept")
    for extra in (["--work", str(work)], ["--maps", str(tmp_path / "theirs")]):
        assert main([*base, "--chunked", *extra]) == 2
        assert "already exists" in capsys.readouterr().err
    assert (work / "sgdsm-evaluate-work.zarr" / "mine.txt").read_text() == "kept"
    assert (tmp_path / "theirs" / "mine.txt").read_text() == "kept"
    # a file of the user's at --out is refused before anything runs, and kept
    (tmp_path / "notes.md").write_text("my notes")
    assert main([*base, "--chunked", "--out", str(tmp_path / "notes.md")]) == 2
    assert "not a table sgdsm evaluate wrote" in capsys.readouterr().err
    assert (tmp_path / "notes.md").read_text() == "my notes"
    # a local --report folder of the user's is refused before anything runs, and kept; a report of ours is not
    (tmp_path / "papers").mkdir()
    (tmp_path / "papers" / "report.md").write_text("# my own report")
    assert main([*base, "--report", str(tmp_path / "papers")]) == 2
    assert "no report of sgdsm evaluate" in capsys.readouterr().err
    assert [p.name for p in (tmp_path / "papers").iterdir()] == ["report.md"]
    assert (tmp_path / "papers" / "report.md").read_text() == "# my own report"
    (tmp_path / "papers" / "report.md").write_text(TITLE + "\n\nan earlier report")
    claim_report(str(tmp_path / "papers"))  # a rerun may replace it
    # maps that cannot be written: the table is printed and written first (replacing the first run's table),
    # then one line names the store
    (tmp_path / "t.md").write_text("| method | RMSE an earlier run's table\n")
    (tmp_path / "a_file").write_text("")
    bad = str(tmp_path / "a_file" / "m.zarr")
    assert main([*base, "--chunked", "--maps", bad, "--out", str(tmp_path / "t.md")]) == 2
    printed = capsys.readouterr()
    assert "| LSTM-CNN |" in printed.out and (tmp_path / "t.md").read_text().strip() in printed.out
    assert bad in printed.err.strip().splitlines()[-1]
