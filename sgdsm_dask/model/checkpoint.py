"""Checkpoints: weights, configuration, normalisation, provenance and training state.

A checkpoint is one ``torch.save`` file holding only tensors and plain
Python values, so it loads with ``torch.load(weights_only=True)`` (no code
runs from the file). Beside it, ``NAME.sha256`` records its hash; loading
refuses a file whose hash differs. The checkpoint shipped with the package
has its hash recorded in the code as well (:data:`SHIPPED`).
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import torch

from .. import __version__
from ..errors import InputError
from ..io.files import atomic_write, sha256
from .network import LSTMCNN, ModelConfig, Normalisation

FORMAT = "sgdsm-checkpoint-1"

#: The shipped checkpoints and their SHA-256 (see docs/model-card.md).
SHIPPED: dict[str, str] = {
    "default": "4ce20680ba09e15816d029a71b2288cc0305dc0e8e0db4bd9300e98bac9b6e14",
}


def shipped_path(name: str = "default") -> Path:
    """Path of a checkpoint shipped in ``sgdsm_dask/weights``."""
    return Path(str(resources.files("sgdsm_dask") / "weights" / f"{name}.pt"))


@dataclass
class Checkpoint:
    """What a checkpoint holds, loaded."""

    config: ModelConfig
    normalisation: Normalisation
    state_dict: dict[str, torch.Tensor]
    provenance: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] | None = None
    sha256: str = ""

    def check_fits(self) -> None:
        """An InputError unless the weights have exactly the tensors the configuration's network has.

        Checked at load time on the ``meta`` device (shapes only, no memory),
        so a checkpoint of another configuration is refused before a run
        writes anything.
        """
        with torch.device("meta"):
            want = {k: tuple(v.shape) for k, v in LSTMCNN(self.config).state_dict().items()}
        have = {k: tuple(v.shape) for k, v in self.state_dict.items()}
        if want == have:
            return
        missing, extra = sorted(want.keys() - have.keys()), sorted(have.keys() - want.keys())
        shape = next((k for k in sorted(want.keys() & have.keys()) if want[k] != have[k]), None)
        why = (
            f"missing {missing[0]!r}"
            if missing
            else f"unexpected {extra[0]!r}"
            if extra
            else f"{shape!r} is {list(have[shape])}, the configuration needs {list(want[shape])}"
        )
        raise InputError(
            self.provenance.get("path", "checkpoint"), f"weights do not fit configuration {self.config.name!r} ({why})"
        )

    def model(self, device: str | torch.device = "cpu") -> LSTMCNN:
        self.check_fits()  # one line naming the file, not torch's list of mismatched keys
        net = LSTMCNN(self.config)
        net.load_state_dict(self.state_dict)
        return net.to(device).eval()


def save(path: str | os.PathLike, ckpt: Checkpoint) -> str:
    """Write ``ckpt`` atomically (temporary name, then rename) and its ``.sha256``; return the hash."""
    path = Path(path)
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
    side = path.with_name(path.name + ".sha256")
    atomic_write(side, lambda tmp: tmp.write_text(f"{digest}  {path.name}\n"))
    return digest


def recorded_hash(path: Path) -> str | None:
    for name, digest in SHIPPED.items():
        if digest and path.resolve() == shipped_path(name).resolve():
            return digest
    side = path.with_name(path.name + ".sha256")
    if side.exists():
        return side.read_text().split()[0]
    return None


def load(path: str | os.PathLike | None = None, *, check_hash: bool = True) -> Checkpoint:
    """Load a checkpoint (the shipped ``default`` when ``path`` is None), checking its recorded hash."""
    p = Path(path) if path is not None else shipped_path("default")
    if not p.is_file():
        raise InputError(str(p), "checkpoint not found")
    digest = sha256(p)
    if check_hash:
        want = recorded_hash(p)
        if want is None:
            raise InputError(str(p), f"no recorded SHA-256 ({p.name}.sha256 is missing); refusing an unverified file")
        if want != digest:
            raise InputError(str(p), f"SHA-256 {digest[:12]}... differs from the recorded {want[:12]}...")
    try:
        raw = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure is a bad file
        raise InputError(str(p), f"not a loadable checkpoint ({_why(exc)})") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise InputError(str(p), f"not an sgdsm checkpoint (format {FORMAT} expected)")
    try:
        config = ModelConfig(**raw["config"])
        norm = Normalisation(**raw["normalisation"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(str(p), f"configuration in the checkpoint is invalid ({exc})") from None
    prov = dict(raw.get("provenance") or {})
    prov["path"] = str(p)
    ck = Checkpoint(config, norm, raw["state_dict"], prov, raw.get("training"), digest)
    ck.check_fits()
    return ck


def _why(exc: Exception) -> str:
    """The line of a torch.load error that says what is wrong (its message is long and generic)."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    for ln in lines:
        if "WeightsUnpickler error" in ln:
            return ln.split(". Please use")[0]
    return f"{exc.__class__.__name__}: {lines[0] if lines else ''}"[:300]


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


if __name__ == "__main__":  # maintainer tool: python -m sgdsm_dask.model.checkpoint slim SRC DST
    import sys

    if len(sys.argv) != 4 or sys.argv[1] != "slim":
        sys.exit("usage: python -m sgdsm_dask.model.checkpoint slim SRC DST")
    print(slim(sys.argv[2], sys.argv[3]))
