"""A real full disk during export (``ENOSPC`` on a small tmpfs): the line says the disk is full.

netCDF reports any file it cannot create as ``EACCES``, so a full disk read
"Permission denied ... make the folder writable"; HDF5 reports a write that
fails part-way without an errno. ``export.netcdf.write_netcdf`` asks the operating
system (``io.files.write_failure``). Mounting needs root; elsewhere the test
skips with the reason, and the file-size-limit fault test covers the write
that fails part-way.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess

import pytest

from sgdsm_dask.cli import main
from sgdsm_dask.testing import one_error_line
from tests.export.conftest import on

PAGE = 4096


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB tmpfs of 64 inodes mounted in ``tmp_path``: a disk that really fills up."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root and mount(8)")
    options = "size=1m,nr_inodes=64"
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(disk)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"mount -t tmpfs was refused here: {done.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def _fill_space(disk, pages: int) -> list:
    """Fill ``disk`` up to ``pages`` free pages; the filler, to remove to free the space."""
    st = os.statvfs(disk)
    filler = disk / "filler"
    filler.write_bytes(bytes(st.f_bavail * st.f_frsize - pages * PAGE))
    return [filler]


def _fill_inodes(disk, left: int) -> list:
    """Take every inode of ``disk`` but ``left`` (a disk full of small files); the fillers."""
    fillers = []
    try:
        while True:
            fillers.append(disk / f"filler{len(fillers)}")
            fillers[-1].touch()
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
        fillers.pop()
    for f in fillers[-left:]:
        f.unlink()
    return fillers[:-left]


CASES = {
    # netCDF cannot create the file: room for the folder's marker only
    "no_space_at_create": (lambda disk: _fill_space(disk, 1), "cannot be written (No space left on device)"),
    # a file is created and its write fails part-way (a day is about 35 KiB); the two workers write two days
    # at once, so the day that fails first may be the other one, whose create found no room left: either
    # way the line names the operating system's cause, never HDF5's bare "HDF error"
    "no_space_half_way": (lambda disk: _fill_space(disk, 5), "No space left on device)"),
    # inodes for the folder and its marker only: netCDF's create fails with EACCES
    "no_inode_left": (lambda disk: _fill_inodes(disk, 2), "cannot be written (No space left on device)"),
}


@pytest.mark.parametrize("case", CASES)
def test_a_full_disk_says_so_and_the_same_export_finishes_once_space_is_freed(rec_a, client, small_disk, capsys, case):
    fill, says = CASES[case]
    daily = small_disk / "daily"
    fillers = fill(small_disk)
    args = ["export", "--store", str(rec_a), "--out", str(daily), *on(client)]
    capsys.readouterr()
    assert main(args) == 2
    line = one_error_line(capsys.readouterr().err)
    assert f"{daily}/SGD-SM2_201504" in line and says in line, line
    assert "the disk is full; free space and run the same command again to resume" in line
    assert "Permission denied" not in line and "writable" not in line
    assert not list(daily.glob(".*.part")) and not (daily / "manifest.json").exists()
    for f in fillers:
        f.unlink()
    assert main(args) == 0
    assert main(["verify", str(daily)]) == 0
