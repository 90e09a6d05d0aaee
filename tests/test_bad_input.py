"""The bad-input corpus: every broken input gets one error line naming the file and the problem.

Each case is run through ``sgdsm`` as a user types it (``cli.main``, on the
session's two-process cluster): exit status 2, exactly one ``sgdsm: error:``
line that names the file and says what is wrong; with ``--on-error skip`` the
day is recorded as skipped (store attribute ``skipped``, ``day_status``) and
the other days are staged. The same corpus is listed in docs/reliability.md.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from sgdsm_dask.cli import main
from sgdsm_dask.io.zarr_store import read_array, read_attrs
from sgdsm_dask.model.network import get_config
from sgdsm_dask.staging.status import DayStatus
from sgdsm_dask.testing import BAD_IMERG_KINDS, BAD_KINDS, one_error_line, write_bad_imerg, write_bad_lprm
from sgdsm_dask.training import checkpoint

BOX = "--region=0,40,20,50"  # the archive fixture's box
DAYS = ["--start", "2015-04-01", "--end", "2015-04-04"]
BAD_DAY = "2015-04-02"

CASES = [("lprm", kind) for kind in BAD_KINDS] + [("imerg", kind) for kind in BAD_IMERG_KINDS] + [("lprm", "duplicate")]


def _copy_archive(archive: Path, dest: Path) -> Path:
    """The first four days of the archive (a private copy to break)."""
    for product in ("lprm", "imerg"):
        for f in sorted((archive / product).rglob("*.nc4")):
            if any(f"2015040{d}" in f.name for d in "1234"):
                target = dest / product / f.name
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(f, target)
    return dest


def _break(root: Path, product: str, kind: str) -> Path:
    """Break the file of BAD_DAY in place (or add a second file for it); return the file to be named."""
    day = BAD_DAY.replace("-", "")
    good = next(f for f in (root / product).glob("*.nc4") if day in f.name)
    if kind == "duplicate":  # the same date again, processed at another time
        dup = good.with_name(good.name[: -len("000000.nc4")] + "235959.nc4")
        shutil.copy(good, dup)
        return dup
    moved = root / "good" / good.name
    moved.parent.mkdir(exist_ok=True)
    shutil.move(good, moved)
    writer = write_bad_lprm if product == "lprm" else write_bad_imerg
    return writer(kind, moved, good.parent)


@pytest.mark.parametrize("product,kind", CASES, ids=[f"{p}-{k}" for p, k in CASES])
def test_bad_file_is_one_error_line_or_a_recorded_skip(product, kind, archive, client, tmp_path, capsys):
    root = _copy_archive(archive, tmp_path / "archive")
    bad = _break(root, product, kind)
    words = "duplicate date" if kind == "duplicate" else (BAD_KINDS if product == "lprm" else BAD_IMERG_KINDS)[kind]
    store = tmp_path / "staged.zarr"
    args = ["stage", "--lprm", str(root / "lprm"), "--imerg", str(root / "imerg"), "--out", str(store), BOX, *DAYS]
    args += ["--time-chunk", "2", "--scheduler", client.scheduler.address]

    capsys.readouterr()
    assert main(args) == 2
    line = one_error_line(capsys.readouterr().err)
    assert bad.name in line and words in line, line

    assert main([*args, "--on-error", "skip"]) == 0
    err = capsys.readouterr().err
    assert f"skipped {BAD_DAY}" in err and words in err
    skipped = json.loads(read_attrs(str(store))["skipped"])
    reason = skipped.get(BAD_DAY) or skipped.get(f"{BAD_DAY} precip")
    assert reason and words in reason and bad.name in reason
    status = read_array(str(store), "day_status")
    precip = read_array(str(store), "precip_available")
    if product == "lprm":  # the day is skipped: no soil moisture, no made-up values
        assert status[1] == DayStatus.SKIPPED and np.isnan(read_array(str(store), "sm")[1]).all()
    else:  # the soil moisture is kept; the rain of that day is unavailable, not zero
        assert status[1] == DayStatus.STAGED and not precip[1] and np.isnan(read_array(str(store), "precip")[1]).all()
    assert (status[[0, 2, 3]] == DayStatus.STAGED).all() and precip[[0, 2, 3]].all()


def _cube(path: Path, times: list[str]) -> Path:
    lat = 45 - 0.125 - 0.25 * np.arange(8)
    lon = 0.125 + 0.25 * np.arange(8)
    sm = np.full((len(times), 8, 8), 0.2, np.float32)
    ds = xr.Dataset(
        {"sm": (("time", "lat", "lon"), sm, {"units": "m3 m-3"})},
        coords={"time": np.array(times, dtype="datetime64[ns]"), "lat": lat, "lon": lon},
    )
    ds.to_netcdf(path)
    return path


def test_dates_out_of_order_are_named(archive, tmp_path, capsys):
    # a cube whose days are not in order
    cube = _cube(tmp_path / "shuffled.nc", ["2020-01-01", "2020-01-03", "2020-01-02"])
    assert main(["stage", "--cube", str(cube), "--out", str(tmp_path / "c.zarr"), "--workers", "1"]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert str(cube) in line and "out of order" in line
    # --end before --start
    bad_range = ["stage", "--lprm", str(archive / "lprm"), "--out", str(tmp_path / "r.zarr")]
    assert main([*bad_range, "--start", "2015-04-04", "--end", "2015-04-01", "--workers", "1"]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert str(archive / "lprm") in line and "end 2015-04-01 is before start 2015-04-04" in line


def _other_config_checkpoint(path: Path) -> Path:
    """The shipped weights under another configuration's name (a checkpoint from another configuration)."""
    ck = checkpoint.load()
    ck.config = get_config("tiny")
    checkpoint.save(path, ck)
    return path


def test_checkpoints_of_another_configuration_or_altered_are_refused(staged4, rec4, client, tmp_path, capsys):
    rec = ["reconstruct", "--store", str(staged4), "--scheduler", client.scheduler.address]
    other = _other_config_checkpoint(tmp_path / "other.pt")
    capsys.readouterr()
    assert main([*rec, "--out", str(tmp_path / "a.zarr"), "--checkpoint", str(other)]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert str(other) in line and "do not fit configuration 'tiny'" in line
    assert not (tmp_path / "a.zarr").exists()  # refused before anything was written

    altered = tmp_path / "altered.pt"
    shutil.copy(checkpoint.shipped_path("default"), altered)
    (tmp_path / "altered.pt.sha256").write_text(f"{checkpoint.SHIPPED['default']}  altered.pt\n")
    data = bytearray(altered.read_bytes())
    data[len(data) // 2] ^= 0xFF
    altered.write_bytes(bytes(data))
    assert main([*rec, "--out", str(tmp_path / "b.zarr"), "--checkpoint", str(altered)]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert str(altered) in line and "differs from the recorded" in line

    # a result store made with one checkpoint is not resumed with another
    done = rec4
    tiny = tmp_path / "tiny.pt"
    ck = checkpoint.load()
    from sgdsm_dask.model.network import LSTMCNN

    ck.config = get_config("tiny")
    ck.state_dict = LSTMCNN(ck.config).state_dict()
    checkpoint.save(tiny, ck)
    before = read_array(str(done), "sm")
    capsys.readouterr()
    assert main([*rec, "--out", str(done), "--time-chunk", "2", "--checkpoint", str(tiny)]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert str(done) in line and "reconstruction of another request" in line
    np.testing.assert_array_equal(read_array(str(done), "sm"), before)  # nothing already written is lost


def test_append_of_days_that_do_not_follow_is_refused(archive, rec4, client, tmp_path, capsys):
    rec = ["reconstruct", "--scheduler", client.scheduler.address, "--time-chunk", "2"]
    done = rec4
    later = tmp_path / "later.zarr"  # starts a day later: its days do not continue the reconstruction's
    args = ["stage", "--lprm", str(archive / "lprm"), "--imerg", str(archive / "imerg"), "--out", str(later), BOX]
    assert main([*args, "--start", "2015-04-02", "--end", "2015-04-06", "--time-chunk", "2", "--workers", "1"]) == 0
    capsys.readouterr()
    assert main([*rec, "--store", str(later), "--out", str(done), "--append"]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert str(later) in line and "are not the days already in" in line
    assert read_array(str(done), "time").size == 4


def test_percent_cube_and_a_missing_file_are_named(tmp_path, capsys):
    ds = xr.open_dataset(_cube(tmp_path / "fraction.nc", ["2020-01-01", "2020-01-02"])).load()
    ds["sm"] = (ds["sm"] * 100).assign_attrs(units="m3 m-3")  # percent values under fraction units
    percent = tmp_path / "percent.nc"
    ds.to_netcdf(percent)
    assert main(["stage", "--cube", str(percent), "--out", str(tmp_path / "p.zarr"), "--workers", "1"]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert str(percent) in line and "look like percent" in line
    missing = tmp_path / "LPRM-AMSR2_L3_D_SOILM3_V001_20150401000000.nc4"
    assert main(["stage", "--lprm", str(missing), "--out", str(tmp_path / "m.zarr"), "--workers", "1"]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert str(missing) in line and "no such file or folder" in line


def test_an_output_folder_that_is_a_file_is_one_error_line(rec4, tmp_path, capsys):
    taken = tmp_path / "daily"
    taken.write_text("a file, not a folder")
    capsys.readouterr()
    assert main(["export", "--store", str(rec4), "--out", str(taken), "--workers", "1"]) == 1  # the machine's error
    line = one_error_line(capsys.readouterr().err)
    assert str(taken) in line and "File exists" in line


def test_asyncio_reports_about_a_failed_zarr_writes_siblings_are_dropped_and_others_kept(tmp_path, caplog):
    # Zarr writes the chunks of one assignment concurrently; when one fails the others fail or are left
    # pending, and asyncio reports each later with a traceback on the terminal of `sgdsm` (seen in
    # test_faults' stage test). The failure itself is the one error line.
    import asyncio

    from zarr.storage._local import _put

    from sgdsm_dask.io.zarr_store import quiet_zarr_leftovers

    def failure(write) -> OSError:
        try:
            write()
        except OSError as exc:
            return exc
        raise AssertionError("the write did not fail")

    blocked = tmp_path / "a file"
    blocked.write_text("")
    in_zarr = failure(lambda: _put(blocked / "c" / "0", b"chunk"))  # raised inside zarr's storage
    elsewhere = failure(lambda: open(blocked / "x", "wb"))  # noqa: SIM115 - raised here, not in zarr

    quiet_zarr_leftovers()
    loop = asyncio.new_event_loop()
    try:
        with caplog.at_level("ERROR", logger="asyncio"):
            for exc in (in_zarr, elsewhere):
                loop.default_exception_handler({"message": "Task exception was never retrieved", "exception": exc})
            for where in ("/site-packages/zarr/core/common.py", "/home/me/my_pipeline.py"):
                pending = f"<Task pending coro=<run() at {where}:115>>"
                loop.default_exception_handler({"message": "Task was destroyed but it is pending!", "task": pending})
    finally:
        loop.close()
    kept = [r for r in caplog.records if r.name == "asyncio"]
    assert len(kept) == 2 and kept[0].exc_info[1] is elsewhere
    assert "my_pipeline.py" in kept[1].getMessage()  # a pending task of anyone else's is still reported


@pytest.mark.parametrize(
    "code, advice",
    [
        (errno.ENOSPC, "free space and run the same command again"),
        (errno.EFBIG, "free space and run the same command again"),
        (errno.EACCES, "make the folder writable and run the same command again"),
        (errno.EROFS, "make the folder writable and run the same command again"),
        (errno.EIO, "run the same command again to resume once that is mended"),
    ],
)
def test_a_failed_write_says_what_to_do_for_its_cause(code, advice):
    from sgdsm_dask.errors import WriteError

    text = str(WriteError.from_os("/data/out.zarr", OSError(code, os.strerror(code))))
    assert text.startswith(f"/data/out.zarr: cannot be written ({os.strerror(code)})") and advice in text


def test_the_demo_runs_again_in_its_folder_and_keeps_a_picture_of_the_users(tmp_path, capsys):
    out = tmp_path / "demo"
    out.mkdir()
    (out / "reconstruction.png").write_bytes(b"the user's picture")
    assert main(["demo", str(out), "--days", "3", "--workers", "1"]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert str(out / "reconstruction.png") in line and "not a picture sgdsm drew" in line
    assert [p.name for p in out.iterdir()] == ["reconstruction.png"]  # refused before anything was written
    assert (out / "reconstruction.png").read_bytes() == b"the user's picture"
    # its own folder, again and again (before, the second run stopped at the export: "another reconstruction")
    (out / "reconstruction.png").unlink()
    for _ in range(2):
        assert main(["demo", str(out), "--days", "3", "--workers", "1"]) == 0
        assert main(["verify", str(out / "daily")]) == 0


def test_a_run_refuses_outputs_of_the_users_before_it_stages(archive, tmp_path, capsys):
    from tests.conftest import write_run_file

    cfg = write_run_file(tmp_path / "run.yaml", archive, 5, tail="fit:\n  out: fitted.pt\n  steps: 0\n")
    (tmp_path / "daily").mkdir()
    (tmp_path / "daily" / "notes.txt").write_text("mine")
    (tmp_path / "fitted.pt.sha256").write_text("mine too")
    before = {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")}
    for fix, words in (
        (lambda: None, "is not an export folder of sgdsm"),
        (lambda: (tmp_path / "daily" / "notes.txt").unlink(), "exists beside no checkpoint fitted.pt"),
    ):
        fix()
        assert main(["run", str(cfg), "--workers", "1"]) == 2
        assert words in one_error_line(capsys.readouterr().err)
        assert not (tmp_path / "staged.zarr").exists()  # refused before staging wrote anything
    assert {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")} == before - {"daily/notes.txt"}
