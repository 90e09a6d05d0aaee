"""The lazy (Dask) hiding and baselines give the numbers of the numpy ones, whatever the chunking."""

import dask
import dask.array as da
import numpy as np
import pytest
from dask.core import get_dependencies

from sgdsm_dask.validation import baselines, dctpls, lazy, simulated

nan = np.nan
#: Time, lat, lon chunks: 3- and 7-day chunks over 8- and 16-cell tiles, and the whole cube in one chunk.
CHUNKINGS = [(3, 8, 8), (7, 16, 16), (3, 16, 8), (-1, -1, -1)]


def gappy_cube(shape=(20, 30, 40), seed=0, smooth=False):
    """A soil-moisture cube with gaps in 5 x 5-cell patches (about 30 %) and on whole days (10 %), and a land mask.

    ``smooth``: a smooth field (waves in time and space) instead of noise, for DCT-PLS.
    """
    rng = np.random.default_rng(seed)
    t, h, w = shape
    if smooth:
        tt, yy, xx = np.ogrid[:t, :h, :w]
        field = 0.25 + 0.06 * np.sin(2 * np.pi * tt / 30 + yy / 9) * np.cos(xx / 11) + 0.03 * np.sin(xx / 7 + yy / 13)
    else:
        field = rng.uniform(0.05, 0.45, shape)
    coarse = rng.random((t, h // 5 + 1, w // 5 + 1)) < 0.3
    patches = coarse.repeat(5, axis=1).repeat(5, axis=2)[:, :h, :w]
    patches[rng.random(t) < 0.1] = True
    sm = np.where(patches, nan, field).astype(np.float32)
    sm[:, 0, 0] = nan  # a pixel never observed
    land = np.ones((h, w), bool)
    land[:6, :9] = False  # some sea
    return sm, land


@pytest.fixture(scope="module")
def cube():
    return gappy_cube()


@pytest.mark.parametrize("chunks", CHUNKINGS)
def test_hide_equals_numpy(cube, chunks):
    sm, land = cube
    x = da.from_array(sm, chunks=chunks)
    sm_in, hidden = lazy.hide(x, land, seed=4)
    want_in, want_hidden = simulated.hide(sm, land, seed=4)
    assert sm_in.chunks == x.chunks and hidden.chunks == x.chunks
    np.testing.assert_array_equal(hidden.compute(), want_hidden)
    np.testing.assert_array_equal(sm_in.compute(), want_in)
    assert sm_in.dtype == np.float32 and want_hidden.any()


def test_hide_is_the_same_for_any_chunking(cube):
    sm, land = cube
    masks = [
        lazy.hide(da.from_array(sm, chunks=c), land, seed=9)[1].compute()
        for c in [(1, 30, 40), (5, 11, 13), (19, 7, 40)]
    ]
    for m in masks[1:]:
        np.testing.assert_array_equal(m, masks[0])


def test_hide_reads_only_the_days_it_needs(cube):
    """An output chunk depends on the input chunks holding its own days and their other days, no more."""
    sm, land = cube
    x = da.from_array(sm, chunks=(3, 30, 40))
    hidden = lazy.hide(x, land, seed=2)[1]
    graph = dict(hidden.__dask_graph__())
    u = simulated.other_days(sm.shape[0], 2)

    def input_chunks(key):
        seen, todo = set(), [key]
        while todo:
            k = todo.pop()
            if k not in seen:
                seen.add(k)
                todo.extend(get_dependencies(graph, k))
        return {k[1] for k in seen if isinstance(k, tuple) and k[0] == x.name}

    for k in range(hidden.numblocks[0]):
        days = range(3 * k, min(3 * k + 3, sm.shape[0]))
        assert input_chunks((hidden.name, k, 0, 0)) == {k} | {int(u[d]) // 3 for d in days}


@pytest.mark.parametrize("chunks", CHUNKINGS)
def test_climatologies_equal_numpy(cube, chunks):
    sm, _ = cube
    x = da.from_array(sm, chunks=chunks)
    clim = lazy.pixel_climatology(x)
    want = baselines.pixel_climatology(sm)
    assert clim.chunks == x.chunks[1:] and clim.dtype == np.float32
    np.testing.assert_allclose(clim.compute(), want, rtol=1e-6)
    assert np.isnan(clim[0, 0].compute())
    for given in (want, da.from_array(want, chunks=5)):
        out = lazy.climatology(x, given)
        assert out.chunks == x.chunks
        np.testing.assert_array_equal(out.compute(), baselines.climatology(sm))


@pytest.mark.parametrize("chunks", CHUNKINGS)
def test_linear_in_time_equals_numpy_bit_for_bit(cube, chunks):
    sm, _ = cube
    x = da.from_array(sm, chunks=chunks)
    value, day = lazy.next_observed(x)
    assert value.chunks == x.chunks and day.chunks == x.chunks
    assert value.dtype == np.float32 and day.dtype == np.int32
    out = lazy.linear_in_time(x, value, day)
    assert out.chunks == x.chunks
    np.testing.assert_array_equal(out.compute(), baselines.linear_in_time(sm))
    np.testing.assert_array_equal(lazy.linear_in_time_all(x).compute(), baselines.linear_in_time(sm))


def test_linear_in_time_carries_across_chunks():
    """A pixel observed only on days 1 and 18 of 20, in 3-day chunks: the fill spans five chunks between them."""
    sm = np.full((20, 2, 3), nan, np.float32)
    sm[1, 1, 2], sm[18, 1, 2] = 0.1, 0.4
    x = da.from_array(sm, chunks=(3, 1, 2))
    value, day = dask.compute(*lazy.next_observed(x))
    np.testing.assert_array_equal(day[:, 1, 2], [1, 1] + [18] * 17 + [20])
    np.testing.assert_array_equal(value[:, 1, 2], np.array([0.1, 0.1] + [0.4] * 17 + [nan], np.float32))
    assert (day[:, 0, 0] == 20).all() and np.isnan(value[:, 0, 0]).all()
    out = lazy.linear_in_time(x, da.from_array(value, chunks=x.chunks), da.from_array(day, chunks=x.chunks)).compute()
    t = np.arange(20)
    want = np.clip(0.1 + (0.4 - 0.1) * (t - 1) / 17, 0.1, 0.4)
    np.testing.assert_allclose(out[:, 1, 2], want, rtol=1e-6)
    np.testing.assert_array_equal(out, baselines.linear_in_time(sm))
    assert np.isnan(out[:, 0]).all()


def test_linear_in_time_from_a_staged_store(cube, tmp_path):
    """The two steps, with next_observed written to a Zarr store and read back in between."""
    sm, _ = cube
    x = da.from_array(sm, chunks=(7, 16, 16))
    value, day = lazy.next_observed(x)
    da.to_zarr(value, str(tmp_path / "value.zarr"))
    da.to_zarr(day, str(tmp_path / "day.zarr"))
    staged = [da.from_zarr(str(tmp_path / f"{name}.zarr")) for name in ("value", "day")]
    np.testing.assert_array_equal(lazy.linear_in_time(x, *staged).compute(), baselines.linear_in_time(sm))


@pytest.mark.parametrize("chunks", CHUNKINGS)
@pytest.mark.parametrize("sigma", [0.5, 2.0, 6.0])  # 6: a radius of 18 cells, wider than an 8- or 16-cell chunk
def test_neighbour_anomaly_equals_numpy(cube, chunks, sigma):
    sm, _ = cube
    x = da.from_array(sm, chunks=chunks)
    clim = lazy.pixel_climatology(x)
    out = lazy.neighbour_anomaly(x, clim, sigma)
    assert out.chunks == x.chunks
    got, want = out.compute(), baselines.neighbour_anomaly(sm, sigma)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)


def test_dct_pls_in_one_block_is_the_whole_cube_fill(cube):
    sm, _ = cube
    out = lazy.dct_pls(da.from_array(sm, chunks=(7, 16, 16)), 1.0, 3.0)
    assert out.numblocks == (1, 1, 1)
    np.testing.assert_array_equal(out.compute(), dctpls.dct_pls_axes(sm, 1.0, 3.0))


def test_dct_pls_in_blocks_is_close_to_the_whole_cube_fill():
    """Blocks of 16 x 16 x 24 with halos of 8 on a 48 x 40 x 56 smooth cube: near the whole-cube fill.

    Measured (s = 1, r = 1): on the gap cells RMS 1.4e-5 and at most 2.0e-4
    from the whole-cube fill (the field's spread is 0.037); asserted with a margin of 5.
    """
    sm, _ = gappy_cube((48, 40, 56), seed=1, smooth=True)
    x = da.from_array(sm, chunks=(10, 20, 20))
    out = lazy.dct_pls(x, 1.0, 1.0, block=(16, 16, 24), halo=(8, 8, 8))
    assert out.chunks == ((16, 16, 16), (16, 16, 8), (24, 24, 8))
    got, whole = out.compute(), dctpls.dct_pls_axes(sm, 1.0, 1.0)
    obs = np.isfinite(sm)
    np.testing.assert_array_equal(got[obs], sm[obs])
    assert np.isfinite(got).all()
    diff = (got - whole)[~obs]
    assert np.sqrt(np.mean(diff**2)) < 1e-4 and np.abs(diff).max() < 1e-3
    assert np.abs(diff).max() > 0  # the blocks do see less than the whole cube
