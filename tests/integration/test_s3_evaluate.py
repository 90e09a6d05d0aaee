"""``sgdsm evaluate`` with its cube, table, maps and work store under ``s3://``, against moto's S3 server."""

from __future__ import annotations

import re

import pytest
import xarray as xr

from sgdsm_dask.cli import main
from sgdsm_dask.testing import SMALL_REGION
from tests.integration.s3_server import environment, moto_server

BUCKET = "sgdsm-evaluate"
SECONDS = re.compile(r"; [0-9.]+ s with the fill")  # how long a tuning took: all that may differ between runs


def lines(text: str) -> list[str]:
    return [SECONDS.sub("", line) for line in text.strip().splitlines()]


@pytest.fixture(scope="module")
def s3():
    with moto_server() as server, environment(server.env):
        fs = server.filesystem()
        fs.mkdir(BUCKET)
        yield fs, server.env


@pytest.fixture(scope="module")
def staged(archive, client, tmp_path_factory, s3):
    """The small archive's first six days staged on disk, and the same store uploaded."""
    fs, _ = s3
    store = tmp_path_factory.mktemp("staged-s3-evaluate") / "staged.zarr"
    args = ["stage", "--lprm", str(archive / "lprm"), "--imerg", str(archive / "imerg"), "--out", str(store)]
    args += ["--region", SMALL_REGION.to_text(), "--start", "2015-04-01", "--end", "2015-04-06"]
    assert main([*args, "--scheduler", client.scheduler.address]) == 0
    fs.put(str(store), f"{BUCKET}/staged.zarr", recursive=True)
    return store, f"s3://{BUCKET}/staged.zarr"


def test_evaluate_chunked_on_s3_prints_the_local_table_and_writes_there(staged, s3, capsys):
    fs, env = s3
    local, url = staged
    # a cluster of 2 worker processes started here, so that they find the credentials in the environment
    base = ["evaluate", "--no-dct-pls", "--chunked", "--time-chunk", "3", "--workers", "2"]
    assert main([*base, "--store", str(local)]) == 0
    on_disk = capsys.readouterr().out
    out = [
        "--store",
        url,
        "--out",
        f"s3://{BUCKET}/t/table.md",
        "--maps",
        f"s3://{BUCKET}/t/maps.zarr",
        "--work",
        f"s3://{BUCKET}/scratch",
    ]
    assert main([*base, *out]) == 0
    printed = capsys.readouterr()
    assert lines(printed.out) == lines(on_disk) + [f"per-pixel RMSE: s3://{BUCKET}/t/maps.zarr"]
    assert lines(fs.cat_file(f"{BUCKET}/t/table.md").decode()) == lines(on_disk)
    maps = xr.open_zarr(f"s3://{BUCKET}/t/maps.zarr").compute(scheduler="synchronous")  # in this process
    assert maps["pixel_rmse"].sizes["fill_method"] == 4 and int(maps["n"].sum()) > 0
    assert not fs.exists(f"{BUCKET}/scratch/sgdsm-evaluate-work.zarr")  # the work store is removed
    assert env["AWS_SECRET_ACCESS_KEY"] not in printed.out + printed.err


def test_evaluate_in_memory_reads_s3_and_writes_its_table_there(staged, s3, capsys):
    fs, _ = s3
    local, url = staged
    assert main(["evaluate", "--store", str(local), "--no-dct-pls"]) == 0
    on_disk = capsys.readouterr().out
    report = f"s3://{BUCKET}/m/report"
    args = ["evaluate", "--store", url, "--no-dct-pls", "--out", f"s3://{BUCKET}/m/table.md", "--report", report]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert lines(printed) == lines(on_disk) + [f"report: {report}/report.md"]
    assert lines(fs.cat_file(f"{BUCKET}/m/table.md").decode()) == lines(on_disk)
    # the report and every picture it links to are objects under the prefix
    text = fs.cat_file(f"{BUCKET}/m/report/report.md").decode()
    pictures = re.findall(r"!\[[^]]*\]\(([^)]+\.png)\)", text)
    assert pictures and all(fs.exists(f"{BUCKET}/m/report/{p}") for p in pictures)
    assert main(args) == 2  # a prefix that holds objects already is refused
    assert "holds objects already" in capsys.readouterr().err
