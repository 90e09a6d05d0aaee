"""Conservative (area-weighted) regridding between regular lat/lon grids.

The weight of a source cell in a target cell is the area they share. On the
sphere a cell's area is proportional to ``dlon * d(sin lat)``, so the weights
factor into a latitude matrix (overlaps in ``sin lat``) and a longitude matrix
(overlaps in degrees). Both are sparse: a 0.25 deg cell touches at most four
0.1 deg cells along each axis (2.5 fine cells per coarse cell, so a plain
block mean would be wrong).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

#: Overlaps below this fraction of the destination interval are rounding, not shared area.
_TOUCH = 1e-9


def overlap_matrix(src_edges: np.ndarray, dst_edges: np.ndarray) -> sp.csr_matrix:
    """Lengths shared by each destination interval (rows) and source interval (columns).

    Both edge arrays must be monotonic, in either direction. Intervals that
    only touch (an overlap of rounding size) share nothing.
    """
    src = np.asarray(src_edges, dtype=np.float64)
    dst = np.asarray(dst_edges, dtype=np.float64)
    s_lo = np.minimum(src[:-1], src[1:])
    s_hi = np.maximum(src[:-1], src[1:])
    d_lo = np.minimum(dst[:-1], dst[1:])
    d_hi = np.maximum(dst[:-1], dst[1:])
    order = np.argsort(s_lo)
    s_lo_sorted = s_lo[order]
    s_hi_sorted = s_hi[order]
    rows, cols, vals = [], [], []
    first = np.searchsorted(s_hi_sorted, d_lo, side="right")
    last = np.searchsorted(s_lo_sorted, d_hi, side="left")
    for i in range(dst.size - 1):
        j = np.arange(first[i], last[i])
        if j.size == 0:
            continue
        ov = np.minimum(s_hi_sorted[j], d_hi[i]) - np.maximum(s_lo_sorted[j], d_lo[i])
        # Cells that only touch share a rounding error (5e-17), not an area: such a weight
        # would give a cell with no valid source of its own the value of its neighbour.
        keep = ov > _TOUCH * (d_hi[i] - d_lo[i])
        rows.append(np.full(int(keep.sum()), i))
        cols.append(order[j[keep]])
        vals.append(ov[keep])
    if not rows:
        return sp.csr_matrix((dst.size - 1, src.size - 1))
    return sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(dst.size - 1, src.size - 1),
    )


class ConservativeRegridder:
    """Area-weighted mean of a (lat, lon) field onto target cells.

    Parameters
    ----------
    src_lat_edges, src_lon_edges
        Source cell edges in degrees (monotonic, either direction).
    dst_lat_edges, dst_lon_edges
        Target cell edges in degrees.
    """

    def __init__(
        self,
        src_lat_edges: np.ndarray,
        src_lon_edges: np.ndarray,
        dst_lat_edges: np.ndarray,
        dst_lon_edges: np.ndarray,
    ) -> None:
        self.w_lat = overlap_matrix(np.sin(np.deg2rad(src_lat_edges)), np.sin(np.deg2rad(dst_lat_edges)))
        self.w_lon = overlap_matrix(src_lon_edges, dst_lon_edges)
        dst_area_lat = np.abs(np.diff(np.sin(np.deg2rad(np.asarray(dst_lat_edges, dtype=np.float64)))))
        dst_area_lon = np.abs(np.diff(np.asarray(dst_lon_edges, dtype=np.float64)))
        self.dst_area = np.outer(dst_area_lat, dst_area_lon)
        src_area_lat = np.abs(np.diff(np.sin(np.deg2rad(np.asarray(src_lat_edges, dtype=np.float64)))))
        src_area_lon = np.abs(np.diff(np.asarray(src_lon_edges, dtype=np.float64)))
        self.src_area = np.outer(src_area_lat, src_area_lon)

    def _apply(self, field: np.ndarray) -> np.ndarray:
        # (w_lon @ field.T).T is field @ w_lon.T with the sparse matrix on the left.
        return np.asarray(self.w_lat @ np.asarray(self.w_lon @ field.T).T)

    def __call__(self, field: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Regrid ``field`` (NaN = missing).

        Returns
        -------
        mean
            Area-weighted mean over the valid source area in each target cell
            (NaN where no valid source cell overlaps), float32.
        coverage
            Fraction of each target cell covered by valid source cells.
        """
        f = np.asarray(field, dtype=np.float64)
        valid = np.isfinite(f)
        num = self._apply(np.where(valid, f, 0.0))
        den = self._apply(valid.astype(np.float64))
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
        coverage = den / self.dst_area
        return mean.astype(np.float32), coverage


def regular_edges(centres: np.ndarray) -> np.ndarray:
    """Edges of cells with the given equally spaced centres."""
    c = np.asarray(centres, dtype=np.float64)
    if c.size < 2:
        raise ValueError("need at least two cell centres to infer edges")
    step = (c[-1] - c[0]) / (c.size - 1)
    return np.concatenate([c - step / 2, [c[-1] + step / 2]])
