"""The daily files under the IOOS compliance-checker, and the grid metadata of the stores.

What a user runs: ``compliance-checker --test cf:1.8 --test acdd:1.3 FILE``,
here through its Python API (``CheckSuite``), reading the report it prints:
the score and the failed checks at each priority. A file made from a run
file that names its creator has no failed check at high or medium priority
in either suite; a file made without one fails only the checks of who made it.
"""

from __future__ import annotations

import pytest
import xarray as xr

from sgdsm_dask.cli import main
from sgdsm_dask.testing import one_error_line
from tests.conftest import write_run_file
from tests.export.conftest import on

SUITES = ("cf:1.8", "acdd:1.3")
METADATA = """\
  creator_name: Ana Hydro
  creator_email: ana.hydro@example.org
  creator_url: https://example.org/people/ana
  institution: Example University, Department of Hydrology
  license: CC0-1.0
  naming_authority: org.example.hydro
"""


def checked(path) -> dict[str, dict]:
    """Per suite, compliance-checker's report of ``path``: the scores and the failed checks by priority."""
    from compliance_checker.runner import CheckSuite

    CheckSuite.load_all_available_checkers()
    suite = CheckSuite()
    ds = suite.load_dataset(str(path))
    try:
        groups = suite.run_all(ds, list(SUITES))
    finally:
        ds.close()
    reports = {}
    for name, (results, errors) in groups.items():
        assert not errors, f"{name} could not run a check on {path.name}: {errors}"
        report = suite.build_structure(name, results, str(path), limit=1)
        report["failed"] = {
            level: [f"{r.name}: {'; '.join(r.msgs)}" for r in report[f"{level}_priorities"] if r.value[0] < r.value[1]]
            for level in ("high", "medium", "low")
        }
        reports[name] = report
    assert sorted(reports) == sorted(SUITES)
    return reports


def test_a_run_file_naming_its_creator_gives_files_that_pass_cf_and_acdd(archive, client, tmp_path):
    stage = {"start": "2015-04-01", "end": "2015-04-02"}
    cfg = write_run_file(tmp_path / "run.yaml", archive, 2, stage, tail=f"metadata:\n{METADATA}")
    assert main(["run", str(cfg), *on(client)]) == 0
    day = tmp_path / "daily" / "SGD-SM2_20150402.nc"
    for name, report in checked(day).items():
        assert report["failed"]["high"] == [] and report["failed"]["medium"] == [], (name, report["failed"])
        assert report["high_count"] == report["medium_count"] == 0
        assert report["scored_points"] > 0.85 * report["possible_points"], name  # what is left: low priority only
    with xr.open_dataset(day) as ds:
        assert ds.attrs["creator_name"] == ds.attrs["publisher_name"] == "Ana Hydro"
        assert ds.attrs["institution"] == "Example University, Department of Hydrology"
        assert ds.attrs["license"] == "CC0-1.0" and ds.attrs["naming_authority"] == "org.example.hydro"
        assert ds.attrs["id"].startswith("SGD-SM2_20150402_") and " " not in ds.attrs["id"]
        assert ds.attrs["time_coverage_start"] == "2015-04-02T00:00:00Z" and ds.attrs["time_coverage_duration"] == "P1D"
        assert ds.attrs["source"].startswith("LPRM L3 daily descending + GPM IMERG Final daily")
        # the cells' edges, and the grid mapping the maps name
        assert float(ds["lat_bnds"].max()) == 50.0 and float(ds["lon_bnds"].min()) == 0.0
        assert (ds["lat_bnds"][:-1, 1].values == ds["lat_bnds"][1:, 0].values).all()  # contiguous, north first
        assert ds["crs"].attrs["grid_mapping_name"] == "latitude_longitude" and ds["sm"].attrs["grid_mapping"] == "crs"
        assert ds.rio.crs.to_epsg() == 4326
        assert [str(t)[:10] for t in ds["time_bnds"].values[0]] == ["2015-04-02", "2015-04-03"]
    assert main(["verify", str(tmp_path / "daily")]) == 0


def test_without_a_creator_the_checker_names_only_who_made_the_files(rec4, client, tmp_path):
    out = tmp_path / "daily"
    assert main(["export", "--store", str(rec4), "--out", str(out), *on(client)]) == 0
    reports = checked(out / "SGD-SM2_20150401.nc")
    assert reports["cf:1.8"]["failed"]["high"] == reports["cf:1.8"]["failed"]["medium"] == []
    acdd = reports["acdd:1.3"]["failed"]
    assert acdd["high"] == []
    unnamed = "creator_name, creator_url, creator_email, institution, publisher_name, publisher_url, publisher_email"
    assert acdd["medium"] == ["Global Attributes: " + "; ".join(f"{name} not present" for name in unnamed.split(", "))]
    with xr.open_dataset(out / "SGD-SM2_20150401.nc") as ds:
        assert "institution" not in ds.attrs and ds.attrs["license"].startswith("CC-BY-4.0")


def test_export_metadata_file_is_used_and_a_bad_one_is_one_line(rec4, client, tmp_path, capsys):
    meta = tmp_path / "meta.yaml"
    meta.write_text("\n".join(line.strip() for line in METADATA.splitlines()) + "\n")
    out = tmp_path / "daily"
    assert main(["export", "--store", str(rec4), "--out", str(out), "--metadata", str(meta), *on(client)]) == 0
    failed = checked(out / "SGD-SM2_20150403.nc")["acdd:1.3"]["failed"]
    assert failed["high"] == failed["medium"] == []
    meta.write_text("creator_name: Ana\ncreator_mail: ana@example.org\ncreator_url: example.org\n")
    capsys.readouterr()
    assert main(["export", "--store", str(rec4), "--out", str(tmp_path / "other"), "--metadata", str(meta)]) == 2
    err = one_error_line(capsys.readouterr().err)
    assert str(meta) in err and "creator_url: 'example.org' is not an http(s) URL" in err
    assert "creator_mail: Extra inputs are not permitted" in err
    assert not (tmp_path / "other").exists()


@pytest.mark.parametrize("store", ["staged4", "rec4"])
def test_stores_carry_the_grid_mapping_axes_and_cell_bounds(store, request):
    import rioxarray  # noqa: F401 - the .rio accessor, as a GIS user reads the CRS

    path = request.getfixturevalue(store)
    with xr.open_zarr(path, consolidated=False) as ds:
        assert ds.rio.crs.to_epsg() == 4326 and ds["sm"].rio.crs.to_epsg() == 4326
        assert ds["sm"].attrs["grid_mapping"] == "crs" and "crs" in ds.coords
        assert {name: ds[name].attrs["axis"] for name in ("time", "lat", "lon")} == {
            "time": "T",
            "lat": "Y",
            "lon": "X",
        }
        assert ds["lat"].attrs["bounds"] == "lat_bnds" and ds["lon"].attrs["bounds"] == "lon_bnds"
        assert ds["lat_bnds"].values[0].tolist() == [50.0, 49.75] and ds["lon_bnds"].values[-1].tolist() == [
            19.75,
            20.0,
        ]
        assert set(ds.coords) == {"time", "lat", "lon", "lat_bnds", "lon_bnds", "crs"}  # bounds are coordinates


def test_reconstruct_export_takes_the_metadata_file_and_refuses_it_without_export(staged4, client, tmp_path, capsys):
    meta = tmp_path / "meta.yaml"
    meta.write_text("\n".join(line.strip() for line in METADATA.splitlines()) + "\n")
    out, daily = tmp_path / "r.zarr", tmp_path / "daily"
    args = ["reconstruct", "--store", str(staged4), "--out", str(out), "--metadata", str(meta), *on(client)]
    capsys.readouterr()
    assert main(args) == 2
    err = one_error_line(capsys.readouterr().err)
    assert "metadata" in err and "--export" in err
    assert not out.exists()
    assert main([*args, "--export", str(daily)]) == 0
    with xr.open_dataset(daily / "SGD-SM2_20150402.nc") as ds:
        assert ds.attrs["creator_name"] == "Ana Hydro" and ds.attrs["license"] == "CC0-1.0"
    assert main(["verify", str(daily)]) == 0
