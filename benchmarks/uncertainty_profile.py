"""Where sigma's time goes: one reconstruction + export with and without it, in one process, under cProfile.

    python -m benchmarks.uncertainty_profile --store STAGED [--days 60] [--region W,S,E,N]

Without ``--store`` it writes and stages a synthetic archive of ``--days``
days over ``--region`` (``benchmarks.reconstruct_bench``'s default region,
its ``--quick`` length) into a temporary folder. Each way is run twice and
the second run is profiled (the first imports and loads the model). Prints
the two times and, for the run with sigma, the cumulative seconds of the
parts that sigma adds: the calibration (``ensure_sigma``), the gap maps of
the chunks (``gap_values``, of it the distance transform) and the pixel
scale ``sm_std`` (``_scale_var``).
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import pstats
import tempfile
import time
from pathlib import Path

PARTS = {
    "calibration (ensure_sigma)": "ensure_sigma",
    "gap maps (gap_values)": "gap_values",
    "  of it, distance transform": "distance_to_observed",
    "pixel scale sm_std (_scale_var)": "_scale_var",
}


def _staged(tmp: Path, days: int, region_text: str) -> str:
    from sgdsm_dask.config import StageConfig
    from sgdsm_dask.grid import Region
    from sgdsm_dask.pipeline import build_stage_request
    from sgdsm_dask.runtime import connect
    from sgdsm_dask.staging import stage
    from sgdsm_dask.synth import SynthRequest, write_archive

    start, region = dt.date(2015, 4, 1), Region.parse(region_text)
    staged = str(tmp / "staged.zarr")
    with connect(n_workers=2) as client:
        write_archive(SynthRequest(str(tmp / "archive"), start, days, region, seed=3), client)
        req = build_stage_request(
            staged,
            StageConfig(time_chunk=8, space_chunk=360),
            lprm=str(tmp / "archive" / "lprm"),
            imerg=str(tmp / "archive" / "imerg"),
            end=start + dt.timedelta(days=days - 1),
            region=region,
        )
        stage(req, client)
    return staged


def _cumulative(stats: pstats.Stats, name: str) -> float:
    return sum(v[3] for (_, _, func), v in stats.stats.items() if func == name)  # type: ignore[attr-defined]


def profile(staged: str, tmp: Path) -> dict[str, float]:
    """Seconds of the second run each way, and of the parts sigma adds in the run with it."""
    from sgdsm_dask.reconstruction import ReconstructRequest, reconstruct

    out: dict[str, float] = {}
    for uncertainty in (False, True):
        for k in range(2):
            path = str(tmp / f"r_{uncertainty}_{k}.zarr")
            prof = cProfile.Profile()
            t = time.perf_counter()
            prof.enable()
            reconstruct(ReconstructRequest(staged, path, uncertainty=uncertainty), None, export_to=path + ".daily")
            prof.disable()
            seconds = time.perf_counter() - t
        out["with sigma (s)" if uncertainty else "without (s)"] = seconds
        if uncertainty:
            stats = pstats.Stats(prof)
            for label, name in PARTS.items():
                out[label] = _cumulative(stats, name)
    return out


def main(argv: list[str] | None = None) -> dict[str, float]:
    from . import reconstruct_bench

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", default=None, help="a staged cube (default: a synthetic one, written here)")
    ap.add_argument("--days", type=int, default=60, help="days of the synthetic cube")
    ap.add_argument("--region", default=reconstruct_bench.REGION, help="W,S,E,N of the synthetic cube")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        staged = args.store or _staged(Path(tmp), args.days, args.region)
        out = profile(staged, Path(tmp))
    for label, seconds in out.items():
        print(f"{label:34s} {seconds:7.2f}")
    return out


if __name__ == "__main__":
    main()
