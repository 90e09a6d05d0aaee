import numpy as np
import pytest

from sgdsm_dask.grid import LAT, LON, Region, locate


def test_global_grid_matches_products():
    assert LAT[0] == 89.875 and LAT[-1] == -89.875 and LAT.size == 720
    assert LON[0] == -179.875 and LON[-1] == 179.875 and LON.size == 1440


def test_region_snaps_outwards_to_whole_cells():
    r = Region.from_bounds(0.1, 40.0, 20.0, 50.05)
    assert r.bounds == (0.0, 40.0, 20.0, 50.25)
    assert r.shape == (41, 80)
    assert np.allclose(r.lat[[0, -1]], [50.125, 40.125])


def test_region_parse_and_errors():
    assert Region.parse(None) == Region()
    assert Region.parse("-10,30,10,50").shape == (80, 80)
    with pytest.raises(ValueError, match="W,S,E,N"):
        Region.parse("10,30,-10,50")
    with pytest.raises(ValueError, match="four numbers"):
        Region.parse("1,2,3")


def test_locate_finds_region_and_rejects_other_grids():
    r = Region.from_bounds(-100, -20, -40, 10)
    assert locate(r.lat, r.lon) == r
    with pytest.raises(ValueError, match="0.25 deg grid"):
        locate(np.arange(89.75, -90, -0.5), np.arange(-179.75, 180, 0.5))
    with pytest.raises(ValueError, match="south to north"):
        locate(r.lat[::-1], r.lon)
