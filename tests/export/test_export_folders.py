"""Which folders ``sgdsm export`` writes: absent, empty, or this reconstruction's; anything else is one line, untouched.

The rule (``export.folder.check``): a folder is written only if it is
absent, empty, or the export folder of the reconstruction being exported,
as its manifest or, for an export killed before its manifest, its marker
says. Every refused run is checked to leave each file of the folder as it
was, byte for byte.
"""

from __future__ import annotations

import json
import os
import shutil

import pytest

from sgdsm_dask.cli import main
from sgdsm_dask.export import DailyFiles, manifest
from sgdsm_dask.testing import one_error_line
from tests.export.conftest import DAILY, on, snapshot


def _export(store, out, client) -> int:
    return main(["export", "--store", str(store), "--out", str(out), *on(client)])


def test_daily_files_without_manifest_or_marker_are_refused_to_every_export(
    rec_a, rec_b, daily_a, client, tmp_path, capsys
):
    # what a killed export of an sgdsm without the marker leaves, or daily files copied in by hand: nobody's
    daily = tmp_path / "daily"
    shutil.copytree(daily_a, daily)
    (daily / manifest.MANIFEST).unlink()
    (daily / manifest.SUMS).unlink()
    before = snapshot(daily)
    for store in (rec_b, rec_a):  # not even rec_a's: nothing says whose they are
        capsys.readouterr()
        assert _export(store, daily, client) == 2
        line = one_error_line(capsys.readouterr().err)
        assert f"{daily}: holds daily files of an export sgdsm cannot identify (4, such as {DAILY[0]}" in line
        assert snapshot(daily) == before


def test_a_killed_export_resumes_for_its_reconstruction_and_is_refused_to_another(
    rec_a, rec_b, client, tmp_path, capsys
):
    # what a killed export leaves: its first task's files (days 1-2) and no manifest
    daily = tmp_path / "daily"
    sink = DailyFiles(daily)
    sink.check(manifest.export_provenance(str(rec_a)))
    sink.open(str(rec_a))
    sink.chunk_finished(0, 2)  # and never closed
    assert sorted(p.name for p in daily.glob("SGD-SM2_*")) == DAILY[:2] and not (daily / "manifest.json").exists()
    before = snapshot(daily)
    capsys.readouterr()
    assert _export(rec_b, daily, client) == 2
    line = one_error_line(capsys.readouterr().err)
    assert f"{daily}: holds the daily files of another reconstruction (store_id " in line
    assert snapshot(daily) == before
    kept = {name: (daily / name).stat().st_ino for name in DAILY[:2]}
    assert _export(rec_a, daily, client) == 0  # its own reconstruction resumes: the two files kept, two written
    assert {name: (daily / name).stat().st_ino for name in DAILY[:2]} == kept
    assert sorted(p.name for p in daily.iterdir()) == [*DAILY, "SHA256SUMS", "manifest.json"]  # the marker gone
    assert main(["verify", str(daily)]) == 0


@pytest.mark.parametrize(
    "theirs",
    [
        {"notes.txt": b"field campaign, April 2015\n"},
        {"manifest.json": b'{"project": "my own manifest"}\n', "SHA256SUMS": b"not sgdsm's\n"},
        {"results/table.csv": b"station,sm\nA,0.21\n"},
        {"collection.json": b'{"type": "Collection", "id": "my-own"}\n'},
        {"items/SGD-SM2_20150402.json": b'{"type": "Feature"}\n'},
    ],
    ids=["a_file_of_the_user", "another_programs_manifest", "a_subfolder", "a_stac_collection", "stac_items"],
)
def test_a_folder_of_the_users_files_is_refused_untouched(rec_a, client, tmp_path, capsys, theirs):
    daily = tmp_path / "mine"
    for name, data in theirs.items():
        (daily / name).parent.mkdir(parents=True, exist_ok=True)
        (daily / name).write_bytes(data)
    before = snapshot(daily)
    capsys.readouterr()
    assert _export(rec_a, daily, client) == 2
    line = one_error_line(capsys.readouterr().err)
    assert f"{daily}: is not an export folder of sgdsm" in line and "nothing in it was touched" in line
    assert snapshot(daily) == before
    # an empty folder is fine
    empty = tmp_path / "empty"
    empty.mkdir()
    assert _export(rec_a, empty, client) == 0 and main(["verify", str(empty)]) == 0


def test_out_is_the_folder_the_user_means_wherever_the_workers_run(rec_a, client, tmp_path, monkeypatch, capsys):
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    # file:// is a plain path, not a folder named 'file:' in the working directory
    target = tmp_path / "by_url"
    assert _export(rec_a, f"file://{target}", client) == 0
    assert sorted(p.name for p in target.glob("SGD-SM2_*.nc")) == DAILY and main(["verify", str(target)]) == 0
    # memory:// lives in this process only: one line, nothing created (object stores: tests/integration/test_s3.py)
    capsys.readouterr()
    assert _export(rec_a, "memory://daily", client) == 2
    assert "memory://daily: a memory:// store lives in this process only" in one_error_line(capsys.readouterr().err)
    assert os.listdir(here) == []  # no 'file:' or 'memory:' folder
    # a relative --out is where the command was typed, not in the workers' working directory
    relative = f"daily-{tmp_path.name}"
    workers = set(client.run(os.getcwd).values())
    assert workers != {str(here)}
    assert _export(rec_a, relative, client) == 0
    assert sorted(p.name for p in (here / relative).glob("SGD-SM2_*.nc")) == DAILY
    assert not any(os.path.lexists(os.path.join(cwd, relative)) for cwd in workers)
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["out"] == str(here / relative)


def test_a_staged_cube_or_a_store_that_is_no_reconstruction_is_one_line(staged, client, tmp_path, capsys):
    daily = tmp_path / "daily"
    not_zarr = tmp_path / "folder_of_files"
    not_zarr.mkdir()
    (not_zarr / "readme.txt").write_text("hello")
    cases = {
        staged: "is a staged cube, not a reconstruction: run sgdsm reconstruct --store on it first",
        not_zarr: "not a Zarr store: give the --out store of sgdsm reconstruct",
        tmp_path / "absent.zarr": "no such store",
    }
    for store, says in cases.items():
        capsys.readouterr()
        assert _export(store, daily, client) == 2
        line = one_error_line(capsys.readouterr().err)
        assert f"{store}: {says}" in line
        assert not daily.exists()  # refused before the folder is made


def test_overwrite_replaces_an_export_of_another_reconstruction_and_nothing_of_the_users(
    rec_a, rec_b, daily_a, client, tmp_path, capsys
):
    daily = tmp_path / "daily"
    shutil.copytree(daily_a, daily)
    shutil.copy(daily / DAILY[0], daily / "SGD-SM2_20150430.nc")  # a day the new reconstruction does not have
    (daily / "notes.txt").write_text("mine")
    before = snapshot(daily)
    for extra in ([], ["--overwrite"]):  # a file of the user's: refused either way, nothing touched
        capsys.readouterr()
        assert main(["export", "--store", str(rec_b), "--out", str(daily), *extra, *on(client)]) == 2
        assert snapshot(daily) == before
    assert "is not an export folder of sgdsm" in one_error_line(capsys.readouterr().err)
    (daily / "notes.txt").unlink()
    assert main(["export", "--store", str(rec_b), "--out", str(daily), "--overwrite", *on(client)]) == 0
    assert sorted(p.name for p in daily.iterdir()) == [*DAILY, "SHA256SUMS", "manifest.json"]
    assert json.loads((daily / "manifest.json").read_text())["provenance"]["result_store"] == str(rec_b)
    assert main(["verify", str(daily)]) == 0
