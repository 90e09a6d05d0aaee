import numpy as np
import pytest
import torch

from sgdsm_dask.errors import ConfigError
from sgdsm_dask.flags import Flag
from sgdsm_dask.model.fill import Filler
from sgdsm_dask.model.network import CONFIGS, LSTMCNN, ModelConfig, Normalisation, count_flops, get_config

SMALL = ModelConfig(name="small", width=4, feature=32, hidden=24, skip=True, memory_map=True)
PLAIN = ModelConfig(name="plain", width=4, feature=32, hidden=24)


def _inputs(n=3, t=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    s = torch.rand(n, t, 40, 40, generator=g)
    m = (torch.rand(n, t, 40, 40, generator=g) > 0.4).float()
    p = torch.rand(n, t, 40, 40, generator=g) * 3
    land = (torch.rand(n, 40, 40, generator=g) > 0.2).float()
    return s, m, p, land


def test_stepping_day_by_day_equals_the_sequence_call():
    torch.manual_seed(1)
    net = LSTMCNN(SMALL).eval()
    s, m, p, land = _inputs()
    with torch.no_grad():
        filled, raw, state = net(s, m, p, land)
        st = net.zero_state(3)
        for k in range(5):
            f, r, st = net.step(s[:, k : k + 1], m[:, k : k + 1], p[:, k : k + 1], land[:, None], st)
            torch.testing.assert_close(f, filled[:, k : k + 1])
            torch.testing.assert_close(r, raw[:, k : k + 1])
    torch.testing.assert_close(st.h, state.h)
    torch.testing.assert_close(st.c, state.c)
    # and a sequence cut in two, the state handed over, is the sequence in one call
    with torch.no_grad():
        f1, _, mid = net(s[:, :2], m[:, :2], p[:, :2], land)
        f2, _, end = net(s[:, 2:], m[:, 2:], p[:, 2:], land, mid)
    torch.testing.assert_close(torch.cat([f1, f2], 1), filled)
    torch.testing.assert_close(end.y, state.y)


def test_network_pass_through_and_state_carry():
    torch.manual_seed(2)
    net = LSTMCNN(SMALL).eval()
    s, m, p, land = _inputs()
    with torch.no_grad():
        filled, raw, _ = net(s, m, p, land)
        obs = (m > 0) & (land[:, None] > 0)
        assert torch.equal(filled[obs], s[obs])  # observed land pixels exactly
        assert torch.all(filled[land[:, None].expand_as(m) == 0] == 0)
        assert torch.all(raw >= 0)  # last ReLU: the physical lower bound
        # The state carries information: day 2 differs when day 1 differs.
        s2 = s.clone()
        s2[:, 0] += 0.5
        _, raw2, _ = net(s2, m, p, land)
        assert not torch.allclose(raw2[:, 1], raw[:, 1])
        # ... through (h, C) alone, in the paper's structure (SMALL also carries the memory map)
        plain = LSTMCNN(PLAIN).eval()
        _, raw, _ = plain(s, m, p, land)
        _, raw2, _ = plain(s2, m, p, land)
        assert not torch.equal(raw2[:, 1], raw[:, 1])  # day 2's own inputs are the same in both runs


def test_named_configurations_and_sizes():
    paper = get_config("paper")
    assert (paper.width, paper.hidden, paper.layers, paper.kernel, paper.patch) == (64, 2048, 4, 3, 40)
    net = LSTMCNN(paper)
    assert [pc.conv.out_channels for pc in net.encoder] == [64, 64, 64, 1]
    assert [pc.conv.out_channels for pc in net.decoder] == [64, 64, 64, 1]
    assert net.cell.gates.out_features == 5 * 2048
    assert net.decoder[0].in_channels == 1  # the paper's decoder sees only the FC map
    assert LSTMCNN(CONFIGS["default"]).decoder[0].in_channels == 3  # + today's observations + the past-observation mean
    assert count_flops(CONFIGS["default"]) < count_flops(paper)
    with pytest.raises(ConfigError, match="unknown model configuration"):
        get_config("huge")


def _filler(seed=3, cfg=SMALL, overlap=0):
    torch.manual_seed(seed)
    return Filler(LSTMCNN(cfg), Normalisation(sm_scale=0.25, precip_scale=2.0), overlap=overlap)


def _cube(t=6, h=50, w=80, seed=0):
    rng = np.random.default_rng(seed)
    sm = rng.uniform(0.05, 0.45, (t, h, w)).astype(np.float32)
    sm[rng.random((t, h, w)) < 0.5] = np.nan
    precip = rng.gamma(0.5, 4.0, (t, h, w)).astype(np.float32)
    land = rng.random((h, w)) > 0.3
    land[:, 40:] = False  # a sea strip: patches without land are skipped
    return sm, precip, land


def test_filler_keeps_observations_fills_land_and_flags():
    sm, precip, land = _cube()
    filled, flag, state = _filler().run(sm, precip, land)
    obs = np.isfinite(sm)
    assert np.array_equal(filled[obs], sm[obs])  # bit for bit
    gaps = ~obs & land[None]
    assert np.isfinite(filled[gaps]).all()
    assert np.all((filled[gaps] >= 0) & (filled[gaps] <= 1))
    assert np.isnan(filled[~obs & ~land[None]]).all()
    assert np.array_equal(flag == Flag.OBSERVED, obs)
    assert np.array_equal(flag == Flag.FILLED, gaps)
    assert np.array_equal(flag == Flag.NOT_FILLED, ~obs & ~land[None])
    assert state.h.shape == (2, 2, SMALL.hidden)
    assert not state.h[:, 1].any()  # the all-sea column of patches keeps a zero state


@pytest.mark.parametrize("overlap", [0, 8])
def test_filler_with_overlap_keeps_observations_and_fills_every_land_gap(overlap):
    sm, precip, land = _cube(h=75, w=90)
    f = _filler(overlap=overlap)
    filled, flag, state = f.run(sm, precip, land)
    obs, gaps = np.isfinite(sm), ~np.isfinite(sm) & land[None]
    assert np.array_equal(filled[obs], sm[obs]) and np.isfinite(filled[gaps]).all()
    assert np.array_equal(flag == Flag.FILLED, gaps)
    # 75 x 90 cells: edge to edge 2 x 3 patches, at stride 32 3 x 3; the last of each row and column
    # is moved back to end at the edge (origins 0, 35 / 0, 40, 50 and 0, 32, 35 / 0, 32, 50)
    assert state.h.shape[:2] == ((2, 3) if overlap == 0 else (3, 3))


@pytest.mark.parametrize("cfg", [SMALL, PLAIN], ids=["memory-map", "paper-structure"])
@pytest.mark.parametrize("overlap", [0, 8])
def test_filler_result_does_not_depend_on_time_chunks(cfg, overlap):
    sm, precip, land = _cube(t=7)
    f = _filler(cfg=cfg, overlap=overlap)
    whole, _, st_whole = f.run(sm, precip, land)
    a, _, st = f.run(sm[:3], precip[:3], land)
    b, _, st = f.run(sm[3:], precip[3:], land, st)
    np.testing.assert_allclose(np.concatenate([a, b]), whole, rtol=0, atol=1e-6)
    np.testing.assert_allclose(st.h, st_whole.h, atol=1e-6)


def test_missing_precipitation_is_unavailable_not_dry():
    sm, precip, land = _cube()
    f = _filler()
    none, _, _ = f.run(sm, None, land)
    nans, _, _ = f.run(sm, np.full_like(precip, np.nan), land)
    dry, _, _ = f.run(sm, np.zeros_like(precip), land)
    np.testing.assert_array_equal(none, nans)
    assert not np.allclose(none, dry, equal_nan=True)


def test_sample_warm_memory_is_the_networks_own_memory():
    # Training samples start the memory map from numpy (samples.past_observations); the network keeps it
    # in torch (LSTMCNN.step). Both must give the same mean and weight, for any decay.
    from sgdsm_dask.training.samples import past_observations

    cfg = SMALL.model_copy(update={"memory_decay": 0.8})
    net = LSTMCNN(cfg).eval()
    rng = np.random.default_rng(4)
    days = rng.uniform(0.05, 0.45, (6, 2, 40, 40)).astype(np.float32)
    days[rng.random(days.shape) < 0.5] = np.nan
    mean, weight = past_observations(days, cfg.memory_decay)
    state = net.zero_state(2)
    land = torch.ones(2, 1, 40, 40)
    with torch.no_grad():
        for day in days:
            obs = torch.from_numpy(np.isfinite(day)[:, None].astype(np.float32))
            s = torch.from_numpy(np.nan_to_num(day)[:, None])
            _, _, state = net.step(s, obs, torch.zeros_like(s), land, state)
    np.testing.assert_allclose(state.y[:, 0].numpy(), mean, atol=1e-6)
    np.testing.assert_allclose(state.y[:, 1].numpy(), weight, atol=1e-6)
