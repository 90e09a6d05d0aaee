import datetime as dt

import pytest

from sgdsm_dask.cli import main
from sgdsm_dask.grid import Region
from sgdsm_dask.testing import one_error_line, small_archive
from sgdsm_dask.training import checkpoint

# Held out from the shipped checkpoint's training (2015-03-01..06-28, 20W-52E, seed 7):
# another year, another continent, another seed.
HELD_OUT = Region.from_bounds(-70.0, -20.0, -50.0, 0.0)


@pytest.fixture(scope="module")
def held_out(tmp_path_factory, client):
    out = tmp_path_factory.mktemp("held_out")
    arch = small_archive(out / "archive", days=20, start=dt.date(2016, 7, 1), region=HELD_OUT, seed=11)
    store = out / "staged.zarr"
    args = ["stage", "--lprm", str(arch / "lprm"), "--imerg", str(arch / "imerg"), "--out", str(store)]
    assert main(args + ["--region=-70,-20,-50,0", "--scheduler", client.scheduler.address]) == 0
    return arch, store


def _scores(table) -> dict[str, list[float]]:
    """The RMSE columns of ``sgdsm evaluate --out``'s main table, by method."""
    rows = {}
    for line in table.read_text().splitlines()[2:]:
        if not line.startswith("|"):
            break  # the main table ends; the latitude bands follow
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[cells[0]] = [float(c) for c in cells[1:]]
    return rows


def test_shipped_checkpoint_beats_the_baselines_on_held_out_synthetic_days(held_out, tmp_path, capsys):
    arch, store = held_out
    table = tmp_path / "table.md"
    assert main(["evaluate", "--store", str(store), "--truth", str(arch / "truth.zarr"), "--out", str(table)]) == 0
    rows = _scores(table)
    model, lin, clim = rows["LSTM-CNN"], rows["linear in time"], rows["climatology"]
    for k in range(3):  # hidden observed pixels, the same against the truth, and all gaps against the truth
        assert model[k] < lin[k] and model[k] < clim[k], table.read_text()
    assert "DCT-PLS" in rows and "by latitude band" in table.read_text()
    # the default tiling overlaps and blends patches: borders are about as smooth as anywhere else
    seam_line = next(ln for ln in table.read_text().splitlines() if ln.startswith("Seam score"))
    seam = float(seam_line.rsplit(":", 1)[1])
    assert seam < 1.5, table.read_text()


def test_the_shipped_anomaly_checkpoint_by_name_beats_every_baseline_on_held_out_synthetic_days(
    held_out, tmp_path, client
):
    arch, store = held_out
    ck = checkpoint.load("anomaly")  # by name: the file in sgdsm_dask/weights, its hash recorded in the code
    assert ck.sha256 == checkpoint.SHIPPED["anomaly"] and ck.config.name == "anomaly"
    table = tmp_path / "table.md"
    args = ["evaluate", "--store", str(store), "--checkpoint", "anomaly", "--truth", str(arch / "truth.zarr")]
    assert main([*args, "--out", str(table)]) == 0
    rows = _scores(table)
    model = rows.pop("LSTM-CNN")
    for k in range(3):  # hidden observed pixels, the same against the truth, and all gaps against the truth
        assert all(model[k] < other[k] for other in rows.values()), table.read_text()
    out = tmp_path / "result.zarr"
    rec = ["reconstruct", "--store", str(store), "--out", str(out), "--checkpoint", "anomaly"]
    assert main([*rec, "--scheduler", client.scheduler.address]) == 0
    from sgdsm_dask.io import zarr_store
    from sgdsm_dask.reconstruction.provenance import stored

    assert stored(zarr_store.read_attrs(str(out)))["checkpoint_sha256"] == ck.sha256


def test_report_and_time_series_of_a_reconstruction(held_out, tmp_path, client, capsys):
    arch, store = held_out
    result = tmp_path / "result.zarr"
    assert (
        main(["reconstruct", "--store", str(store), "--out", str(result), "--scheduler", client.scheduler.address]) == 0
    )
    report = tmp_path / "report"
    args = ["evaluate", "--store", str(store), "--truth", str(arch / "truth.zarr"), "--no-dct-pls"]
    assert main(args + ["--report", str(report), "--product", str(result)]) == 0
    text = (report / "report.md").read_text()
    assert "| LSTM-CNN |" in text and "| climatology |" in text and checkpoint.SHIPPED["default"][:12] in text
    for png in ("error_maps.png", "series_hidden.png", "series_product.png"):
        assert f"]({png})" in text and (report / png).stat().st_size > 20_000, png
    assert f"report: {report / 'report.md'}" in capsys.readouterr().out

    png = tmp_path / "at.png"
    assert main(["series", "--store", str(store), "--result", str(result), "--at=-60,-10", "--out", str(png)]) == 0
    assert png.stat().st_size > 20_000
    assert main(["series", "--store", str(store), "--result", str(result), "--at=10,45"]) == 2
    err = capsys.readouterr().err
    assert str(store) in err and "outside its grid" in err


def test_evaluate_on_the_real_americas_cube_prints_model_and_baselines(tmp_path, client, capsys):
    from tests.conftest import real

    cube = real("lprm/lprm_amsr2_x_201504_west.nc")
    store = str(tmp_path / "real.zarr")
    args = ["stage", "--cube", str(cube), "--out", store, "--region=-65,-20,-45,0"]
    assert main(args + ["--scheduler", client.scheduler.address]) == 0
    capsys.readouterr()
    assert main(["evaluate", "--store", store, "--report", str(tmp_path / "report")]) == 0
    out = capsys.readouterr().out
    rows = {}
    for line in out.splitlines()[2:]:
        if not line.startswith("|"):
            break  # the main table ends; the best baseline and the parameters chosen follow
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[cells[0]] = float(cells[1])
    assert set(rows) == {"LSTM-CNN", "linear in time", "climatology", "climatology + neighbour anomaly", "DCT-PLS"}
    assert "Best baseline on the hidden observed pixels: " in out and "sigma" in out and "by class of" in out
    # real LPRM soil moisture: every method errs by more than nothing and less than the whole range
    assert all(0.01 < v < 0.3 for v in rows.values()), out
    n = int(out.splitlines()[0].split("n=")[1].split(")")[0])
    assert n > 5000  # 30 days of 80 x 80 cells with real gaps of other days laid over them
    assert (tmp_path / "report" / "error_maps.png").stat().st_size > 20_000


def test_evaluate_with_an_overlap_out_of_range_is_one_error_line(tmp_path, capsys):
    assert main(["evaluate", "--store", str(tmp_path / "absent.zarr"), "--overlap", "30"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sgdsm: error: overlap must be between 0 and 20 cells, not 30") and "Traceback" not in err
    one_error_line(err)  # and only that line
