"""Checkpoints: weights, configuration, normalisation, provenance and training state.

A checkpoint is one ``torch.save`` file holding only tensors and plain
Python values, so it loads with ``torch.load(weights_only=True)`` (no code
runs from the file). Beside it, ``NAME.sha256`` records its hash; loading
refuses a file whose hash differs. The checkpoint shipped with the package
has its hash recorded in the code as well (:data:`SHIPPED`).

A checkpoint may lie on an object store (an fsspec URL, ``s3://bucket/x.pt``):
it is written as every object of sgdsm is (:func:`~sgdsm_dask.io.files.atomic_write`:
a local file, uploaded under a temporary key, copied to its name), its
``.sha256`` beside it, and loaded by fetching both whole; the hash is
checked on the bytes fetched, the same as on a local file's.

Whatever a loaded file holds is checked once, in :func:`load`, before any
run uses it: the expected entries, tensors of the configuration's names,
shapes and dtypes, and finite values. Each fault is one line naming the
file; a diverged training's NaN weights would otherwise be written out as
reconstructed pixels.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import math
import os
import re
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import torch

from .. import __version__
from ..config import rules
from ..errors import InputError
from ..io.files import atomic_write, sha256
from ..model.anomaly import AnomalyConfig, AnomalyNet
from ..model.network import LSTMCNN, ModelConfig, Normalisation
from ..paths import filesystem, is_url, join, local_or_url

FORMAT = "sgdsm-checkpoint-1"

#: The shipped checkpoints and their SHA-256 (see docs/model-card.md).
SHIPPED: dict[str, str] = {
    "default": "4ce20680ba09e15816d029a71b2288cc0305dc0e8e0db4bd9300e98bac9b6e14",
    # the 'anomaly' network's linear base, fitted on both real halves and a synthetic archive with rain
    "anomaly": "fe41f84cf8d28bae03a7a6b2e4649b72b22a80de15a6c230c4148d6407f55357",
}


def shipped_path(name: str = "default") -> Path:
    """Path of a checkpoint shipped in ``sgdsm_dask/weights``."""
    return Path(str(resources.files("sgdsm_dask") / "weights" / f"{name}.pt"))


def resolve(checkpoint: str | os.PathLike | None) -> str:
    """The file ``checkpoint`` means: a path, or the name of a shipped one (:data:`SHIPPED`) where no file has it.

    None is the shipped ``default``; ``--checkpoint anomaly`` is the shipped
    'anomaly' network unless a file named ``anomaly`` is where it was typed.
    """
    if checkpoint is None:
        return str(shipped_path("default"))
    text = str(checkpoint)
    return str(shipped_path(text)) if text in SHIPPED and not Path(text).exists() else text


@dataclass
class Checkpoint:
    """What a checkpoint holds, loaded."""

    config: ModelConfig | AnomalyConfig
    normalisation: Normalisation
    state_dict: dict[str, torch.Tensor]
    provenance: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] | None = None
    sha256: str = ""

    def check_fits(self) -> None:
        """An InputError unless the weights have exactly the tensors (names, shapes, dtypes) the network has.

        Checked at load time on the ``meta`` device (shapes only, no memory),
        so a checkpoint of another configuration is refused before a run
        writes anything. A dtype is checked too: ``load_state_dict`` would
        cast integer or half-precision weights silently.
        """
        with torch.device("meta"):
            want = {k: (tuple(v.shape), v.dtype) for k, v in network(self.config).state_dict().items()}
        have = {k: (tuple(v.shape), v.dtype) for k, v in self.state_dict.items()}
        if want == have:
            return
        missing, extra = sorted(want.keys() - have.keys()), sorted(have.keys() - want.keys())
        both = sorted(want.keys() & have.keys())
        shape = next((k for k in both if want[k][0] != have[k][0]), None)
        dtype = next((k for k in both if want[k][1] != have[k][1]), None)
        why = (
            f"missing {missing[0]!r}"
            if missing
            else f"unexpected {extra[0]!r}"
            if extra
            else f"{shape!r} is {list(have[shape][0])}, the configuration needs {list(want[shape][0])}"
            if shape
            else f"{dtype!r} is {_dtype(have[dtype][1])}, the configuration needs {_dtype(want[dtype][1])}"
        )
        raise InputError(self._where(), f"weights do not fit configuration {self.config.name!r} ({why})")

    def check_finite(self) -> None:
        """An InputError naming the first tensor that holds NaN or infinity (what a diverged training writes)."""
        bad = [k for k, v in self.state_dict.items() if v.is_floating_point() and not torch.isfinite(v).all()]
        if not bad:
            return
        v = self.state_dict[bad[0]]
        n_nan, n_inf = int(torch.isnan(v).sum()), int(torch.isinf(v).sum())
        what = " and ".join(f"{n} {w}" for n, w in ((n_nan, "NaN"), (n_inf, "infinite")) if n)
        more = f" (and {len(bad) - 1} more tensors)" if len(bad) > 1 else ""
        raise InputError(
            self._where(),
            f"weights are not finite: {bad[0]!r} holds {what} values{more}, as a diverged training writes; "
            "use an earlier checkpoint or train again with a lower --lr",
        )

    def _where(self) -> str:
        return str(self.provenance.get("path", "checkpoint"))

    def model(self, device: str | torch.device = "cpu") -> LSTMCNN | AnomalyNet:
        self.check_fits()  # one line naming the file, not torch's list of mismatched keys
        net = network(self.config)
        net.load_state_dict(self.state_dict)
        return net.to(device).eval()


def network(config: ModelConfig | AnomalyConfig) -> LSTMCNN | AnomalyNet:
    """The untrained network of a configuration: the ``anomaly`` kind, or the paper's LSTM-CNN."""
    return AnomalyNet(config) if isinstance(config, AnomalyConfig) else LSTMCNN(config)


def save(path: str | os.PathLike, ckpt: Checkpoint) -> str:
    """Write ``ckpt`` atomically (temporary name, then rename) and its ``.sha256``; return the hash.

    ``path`` may be an fsspec URL: the file is then uploaded whole
    (:func:`~sgdsm_dask.io.files.atomic_write`), then its ``.sha256``.
    Weights that are not finite are refused: :func:`load` would refuse the file.
    """
    path = _location(path)
    Checkpoint(ckpt.config, ckpt.normalisation, ckpt.state_dict, {"path": str(path)}).check_finite()
    if isinstance(path, Path):
        path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT,
        "config": ckpt.config.model_dump(),
        "normalisation": ckpt.normalisation.model_dump(),
        "state_dict": {k: v.detach().cpu() for k, v in ckpt.state_dict.items()},
        "provenance": ckpt.provenance,
        "training": ckpt.training,
    }
    hashed: dict[str, str] = {}

    def write(tmp: Path) -> None:
        torch.save(payload, tmp)
        hashed["digest"] = sha256(tmp)  # before the rename: the hash file follows the checkpoint at once

    atomic_write(path, write)
    digest = hashed["digest"]
    atomic_write(_sidecar(path), lambda tmp: tmp.write_text(f"{digest}  {_name(path)}\n"))
    return digest


def _location(path: str | os.PathLike) -> Path | str:
    """A local checkpoint as a :class:`~pathlib.Path`, one on an object store as its URL (``Path`` would spoil it)."""
    text = local_or_url(str(path))
    return text if is_url(text) else Path(text)


def _name(path: Path | str) -> str:
    return path.name if isinstance(path, Path) else path.rstrip("/").rsplit("/", 1)[-1]


def _sidecar(path: Path | str) -> Path | str:
    """The ``.sha256`` file beside the checkpoint ``path`` (a path or a URL)."""
    if isinstance(path, Path):
        return path.with_name(path.name + ".sha256")
    return join(path.rstrip("/").rsplit("/", 1)[0], _name(path) + ".sha256")


def _fetch(url: str) -> bytes | None:
    """The bytes of the object ``url``; None where there is none; one line naming it where it cannot be read."""
    fs, key = filesystem(url)
    try:
        return bytes(fs.cat_file(key))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise InputError(url, f"cannot be read ({exc.__class__.__name__}: {exc})") from None


@contextmanager
def working_copy(path: str | os.PathLike) -> Iterator[tuple[str, Callable[[], None]]]:
    """A local file to train into for the checkpoint ``path``, and ``publish()``, which puts it at ``path``.

    For a local ``path`` that is ``path`` itself and ``publish`` does
    nothing. For an fsspec URL it is a file in a temporary folder, which
    starts as the checkpoint (and its ``.sha256``) already at the URL, so a
    training resumes from it; ``publish`` uploads both, each whole
    (:func:`~sgdsm_dask.io.files.atomic_write`), the checkpoint first, as
    :func:`save` writes them. The folder is removed at the end.
    """
    where = _location(path)
    if isinstance(where, Path):
        yield str(where), lambda: None
        return
    here = Path(tempfile.mkdtemp(prefix="sgdsm-checkpoint-"))
    local = here / _name(where)
    try:
        for remote, mine in ((where, local), (_sidecar(where), _sidecar(local))):
            data = _fetch(str(remote))
            if data is not None:
                Path(mine).write_bytes(data)

        def publish() -> None:
            if local.exists():
                for remote, mine in ((where, local), (_sidecar(where), _sidecar(local))):
                    atomic_write(remote, lambda tmp, mine=mine: shutil.copyfile(mine, tmp))

        yield str(local), publish
    finally:
        shutil.rmtree(here, ignore_errors=True)


def exists(path: str | os.PathLike) -> bool:
    """Whether a checkpoint file is at ``path`` (a path or an fsspec URL), as ``--overwrite`` needs to know."""
    where = _location(path)
    if isinstance(where, Path):
        return where.exists()
    fs, key = filesystem(where)
    return bool(fs.isfile(key))


def claim_out(path: str | os.PathLike, overwrite: bool) -> None:
    """Refuse, before any training, a checkpoint ``--out`` whose writing would replace a file of the user's.

    With ``overwrite``, anything at ``path`` must be a checkpoint of sgdsm
    (it loads as one; its hash is not checked, so a damaged one of ours may
    be replaced). Where no checkpoint is at ``path``, a ``.sha256`` beside
    it is not one sgdsm wrote (it writes the two together), and the save
    would replace it. Without ``overwrite`` an existing ``path`` is the
    caller's to judge (``fit`` refuses it, ``train`` resumes it).
    """
    from ..io.outputs import claim_file
    from ..paths import exists as anything_at

    def ours(at: str) -> bool:
        try:
            load(at, check_hash=False)
        except InputError:
            return False
        return True

    if overwrite:
        claim_file(str(path), ours, "a checkpoint of sgdsm", "--out")
    where = _location(path)
    side = str(_sidecar(where))
    if not exists(where) and anything_at(side):
        raise InputError(
            side,
            f"exists beside no checkpoint {_name(where)}, so sgdsm did not write it; move it or choose another "
            "--out (nothing was written)",
        )


#: A line of a ``.sha256`` file: the hash, then optionally the file's name (``sha256sum``: two spaces, or `` *``).
_HASH_LINE = re.compile(r"([0-9a-fA-F]{64})(?:\s+\*?(\S.*))?")


def recorded_hash(path: Path | str) -> str | None:
    """The SHA-256 recorded for ``path`` in lower case: the shipped one, else its ``.sha256`` file's; None if neither.

    ``path``: a local file, or a checkpoint's URL (its ``.sha256`` is fetched).
    """
    path = _location(path)
    if not isinstance(path, Path):
        data = _fetch(str(_sidecar(path)))
        return None if data is None else _sidecar_hash(str(_sidecar(path)), path, data)
    for name, digest in SHIPPED.items():
        if digest and path.resolve() == shipped_path(name).resolve():
            return digest
    side = _sidecar(path)
    if side.exists():
        try:
            data = side.read_bytes()
        except OSError as exc:
            raise InputError(str(side), f"cannot be read ({exc.strerror or exc})") from None
        return _sidecar_hash(str(side), path, data)
    return None


def _sidecar_hash(side: str, path: Path | str, data: bytes) -> str:
    """The hash in a ``.sha256`` file (its bytes ``data``), as ``sha256sum`` writes it (or the bare hash), any case
    and blank lines."""
    name, side_name = _name(path), side.rstrip("/").rsplit("/", 1)[-1]
    try:
        lines = [ln.strip() for ln in data.decode().splitlines() if ln.strip()]
    except UnicodeDecodeError:
        lines = ["?"]
    hashes = [m for m in map(_HASH_LINE.fullmatch, lines) if m]
    found = hashes if len(hashes) < 2 else [m for m in hashes if m.group(2) and Path(m.group(2)).name == name]
    if len(found) != 1:  # several files' hashes (a SHA256SUMS list) need exactly one line naming this file
        what = (
            "is empty" if not lines else f"holds no single hash line for {name}" if hashes else "is not a SHA-256 line"
        )
        raise InputError(
            side,
            f"{what}; expected {name}'s SHA-256 (64 hex digits, optionally then the name), "
            f"as `sha256sum {name} > {side_name}` writes it",
        )
    return found[0].group(1).lower()


def load(path: str | os.PathLike | None = None, *, check_hash: bool = True) -> Checkpoint:
    """Load a checkpoint (:func:`resolve`: a path, an fsspec URL or a shipped name), checking its recorded hash and
    contents.

    A checkpoint by URL is fetched whole, once; its hash is that of the bytes
    fetched, and those bytes are what is loaded.
    """
    p = _location(resolve(path))
    if isinstance(p, Path):
        if not p.is_file():
            raise InputError(str(p), "checkpoint not found")
        digest, source = sha256(p), p
    else:
        data = _fetch(p)
        if data is None:
            raise InputError(p, "checkpoint not found")
        digest, source = hashlib.sha256(data).hexdigest(), io.BytesIO(data)
    if check_hash:
        want = recorded_hash(p)
        if want is None:
            raise InputError(str(p), f"no recorded SHA-256 ({_name(p)}.sha256 is missing); refusing an unverified file")
        if want != digest:
            raise InputError(str(p), f"SHA-256 {digest[:12]}... differs from the recorded {want[:12]}...")
    ck = _checked(p, _unpickle(p, source))
    ck.sha256 = digest
    return ck


def _unpickle(p: Path | str, source: Path | io.BytesIO) -> Any:
    """``torch.load(weights_only=True)`` of ``source`` (the file ``p``, or its bytes): tensors and plain values only;
    any other file is one line naming ``p``."""
    try:
        with warnings.catch_warnings():  # torch warns of newer pickle protocols with advice meant for its developers
            warnings.simplefilter("ignore")
            return torch.load(source, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure is a bad file
        raise InputError(str(p), f"not a loadable checkpoint{_why(exc)}") from None


def _checked(p: Path | str, raw: Any) -> Checkpoint:
    """The checkpoint in ``raw`` (what the file unpickled to), once every part of it is what a run needs."""
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise InputError(str(p), f"not an sgdsm checkpoint (format {FORMAT} expected)")
    for key in ("config", "normalisation", "state_dict"):
        if not isinstance(raw.get(key), dict):
            got = "is missing" if key not in raw else f"is a {type(raw[key]).__name__}, not a mapping"
            raise InputError(str(p), f"not a usable sgdsm checkpoint: its {key!r} {got}")
    try:
        kind = raw["config"].get("kind")
        config = AnomalyConfig(**raw["config"]) if kind == "anomaly" else ModelConfig(**raw["config"])
        norm = Normalisation(**raw["normalisation"])
    except (TypeError, ValueError) as exc:
        raise InputError(str(p), f"configuration in the checkpoint is invalid ({rules(exc)})") from None
    odd = [name for name, v in norm.model_dump().items() if isinstance(v, float) and not math.isfinite(v)]
    if odd:
        raise InputError(str(p), f"normalisation {odd[0]!r} is {getattr(norm, odd[0])}, not a finite number")
    weights = raw["state_dict"]
    for k, v in weights.items():
        if not isinstance(k, str):
            raise InputError(str(p), f"'state_dict' has the key {k!r} ({type(k).__name__}); tensor names are strings")
        if not isinstance(v, torch.Tensor):
            raise InputError(str(p), f"'state_dict' entry {k!r} is a {type(v).__name__}, not a tensor")
    training = raw.get("training")
    if training is not None and not isinstance(training, dict):
        raise InputError(str(p), f"not a usable sgdsm checkpoint: its 'training' is a {type(training).__name__}")
    prov = raw.get("provenance")
    prov = {**(prov if isinstance(prov, dict) else {}), "path": str(p)}
    ck = Checkpoint(config, norm, weights, prov, training)
    ck.check_fits()
    ck.check_finite()
    return ck


def _dtype(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def _why(exc: Exception) -> str:
    """What a torch.load error means for the user; torch's own text is long and asks to file an issue with PyTorch.

    The weights-only unpickler refuses every Python object but tensors and
    plain values (a class, a function, numpy arrays, pickle instructions it
    does not know); that is what it is told, not torch's advice to load it
    unsafely. Other failures (a truncated or foreign file) keep their first line.
    """
    text = str(exc)
    if "WeightsUnpickler error" in text or "Weights only load failed" in text:
        named = re.search(r"GLOBAL (\S+) was not an allowed global", text) or re.search(r"GLOBAL (\S+) whose", text)
        what = f"Python objects ({named.group(1)})" if named else "Python objects or pickle instructions"
        return (
            f": it holds {what} that sgdsm refuses to unpickle, since unpickling them can run code; "
            "an sgdsm checkpoint holds only tensors and plain values, as `sgdsm train` writes it"
        )
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return f" ({exc.__class__.__name__}: {lines[0] if lines else ''})"[:300]


def slim(src: str | os.PathLike, dst: str | os.PathLike) -> str:
    """Copy a checkpoint without its optimiser state (what ships); returns the new hash."""
    ck = load(src)
    training = dict(ck.training or {})
    for key in ("optimizer", "scheduler", "rng"):
        training.pop(key, None)
    ck.training = training
    ck.provenance = {k: v for k, v in ck.provenance.items() if k != "path"}
    ck.provenance["slimmed"] = f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%dT%H:%M:%SZ} from {Path(src).name}"
    return save(dst, ck)


def provenance(**extra: Any) -> dict[str, Any]:
    """Provenance common to every checkpoint: versions and time."""
    return {
        "sgdsm_version": __version__,
        "torch_version": str(torch.__version__),
        "created": f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%dT%H:%M:%SZ}",
        **extra,
    }


if __name__ == "__main__":  # maintainer tool: python -m sgdsm_dask.training.checkpoint slim SRC DST
    import sys

    if len(sys.argv) != 4 or sys.argv[1] != "slim":
        sys.exit("usage: python -m sgdsm_dask.training.checkpoint slim SRC DST")
    print(slim(sys.argv[2], sys.argv[3]))
