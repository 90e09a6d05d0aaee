"""A stage request that leaves no usable day is one error line saying why, and writes no store.

``plan_days`` keeps, for each day, only the file of the sensor the timeline
names; files of other days are outside ``--start``/``--end``. When no day
is left, staging used to write a cube of missing days and exit 0 with
``staged: 0``. The file names are enough to plan, so the files here are empty.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from sgdsm_dask.cli import main
from sgdsm_dask.config import SensorPeriod, SensorTimeline
from sgdsm_dask.errors import InputError
from sgdsm_dask.staging import plan_days
from sgdsm_dask.staging.inventory import list_files
from sgdsm_dask.testing import one_error_line


def _files(folder: Path, sensor: str, first: dt.date, days: int) -> Path:
    """Empty LPRM files named for ``days`` days of ``sensor`` from ``first``."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(days):
        day = first + dt.timedelta(days=i)
        (folder / f"LPRM-{sensor}_L3_D_SOILM3_V001_{day:%Y%m%d}000000.nc4").write_bytes(b"")
    return folder


def _stage_refused(folder: Path, tmp_path: Path, capsys, *extra: str) -> str:
    store = tmp_path / "staged.zarr"
    assert main(["stage", "--lprm", str(folder), "--out", str(store), "--workers", "1", *extra]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert line.startswith(f"sgdsm: error: {folder}: no usable day"), line
    assert not store.exists()
    return line


def test_files_all_outside_their_sensors_timeline_are_one_line(tmp_path, capsys):
    folder = _files(tmp_path / "lprm", "AMSR_E", dt.date(2015, 1, 1), 12)  # AMSR-E stopped in 2011
    line = _stage_refused(folder, tmp_path, capsys)
    assert (
        "no usable day 2015-01-01..2015-01-12: 12 AMSR-E files (2015-01-01..2015-01-12), "
        "all outside the AMSR-E timeline 2002-06-19..2011-10-04"
    ) in line, line


def test_start_and_end_that_select_no_file_are_one_line(tmp_path, capsys):
    folder = _files(tmp_path / "lprm", "AMSR2", dt.date(2015, 4, 1), 10)
    line = _stage_refused(folder, tmp_path, capsys, "--start", "2016-04-01", "--end", "2016-04-03")
    assert "none of the 10 LPRM files (2015-04-01..2015-04-10) is dated 2016-04-01..2016-04-03" in line, line


def test_each_sensor_is_said_and_a_sensor_missing_from_the_timeline_too(tmp_path):
    folder = _files(tmp_path / "lprm", "AMSR2", dt.date(2015, 4, 1), 3)
    _files(folder, "WSAT", dt.date(2015, 4, 1), 1)
    windsat = SensorTimeline(periods=(SensorPeriod(sensor="WindSat", start=dt.date(2016, 1, 1)),))
    with pytest.raises(InputError) as err:
        plan_days(list_files(str(folder)), [], windsat, lprm_root=str(folder))
    assert str(err.value) == (
        f"{folder}: no usable day 2015-04-01..2015-04-03: 3 AMSR2 files (2015-04-01..2015-04-03), "
        "not in the timeline; 1 WindSat file (2015-04-01..2015-04-01), outside the WindSat timeline "
        "from 2016-01-01 (each day uses its timeline sensor's file only)"
    )


def test_one_usable_day_is_enough(tmp_path):
    # AMSR-E files across the end of its period: the WindSat days are missing, the first days are staged
    folder = _files(tmp_path / "lprm", "AMSR_E", dt.date(2011, 10, 3), 4)
    plans = plan_days(list_files(str(folder)), [], SensorTimeline(), lprm_root=str(folder))
    assert [p.lprm is not None for p in plans] == [True, True, False, False]
    assert [p.sensor for p in plans] == ["AMSR-E", "AMSR-E", "WindSat", "WindSat"]
