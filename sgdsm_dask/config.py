"""Configuration models (pydantic, ``extra="forbid"``) and YAML loading.

Only this module and the command line know YAML; the library takes these
models or plain arguments.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .errors import ConfigError
from .grid import DEFAULT_OVERLAP, PATCH

Band = Literal["c1", "c2", "x"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def iso_date(value: object) -> object:
    """A date field's value as a date: ``YYYY-MM-DD`` text, or a ``ValueError`` that quotes it.

    Run files are read with dates left as text (:func:`load_yaml`), so that
    ``2015-02-30`` or ``yesterday`` is named with its field, not a traceback
    from the YAML parser or pydantic's "input is too short".
    """
    if value is None or isinstance(value, dt.date):
        return value
    text = str(value).strip()
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        why = f": {exc}" if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text) else ""
        raise ValueError(f"{value!r} is not a date (YYYY-MM-DD){why}") from None


class SensorPeriod(Strict):
    """One sensor used for a span of days (both ends included)."""

    sensor: Literal["AMSR-E", "WindSat", "AMSR2"]
    start: dt.date
    end: dt.date | None = None  # open-ended: still flying

    _dates = field_validator("start", "end", mode="before")(iso_date)

    @model_validator(mode="after")
    def _ordered(self) -> SensorPeriod:
        if self.end is not None and self.end < self.start:
            raise ValueError(f"{self.sensor}: end {self.end} before start {self.start}")
        return self


#: The paper's timeline (sect. 2.1): WindSat only bridges AMSR-E and AMSR2.
PAPER_TIMELINE: tuple[SensorPeriod, ...] = (
    SensorPeriod(sensor="AMSR-E", start=dt.date(2002, 6, 19), end=dt.date(2011, 10, 4)),
    SensorPeriod(sensor="WindSat", start=dt.date(2011, 10, 5), end=dt.date(2012, 7, 2)),
    SensorPeriod(sensor="AMSR2", start=dt.date(2012, 7, 3), end=None),
)


class SensorTimeline(Strict):
    """Which sensor supplies soil moisture on which day."""

    periods: tuple[SensorPeriod, ...] = PAPER_TIMELINE

    @model_validator(mode="after")
    def _no_overlap(self) -> SensorTimeline:
        ps = sorted(self.periods, key=lambda p: p.start)
        for a, b in zip(ps, ps[1:], strict=False):
            if a.end is None or a.end >= b.start:
                raise ValueError(f"sensor periods overlap: {a.sensor} and {b.sensor}")
        return self

    def sensor_on(self, day: dt.date) -> str | None:
        for p in self.periods:
            if p.start <= day and (p.end is None or day <= p.end):
                return p.sensor
        return None


class StageConfig(Strict):
    """What ``sgdsm stage`` builds."""

    band: Band = "c1"
    timeline: SensorTimeline = Field(default_factory=SensorTimeline)
    time_chunk: int = Field(8, ge=1, le=366)
    space_chunk: int = Field(360, ge=PATCH)
    on_error: Literal["raise", "skip"] = "raise"

    @model_validator(mode="after")
    def _patch_multiple(self) -> StageConfig:
        whole_patches(self.space_chunk)
        return self


def whole_patches(space_chunk: int | None) -> None:
    """A ``ValueError`` unless a spatial chunk is whole patches (None: a default that is)."""
    if space_chunk is not None and space_chunk % PATCH:
        raise ValueError(f"space_chunk {space_chunk} must be a multiple of the {PATCH}-cell patch")


def invalid(where: str | Path, exc: ValueError) -> ConfigError:
    """One line for a pydantic validation error: ``where: field: rule; field: rule``."""
    return ConfigError(f"{where}: {rules(exc)}")


def rules(exc: Exception) -> str:
    """A validation error as ``field: rule; field: rule`` on one line (pydantic's own text spans several)."""
    errors = getattr(exc, "errors", None)
    if errors is None:  # a plain ValueError
        return str(exc)
    parts = []
    for e in errors():
        loc = ".".join(str(x) for x in e["loc"])
        msg = e["msg"].removeprefix("Value error, ")  # our own rule's text says it all
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts)


def _loader() -> type:
    """YAML's safe loader with dates kept as text: the models parse them, and name a bad one with its field.

    PyYAML itself turns ``2015-02-30`` into a ``ValueError`` with neither
    the file nor the field.
    """
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_constructor("tag:yaml.org,2002:timestamp", yaml.SafeLoader.construct_yaml_str)
    return Loader


def load_yaml(path: str | Path) -> dict:
    """Read a YAML mapping, with a clear error for a missing or malformed file."""
    import yaml

    p = Path(path)
    try:
        data = yaml.load(p.read_text(), Loader=_loader())  # noqa: S506 - a SafeLoader
    except FileNotFoundError:
        raise ConfigError(f"{p}: configuration file not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: expected a mapping at the top level")
    return data


class RunStage(StageConfig):
    """The ``stage`` section of a ``sgdsm run`` file: :class:`StageConfig`, its rules included, and the inputs."""

    out: str
    lprm: str | None = None
    imerg: str | None = None
    cube: str | None = None
    start: dt.date | None = None
    end: dt.date | None = None
    region: str | None = None  # "W,S,E,N"

    _dates = field_validator("start", "end", mode="before")(iso_date)

    @field_validator("region")
    @classmethod
    def _region_parses(cls, text: str | None) -> str | None:
        from .grid import Region

        Region.parse(text)  # a ValueError here names the bad region
        return text

    overwrite: bool = False


class RunReconstruct(Strict):
    """The ``reconstruct`` section of a ``sgdsm run`` file: the options of ``sgdsm reconstruct``."""

    out: str
    checkpoint: str | None = None
    time_chunk: int = Field(8, ge=1)
    space_chunk: int | None = Field(
        None, ge=PATCH, description="cells per side of a spatial block (default: the staged cube's spatial chunk)"
    )
    overlap: int = Field(DEFAULT_OVERLAP, ge=0, le=PATCH // 2, description="cells by which patches overlap, blended")
    append: bool = False
    overwrite: bool = False

    @model_validator(mode="after")
    def _patch_multiple(self) -> RunReconstruct:
        whole_patches(self.space_chunk)
        return self


#: The training schedule's options (``sgdsm fit``, ``evaluate --fit``, :class:`RunFit`): ``train``'s keywords.
FIT_OPTIONS = ("steps", "batch", "days", "lr", "seed")


class RunFit(Strict):
    """The ``fit`` section of a ``sgdsm run`` file: learn the 'anomaly' network on the staged cube, then fill it.

    Observed pixels of the staged cube are hidden with other days' gap
    masks and the network learns to give them back (``sgdsm fit``); the
    reconstruction then uses the checkpoint written to ``out``. A rerun
    uses that checkpoint again where it was fitted on the same staged cube
    with the same options, and refuses it otherwise (unless ``overwrite``).
    """

    out: str
    steps: int = Field(200, ge=0, description="optimiser steps (0: the linear base alone)")
    batch: int = Field(8, ge=1)
    days: int = Field(20, ge=2, description="consecutive days per patch sequence")
    lr: float = Field(0.002, gt=0)
    seed: int = 0
    overwrite: bool = False


class RunExport(Strict):
    out: str
    cog: bool = False
    overwrite: bool = False  # replace an export of another reconstruction at out (never a folder of anything else)


Kind = Literal["person", "group", "institution", "position"]


def _email(value: str | None) -> str | None:
    if value is not None and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value):
        raise ValueError(f"{value!r} is not an e-mail address")
    return value


def _url(value: str | None) -> str | None:
    if value is not None and not re.fullmatch(r"https?://\S+", value):
        raise ValueError(f"{value!r} is not an http(s) URL")
    return value


class ProductMetadata(Strict):
    """Who made the daily files and on what terms: their ACDD-1.3 attributes (the ``metadata`` section of a run file).

    Only the user knows who they are: ``creator_*``, ``institution`` and
    ``publisher_*`` (the creator's unless given) are written only when
    given, and a file without them is named by a checker for what it
    lacks. The rest have defaults that are true of any export.
    """

    creator_name: str | None = Field(None, min_length=1, description="person or group who made the files")
    creator_email: str | None = None
    creator_url: str | None = None
    creator_type: Kind = "person"
    institution: str | None = Field(None, min_length=1, description="the creator's institution")
    publisher_name: str | None = Field(None, min_length=1, description="who distributes the files (default: creator)")
    publisher_email: str | None = None
    publisher_url: str | None = None
    publisher_type: Kind | None = None
    license: str = Field(
        "CC-BY-4.0 (https://creativecommons.org/licenses/by/4.0/), as the published SGD-SM 2.0 record",
        min_length=1,
    )
    naming_authority: str = Field(
        "sgdsm-dask", min_length=1, description="who assigns the files' id; reverse DNS of your institution is usual"
    )
    project: str = Field("SGD-SM 2.0 seamless daily soil moisture, reproduced with sgdsm-dask", min_length=1)
    product_version: str | None = Field(None, min_length=1, description="default: the sgdsm-dask version")
    acknowledgement: str | None = Field(None, min_length=1, description="default: the inputs' providers and method")

    _emails = field_validator("creator_email", "publisher_email")(_email)
    _urls = field_validator("creator_url", "publisher_url")(_url)

    def attrs(self) -> dict[str, str]:
        """The global attributes this sets: unset ones left out, ``publisher_*`` the creator's unless one is named."""
        d = {k: v for k, v in self.model_dump().items() if not k.startswith(("creator_", "publisher_"))}
        parts = ("name", "email", "url", "type")
        creator = {p: getattr(self, f"creator_{p}") for p in parts}
        if self.creator_name is None:
            creator["type"] = None  # the kind of no one
        creator["institution"] = self.institution if self.creator_name else None
        publisher = {p: getattr(self, f"publisher_{p}") for p in parts} if self.publisher_name else creator
        d |= {f"creator_{p}": v for p, v in creator.items()} | {f"publisher_{p}": v for p, v in publisher.items()}
        return {k: str(v) for k, v in d.items() if v is not None}


def load_metadata(path: str | Path) -> ProductMetadata:
    """A YAML file of :class:`ProductMetadata` fields (``sgdsm export --metadata``), checked with its field names."""
    try:
        return ProductMetadata(**load_yaml(path))
    except ValueError as exc:
        raise invalid(path, exc) from None


class RunConfig(Strict):
    """``sgdsm run CONFIG``: stage, reconstruct and export from one YAML file (paths relative to it)."""

    stage: RunStage
    fit: RunFit | None = None
    reconstruct: RunReconstruct
    export: RunExport | None = None
    metadata: ProductMetadata = Field(default_factory=ProductMetadata)
    cluster: str | None = None
    scheduler: str | None = None

    @model_validator(mode="after")
    def _one_checkpoint(self) -> RunConfig:
        if self.fit is not None and self.reconstruct.checkpoint is not None:
            raise ValueError("fit writes the checkpoint the reconstruction uses: give fit or reconstruct.checkpoint")
        return self


def load_run_config(path: str | Path) -> RunConfig:
    """Read a run file; relative local paths are taken relative to the file's folder."""
    data = load_yaml(path)
    try:
        cfg = RunConfig(**data)
    except ValueError as exc:
        raise invalid(path, exc) from None
    base = Path(path).resolve().parent

    def rel(p: str | None) -> str | None:
        if p is None or "://" in p or Path(p).is_absolute():
            return p
        return str(base / p)

    stage = cfg.stage.model_copy(update={k: rel(getattr(cfg.stage, k)) for k in ("out", "lprm", "imerg", "cube")})
    from .training.checkpoint import SHIPPED

    ck = cfg.reconstruct.checkpoint
    named = ck in SHIPPED and not (base / ck).exists()  # a shipped checkpoint's name, unless a file there has it
    rec = cfg.reconstruct.model_copy(update={"out": rel(cfg.reconstruct.out), "checkpoint": ck if named else rel(ck)})
    exp = cfg.export.model_copy(update={"out": rel(cfg.export.out)}) if cfg.export else None
    fit = cfg.fit.model_copy(update={"out": rel(cfg.fit.out)}) if cfg.fit else None
    return cfg.model_copy(
        update={"stage": stage, "fit": fit, "reconstruct": rec, "export": exp, "cluster": rel(cfg.cluster)}
    )
