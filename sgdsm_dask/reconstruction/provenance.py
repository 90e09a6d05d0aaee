"""What a reconstruction came from (:class:`Provenance`), and the keys that identify it.

The keys live here only: :data:`Provenance.FINGERPRINT` (a result store is
resumed only by the same request), :data:`Provenance.APPEND` (what
``--append`` must keep) and :func:`export_identity` (two exports' daily
files are interchangeable only if these agree).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any, ClassVar

from .. import __version__
from ..io import outputs


@dataclass(frozen=True)
class Provenance:
    """The checkpoint, staged cube and tiling of a result store; stored as JSON in its ``provenance`` attribute."""

    checkpoint: str
    checkpoint_sha256: str
    model_config: dict[str, Any]
    normalisation: dict[str, Any]
    staged: str
    staged_fingerprint: str
    time_chunk: int
    space_chunk: int
    overlap: int
    days: int
    sgdsm_version: str = __version__
    uncertainty: bool = True  # sm_uncertainty and the gap depths written beside sm
    prior_days: int | None = None  # the 'anomaly' network's prior: each pixel's mean over the first prior_days days
    # drawn when a store is created, kept when it is resumed or appended to (export folders tell stores by it)
    store_id: str | None = None

    #: The request's identity: a store is resumed only by the same request.
    FINGERPRINT: ClassVar[tuple[str, ...]] = (
        "checkpoint_sha256",
        "staged_fingerprint",
        "time_chunk",
        "space_chunk",
        "overlap",
        "days",
        "uncertainty",
        "prior_days",
    )
    #: Keys of :data:`FINGERPRINT` added later, left out of it while None: older stores keep their fingerprint.
    LATER: ClassVar[tuple[str, ...]] = ("prior_days",)
    #: What ``--append`` must find unchanged in the store.
    APPEND: ClassVar[tuple[str, ...]] = (
        "checkpoint_sha256",
        "time_chunk",
        "space_chunk",
        "overlap",
        "uncertainty",
        "prior_days",
    )
    #: What makes two exports' files interchangeable, beside the staged cube's region and band.
    IDENTITY: ClassVar[tuple[str, ...]] = ("store_id", "checkpoint_sha256", "overlap", "time_chunk", "space_chunk")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), sort_keys=True)

    def fingerprint(self) -> str:
        d = self.as_dict()
        return outputs.fingerprint({k: d[k] for k in self.FINGERPRINT if k not in self.LATER or d[k] is not None})

    def attrs(self) -> dict[str, str]:
        """The result store's attributes that record it."""
        return {"provenance": self.to_json(), "reconstruct_fingerprint": self.fingerprint()}

    def with_store_id(self, kept: Mapping[str, Any] | None) -> Provenance:
        """This provenance with the ``store_id`` of ``kept`` (a store resumed), or a new one (``None``: created)."""
        return replace(self, store_id=kept.get("store_id") if kept is not None else uuid.uuid4().hex)

    def changed_for_append(self, old: Mapping[str, Any]) -> tuple[str, Any, Any] | None:
        """The first key of :data:`APPEND` whose value in ``old`` (a store's provenance) differs: key, was, now."""
        d = self.as_dict()
        return next(((k, old.get(k), d[k]) for k in self.APPEND if old.get(k) != d[k]), None)


def stored(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """The provenance a result store's attributes hold, as written (``{}`` for none)."""
    return json.loads(attrs.get("provenance", "{}"))


def export_identity(export_provenance: Mapping[str, Any]) -> dict[str, Any]:
    """What makes two exports' files interchangeable: the same result store, checkpoint, tiling and place.

    ``export_provenance`` is an export folder's provenance (its manifest's,
    or :func:`sgdsm_dask.export.manifest.export_provenance`): the
    reconstruction's provenance and the staged cube's attributes. The days
    are left out, so that an export after ``reconstruct --append`` keeps the
    files of the days it already had; the ``store_id`` is in, so that a store
    rebuilt (``--overwrite``, or from another staged cube) is another
    reconstruction.
    """
    rec = export_provenance.get("reconstruction") or {}
    staged = export_provenance.get("staged") or {}
    return {**{k: rec.get(k) for k in Provenance.IDENTITY}, "region": staged.get("region"), "band": staged.get("band")}
