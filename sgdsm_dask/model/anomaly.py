"""The ``anomaly`` LSTM-CNN: a correction around what each pixel is known to be, seeing both sides of a day.

The ``paper`` and ``default`` networks build every value from the
normalised observations through a ReLU decoder whose bias starts at the
global mean, so they pull every pixel toward one level (docs/model-card.md).
This network starts from the pixel's own level instead:

    prior(x)   = mean of the pixel's observations over the record being filled
                 (where it has none: the Gaussian-weighted prior of its neighbours)
    a_t(x)     = (S_t(x) - prior(x)) / sm_scale on observed pixels, 0 in gaps
    S_rec_t(x) = prior(x) + sm_scale * net(a, M, prior, P)_t(x)

and the network sees the anomaly maps and masks of the ``window`` days
before and after day t as well as day t (the days after are what every
baseline uses, and what a record reprocessed in batch has). The first layer
is a partial convolution per input map (eq. 1 with ``||M||_1`` counted on
each map's own mask, so a map's weight does not change with how much the
others observe); then dilated convolutions; the paper's LSTM cell (eq. 4-11,
precipitation in eq. 10) carries a patch state forward in time as in the
paper, and the decoder's last layer starts at zero, so an untrained network
returns the prior. Observed pixels are put back unchanged.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field
from scipy import ndimage
from torch import nn

from ..config import Strict
from ..grid import PATCH
from .lstm import LSTMState, PaperLSTMCell
from .network import NO_RAIN_DATA, normalise_precip
from .partial_conv import window_sum


class AnomalyConfig(Strict):
    """Sizes of the ``anomaly`` network."""

    name: str = "anomaly"
    kind: str = Field("anomaly", pattern="^anomaly$")
    patch: int = Field(PATCH, ge=8)
    window: int = Field(3, ge=0, description="days before and after day t the network sees")
    per_map: int = Field(4, ge=1, description="features of the per-map partial convolution, per input map")
    width: int = Field(24, ge=1, description="feature maps of the dilated convolutions")
    dilations: tuple[int, ...] = (1, 2, 4)
    pool: int = Field(4, ge=1, description="pooling before the LSTM's vector")
    feature: int = Field(64, ge=1)
    hidden: int = Field(64, ge=1)
    prior_sigma: float = Field(4.0, gt=0, description="cells: width of the neighbours' prior where a pixel has none")
    base: bool = Field(
        True,
        description="start from a linear estimate of Gaussian-weighted anomalies (BASE_SCALES); the network corrects it",
    )
    sm_scale: float = Field(0.25, gt=0)
    precip_scale: float = Field(2.0, gt=0)
    sm_range: tuple[float, float] = (0.0, 1.0)

    @property
    def maps(self) -> int:
        """Input maps per day: anomaly of each day of the window, the prior, the log count, precipitation."""
        return (2 * self.window + 1) + 3

    @property
    def base_features(self) -> int:
        """Features of the linear base (:func:`base_features`): 0 without one."""
        return (
            3 * len(BASE_SCALES) + 6 * min(3, self.window) + 5 * (self.window > 0) + self.base_rain if self.base else 0
        )

    @property
    def base_rain(self) -> int:
        """The rain terms of the linear base, its last features: the day's 2, 2 per day of up to 3 around, the day before's."""
        k = min(3, self.window)
        return 2 + 2 * k + (self.window > 0) if self.base else 0


#: Widths (cells) of the same-day Gaussian-weighted anomalies of the linear base.
BASE_SCALES = (1.0, 2.0, 4.0)
#: m3/m3: the linear base's rain term grows with how far the pixel's prior is below this.
BASE_WET = 0.6


def _gauss(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian filter over the last two axes of (N, C, H, W), zeros beyond the edge (scipy's ``mode="constant"``)."""
    r = int(3.0 * sigma + 0.5)
    k = torch.exp(-0.5 * (torch.arange(-r, r + 1, dtype=x.dtype, device=x.device) / sigma) ** 2)
    k = k / k.sum()
    n, c, h, w = x.shape
    y = F.conv2d(F.pad(x.reshape(n * c, 1, h, w), (r, r, 0, 0)), k.view(1, 1, 1, -1))
    y = F.conv2d(F.pad(y, (0, 0, r, r)), k.view(1, 1, -1, 1))
    return y.view(n, c, h, w)


def _weighted(a: torch.Tensor, m: torch.Tensor, sigma: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The Gaussian-weighted mean of the observed anomalies ``a`` (0 where nothing is near) and the weight."""
    den = _gauss(m, sigma)
    return torch.where(den > 1e-3, _gauss(a * m, sigma) / den.clamp(min=1e-12), torch.zeros_like(den)), den


def base_features(
    x: torch.Tensor, mask: torch.Tensor, rain: torch.Tensor, window: int, sm_scale: float
) -> torch.Tensor:
    """The linear base's features (N, F, P, P) of a day from its :func:`day_maps` (``x``, ``mask``, ``rain``).

    Anomalies are against the pixel's prior, in ``sm_scale`` units: the
    same-day Gaussian-weighted anomaly of observed neighbours at each of
    :data:`BASE_SCALES` (with its weight, and the two's product); up to
    three days before and after, the pixel's own anomaly, whether it was
    observed, and its neighbours' anomaly (2 cells); the window's lag-1
    correlation of anomalies (4 cells), alone and times the day before's
    and after's own and neighbours' anomalies, so the weight of adjacent
    days follows how much a day tells of the next there; the day's rain
    (``log1p(mm) / precip_scale``, 0 where the cube has none), alone and
    times how far the prior is below :data:`BASE_WET` (rain wets a dry
    soil more than a wet one); for up to three days before and after, the
    rain between that day and day t where that day was observed (how much
    the soil was wetted since it was seen, or is wetted before it is seen
    again), and the day before's rain alone. Nothing of the pixel's level enters alone
    (no prior, count or constant): the prior is the level, and a level
    term fitted on one region biases another. Computed
    on the patch alone, like the rest of the network, so a patch's value
    does not depend on how the record is split in space or time.
    """
    d = 2 * window + 1
    a, m = x[:, :d], mask[:, :d]
    f = []
    for s in BASE_SCALES:
        an, den = _weighted(a[:, window : window + 1], m[:, window : window + 1], s)
        f += [an, torch.log1p(den), an * den.clamp(max=1.0)]
    near = {}  # day -> its neighbours' anomaly (2 cells), weighted by how much is observed near
    for k in range(1, min(3, window) + 1):
        for t in (window - k, window + k):
            an, den = _weighted(a[:, t : t + 1], m[:, t : t + 1], 2.0)
            near[t] = an * den.clamp(max=1.0)
            f += [a[:, t : t + 1], m[:, t : t + 1], near[t]]
    if window > 0:  # how much a day tells of the next here: the window's lag-1 correlation of anomalies, 4 cells
        both = m[:, :-1] * m[:, 1:]
        num = _gauss((a[:, :-1] * a[:, 1:] * both).sum(1, keepdim=True), 4.0)
        den = _gauss((0.5 * (a[:, :-1] ** 2 + a[:, 1:] ** 2) * both).sum(1, keepdim=True), 4.0)
        rho = torch.where(den > 1e-6, num / den.clamp(min=1e-12), torch.zeros_like(den)).clamp(-1.0, 1.0)
        f.append(rho)
        for t in (window - 1, window + 1):
            f += [rho * a[:, t : t + 1], rho * near[t]]
    r = rain.clamp(min=0.0)  # the window's precipitation maps; NO_RAIN_DATA (-1) where unavailable: no rain term
    day = r[:, window : window + 1]
    f += [day, day * (BASE_WET / sm_scale - x[:, d : d + 1])]
    for k in range(1, min(3, window) + 1):  # rain since day t-k (days t-k+1 .. t) and until day t+k (t+1 .. t+k)
        since = r[:, window - k + 1 : window + 1].sum(1, keepdim=True)
        until = r[:, window + 1 : window + k + 1].sum(1, keepdim=True)
        f += [since * m[:, window - k : window - k + 1], until * m[:, window + k : window + k + 1]]
    if window > 0:
        f.append(r[:, window - 1 : window])
    return torch.cat(f, 1)


def prior_of(sm: np.ndarray, land: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """Per land pixel, (prior, number of observations): its mean, else its neighbours' (Gaussian, ``sigma`` cells)."""
    obs = np.isfinite(sm)
    return prior_from_sums(np.where(obs, sm, 0.0).sum(axis=0, dtype=np.float64), obs.sum(axis=0), land, sigma)


def prior_from_sums(total: np.ndarray, n: np.ndarray, land: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """:func:`prior_of` from each pixel's sum and number of observations (what a pass over a record gives)."""
    n = np.asarray(n)
    own = np.where(n > 0, np.asarray(total, np.float64) / np.maximum(n, 1), 0.0)
    has = (n > 0).astype(np.float64)
    num = ndimage.gaussian_filter(own * has, sigma, mode="constant", truncate=3.0)
    den = ndimage.gaussian_filter(has, sigma, mode="constant", truncate=3.0)
    fallback = np.where(den > 1e-6, num / np.maximum(den, 1e-12), np.nan)
    if not np.isfinite(fallback[land & (n == 0)]).all():  # nothing observed anywhere near: the cube's mean
        fallback = np.where(np.isfinite(fallback), fallback, own[n > 0].mean() if (n > 0).any() else 0.0)
    prior = np.where(n > 0, own, fallback)
    return np.where(land, prior, 0.0).astype(np.float32), n


def cube_inputs(
    sm: np.ndarray,
    precip: np.ndarray | None,
    land: np.ndarray,
    cfg: AnomalyConfig,
    prior: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """The normalised maps of a (T, H, W) cube: anomaly ``a`` and mask ``m`` (T, H, W), static maps, precipitation.

    ``prior`` is ``(prior, number of observations)`` of each pixel when known
    (the Dask chains compute them over the whole record); by default
    :func:`prior_of` the cube given.
    """
    prior, n = prior if prior is not None else prior_of(sm, land, cfg.prior_sigma)
    obs = np.isfinite(sm) & land[None]
    a = np.where(obs, (sm - prior[None]) / cfg.sm_scale, 0.0).astype(np.float32)
    pr = np.full(sm.shape, NO_RAIN_DATA, np.float32) if precip is None else normalise_precip(precip, cfg.precip_scale)
    return {
        "a": a,
        "m": obs.astype(np.float32),
        "prior": prior,
        "static": np.stack([prior / cfg.sm_scale, np.log1p(n) / 3.0]).astype(np.float32),  # (2, H, W)
        "precip": pr,
        "land": land.astype(np.float32),
    }


class PerMapPartialConv(nn.Module):
    """Eq. 1 on each input map with its own mask: a grouped convolution, each group scaled by its own ``||M||_1``."""

    def __init__(self, maps: int, out_per_map: int, kernel: int = 3) -> None:
        super().__init__()
        self.maps, self.k = maps, kernel
        self.conv = nn.Conv2d(maps, maps * out_per_map, kernel, padding=kernel // 2, groups=maps)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            count = window_sum(mask, self.k)  # (N, maps, H, W)
            valid = (count > 0.5).to(x.dtype)
            ratio = (self.k * self.k) / count.clamp(min=1.0)
        out = F.conv2d(x * mask, self.conv.weight, None, padding=self.k // 2, groups=self.maps)
        n, _, h, w = out.shape
        out = out.view(n, self.maps, -1, h, w) * ratio.unsqueeze(2) + self.conv.bias.view(1, self.maps, -1, 1, 1)
        return (out * valid.unsqueeze(2)).view(n, -1, h, w)


class AnomalyNet(nn.Module):
    """The network on normalised maps; :func:`fill_cube` works in physical units."""

    def __init__(self, cfg: AnomalyConfig) -> None:
        super().__init__()
        self.cfg = cfg
        w = cfg.width
        self.first = PerMapPartialConv(cfg.maps, cfg.per_map)
        self.mix = nn.Conv2d(cfg.maps * cfg.per_map, w, 1)
        self.body = nn.ModuleList(nn.Conv2d(w, w, 3, padding=d, dilation=d) for d in cfg.dilations)
        cells = (cfg.patch // cfg.pool) ** 2
        self.fc_s = nn.Linear(w * cells, cfg.feature)
        self.fc_p = nn.Linear(cells, cfg.hidden)
        self.cell = PaperLSTMCell(cfg.feature, cfg.hidden)
        self.fc_out = nn.Linear(cfg.hidden, cells)
        self.dec = nn.Conv2d(w + 1 + int(cfg.base), w, 3, padding=1)
        self.out = nn.Conv2d(w, 1, 3, padding=1)
        # the linear base's weights (:func:`base_features`), fitted by least squares before training (fit_base)
        self.register_buffer("base_w", torch.zeros(cfg.base_features))
        with torch.no_grad():  # an untrained network returns the prior (plus its linear base)
            self.out.weight.zero_()
            self.out.bias.zero_()

    def base(self, x: torch.Tensor, mask: torch.Tensor, rain: torch.Tensor) -> torch.Tensor:
        """The linear base (N, 1, P, P) of a day, in ``sm_scale`` units around the prior."""
        f = base_features(x, mask, rain, self.cfg.window, self.cfg.sm_scale)
        return torch.einsum("nfhw,f->nhw", f, self.base_w).unsqueeze(1)

    def zero_state(self, n: int) -> LSTMState:
        p = next(self.parameters())
        return LSTMState.zeros(n, self.cfg.hidden, device=p.device, dtype=p.dtype)

    def step(
        self, x: torch.Tensor, mask: torch.Tensor, rain: torch.Tensor, land: torch.Tensor, state: LSTMState
    ) -> tuple[torch.Tensor, LSTMState]:
        """One day: maps ``x`` and masks (N, maps, P, P), the window's rain (N, 2w+1, P, P) -> correction (N, 1, P, P)."""
        w = self.cfg.window
        p = rain[:, w : w + 1]
        f = torch.relu(self.mix(self.first(x, mask)))
        for conv in self.body:
            f = torch.relu(conv(f)) + f
        k = self.cfg.pool
        s_vec = self.fc_s(F.avg_pool2d(f, k).flatten(1))
        p_vec = self.fc_p(F.avg_pool2d(p, k).flatten(1))
        s_out, state = self.cell(s_vec, p_vec, state)
        g = self.cfg.patch // k
        lstm_map = F.interpolate(self.fc_out(s_out).view(-1, 1, g, g), scale_factor=k, mode="nearest")
        if not self.cfg.base:
            return self.out(torch.relu(self.dec(torch.cat([f, lstm_map], 1)))) * land, state
        base = self.base(x, mask, rain)
        y = torch.relu(self.dec(torch.cat([f, lstm_map, base], 1)))
        return (base + self.out(y)) * land, state


def _around(seq: torch.Tensor, t: int, window: int, beyond: float = 0.0) -> torch.Tensor:
    """Days ``t - window`` to ``t + window`` of a sequence (N, T, P, P); days beyond the record are ``beyond``."""
    n_t = seq.shape[1]
    lo, hi = t - window, t + window + 1
    return F.pad(seq[:, max(lo, 0) : min(hi, n_t)], (0, 0, 0, 0, max(0, -lo), max(0, hi - n_t)), value=beyond)


def day_maps(inp: dict[str, torch.Tensor], t: int, window: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Maps and masks of day ``t`` from sequence tensors ``a``, ``m`` (N, T, P, P) and ``static`` (N, 2, P, P)."""
    a, m = _around(inp["a"], t, window), _around(inp["m"], t, window)  # days beyond the record: nothing observed
    land = inp["land"]
    static = inp["static"]
    x = torch.cat([a, static, inp["precip"][:, t : t + 1]], 1)
    mask = torch.cat([m, land.expand_as(static), torch.ones_like(land)], 1)
    return x, mask


def window_rain(inp: dict[str, torch.Tensor], t: int, window: int) -> torch.Tensor:
    """Precipitation (N, 2 window + 1, P, P) of the days around ``t``; NO_RAIN_DATA beyond the record."""
    return _around(inp["precip"], t, window, NO_RAIN_DATA)


def run_sequence(
    net: AnomalyNet, inp: dict[str, torch.Tensor], state: LSTMState | None = None, days: list[int] | None = None
) -> torch.Tensor:
    """Corrections (N, T, P, P) of patch sequences; ``inp`` as in :func:`day_maps` plus ``precip`` and ``land``."""
    return run_days(net, inp, state, days)[0]


def run_days(
    net: AnomalyNet, inp: dict[str, torch.Tensor], state: LSTMState | None = None, days: list[int] | None = None
) -> tuple[torch.Tensor, LSTMState]:
    """Step through ``days`` (indices into ``inp``'s days, in order; default all): corrections and the state after.

    Each day's window is read from ``inp``'s days around it, so a caller
    hands the days before and after the ones it fills as context.
    """
    n, t_len = inp["a"].shape[:2]
    state = state if state is not None else net.zero_state(n)
    out = []
    for t in range(t_len) if days is None else days:
        x, mask = day_maps(inp, t, net.cfg.window)
        y, state = net.step(x, mask, window_rain(inp, t, net.cfg.window), inp["land"], state)
        out.append(y)
    if not out:
        return inp["a"][:, :0], state
    return torch.cat(out, 1), state


def patch_tensors(maps: dict[str, np.ndarray], oy: np.ndarray, ox: np.ndarray, p: int) -> dict[str, torch.Tensor]:
    """Cut the patches whose first cells are ``oy`` x ``ox`` (flattened) out of :func:`cube_inputs` maps."""
    out = {}
    for key, a in maps.items():
        if key == "prior":
            continue
        lead = a.ndim - 2
        win = np.lib.stride_tricks.sliding_window_view(a, (p, p), axis=(-2, -1))[..., oy, ox, :, :]
        win = np.moveaxis(win, lead, 0) if lead else win[:, None]  # (K, [T|C], P, P)
        out[key] = torch.from_numpy(np.ascontiguousarray(win, dtype=np.float32))
    return out


def _blend_days(
    net: AnomalyNet,
    maps: dict[str, np.ndarray],
    days: list[int],
    origins: tuple[np.ndarray, np.ndarray],
    state: tuple[np.ndarray, np.ndarray] | None,
    overlap: int,
    batch: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Blended reconstructions (len(days), H, W) of the maps' area, and the state (ny, nx, hidden) h and c after."""
    from .fill import blend_patches

    cfg, p = net.cfg, net.cfg.patch
    oy, ox = origins
    h, w = maps["land"].shape
    ph, pw = max(0, int(oy[-1]) + p - h), max(0, int(ox[-1]) + p - w)
    padded = {k: np.pad(v, [(0, 0)] * (v.ndim - 2) + [(0, ph), (0, pw)]) for k, v in maps.items() if k != "prior"}
    gy, gx = (g.ravel() for g in np.meshgrid(oy, ox, indexing="ij"))
    lnd = padded["land"] > 0
    active = np.array([k for k in range(gy.size) if lnd[gy[k] : gy[k] + p, gx[k] : gx[k] + p].any()], np.int64)
    h_all = np.zeros((gy.size, cfg.hidden), np.float32) if state is None else state[0].reshape(gy.size, -1).copy()
    c_all = np.zeros_like(h_all) if state is None else state[1].reshape(gy.size, -1).copy()
    out = np.zeros((len(days), gy.size, p, p), np.float32)
    for i in range(0, active.size, batch):
        idx = active[i : i + batch]
        st = LSTMState(torch.from_numpy(h_all[idx]), torch.from_numpy(c_all[idx]))
        corr, st = run_days(net, patch_tensors(padded, gy[idx], gx[idx], p), st, days)
        h_all[idx], c_all[idx] = st.h.numpy(), st.c.numpy()
        out[:, idx] = corr.numpy().transpose(1, 0, 2, 3)
    blended = blend_patches(out, active, oy, ox, (h + ph, w + pw), overlap)
    rec = maps["prior"][None] + cfg.sm_scale * blended[:, :h, :w]
    shape = (oy.size, ox.size, cfg.hidden)
    return np.clip(rec, *cfg.sm_range), h_all.reshape(shape), c_all.reshape(shape)


def _put_back(sm: np.ndarray, rec: np.ndarray, land: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Observed pixels unchanged, land gaps ``rec``, the rest NaN; and the flags."""
    from ..flags import Flag

    obs, land_b = np.isfinite(sm), land.astype(bool)[None]
    filled = np.where(obs, sm, np.where(land_b, rec, np.nan)).astype(np.float32)
    flag = np.where(obs, Flag.OBSERVED, np.where(land_b, Flag.FILLED, Flag.NOT_FILLED)).astype(np.int8)
    return filled, flag


@torch.inference_mode()
def fill_cube(
    net: AnomalyNet, sm: np.ndarray, precip: np.ndarray | None, land: np.ndarray, overlap: int = 8, batch: int = 64
) -> np.ndarray:
    """Fill a whole (T, H, W) cube in memory: observed pixels unchanged, land gaps filled, the rest NaN."""
    from .fill import patch_origins

    maps = cube_inputs(sm, precip, land, net.cfg)
    p = net.cfg.patch
    origins = patch_origins(sm.shape[1], p, overlap), patch_origins(sm.shape[2], p, overlap)
    rec, _, _ = _blend_days(net, maps, list(range(sm.shape[0])), origins, None, overlap, batch)
    return _put_back(sm, rec, land)[0]


class CubeFiller:
    """The ``anomaly`` network as :class:`~sgdsm_dask.model.fill.Filler` is used by ``sgdsm evaluate``: whole cubes.

    :meth:`run` fills a cube held in memory (the prior is the mean over it);
    :meth:`run_window` is what a task of the Dask chains calls, with the
    record's prior and the days around its time chunk.
    """

    def __init__(self, net: AnomalyNet, overlap: int = 8, batch: int = 64) -> None:
        from ..grid import check_overlap

        self.net = net.eval()
        self.patch = net.cfg.patch
        self.hidden = net.cfg.hidden
        self.overlap = check_overlap(overlap, self.patch)
        self.batch = batch

    def run(
        self, sm: np.ndarray, precip: np.ndarray | None, land: np.ndarray, *_: object
    ) -> tuple[np.ndarray, np.ndarray, None]:
        """``(filled, flag, None)`` of a (T, H, W) cube: observed pixels unchanged, land gaps filled."""
        filled = fill_cube(self.net, sm, precip, land, self.overlap, self.batch)
        return filled, _put_back(sm, filled, land)[1], None

    @torch.inference_mode()
    def run_window(
        self,
        sm: np.ndarray,
        precip: np.ndarray | None,
        land: np.ndarray,
        prior: tuple[np.ndarray, np.ndarray],
        days: list[int],
        state: tuple[np.ndarray, np.ndarray] | None,
        origins: tuple[np.ndarray, np.ndarray],
    ) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray]]:
        """What a task of the Dask chains fills: ``days`` of a context cube (T, H, W) around them.

        ``sm`` holds the days before and after the filled ones (non-staged
        days all NaN), ``prior`` the record's prior and count of the
        window's pixels, ``state`` the (h, c) of every patch position after
        the previous chunk (None: zero). Returns the filled days, their
        flags and the state after the last of them.
        """
        maps = cube_inputs(sm, precip, land, self.net.cfg, prior)
        rec, h, c = _blend_days(self.net, maps, days, origins, state, self.overlap, self.batch)
        filled, flag = _put_back(sm[days], rec, land)
        return filled, flag, (h, c)
