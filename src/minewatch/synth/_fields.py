"""Smooth random raster fields on the world grid (terrain, texture, haze, clouds)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage


@dataclass(frozen=True)
class Field:
    """Values on a regular north-up grid of the world CRS, sampled by bilinear interpolation."""

    values: np.ndarray
    """(rows, cols) float32 values."""
    x0: float
    """World x of the left edge of column 0, m."""
    y0: float
    """World y of the top edge of row 0, m."""
    cell: float
    """Cell size, m."""
    wrap: bool = False
    """Repeat periodically outside the grid (texture) instead of extending the edge values."""

    def sample(self, x: np.ndarray, y: np.ndarray, dx: float = 0.0, dy: float = 0.0) -> np.ndarray:
        """Values at world coordinates ``(x - dx, y - dy)`` (same shape as ``x``)."""
        col = (np.asarray(x, np.float64) - dx - self.x0) / self.cell - 0.5
        row = (self.y0 - (np.asarray(y, np.float64) - dy)) / self.cell - 0.5
        out = ndimage.map_coordinates(
            self.values, [row.ravel(), col.ravel()], order=1,
            mode="grid-wrap" if self.wrap else "nearest",
        )
        return out.reshape(np.shape(x)).astype(np.float32)

    def sample_grid(self, x: np.ndarray, y: np.ndarray, dx: float = 0.0,
                    dy: float = 0.0) -> np.ndarray:
        """Values on the grid of 1-D ``x`` (columns) and ``y`` (rows): ``(len(y), len(x))``.

        The same numbers as ``sample(*np.meshgrid(x, y), dx, dy)``, computed separably: the
        weights of each row and column once, then the four neighbours summed in the order
        (and double precision) of :func:`scipy.ndimage.map_coordinates` at ``order=1``.
        """
        if self.wrap:  # rare (the fine texture, once): leave the wrapping to scipy
            xx, yy = np.meshgrid(x, y)
            return self.sample(xx, yy, dx, dy)
        col = (np.asarray(x, np.float64) - dx - self.x0) / self.cell - 0.5
        row = (self.y0 - (np.asarray(y, np.float64) - dy)) / self.cell - 0.5
        r0, r1, wr0, wr1 = _linear_weights(row, self.values.shape[0])
        c0, c1, wc0, wc1 = _linear_weights(col, self.values.shape[1])
        out = np.empty((len(row), len(col)), np.float32)
        step = max(1, 2**20 // max(1, len(col)))  # ~1 M values at a time: small temporaries
        for a in range(0, len(row), step):
            part = slice(a, a + step)
            total = None
            for r, wr in ((r0[part], wr0[part]), (r1[part], wr1[part])):
                rows = self.values[r]
                for c, wc in ((c0, wc0), (c1, wc1)):
                    term = rows[:, c].astype(np.float64)
                    term *= wr[:, None]
                    term *= wc[None, :]
                    if total is None:
                        total = term
                        total += 0.0  # the sum starts at +0.0, as in scipy
                    else:
                        total += term
            out[part] = total
        return out


def _linear_weights(cc: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                      np.ndarray]:
    """Neighbour indices and linear weights along one axis of ``n`` cells for the coordinates
    ``cc`` (mode ``nearest``), as :func:`scipy.ndimage.map_coordinates` computes them."""
    cc = np.where(cc < 0, 0.0, np.where(cc > n - 1, float(n - 1), cc))
    base = np.floor(cc)
    start = base.astype(np.intp)
    w0 = 1.0 - (cc - base)
    w1 = 1.0 - w0
    # past the last cell scipy reads the mirrored neighbour (with weight 0)
    nxt = np.where(start + 1 < n, start + 1, max(n - 2, 0))
    return start, nxt, w0, w1


def smooth_noise(
    rng: np.random.Generator, shape: tuple[int, int], sigma_cells: float, *, wrap: bool = False
) -> np.ndarray:
    """Gaussian-filtered white noise, rescaled to mean 0 and standard deviation 1 (float32)."""
    raw = rng.standard_normal(shape)
    out = ndimage.gaussian_filter(raw, sigma_cells, mode="wrap" if wrap else "reflect")
    out -= out.mean()
    out /= out.std() or 1.0
    return out.astype(np.float32)


def world_field(
    rng: np.random.Generator,
    bounds: tuple[float, float, float, float],
    cell: float,
    sigma_m: float,
) -> Field:
    """A smooth noise :class:`Field` (mean 0, std 1) covering ``bounds`` at ``cell`` m."""
    xmin, ymin, xmax, ymax = bounds
    cols = max(2, int(np.ceil((xmax - xmin) / cell)))
    rows = max(2, int(np.ceil((ymax - ymin) / cell)))
    return Field(smooth_noise(rng, (rows, cols), sigma_m / cell), xmin, ymax, cell)


def texture_field(rng: np.random.Generator, cell: float, sigma_m: float, size: int = 512) -> Field:
    """A periodic noise :class:`Field` (``size`` cells square, wraps) for fine texture."""
    return Field(smooth_noise(rng, (size, size), sigma_m / cell, wrap=True), 0.0, 0.0, cell,
                 wrap=True)


def hillshade(dem: Field, azimuth_deg: float, zenith_deg: float) -> Field:
    """Illumination factor (1 on flat ground) of a DEM for a sun at azimuth/zenith (degrees)."""
    gy, gx = np.gradient(dem.values.astype(np.float64), dem.cell)
    # gradient rows increase southwards: dz/dnorth = -gy
    slope = np.arctan(np.hypot(gx, gy))
    aspect = np.arctan2(-gx, gy)  # direction the slope faces, clockwise from north
    az, zen = np.radians(azimuth_deg), np.radians(zenith_deg)
    cos_i = np.cos(zen) * np.cos(slope) + np.sin(zen) * np.sin(slope) * np.cos(az - aspect)
    factor = np.clip(cos_i / np.cos(zen), 0.25, 1.5)
    return Field(factor.astype(np.float32), dem.x0, dem.y0, dem.cell)
