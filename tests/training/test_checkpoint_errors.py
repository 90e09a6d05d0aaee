"""Checkpoints that cannot be used are one error line naming the file, before any store is written.

One validity check follows every load (``checkpoint.load``): the file's
recorded hash (a ``.sha256`` line as ``sha256sum`` writes it, any case), a
pickle of tensors and plain values only, the expected entries, the
configuration's tensors with their shapes and dtypes, and finite weights.
Each case runs through ``sgdsm reconstruct`` as a user types it, on four
staged days; a refused run leaves no result store. A training that diverges
stops with one line and keeps its last good checkpoint.
"""

from __future__ import annotations

import pickle
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from sgdsm_dask.cli import main
from sgdsm_dask.errors import ConfigError, InputError
from sgdsm_dask.model.network import CONFIGS
from sgdsm_dask.testing import one_error_line
from sgdsm_dask.training import checkpoint
from sgdsm_dask.training import train as train_mod
from sgdsm_dask.training.samples import Samples


def _refused(staged4, client, tmp_path, capsys, ckpt: Path, command: str = "reconstruct") -> str:
    """The one error line of ``sgdsm COMMAND`` with ``ckpt``; asserts that no result (store or table) was written."""
    out = tmp_path / ("result.zarr" if command == "reconstruct" else "table.md")
    args = [command, "--store", str(staged4), "--checkpoint", str(ckpt), "--out", str(out)]
    if command == "reconstruct":
        args += ["--scheduler", client.scheduler.address]
    capsys.readouterr()
    assert main(args) == 2
    line = one_error_line(capsys.readouterr().err)
    assert str(ckpt) in line, line
    assert not out.exists()
    return line


def _payload() -> dict:
    """What ``checkpoint.save`` writes for the shipped checkpoint: the parts a test breaks."""
    ck = checkpoint.load()
    return {
        "format": checkpoint.FORMAT,
        "config": ck.config.model_dump(),
        "normalisation": ck.normalisation.model_dump(),
        "state_dict": {k: v.clone() for k, v in ck.state_dict.items()},
        "provenance": {},
        "training": None,
    }


def _write(path: Path, payload: object, **save_kw) -> Path:
    """``payload`` saved with torch, its true hash recorded beside it (so only the contents are at fault)."""
    torch.save(payload, path, **save_kw)
    path.with_name(path.name + ".sha256").write_text(f"{checkpoint.sha256(path)}  {path.name}\n")
    return path


FIRST = next(iter(checkpoint.load().state_dict))


@pytest.mark.parametrize("value, said", [(float("nan"), "1 NaN"), (float("inf"), "1 infinite")], ids=["nan", "inf"])
def test_weights_that_are_not_finite_are_refused_at_load(staged4, client, tmp_path, capsys, value, said):
    payload = _payload()
    payload["state_dict"][FIRST].view(-1)[0] = value  # one weight of a diverged training
    bad = _write(tmp_path / "diverged.pt", payload)
    for command in ("reconstruct", "evaluate"):
        line = _refused(staged4, client, tmp_path, capsys, bad, command)
        assert f"weights are not finite: {FIRST!r} holds {said} values" in line, line
    # sgdsm never writes such a file itself
    ck = checkpoint.load()
    ck.state_dict = payload["state_dict"]
    with pytest.raises(InputError, match="weights are not finite"):
        checkpoint.save(tmp_path / "never.pt", ck)
    assert not (tmp_path / "never.pt").exists()


def _odd_weights(payload: dict, kind: str) -> None:
    sd = payload["state_dict"]
    if kind == "missing":
        del payload["state_dict"]
    elif kind == "a list":
        payload["state_dict"] = list(sd.values())
    elif kind == "None":
        payload["state_dict"] = None
    elif kind == "text values":
        payload["state_dict"] = {k: "0.5" for k in sd}
    elif kind == "numbered keys":
        payload["state_dict"] = dict(enumerate(sd.values()))
    elif kind in ("float64", "int32"):
        payload["state_dict"] = {k: v.to(getattr(torch, kind)) for k, v in sd.items()}
    elif kind == "a transposed tensor":
        key = next(k for k, v in sd.items() if v.ndim == 2 and v.shape[0] != v.shape[1])
        sd[key] = sd[key].T.contiguous()
    elif kind == "no normalisation":
        del payload["normalisation"]
    elif kind == "an infinite scale":
        payload["normalisation"]["sm_scale"] = float("inf")


MALFORMED = {
    "missing": "its 'state_dict' is missing",
    "a list": "its 'state_dict' is a list, not a mapping",
    "None": "its 'state_dict' is a NoneType, not a mapping",
    "text values": f"'state_dict' entry {FIRST!r} is a str, not a tensor",
    "numbered keys": "'state_dict' has the key 0 (int); tensor names are strings",
    "float64": "is float64, the configuration needs float32",
    "int32": "is int32, the configuration needs float32",
    "a transposed tensor": "the configuration needs",  # shapes were checked before; kept with their kin
    "no normalisation": "its 'normalisation' is missing",
    "an infinite scale": "normalisation 'sm_scale' is inf, not a finite number",
}


@pytest.mark.parametrize("kind", list(MALFORMED))
def test_a_checkpoint_without_or_with_malformed_weights_is_one_line(staged4, client, tmp_path, capsys, kind):
    payload = _payload()
    _odd_weights(payload, kind)
    bad = _write(tmp_path / "odd.pt", payload)
    line = _refused(staged4, client, tmp_path, capsys, bad)
    assert MALFORMED[kind] in line, line


def _shipped_copy(tmp_path: Path, sidecar: str | bytes) -> Path:
    """The shipped checkpoint under another name, with ``sidecar`` as its ``.sha256`` file."""
    copy = tmp_path / "copy.pt"
    shutil.copy(checkpoint.shipped_path("default"), copy)
    side = tmp_path / "copy.pt.sha256"
    side.write_bytes(sidecar if isinstance(sidecar, bytes) else sidecar.encode())
    return copy


SHIPPED = checkpoint.SHIPPED["default"]


@pytest.mark.parametrize(
    "sidecar, said",
    [
        ("", "is empty"),
        ("\n  \n", "is empty"),
        ("pending\n", "is not a SHA-256 line"),
        (f"{SHIPPED[:40]}  copy.pt\n", "is not a SHA-256 line"),  # a cut hash
        (b"\xff\xfe\x00\x01", "is not a SHA-256 line"),
        (f"{'0' * 64}  other.pt\n{'1' * 64}  more.pt\n", "holds no single hash line for copy.pt"),
    ],
    ids=["empty", "blank-lines", "junk", "cut-hash", "binary", "others-list"],
)
def test_a_sha256_file_that_is_not_a_hash_line_is_named(staged4, client, tmp_path, capsys, sidecar, said):
    copy = _shipped_copy(tmp_path, sidecar)
    line = _refused(staged4, client, tmp_path, capsys, copy)
    assert f"{copy}.sha256: {said}" in line and "sha256sum copy.pt > copy.pt.sha256" in line, line


@pytest.mark.parametrize(
    "sidecar",
    [
        f"{SHIPPED}  copy.pt\n",
        f"{SHIPPED.upper()}  copy.pt\n",  # an upper-case hash is the same hash
        f"\n  {SHIPPED} *copy.pt  \n\n",  # sha256sum -b, with stray whitespace
        f"{SHIPPED}",
        f"{'0' * 64}  other.pt\n{SHIPPED}  ./copy.pt\n",  # a SHA256SUMS list with this file's line
    ],
    ids=["sha256sum", "upper-case", "binary-mode", "bare", "list"],
)
def test_a_well_formed_sha256_file_is_accepted(tmp_path, sidecar):
    assert checkpoint.load(_shipped_copy(tmp_path, sidecar)).sha256 == SHIPPED


def test_an_upper_case_hash_that_differs_still_differs(tmp_path):
    copy = _shipped_copy(tmp_path, f"{('f' * 64).upper()}  copy.pt\n")
    with pytest.raises(InputError, match="differs from the recorded ffffffffffff"):
        checkpoint.load(copy)


class _Anything:
    """A Python object of the user's: what a pickle of a whole model or a training script's state holds."""


@pytest.mark.parametrize("how", ["torch.save", "torch.save protocol 4", "pickle.dump"])
def test_a_pickle_of_python_objects_is_our_line_not_torchs(staged4, client, tmp_path, capsys, how):
    bad = tmp_path / "pickled.pt"
    payload = {**_payload(), "extra": _Anything()}
    if how == "pickle.dump":
        bad.write_bytes(pickle.dumps(payload))
        bad.with_name("pickled.pt.sha256").write_text(f"{checkpoint.sha256(bad)}  pickled.pt\n")
    else:
        _write(bad, payload, **({"pickle_protocol": 4} if how.endswith("4") else {}))
    line = _refused(staged4, client, tmp_path, capsys, bad)
    assert "holds Python objects" in line and "sgdsm refuses to unpickle" in line, line
    assert "PyTorch" not in line and "issue" not in line and "weights_only" not in line, line
    if how == "torch.save":
        assert f"{__name__}._Anything" in line, line  # the object is named where torch names it
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with pytest.raises(InputError):
            checkpoint.load(bad)
    assert not [w for w in seen if "issue" in str(w.message)]  # torch's "please file an issue" warning


def _samples(n: int = 8, days: int = 2, patch: int = 40) -> Samples:
    """Random training samples on all-land patches: enough for a few steps of ``tiny``."""
    rng = np.random.default_rng(3)
    shape = (n, days, patch, patch)
    sm = rng.uniform(0.05, 0.4, shape).astype(np.float32)
    known = np.ones(shape, bool)
    mask = rng.random(shape) > 0.3
    precip = rng.gamma(1.0, 2.0, shape).astype(np.float32)
    land = np.ones((n, patch, patch), bool)
    return Samples(sm, known, mask, precip, land, sm[:, 0].copy(), np.ones((n, patch, patch), np.float32))


EQ12 = train_mod.eq12


def _nan_loss(raw, b, alpha):
    loss, e, c = EQ12(raw, b, alpha)
    return loss * float("nan"), e, c


def _nan_gradient(raw, b, alpha):
    # a finite loss whose gradient is NaN (sqrt at 0 times 0): the step, not the loss, breaks the weights
    loss, e, c = EQ12(raw, b, alpha)
    return loss + (raw.sum() * 0).abs().sqrt(), e, c


@pytest.mark.parametrize("breaks", [_nan_loss, _nan_gradient], ids=["nan-loss", "nan-gradient"])
def test_a_diverged_training_stops_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch, breaks):
    samples, tiny = _samples(), CONFIGS["tiny"]
    out = tmp_path / "tiny.pt"

    def run(epochs: int, to: Path = out) -> None:
        tcfg = train_mod.TrainConfig(epochs=epochs, batch=8)
        kw = {"samples_fp": "random", "provenance": {}, "device": torch.device("cpu"), "log": lambda _: None}
        train_mod.train(samples, tiny, tcfg, to, **kw)

    run(1)
    good = out.read_bytes()
    monkeypatch.setattr(train_mod, "eq12", breaks)
    with pytest.raises(ConfigError, match=f"training diverged in epoch 2: .*; {out} keeps epoch 1, the last good one"):
        run(2)
    assert out.read_bytes() == good and checkpoint.load(out).training["epoch"] == 1
    with pytest.raises(ConfigError, match="diverged in epoch 1: .*; nothing was written to"):
        run(1, tmp_path / "fresh.pt")
    assert not (tmp_path / "fresh.pt").exists()


def test_fit_and_train_never_replace_a_file_of_the_users_overwrite_or_not(tmp_path, capsys):
    # refused before the store is read (it need not even exist): one line naming the file, every file kept
    mine = tmp_path / "model.pt"
    mine.write_text("my notes, not a checkpoint")
    lonely = tmp_path / "new.pt.sha256"
    lonely.write_text("a file of mine that happens to have this name")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    fit = ["fit", "--store", str(tmp_path / "no.zarr"), "--steps", "0"]
    train = ["train", "--store", str(tmp_path / "no.zarr"), "--config", "tiny"]
    for args, path, words in (
        ([*fit, "--out", str(mine), "--overwrite"], mine, "is not a checkpoint of sgdsm"),
        ([*train, "--out", str(mine), "--overwrite"], mine, "is not a checkpoint of sgdsm"),
        ([*fit, "--out", str(tmp_path / "new.pt")], lonely, "exists beside no checkpoint"),
        ([*train, "--out", str(tmp_path / "new.pt")], lonely, "exists beside no checkpoint"),
    ):
        capsys.readouterr()
        assert main(args) == 2, args
        line = one_error_line(capsys.readouterr().err)
        assert str(path) in line and words in line, line
        assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    # a checkpoint of sgdsm's is replaced with --overwrite, as before
    shipped = tmp_path / "ours.pt"
    shutil.copy(checkpoint.shipped_path("anomaly"), shipped)
    (tmp_path / "ours.pt.sha256").write_text(checkpoint.SHIPPED["anomaly"] + "  ours.pt\n")
    checkpoint.claim_out(shipped, overwrite=True)
