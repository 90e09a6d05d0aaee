"""Options and run files that break a rule are one error line naming the rule, never a traceback."""

from __future__ import annotations

import pytest

from sgdsm_dask.cli import main


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
