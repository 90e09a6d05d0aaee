"""One run from a run configuration: stage, reconstruct and export on one Dask client.

``sgdsm run``, ``sgdsm demo``, the benchmarks and the notebooks all go
through :func:`pipeline`; ``sgdsm stage`` and the pipeline build their
stage request with :func:`build_stage_request`. Progress goes to a bar
factory (``progress``: called with ``total``, ``desc`` and ``unit``, it
returns a context manager with an ``update(n)`` method, as ``tqdm`` does)
and the warnings a user should see go to ``note``, one line each.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any, Protocol

from .config import FIT_OPTIONS, ProductMetadata, RunConfig, RunStage, StageConfig
from .errors import SgdsmError
from .grid import Region


class Bar(Protocol):
    def update(self, n: int) -> Any: ...


BarFactory = Callable[..., AbstractContextManager[Bar]]
Note = Callable[[str], None]


def progress_bar(total: int | None = None, desc: str = "", unit: str = "day") -> Any:
    """A tqdm bar on stderr, silent when stderr is not a terminal (the command line's bars)."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, disable=None, file=sys.stderr)


def set_total(bar: Any, n: int) -> None:
    """Give a bar opened without a total its total once it is known (tqdm then shows an ETA); others ignore it."""
    if hasattr(bar, "total") and hasattr(bar, "refresh"):
        bar.total = n
        bar.refresh()


class _Silent:
    def update(self, n: int) -> None:
        pass


def _no_bar(total: int | None = None, desc: str = "", unit: str = "day") -> AbstractContextManager[Bar]:
    return nullcontext(_Silent())


def stderr_note(line: str) -> None:
    """Print a warning or note for the user on stderr."""
    print(line, file=sys.stderr)


def build_stage_request(
    out: str,
    config: StageConfig | None = None,
    *,
    lprm: str | None = None,
    imerg: str | None = None,
    cube: str | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    region: Region | None = None,
):
    """The :class:`~sgdsm_dask.staging.StageRequest` for an archive of daily files or a CF cube.

    Parameters
    ----------
    out
        The staged store to write.
    config
        Band, chunks, timeline and error policy (default: :class:`StageConfig`'s defaults).
    lprm, imerg
        LPRM L3 and IMERG daily files: folder, glob or fsspec URL (IMERG optional).
    cube
        Instead of ``lprm``/``imerg``: a CF NetCDF/Zarr cube with ``sm`` [and ``precip``].
    start, end
        Days to stage from the archive (default: the span of the LPRM files).
    region
        The box to stage (default: the whole grid, or the cube's own region).
    """
    from .readers.cube import inspect_cube
    from .staging import StageRequest, plan_days
    from .staging.inventory import list_files

    config = config or StageConfig()
    if cube:
        if lprm or imerg:
            raise SgdsmError("give either --cube or --lprm/--imerg, not both")
        info = inspect_cube(cube)
        return StageRequest(out=out, region=region if region is not None else info.region, config=config, cube=info)
    if not lprm:
        raise SgdsmError("stage needs --lprm PATH (LPRM files) or --cube FILE_OR_STORE")
    plans = plan_days(
        list_files(lprm),
        list_files(imerg) if imerg else [],
        config.timeline,
        start,
        end,
        on_error=config.on_error,
        lprm_root=lprm,
    )
    return StageRequest(out=out, region=region or Region(), config=config, plans=tuple(plans))


def stage_request(st: RunStage):
    """The stage request of a run file's ``stage`` section."""
    settings = StageConfig.model_validate(st.model_dump(include=set(StageConfig.model_fields)))  # timeline too
    region = Region.parse(st.region) if st.region else None
    return build_stage_request(
        st.out, settings, lprm=st.lprm, imerg=st.imerg, cube=st.cube, start=st.start, end=st.end, region=region
    )


def stage_step(
    req: Any,
    client: Any,
    *,
    overwrite: bool = False,
    progress: BarFactory | None = progress_bar,
    note: Note = stderr_note,
) -> dict[str, Any]:
    """Stage with a progress bar; the missing rain and each skipped day are noted."""
    from .staging import stage

    if req.source.warning():
        note(req.source.warning())
    with (progress or _no_bar)(total=req.dates().size, desc="stage", unit="day") as bar:
        summary = stage(req, client, overwrite=overwrite, progress=bar.update)
    for day, why in summary.pop("skip_reasons").items():
        note(f"skipped {day}: {why}")
    return summary


def reconstruct_step(
    req: Any,
    client: Any,
    *,
    overwrite: bool = False,
    append: bool = False,
    export_to: str | None = None,
    cog: bool = False,
    progress: BarFactory | None = progress_bar,
    note: Note = stderr_note,
    metadata: ProductMetadata | None = None,
    replace_export: bool = False,
) -> dict[str, Any]:
    """Reconstruct (and export, overlapped) with a progress bar; a GPU left idle and a cube without rain are noted.

    ``metadata`` names the daily files' creator and licence (the run file's ``metadata`` section);
    ``replace_export``: an export of another reconstruction at ``export_to`` is replaced (``export.overwrite``).
    """
    import torch

    from .reconstruction import gpu_resources, reconstruct

    if client is not None and torch.cuda.is_available() and not gpu_resources(client):
        note(
            "note: this machine has a GPU but no worker declares one, so the model runs on the CPU; "
            "pass --cluster cluster/local-gpu.yaml to run it on the GPU (docs: README, GPU machines)"
        )
    with (progress or _no_bar)(total=None, desc="reconstruct", unit="task") as bar:
        summary = reconstruct(
            req,
            client,
            overwrite=overwrite,
            append=append,
            progress=bar.update,
            export_to=export_to,
            cog=cog,
            total=lambda n: set_total(bar, n),
            metadata=metadata,
            replace_export=replace_export,
        )
    if summary["days_with_precip"] == 0:
        note(
            f"warning: {req.staged} has no precipitation; the model ran with rain marked unavailable "
            "(not as dry days), which it was trained for, but fills are less sharp after storms"
        )
    return summary


def fit_step(cfg: Any, staged: str, *, progress: BarFactory | None = progress_bar, note: Note = stderr_note) -> str:
    """Fit the 'anomaly' network on ``staged`` into ``cfg.out`` (a run file's ``fit``); its SHA-256.

    A checkpoint already at ``cfg.out`` is used as it is when it was
    fitted on this staged cube (its fingerprint) with the same options, as
    a rerun of the same run file finds it; otherwise it is one line, unless
    ``cfg.overwrite``.
    """
    from .errors import ConfigError
    from .training.anomaly import fit, staged_fingerprints
    from .training.checkpoint import exists, load

    options = {k: getattr(cfg, k) for k in FIT_OPTIONS}
    if exists(cfg.out) and not cfg.overwrite:  # a path or a URL
        ck = load(cfg.out)
        same = ck.provenance.get("staged") == staged_fingerprints([staged]) and all(
            (ck.training or {}).get(k) == v for k, v in options.items()
        )
        if not same:
            raise ConfigError(
                f"{cfg.out} exists and was not fitted on {staged} with these fit options; "
                "remove it, choose another fit: out, or set fit: overwrite: true"
            )
        note(f"{cfg.out}: fitted on this staged cube with these options by an earlier run; used as it is")
        return ck.sha256
    with (progress or _no_bar)(total=cfg.steps, desc="fit", unit="step") as bar:
        return fit([staged], cfg.out, overwrite=cfg.overwrite, log=lambda step, loss: bar.update(10), **options)


@dataclass(frozen=True)
class PipelineSummary:
    """What one run did: the steps' summaries and the seconds each took."""

    stage: dict[str, Any]
    reconstruct: dict[str, Any]
    exported: bool
    seconds: dict[str, float] = field(default_factory=dict)

    def outputs(self) -> dict[str, str]:
        """What was written where, as ``sgdsm run`` prints it."""
        out = {"staged": self.stage["store"], "reconstruction": self.reconstruct["store"]}
        if self.exported:
            out["daily files"] = self.reconstruct["out"]
        return out


@dataclass(frozen=True)
class Run:
    """The requests of one run, built (and so checked) before any cluster starts."""

    config: RunConfig
    stage: Any  # a StageRequest
    reconstruct: Any  # a ReconstructRequest

    @classmethod
    def plan(cls, config: RunConfig) -> Run:
        from .reconstruction import ReconstructRequest

        sreq = stage_request(config.stage)
        rc = config.reconstruct
        rreq = ReconstructRequest(
            staged=config.stage.out,
            out=rc.out,
            checkpoint=config.fit.out if config.fit else rc.checkpoint,
            time_chunk=rc.time_chunk,
            space_chunk=rc.space_chunk,  # None: the staged cube's spatial chunk
            overlap=rc.overlap,
        )
        return cls(config=config, stage=sreq, reconstruct=rreq)

    def refuse_outputs(self) -> None:
        """One line, before anything is written, for an output that no step of this run could take.

        The export folder of the user's (or inside a store), and a fit
        checkpoint that would replace a file of theirs; the stores are
        claimed as each step opens them, the export folder's
        reconstruction is compared once it exists.
        """
        from .export import folder
        from .training.checkpoint import claim_out

        ex, fit = self.config.export, self.config.fit
        if ex is not None:
            folder.precheck(ex.out)  # with export.overwrite too: only an export of sgdsm is replaced
            folder.apart(folder.location(ex.out), {"--out": self.reconstruct.out, "--store": self.reconstruct.staged})
        if fit is not None:
            claim_out(fit.out, fit.overwrite)

    def execute(
        self, client: Any, *, progress: BarFactory | None = progress_bar, note: Note = stderr_note
    ) -> PipelineSummary:
        """Stage, then reconstruct with the daily files written while later time chunks are reconstructed."""
        st, rc, ex = self.config.stage, self.config.reconstruct, self.config.export
        self.refuse_outputs()  # before staging writes anything
        t = time.perf_counter()
        staged = stage_step(self.stage, client, overwrite=st.overwrite, progress=progress, note=note)
        seconds = {"stage": time.perf_counter() - t}
        if self.config.fit is not None:  # learn on the staged cube first; the reconstruction uses what it writes
            t = time.perf_counter()
            fit_step(self.config.fit, self.reconstruct.staged, progress=progress, note=note)
            seconds["fit"] = time.perf_counter() - t
        t = time.perf_counter()
        result = reconstruct_step(
            self.reconstruct,
            client,
            overwrite=rc.overwrite,
            append=rc.append,
            export_to=ex.out if ex else None,
            cog=ex.cog if ex else False,
            progress=progress,
            note=note,
            metadata=self.config.metadata,
            replace_export=ex.overwrite if ex else False,
        )
        seconds["reconstruct"] = time.perf_counter() - t
        return PipelineSummary(stage=staged, reconstruct=result, exported=ex is not None, seconds=seconds)


def pipeline(
    config: RunConfig, client: Any, *, progress: BarFactory | None = progress_bar, note: Note = stderr_note
) -> PipelineSummary:
    """Stage, reconstruct and export as ``config`` says, on ``client`` (``None``: in this process).

    Each step resumes where an earlier run stopped; ``overwrite`` in a
    section starts that step afresh. ``progress`` makes the bars (``None``:
    none) and ``note`` takes the warnings, one line each.
    """
    return Run.plan(config).execute(client, progress=progress, note=note)
