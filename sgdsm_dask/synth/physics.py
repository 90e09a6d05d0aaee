"""Pure NumPy physics of the synthetic archive: rain, soil water, gaps.

Everything here is arrays in, arrays out, deterministic by (seed, date) and
independent of the region asked for: fields are drawn on the global grid and
cropped, so a regional archive is a window of the global one.

- Rain: a smooth Gaussian latent field per day (global 0.5 deg, ~150 km
  correlation, MA(1) in time for storm persistence), thresholded to a wet-day
  probability and scaled to a climatological mean that follows the seasonal
  ITCZ, mid-latitude storm tracks and a static wet/dry pattern; upsampled to
  IMERG's 0.1 deg.
- Soil water: a surface bucket (5 cm) that wets with infiltrating rain,
  dries by evaporation limited by temperature and moisture, drains above
  field capacity, and stops changing when frozen.
- Gaps, from the causes of real gaps: the swaths of a sun-synchronous
  descending orbit (01:30 local time), frozen ground at night, dense
  vegetation (high optical depth), and sporadic retrieval failures.
- Retrievals: the truth plus a spatially correlated error that grows with
  wetness, clipped to LPRM's 0..0.99 with patches of drop-outs and
  saturation (docs/data.md compares them with real LPRM retrievals).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import ndimage, special

from ..grid import LAT, NLAT, NLON, Region

EPOCH = dt.date(1993, 1, 1)  # LPRM scantime epoch

#: Swath widths (km) of the descending-pass sensors.
SWATH_KM = {"AMSR2": 1450.0, "AMSR-E": 1445.0, "WindSat": 1025.0}
ORBIT_MIN = 98.9  # orbital period, minutes
KM_PER_DEG = 111.2

# Gap causes written to the truth store.
OBSERVED, GAP_ORBIT, GAP_FROZEN, GAP_VEGETATION, GAP_RETRIEVAL, NOT_LAND = 0, 1, 2, 3, 4, 5
GAP_MEANINGS = "observed outside_swath frozen_ground dense_vegetation retrieval_failure not_land"


def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng([seed & 0xFFFFFFFF, *key])


def _smooth_field(seed: int, key: int, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Unit-variance smooth Gaussian field, periodic in longitude."""
    noise = _rng(seed, key).standard_normal(shape)
    f = ndimage.gaussian_filter(noise, sigma=sigma, mode=("nearest", "wrap"))
    return (f - f.mean()) / f.std()


@dataclass(frozen=True)
class StaticFields:
    """Soil and climate properties that do not change (global 0.25 deg)."""

    porosity: np.ndarray
    residual: np.ndarray
    wetness: np.ndarray  # multiplies the climatological rain
    vegetation: np.ndarray  # base optical depth
    wetland: np.ndarray  # 0..1: peat, marsh and open water in the footprint (wet, slow to drain)


@lru_cache(maxsize=2)
def static_fields(seed: int) -> StaticFields:
    """Drawn once per process and seed (0.5 s for the globe); every synth task uses them.

    The soil's range is wide, as LPRM's is: sandy desert soils whose
    retrievals sit near zero, and wetlands (more likely in wet climates) whose
    porosity and field capacity approach LPRM's ceiling, so that the spread of
    the pixels' means matches real retrievals (docs/data.md).
    """
    lat2 = np.broadcast_to(LAT[:, None], (NLAT, NLON))
    soil = _smooth_field(seed, 1, (NLAT, NLON), 8.0)
    wet = _smooth_field(seed, 2, (NLAT, NLON), 14.0)
    boreal = np.exp(-(((lat2 - 62.0) / 9.0) ** 2))  # peatlands and thaw lakes
    bog = _smooth_field(seed, 4, (NLAT, NLON), 3.0) + 0.6 * wet + 1.2 * boreal
    wetland = np.clip((bog - 0.9) / 1.4, 0.0, 1.0)
    porosity = (0.55 + 0.08 * soil + 0.5 * wetland).clip(0.30, 0.97)
    residual = (0.05 - 0.03 * soil).clip(0.005, 0.12)
    wetness = np.exp(0.7 * wet)
    veg = 0.15 + 1.1 * np.exp(-((lat2 / 12.0) ** 2)) * np.clip(0.6 + 0.5 * wet, 0, None)
    fields = StaticFields(porosity, residual, wetness.astype(np.float64), veg, wetland)
    for arr in (fields.porosity, fields.residual, fields.wetness, fields.vegetation, fields.wetland):
        arr.setflags(write=False)  # cached and shared: nobody may change them
    return fields


def day_of_year(day: dt.date) -> float:
    return float(day.timetuple().tm_yday)


def mean_rain(day: dt.date, lat: np.ndarray) -> np.ndarray:
    """Climatological rain (mm/day) by latitude: a seasonal ITCZ and storm tracks."""
    season = np.sin(2 * np.pi * (day_of_year(day) - 80.0) / 365.25)
    itcz = 7.0 * season
    return (
        7.0 * np.exp(-(((lat - itcz) / 11.0) ** 2))
        + 2.6 * np.exp(-(((np.abs(lat) - 47.0) / 12.0) ** 2)) * (1.0 - 0.3 * season * np.sign(lat))
        + 0.35
    )


def _latent(seed: int, day: dt.date) -> np.ndarray:
    """Global 0.5 deg latent rain field with MA(1) persistence from day to day."""

    def noise(d: dt.date) -> np.ndarray:
        return _smooth_field(seed, 1000 + d.toordinal(), (NLAT // 2, NLON // 2), 1.5)

    return (noise(day) + 0.8 * noise(day - dt.timedelta(days=1))) / np.sqrt(1.64)


#: Synthetic daily rain is capped here (mm/day): about the largest daily totals of tropical cyclones in
#: IMERG. The latent field's far tail is otherwise unbounded, and on a global year it passed the
#: 1825 mm that staging refuses as impossible (``readers.units.MAX_DAILY_MM``).
RAIN_CAP_MM = 600.0


def rain_fine(seed: int, day: dt.date, statics: StaticFields, rows: slice, cols: slice) -> np.ndarray:
    """Rain in mm/day at 0.1 deg on 0.5 deg blocks ``rows`` x ``cols`` (north first), at most :data:`RAIN_CAP_MM`."""
    # Upsample with a one-block margin so that a region's rain is exactly the
    # window of the global field (interpolation near the crop edge needs it).
    r0, r1 = max(rows.start - 1, 0), min(rows.stop + 1, NLAT // 2)
    c0, c1 = max(cols.start - 1, 0), min(cols.stop + 1, NLON // 2)
    lat_half = LAT.reshape(-1, 2).mean(axis=1)[r0:r1]
    wet_half = statics.wetness.reshape(NLAT // 2, 2, NLON // 2, 2).mean(axis=(1, 3))[r0:r1, c0:c1]
    z = _latent(seed, day)[r0:r1, c0:c1]
    mu = mean_rain(day, lat_half)[:, None] * wet_half
    p_wet = np.clip(mu / (mu + 5.0), 0.03, 0.75)
    thr = special.ndtri(1.0 - p_wet)
    mills = np.exp(-0.5 * thr**2) / np.sqrt(2 * np.pi) / p_wet - thr  # E[z - thr | z > thr]

    def up(a: np.ndarray) -> np.ndarray:
        return ndimage.zoom(a, 5, order=1, mode="nearest", grid_mode=True)

    # Linear interpolation is linear: up(z) - up(thr) == up(z - thr), one zoom fewer.
    excess = np.clip(up(z - thr), 0.0, None)
    fine = np.minimum(up(mu / (p_wet * mills)) * excess, RAIN_CAP_MM)
    top, left = 5 * (rows.start - r0), 5 * (cols.start - c0)
    return fine[top : top + 5 * (rows.stop - rows.start), left : left + 5 * (cols.stop - cols.start)].astype(np.float32)


def night_temperature(day: dt.date, lat: np.ndarray, seed: int) -> np.ndarray:
    """Skin temperature (K) at the 01:30 overpass, global (lat, lon)."""
    alat = np.abs(lat)[:, None]
    mean = 299.0 - 38.0 * (alat / 60.0) ** 2
    amp = 16.0 * np.clip(alat / 55.0, 0, 1.3)
    season = np.cos(2 * np.pi * (day_of_year(day) - 196.0) / 365.25) * np.sign(lat)[:, None]
    weather = 3.0 * _smooth_field(seed, 5000 + day.toordinal(), (NLAT // 4, NLON // 4), 2.0)
    weather = np.repeat(np.repeat(weather, 4, axis=0), 4, axis=1)
    return mean + amp * season + weather + 1.0  # spring thaws by 50 N in April, as real retrievals show


@dataclass
class SoilState:
    theta: np.ndarray  # volumetric soil moisture, m3/m3


class Bucket:
    """Surface soil water balance on the 0.25 deg cells of a region.

    Wetlands hold more water at field capacity and drain slowly, so their
    soil stays near saturation (and their retrievals near LPRM's ceiling).
    """

    depth_mm = 50.0
    pet_per_k = 0.1  # mm/day of potential evaporation per kelvin above -8 C at night
    pet_max = 3.5  # mm/day

    def __init__(self, statics: StaticFields, region: Region) -> None:
        self.porosity = statics.porosity[region.slices]
        self.residual = statics.residual[region.slices]
        wetland = statics.wetland[region.slices]
        self.field_capacity = (0.75 + 0.2 * wetland) * self.porosity
        self.drain_rate = 0.35 * (1.0 - 0.7 * wetland)

    def initial(self) -> SoilState:
        return SoilState(theta=0.5 * (self.residual + self.field_capacity))

    def step(self, state: SoilState, rain: np.ndarray, temperature: np.ndarray) -> SoilState:
        th = state.theta
        frozen = temperature < 273.15
        rain = np.nan_to_num(rain, nan=0.0)
        room = (self.porosity - th) * self.depth_mm
        infil = np.minimum(0.85 * rain, room)
        pet = np.clip(self.pet_per_k * (temperature + 8.0 - 273.15), 0.0, self.pet_max)  # day warmer than night
        beta = np.clip((th - self.residual) / (0.75 * self.porosity - self.residual), 0.0, 1.0)
        et = pet * beta
        drain = self.drain_rate * np.clip(th - self.field_capacity, 0.0, None) * self.depth_mm
        new = th + (infil - et - drain) / self.depth_mm
        new = np.where(frozen, th, new)
        return SoilState(theta=np.clip(new, self.residual, self.porosity))


@dataclass(frozen=True)
class Overpass:
    """Where and when a descending pass saw each cell of a region."""

    seen: np.ndarray  # bool (lat, lon)
    scantime: np.ndarray  # seconds since 1993-01-01 (0 where not seen)


def descending_swaths(day: dt.date, region: Region, sensor: str, seed: int) -> Overpass:
    """Cells inside the day's descending swaths of a sun-synchronous orbit.

    The descending node is at 01:30 local time; consecutive orbits are one
    period apart, so their tracks step westwards by 360 deg * period / day and
    the pattern drifts from day to day, leaving diamond-shaped gaps at low
    latitudes as the real daily files show.
    """
    half = SWATH_KM.get(sensor, 1450.0) / 2.0
    lat = region.lat
    lon = region.lon
    day_start_min = (day.toordinal() - EPOCH.toordinal()) * 1440.0
    phase = (_rng(seed, 7).uniform(0, ORBIT_MIN) + day_start_min) % ORBIT_MIN
    t_orbits = -phase + ORBIT_MIN * np.arange(0, int(1440 / ORBIT_MIN) + 2)  # minutes from 00 UTC
    seen = np.zeros(region.shape, dtype=bool)
    when = np.zeros(region.shape, dtype=np.float64)
    coslat = np.clip(np.cos(np.deg2rad(lat)), 0.05, None)
    for t in t_orbits:
        # Time at latitude: descending, north earlier. Local time 01:30 at the node.
        t_lat = t - lat / 360.0 * ORBIT_MIN  # minutes: a quarter orbit from pole to equator
        lon_track = (1.5 * 60.0 - t_lat) * 0.25 + 0.11 * lat  # 0.25 deg/min Earth rotation; inclination skew
        dlon = (lon[None, :] - lon_track[:, None] + 180.0) % 360.0 - 180.0
        inside = np.abs(dlon) * coslat[:, None] * KM_PER_DEG <= half
        in_day = (t_lat >= 0) & (t_lat < 1440.0)
        inside &= in_day[:, None]
        seen |= inside
        when = np.where(inside, day_start_min * 60.0 + t_lat[:, None] * 60.0, when)
    return Overpass(seen=seen, scantime=when)


#: Retrieval error (m3/m3): a smooth field of ``ERROR_CELLS`` correlation length whose standard
#: deviation grows with the soil's wetness, plus a little white noise, as LPRM's errors do.
ERROR_BASE, ERROR_WET, ERROR_WHITE = 0.04, 0.09, 0.006
ERROR_CELLS = 3.5
#: Per cell and day: the retrieval fails outright (a gap); it drops out to zero or saturates at LPRM's
#: ceiling, both in patches of a few cells (smooth field above or below a quantile).
P_FAILURE, P_DROPOUT, P_SATURATION = 0.03, 0.008, 0.03
LPRM_MAX = 0.99  # m3/m3: LPRM stores 0..99 %


def retrieval_error(seed: int, day: dt.date, region: Region) -> np.ndarray:
    """The day's unit-variance retrieval error pattern on ``region``.

    Drawn on the global grid and cropped (a region's errors are a window of
    the global ones); a Gaussian filter of sigma ``ERROR_CELLS / 2`` gives a
    correlation of exp(-1) at ``ERROR_CELLS`` cells, as the errors of the
    real retrievals (footprints of 35-60 km resampled to 0.25 deg) have.
    Independent from day to day: each day is another pass.
    """
    return _smooth_field(seed, 6000 + day.toordinal(), (NLAT, NLON), ERROR_CELLS / 2.0)[region.slices]


def observe(
    day: dt.date,
    region: Region,
    sensor: str,
    theta: np.ndarray,
    land: np.ndarray,
    temperature: np.ndarray,
    vegetation: np.ndarray,
    seed: int,
) -> tuple[np.ndarray, np.ndarray, Overpass]:
    """The retrieval a descending pass makes of ``theta`` and why each gap is there.

    Returns the retrieved soil moisture (m3/m3, NaN for no retrieval, rounded
    to whole percent as LPRM stores it), the gap cause per cell and the
    overpass. The retrieval is the truth plus a spatially correlated error
    (:func:`retrieval_error`), clipped to LPRM's range 0..0.99, with a few
    drop-outs to zero and saturations at 0.99 as the real files have; the
    truth itself stays noise-free. Every random draw is made on the global
    grid and cropped, so a region's retrievals are a window of the global ones.
    """
    rng = _rng(seed, 3, day.toordinal())
    rows, cols = region.slices
    over = descending_swaths(day, region, sensor, seed)
    cause = np.full(region.shape, OBSERVED, dtype=np.int8)
    frozen = temperature < 273.15
    veg = vegetation * (1.0 + 0.08 * rng.standard_normal((NLAT, NLON))[rows, cols])
    dense = veg > 0.8
    failure = rng.random((NLAT, NLON))[rows, cols] < P_FAILURE
    cause[failure] = GAP_RETRIEVAL
    cause[dense] = GAP_VEGETATION
    cause[frozen] = GAP_FROZEN
    cause[~over.seen] = GAP_ORBIT
    cause[~land] = NOT_LAND
    white = rng.standard_normal((NLAT, NLON))[rows, cols]
    wet = np.nan_to_num(theta, nan=0.0)
    error = (ERROR_BASE + ERROR_WET * wet) * retrieval_error(seed, day, region) + ERROR_WHITE * white
    retrieved = np.clip(theta + error, 0.0, LPRM_MAX)
    # Patches of drop-outs anywhere; saturation (standing water) only on wet soil.
    pinned = _smooth_field(seed, 7000 + day.toordinal(), (NLAT, NLON), 1.5)[rows, cols]
    retrieved = np.where(pinned > special.ndtri(1.0 - P_DROPOUT), 0.0, retrieved)
    p_sat = P_SATURATION * np.clip((wet - 0.35) / 0.3, 1e-9, 1.0)
    retrieved = np.where(pinned < special.ndtri(p_sat), LPRM_MAX, retrieved)
    retrieved = np.round(retrieved * 100.0) / 100.0
    retrieved = np.where(cause == OBSERVED, retrieved, np.nan).astype(np.float32)
    return retrieved, cause, over
