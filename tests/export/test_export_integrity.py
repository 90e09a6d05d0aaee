"""What an export trusts and what ``sgdsm verify`` checks: changed files, ``SHA256SUMS``, the case of a hash.

A rerun trusts a file it does not read only while neither its modification
time nor its inode change time is after the manifest (a user can set the
first back, not the second). ``verify`` checks ``SHA256SUMS`` against the
manifest as well, since users without sgdsm check the folder with it.
"""

from __future__ import annotations

import os
import shutil

import pytest
import xarray as xr

from sgdsm_dask.cli import main
from sgdsm_dask.io.files import file_entry
from sgdsm_dask.testing import one_error_line
from tests.export.conftest import DAILY, on


def test_a_file_changed_with_its_mtime_set_back_is_read_again_and_repaired(rec_a, client, tmp_path):
    daily = tmp_path / "daily"
    args = ["export", "--store", str(rec_a), "--out", str(daily), *on(client)]
    assert main(args) == 0
    changed = daily / DAILY[2]
    good, st = changed.read_bytes(), changed.stat()
    others = {name: (daily / name).stat().st_ino for name in DAILY if name != changed.name}
    bad = bytearray(good)
    bad[len(bad) // 2] ^= 0xFF  # other bytes, the same length
    changed.write_bytes(bytes(bad))
    os.utime(changed, ns=(st.st_atime_ns, st.st_mtime_ns))  # the old modification time, set back
    assert changed.stat().st_size == st.st_size and changed.stat().st_mtime_ns == st.st_mtime_ns
    assert main(args) == 0
    assert changed.read_bytes() != bytes(bad)  # read, found changed and written again (its history time is new)
    (tmp_path / "good.nc").write_bytes(good)
    with xr.open_dataset(changed) as now, xr.open_dataset(tmp_path / "good.nc") as was:
        for name in ("sm", "flag"):  # the values and their attributes; the file's own times are new
            xr.testing.assert_identical(now[name], was[name])
    assert {name: (daily / name).stat().st_ino for name in others} == others  # the others trusted, not rewritten
    assert main(["verify", str(daily)]) == 0


def _sums(folder) -> list[str]:
    return (folder / "SHA256SUMS").read_text().splitlines()


def _another_hash(folder) -> str:
    return file_entry(folder / DAILY[0])["sha256"]


EDITS = {
    "a_hash_differs": (
        lambda f: [ln if DAILY[1] not in ln else f"{_another_hash(f)}  {DAILY[1]}" for ln in _sums(f)],
        f"SHA256SUMS: {DAILY[1]}: SHA-256 ",
    ),
    "a_file_left_out": (lambda f: [ln for ln in _sums(f) if DAILY[3] not in ln], f"does not list {DAILY[3]}"),
    "another_file_listed": (
        lambda f: [*_sums(f), f"{_another_hash(f)}  SGD-SM2_20150501.nc"],
        "lists SGD-SM2_20150501.nc, which manifest.json does not",
    ),
    "a_line_that_is_no_hash": (lambda f: [*_sums(f), "see the README"], "line 5 is not a 'SHA-256  file name' line"),
    "missing": (None, "SHA256SUMS: missing: sha256sum -c cannot check this folder"),
}


@pytest.mark.parametrize("edit", EDITS)
def test_verify_reports_a_sha256sums_that_disagrees_with_the_manifest(daily_a, tmp_path, capsys, edit):
    daily = tmp_path / "daily"
    shutil.copytree(daily_a, daily)
    lines, says = EDITS[edit]
    if lines is None:
        (daily / "SHA256SUMS").unlink()
    else:
        (daily / "SHA256SUMS").write_text("".join(f"{ln}\n" for ln in lines(daily)))
    capsys.readouterr()
    assert main(["verify", str(daily)]) == 1
    err = capsys.readouterr().err
    assert f"{daily}/" in err and says in err
    assert "1 problem(s) against manifest.json" in one_error_line(err)


def test_hashes_compare_regardless_of_case(rec_a, daily_a, client, tmp_path):
    daily = tmp_path / "daily"
    shutil.copytree(daily_a, daily)
    for name in ("manifest.json", "SHA256SUMS"):  # as another tool may write them
        text = (daily / name).read_text()
        for entry in (file_entry(daily / f) for f in DAILY):
            text = text.replace(entry["sha256"], entry["sha256"].upper())
        (daily / name).write_text(text)
    assert main(["verify", str(daily)]) == 0
    inodes = {name: (daily / name).stat().st_ino for name in DAILY}
    assert main(["export", "--store", str(rec_a), "--out", str(daily), *on(client)]) == 0
    assert {name: (daily / name).stat().st_ino for name in DAILY} == inodes  # the same files: none written again
    assert main(["verify", str(daily)]) == 0
