"""Training (paper sect. 3.2): eq. 12, Adam, learning rate halved every 100 epochs, resumable.

The loss of eq. 12, per sample, summed over the k days:

    || (1 - M_T) * K_T * (S_rec - S_ori) ||^2  +  alpha || M_L * K_T * (S_rec - S_ori) ||^2

with ``S_rec`` the decoder output before observed pixels are put back (the
quantity both terms are about), ``M_T`` the laid-over mask, ``M_L`` the land
mask and ``K_T`` the pixels whose true value is known (all land pixels for
complete samples, the observed ones for incomplete samples). Values are in
normalised units (``sm / sm_scale``).
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import ConfigError
from ..model.lstm import LSTMState
from ..model.network import LSTMCNN, ModelConfig, Normalisation, normalise_precip
from . import checkpoint as ckpt_mod
from .samples import Samples


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings; the defaults are the paper's."""

    epochs: int = 500
    batch: int = 128
    lr: float = 0.005
    halve_every: int = 100
    alpha: float = 0.1
    val_fraction: float = 0.1
    clip: float = 1.0  # gradient-norm clipping (not in the paper; keeps lr 0.005 stable for the LSTM)
    seed: int = 0


def choose_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda asked for, but PyTorch sees no GPU (is the CUDA build installed?)")
    return dev


def fit_normalisation(s: Samples) -> Normalisation:
    """Scale soil moisture by its mean known value and log-rain by its spread (defaults where absent)."""
    vals = s.sm[s.known]
    sm_scale = float(vals.mean()) if vals.size and vals.mean() > 0 else Normalisation().sm_scale
    pr = s.precip[s.land[:, None].repeat(s.precip.shape[1], 1)]
    lp = np.log1p(np.clip(pr[np.isfinite(pr)], 0.0, None))
    spread = float(lp.std()) if lp.size else 0.0
    precip_scale = spread if spread > 1e-3 else Normalisation().precip_scale
    return Normalisation(sm_scale=round(sm_scale, 6), precip_scale=round(precip_scale, 6))


def to_tensors(s: Samples, idx: np.ndarray, norm: Normalisation, device: torch.device) -> dict[str, torch.Tensor]:
    def t(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a)).to(device=device, dtype=torch.float32)

    return {
        "s": t(s.sm[idx]) / norm.sm_scale,
        "m": t(s.mask[idx]),
        "p": t(normalise_precip(s.precip[idx], norm.precip_scale)),
        "land": t(s.land[idx]),
        "known": t(s.known[idx]),
        "past": torch.stack([t(s.past_mean[idx]) / norm.sm_scale, t(s.past_weight[idx])], 1),
    }


def warm_state(net: LSTMCNN, b: dict[str, torch.Tensor]) -> LSTMState:
    """Zero (h, C), as in the paper, plus the past-observation memory the record would bring."""
    st = net.zero_state(b["s"].shape[0])
    return LSTMState(st.h, st.c, b["past"]) if net.cfg.memory_map else st


def eq12(
    raw: torch.Tensor, b: dict[str, torch.Tensor], alpha: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Loss of eq. 12 (mean over the batch), plus the hidden pixels' squared error sum and count."""
    d2 = (raw - b["s"]) ** 2 * b["known"]
    hidden = 1.0 - b["m"]
    local = (d2 * hidden).sum((1, 2, 3))
    glob = (d2 * b["land"].unsqueeze(1)).sum((1, 2, 3))
    loss = (local + alpha * glob).mean()
    return loss, (d2 * hidden).sum().detach(), (hidden * b["known"]).sum().detach()


def _fingerprint(model_cfg: ModelConfig, tcfg: TrainConfig, samples_fp: str) -> str:
    d = {"model": model_cfg.model_dump(), "train": asdict(tcfg), "samples": samples_fp}
    d["train"].pop("epochs")  # asking for more epochs continues the same run
    return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:16]


def train(
    samples: Samples,
    model_cfg: ModelConfig,
    tcfg: TrainConfig,
    out: str | Path,
    *,
    samples_fp: str,
    provenance: dict[str, Any],
    device: torch.device | None = None,
    overwrite: bool = False,
    log: Callable[[str], None] = print,
    progress: Callable[[int], None] | None = None,
) -> list[dict[str, float]]:
    """Train, writing ``out`` after every epoch; resume when ``out`` holds an unfinished run of the same request."""
    out = Path(out)
    device = device or choose_device()
    torch.manual_seed(tcfg.seed)
    fp = _fingerprint(model_cfg, tcfg, samples_fp)
    n = len(samples)
    if n < 2:
        raise ConfigError(f"only {n} training samples; need at least 2")
    order = np.random.default_rng([tcfg.seed, 7]).permutation(n)
    n_val = max(1, int(round(n * tcfg.val_fraction)))
    val_idx, train_idx = np.sort(order[:n_val]), order[n_val:]
    norm = fit_normalisation(samples.take(train_idx))
    net = LSTMCNN(model_cfg).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=tcfg.lr)
    loop = _Loop(out, fp, tcfg, samples, train_idx, val_idx, net, opt, device, norm)
    if out.exists():
        loop.resume(overwrite, log)
    if progress and loop.start:
        progress(loop.start)
    for epoch in range(loop.start, tcfg.epochs):
        rec = loop.epoch(epoch)
        loop.save(epoch + 1, model_cfg, provenance, samples_fp)
        log(
            f"epoch {epoch + 1}/{tcfg.epochs}: loss {rec['loss']:.4g}, hidden-pixel RMSE train {rec['train_rmse']:.4f}"
            f" val {rec['val_rmse']:.4f} m3/m3, {rec['seconds']:.1f} s"
        )
        if progress:
            progress(1)
    if loop.start >= tcfg.epochs:
        log(f"{out} already holds {loop.start} epochs; nothing to do")
    return loop.history


@dataclass
class _Loop:
    """One training run's network, optimiser and history, epoch by epoch, saved to ``out`` after each."""

    out: Path
    fingerprint: str
    tcfg: TrainConfig
    samples: Samples
    train_idx: np.ndarray
    val_idx: np.ndarray
    net: LSTMCNN
    opt: torch.optim.Optimizer
    device: torch.device
    norm: Normalisation
    history: list[dict[str, float]] = field(default_factory=list)
    start: int = 0

    def __post_init__(self) -> None:
        self.sched = torch.optim.lr_scheduler.StepLR(self.opt, step_size=self.tcfg.halve_every, gamma=0.5)

    def resume(self, overwrite: bool, log: Callable[[str], None]) -> None:
        """Continue the unfinished run ``out`` holds; a different run is an error unless ``overwrite``."""
        prev = ckpt_mod.load(self.out)
        tr = prev.training or {}
        if tr.get("fingerprint") != self.fingerprint or "optimizer" not in tr:
            if not overwrite:
                raise ConfigError(f"{self.out} holds a different training run; pass --overwrite to replace it")
            return
        self.net.load_state_dict(prev.state_dict)
        self.opt.load_state_dict(tr["optimizer"])
        self.sched.load_state_dict(tr["scheduler"])
        self.history = list(tr.get("history", []))
        self.start = int(tr["epoch"])
        self.norm = prev.normalisation
        log(f"resuming {self.out} after epoch {self.start}")

    def epoch(self, epoch: int) -> dict[str, float]:
        """Train one epoch (``epoch`` counts from 0) and return its record, appended to the history."""
        t0 = time.perf_counter()
        net, tcfg, norm = self.net, self.tcfg, self.norm
        net.train()
        perm = np.random.default_rng([tcfg.seed, epoch]).permutation(self.train_idx)
        tot, se, cnt = 0.0, 0.0, 0.0
        for i in range(0, perm.size, tcfg.batch):
            b = to_tensors(self.samples, np.sort(perm[i : i + tcfg.batch]), norm, self.device)
            _, raw, _ = net(b["s"], b["m"], b["p"], b["land"], warm_state(net, b))
            loss, e, c = eq12(raw, b, tcfg.alpha)
            if not torch.isfinite(loss):
                raise diverged(self.out, epoch, f"the loss became {loss.item()}")
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            if tcfg.clip > 0:
                torch.nn.utils.clip_grad_norm_(net.parameters(), tcfg.clip)
            self.opt.step()
            tot += loss.item() * b["s"].shape[0]
            se += e.item()
            cnt += c.item()
        self.sched.step()
        bad = next((k for k, v in net.state_dict().items() if v.is_floating_point() and not v.isfinite().all()), None)
        if bad is not None:  # a finite loss with an infinite gradient: the step itself broke the weights
            raise diverged(self.out, epoch, f"the weights {bad!r} became NaN or infinite")
        rec = {
            "epoch": epoch + 1,
            "loss": tot / perm.size,
            "train_rmse": math.sqrt(se / max(cnt, 1)) * norm.sm_scale,
            "val_rmse": evaluate_rmse(net, self.samples, self.val_idx, norm, self.device, tcfg.batch),
            "lr": self.opt.param_groups[0]["lr"],
            "seconds": time.perf_counter() - t0,
        }
        self.history.append(rec)
        return rec

    def save(self, epoch: int, model_cfg: ModelConfig, provenance: dict[str, Any], samples_fp: str) -> None:
        """Write the checkpoint after ``epoch`` epochs, with what resuming needs."""
        training = {
            "fingerprint": self.fingerprint,
            "epoch": epoch,
            "epochs": self.tcfg.epochs,
            "config": asdict(self.tcfg),
            "samples": {
                "n_train": int(self.train_idx.size),
                "n_val": int(self.val_idx.size),
                "fingerprint": samples_fp,
            },
            "history": self.history,
            "optimizer": self.opt.state_dict(),
            "scheduler": self.sched.state_dict(),
        }
        ckpt = ckpt_mod.Checkpoint(model_cfg, self.norm, self.net.state_dict(), provenance, training)
        ckpt_mod.save(self.out, ckpt)


def diverged(out: Path, epoch: int, what: str) -> ConfigError:
    """The error of a training that diverged in epoch ``epoch + 1``; ``out`` still holds the last finished epoch.

    Raised before that epoch's checkpoint is written, so a diverged run
    never leaves NaN weights for ``reconstruct`` to fill the record with.
    """
    kept = f"{out} keeps epoch {epoch}, the last good one" if epoch else f"nothing was written to {out}"
    return ConfigError(f"training diverged in epoch {epoch + 1}: {what}; {kept}; lower --lr and train again")


@torch.no_grad()
def evaluate_rmse(
    net: LSTMCNN, samples: Samples, idx: np.ndarray, norm: Normalisation, device: torch.device, batch: int
) -> float:
    """RMSE (m3/m3) of the filled samples on their hidden known pixels."""
    net.eval()
    se, cnt = 0.0, 0.0
    for i in range(0, idx.size, batch):
        b = to_tensors(samples, idx[i : i + batch], norm, device)
        filled, _, _ = net(b["s"], b["m"], b["p"], b["land"], warm_state(net, b))
        filled = filled.clamp(0, net.cfg.sm_range[1] / norm.sm_scale)
        w = (1.0 - b["m"]) * b["known"]
        se += float((((filled - b["s"]) ** 2) * w).sum())
        cnt += float(w.sum())
    return math.sqrt(se / max(cnt, 1)) * norm.sm_scale
