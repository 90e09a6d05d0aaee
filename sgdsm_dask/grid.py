"""The canonical 0.25 degree global grid and regions on it.

Latitude runs north to south (89.875 .. -89.875) as the LPRM and ESA CCI
products store it; longitude runs west to east (-179.875 .. 179.875).
A :class:`Region` is a lat/lon box snapped outwards to whole cells.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

RES = 0.25
NLAT = 720
NLON = 1440
PATCH = 40
#: Cells by which neighbouring patches overlap by default. 8 (stride 32) costs
#: 1.56 times the patches of edge-to-edge tiling and removes the seams; see
#: docs/model.md for the seam scores and RMSE with and without.
DEFAULT_OVERLAP = 8


def check_overlap(overlap: int, patch: int = PATCH) -> int:
    """``overlap`` if patches of ``patch`` cells can overlap by it (0 to half a patch), else a ConfigError."""
    from .errors import ConfigError

    if not 0 <= overlap <= patch // 2:
        raise ConfigError(f"overlap must be between 0 and {patch // 2} cells, not {overlap}")
    return overlap


#: Cell centres of the global grid, north first.
LAT = (90.0 - RES / 2 - RES * np.arange(NLAT)).astype(np.float64)
LON = (-180.0 + RES / 2 + RES * np.arange(NLON)).astype(np.float64)


@dataclass(frozen=True)
class Region:
    """A box of whole grid cells: rows ``[row0, row1)`` and columns ``[col0, col1)``."""

    row0: int = 0
    row1: int = NLAT
    col0: int = 0
    col1: int = NLON

    def __post_init__(self) -> None:
        if not (0 <= self.row0 < self.row1 <= NLAT and 0 <= self.col0 < self.col1 <= NLON):
            raise ValueError(
                f"region rows {self.row0}:{self.row1} cols {self.col0}:{self.col1} is empty or off the grid"
            )

    @classmethod
    def from_bounds(cls, west: float, south: float, east: float, north: float) -> Region:
        """Smallest set of cells covering the box ``W,S,E,N`` in degrees."""
        if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
            raise ValueError(
                f"region {west},{south},{east},{north} must be W,S,E,N with W<E and S<N inside -180..180, -90..90"
            )
        eps = 1e-9
        row0 = int(math.floor((90.0 - north) / RES + eps))
        row1 = int(math.ceil((90.0 - south) / RES - eps))
        col0 = int(math.floor((west + 180.0) / RES + eps))
        col1 = int(math.ceil((east + 180.0) / RES - eps))
        return cls(row0, row1, col0, col1)

    @classmethod
    def parse(cls, text: str | None) -> Region:
        """Parse ``"W,S,E,N"``; ``None`` or ``"global"`` is the whole grid."""
        if text is None or text.strip().lower() in ("", "global"):
            return cls()
        parts = [p for p in text.replace(" ", "").split(",") if p]
        if len(parts) != 4:
            raise ValueError(f"region {text!r} must be four numbers W,S,E,N")
        w, s, e, n = (float(p) for p in parts)
        return cls.from_bounds(w, s, e, n)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.row1 - self.row0, self.col1 - self.col0)

    @property
    def lat(self) -> np.ndarray:
        return LAT[self.row0 : self.row1]

    @property
    def lon(self) -> np.ndarray:
        return LON[self.col0 : self.col1]

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """Outer edges ``(W, S, E, N)`` in degrees."""
        return (
            -180.0 + RES * self.col0,
            90.0 - RES * self.row1,
            -180.0 + RES * self.col1,
            90.0 - RES * self.row0,
        )

    def to_text(self) -> str:
        return ",".join(f"{v:g}" for v in self.bounds)

    @property
    def slices(self) -> tuple[slice, slice]:
        return slice(self.row0, self.row1), slice(self.col0, self.col1)

    def lat_edges(self) -> np.ndarray:
        """Cell edges north to south (length rows + 1)."""
        return 90.0 - RES * np.arange(self.row0, self.row1 + 1)

    def lon_edges(self) -> np.ndarray:
        return -180.0 + RES * np.arange(self.col0, self.col1 + 1)


def check_axis(values: np.ndarray, expected: np.ndarray, *, tol: float = 1e-3) -> bool:
    """Whether coordinate ``values`` are the ``expected`` cell centres."""
    values = np.asarray(values, dtype=np.float64)
    return values.shape == expected.shape and bool(np.all(np.abs(values - expected) <= tol))


def locate(lat: np.ndarray, lon: np.ndarray) -> Region:
    """The region whose cell centres are exactly ``lat`` (north first) and ``lon``.

    Raises
    ------
    ValueError
        If the coordinates are not a contiguous piece of the 0.25 deg grid.
    """
    lat = np.asarray(lat, dtype=np.float64)
    lon = np.asarray(lon, dtype=np.float64)
    if lat.size == 0 or lon.size == 0:
        raise ValueError("empty latitude or longitude axis")
    if lat.size > 1 and lat[0] < lat[-1]:
        raise ValueError("latitude runs south to north; expected north first")
    row0 = int(round((90.0 - RES / 2 - lat[0]) / RES))
    col0 = int(round((lon[0] - (-180.0 + RES / 2)) / RES))
    try:
        region = Region(row0, row0 + lat.size, col0, col0 + lon.size)
    except ValueError as exc:
        raise ValueError(f"coordinates are not on the 0.25 deg grid ({exc})") from None
    if not (check_axis(lat, region.lat) and check_axis(lon, region.lon)):
        step_lat = float(np.median(np.abs(np.diff(lat)))) if lat.size > 1 else float("nan")
        step_lon = float(np.median(np.abs(np.diff(lon)))) if lon.size > 1 else float("nan")
        raise ValueError(
            f"coordinates are not on the 0.25 deg grid (lat step {step_lat:g}, lon step {step_lon:g}, "
            f"first cell {lat[0]:g},{lon[0]:g})"
        )
    return region
