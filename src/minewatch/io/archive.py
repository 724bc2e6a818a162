"""List the scenes of an archive (folder tree or STAC catalog): ``scan_archive``."""

from __future__ import annotations

import warnings
from os import PathLike
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pystac
import rasterio
from rasterio.enums import Resampling

from minewatch.errors import (
    EmptyArchiveError,
    InputError,
    MinewatchError,
    MinewatchWarning,
    TileReadError,
)
from minewatch.io._grid import raster_grid
from minewatch.io._scene import Scene
from minewatch.io.sensors import invalid_mask
from minewatch.io.stac import read_items, require_bands

__all__ = ["scan_archive"]

#: Side of the decimated grid used to estimate nodata and cloud fractions (pixels).
_PREVIEW_PX = 256

COLUMNS = [
    "scene_id",
    "date",
    "sensor",
    "crs",
    "resolution_m",
    "bands",
    "has_nir",
    "paths",
    "nodata_fraction",
    "cloud_fraction",
    "scene",
    "geometry",
]


def _preview(href: str, index: int, grid_shape: tuple[int, int]) -> np.ndarray:
    """A decimated read (overviews used when present) of one band, nearest neighbour.

    The output shape is ``grid_shape`` divided by the integer factor that brings its longer
    side to ≤ ``_PREVIEW_PX``: pass a band's full shape to decimate it, or an existing preview's
    shape to read another file onto the same preview grid.
    """
    height, width = grid_shape
    factor = max(1, int(np.ceil(max(height, width) / _PREVIEW_PX)))
    shape = (max(1, height // factor), max(1, width // factor))
    try:
        with rasterio.open(href) as src:
            return src.read(index, out_shape=shape, resampling=Resampling.nearest)
    except Exception as err:  # RasterioIOError, CPLE_* from GDAL drivers on corrupt pixels
        text = str(err).strip().splitlines()[0][:200] if str(err).strip() else type(err).__name__
        raise TileReadError(
            f"{href}: pixels could not be read ({text}); the file is truncated or corrupt — "
            "re-download or re-export it."
        ) from err


def _nodata(data: np.ndarray, nodata: float | None) -> np.ndarray:
    return (data == nodata) if nodata is not None else np.zeros(data.shape, bool)


def _fractions(scene: Scene) -> tuple[float, float]:
    """(nodata fraction, cloud fraction of the valid part), estimated on a decimated read."""
    band = scene.bands[0]
    grid = raster_grid(band.href)
    data = _preview(band.href, band.index, grid.shape)
    nodata = _nodata(data, band.nodata)
    nodata_fraction = float(nodata.mean())
    from minewatch.io.tiles import check_reflectance

    refl = data.astype(np.float32) * np.float32(band.scale) + np.float32(band.offset)
    check_reflectance(np.where(nodata, np.float32(np.nan), refl), band.href, [band.role])
    cloud_fraction = np.nan
    if scene.mask is not None:
        # The mask is read (nearest) onto the band preview's shape, whatever its resolution
        # (Sentinel-2 SCL is 20 m), so the two compare pixel for pixel.
        mgrid = raster_grid(scene.mask.href)
        if scene.mask.kind == "udm2":
            mask = np.stack(
                [_preview(scene.mask.href, i, data.shape) for i in range(1, mgrid.count + 1)]
            )
        else:
            mask = _preview(scene.mask.href, scene.mask.index, data.shape)
        flagged = invalid_mask(scene.mask.kind, mask)
        valid = ~nodata
        if valid.any():
            cloud_fraction = float((flagged & valid).sum() / valid.sum())
    elif "cloud_cover" in scene.properties:
        cloud_fraction = float(scene.properties["cloud_cover"]) / 100.0  # type: ignore[arg-type]
    return nodata_fraction, cloud_fraction


def _row(scene: Scene) -> dict[str, Any]:
    from minewatch.io.stack import scene_footprint

    grid = raster_grid(scene.bands[0].href)
    finest = min(raster_grid(b.href).resolution for b in scene.bands)
    nodata_fraction, cloud_fraction = _fractions(scene)
    epsg = grid.crs.to_epsg()
    return {
        "scene_id": scene.id,
        "date": scene.time,
        "sensor": scene.sensor,
        "crs": f"EPSG:{epsg}" if epsg else grid.crs.to_wkt(),
        "resolution_m": float(finest),
        "bands": ",".join(scene.roles),
        "has_nir": scene.has_nir,
        "paths": ";".join(scene.paths),
        "nodata_fraction": nodata_fraction,
        "cloud_fraction": cloud_fraction,
        "scene": scene,
        "geometry": scene_footprint(scene).to_crs("EPSG:4326").geom,
    }


def scan_archive(
    source: str | PathLike[str] | pystac.Catalog | pystac.ItemCollection | Any,
    *,
    sensor: str | None = None,
    bands: dict[str | int, str] | None = None,
) -> gpd.GeoDataFrame:
    """List the scenes of an archive: a folder tree, or a local STAC catalog / ItemCollection.

    Files of one scene (per-band COGs, Landsat ``SR_B*`` sets, ``.SAFE`` folders and zips,
    PlanetScope SR + UDM2) are grouped; the date comes from metadata, else from ``YYYYMMDD`` /
    ``YYYY-MM-DD`` in the name. Files that are not rasters or not recognised are skipped, each
    with its reason, listed in ``frame.attrs["skipped"]`` and reported in one warning.

    Parameters
    ----------
    source
        A folder, a ``catalog.json`` / ``collection.json`` / ItemCollection JSON path, or a pystac
        Catalog / ItemCollection / list of Items.
    sensor, bands
        Force a sensor profile / band mapping for every file of a folder (see
        :func:`minewatch.open_tile`).

    Returns
    -------
    geopandas.GeoDataFrame
        One row per scene, sorted by date: ``scene_id``, ``date`` (datetime64), ``sensor``,
        ``crs``, ``resolution_m`` (finest band, m), ``bands`` (roles), ``has_nir``, ``paths``
        (``;``-joined), ``nodata_fraction`` and ``cloud_fraction`` (0–1, estimated on a
        decimated read; cloud fraction of the valid part, NaN when unknown), ``scene`` (the
        :class:`~minewatch.io.Scene` record :func:`minewatch.load_stack` reads) and the footprint
        ``geometry`` in EPSG:4326.

    Raises
    ------
    EmptyArchiveError
        The folder or catalog holds no usable scene (the message lists what was skipped).

    Examples
    --------
    >>> import minewatch
    >>> scenes = minewatch.scan_archive("sample_tiles")
    >>> scenes[["sensor", "resolution_m"]].value_counts().sort_index()
    sensor       resolution_m
    planetscope  3.0             4
    sentinel2    10.0            5
    Name: count, dtype: int64
    """
    from minewatch.io.tiles import discover_scenes

    skipped: list[tuple[str, str]] = []
    label: str
    if isinstance(source, str | PathLike) and Path(source).is_dir():
        root = Path(source)
        label = str(root)
        scenes, skipped = discover_scenes(root, sensor=sensor, bands=bands)
    elif isinstance(source, str | PathLike) and not Path(source).exists():
        raise EmptyArchiveError(f"{source}: no such folder or catalog file.")
    else:
        label = str(source) if isinstance(source, str | PathLike) else type(source).__name__
        scenes = []
        for item in read_items(source):
            try:
                scenes.append(require_bands(item))
            except MinewatchError as err:
                skipped.append((item.id, str(err)))

    rows = []
    for scene in scenes:
        try:
            rows.append(_row(scene))
        except MinewatchError as err:
            skipped.append((";".join(scene.paths) or scene.id, str(err)))
    if skipped:
        warnings.warn(
            f"{label}: skipped {len(skipped)} file(s)/item(s): "
            + "; ".join(f"{p} ({why})" for p, why in skipped[:5])
            + (" ..." if len(skipped) > 5 else ""),
            MinewatchWarning,
            stacklevel=2,
        )
    if not rows:
        detail = f" Skipped: {'; '.join(f'{p} ({w})' for p, w in skipped[:5])}." if skipped else ""
        raise EmptyArchiveError(f"{label}: no usable scene found.{detail}")
    frame = gpd.GeoDataFrame(pd.DataFrame(rows, columns=COLUMNS), geometry="geometry",
                             crs="EPSG:4326")
    frame["date"] = pd.to_datetime(frame["date"])
    frame = frame.sort_values(["date", "scene_id"], kind="stable").reset_index(drop=True)
    if frame["scene_id"].duplicated().any():
        dupes = sorted(set(frame.loc[frame["scene_id"].duplicated(), "scene_id"]))
        raise InputError(
            f"{label}: scene ids occur twice ({', '.join(dupes[:5])}); the archive holds the "
            "same scene in two places — remove one copy."
        )
    frame.attrs["skipped"] = skipped
    return frame
