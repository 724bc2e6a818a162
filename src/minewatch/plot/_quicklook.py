"""Quick-looks of one date (true colour, NDVI). Functions take ``ax=None`` and return the Axes;
extents are in the data's CRS units (m for UTM)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.lines import Line2D

from minewatch.indices import ndvi

__all__ = ["plot_ndvi", "plot_true_colour", "true_colour_rgb"]


def _extent(da: xr.DataArray) -> tuple[float, float, float, float]:
    left, bottom, right, top = da.rio.bounds()
    return (left, right, bottom, top)


def _new_axes(ax: Axes | None) -> Axes:
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(6, 6), layout="constrained")
    ax.ticklabel_format(style="plain", useOffset=False)
    return ax


def true_colour_rgb(scene: xr.DataArray, percentiles: tuple[float, float] = (2, 98)) -> np.ndarray:
    """An (y, x, 4) RGBA float image of red/green/blue, percentile-stretched; NaN → transparent.

    Parameters
    ----------
    scene
        Reflectance (band, y, x) with ``red``, ``green``, ``blue`` roles.
    percentiles
        Lower/upper percentile (over all three bands' valid pixels) mapped to 0 and 1.
    """
    rgb = np.stack([np.asarray(scene.sel(band=b), dtype=np.float32)
                    for b in ("red", "green", "blue")], axis=-1)
    valid = np.isfinite(rgb).all(axis=-1)
    if valid.any():
        lo, hi = np.nanpercentile(rgb[valid], percentiles)
    else:
        lo, hi = 0.0, 1.0
    scaled = np.clip((rgb - lo) / max(hi - lo, 1e-6), 0, 1)
    alpha = valid.astype(np.float32)[..., None]
    return np.concatenate([np.nan_to_num(scaled), alpha], axis=-1)


def plot_true_colour(scene: xr.DataArray, ax: Axes | None = None, *, title: str | None = None,
                     pools: gpd.GeoDataFrame | None = None,
                     clearings: gpd.GeoDataFrame | None = None) -> Axes:
    """True-colour quick-look of one date; masked pixels transparent. Returns the Axes.

    ``clearings`` and ``pools`` (GeoDataFrames in any CRS) are drawn as outlines: clearings in
    orange, pools in magenta (both visible on forest green and laterite).
    """
    ax = _new_axes(ax)
    ax.imshow(true_colour_rgb(scene), extent=_extent(scene), interpolation="nearest")
    crs = scene.rio.crs
    handles = []
    for frame, colour, label in ((clearings, "#E69F00", "clearing"), (pools, "#CC0099", "pool")):
        if frame is not None and len(frame):
            frame.to_crs(crs).boundary.plot(ax=ax, color=colour, linewidth=0.8)
            handles.append(Line2D([], [], color=colour, label=f"{label} ({len(frame)})"))
    if handles:
        ax.legend(handles=handles, loc="lower right", fontsize=8, framealpha=0.8)
    ax.set_title(title or "True colour")
    ax.set_xlabel("easting (m)")
    ax.set_ylabel("northing (m)")
    return ax


def plot_ndvi(scene: xr.DataArray, ax: Axes | None = None, *, title: str | None = None) -> Axes:
    """NDVI quick-look of one date (−0.2…0.9, colour-blind-safe 'viridis'). Returns the Axes."""
    ax = _new_axes(ax)
    values = np.asarray(ndvi(scene))
    image = ax.imshow(values, extent=_extent(scene), vmin=-0.2, vmax=0.9, cmap="viridis",
                      interpolation="nearest")
    ax.figure.colorbar(image, ax=ax, label="NDVI", shrink=0.8)
    ax.set_title(title or "NDVI")
    ax.set_xlabel("easting (m)")
    ax.set_ylabel("northing (m)")
    return ax
