"""``sgdsm export --stac``: a STAC Collection and one Item per day, valid against the STAC schemas, offline.

The core schemas (Item, Collection, GeoJSON) are the copies pystac ships;
every validation here runs with a pystac I/O that refuses to fetch
anything, so a schema that would have to come from the network fails the
test instead of being fetched. No package on PyPI ships the projection
extension's schema as a file of its own: its fields are checked here
against the files themselves (the COG's own CRS, shape and transform, the
NetCDF file's cell centres), and validated against the schema where
``SGDSM_STAC_SCHEMAS`` names a folder holding it (skipped otherwise).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pystac
import pytest
from pystac.validation import JsonSchemaSTACValidator

from sgdsm_dask.cli import main
from sgdsm_dask.export import manifest, stac
from tests.export.conftest import DAILY, on

PROJ = "https://stac-extensions.github.io/projection/"


class OfflineIO(pystac.stac_io.DefaultStacIO):
    """pystac's I/O for local files only: a schema that is not shipped cannot be fetched behind the test's back."""

    def read_text_from_href(self, href: str) -> str:
        if href.startswith(("http://", "https://")):
            raise OSError(f"offline: refusing to fetch {href}")
        return super().read_text_from_href(href)


@pytest.fixture
def offline():
    before = pystac.StacIO._default_io
    pystac.StacIO.set_default(OfflineIO)
    yield
    pystac.StacIO._default_io = before


def _validator() -> JsonSchemaSTACValidator:
    """pystac's validator with its shipped core schemas, and the extension schemas of ``SGDSM_STAC_SCHEMAS``."""
    validator = JsonSchemaSTACValidator()
    folder = os.environ.get("SGDSM_STAC_SCHEMAS")
    for path in sorted(Path(folder).glob("*.json")) if folder else []:
        schema = json.loads(path.read_text())
        validator.schema_cache[schema["$id"]] = schema
    return validator


def _export(store, out, client, *flags) -> None:
    assert main(["export", "--store", str(store), "--out", str(out), *flags, *on(client)]) == 0


def _catalogue(out: Path) -> tuple[dict, dict[str, dict]]:
    collection = json.loads((out / "collection.json").read_text())
    items = {p.name: json.loads(p.read_text()) for p in sorted((out / "items").glob("*.json"))}
    return collection, items


def _validate_core(validator: JsonSchemaSTACValidator, doc: dict, kind) -> None:
    assert validator.validate_core(doc, kind, doc["stac_version"]) is not None


def _proj(d: dict, key: str):
    return d.get(f"proj:{key}")


def test_export_stac_writes_a_valid_catalogue_of_the_files(rec_a, client, tmp_path, capsys, offline):
    import rasterio
    import xarray as xr

    out = tmp_path / "daily"
    capsys.readouterr()
    _export(rec_a, out, client, "--cog", "--stac")
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["stac"] == str(out / "collection.json")
    collection, items = _catalogue(out)
    assert sorted(items) == [name.replace(".nc", ".json") for name in DAILY]
    validator = _validator()
    _validate_core(validator, collection, pystac.STACObjectType.COLLECTION)
    for item in items.values():
        _validate_core(validator, item, pystac.STACObjectType.ITEM)

    with xr.open_dataset(out / DAILY[0]) as ds:
        lat, lon = ds["lat"].values, ds["lon"].values
        license_text = ds.attrs["license"]
    edges = [lon.min() - 0.125, lat.min() - 0.125, lon.max() + 0.125, lat.max() + 0.125]
    assert collection["extent"]["spatial"]["bbox"] == [edges]
    assert collection["extent"]["temporal"]["interval"] == [["2015-04-01T00:00:00Z", "2015-04-05T00:00:00Z"]]
    assert collection["license"] == license_text.split()[0] == "CC-BY-4.0"
    assert [link["href"] for link in collection["links"] if link["rel"] == "license"] == [
        "https://creativecommons.org/licenses/by/4.0/"
    ]
    assert set(collection["summaries"]["variables"]) >= {"sm", "flag"}
    for name, item in items.items():
        day = dt.datetime.strptime(name[8:16], "%Y%m%d")
        props = item["properties"]
        assert props["datetime"] == props["start_datetime"] == f"{day:%Y-%m-%d}T00:00:00Z"
        assert props["end_datetime"] == f"{day + dt.timedelta(days=1):%Y-%m-%d}T00:00:00Z"
        assert item["bbox"] == edges and item["collection"] == collection["id"]
        assert _proj(props, "code") == "EPSG:4326" or _proj(props, "epsg") == 4326
        assert _proj(props, "shape") == [lat.size, lon.size] and _proj(props, "bbox") == edges
        assert any(uri.startswith(PROJ) for uri in item["stac_extensions"])
        nc, cog = item["assets"]["netcdf"], item["assets"]["cog"]
        assert nc["type"] == "application/netcdf" and nc["roles"] == ["data"]
        assert cog["type"] == "image/tiff; application=geotiff; profile=cloud-optimized"
        # every href resolves, from the Item's own place, to the day's file
        assert (out / "items" / nc["href"]).resolve() == out / name.replace(".json", ".nc")
        assert (out / "items" / cog["href"]).resolve() == out / name.replace(".json", ".tif")
        a, _, c, _, e, f = _proj(nc, "transform")[:6]  # the NetCDF file's cell centres, from the transform
        assert np.allclose(c + a * (np.arange(lon.size) + 0.5), lon) and np.allclose(
            f + e * (np.arange(lat.size) + 0.5), lat
        )
        with rasterio.open(out / name.replace(".json", ".tif")) as tif:  # the COG's own grid
            assert tif.crs.to_epsg() == 4326 and [tif.height, tif.width] == _proj(props, "shape")
            assert np.allclose(_proj(cog, "transform")[:6], list(tif.transform)[:6])
            assert np.allclose(_proj(props, "bbox"), list(tif.bounds))

    # pystac reads it back as one collection of four items, each asset a file that is there
    read = pystac.Collection.from_file(str(out / "collection.json"))
    loaded = list(read.get_items())
    assert sorted(i.id for i in loaded) == [name[:-3] for name in DAILY]
    assert all(Path(a.get_absolute_href()).is_file() for i in loaded for a in i.assets.values())
    listed = json.loads((out / manifest.MANIFEST).read_text())["files"]
    assert stac.check(out, listed) == [] and main(["verify", str(out)]) == 0


def test_a_rerun_and_a_later_export_of_more_days_keep_one_item_per_day(rec_a, client, tmp_path, offline):
    import zarr

    rec = tmp_path / "rec.zarr"
    shutil.copytree(rec_a, rec)
    zarr.open_group(str(rec), mode="r+")["model/done"][1, 0, 0] = 0  # days 3-4 not finished in one block
    out = tmp_path / "daily"
    _export(rec, out, client, "--stac")
    collection, items = _catalogue(out)
    assert sorted(items) == [name.replace(".nc", ".json") for name in DAILY[:2]]
    assert collection["extent"]["temporal"]["interval"] == [["2015-04-01T00:00:00Z", "2015-04-03T00:00:00Z"]]
    first = {name: (out / "items" / name).stat().st_mtime_ns for name in items}

    zarr.open_group(str(rec), mode="r+")["model/done"][1, 0, 0] = 1  # finished: the next export appends days 3-4
    _export(rec, out, client)  # without --stac: the folder's catalogue is kept up to date all the same
    collection, items = _catalogue(out)
    assert sorted(items) == [name.replace(".nc", ".json") for name in DAILY]
    hrefs = [link["href"] for link in collection["links"] if link["rel"] == "item"]
    assert sorted(hrefs) == [f"./items/{name}" for name in sorted(items)]  # each day once
    assert collection["extent"]["temporal"]["interval"] == [["2015-04-01T00:00:00Z", "2015-04-05T00:00:00Z"]]
    assert {name: (out / "items" / name).stat().st_mtime_ns for name in first} == first  # not rewritten
    validator = _validator()
    _validate_core(validator, collection, pystac.STACObjectType.COLLECTION)
    for item in items.values():
        _validate_core(validator, item, pystac.STACObjectType.ITEM)

    # the same export again: nothing to write, nothing left behind
    before = {p.name: p.read_bytes() for p in [out / "collection.json", *(out / "items").iterdir()]}
    assert stac.write_catalogue(out) == {
        "collection": str(out / "collection.json"),
        "items": 4,
        "written": 0,
        "removed": 0,
    }
    assert {p.name: p.read_bytes() for p in [out / "collection.json", *(out / "items").iterdir()]} == before
    listed = json.loads((out / manifest.MANIFEST).read_text())["files"]
    assert stac.check(out, listed) == [] and main(["verify", str(out)]) == 0


def test_check_names_what_the_catalogue_gets_wrong(daily_a, tmp_path, offline):
    out = tmp_path / "daily"
    shutil.copytree(daily_a, out)
    listed = json.loads((out / manifest.MANIFEST).read_text())["files"]
    assert stac.check(out, listed) == []  # no catalogue: nothing to check
    assert stac.write_catalogue(out)["items"] == 4
    (out / "items" / "SGD-SM2_20150402.json").unlink()
    item = json.loads((out / "items" / "SGD-SM2_20150403.json").read_text())
    item["assets"]["netcdf"]["href"] = "../../elsewhere.nc"
    (out / "items" / "SGD-SM2_20150403.json").write_text(json.dumps(item))
    problems = stac.check(out, listed)
    assert [name for name, _ in problems] == ["items/SGD-SM2_20150402.json", "items/SGD-SM2_20150403.json"] + [
        "collection.json"
    ] * 2
    assert "missing or not a STAC Item" in problems[0][1] and "not a file the manifest lists" in problems[1][1]
    assert [p for _, p in problems[2:]] == [
        "no Item describes SGD-SM2_20150402.nc",
        "no Item describes SGD-SM2_20150403.nc",
    ]
    assert main(["verify", str(out)]) == 1  # sgdsm verify names the same problems
    # the next write repairs it
    assert stac.write_catalogue(out)["written"] == 2 and stac.check(out, listed) == []


def test_a_folder_without_a_finished_export_gets_no_catalogue(tmp_path):
    from sgdsm_dask.errors import InputError

    with pytest.raises(InputError, match="no manifest.json of a finished sgdsm export"):
        stac.write_catalogue(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_items_validate_against_the_projection_extension_schema(daily_a, tmp_path, offline):
    validator = _validator()
    uri = next((u for u in validator.schema_cache if u.startswith(PROJ)), None)
    if uri is None:
        pytest.skip("no projection extension schema offline: set SGDSM_STAC_SCHEMAS to a folder holding it")
    out = tmp_path / "daily"
    shutil.copytree(daily_a, out)
    stac.write_catalogue(out)
    collection, items = _catalogue(out)
    for doc, kind in [(collection, pystac.STACObjectType.COLLECTION)] + [
        (item, pystac.STACObjectType.ITEM) for item in items.values()
    ]:
        assert uri in doc["stac_extensions"]
        validator.validate_extension(doc, kind, doc["stac_version"], uri)
    # and the schema does say no: a shape of the wrong kind is refused
    bad = json.loads(json.dumps(items["SGD-SM2_20150401.json"]))
    bad["properties"]["proj:shape"] = ["many", "rows"]
    with pytest.raises(pystac.STACValidationError):
        validator.validate_extension(bad, pystac.STACObjectType.ITEM, bad["stac_version"], uri)


def test_an_object_store_export_with_stac_is_refused_before_any_file_is_written(rec_a):
    from sgdsm_dask.errors import InputError
    from sgdsm_dask.export import export

    with pytest.raises(InputError, match="local folders only"):  # not after every day is uploaded
        export(str(rec_a), "s3://no-such-bucket/daily", catalogue=True)
