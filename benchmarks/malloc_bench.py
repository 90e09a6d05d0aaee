"""The model under a Dask nanny's allocator setting, with and without :mod:`sgdsm_dask.runtime.malloc`, in one run.

    python -m benchmarks.malloc_bench [--days 8] [--blocks 4] [--repeat 2]

Runs the same work in fresh child processes that differ only in their
allocator: the ``default`` checkpoint fills ``--blocks`` blocks of
392 x 392 cells (a 360-cell block and its halo) for ``--days`` days, one
torch thread, as one reconstruct task of a worker does.

- ``plain``: no allocator setting (glibc's dynamic thresholds), as in a
  process started by hand (the plain loop of ``benchmarks.full_record``);
- ``nanny``: ``MALLOC_TRIM_THRESHOLD_=65536``, what ``distributed``'s nanny
  sets for its worker, and ``SGDSM_MALLOC_TUNE=0`` so that sgdsm leaves it;
- ``nanny_tuned``: the nanny's setting, then :func:`sgdsm_dask.runtime.malloc.tune`
  (what every sgdsm worker does).

Each is run ``--repeat`` times, interleaved, and the best time kept.
Prints one JSON object with the seconds and ``nanny_over_tuned`` (how much
slower the untuned worker is).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

MODES = {
    "plain": {},
    "nanny": {"MALLOC_TRIM_THRESHOLD_": "65536", "SGDSM_MALLOC_TUNE": "0"},
    "nanny_tuned": {"MALLOC_TRIM_THRESHOLD_": "65536"},
}


def child(days: int, blocks: int) -> float:
    """Seconds for the filling (this process, one thread)."""
    import numpy as np
    import torch

    from sgdsm_dask.model.fill import Filler

    torch.set_num_threads(1)
    filler = Filler.from_checkpoint()  # calls malloc.tune unless SGDSM_MALLOC_TUNE=0
    rng = np.random.default_rng(0)
    n = 392
    land = np.zeros((n, n), bool)
    land[:, : n // 2] = True  # half land, as a block on a coast
    sm = np.where(rng.random((days, n, n)) < 0.4, rng.uniform(0.05, 0.45, (days, n, n)), np.nan).astype(np.float32)
    precip = rng.gamma(0.5, 4.0, (days, n, n)).astype(np.float32)
    filler.run(sm[:1], precip[:1], land)  # warm-up
    t = time.perf_counter()
    for _ in range(blocks):
        filler.run(sm, precip, land)
    return time.perf_counter() - t


def measure(days: int = 8, blocks: int = 4, repeat: int = 2) -> dict:
    base = {k: v for k, v in os.environ.items() if k not in ("MALLOC_TRIM_THRESHOLD_", "SGDSM_MALLOC_TUNE")}
    seconds: dict[str, list[float]] = {mode: [] for mode in MODES}
    for _ in range(repeat):
        for mode, env in MODES.items():
            code = f"from benchmarks.malloc_bench import child; print(child({days}, {blocks}))"
            out = subprocess.run(
                [sys.executable, "-c", code], env={**base, **env}, capture_output=True, text=True, check=True
            )
            seconds[mode].append(float(out.stdout.split()[-1]))
    best = {mode: min(s) for mode, s in seconds.items()}
    return {
        "benchmark": "malloc",
        "days": days,
        "blocks": blocks,
        "seconds_each": {mode: [round(x, 2) for x in s] for mode, s in seconds.items()},
        "seconds": {mode: round(s, 2) for mode, s in best.items()},
        "nanny_over_tuned": round(best["nanny"] / best["nanny_tuned"], 3),
        "plain_over_tuned": round(best["plain"] / best["nanny_tuned"], 3),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--days", type=int, default=8)
    p.add_argument("--blocks", type=int, default=4)
    p.add_argument("--repeat", type=int, default=2)
    args = p.parse_args()
    print(json.dumps(measure(args.days, args.blocks, args.repeat), indent=1))


if __name__ == "__main__":
    main()
