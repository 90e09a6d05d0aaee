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

from .config import RunConfig, RunExport, RunReconstruct, RunStage
from .grid import Region
from .pipeline import pipeline, progress_bar
from .plots import claim_png, reconstruction_quicklook, stage_quicklook
from .synth import SynthRequest, write_archive

DEMO_REGION = Region.from_bounds(-20.0, -36.0, 52.0, 60.0)
DEMO_START = dt.date(2015, 4, 1)


def demo_config(out_dir: Path) -> RunConfig:
    """The demo's run: its archive in ``out_dir`` staged, reconstructed and exported afresh, as ``sgdsm run`` does."""
    archive = out_dir / "archive"
    return RunConfig(
        stage=RunStage(
            lprm=str(archive / "lprm"),
            imerg=str(archive / "imerg"),
            out=str(out_dir / "staged.zarr"),
            region=DEMO_REGION.to_text(),
            overwrite=True,
        ),
        reconstruct=RunReconstruct(out=str(out_dir / "reconstructed.zarr"), overwrite=True),
        export=RunExport(out=str(out_dir / "daily"), overwrite=True),  # the rebuilt reconstruction's files
    )


def run_demo(out_dir: Path, client: Any, days: int = 30) -> dict[str, str]:
    """Run the demo into ``out_dir``; returns what was written where."""
    pictures = out_dir / "quicklook.png", out_dir / "reconstruction.png"
    for picture in pictures:  # a file of the user's at these names is kept (the stores are claimed as they open)
        claim_png(picture, "folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    archive = out_dir / "archive"
    req = SynthRequest(str(archive), DEMO_START, days, DEMO_REGION, seed=2015)
    with progress_bar(days, "synth") as bar:
        write_archive(req, client, progress=bar.update)
    config = demo_config(out_dir)
    pipeline(config, client)
    store, result, truth = config.stage.out, config.reconstruct.out, str(archive / "truth.zarr")
    png = stage_quicklook(store, pictures[0], truth=truth)
    after = reconstruction_quicklook(store, result, pictures[1], truth=truth)
    return {
        "archive": str(archive),
        "staged cube": store,
        "reconstruction": result,
        "daily files": str(config.export.out),
        "picture (staged)": str(png),
        "picture (before/after)": str(after),
    }
