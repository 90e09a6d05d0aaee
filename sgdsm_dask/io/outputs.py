"""Where a store may be written: one rule for every Zarr store sgdsm creates.

A store is written only if its path is absent, an empty folder, or a store
of ours of the same kind: the same request (resumed), an unfinished
template (written again), or another request when the user asked for
``--overwrite``. Anything else is refused before a byte is written, with
one line naming the path, whatever the flags: a folder of the user's (the
archive, the inputs, the working directory), an export folder, a Zarr
store another program wrote, a staged cube given as a result store.

A store records what it is in two attributes of its root group: the kind
(``sgdsm_store``: ``staged``, ``result`` or ``truth``), written with the
template, and its request's fingerprint, written only once the whole
template is in place. A store with the kind but no fingerprint is a
template whose writing stopped (a full disk, a kill): it holds nothing
yet, so it is written again.

:class:`Resumable` is the pattern every resumable store follows on top of
this rule (staged cubes, result stores): claim the path, refuse another
request's store, write the template or resume by the store's markers.
:func:`fingerprint` is the one way a request's identity is computed.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ..errors import InputError
from ..paths import filesystem, is_url, local_or_url

if TYPE_CHECKING:
    import xarray as xr

KIND = "sgdsm_store"
#: The fingerprint attribute of each kind (stores from before ``sgdsm_store`` are known by it).
FINGERPRINT = {"staged": "stage_fingerprint", "result": "reconstruct_fingerprint", "truth": "synth_fingerprint"}
NAMES = {"staged": "staged cube", "result": "reconstruction store", "truth": "synthetic truth store"}

Claim = Literal["create", "resume", "other"]


def claim_file(path: str, ours: Callable[[str], bool], what: str, option: str) -> None:
    """One line unless the single file ``path`` is absent or ``ours(path)`` (checked before anything is written).

    The rule of the files sgdsm writes over (a table, a picture, a
    checkpoint with ``--overwrite``), as :func:`claim` is for stores: a
    folder or a file of the user's at that name is kept. ``what`` names what
    would be ours ("a table sgdsm evaluate wrote"), ``option`` the option to
    change.
    """
    from ..paths import exists

    if not exists(str(path)):
        return
    fs, key = filesystem(str(path))
    if fs.isdir(key) or not ours(str(path)):
        raise InputError(str(path), f"exists and is not {what}; give another {option} or move it (nothing was written)")


def fingerprint(key: Any) -> str:
    """The identity of a request: 16 hex digits of the SHA-256 of ``key`` as JSON with sorted keys."""
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


def entries(path: str) -> list[str] | None:
    """The names directly under ``path``; None where nothing is there, ``[name]`` for a file."""
    local = local_or_url(path)
    if not is_url(local):
        if not os.path.lexists(local):
            return None
        return sorted(os.listdir(local)) if os.path.isdir(local) else [os.path.basename(local)]
    fs, root = filesystem(local)
    if not fs.exists(root):
        return None
    if not fs.isdir(root):
        return [root.rsplit("/", 1)[-1]]
    return sorted(p.rstrip("/").rsplit("/", 1)[-1] for p in fs.ls(root, detail=False))


def kind_of(attrs: Mapping[str, Any]) -> str | None:
    """The kind of sgdsm store whose root attributes are ``attrs``; None for a store sgdsm did not write."""
    if attrs.get(KIND) in FINGERPRINT:
        return str(attrs[KIND])
    return next((kind for kind, key in FINGERPRINT.items() if key in attrs), None)


def claim(path: str, kind: str, fingerprint: str, *, overwrite: bool = False) -> Claim:
    """Whether ``path`` may hold the ``kind`` store of the request ``fingerprint``, and how.

    Returns ``"create"`` (absent, empty, an unfinished template of ours, or
    ours with ``overwrite``), ``"resume"`` (ours, the same request) or
    ``"other"`` (ours, another request: the caller says what to do).
    Raises :class:`InputError` for anything else; nothing is touched.
    """
    found = entries(path)
    if not found:
        return "create"
    attrs = _root_attrs(path)
    if attrs is None:
        shown = ", ".join(repr(n) for n in found[:3]) + (", ..." if len(found) > 3 else "")
        raise InputError(
            path,
            f"exists and is not a store of sgdsm (it holds {len(found)} entries: {shown}); nothing was written "
            "and nothing in it was touched: choose another --out, or empty it yourself",
        )
    have = kind_of(attrs)
    if have is None:
        raise InputError(
            path,
            "is a Zarr store that sgdsm did not write; nothing in it was touched: choose another --out",
        )
    if have != kind:
        raise InputError(
            path,
            f"is a {NAMES[have]} of sgdsm, not a {NAMES[kind]}; nothing in it was touched "
            "(--overwrite replaces a store of the same kind only): choose another --out",
        )
    if FINGERPRINT[kind] not in attrs or overwrite:
        return "create"
    return "resume" if attrs[FINGERPRINT[kind]] == fingerprint else "other"


def _root_attrs(path: str) -> dict[str, Any] | None:
    """The root group's attributes of the Zarr store at ``path``; None if it is not one."""
    import zarr

    try:
        return dict(zarr.open_group(local_or_url(path), mode="r", use_consolidated=False).attrs)
    except (FileNotFoundError, KeyError, ValueError, TypeError, OSError):
        return None
    except Exception as exc:  # noqa: BLE001 - zarr's own errors for a folder that is no group
        if exc.__class__.__module__.startswith("zarr"):
            return None
        raise


@dataclass(frozen=True)
class Resumable:
    """A store claimed for one request (:func:`claim`): written from its template, or resumed by its markers."""

    path: str
    kind: str
    state: Claim

    @classmethod
    def claim(cls, path: str, kind: str, fingerprint: str, *, overwrite: bool = False) -> Resumable:
        """:func:`claim` ``path``; nothing is written yet."""
        return cls(path, kind, claim(path, kind, fingerprint, overwrite=overwrite))

    def refuse_other(self, why: str) -> None:
        """One line naming the store when it holds another request's ``kind`` store; ``why`` says what to do."""
        if self.state == "other":
            raise InputError(self.path, why)

    def create(self, template: Callable[[], xr.Dataset | xr.DataTree]) -> bool:
        """Write the store from ``template()`` if it is to be created (its fingerprint last); whether it was."""
        from . import zarr_store

        if self.state != "create":
            return False
        zarr_store.write_template(self.path, template(), self.kind)
        return True

    def markers(self, name: str, chunk: int, n: int, fill: Any) -> np.ndarray:
        """The commit markers ``name`` (1-D, ``chunk`` long chunks); a chunk torn by a kill reads as ``fill``."""
        from . import zarr_store

        return zarr_store.read_chunks_safely(self.path, name, chunk, n, fill)
