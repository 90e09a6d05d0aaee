"""The public Python API (``sgdsm_dask.stage``, ``fill``, ``evaluate``, ...) gives the numbers of the command line.

The CLI's stores are the session fixtures ``staged4`` and ``rec4`` (``sgdsm
stage`` and ``sgdsm reconstruct`` in 2-day chunks over four days of the
synthetic archive); here the same archive goes through the API alone.
"""

from __future__ import annotations

import inspect
import re
import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import sgdsm_dask
from sgdsm_dask.cli import main
from sgdsm_dask.errors import InputError, SgdsmError
from tests.conftest import real

PUBLIC = ("stage", "open_staged", "fill", "reconstruct", "open_result", "evaluate", "validate")


@pytest.fixture(scope="module")
def api_store(archive, client, tmp_path_factory):
    """The archive's first four days staged through the API, as ``staged4`` was through ``sgdsm stage``."""
    out = tmp_path_factory.mktemp("api") / "staged.zarr"
    staged = sgdsm_dask.stage(
        out,
        lprm=str(archive / "lprm"),
        imerg=str(archive / "imerg"),
        region="0,40,20,50",
        start="2015-04-01",
        end="2015-04-04",
        time_chunk=2,
        client=client,
        progress=False,
    )
    return out, staged


@pytest.fixture
def api_staged(api_store) -> xr.Dataset:
    return api_store[1]


def test_the_public_api_is_declared_typed_and_documented():
    assert set(PUBLIC) <= set(sgdsm_dask.__all__)
    for name in PUBLIC:
        fn = getattr(sgdsm_dask, name)
        assert fn.__module__ == "sgdsm_dask.api"
        doc = inspect.getdoc(fn)
        for section in ("Parameters\n----------", "Returns\n-------", "Examples\n--------"):
            assert section in doc, f"{name}: no {section.splitlines()[0]} section"
        sig = inspect.signature(fn)
        assert sig.return_annotation is not inspect.Signature.empty, f"{name}: no return type"
        assert all(p.annotation is not inspect.Parameter.empty for p in sig.parameters.values()), name
        for param in inspect.signature(fn).parameters:
            assert f"\n{param}\n" in f"\n{doc}\n" or f"{param}," in doc or f", {param}\n" in doc, f"{name}({param})"


def test_stage_through_the_api_writes_the_cube_the_command_line_writes(api_staged, staged4):
    cli = sgdsm_dask.open_staged(staged4)
    assert isinstance(api_staged, xr.Dataset) and api_staged["sm"].chunks is not None  # opened lazily
    for name in ("sm", "precip", "land", "day_status", "sensor", "available", "precip_available"):
        xr.testing.assert_identical(api_staged[name], cli[name])
    assert int(np.isfinite(api_staged["sm"]).sum()) > 0


def test_fill_is_lazy_on_dask_and_gives_the_numbers_of_sgdsm_reconstruct(api_staged, rec4):
    filled = sgdsm_dask.fill(api_staged, time_chunk=2)
    assert filled["sm"].chunks is not None and filled["flag"].chunks is not None  # nothing has run yet
    filled = filled.compute()
    cli = sgdsm_dask.open_result(rec4)
    xr.testing.assert_equal(filled["sm"].reset_coords(drop=True), cli["sm"].reset_coords(drop=True))  # bit for bit
    xr.testing.assert_equal(filled["flag"], cli["flag"])
    assert (filled["flag"] == 1).sum() > 0  # there were gaps to fill, and they were filled
    observed = api_staged["sm"].notnull() & api_staged["land"]
    xr.testing.assert_equal(filled["sm"].where(observed), api_staged["sm"].where(observed).astype(np.float32))


def test_fill_carries_the_state_along_time_whatever_the_chunks_and_in_memory(api_staged, rec4):
    cli = sgdsm_dask.open_result(rec4).load()
    one_day_chunks = sgdsm_dask.fill(api_staged, time_chunk=1, space_chunk=40).compute()  # 4 x 2 tasks, 2 chains
    np.testing.assert_allclose(one_day_chunks["sm"], cli["sm"], rtol=0, atol=1e-6)
    in_memory = sgdsm_dask.fill(api_staged.load())  # NumPy in, NumPy out
    assert in_memory["sm"].chunks is None
    np.testing.assert_allclose(in_memory["sm"], cli["sm"], rtol=0, atol=1e-6)
    # south to north in, south to north out, the same values
    flipped = sgdsm_dask.fill(api_staged.isel(lat=slice(None, None, -1)), time_chunk=2).compute()
    assert float(flipped["lat"][0]) < float(flipped["lat"][-1])
    np.testing.assert_array_equal(flipped["sm"].values[:, ::-1], cli["sm"].values)


def test_fill_takes_a_bare_dataarray_without_rain_or_land(api_staged):
    bare = api_staged["sm"].where(api_staged["day_status"] == 1)  # no land, precip or day_status
    filled = sgdsm_dask.fill(bare).compute()
    land = api_staged["land"].values
    assert np.array_equal(filled["land"].values, land)  # the paper's land mask, found from the coordinates
    assert np.isfinite(filled["sm"].values[:, land]).all() and np.isnan(filled["sm"].values[:, ~land]).all()


def test_fill_refuses_what_it_cannot_fill_in_one_line(api_staged):
    with pytest.raises(SgdsmError, match="smaller than the model's 40 x 40-cell patch"):
        sgdsm_dask.fill(api_staged.isel(lat=slice(0, 20)))
    with pytest.raises(SgdsmError, match="no 'sm' variable"):
        sgdsm_dask.fill(api_staged[["precip"]])
    with pytest.raises(SgdsmError, match="whole 40-cell patches"):
        sgdsm_dask.fill(api_staged, space_chunk=50)


def test_open_result_shows_the_product_without_the_model_state(rec4, staged4):
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        result = sgdsm_dask.open_result(rec4)
    assert {"sm", "flag"} <= set(result.data_vars)
    assert not {"state_h", "state_c", "state_memory", "done"} & set(result.variables)
    model_dims = {"boundary", "block_y", "block_x", "patch_y", "patch_x", "hidden", "memory", "py", "px"}
    assert {"time", "lat", "lon"} <= set(result.dims) and not model_dims & set(result.dims)
    with pytest.raises(InputError, match="staged cube, not a reconstruction"):
        sgdsm_dask.open_result(staged4)
    with pytest.raises(InputError, match="not a staged cube"):
        sgdsm_dask.open_staged(rec4)


def test_evaluate_gives_the_table_of_sgdsm_evaluate(api_staged, staged4, capsys):
    assert main(["evaluate", "--store", str(staged4), "--no-dct-pls", "--seed", "3"]) == 0
    printed = capsys.readouterr().out.strip()
    scores = sgdsm_dask.evaluate(api_staged, seed=3, dct=False, keep_fills=True)

    def untimed(text: str) -> str:  # the table says how long each baseline's tuning took
        return re.sub(r"\d+(\.\d+)? s\b", "T s", text)

    assert untimed(scores.attrs["table"]) == untimed(printed) and "RMSE" in printed
    model = float(scores["rmse"].sel(pixels="hidden observed pixels", fill_method="LSTM-CNN"))
    assert f"| LSTM-CNN | {model:.4f} |" in printed
    table = scores["rmse"].to_pandas()
    assert isinstance(table, pd.DataFrame) and "climatology" in table.columns
    assert scores["pixel_rmse"].dims == ("fill_method", "lat", "lon")
    assert int(scores["scored"].sum()) == int(scores["n"].sel(pixels="hidden observed pixels"))


def test_validate_gives_the_rows_of_sgdsm_validate(tmp_path):
    from sgdsm_dask.validation.insitu import read_stations
    from tests.validation.test_insitu import _product

    archive = real("ismn/Data_seperate_files_header_20170810_20180809.zip")
    stations = read_stations(str(archive), str(tmp_path / "meta"), max_depth=0.25)
    product = _product(stations, str(tmp_path / "product.zarr"))
    cli_out = tmp_path / "cli"
    assert (
        main(["validate", "--product", product, "--ismn", str(archive), "--out", str(cli_out), "--max-depth", "0.25"])
        == 0
    )
    table = sgdsm_dask.validate(product, archive, tmp_path / "api", max_depth=0.25)
    pd.testing.assert_frame_equal(table, pd.read_csv(cli_out / "ismn_validation.csv"))
    assert set(table["station"]) == {"ARM-1", "Barrow-ARM"} and table.attrs["plots"]


class _Bar:
    """A tqdm-like bar that remembers its total and what it was told."""

    made: list[_Bar] = []

    def __init__(self, total=None, desc="", unit=""):
        self.total, self.desc, self.counted = total, desc, 0
        _Bar.made.append(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, n):
        self.counted += n

    def refresh(self):
        pass


def test_reconstruct_and_export_bars_have_a_total(api_store, rec4, client, tmp_path):
    from sgdsm_dask.export import export

    _Bar.made.clear()
    out = tmp_path / "result.zarr"
    summaries = []
    result = sgdsm_dask.reconstruct(
        api_store[0], out, time_chunk=1, space_chunk=40, client=client, progress=_Bar, on_summary=summaries.append
    )
    (bar,) = [b for b in _Bar.made if b.desc == "reconstruct"]
    assert bar.total == 4 * 2 == summaries[0]["tasks_run"] and bar.counted == bar.total  # 4 one-day chunks x 2 blocks
    np.testing.assert_allclose(result["sm"], sgdsm_dask.open_result(rec4)["sm"], rtol=0, atol=1e-6)
    export_bar = _Bar(desc="export")
    summary = export(
        str(out),
        str(tmp_path / "daily"),
        client,
        progress=export_bar.update,
        total=lambda n: setattr(export_bar, "total", n),
    )
    assert export_bar.total == summary["files"] == export_bar.counted == 4


def test_fill_runs_the_anomaly_network_as_sgdsm_reconstruct_does(staged4, client, tmp_path):
    """The 'anomaly' network reads each pixel's prior over the record and the days around each chunk."""
    ck = tmp_path / "anomaly.pt"
    assert main(["fit", "--store", str(staged4), "--out", str(ck), "--steps", "5", "--batch", "2", "--days", "4"]) == 0
    out = tmp_path / "rec.zarr"
    args = ["reconstruct", "--store", str(staged4), "--out", str(out), "--checkpoint", str(ck), "--time-chunk", "1"]
    assert main([*args, "--scheduler", client.scheduler.address]) == 0
    cli = sgdsm_dask.open_result(out).load()
    cube = sgdsm_dask.open_staged(staged4)
    for time_chunk in (1, 3):  # the look-ahead crosses chunk borders either way
        filled = sgdsm_dask.fill(cube, ck, time_chunk=time_chunk).compute()
        np.testing.assert_allclose(filled["sm"], cli["sm"], rtol=0, atol=1e-6)
        np.testing.assert_array_equal(filled["flag"], cli["flag"])
