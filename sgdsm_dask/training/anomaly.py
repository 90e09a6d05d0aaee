"""Training the ``anomaly`` network on whole cubes: hide observed pixels with other days' gaps, learn to bring them back.

Each training cube is hidden several times over (other days' gap masks,
a seeded derangement per hiding, as :func:`sgdsm_dask.validation.simulated.hide`);
the prior and the anomalies are computed from the hidden cube, exactly as
at inference. A step draws patches with land and hidden pixels and runs
them through ``days`` consecutive days from a zero state (the whole record
of a 30-day cube: the state is what inference sees). The loss is the mean
squared error per hidden pixel (eq. 12 restricted to hidden pixels, each
pixel counted once whatever its sample).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from ..model.anomaly import (
    AnomalyConfig,
    AnomalyNet,
    base_features,
    cube_inputs,
    day_maps,
    patch_tensors,
    run_sequence,
    window_rain,
)
from ..validation.simulated import hide


@dataclass
class Cube:
    """One (T, H, W) cube to learn from: observations (NaN = gap), precipitation or None, land."""

    sm: np.ndarray
    precip: np.ndarray | None
    land: np.ndarray


@dataclass
class Hiding:
    maps: dict[str, np.ndarray]
    target: np.ndarray  # (T, H, W) normalised anomaly of the hidden pixels, NaN elsewhere
    origins: np.ndarray  # (k, 2) patch origins with land and hidden pixels


def _hiding(cube: Cube, cfg: AnomalyConfig, seed: int) -> Hiding:
    sm_in, hidden = hide(cube.sm, cube.land, seed)
    maps = cube_inputs(sm_in, cube.precip, cube.land, cfg)
    target = np.where(hidden, (cube.sm - maps["prior"][None]) / cfg.sm_scale, np.nan).astype(np.float32)
    p = cfg.patch
    h, w = cube.land.shape
    ys, xs = np.arange(0, h - p + 1, p // 4), np.arange(0, w - p + 1, p // 4)
    hid2 = hidden.any(axis=0)
    origins = [
        (y, x)
        for y in ys
        for x in xs
        if cube.land[y : y + p, x : x + p].mean() >= 0.25 and hid2[y : y + p, x : x + p].sum() >= 20
    ]
    return Hiding(maps, target, np.array(origins, np.int64).reshape(-1, 2))


@torch.no_grad()
def fit_base(net: AnomalyNet, pool: list[Hiding], *, patches: int = 128, ridge: float = 1e-3, seed: int = 0) -> None:
    """Fit the network's linear base (``base_w``) by least squares on the hidden pixels of ``pool``.

    Up to ``patches`` patches of each hiding, every day of its record; the
    ridge term is ``ridge`` times the mean diagonal of the normal matrix.
    """
    cfg, p = net.cfg, net.cfg.patch
    rng = np.random.default_rng(seed)
    xtx = torch.zeros(cfg.base_features, cfg.base_features, dtype=torch.float64)
    xty = torch.zeros(cfg.base_features, dtype=torch.float64)
    for hd in pool:
        pick = hd.origins[rng.permutation(len(hd.origins))[:patches]]
        for i in range(0, len(pick), 32):
            part = pick[i : i + 32]
            inp = patch_tensors(hd.maps, part[:, 0], part[:, 1], p)
            tgt = patch_tensors({"t": hd.target}, part[:, 0], part[:, 1], p)["t"]
            for t in range(tgt.shape[1]):
                known = torch.isfinite(tgt[:, t])
                if not known.any():
                    continue
                x, mask = day_maps(inp, t, cfg.window)
                f = (
                    base_features(x, mask, window_rain(inp, t, cfg.window), cfg.window, cfg.sm_scale)
                    .permute(0, 2, 3, 1)[known]
                    .double()
                )
                xtx += f.T @ f
                xty += f.T @ tgt[:, t][known].double()
    lam = ridge * float(torch.diagonal(xtx).mean())
    net.base_w.copy_(torch.linalg.solve(xtx + lam * torch.eye(len(xty), dtype=torch.float64), xty).float())


def train(
    cubes: list[Cube],
    cfg: AnomalyConfig,
    *,
    steps: int = 300,
    batch: int = 12,
    days: int = 30,
    hidings: int = 6,
    lr: float = 2e-3,
    seed: int = 0,
    log: Callable[[int, float], None] | None = None,
) -> AnomalyNet:
    """Train a new network on ``cubes``; ``log(step, loss)`` is called every 10 steps."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    pool = [_hiding(c, cfg, seed * 1000 + 101 + k) for c in cubes for k in range(hidings)]
    pool = [hd for hd in pool if len(hd.origins)]
    if not pool:
        raise ValueError("no patch of the training cubes has land with hidden pixels")
    net = AnomalyNet(cfg)
    if cfg.base:
        fit_base(net, pool, seed=seed)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    p = cfg.patch
    running = []
    for step in range(steps):
        hd = pool[rng.integers(len(pool))]
        pick = hd.origins[rng.integers(len(hd.origins), size=batch)]
        t_len = hd.target.shape[0]
        t0 = int(rng.integers(0, max(1, t_len - days + 1)))
        maps = {k: (v[t0 : t0 + days] if k in ("a", "m", "precip") else v) for k, v in hd.maps.items()}
        inp = patch_tensors(maps, pick[:, 0], pick[:, 1], p)
        tgt = patch_tensors({"t": hd.target[t0 : t0 + days]}, pick[:, 0], pick[:, 1], p)["t"]
        known = torch.isfinite(tgt)
        pred = run_sequence(net, inp)
        loss = ((pred - torch.nan_to_num(tgt)) ** 2)[known].mean()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        sched.step()
        running.append(loss.item())
        if log is not None and (step + 1) % 10 == 0:
            log(step + 1, float(np.mean(running[-10:])))
    return net.eval()


def cube_from_store(store: str, region: object | None = None) -> Cube:
    """A staged cube (or its ``region`` box) read whole; precipitation None where the cube has none."""
    from ..io import zarr_store
    from .samples import store_window

    rows, cols, _ = store_window(store, region)  # type: ignore[arg-type]
    sel = (slice(None), rows, cols)
    sm = zarr_store.read_array(store, "sm", sel)
    precip = zarr_store.read_array(store, "precip", sel)
    land = zarr_store.read_array(store, "land", (rows, cols)).astype(bool)
    return Cube(sm, precip if np.isfinite(precip).any() else None, land)


def fit(
    stores: list[str],
    out: str,
    cfg: AnomalyConfig | None = None,
    *,
    region: object | None = None,
    overwrite: bool = False,
    log: Callable[[int, float], None] | None = None,
    **train_options: int | float,
) -> str:
    """Train on ``stores`` and write the checkpoint ``out`` (and its ``.sha256``); returns its hash.

    An existing ``out`` is replaced only with ``overwrite``.
    """
    from ..errors import ConfigError
    from ..model.network import Normalisation
    from .checkpoint import Checkpoint, claim_out, exists, provenance, save

    if exists(out) and not overwrite:
        raise ConfigError(f"{out} exists; give --overwrite to replace it")
    claim_out(out, overwrite)  # a file of the user's is never replaced, --overwrite or not
    cfg = cfg or AnomalyConfig()
    net = train([cube_from_store(s, region) for s in stores], cfg, log=log, **train_options)  # type: ignore[arg-type]
    norm = Normalisation(sm_scale=cfg.sm_scale, precip_scale=cfg.precip_scale)
    prov = provenance(
        stores=[str(s) for s in stores], region=getattr(region, "bounds", None), staged=staged_fingerprints(stores)
    )
    return save(out, Checkpoint(cfg, norm, net.state_dict(), prov, {"kind": "anomaly", **train_options}))


def staged_fingerprints(stores: list[str]) -> list[str | None]:
    """Each staged store's ``stage_fingerprint`` (what a checkpoint records it was fitted on; None: not staged)."""
    from ..io import zarr_store

    return [zarr_store.read_attrs(str(s)).get("stage_fingerprint") for s in stores]


class FitFiller:
    """``sgdsm evaluate --fit``: train on the cube it is asked to fill, then fill it.

    ``sgdsm evaluate`` hands it the cube with the scored pixels already
    hidden, and training hides more of what is left (other days' masks
    again), so the scored pixels are never seen: the same footing as a
    baseline whose parameters are chosen on a second hidden set.
    """

    def __init__(self, cfg: AnomalyConfig | None = None, overlap: int = 8, **options: int | float) -> None:
        from ..grid import check_overlap

        self.cfg = cfg or AnomalyConfig()
        self.patch = self.cfg.patch
        self.overlap = check_overlap(overlap, self.patch)
        self.options = options

    def run(self, sm: np.ndarray, precip: np.ndarray | None, land: np.ndarray, *_: object) -> tuple:
        from ..model.anomaly import CubeFiller

        net = train([Cube(sm, precip, land)], self.cfg, **self.options)  # type: ignore[arg-type]
        self.trained = CubeFiller(net, self.overlap)  # what sgdsm evaluate fills sigma's calibration windows with
        return self.trained.run(sm, precip, land)
