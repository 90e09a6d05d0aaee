"""The command line's parser: values that begin with a minus sign, and help with defaults and descriptions."""

from __future__ import annotations

import argparse

import pytest

from sgdsm_dask.cli import build_parser, main
from sgdsm_dask.commands import NAMES
from sgdsm_dask.commands._common import HelpFormatter
from sgdsm_dask.grid import Region

WEST_OF_GREENWICH = Region.from_bounds(-10, 35, 20, 60)


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    (sub,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


REGION_COMMANDS = {
    "synth": ["synth", "out", "--start", "2015-06-01", "--days", "3"],
    "stage": ["stage", "--lprm", "lprm", "--out", "s.zarr"],
    "train": ["train", "--store", "s.zarr", "--out", "c.pt"],
    "fit": ["fit", "--store", "s.zarr", "--out", "c.pt"],
    "evaluate": ["evaluate", "--store", "s.zarr"],
    "download": ["download", "out", "--start", "2015-06-01", "--end", "2015-06-02"],
}


def test_every_command_with_a_region_is_covered_here():
    with_region = {name for name, p in _subparsers().items() if "--region" in p._option_string_actions}
    assert with_region == set(REGION_COMMANDS)


@pytest.mark.parametrize("command", sorted(REGION_COMMANDS))
@pytest.mark.parametrize("form", ["spaced", "joined"])
def test_a_region_west_of_greenwich_is_taken_as_typed(command, form):
    option = ["--region", "-10,35,20,60"] if form == "spaced" else ["--region=-10,35,20,60"]
    args = build_parser().parse_args([*REGION_COMMANDS[command], *option])
    assert args.region == WEST_OF_GREENWICH


@pytest.mark.parametrize("at, lonlat", [("-60.5,-12.25", (-60.5, -12.25)), ("-.5,10", (-0.5, 10.0))])
def test_a_pixel_west_of_greenwich_is_taken_as_typed(at, lonlat):
    args = build_parser().parse_args(["series", "--store", "s.zarr", "--result", "r.zarr", "--at", at])
    assert args.at == lonlat


def test_negative_numbers_still_reach_their_rule_and_unknown_options_are_still_refused(capsys):
    args = build_parser().parse_args(["stage", "--lprm", "x", "--out", "s.zarr", "--space-chunk", "-40"])
    assert args.space_chunk == -40
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["stage", "--lprm", "x", "--out", "s.zarr", "--bogus"])
    assert exc.value.code == 2 and "unrecognized arguments: --bogus" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        build_parser().parse_args(["stage", "--lprm", "x", "--out", "s.zarr", "--region"])
    assert "--region: expected one argument" in capsys.readouterr().err


def test_the_issue_command_runs_with_a_spaced_negative_region(tmp_path, capsys):
    # the dry run plans the searches only: no network, no cluster
    argv = ["download", str(tmp_path), "--start", "2015-06-01", "--end", "2015-06-03", "--region", "-10,35,20,60"]
    assert main([*argv, "--dry-run"]) == 0
    assert "'bounding_box': (-10.0, 35.0, 20.0, 60.0)" in capsys.readouterr().out


def test_a_bad_region_is_still_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args([*REGION_COMMANDS["synth"], "--region", "-10,35,20"])
    assert exc.value.code == 2 and "must be four numbers W,S,E,N" in capsys.readouterr().err


def test_the_commands_are_the_documented_fourteen():
    assert list(_subparsers()) == list(NAMES) and len(NAMES) == 14


@pytest.mark.parametrize("name", NAMES)
def test_every_option_has_a_description_and_shows_its_default(name):
    parser = _subparsers()[name]
    assert parser.description and parser.description.endswith(".")
    formatter = HelpFormatter(parser.prog)
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        assert action.help, f"sgdsm {name} {action.dest}: no help"
        # a line that says what the option is, not only its default
        assert not action.help.lower().startswith("default"), f"sgdsm {name} {action.dest}: {action.help!r}"
        if action.option_strings and not action.required:
            assert "default" in formatter._get_help_string(action), f"sgdsm {name} {action.option_strings[0]}"


def test_help_shows_defaults_in_the_text():
    text = _subparsers()["reconstruct"].format_help()
    assert "Fill a staged cube with the LSTM-CNN" in text
    assert "days per task of a chain (default: 8)" in text
    assert "(default: the shipped default)" in " ".join(text.split()) and "(default: None)" not in text
    stage = " ".join(_subparsers()["stage"].format_help().split())
    assert "--band {c1,c2,x} LPRM frequency band of soil moisture (default: c1)" in stage
