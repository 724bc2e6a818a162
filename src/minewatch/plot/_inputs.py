"""Reading what maps are drawn from: GeoDataFrames (checked, dates parsed), rasters (GeoTIFF
paths or DataArrays) cut to the map's bounds, moved to its CRS and decimated for display."""

from __future__ import annotations

import math
from collections.abc import Sequence
from os import PathLike
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap
from pyproj import CRS

from minewatch.errors import InputError, MissingCRSError

Raster = str | PathLike[str] | xr.DataArray
Bounds = tuple[float, float, float, float]  # left, bottom, right, top (map CRS units)

_MAX_PX = 2200  # enough for 183 mm at 300 dpi

#: Where a background image has no data (outside the scenes' footprint).
NO_IMAGERY = "#D9D9D9"

#: NDVI under the map layers: greys, dark = green vegetation, light = bare ground, so that the
#: coloured layers (pools, clearings, sites) stand out on it.
NDVI_BACKGROUND = ListedColormap(colormaps["Greys"](np.linspace(0.08, 0.78, 256)),
                                 name="ndvi_greys")


def _frame(frame: gpd.GeoDataFrame | None, name: str) -> gpd.GeoDataFrame | None:
    if frame is None:
        return None
    if not isinstance(frame, gpd.GeoDataFrame):
        raise InputError(f"{name} must be a GeoDataFrame (got {type(frame).__name__}); read "
                         f"a layer with geopandas.read_file")
    if frame.crs is None and len(frame):
        raise MissingCRSError(f"{name} has no CRS; set it with {name}.set_crs(...)")
    frame = frame[~(frame.geometry.is_empty | frame.geometry.isna())]
    if "date" in frame.columns:
        frame = frame.assign(date=pd.to_datetime(frame["date"]).dt.normalize())
    for column in ("first_seen", "last_seen"):
        if column in frame.columns:
            frame = frame.assign(**{column: pd.to_datetime(frame[column])})
    return frame


def _raster_crs(source: Raster | None) -> CRS | None:
    if source is None:
        return None
    if isinstance(source, xr.DataArray):
        crs = source.rio.crs
    else:
        import rasterio

        path = Path(source)
        if not path.exists():
            raise InputError(f"{path}: no such raster (background/change map)")
        with rasterio.open(path) as src:
            crs = src.crs
    if crs is None:
        raise MissingCRSError(f"{source if not isinstance(source, xr.DataArray) else 'raster'} "
                              "has no CRS; write one with rio.write_crs()")
    return CRS.from_user_input(crs)


def _map_crs(frames: Sequence[gpd.GeoDataFrame | None], rasters: Sequence[Raster | None]
             ) -> CRS | None:
    """The projected CRS of the map: the first raster's, else the frames', else their UTM."""
    for raster in rasters:
        crs = _raster_crs(raster)
        if crs is not None and crs.is_projected:
            return crs
    for frame in frames:
        if frame is not None and frame.crs is not None:
            crs = CRS.from_user_input(frame.crs)
            if crs.is_projected:
                return crs
            if len(frame):
                return CRS.from_user_input(frame.estimate_utm_crs())
    for raster in rasters:
        crs = _raster_crs(raster)
        if crs is not None:  # geographic raster, no frames: its UTM zone
            return _utm_of_raster(raster, crs)
    return None


def _utm_of_raster(raster: Raster, crs: CRS) -> CRS:
    import rasterio
    from shapely import box

    if isinstance(raster, xr.DataArray):
        bounds = raster.rio.bounds()
    else:
        with rasterio.open(raster) as src:
            bounds = tuple(src.bounds)
    return CRS.from_user_input(gpd.GeoSeries([box(*bounds)], crs=crs).estimate_utm_crs())


def _read_raster(source: Raster, crs: CRS, bounds: Bounds | None, *, nearest: bool = False
                 ) -> tuple[np.ma.MaskedArray, Bounds, list[str]]:
    """(bands, y, x) masked values of ``source`` on the map CRS, within ``bounds``, decimated to
    at most ``_MAX_PX`` a side; its bounds; its band names."""
    if isinstance(source, xr.DataArray):
        return _read_dataarray(source, crs, bounds, nearest)
    import rasterio
    from rasterio import windows
    from rasterio.enums import Resampling
    from rasterio.vrt import WarpedVRT

    resampling = Resampling.nearest if nearest else Resampling.bilinear
    with rasterio.open(source) as src:
        same = CRS.from_user_input(src.crs) == crs
        dataset = src if same else WarpedVRT(src, crs=crs, resampling=resampling)
        try:
            full = windows.Window(0, 0, dataset.width, dataset.height)
            window = full
            if bounds is not None:
                window = windows.from_bounds(*bounds, transform=dataset.transform)
                window = window.round_offsets().round_lengths()
                try:
                    window = window.intersection(full)
                except Exception as err:  # WindowError: no overlap
                    raise InputError(f"{source}: does not overlap the map area {bounds}"
                                     ) from err
            scale = max(window.width, window.height) / _MAX_PX
            shape = (dataset.count, max(1, round(window.height / max(scale, 1))),
                     max(1, round(window.width / max(scale, 1))))
            data = dataset.read(window=window, out_shape=shape, masked=True,
                                resampling=resampling)
            left, bottom, right, top = windows.bounds(window, dataset.transform)
            names = [d or "" for d in dataset.descriptions]
        finally:
            if not same:
                dataset.close()
    return data, (left, bottom, right, top), names


def _read_dataarray(da: xr.DataArray, crs: CRS, bounds: Bounds | None, nearest: bool
                    ) -> tuple[np.ma.MaskedArray, Bounds, list[str]]:
    from rasterio.enums import Resampling

    if "time" in da.dims:
        if da.sizes["time"] != 1:
            raise InputError("a map background must be one date; select one with .isel(time=i)")
        da = da.isel(time=0)
    if da.rio.crs is None:
        raise MissingCRSError("raster DataArray has no CRS; write one with rio.write_crs()")
    if CRS.from_user_input(da.rio.crs) != crs:
        da = da.rio.reproject(crs, resampling=Resampling.nearest if nearest
                              else Resampling.bilinear)
    if bounds is not None:
        da = da.rio.clip_box(*bounds)
    step = max(1, math.ceil(max(da.sizes["x"], da.sizes["y"]) / _MAX_PX))
    if step > 1:
        da = da.isel(x=slice(None, None, step), y=slice(None, None, step))
    values = np.asarray(da.values)
    if values.ndim == 2:
        values = values[np.newaxis]
    names = [str(b) for b in da["band"].values] if "band" in da.dims else [""]
    mask = ~np.isfinite(values) if values.dtype.kind == "f" else np.zeros(values.shape, bool)
    nodata = da.rio.nodata
    if nodata is not None and not (isinstance(nodata, float) and math.isnan(nodata)):
        mask |= values == nodata
    left, bottom, right, top = da.rio.bounds()
    return np.ma.masked_array(values, mask), (left, bottom, right, top), names


def _background_image(source: Raster, crs: CRS, bounds: Bounds | None, kind: str
                      ) -> tuple[np.ndarray, Bounds, str]:
    """An RGBA image (true colour) or a masked 2-D array (NDVI) for the map background."""
    if kind not in ("auto", "rgb", "ndvi"):
        raise InputError(f"background_kind={kind!r}: use 'auto', 'rgb' or 'ndvi'")
    data, extent, names = _read_raster(source, crs, bounds)
    lower = [n.lower() for n in names]
    roles = {"red", "green", "blue", "nir"}
    if kind == "ndvi" or (kind == "auto" and data.shape[0] == 1):
        if data.shape[0] == 1:
            return data[0].astype("float32"), extent, "ndvi"
        if {"red", "nir"} <= set(lower):
            red = data[lower.index("red")].astype("float32")
            nir = data[lower.index("nir")].astype("float32")
            return (nir - red) / np.ma.maximum(nir + red, 1e-6), extent, "ndvi"
        raise InputError("background_kind='ndvi' needs one band (NDVI) or red and nir bands")
    if data.shape[0] < 3:
        raise InputError(f"a true-colour background needs 3 bands (got {data.shape[0]})")
    if roles & set(lower) >= {"red", "green", "blue"}:
        bands = [data[lower.index(b)] for b in ("red", "green", "blue")]
    else:
        bands = [data[i] for i in range(3)]
    mask = np.zeros(data.shape[1:], bool)
    for band in bands:
        mask |= np.ma.getmaskarray(band)
    if data.dtype == np.uint8:
        # 8-bit true colour (the analysis's imagery COGs): made in the RGBA image itself, a
        # band at a time (float32 v / 255, as the whole-array division gives)
        image = np.empty((*mask.shape, 4), "float32")
        for i, band in enumerate(bands):
            np.divide(band.filled(0), np.float32(255.0), out=image[..., i], dtype="float32")
        np.clip(image[..., :3], 0, 1, out=image[..., :3])
        image[..., 3] = ~mask
        return image, extent, "rgb"
    rgb = np.ma.stack(bands)
    values = np.asarray(rgb.filled(0), dtype="float32")
    valid = values[:, ~mask]
    lo, hi = np.percentile(valid, (2, 98)) if valid.size else (0.0, 1.0)
    scaled = (values - lo) / max(hi - lo, 1e-6)
    image = np.concatenate([np.clip(scaled, 0, 1), (~mask)[np.newaxis].astype("float32")])
    return np.moveaxis(image, 0, -1), extent, "rgb"


def _draw_background(ax: Axes, source: Raster, crs: CRS, bounds: Bounds | None, kind: str
                     ) -> tuple[Bounds, str, object]:
    image, (left, bottom, right, top), kind = _background_image(source, crs, bounds, kind)
    ax.set_facecolor(NO_IMAGERY)  # shows where the image has no data
    if kind == "rgb":
        artist = ax.imshow(image, extent=(left, right, bottom, top), interpolation="nearest",
                           zorder=0)
    else:
        artist = ax.imshow(image, extent=(left, right, bottom, top), interpolation="nearest",
                           cmap=NDVI_BACKGROUND, vmin=-0.2, vmax=0.9, zorder=0)
    return (left, bottom, right, top), kind, artist


def _raster_bounds(source: Raster, crs: CRS) -> Bounds:
    if isinstance(source, xr.DataArray):
        da = source if CRS.from_user_input(source.rio.crs) == crs else source.rio.reproject(crs)
        return tuple(da.rio.bounds())
    import rasterio
    from rasterio.warp import transform_bounds

    with rasterio.open(source) as src:
        return tuple(transform_bounds(src.crs, crs, *src.bounds))


def _data_bounds(frames: Sequence[gpd.GeoDataFrame | None], pad_fraction: float = 0.12,
                 min_pad: float = 150.0) -> Bounds | None:
    boxes = [f.total_bounds for f in frames if f is not None and len(f)]
    if not boxes:
        return None
    stacked = np.array(boxes)
    x0, y0 = stacked[:, 0].min(), stacked[:, 1].min()
    x1, y1 = stacked[:, 2].max(), stacked[:, 3].max()
    pad = max(pad_fraction * max(x1 - x0, y1 - y0), min_pad)
    return (x0 - pad, y0 - pad, x1 + pad, y1 + pad)


