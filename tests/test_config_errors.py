"""Options and run files that break a rule are one error line naming the rule, never a traceback."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from sgdsm_dask.cli import main
from sgdsm_dask.config import load_run_config
from sgdsm_dask.testing import one_error_line


@pytest.mark.parametrize(
    "option, rule",
    [
        (["--time-chunk", "0"], "time_chunk: Input should be greater than or equal to 1"),
        (["--space-chunk", "50"], "space_chunk 50 must be a multiple of the 40-cell patch"),
    ],
)
def test_stage_option_breaking_a_rule(tmp_path, capsys, option, rule):
    assert main(["stage", "--lprm", str(tmp_path), "--out", str(tmp_path / "s.zarr"), *option]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sgdsm: error: stage options:") and rule in err and len(err.splitlines()) == 1
    assert not (tmp_path / "s.zarr").exists()


def test_run_file_with_a_stage_section_breaking_a_rule(tmp_path, capsys):
    cfg = tmp_path / "run.yaml"
    cfg.write_text("stage:\n  lprm: a\n  out: s.zarr\n  time_chunk: 0\nreconstruct:\n  out: r.zarr\n")
    assert main(["run", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert err == f"sgdsm: error: {cfg}: stage.time_chunk: Input should be greater than or equal to 1\n"


@pytest.mark.parametrize(
    "option",
    [["--space-chunk", "-40"], ["--space-chunk", "0"], ["--time-chunk", "-8"]],
    ids=["negative-space", "zero-space", "negative-time"],
)
def test_a_negative_or_zero_stage_chunk_is_one_line(tmp_path, capsys, option):
    assert main(["stage", "--lprm", str(tmp_path), "--out", str(tmp_path / "s.zarr"), *option]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert line.startswith("sgdsm: error: stage options: ") and "greater than or equal to" in line, line
    assert not (tmp_path / "s.zarr").exists()


def _run_file(tmp_path, **stage) -> Path:
    cfg = tmp_path / "run.yaml"
    lines = "".join(f"  {k}: {v}\n" for k, v in stage.items())
    cfg.write_text(f"stage:\n  lprm: a\n  out: s.zarr\n{lines}reconstruct:\n  out: r.zarr\n")
    return cfg


@pytest.mark.parametrize(
    "stage, rule",
    [
        (
            {"start": "2015-02-30"},
            "stage.start: '2015-02-30' is not a date (YYYY-MM-DD): day is out of range for month",
        ),
        ({"end": "yesterday"}, "stage.end: 'yesterday' is not a date (YYYY-MM-DD)"),
        ({"end": "2015-4-1"}, "stage.end: '2015-4-1' is not a date (YYYY-MM-DD)"),
        (
            {"timeline": "{periods: [{sensor: AMSR2, start: 2012-13-01}]}"},
            "stage.timeline.periods.0.start: '2012-13-01' is not a date (YYYY-MM-DD): month must be in 1..12",
        ),
    ],
    ids=["february-30", "a-word", "unpadded", "timeline"],
)
def test_an_invalid_date_in_a_run_file_names_the_file_and_the_field(tmp_path, capsys, stage, rule):
    cfg = _run_file(tmp_path, **stage)
    assert main(["run", str(cfg)]) == 2
    assert capsys.readouterr().err == f"sgdsm: error: {cfg}: {rule}\n"
    assert not (tmp_path / "s.zarr").exists()


def test_run_file_dates_are_still_dates(tmp_path):
    cfg = load_run_config(_run_file(tmp_path, start="2015-04-01", end="'2015-04-30'"))
    assert (cfg.stage.start, cfg.stage.end) == (dt.date(2015, 4, 1), dt.date(2015, 4, 30))


@pytest.mark.parametrize(
    "value, rule",
    [
        ("50", "reconstruct: space_chunk 50 must be a multiple of the 40-cell patch"),
        ("0", "reconstruct.space_chunk: Input should be greater than or equal to 40"),
    ],
    ids=["not-whole-patches", "zero"],
)
def test_a_reconstruction_space_chunk_breaking_a_rule_is_one_line(tmp_path, capsys, value, rule):
    cfg = _run_file(tmp_path)
    cfg.write_text(cfg.read_text() + f"  space_chunk: {value}\n")
    assert main(["run", str(cfg)]) == 2
    assert capsys.readouterr().err == f"sgdsm: error: {cfg}: {rule}\n"
    assert not (tmp_path / "s.zarr").exists()


def test_the_reconstruction_space_chunk_of_a_run_file_reaches_its_request_alone(archive, tmp_path):
    from sgdsm_dask.pipeline import Run

    cfg = tmp_path / "run.yaml"
    stage = f"stage:\n  lprm: {archive / 'lprm'}\n  out: s.zarr\n  space_chunk: 40\n"
    cfg.write_text(f"{stage}reconstruct:\n  out: r.zarr\n  space_chunk: 80\n")
    run = Run.plan(load_run_config(cfg))
    assert (run.stage.config.space_chunk, run.reconstruct.space_chunk) == (40, 80)
    cfg.write_text(f"{stage}reconstruct:\n  out: r.zarr\n")
    assert Run.plan(load_run_config(cfg)).reconstruct.space_chunk is None  # the staged cube's
