"""Thirty global synthetic days, staged, reconstructed and exported once for the integration tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.runs import run

#: Two-day time chunks: 15 per run, times 8 spatial blocks, so a run can be stopped part-way.
CHUNKS = ["--time-chunk", "2", "--workers", "2"]


@pytest.fixture(scope="session")
def global_archive(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("global") / "archive"
    run("synth", str(out), "--start", "2015-04-01", "--days", "30", "--seed", "11", "--workers", "2")
    return out


@pytest.fixture(scope="session")
def global_staged(global_archive, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("gstaged") / "staged.zarr"
    lprm, imerg = str(global_archive / "lprm"), str(global_archive / "imerg")
    run("stage", "--lprm", lprm, "--imerg", imerg, *CHUNKS, "--out", str(out))
    return out


@pytest.fixture(scope="session")
def global_full(global_staged, tmp_path_factory) -> tuple[Path, Path]:
    """An uninterrupted reconstruction of ``global_staged`` and its export: (store, daily folder)."""
    out = tmp_path_factory.mktemp("gfull")
    run("reconstruct", "--store", str(global_staged), *CHUNKS, "--out", str(out / "full.zarr"))
    run("export", "--store", str(out / "full.zarr"), "--out", str(out / "daily"), "--workers", "2")
    return out / "full.zarr", out / "daily"
