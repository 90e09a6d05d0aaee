import datetime as dt
import hashlib

import numpy as np
import xarray as xr

from sgdsm_dask.grid import Region
from sgdsm_dask.readers import read_imerg_day, read_lprm_day
from sgdsm_dask.staging.inventory import list_files
from sgdsm_dask.synth import physics
from sgdsm_dask.testing import SMALL_REGION, small_archive


def _truth(archive):
    return xr.open_zarr(archive / "truth.zarr", consolidated=False)


def test_files_in_real_layouts_and_missing_day_left_out(archive):
    lprm = list_files(str(archive / "lprm"))
    imerg = list_files(str(archive / "imerg"))
    assert len(imerg) == 10 and len(lprm) == 9  # 2015-04-05 was left out of the LPRM archive
    assert not any("20150405" in f for f in lprm)
    assert all("LPRM-AMSR2_L3_D_SOILM3_V001_" in f for f in lprm)


def test_retrievals_are_truth_seen_through_gaps(archive):
    truth = _truth(archive)
    files = sorted(list_files(str(archive / "lprm")))
    days = [i for i in range(10) if i != 4]  # 2015-04-05 is missing
    errs, pairs = [], []
    for f, i in zip(files, days, strict=True):
        obs = read_lprm_day(f, SMALL_REGION)
        t = truth.sm.isel(time=i).values
        cause = truth.gap_cause.isel(time=i).values
        seen = np.isfinite(obs)
        np.testing.assert_array_equal(seen, cause == physics.OBSERVED)
        e = np.where(seen, obs - t, np.nan)
        inner = seen & (obs > 0.0) & (obs < 0.99)  # drop-outs and saturations are not errors around the truth
        errs.append(e[inner])
        pairs.append(np.stack([e[:, :-1].ravel(), e[:, 1:].ravel()]))
    err = np.concatenate(errs)
    # Changed on purpose (docs/data.md, "The synthetic archive"): retrieval errors as large as LPRM's
    # (0.04 + 0.09 * sm, spatially correlated) instead of 0.025 white noise; the mean is over all
    # days because one day's correlated error over this small box does not average out.
    assert abs(err.mean()) < 0.01 and 0.04 < err.std() < 0.09
    pair = np.concatenate(pairs, axis=1)
    pair = pair[:, np.isfinite(pair).all(axis=0)]
    assert np.corrcoef(pair)[0, 1] > 0.6  # neighbours' errors are correlated (~3 cells), not white
    assert (
        np.isfinite(truth.sm.values[:, truth.land.values]).all()
        and np.isnan(truth.sm.values[:, ~truth.land.values]).all()
    )


def test_retrievals_drop_out_and_saturate_at_the_range_ends():
    # Six days over the Amazon and the Pantanal: wet soil, so both ends of LPRM's range occur.
    r = Region.from_bounds(-70, -25, -45, 0)
    statics = physics.static_fields(0)
    from sgdsm_dask.readers.landmask import land_mask

    land = land_mask(r)
    vals = []
    for k in range(6):
        day = dt.date(2016, 2, 1) + dt.timedelta(days=k)
        temp = physics.night_temperature(day, physics.LAT, 0)[r.slices]
        theta = np.where(land, 0.75, np.nan)
        sm, _, _ = physics.observe(day, r, "AMSR2", theta, land, temp, statics.vegetation[r.slices], 0)
        vals.append(sm[np.isfinite(sm)])
    v = np.concatenate(vals)
    assert 0.001 < (v == 0.0).mean() < 0.03 and 0.01 < (v >= 0.99 - 1e-6).mean() < 0.2
    assert v.min() >= 0.0 and v.max() <= 0.99 + 1e-6


def test_rain_in_files_is_the_truth_rain(archive):
    truth = _truth(archive)
    f = sorted(list_files(str(archive / "imerg")))[3]
    np.testing.assert_allclose(read_imerg_day(f, SMALL_REGION), truth.precip.isel(time=3).values, rtol=1e-5, atol=1e-4)


def test_soil_wets_with_rain_and_dries_without():
    statics = physics.static_fields(1)
    r = Region.from_bounds(10, 0, 12, 2)
    b = physics.Bucket(statics, r)
    s = b.initial()
    warm = np.full(r.shape, 295.0)
    wet = b.step(s, np.full(r.shape, 30.0), warm)
    assert (wet.theta > s.theta).all()
    dry = wet
    for _ in range(5):
        dry = b.step(dry, np.zeros(r.shape), warm)
    assert (dry.theta < wet.theta).all()
    frozen = b.step(dry, np.full(r.shape, 30.0), np.full(r.shape, 260.0))
    np.testing.assert_array_equal(frozen.theta, dry.theta)
    assert (dry.theta >= b.residual).all() and (wet.theta <= b.porosity).all()


def test_gaps_have_real_causes():
    # Northern winter: frozen ground in Siberia; orbit gaps at low latitudes; the Congo under dense vegetation.
    r = Region.from_bounds(-20, -10, 140, 70)
    statics = physics.static_fields(0)
    day = dt.date(2016, 1, 15)
    from sgdsm_dask.readers.landmask import land_mask

    land = land_mask(r)
    temp = physics.night_temperature(day, physics.LAT, 0)[r.slices]
    _, cause, over = physics.observe(
        day, r, "AMSR2", np.full(r.shape, 0.2), land, temp, statics.vegetation[r.slices], 0
    )
    lat = r.lat[:, None] * np.ones(r.shape)
    assert (cause[(lat > 60) & land] == physics.GAP_FROZEN).mean() > 0.8
    low = (np.abs(lat) < 20) & land
    assert 0.2 < (cause[low] == physics.GAP_ORBIT).mean() < 0.8
    assert (cause[land] == physics.GAP_VEGETATION).any()
    assert (over.scantime[over.seen] > 0).all()


def _digest(folder):
    h = hashlib.sha256()
    for f in sorted(list_files(str(folder / "lprm"))) + sorted(list_files(str(folder / "imerg"))):
        h.update(read_lprm_day(f, SMALL_REGION).tobytes() if "LPRM" in f else read_imerg_day(f, SMALL_REGION).tobytes())
    return h.hexdigest()


def test_deterministic_by_seed_and_regions_are_windows(tmp_path):
    a = small_archive(tmp_path / "a", days=3, seed=3)
    b = small_archive(tmp_path / "b", days=3, seed=3)
    c = small_archive(tmp_path / "c", days=3, seed=4)
    assert _digest(a) == _digest(b) != _digest(c)
    inner = Region.from_bounds(5, 42, 10, 46)
    d = small_archive(tmp_path / "d", days=3, seed=3, region=inner)
    big = _truth(a).sm.values
    small = _truth(d).sm.values
    r0, c0 = inner.row0 - SMALL_REGION.row0, inner.col0 - SMALL_REGION.col0
    np.testing.assert_allclose(small, big[:, r0 : r0 + inner.shape[0], c0 : c0 + inner.shape[1]], rtol=1e-5)
