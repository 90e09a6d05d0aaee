"""Reconstruction: values, tiling, resumes, appends, workers and GPUs (the 10-day cube of two blocks)."""

import json
import shutil

import numpy as np
import pytest
import zarr

from sgdsm_dask.cf import BOUNDS_DIM
from sgdsm_dask.cli import main
from sgdsm_dask.errors import InputError
from sgdsm_dask.flags import Flag
from sgdsm_dask.io import zarr_store
from sgdsm_dask.reconstruction import ReconstructRequest, reconstruct
from sgdsm_dask.testing import one_error_line
from tests.conftest import write_run_file
from tests.reconstruction.conftest import RESULT_PRODUCT, STAGED_PRODUCT, open_plainly, read

_read = read
FLAG_OBSERVED, FLAG_FILLED, FLAG_NOT_FILLED = Flag.OBSERVED, Flag.FILLED, Flag.NOT_FILLED


def test_observed_pixels_kept_land_filled_flags_match(staged, reference):
    sm, flag = _read(reference)
    src = zarr_store.read_array(staged, "sm")
    land = zarr_store.read_array(staged, "land").astype(bool)
    status = zarr_store.read_array(staged, "day_status")
    obs = np.isfinite(src)
    assert np.array_equal(sm[obs], src[obs])  # bit for bit
    staged_days = status == 1
    gaps = ~obs & land[None] & staged_days[:, None, None]
    assert np.isfinite(sm[gaps]).all() and np.all((sm[gaps] >= 0) & (sm[gaps] <= 1))
    assert np.array_equal(flag == FLAG_OBSERVED, obs)
    assert np.array_equal(flag == FLAG_FILLED, gaps)
    assert np.all(flag[~staged_days] == FLAG_NOT_FILLED) and np.isnan(sm[~staged_days]).all()  # the missing day


@pytest.mark.parametrize("time_chunk", [1, 7])
def test_result_does_not_depend_on_time_chunks_or_workers(staged, reference, client, tmp_path, time_chunk):
    out = str(tmp_path / "rec.zarr")
    reconstruct(ReconstructRequest(staged, out, time_chunk=time_chunk), client)  # 2 worker processes
    sm, flag = _read(out)
    ref_sm, ref_flag = _read(reference)
    assert np.array_equal(flag, ref_flag)
    np.testing.assert_allclose(sm, ref_sm, rtol=0, atol=2e-6)


def test_overlap_blends_patches_across_blocks_and_removes_the_seam(staged, reference, tmp_path):
    from sgdsm_dask.model.fill import patch_edges
    from sgdsm_dask.validation.metrics import seam_score

    # By default patches overlap by 8 cells (stride 32): the patch grid does not follow the two
    # 40-cell blocks of the reference, so each block read a halo and ran the patches it shares with
    # its neighbour. One 80-cell block must give the same values.
    one = str(tmp_path / "one_block.zarr")
    reconstruct(ReconstructRequest(staged, one, time_chunk=30, space_chunk=80))
    sm, flag = _read(reference)
    one_sm, one_flag = _read(one)
    assert np.array_equal(flag, one_flag)
    np.testing.assert_allclose(sm, one_sm, rtol=0, atol=2e-6)
    # Edge to edge (overlap 0), the border between the two 40-cell patches shows; blended, it does not.
    edge = str(tmp_path / "edge_to_edge.zarr")
    reconstruct(ReconstructRequest(staged, edge, time_chunk=30, overlap=0))
    edge_sm, edge_flag = _read(edge)
    assert np.array_equal(flag, edge_flag)
    filled = flag == FLAG_FILLED
    edges = [patch_edges(n, 40) for n in sm.shape[1:]]
    blended, hard = seam_score(sm, filled, *edges), seam_score(edge_sm, filled, *edges)
    assert blended < 1.5 < hard  # about 1: the border is as smooth as anywhere else


def test_one_worker_process_gives_the_same_values(staged, reference, tmp_path):
    from distributed import Client, LocalCluster

    out = str(tmp_path / "rec.zarr")
    with (
        LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address="127.0.0.1:0") as lc,
        Client(lc) as c,
    ):
        reconstruct(ReconstructRequest(staged, out, time_chunk=7), c)
    np.testing.assert_array_equal(_read(out)[1], _read(reference)[1])
    np.testing.assert_allclose(_read(out)[0], _read(reference)[0], rtol=0, atol=2e-6)


def test_resume_redoes_only_unfinished_chunks(staged, tmp_path):
    out = str(tmp_path / "rec.zarr")
    req = ReconstructRequest(staged, out, time_chunk=3)
    first = reconstruct(req)
    assert first["tasks_run"] == 8  # 4 time chunks x 2 blocks
    whole = _read(out)
    # As if the run had stopped after the first two chunks of block (0, 1): later markers never written.
    g = zarr.open_group(out, mode="r+")
    g["model/done"][2:, 0, 1] = 0
    g["sm"][6:, :, 40:] = np.nan
    again = reconstruct(req)
    assert (again["tasks_run"], again["tasks_resumed"]) == (2, 6)
    np.testing.assert_array_equal(_read(out)[0], whole[0])
    with pytest.raises(InputError, match="another request"):
        reconstruct(ReconstructRequest(staged, out, time_chunk=4))


def test_cli_reconstruct(staged, reference, client, tmp_path, capsys):
    out = str(tmp_path / "rec.zarr")
    args = ["reconstruct", "--store", staged, "--out", out, "--time-chunk", "5"]
    assert main(args + ["--scheduler", client.scheduler.address]) == 0
    np.testing.assert_allclose(_read(out)[0], _read(reference)[0], rtol=0, atol=2e-6)


def test_append_new_days_equals_one_run(archive, staged, reference, client, tmp_path):
    first = tmp_path / "first6.zarr"
    args = ["stage", "--lprm", str(archive / "lprm"), "--imerg", str(archive / "imerg"), "--out", str(first)]
    args += ["--region", "0,40,20,50", "--time-chunk", "4", "--space-chunk", "40", "--end", "2015-04-06"]
    assert main(args + ["--scheduler", client.scheduler.address]) == 0
    out = str(tmp_path / "rec.zarr")
    reconstruct(ReconstructRequest(str(first), out, time_chunk=4))  # 6 days: the second chunk is short
    with pytest.raises(InputError, match="another request"):
        reconstruct(ReconstructRequest(staged, out, time_chunk=4))
    summary = reconstruct(ReconstructRequest(staged, out, time_chunk=4), client, append=True)
    assert summary["days_appended"] == 4 and summary["tasks_run"] == 4  # chunks 2 and 3 of both blocks
    sm, flag = _read(out)
    ref_sm, ref_flag = _read(reference)
    assert np.array_equal(flag, ref_flag)
    np.testing.assert_allclose(sm, ref_sm, rtol=0, atol=2e-6)
    plain = open_plainly(out)  # the consolidated metadata followed the resize
    assert plain["vars"] == RESULT_PRODUCT and plain["sizes"]["time"] == 10
    with pytest.raises(InputError, match="time_chunk was 4"):
        reconstruct(ReconstructRequest(staged, out, time_chunk=5), append=True)


def test_a_plain_open_zarr_shows_the_product_without_a_warning(staged, reference):
    """``xr.open_zarr(path)``, no option: consolidated metadata, the product only (the internals in model/)."""
    result = open_plainly(reference)
    assert result["vars"] == RESULT_PRODUCT
    assert set(result["sizes"]) == {"time", "lat", "lon", BOUNDS_DIM}  # no block_y, hidden, boundary, py, ...
    assert open_plainly(staged)["vars"] == STAGED_PRODUCT
    internals = zarr.open_group(reference, mode="r")["model"]
    assert {"state_h", "state_c", "state_memory", "done", "sm_std"} <= set(internals.array_keys())


def _as_older_version(store, old) -> None:
    """``old``: a copy of the result store ``store`` as sgdsm wrote it before model/ (internals at the top level)."""
    shutil.copytree(store, old)
    for item in (old / "model").iterdir():
        if item.name != "zarr.json":
            shutil.move(item, old / item.name)
    shutil.rmtree(old / "model")
    root = json.loads((old / "zarr.json").read_text())
    root.pop("consolidated_metadata", None)
    (old / "zarr.json").write_text(json.dumps(root))


def test_a_store_of_an_older_version_is_one_line_and_left_untouched(staged, reference, client, tmp_path, capsys):
    import sgdsm_dask

    old = tmp_path / "old.zarr"
    _as_older_version(reference, old)
    before = {p: p.stat().st_mtime_ns for p in old.rglob("*")}
    on = ["--scheduler", client.scheduler.address]
    rec = ["reconstruct", "--store", staged, "--out", str(old), "--time-chunk", "30", *on]
    for args in (rec, [*rec, "--append"], ["export", "--store", str(old), "--out", str(tmp_path / "daily"), *on]):
        assert main(args) == 2, args
        line = one_error_line(capsys.readouterr().err)
        assert f"{old}: is a reconstruction store written by an older sgdsm-dask" in line, line
        assert "reconstruct the staged cube again" in line
    with pytest.raises(InputError, match="older sgdsm-dask"):
        sgdsm_dask.open_result(old)
    assert {p: p.stat().st_mtime_ns for p in old.rglob("*")} == before and not (tmp_path / "daily").exists()
    assert main([*rec, "--overwrite"]) == 0  # what the line says: the store rebuilt in the new layout
    np.testing.assert_array_equal(_read(str(old))[1], _read(reference)[1])
    assert open_plainly(old)["vars"] == RESULT_PRODUCT


def test_cube_without_precipitation_runs_with_a_warning(tmp_path, client):
    from tests.conftest import real

    cube = real("lprm/lprm_amsr2_x_201504_west.nc")
    store = str(tmp_path / "cube.zarr")
    args = ["stage", "--cube", str(cube), "--out", store, "--region=-60,-10,-40,0", "--end", "2015-04-05"]
    assert main(args + ["--scheduler", client.scheduler.address]) == 0
    out = str(tmp_path / "rec.zarr")
    proc_args = ["reconstruct", "--store", store, "--out", out, "--scheduler", client.scheduler.address]
    import contextlib
    import io

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert main(proc_args) == 0
    assert "has no precipitation" in err.getvalue()
    sm = zarr_store.read_array(out, "sm")
    land = zarr_store.read_array(store, "land").astype(bool)
    assert np.isfinite(sm[:, land]).all()


def test_sgdsm_run_stages_reconstructs_and_exports_from_one_file(archive, client, tmp_path, capsys):
    cfg = write_run_file(tmp_path / "run.yaml", archive, 5, {"space_chunk": 40})
    assert main(["run", str(cfg), "--scheduler", client.scheduler.address]) == 0
    printed = capsys.readouterr().out
    assert f"daily files: {tmp_path / 'daily'}" in printed  # outputs land beside the run file
    assert len(list((tmp_path / "daily").glob("SGD-SM2_*.nc"))) == 9
    # the stage section's sensor timeline is honoured: WindSat "flew" in April 2015, the archive has AMSR2 only
    windsat = tmp_path / "windsat.yaml"
    text = cfg.read_text().replace("staged.zarr", "windsat.zarr").replace("result.zarr", "windsat_result.zarr")
    text = text.replace(
        "  time_chunk: 5\n  space_chunk: 40\n",
        "  time_chunk: 5\n  space_chunk: 40\n  timeline:\n    periods:\n      - {sensor: WindSat, start: 2015-01-01}\n",
        1,
    )
    windsat.write_text(text.replace("out: daily", "out: windsat_daily"))
    # no AMSR2 day is usable under that timeline: one line, no store (it used to stage ten missing days)
    capsys.readouterr()
    assert main(["run", str(windsat), "--scheduler", client.scheduler.address]) == 2
    assert "9 AMSR2 files (2015-04-01..2015-04-10), not in the timeline" in capsys.readouterr().err
    assert not (tmp_path / "windsat.zarr").exists()
    cfg.write_text(cfg.read_text() + "unknown: 1\n")
    assert main(["run", str(cfg)]) == 2
    assert "unknown" in capsys.readouterr().err


@pytest.mark.slow
def test_sgdsm_run_with_a_fit_section_learns_on_the_staged_cube_then_fills_it(archive, client, tmp_path, capsys):
    from sgdsm_dask.model.anomaly import AnomalyConfig
    from sgdsm_dask.reconstruction.provenance import stored
    from sgdsm_dask.training.checkpoint import load

    run = ["run", "--scheduler", client.scheduler.address]
    both = write_run_file(tmp_path / "both.yaml", archive, 5, tail="fit:\n  out: fitted.pt\n  steps: 0\n")
    both.write_text(both.read_text().replace("  out: result.zarr\n", "  out: result.zarr\n  checkpoint: x.pt\n"))
    assert main([run[0], str(both), *run[1:]]) == 2  # which checkpoint? one line, before anything runs
    assert "give fit or reconstruct.checkpoint" in one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "staged.zarr").exists()

    cfg = write_run_file(tmp_path / "run.yaml", archive, 5, tail="fit:\n  out: fitted.pt\n  steps: 0\n")
    assert main([run[0], str(cfg), *run[1:]]) == 0
    ck = load(tmp_path / "fitted.pt")
    staged = zarr_store.read_attrs(str(tmp_path / "staged.zarr"))["stage_fingerprint"]
    assert isinstance(ck.config, AnomalyConfig) and ck.provenance["staged"] == [staged]
    assert stored(zarr_store.read_attrs(str(tmp_path / "result.zarr")))["checkpoint_sha256"] == ck.sha256
    assert len(list((tmp_path / "daily").glob("SGD-SM2_*.nc"))) == 9
    # the same run file again: the checkpoint fitted on this cube is used as it is, the run resumes
    written = (tmp_path / "fitted.pt").stat().st_mtime_ns
    capsys.readouterr()
    assert main([run[0], str(cfg), *run[1:]]) == 0
    assert "used as it is" in capsys.readouterr().err and (tmp_path / "fitted.pt").stat().st_mtime_ns == written
    # other fit options: that checkpoint is not this run's; one line, nothing replaced
    cfg.write_text(cfg.read_text().replace("steps: 0", "steps: 5"))
    assert main([run[0], str(cfg), *run[1:]]) == 2
    assert "was not fitted on" in one_error_line(capsys.readouterr().err)
    assert (tmp_path / "fitted.pt").stat().st_mtime_ns == written


def test_tasks_go_to_gpu_workers_when_the_cluster_declares_them(staged, reference, tmp_path):
    # A worker declaring GPU: 1 (as local-gpu / dask-cuda workers do) beside one that does not:
    # every reconstruct task must run on the first. (No GPU here: the resource is only declared,
    # so the model runs on the CPU and must give the same values.)
    import subprocess
    import sys

    from distributed import Client, LocalCluster, get_task_stream

    with (
        LocalCluster(
            n_workers=1, threads_per_worker=1, processes=True, dashboard_address="127.0.0.1:0", resources={"GPU": 1}
        ) as lc,
        Client(lc) as c,
    ):
        plain = subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_worker", lc.scheduler_address, "--nthreads", "1"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            c.wait_for_workers(2, timeout=60)
            gpu_worker = next(a for a, w in c.scheduler_info()["workers"].items() if w["resources"].get("GPU"))
            out = str(tmp_path / "rec.zarr")
            with get_task_stream(client=c) as ts:
                summary = reconstruct(ReconstructRequest(staged, out, time_chunk=2), c)
            keys = [(t["worker"], t["key"]) for t in ts.data]  # the store's one-pass sums have tuple keys
            ran_on = {w for w, k in keys if str(k).startswith(("reconstruct-", "window_task-"))}
        finally:
            plain.terminate()
            plain.wait(30)
    assert summary["tasks_run"] == 10 and ran_on == {gpu_worker}
    np.testing.assert_allclose(_read(out)[0], _read(reference)[0], rtol=0, atol=2e-6)


def test_local_gpu_cluster_needs_a_gpu(tmp_path):
    import torch

    from sgdsm_dask.errors import ConfigError
    from sgdsm_dask.runtime import connect

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU: the local-gpu cluster would start")
    spec = tmp_path / "gpu.yaml"
    spec.write_text("kind: local-gpu\n")
    with pytest.raises(ConfigError, match="needs a GPU"), connect(cluster=spec):
        pass
