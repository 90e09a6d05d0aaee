"""``sgdsm demo``: the embedded default run on a fresh machine.

A synthetic archive over Europe and Africa (real land mask, real file
layouts), staged into a Zarr cube on the local cluster, reconstructed with
the shipped checkpoint, exported as one NetCDF file per day, and two
pictures: the staged cube, and before/after maps with a time series.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from .config import StageConfig
from .grid import Region
from .plots import reconstruction_quicklook, stage_quicklook
from .reconstruct import ReconstructRequest, reconstruct
from .staging import StageRequest, plan_days, stage
from .staging.inventory import list_files
from .synth import SynthRequest, write_archive

DEMO_REGION = Region.from_bounds(-20.0, -36.0, 52.0, 60.0)
DEMO_START = dt.date(2015, 4, 1)


def run_demo(out_dir: Path, client: Any, days: int = 30) -> dict[str, str]:
    """Run the demo into ``out_dir``; returns what was written where."""
    from tqdm.auto import tqdm

    out_dir.mkdir(parents=True, exist_ok=True)
    archive = out_dir / "archive"
    req = SynthRequest(str(archive), DEMO_START, days, DEMO_REGION, seed=2015)
    with tqdm(total=days, desc="synth", unit="day", disable=None) as bar:
        write_archive(req, client, progress=bar.update)
    config = StageConfig()
    plans = plan_days(list_files(str(archive / "lprm")), list_files(str(archive / "imerg")), config.timeline)
    store = str(out_dir / "staged.zarr")
    sreq = StageRequest(out=store, region=DEMO_REGION, config=config, plans=tuple(plans))
    with tqdm(total=days, desc="stage", unit="day", disable=None) as bar:
        stage(sreq, client, overwrite=True, progress=bar.update)
    png = stage_quicklook(store, out_dir / "quicklook.png", truth=str(archive / "truth.zarr"))
    result = str(out_dir / "reconstructed.zarr")
    rreq = ReconstructRequest(staged=store, out=result, time_chunk=config.time_chunk)
    daily = out_dir / "daily"
    with tqdm(desc="reconstruct + daily files", unit="task", disable=None) as bar:  # as sgdsm run does
        reconstruct(rreq, client, overwrite=True, progress=bar.update, export_to=str(daily))
    after = reconstruction_quicklook(store, result, out_dir / "reconstruction.png", truth=str(archive / "truth.zarr"))
    return {
        "archive": str(archive),
        "staged cube": store,
        "reconstruction": result,
        "daily files": str(daily),
        "picture (staged)": str(png),
        "picture (before/after)": str(after),
    }
