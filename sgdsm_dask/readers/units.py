"""One units layer for every reader: soil moisture to m3/m3, precipitation to mm/day, values checked.

Readers read what a file says about its units and hand it here, with the
values; what comes back is in the staged cube's units, or an
:class:`~sgdsm_dask.errors.InputError` naming the file, the variable and what
is wrong. A value is staged only when its units are understood and it is
physically possible, so no unit mistake (metres read as millimetres, a
fraction divided by 100 again) reaches the cube silently.

Units strings are parsed, not matched: ``m3 m-3``, ``m3/m3``, ``m^3 m^-3``
and ``m**3 m**-3`` are the same unit, and so are ``kg m-2 s-1`` and
``kg/m2/s``. A kilogram of water over a square metre is a millimetre.

Precipitation comes as a rate (``mm/day``, ``mm/h``, ``kg m-2 s-1``, ``m/s``)
or as an amount (``mm``, ``m``, ``kg m-2``). In a cube, whose steps are days,
an amount is the day's total (ERA5's ``tp`` in m, summed over the day, is
``1000 x`` mm/day); an amount that is a time mean (``cell_methods`` ``time:
mean``, the mean of hourly totals) is refused, as is an amount in a cube whose
steps are not days.

``inf`` is refused everywhere: it is neither a measurement nor a fill value
but the trace of an overflow or a division by zero, and masking it would
pass a broken file off as a gap. NaN is "no value", as in every CF reader.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ..errors import InputError

#: The greatest rainfall ever measured in 24 hours, 1825 mm at Foc-Foc, La Reunion, 7-8 January 1966
#: (WMO World Weather and Climate Extremes Archive). No grid cell's day can hold more.
MAX_DAILY_MM = 1825.0
#: Negative precipitation down to this (mm/day) is packing noise (ERA5 has it) and staged as 0; it is
#: below the 0.1 mm a rain gauge resolves. Anything more negative is refused.
NEGATIVE_NOISE_MM = 0.1
#: Soil moisture this far outside 0..1 m3/m3 is rounding and is clipped; further out is refused.
SM_TOLERANCE = 1e-4

_PERCENT = {"percent", "%", "pct", "vol%", "%vol", "vol.%", "percentvolume", "volumepercent", "volumetricpercent"}
_FRACTION = {"", "1", "fraction", "volumefraction", "volumetricfraction", "dimensionless", "-"}

# symbol -> (factor to SI, length exponent, time exponent, is a mass); a kg of water is 1e-3 m3
_SYMBOLS = {
    "m": (1.0, 1, 0, False),
    "cm": (1e-2, 1, 0, False),
    "mm": (1e-3, 1, 0, False),
    "kg": (1e-3, 3, 0, True),
    "g": (1e-6, 3, 0, True),
    "s": (1.0, 0, 1, False),
    "sec": (1.0, 0, 1, False),
    "min": (60.0, 0, 1, False),
    "h": (3600.0, 0, 1, False),
    "hr": (3600.0, 0, 1, False),
    "hour": (3600.0, 0, 1, False),
    "d": (86400.0, 0, 1, False),
    "day": (86400.0, 0, 1, False),
}
_PLURALS = {"hours": "hour", "hrs": "hr", "days": "day", "secs": "sec", "mins": "min"}
_TOKEN = re.compile(r"([a-z]+)(-?\d+)?")


@dataclass(frozen=True)
class Unit:
    """A parsed unit: ``factor`` times metres to the ``length`` per second to the ``-time``."""

    factor: float
    length: int
    time: int
    mass: bool  # written with kg or g (water per area, or per mass: not a volume)


def _key(units: str) -> str:
    return re.sub(r"\s+", "", str(units).strip().lower())


def parse(units: str) -> Unit | None:
    """The unit of a CF-style units string, or ``None`` when it is not one this layer knows."""
    text = str(units).strip().lower().replace("**", "").replace("^", "")
    text = re.sub(r"(?<=[a-z0-9])[.*\u00b7](?=[a-z])", " ", text).replace(" per ", "/")
    factor, length, time, mass = 1.0, 0, 0, False
    for k, part in enumerate(text.split("/")):
        tokens = part.split()
        if not tokens:
            return None
        sign = -1 if k > 0 else 1  # kg/m2/s: every part after a slash divides
        for token in tokens:
            if token == "1":
                continue
            pairs = _TOKEN.findall(token)
            if "".join(s + e for s, e in pairs) != token:
                return None
            for letters, exp in pairs:
                symbols = _symbols(letters)
                if symbols is None:
                    return None
                for i, symbol in enumerate(symbols):  # in "mmday-1" the exponent is the last symbol's
                    f, ln, tm, ms = _SYMBOLS[symbol]
                    e = sign * (int(exp) if exp and i == len(symbols) - 1 else 1)
                    factor *= f**e
                    length += ln * e
                    time += tm * e
                    mass |= ms
    return Unit(factor, length, time, mass)


def _symbols(letters: str) -> list[str] | None:
    """``letters`` as one known symbol, or two written together (``mmday``, ``kgm``)."""
    one = _PLURALS.get(letters, letters)
    if one in _SYMBOLS:
        return [one]
    for i in range(1, len(letters)):
        head, tail = letters[:i], _PLURALS.get(letters[i:], letters[i:])
        if head in _SYMBOLS and tail in _SYMBOLS:
            return [head, tail]
    return None


def sm_divisor(path: str, var: str, units: str | None) -> float:
    """What stored soil moisture is divided by to be m3/m3: 1 (a volume fraction) or 100 (percent).

    A missing units attribute is read as a fraction; the values then decide
    (:func:`check_sm` refuses percent under it).
    """
    key = _key(units or "")
    if "sat" in key:
        raise InputError(
            path,
            f"{var} has units {units!r}, a degree of saturation, not volumetric soil moisture: "
            "convert it to m3 m-3 (times the porosity) first",
        )
    if key in _PERCENT:
        return 100.0
    if key in _FRACTION:
        return 1.0
    unit = parse(units or "")
    if unit is not None and unit.mass:
        raise InputError(
            path,
            f"{var} has units {units!r}, water per area or per mass of soil, not per volume: "
            "convert it to m3 m-3 (divide kg m-2 by the layer depth in mm) first",
        )
    if unit is None or unit.length != 0 or unit.time != 0:
        raise InputError(
            path, f"{var} has units {units!r}; expected volumetric soil moisture: m3 m-3 (or 1) or percent"
        )
    return _tidy(1.0 / unit.factor)


def _tidy(factor: float) -> float:
    """``factor`` without the rounding of its parts (mm/day is exactly 1, not 0.9999999999999999)."""
    return float(f"{factor:.12g}")


def precip_factor(
    path: str,
    var: str,
    units: str | None,
    *,
    amounts: bool = True,
    cell_methods: str = "",
    step_days: float = 1.0,
) -> float:
    """What stored precipitation is multiplied by to be mm/day.

    Parameters
    ----------
    amounts
        Whether an amount (``mm``, ``m``, ``kg m-2``) may stand for the day's
        total; daily-file readers whose products are rates pass ``False``.
    cell_methods
        The variable's CF ``cell_methods``: an amount that is a time mean is refused.
    step_days
        The typical step of the cube's time axis in days; an amount needs 1.
    """
    expected = "a rate (mm/day, mm/h, kg m-2 s-1) or a daily total (mm, m, kg m-2)" if amounts else "mm/day or mm/hr"
    if units is None or not str(units).strip():
        raise InputError(path, f"{var} has no units attribute; say what its values are: {expected}")
    unit = parse(units)
    if unit is not None and unit.length == 1 and unit.time == -1:
        return _tidy(unit.factor * 1000.0 * 86400.0)  # m/s -> mm/day
    if unit is not None and unit.length == 1 and unit.time == 0 and amounts:
        if re.search(r"time\s*:\s*mean", cell_methods or ""):
            raise InputError(
                path,
                f"{var} is an amount ({units!r}) averaged over time (cell_methods {cell_methods!r}), "
                "not the day's total: give daily totals or a rate",
            )
        if step_days != 1.0:
            raise InputError(
                path, f"{var} is an amount ({units!r}) but the cube's steps are {step_days:g} days: give daily totals"
            )
        return _tidy(unit.factor * 1000.0)  # m per day -> mm/day
    raise InputError(path, f"{var} has units {units!r}; expected {expected}")


def check_no_inf(path: str, var: str, values: np.ndarray) -> None:
    """Refuse ``inf`` and ``-inf``: an overflow or a division by zero, never a measurement."""
    n = int(np.count_nonzero(np.isinf(values)))
    if n:
        raise InputError(path, f"{var} holds {n} infinite values: neither a measurement nor the fill value")


def check_sm(path: str, var: str, units: str | None, stored: np.ndarray, divisor: float) -> np.ndarray:
    """Stored soil moisture as m3/m3 (float32, NaN kept), after checking it fits its units.

    ``stored`` holds the values as the file has them (scaled, fill as NaN).
    Refused: infinite values; fractions labelled percent (every value <= 1,
    most of them not 0); percent labelled as fractions (values above 1);
    anything outside 0..1 m3/m3 once converted, beyond :data:`SM_TOLERANCE`.
    """
    check_no_inf(path, var, stored)
    valid = stored[np.isfinite(stored)]
    if divisor == 100.0:
        if valid.size > 100 and float(valid.max()) <= 1.0 and np.count_nonzero(valid) > 0.5 * valid.size:
            raise InputError(
                path, f"{var} says units={units} but every value is <= 1: the values look like fractions (m3/m3)"
            )
    elif valid.size and float(valid.max()) > 1.0 + SM_TOLERANCE:
        raise InputError(
            path, f"{var} has values up to {float(valid.max()):g} but units={units!r}: the values look like percent"
        )
    # Divide in float32, like reading the file and dividing by 100 does, so the
    # staged values are exactly the stored ones / 100.
    out = np.asarray(stored, dtype=np.float32)
    if divisor != 1.0:
        out = out / np.float32(divisor)
    conv = out[np.isfinite(out)]
    bad = int(np.count_nonzero((conv < -SM_TOLERANCE) | (conv > 1.0 + SM_TOLERANCE)))
    if bad:
        raise InputError(
            path,
            f"{var} has {bad} values outside 0..1 m3/m3 read as {units or 'm3 m-3'} "
            f"({float(conv.min()):g} to {float(conv.max()):g} m3/m3): not soil moisture",
        )
    if conv.size and (conv.min() < 0 or conv.max() > 1):
        out = np.clip(out, np.float32(0), np.float32(1))  # NaN stays NaN
    return out


def check_precip(path: str, var: str, mm_day: np.ndarray, *, period_hours: float = 24.0) -> np.ndarray:
    """Precipitation in mm/day (float32, NaN kept) after checking it is physically possible.

    ``period_hours`` is the time each value covers (24 for a daily file, 0.5
    for a half-hourly one): no cell can get more over it than the world's
    greatest 24-hour rainfall, :data:`MAX_DAILY_MM`. Refused: infinite values,
    negatives beyond :data:`NEGATIVE_NOISE_MM` (smaller ones become 0) and
    amounts above that record.
    """
    check_no_inf(path, var, mm_day)
    out = np.asarray(mm_day, dtype=np.float32)
    valid = out[np.isfinite(out)]
    neg = int(np.count_nonzero(valid < -NEGATIVE_NOISE_MM))
    if neg:
        raise InputError(path, f"{var} has {neg} negative precipitation values (down to {float(valid.min()):g} mm/day)")
    amount = valid * (period_hours / 24.0)
    high = int(np.count_nonzero(amount > MAX_DAILY_MM))
    if high:
        over = "a day" if period_hours == 24.0 else f"{period_hours:g} hours"
        raise InputError(
            path,
            f"{var} has {high} values above {MAX_DAILY_MM:g} mm in {over} (up to {float(amount.max()):g} mm), "
            "more than the greatest rainfall ever measured in 24 hours: wrong units or an undeclared fill value",
        )
    if valid.size and valid.min() < 0:
        out = np.where(out < 0, np.float32(0), out)
    return out
