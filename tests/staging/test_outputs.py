"""Output stores: written only where the path is absent, empty or a store of ours for the request.

Every case runs ``sgdsm`` as a user types it. A refused output is one
``sgdsm: error:`` line naming the path, exit status 2, and every file that
was there is still there, byte for byte (:func:`snapshot`).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import zarr

from sgdsm_dask.cli import main
from sgdsm_dask.io.zarr_store import read_array, read_attrs
from sgdsm_dask.staging.status import DayStatus
from sgdsm_dask.testing import one_error_line

BOX = "--region=0,40,20,50"
DAYS = ["--start", "2015-04-01", "--end", "2015-04-04"]


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _stage_args(archive: Path, out: str, client) -> list[str]:
    return [
        "stage", "--lprm", str(archive / "lprm"), "--imerg", str(archive / "imerg"), "--out", out, BOX, *DAYS,
        "--time-chunk", "2", "--scheduler", client.scheduler.address,
    ]  # fmt: skip


@pytest.fixture
def staged(staged4) -> Path:
    """The session's 4-day staged cube (tests/conftest.py), staged as :func:`_stage_args` does."""
    return staged4


@pytest.fixture
def result(rec4) -> Path:
    return rec4


def _users_folders(archive: Path, tmp_path: Path) -> dict[str, Path]:
    """Folders a user may name as --out by mistake, each a private copy holding real files."""
    root = tmp_path / "archive"
    shutil.copytree(archive / "lprm", root / "lprm")
    shutil.copytree(archive / "imerg", root / "imerg")
    work = tmp_path / "work"
    work.mkdir()
    (work / "notes.txt").write_text("field campaign notes\n")
    (work / "station.csv").write_text("date,sm\n2015-04-01,0.21\n")
    daily = tmp_path / "daily"
    daily.mkdir()
    (daily / "SGD-SM2_20150401.nc").write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(range(256)))
    (daily / "manifest.json").write_text(json.dumps({"format": "sgdsm-manifest-1", "files": {}}))
    return {"archive root": root, "LPRM input folder": root / "lprm", "working directory": work, "export": daily}


@pytest.mark.parametrize("command", ["stage", "reconstruct"])
def test_a_folder_that_is_not_a_store_of_ours_is_never_emptied(command, archive, staged, client, tmp_path, capsys):
    for what, folder in _users_folders(archive, tmp_path).items():
        before = snapshot(folder)
        out = "." if what == "working directory" else str(folder)
        if command == "stage":
            args = _stage_args(archive, out, client)
        else:
            args = ["reconstruct", "--store", str(staged), "--out", out, "--scheduler", client.scheduler.address]
        for extra in ([], ["--overwrite"]):  # --overwrite replaces stores of ours, never a folder of the user's
            cwd = os.getcwd()
            os.chdir(tmp_path / "work")
            try:
                capsys.readouterr()
                assert main([*args, *extra]) == 2, (what, extra)
            finally:
                os.chdir(cwd)
            line = one_error_line(capsys.readouterr().err)
            assert str(folder) in line and "is not a store of sgdsm" in line and "nothing in it was touched" in line
            assert snapshot(folder) == before, (what, extra)


def test_stores_of_another_kind_are_refused_even_with_overwrite(staged, result, archive, client, tmp_path, capsys):
    before = snapshot(staged)
    rec = ["reconstruct", "--store", str(staged), "--scheduler", client.scheduler.address, "--overwrite"]
    capsys.readouterr()
    assert main([*rec, "--out", str(staged)]) == 2  # the input cube as the output
    line = one_error_line(capsys.readouterr().err)
    assert str(staged) in line and "is a staged cube of sgdsm, not a reconstruction store" in line
    assert snapshot(staged) == before

    kept = snapshot(result)
    assert main([*_stage_args(archive, str(result), client), "--overwrite"]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert str(result) in line and "is a reconstruction store of sgdsm, not a staged cube" in line
    assert snapshot(result) == kept

    foreign = tmp_path / "foreign.zarr"  # a Zarr store another program wrote
    xr.Dataset({"v": ("x", np.arange(3.0))}).to_zarr(foreign, zarr_format=3, consolidated=False)
    kept = snapshot(foreign)
    assert main([*_stage_args(archive, str(foreign), client), "--overwrite"]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert str(foreign) in line and "Zarr store that sgdsm did not write" in line
    assert snapshot(foreign) == kept


def test_an_empty_folder_is_a_fine_output(archive, client, tmp_path):
    empty = tmp_path / "empty.zarr"
    empty.mkdir()
    assert main(_stage_args(archive, str(empty), client)) == 0
    assert (read_array(str(empty), "day_status") == DayStatus.STAGED).all()


def test_relative_outputs_are_written_where_the_command_was_typed(archive, staged, client, tmp_path, monkeypatch):
    worker_dirs = set(client.run(os.getcwd).values())
    here = tmp_path / "here"
    here.mkdir()
    assert str(here) not in worker_dirs  # the workers resolve relative paths elsewhere
    monkeypatch.chdir(here)
    assert main(_stage_args(archive, "rel.zarr", client)) == 0
    assert (read_array(str(here / "rel.zarr"), "day_status") == DayStatus.STAGED).all()
    args = ["reconstruct", "--store", "rel.zarr", "--out", "rec.zarr", "--time-chunk", "2"]
    assert main([*args, "--scheduler", client.scheduler.address]) == 0
    flag = read_array(str(here / "rec.zarr"), "flag")
    assert (flag < 2).any()  # filled where asked, not an empty template
    np.testing.assert_array_equal(read_array(str(here / "rel.zarr"), "sm"), read_array(str(staged), "sm"))
    for d in worker_dirs:
        assert not (Path(d) / "rel.zarr").exists() and not (Path(d) / "rec.zarr").exists()


def _reconstruct_refused(store: Path, out: Path, client, capsys) -> str:
    """The one error line of ``sgdsm reconstruct --store STORE --out OUT``; asserts that OUT was not created."""
    capsys.readouterr()
    assert main(["reconstruct", "--store", str(store), "--out", str(out), "--scheduler", client.scheduler.address]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert not out.exists()
    return line


def test_a_half_staged_cube_is_not_reconstructed_until_staging_finishes(staged, client, tmp_path, capsys):
    half = tmp_path / "half.zarr"
    shutil.copytree(staged, half)
    zarr.open_group(str(half), mode="r+")["day_status"][2:4] = DayStatus.PENDING  # what a stopped stage leaves
    # nothing is written, so the run after staging finishes fills every day
    line = _reconstruct_refused(half, tmp_path / "rec.zarr", client, capsys)
    assert str(half) in line and "staging is not finished (2 of 4 days still pending)" in line


def test_a_result_store_given_as_the_staged_cube_is_refused_and_nothing_is_left(result, client, tmp_path, capsys):
    line = _reconstruct_refused(result, tmp_path / "again.zarr", client, capsys)
    assert str(result) in line and "is a reconstruction store, not a staged cube" in line


def test_a_stage_whose_template_write_stopped_is_written_again(staged, archive, client, tmp_path):
    stopped = tmp_path / "stopped.zarr"
    shutil.copytree(staged, stopped)
    # what a full disk during the template leaves: the root group (kind, no fingerprint yet), arrays missing
    shutil.rmtree(stopped / "day_status")
    shutil.rmtree(stopped / "sm")
    meta = json.loads((stopped / "zarr.json").read_text())
    del meta["attributes"]["stage_fingerprint"]
    (stopped / "zarr.json").write_text(json.dumps(meta))
    assert main(_stage_args(archive, str(stopped), client)) == 0
    for name in ("sm", "precip", "day_status", "land"):
        np.testing.assert_array_equal(read_array(str(stopped), name), read_array(str(staged), name))
    assert read_attrs(str(stopped))["stage_fingerprint"] == read_attrs(str(staged))["stage_fingerprint"]


def test_a_template_is_ours_only_once_its_fingerprint_is_written(tmp_path):
    from sgdsm_dask.io import outputs
    from sgdsm_dask.io.zarr_store import write_template

    store = str(tmp_path / "t.zarr")
    write_template(store, xr.Dataset({"v": ("x", np.arange(4.0))}, attrs={"stage_fingerprint": "abc"}), "staged")
    assert read_attrs(store)[outputs.KIND] == "staged"
    assert outputs.claim(store, "staged", "abc") == "resume"
    assert outputs.claim(store, "staged", "another") == "other"
    assert outputs.claim(store, "staged", "another", overwrite=True) == "create"
    with pytest.raises(Exception, match="is a staged cube of sgdsm, not a reconstruction store"):
        outputs.claim(store, "result", "abc", overwrite=True)


def _small_cube(path: Path, cells: int, days: int = 4) -> Path:
    """A cube of ``cells`` x ``cells`` over land (north-east of Paris), a quarter of each day unobserved."""
    rng = np.random.default_rng(0)
    lat = 52.5 - 0.125 - 0.25 * np.arange(cells)
    lon = 2.0 + 0.125 + 0.25 * np.arange(cells)
    sm = rng.uniform(0.1, 0.4, (days, cells, cells)).astype(np.float32)
    sm[rng.random(sm.shape) < 0.25] = np.nan
    times = np.arange("2020-01-01", days, dtype="datetime64[D]").astype("datetime64[ns]")
    ds = xr.Dataset(
        {"sm": (("time", "lat", "lon"), sm, {"units": "m3 m-3"})}, coords={"time": times, "lat": lat, "lon": lon}
    )
    ds.to_netcdf(path)
    return path


def test_regions_smaller_than_a_patch_are_refused_and_larger_odd_ones_reconstructed(client, tmp_path, capsys):
    sched = ["--scheduler", client.scheduler.address]
    for cells in (20, 50):
        cube = _small_cube(tmp_path / f"c{cells}.nc", cells)
        store, out = tmp_path / f"s{cells}.zarr", tmp_path / f"r{cells}.zarr"
        assert main(["stage", "--cube", str(cube), "--out", str(store), "--time-chunk", "2", *sched]) == 0
        capsys.readouterr()
        code = main(["reconstruct", "--store", str(store), "--out", str(out), "--time-chunk", "2", *sched])
        if cells == 20:  # the model would see a quarter of its patch: refused, nothing written
            assert code == 2
            line = one_error_line(capsys.readouterr().err)
            assert str(store) in line and "20 x 20 cells, smaller than the model's 40 x 40-cell patch" in line
            assert not out.exists()
        else:  # a 50-cell staged chunk: reconstructed in one 80-cell block instead of refused
            assert code == 0
            sm, flag = read_array(str(out), "sm"), read_array(str(out), "flag")
            land = read_array(str(store), "land").astype(bool)
            assert (flag[:, land] < 2).all() and np.isfinite(sm[:, land]).all()
            assert (sm[:, land] > 0).all()  # no exact zeros where the model had no patch
    capsys.readouterr()
    args = ["reconstruct", "--store", str(tmp_path / "s50.zarr"), "--out", str(tmp_path / "neg.zarr"), *sched]
    assert main([*args, "--space-chunk", "-40"]) == 2
    assert "--space-chunk -40" in one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "neg.zarr").exists()
