import numpy as np

from sgdsm_dask.readers.regrid import ConservativeRegridder, overlap_matrix, regular_edges


def _edges(lo, hi, step):
    return np.round(np.arange(lo, hi + step / 2, step), 6)


def test_overlap_matrix_by_hand():
    w = overlap_matrix(_edges(0, 0.5, 0.1), np.array([0.0, 0.25, 0.5])).toarray()
    np.testing.assert_allclose(w, [[0.1, 0.1, 0.05, 0, 0], [0, 0, 0.05, 0.1, 0.1]], atol=1e-12)
    # descending edges give the same overlaps
    w2 = overlap_matrix(_edges(0, 0.5, 0.1)[::-1], np.array([0.5, 0.25, 0.0])).toarray()
    np.testing.assert_allclose(w2, w[::-1, ::-1], atol=1e-12)


def test_conserves_area_weighted_total_and_constants():
    rng = np.random.default_rng(0)
    src_lat = _edges(30, 45, 0.1)
    src_lon = _edges(-30, -15, 0.1)
    dst_lat = _edges(30, 45, 0.25)[::-1]  # north first, as the canonical grid
    dst_lon = _edges(-30, -15, 0.25)
    field = rng.gamma(0.5, 8.0, size=(src_lat.size - 1, src_lon.size - 1))
    rg = ConservativeRegridder(src_lat, src_lon, dst_lat, dst_lon)
    mean, cov = rg(field)
    np.testing.assert_allclose(cov, 1.0, atol=1e-9)
    total_src = np.sum(field * rg.src_area)
    total_dst = np.sum(mean.astype(np.float64) * rg.dst_area)
    assert abs(total_dst - total_src) / total_src < 1e-6
    const, _ = rg(np.full(field.shape, 3.5))
    np.testing.assert_allclose(const, 3.5, rtol=1e-6)
    # north-first output: the first row is the northernmost
    north_only = np.zeros_like(field)
    north_only[-5:, :] = 1.0  # source rows run south to north
    out, _ = rg(north_only)
    assert out[0].min() > 0.99 and out[-1].max() == 0


def test_block_mean_would_be_wrong_but_weights_are_area():
    # a cell of 2.5 fine cells: the middle fine cell counts half
    rg = ConservativeRegridder(_edges(0, 0.5, 0.1), _edges(0, 0.5, 0.1), np.array([0.25, 0.0]), np.array([0.0, 0.25]))
    f = np.zeros((5, 5))
    f[:, 2] = 10.0  # the straddling column
    out, _ = rg(f)
    np.testing.assert_allclose(out[0, 0], 10.0 * 0.05 / 0.25, rtol=1e-5)


def test_missing_source_cells_are_left_out_not_zero():
    rg = ConservativeRegridder(_edges(0, 0.5, 0.1), _edges(0, 0.5, 0.1), np.array([0.5, 0.0]), np.array([0.0, 0.5]))
    f = np.full((5, 5), 4.0)
    f[0, 0] = np.nan
    out, cov = rg(f)
    assert out[0, 0] == np.float32(4.0)
    assert 0.9 < cov[0, 0] < 1.0
    allnan, cov0 = rg(np.full((5, 5), np.nan))
    assert np.isnan(allnan).all() and (cov0 == 0).all()


def test_regular_edges():
    np.testing.assert_allclose(regular_edges(np.array([0.05, 0.15, 0.25])), [0, 0.1, 0.2, 0.3])
