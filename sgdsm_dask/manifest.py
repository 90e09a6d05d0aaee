"""Shim: the manifest moved to :mod:`sgdsm_dask.export.manifest` (kept while commands/ import it from here)."""

from .export.folder import recorded
from .export.manifest import (
    FORMAT,
    MANIFEST,
    MARKER,
    MARKER_FORMAT,
    SAFE_NAME,
    SUMS,
    SUMS_LINE,
    claim,
    export_provenance,
    file_entry,
    identity,
    owner,
    previous,
    remove,
    verify,
    write,
)

__all__ = [
    "FORMAT",
    "MANIFEST",
    "MARKER",
    "MARKER_FORMAT",
    "SAFE_NAME",
    "SUMS",
    "SUMS_LINE",
    "claim",
    "export_provenance",
    "file_entry",
    "identity",
    "owner",
    "previous",
    "recorded",
    "remove",
    "verify",
    "write",
]
