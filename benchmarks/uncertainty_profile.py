"""Where sigma's time goes: one reconstruction + export with and without it, in one process, under cProfile.

    python -m benchmarks.uncertainty_profile --store STAGED [--days 60] [--region W,S,E,N]

Without ``--store`` it writes and stages a synthetic archive of ``--days``
days over ``--region`` (``benchmarks.reconstruct_bench``'s default region,
its ``--quick`` length) into a temporary folder. Each way is run twice and
the second run is profiled (the first imports and loads the model), with
torch on one thread, as on each worker of ``benchmarks.reconstruct_bench``
(torch's own threads on a shared machine made one run ten times slower).
Prints the two times and the cumulative CPU seconds of the parts that sigma
adds or makes larger, with sigma, without and the difference: the
calibration (``ensure_sigma``: the window fills, reading the windows, the
fit), the gap maps of the chunks (``gap_values``, of it the distance
transform), the pixel scale ``sm_std`` (``_scale_var``), the chunks' writes
to the result store (``write_chunk``) and the export (``export_days``, of it
the NetCDF writes).
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import pstats
import tempfile
import time
from pathlib import Path

PARTS = {  # label: (the end of the function's file name, its name)
    "calibration (ensure_sigma)": ("reconstruction/calibration.py", "ensure_sigma"),
    "  of it, the window fills": ("uncertainty/calibration.py", "fill"),
    "  of it, reading the windows": ("reconstruction/calibration.py", "cut"),
    "  of it, the fit": ("uncertainty/calibration.py", "fit_windows"),
    "gap maps (gap_values)": ("reconstruction/task.py", "gap_values"),
    "  of it, distance transform": ("uncertainty/gaps.py", "distance_to_observed"),
    "pixel scale sm_std (_scale_var)": ("reconstruction/store.py", "_scale_var"),
    "chunk writes (write_chunk)": ("reconstruction/store.py", "write_chunk"),
    "export (export_days)": ("export/days.py", "export_days"),
    "  of it, NetCDF writes": ("export/netcdf.py", "write_netcdf"),
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


def _cumulative(stats: pstats.Stats, where: tuple[str, str]) -> float:
    path, name = where
    return sum(
        v[3]
        for (file, _, func), v in stats.stats.items()  # type: ignore[attr-defined]
        if func == name and file.replace("\\", "/").endswith(path)
    )


def profile(staged: str, tmp: Path) -> dict[str, float]:
    """Seconds of the second run each way, and CPU seconds of each part with sigma, without and the difference."""
    import torch

    from sgdsm_dask.reconstruction import ReconstructRequest, reconstruct

    torch.set_num_threads(1)
    out: dict[str, float] = {}
    stats = {}
    for uncertainty in (False, True):
        for k in range(2):
            path = str(tmp / f"r_{uncertainty}_{k}.zarr")
            prof = cProfile.Profile(time.process_time)
            t = time.perf_counter()
            prof.enable()
            reconstruct(ReconstructRequest(staged, path, uncertainty=uncertainty), None, export_to=path + ".daily")
            prof.disable()
            seconds = time.perf_counter() - t
        out["with sigma (s)" if uncertainty else "without (s)"] = seconds
        stats[uncertainty] = pstats.Stats(prof)
    for label, where in PARTS.items():
        on, off = _cumulative(stats[True], where), _cumulative(stats[False], where)
        out[label] = on
        out[label + " without"] = off
        out[label + " added"] = on - off
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
    print(f"{'':34s} {'with':>7s} {'without':>7s} {'added':>7s}   (CPU s; the first two lines: wall s)")
    for label in ("without (s)", "with sigma (s)"):
        print(f"{label:34s} {out[label]:7.2f}")
    for label in PARTS:
        print(f"{label:34s} {out[label]:7.2f} {out[label + ' without']:7.2f} {out[label + ' added']:7.2f}")
    return out


if __name__ == "__main__":
    main()
