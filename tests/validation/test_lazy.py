"""DCT-PLS on a moving window (Dask): the whole-cube fill in one block, close to it in many."""

import dask.array as da
import numpy as np
import pytest

from sgdsm_dask.validation import dctpls, lazy

nan = np.nan


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
