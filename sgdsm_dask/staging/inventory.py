"""Which file serves which day: list the archive, apply the sensor timeline.

Missing days are recorded as missing, duplicate days are an error that
names both files (or a recorded skip with ``on_error="skip"``). A request
that leaves no day with a file of its sensor is an error that says why,
not an empty cube.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass

from ..config import SensorTimeline
from ..errors import InputError
from ..paths import filesystem
from ..readers.imerg import parse_imerg_name
from ..readers.lprm import parse_lprm_name

NC_SUFFIXES = (".nc", ".nc4", ".h5", ".hdf5", ".HDF5")


@dataclass(frozen=True)
class DayPlan:
    """The sources of one day of the cube."""

    date: dt.date
    sensor: str | None  # the timeline's sensor for the day (None: no sensor flies)
    lprm: str | None  # file, or None if the archive lacks the day
    imerg: str | None
    problem: str | None = None  # a reason to skip the day (duplicates), recorded in the store


def list_files(path: str | None) -> list[str]:
    """Files under a folder (recursively), matching a glob, or the file itself; fsspec URLs too."""
    if path is None:
        return []
    fs, root = filesystem(path)
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]

    def unstrip(p: str) -> str:
        return p if protocol in ("file", "local") else f"{protocol}://{p}"

    if any(c in root for c in "*?["):
        found = fs.glob(root)
    elif fs.isdir(root):
        found = [p for p in fs.find(root) if p.endswith(NC_SUFFIXES)]
    elif fs.exists(root):
        found = [root]
    else:
        raise InputError(path, "no such file or folder")
    return sorted(unstrip(p) for p in found if not p.rsplit("/", 1)[-1].startswith("."))


def plan_days(
    lprm_files: list[str],
    imerg_files: list[str],
    timeline: SensorTimeline,
    start: dt.date | None = None,
    end: dt.date | None = None,
    *,
    on_error: str = "raise",
    lprm_root: str = "",
) -> list[DayPlan]:
    """One :class:`DayPlan` per day from ``start`` to ``end``.

    The range defaults to the span of the LPRM files. Only descending-pass
    files of the sensor the timeline names for a day are used; files of other
    sensors are ignored for that day. If that leaves no day with a file (all
    files outside their sensor's period, or outside ``start``..``end``), an
    InputError naming ``lprm_root`` says so: staging would write a cube of
    missing days and report success.
    """
    by_day: dict[tuple[dt.date, str], list[str]] = defaultdict(list)
    ascending = []
    for f in lprm_files:
        name = parse_lprm_name(f)
        if name is None:
            continue
        if name.orbit_pass != "D":
            ascending.append(f)
            continue
        by_day[(name.date, name.sensor)].append(f)
    if not by_day:
        extra = (
            f" ({len(ascending)} ascending-pass files ignored: the method uses the descending pass)"
            if ascending
            else ""
        )
        raise InputError(lprm_root or "lprm", f"no LPRM L3 descending daily file found{extra}")
    rain: dict[dt.date, list[str]] = defaultdict(list)
    for f in imerg_files:
        d = parse_imerg_name(f)
        if d is not None:
            rain[d].append(f)

    first = min(d for d, _ in by_day)
    last = max(d for d, _ in by_day)
    start = start or first
    end = end or last
    if end < start:
        raise InputError(lprm_root or "lprm", f"end {end} is before start {start}")

    plans = []
    day = start
    while day <= end:
        sensor = timeline.sensor_on(day)
        files = sorted(by_day.get((day, sensor), [])) if sensor else []
        problem = None
        if len(files) > 1:
            problem = f"duplicate date {day}: {files[0]} and {files[1]}"
        rfiles = sorted(rain.get(day, []))
        if len(rfiles) > 1:
            problem = f"duplicate IMERG date {day}: {rfiles[0]} and {rfiles[1]}"
        if problem and on_error != "skip":
            raise InputError(files[1] if len(files) > 1 else rfiles[1], problem)
        plans.append(
            DayPlan(
                date=day,
                sensor=sensor,
                lprm=files[0] if files and not problem else None,
                imerg=rfiles[0] if rfiles and not problem else None,
                problem=problem,
            )
        )
        day += dt.timedelta(days=1)
    if not any(p.lprm or p.problem for p in plans):
        raise InputError(lprm_root or "lprm", no_usable_day(by_day, timeline, start, end))
    return plans


def no_usable_day(
    by_day: dict[tuple[dt.date, str], list[str]], timeline: SensorTimeline, start: dt.date, end: dt.date
) -> str:
    """Why no day from ``start`` to ``end`` has a file: the files' dates, or their sensors' periods in the timeline."""
    n = sum(len(files) for files in by_day.values())
    days = sorted(d for d, _ in by_day)
    inside = {key: files for key, files in by_day.items() if start <= key[0] <= end}
    if not inside:
        return f"no usable day: none of the {n} LPRM files ({days[0]}..{days[-1]}) is dated {start}..{end}"
    counts = Counter(sensor for (_, sensor), files in inside.items() for _ in files)
    parts = []
    for sensor, k in sorted(counts.items()):
        dated = sorted(d for d, s in inside if s == sensor)
        spans = [f"{p.start}..{p.end}" if p.end else f"from {p.start}" for p in timeline.periods if p.sensor == sensor]
        where = (
            f"{'all ' * (k > 1)}outside the {sensor} timeline {', '.join(spans)}" if spans else "not in the timeline"
        )
        parts.append(f"{k} {sensor} file{'s' if k > 1 else ''} ({dated[0]}..{dated[-1]}), {where}")
    return f"no usable day {start}..{end}: " + "; ".join(parts) + " (each day uses its timeline sensor's file only)"
