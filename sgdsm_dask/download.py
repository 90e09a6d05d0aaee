"""``sgdsm download``: fetch LPRM and IMERG days from NASA GES DISC with ``earthaccess``.

Needs the optional extra (``pip install 'sgdsm-dask[download]'``) and an
Earthdata login: ``~/.netrc`` with ``machine urs.earthdata.nasa.gov login
USER password PASS``, or the environment variables ``EARTHDATA_USERNAME``
and ``EARTHDATA_PASSWORD``. Credentials are read by earthaccess and never
printed or logged here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import SensorTimeline
from .errors import ConfigError
from .readers.imerg import SHORT_NAME as IMERG_SHORT_NAME
from .readers.lprm import SHORT_NAMES as LPRM_SHORT_NAMES


@dataclass(frozen=True)
class Query:
    """One ``earthaccess.search_data`` call."""

    short_name: str
    version: str
    start: dt.date
    end: dt.date
    bounding_box: tuple[float, float, float, float] | None
    folder: str

    def kwargs(self) -> dict[str, Any]:
        kw: dict[str, Any] = {
            "short_name": self.short_name,
            "version": self.version,
            "temporal": (self.start.isoformat(), self.end.isoformat()),
        }
        if self.bounding_box is not None:
            kw["bounding_box"] = self.bounding_box
        return kw


def plan_queries(
    start: dt.date,
    end: dt.date,
    *,
    products: tuple[str, ...] = ("lprm", "imerg"),
    timeline: SensorTimeline | None = None,
    imerg_version: str = "07",
    bounding_box: tuple[float, float, float, float] | None = None,
) -> list[Query]:
    """The searches that cover ``start..end``: one per LPRM sensor period touched, plus IMERG."""
    if end < start:
        raise ConfigError(f"end {end} is before start {start}")
    timeline = timeline or SensorTimeline()
    out: list[Query] = []
    if "lprm" in products:
        for p in timeline.periods:
            lo = max(start, p.start)
            hi = min(end, p.end or end)
            if lo <= hi:
                version = "002" if p.sensor == "AMSR-E" else "001"
                out.append(Query(LPRM_SHORT_NAMES[p.sensor], version, lo, hi, bounding_box, "lprm"))
    if "imerg" in products:
        out.append(Query(IMERG_SHORT_NAME, imerg_version, start, end, bounding_box, "imerg"))
    return out


def download(queries: list[Query], out_dir: str | Path) -> list[str]:
    """Run the searches and download the granules into ``out_dir/lprm`` and ``out_dir/imerg``."""
    try:
        import earthaccess
    except ImportError:
        raise ConfigError("sgdsm download needs earthaccess: pip install 'sgdsm-dask[download]'") from None
    auth = earthaccess.login(strategy="environment") if _env_login() else earthaccess.login(strategy="netrc")
    if not auth or not getattr(auth, "authenticated", False):
        raise ConfigError("Earthdata login failed: set EARTHDATA_USERNAME/EARTHDATA_PASSWORD or ~/.netrc")
    files: list[str] = []
    for q in queries:
        granules = earthaccess.search_data(**q.kwargs())
        target = Path(out_dir) / q.folder
        target.mkdir(parents=True, exist_ok=True)
        files += [str(f) for f in earthaccess.download(granules, str(target))]
    return files


def _env_login() -> bool:
    import os

    return bool(os.environ.get("EARTHDATA_USERNAME") and os.environ.get("EARTHDATA_PASSWORD"))
