"""The STAC catalogue of an export folder (``sgdsm export --stac``): one Collection, one Item per daily file.

Built with ``pystac`` from the folder's manifest (the days it lists, and
whether each has its COG) and the grid of one daily file, so it describes
exactly the files that ``sgdsm verify`` checks. ``collection.json`` sits
in the folder beside the files; the Items are ``items/SGD-SM2_YYYYMMDD.json``.
Every href is relative (a self-contained catalogue): the folder can be
moved, copied or served as it is.

The catalogue is rebuilt from the manifest after each export, so a rerun
adds no Item twice, days appended by a later export get theirs, and days
no longer listed lose theirs. Each JSON file is written to a temporary
name and renamed into place (:func:`~sgdsm_dask.io.files.atomic_write`),
and only when its text changed: the Items of days already described are
not rewritten. Items go first and ``collection.json`` last, so the
collection never links to an Item that is not there yet.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..grid import RES
from ..io.files import atomic_write
from ..paths import absolute, is_url
from . import folder, manifest

COLLECTION, ITEMS = folder.COLLECTION, folder.ITEMS
#: The Item files of :data:`ITEMS`: a daily file's name with ``.json`` (only digits come from data).
ITEM_NAME = re.compile(rf"{folder.PREFIX}\d{{8}}\.json")
_DAILY = re.compile(rf"({folder.PREFIX}(\d{{8}}))\.(nc|tif)")
NETCDF = "application/netcdf"
COG = "image/tiff; application=geotiff; profile=cloud-optimized"
#: The form of a STAC ``license`` (an SPDX identifier, or ``other``).
_SPDX = re.compile(r"[\w\-.+]+")
_URL = re.compile(r"https?://[^\s)\]>,;]+")


def exists(out_dir: str | os.PathLike) -> bool:
    """Whether the export folder ``out_dir`` holds a catalogue (then every export keeps it up to date)."""
    where = absolute(str(out_dir))
    return not is_url(where) and (Path(where) / COLLECTION).is_file()  # an object store holds none yet


def write_catalogue(out_dir: str | os.PathLike) -> dict[str, Any]:
    """Write (or bring up to date) the STAC catalogue of the finished export folder ``out_dir``.

    Parameters
    ----------
    out_dir
        An export folder whose manifest an export wrote (``sgdsm export``).

    Returns
    -------
    dict
        ``{"collection": path, "items": n, "written": k, "removed": m}``:
        the Items it describes, those written now (new or changed) and the
        Items of days no longer listed, removed.
    """
    import pystac

    out = local_folder(out_dir)
    doc = manifest.previous(out)
    if doc is None:
        raise InputError(str(out), f"no {manifest.MANIFEST} of a finished sgdsm export: run sgdsm export into it first")
    days = _days(doc["files"])
    if not days:
        raise InputError(str(out / manifest.MANIFEST), "lists no daily NetCDF file: there is nothing to catalogue")
    grid = _grid(out / days[min(days)][0])
    collection = _collection(pystac, grid, days, doc.get("provenance") or {})
    items = [_item(pystac, grid, day, names) for day, names in sorted(days.items())]
    collection.set_self_href(str(out / COLLECTION))
    for item in items:
        collection.add_item(item)
        item.set_self_href(str(out / ITEMS / f"{item.id}.json"))
    collection.catalog_type = pystac.CatalogType.SELF_CONTAINED  # every link relative, no self links

    (out / ITEMS).mkdir(exist_ok=True)
    _drop_temporaries(out)
    written = sum(_write_json(out / ITEMS / f"{item.id}.json", item.to_dict(include_self_link=False)) for item in items)
    written += _write_json(out / COLLECTION, collection.to_dict(include_self_link=False))
    wanted = {f"{item.id}.json" for item in items}
    stale = [p for p in (out / ITEMS).iterdir() if ITEM_NAME.fullmatch(p.name) and p.name not in wanted]
    for p in stale:
        p.unlink()
    return {"collection": str(out / COLLECTION), "items": len(items), "written": written, "removed": len(stale)}


def check(out_dir: str | os.PathLike, listed: Mapping[str, Any]) -> list[tuple[str, str]]:
    """What is wrong with the catalogue of ``out_dir`` against the manifest's ``listed`` files; [] without one.

    Reads the JSON only (the files' hashes are the manifest's to check): an
    Item the collection links to that is missing or unreadable, an asset
    that is not a file the manifest lists, and a daily NetCDF file of the
    manifest without an Item.
    """
    out = local_folder(out_dir)
    if not (out / COLLECTION).is_file():
        return []
    problems: list[tuple[str, str]] = []
    try:
        links = _read_json(out / COLLECTION)["links"]
        hrefs = [link["href"] for link in links if link.get("rel") == "item"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return [(COLLECTION, f"not a STAC collection of sgdsm export ({exc}); run sgdsm export --stac again")]
    described = set()
    for href in hrefs:
        path = (out / href).resolve()
        name = f"{ITEMS}/{path.name}"
        if path.parent != (out / ITEMS).resolve() or not ITEM_NAME.fullmatch(path.name):
            problems.append((COLLECTION, f"links to {href!r}, not an Item of this folder"))
            continue
        try:
            assets = _read_json(path)["assets"]
            targets = [(out / ITEMS / asset["href"]).resolve() for asset in assets.values()]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            problems.append((name, f"missing or not a STAC Item ({exc})"))
            continue
        for target in targets:
            if target.parent != out.resolve() or target.name not in listed:
                problems.append((name, f"an asset is {target}, not a file the manifest lists"))
            else:
                described.add(target.name)
    for nc in sorted(n for n in listed if _DAILY.fullmatch(n) and n.endswith(".nc") and n not in described):
        problems.append((COLLECTION, f"no Item describes {nc}"))
    return problems


def local_folder(out_dir: str | os.PathLike) -> Path:
    """The export folder as a plain absolute path, as the caller means it; one line for an object store's URL."""
    where = absolute(str(out_dir))
    if is_url(where):
        raise InputError(str(out_dir), "the STAC catalogue is written into local folders only for now")
    return Path(where)


def _days(files: Mapping[str, Any]) -> dict[dt.date, list[str]]:
    """The days of the manifest's ``files``: their NetCDF file first, then their COG where there is one."""
    days: dict[dt.date, list[str]] = {}
    for name in sorted(files, key=lambda n: (n.split(".")[0], not n.endswith(".nc"))):
        match = _DAILY.fullmatch(name)
        if match:
            day = dt.datetime.strptime(match[2], "%Y%m%d").date()
            if match[3] == "nc" or day in days:  # a COG without its NetCDF file is not a day of the export
                days.setdefault(day, []).append(name)
    return days


def _grid(path: Path) -> dict[str, Any]:
    """The grid, variables and global attributes of one daily file (every file of a folder shares them)."""
    import xarray as xr

    try:
        with xr.open_dataset(path, engine="netcdf4", decode_times=False) as ds:
            lat, lon = ds["lat"].values, ds["lon"].values
            variables = {
                name: {key: str(ds[name].attrs[key]) for key in ("long_name", "units") if key in ds[name].attrs}
                for name in ds.data_vars
                if {"lat", "lon"} <= set(ds[name].dims)
            }
            attrs = dict(ds.attrs)
    except (OSError, KeyError, ValueError) as exc:
        raise InputError(
            str(path), f"cannot be read for the catalogue ({exc}); run sgdsm verify on the folder"
        ) from None
    west, east = float(lon.min() - RES / 2), float(lon.max() + RES / 2)
    south, north = float(lat.min() - RES / 2), float(lat.max() + RES / 2)
    north_up = lat.size < 2 or bool(lat[0] > lat[-1])
    return {
        "bbox": [west, south, east, north],
        "shape": [int(lat.size), int(lon.size)],
        # GDAL's order (a, b, c, d, e, f): x = a col + b row + c, y = d col + e row + f, at the cells' outer corner
        "netcdf_transform": [RES, 0.0, west, 0.0, -RES if north_up else RES, north if north_up else south],
        "cog_transform": [RES, 0.0, west, 0.0, -RES, north],  # a COG is written north up (.cog)
        "variables": variables,
        "attrs": attrs,
    }


def _footprint(bbox: list[float]) -> dict[str, Any]:
    west, south, east, north = bbox
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]  # counter-clockwise
    return {"type": "Polygon", "coordinates": [ring]}


def _collection(pystac: Any, grid: dict[str, Any], days: Mapping[dt.date, list[str]], prov: dict[str, Any]) -> Any:
    from pystac.extensions.projection import ProjectionExtension

    attrs = grid["attrs"]
    store_id = (prov.get("reconstruction") or {}).get("store_id")
    license_text = str(attrs.get("license", ""))
    first = license_text.split(" ", 1)[0]
    collection = pystac.Collection(
        id=f"{folder.PREFIX}daily" + (f"_{store_id}" if store_id else ""),
        title=str(attrs.get("title", "")) or None,
        description=str(attrs.get("summary", "")) or "Daily surface soil moisture files of sgdsm export",
        extent=pystac.Extent(
            pystac.SpatialExtent([grid["bbox"]]),
            pystac.TemporalExtent([[_start(min(days)), _start(max(days) + dt.timedelta(days=1))]]),
        ),
        license=first if _SPDX.fullmatch(first) else "other",
        keywords=[k.strip() for k in str(attrs.get("keywords", "")).split(",") if k.strip()] or None,
        providers=_providers(pystac, attrs),
    )
    collection.summaries.add("variables", sorted(grid["variables"]))
    proj = ProjectionExtension.summaries(collection, add_if_missing=True)
    if hasattr(proj, "code"):  # the extension's v2 names the CRS by a code, v1 by its EPSG number
        proj.code = ["EPSG:4326"]
    else:
        proj.epsg = [4326]
    for url in dict.fromkeys(_URL.findall(license_text)):
        collection.add_link(pystac.Link(rel="license", target=url, title=license_text))
    return collection


def _providers(pystac: Any, attrs: Mapping[str, Any]) -> list[Any]:
    """Who made the files (the run's ``metadata``, where it names someone) and what processed them."""
    roles = pystac.ProviderRole
    providers = []
    creator = attrs.get("creator_institution") or attrs.get("institution") or attrs.get("creator_name")
    if creator:
        providers.append(pystac.Provider(str(creator), roles=[roles.PRODUCER], url=attrs.get("creator_url")))
    publisher = attrs.get("publisher_name")
    if publisher and publisher != attrs.get("creator_name"):
        providers.append(pystac.Provider(str(publisher), roles=[roles.HOST], url=attrs.get("publisher_url")))
    processor = f"sgdsm-dask {attrs.get('product_version', '')}".strip()
    providers.append(
        pystac.Provider(processor, description=str(attrs.get("source", "")) or None, roles=[roles.PROCESSOR])
    )
    return providers


def _item(pystac: Any, grid: dict[str, Any], day: dt.date, names: list[str]) -> Any:
    from pystac.extensions.projection import ProjectionExtension

    start, end = _start(day), _start(day + dt.timedelta(days=1))
    item = pystac.Item(
        id=names[0][:-3],
        geometry=_footprint(grid["bbox"]),
        bbox=grid["bbox"],
        datetime=start,
        start_datetime=start,
        end_datetime=end,
        properties={"title": f"Surface soil moisture of {day:%Y-%m-%d}"},
    )
    proj = ProjectionExtension.ext(item, add_if_missing=True)
    proj.apply(epsg=4326, shape=grid["shape"], bbox=grid["bbox"])
    for name in names:
        netcdf = name.endswith(".nc")
        asset = pystac.Asset(
            href=f"../{name}",  # relative to the Item, in items/
            title="CF-1.8 NetCDF4 file of the day (sm, flag and their ancillary maps)"
            if netcdf
            else "sm of the day as a Cloud-Optimized GeoTIFF",
            media_type=NETCDF if netcdf else COG,
            roles=["data"],
        )
        item.add_asset("netcdf" if netcdf else "cog", asset)
        ProjectionExtension.ext(asset).transform = grid["netcdf_transform" if netcdf else "cog_transform"]
    return item


def _start(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc)


def _write_json(path: Path, doc: dict[str, Any]) -> bool:
    """Write ``doc`` to ``path`` atomically unless it holds that text already; whether it was written."""
    text = json.dumps(doc, indent=1, default=_json_default) + "\n"
    try:
        if path.read_text() == text:
            return False
    except (OSError, UnicodeDecodeError):
        pass
    atomic_write(path, lambda tmp: tmp.write_text(text))
    return True


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON")


def _read_json(path: Path) -> dict[str, Any]:
    doc = json.loads(path.read_text())
    if not isinstance(doc, dict):
        raise ValueError("not a JSON object")
    return doc


def _drop_temporaries(out: Path) -> None:
    """Remove what a stopped catalogue write left (``atomic_write``'s hidden ``.NAME.part`` files)."""
    for stale in (out / f".{COLLECTION}.part", *(out / ITEMS).glob(f".{folder.PREFIX}*.json.part")):
        stale.unlink(missing_ok=True)
