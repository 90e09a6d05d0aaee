"""A day is exported only if its values agree with its flags; a damaged result store is one line naming it.

A chunk of ``sm`` missing from the result store reads as NaN, one of
``flag`` as 0 (observed): exported, they gave files of NaN under flags that
promise values, and a manifest that verified. A chunk cut short could not
be decoded and the export ended in a traceback.
"""

from __future__ import annotations

import shutil

import pytest

from sgdsm_dask.cli import main
from sgdsm_dask.testing import one_error_line
from tests.export.conftest import on


def _damaged_copy(rec, tmp_path, name: str):
    """A copy of ``rec`` and its chunk file of ``name`` for days 3-4 (time chunk 1) in the first spatial block."""
    store = tmp_path / "damaged.zarr"
    shutil.copytree(rec, store)
    return store, store / name / "c" / "1" / "0" / "0"


@pytest.mark.parametrize("name", ["sm", "flag"])
def test_a_result_store_missing_a_chunk_is_named_and_its_days_get_no_file(
    rec_a, staged, client, tmp_path, capsys, name
):
    store, chunk = _damaged_copy(rec_a, tmp_path, name)
    chunk.unlink()
    daily = tmp_path / "daily"
    capsys.readouterr()
    assert main(["export", "--store", str(store), "--out", str(daily), *on(client)]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert f"{store}: 2015-04-03: " in line and "a chunk of the store is missing or damaged" in line
    assert "so no file was written for that day; rebuild it with sgdsm reconstruct --overwrite" in line
    assert not (daily / "SGD-SM2_20150403.nc").exists() and not (daily / "SGD-SM2_20150404.nc").exists()
    assert not (daily / "manifest.json").exists()
    assert main(["verify", str(daily)]) == 2  # no manifest: not a finished export
    if name == "flag":
        return
    # the advice works: rebuilt, the store exports into a new folder, and the files verify
    args = ["reconstruct", "--store", str(staged), "--out", str(store), "--time-chunk", "2", "--overwrite"]
    assert main([*args, *on(client)]) == 0
    fresh = tmp_path / "fresh"
    assert main(["export", "--store", str(store), "--out", str(fresh), *on(client)]) == 0
    assert main(["verify", str(fresh)]) == 0


@pytest.mark.parametrize("name", ["sm", "model/done"])
def test_a_result_chunk_cut_short_is_one_line_naming_the_store(rec_a, client, tmp_path, capsys, name):
    store, chunk = _damaged_copy(rec_a, tmp_path, name)
    data = chunk.read_bytes()
    chunk.write_bytes(data[: len(data) // 2])
    daily = tmp_path / "daily"
    capsys.readouterr()
    assert main(["export", "--store", str(store), "--out", str(daily), *on(client)]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert f"{store}: " in line and "cannot be read" in line and "the store is damaged" in line
    assert not (daily / "manifest.json").exists()
