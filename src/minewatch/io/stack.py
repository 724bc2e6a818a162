"""Stack many scenes on one grid over an area of interest: ``load_stack``.

Reprojection, resampling, same-day mosaicking and lazy dask loading are odc-stac's job
(``odc.stac.load`` on a :class:`odc.geo.geobox.GeoBox`); minewatch only describes each scene as
a STAC item (one asset per band role), then turns digital numbers into reflectance and masks
clouds per sensor. Scenes in different UTM zones land on one grid because odc-stac warps every
source onto the requested GeoBox.
"""

from __future__ import annotations

import contextlib
import warnings
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping, Sequence
from os import PathLike
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import odc.stac
import pandas as pd
import pystac
import rioxarray  # noqa: F401  (registers the .rio accessor)
import shapely
import xarray as xr
from odc.geo import geom as odc_geom
from odc.geo.geobox import GeoBox
from rasterio.crs import CRS

from minewatch.errors import (
    DateError,
    EmptyArchiveError,
    EmptySceneWarning,
    GridError,
    InputError,
    MinewatchError,
    MinewatchWarning,
    NoOverlapError,
    SparseSceneWarning,
    TileReadError,
)
from minewatch.io._grid import raster_grid
from minewatch.io._scene import BandSource, Scene, role_sort_key
from minewatch.io.sensors import invalid_mask

__all__ = ["load_stack", "read_aoi", "scene_footprint"]

#: Dates with a valid fraction above 0 but below this are kept with a SparseSceneWarning.
SPARSE_FRACTION = 0.01

_PROJ_EXT = "https://stac-extensions.github.io/projection/v1.1.0/schema.json"
_RASTER_EXT = "https://stac-extensions.github.io/raster/v1.1.0/schema.json"

AOILike = Any  # shapely geometry, GeoDataFrame/GeoSeries, odc Geometry, vector file path


def read_aoi(aoi: AOILike, aoi_crs: Any = None) -> odc_geom.Geometry:
    """Turn any AOI input into one :class:`odc.geo.geom.Geometry` with a CRS.

    Parameters
    ----------
    aoi
        A shapely geometry (lon/lat EPSG:4326 unless ``aoi_crs`` says otherwise), a GeoDataFrame
        or GeoSeries (its own CRS; features are unioned), an ``odc.geo`` Geometry, a GeoJSON-like
        mapping, or the path of any vector file GDAL reads (GeoPackage, GeoJSON, Shapefile...).
    aoi_crs
        CRS of a bare shapely geometry or mapping. Default EPSG:4326.

    Returns
    -------
    odc.geo.geom.Geometry

    Raises
    ------
    InputError
        Empty AOI (no feature, empty geometry, no area), a file that can't be read or has no
        CRS, or a bare geometry whose coordinates are not lon/lat while no ``aoi_crs`` is given.
        Messages name the AOI file.

    Warns
    -----
    MinewatchWarning
        An invalid (self-intersecting) polygon was repaired with :func:`shapely.make_valid`.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> read_aoi(box(98.3, 25.7, 98.32, 25.72)).crs.epsg
    4326
    """
    return _read_aoi(aoi, aoi_crs, _aoi_label(aoi))


def _aoi_label(aoi: AOILike) -> str:
    """How messages name the AOI: its file, or its kind."""
    if isinstance(aoi, str | PathLike):
        return f"AOI file {aoi}"
    return f"the AOI ({type(aoi).__name__})"


def _read_aoi(aoi: AOILike, aoi_crs: Any, label: str) -> odc_geom.Geometry:
    if isinstance(aoi, odc_geom.Geometry):
        geometry = aoi
    elif isinstance(aoi, str | PathLike):
        path = Path(aoi)
        try:
            frame = gpd.read_file(path)
        except Exception as err:  # pyogrio raises several types; all mean "unreadable"
            raise InputError(f"{path}: cannot be read as a vector AOI file ({err}).") from err
        if frame.crs is None:
            raise InputError(f"{path}: the AOI file has no CRS; set one (e.g. in QGIS) and retry.")
        return _read_aoi(frame, None, label)
    elif isinstance(aoi, gpd.GeoDataFrame | gpd.GeoSeries):
        if aoi.crs is None:
            raise InputError(
                f"{label[0].upper()}{label[1:]} has no CRS; call .set_crs(...) on it first."
            )
        if len(aoi) == 0 or aoi.geometry.isna().all():
            raise InputError(f"{label[0].upper()}{label[1:]} is empty: it has no geometry.")
        union = shapely.union_all(np.asarray(aoi.geometry.values))
        geometry = odc_geom.Geometry(union, crs=aoi.crs)
    else:
        shape = shapely.geometry.shape(aoi) if isinstance(aoi, Mapping) else aoi
        if not isinstance(shape, shapely.Geometry):
            raise InputError(
                f"Unsupported AOI of type {type(aoi).__name__}: pass a shapely geometry, a "
                "GeoDataFrame, an odc.geo Geometry or a vector file path."
            )
        crs = aoi_crs if aoi_crs is not None else "EPSG:4326"
        if aoi_crs is None and not shape.is_empty:
            minx, miny, maxx, maxy = shape.bounds
            if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
                raise InputError(
                    f"AOI bounds {tuple(round(v, 3) for v in shape.bounds)} are not lon/lat; "
                    "pass aoi_crs= (e.g. 'EPSG:32647') or a GeoDataFrame with its CRS."
                )
        geometry = odc_geom.Geometry(shape, crs=crs)
    cap = label[0].upper() + label[1:]
    if geometry.geom.is_empty:
        raise InputError(f"{cap} is empty.")
    if geometry.geom.is_valid and geometry.geom.area == 0:
        raise InputError(f"{cap} has no area (a point or a line); buffer it first.")
    if not geometry.geom.is_valid:
        # Self-intersections from hand-drawn polygons: repair (and say so) instead of failing.
        reason = shapely.is_valid_reason(geometry.geom)
        fixed = shapely.make_valid(geometry.geom)
        if not isinstance(fixed, shapely.Polygon | shapely.MultiPolygon):
            # make_valid may return a collection holding lines: keep the polygonal parts
            parts = [g for g in getattr(fixed, "geoms", [fixed])
                     if isinstance(g, shapely.Polygon | shapely.MultiPolygon)]
            fixed = shapely.union_all(parts) if parts else shapely.Polygon()
        if fixed.is_empty or fixed.area == 0:
            raise InputError(f"{cap} is invalid ({reason}) and has no area once repaired (a "
                             "point, a line or a degenerate polygon); redraw or buffer it.")
        warnings.warn(
            f"{cap} was invalid ({reason}); repaired with shapely.make_valid: "
            f"{geometry.geom.area:.6g} → {fixed.area:.6g} square CRS units. Check the result, "
            "or fix the polygon (e.g. QGIS 'Fix geometries').",
            MinewatchWarning,
            stacklevel=3,
        )
        geometry = odc_geom.Geometry(fixed, crs=geometry.crs)
    return geometry


def scene_footprint(scene: Scene) -> odc_geom.Geometry:
    """Footprint of a scene (the bounds of its first band) in the scene's CRS."""
    grid = raster_grid(scene.bands[0].href)
    return odc_geom.box(*grid.bounds, crs=grid.crs)


def _as_scenes(scenes: Any) -> list[Scene]:
    """Accept a scan_archive frame, Scenes, STAC items, paths or a folder."""
    from minewatch.io.stac import item_to_scene
    from minewatch.io.tiles import discover_scenes, resolve_scene

    if isinstance(scenes, gpd.GeoDataFrame | pd.DataFrame):
        if "scene" not in scenes.columns:
            raise InputError(
                "The scenes table has no 'scene' column; pass the GeoDataFrame returned by "
                "minewatch.scan_archive, or a list of paths."
            )
        return list(scenes["scene"])
    if isinstance(scenes, Scene | pystac.Item):
        scenes = [scenes]
    if isinstance(scenes, str | PathLike):
        root = Path(scenes)
        if root.is_dir():
            found, _ = discover_scenes(root)
            if not found:
                raise EmptyArchiveError(f"{root}: no scene found in this folder.")
            return found
        return [resolve_scene(root)]
    out: list[Scene] = []
    for entry in scenes:
        if isinstance(entry, Scene):
            out.append(entry)
        elif isinstance(entry, pystac.Item):
            out.append(item_to_scene(entry))
        else:
            out.append(resolve_scene(entry))
    return out


def _load_item(scene: Scene) -> pystac.Item:
    """A STAC item odc-stac can load: one single-band asset per role (+ mask assets).

    Bands inside multi-band files are addressed with GDAL's ``vrt://path?bands=N`` connection
    string, so every role is its own single-band asset whatever the file layout.
    """
    if scene.time is None:
        raise DateError(
            f"{scene.id}: no acquisition date could be found for this scene "
            f"({', '.join(scene.paths) or 'no path'}); put YYYYMMDD in its file name (dates "
            "before 1972-07-23 or after tomorrow are not taken as acquisition dates)."
        )
    assets: dict[str, pystac.Asset] = {}

    def _asset(href: str, index: int, nodata: float | None) -> pystac.Asset:
        grid = raster_grid(href)
        href = _absolute(href)
        if grid.count > 1:
            href = f"vrt://{href}?bands={index}"
        raster_band: dict[str, Any] = {"data_type": grid.dtype}
        if nodata is not None:
            raster_band["nodata"] = nodata
        return pystac.Asset(
            href=href,
            media_type=pystac.MediaType.GEOTIFF,
            roles=["data"],
            extra_fields={
                "proj:epsg": grid.crs.to_epsg(),
                "proj:wkt2": grid.crs.to_wkt(),
                "proj:shape": [grid.height, grid.width],
                "proj:transform": list(grid.transform)[:6],
                "raster:bands": [raster_band],
            },
        )

    first = raster_grid(scene.bands[0].href)
    for href in [b.href for b in scene.bands] + ([scene.mask.href] if scene.mask else []):
        other = raster_grid(href)
        if other.crs != first.crs:
            raise GridError(
                f"{scene.id}: the files of one scene must share one CRS, but {href} is in "
                f"{_crs_name(other.crs)} and {scene.bands[0].href} in {_crs_name(first.crs)}; "
                "reproject the odd one (gdalwarp -t_srs ...) or re-download the scene."
            )
    for band in scene.bands:
        assets[band.role] = _asset(band.href, band.index, band.nodata)
    if scene.mask is not None:
        grid = raster_grid(scene.mask.href)
        if scene.mask.kind == "udm2":
            for i in range(1, grid.count + 1):
                assets[f"_mask{i}"] = _asset(scene.mask.href, i, None)
        else:
            nodata = {"scl": 0, "qa_pixel": 1}.get(scene.mask.kind)
            assets["_mask1"] = _asset(scene.mask.href, scene.mask.index, nodata)

    footprint = scene_footprint(scene).to_crs("EPSG:4326")
    geometry = footprint.geom
    item = pystac.Item(
        id=scene.id,
        geometry=shapely.geometry.mapping(geometry),
        bbox=list(geometry.bounds),
        datetime=scene.time.to_pydatetime(),
        properties={},
        stac_extensions=[_PROJ_EXT, _RASTER_EXT],
    )
    for key, asset in assets.items():
        item.add_asset(key, asset)
    return item


def _crs_name(crs: CRS) -> str:
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else crs.to_wkt()[:80]


def _absolute(href: str) -> str:
    """odc-stac needs absolute hrefs: resolve local paths, also inside ``/vsizip/`` etc."""
    if "://" in href:
        return href
    if href.startswith("/vsi"):
        prefix, _, rest = href[1:].partition("/")
        if rest and not rest.startswith("/"):
            return f"/{prefix}/{Path(rest).absolute()}"
        return href
    return str(Path(href).absolute())


def _radiometry_key(scene: Scene) -> tuple:
    """Scenes with equal keys convert DN to reflectance the same way and load together."""
    return (
        scene.sensor,
        tuple((b.role, b.scale, b.offset, b.nodata) for b in scene.bands),
        scene.mask.kind if scene.mask else None,
    )


def _to_reflectance(dn: xr.DataArray, band: BandSource) -> xr.DataArray:
    """DN → float32 reflectance, nodata → NaN (xarray drops nothing lazy)."""
    refl = dn.astype(np.float32) * np.float32(band.scale) + np.float32(band.offset)
    if band.nodata is not None and not np.isnan(band.nodata):
        refl = refl.where(dn != band.nodata)
    if np.issubdtype(dn.dtype, np.floating):
        refl = refl.where(~np.isinf(refl))  # ±inf is no reflectance: invalid (NaN)
    return refl.astype(np.float32)


def _load_group(
    scenes: Sequence[Scene],
    geobox: GeoBox,
    *,
    chunks: Mapping[str, int] | None,
    resampling: str,
    groupby: str,
    mask_clouds: bool,
) -> xr.DataArray:
    items = [_load_item(s) for s in scenes]
    first = scenes[0]
    mask_keys = sorted({k for it in items for k in it.assets if k.startswith("_mask")})
    roles = [b.role for b in first.bands]
    resampling_map = {"*": resampling, **{k: "nearest" for k in mask_keys}}
    ds = odc.stac.load(
        items,
        bands=roles + mask_keys,
        geobox=geobox,
        chunks=dict(chunks) if chunks is not None else None,
        groupby=groupby,
        resampling=resampling_map,
        fail_on_error=True,
    )
    layers = [_to_reflectance(ds[b.role], b) for b in first.bands]
    stack = xr.concat(layers, dim="band").assign_coords(band=np.array(roles, dtype=str))
    if mask_clouds and first.mask is not None and mask_keys:
        if first.mask.kind == "udm2":
            mask_data = xr.concat([ds[k] for k in mask_keys], dim="udm2_band")
            invalid = _udm2_invalid(mask_data)
        else:
            invalid = xr.apply_ufunc(
                lambda a: invalid_mask(first.mask.kind, a),
                ds[mask_keys[0]],
                dask="parallelized",
                output_dtypes=[bool],
            )
        stack = stack.where(~invalid)
    stack = stack.transpose("time", "band", "y", "x").astype(np.float32)
    # Scene ids and sensor per time step (after same-day grouping several ids join).
    times = stack["time"].values
    ids_per_time = _ids_per_time(scenes, times)
    stack = stack.assign_coords(
        scene_id=("time", ids_per_time),
        sensor=("time", [first.sensor] * len(times)),
    )
    return stack


def _udm2_invalid(mask_data: xr.DataArray) -> xr.DataArray:
    """Decode UDM2 (bands stacked on ``udm2_band``) with the sensor module's rules."""
    data = mask_data.transpose("udm2_band", ...)
    return xr.DataArray(
        invalid_mask("udm2", data.data),
        dims=data.dims[1:],
        coords={k: v for k, v in data.coords.items() if "udm2_band" not in v.dims},
    )


def _ids_per_time(scenes: Sequence[Scene], times: np.ndarray) -> list[str]:
    by_day: dict[np.datetime64, list[str]] = defaultdict(list)
    for s in scenes:
        by_day[np.datetime64(s.time.normalize(), "D")].append(s.id)
    # each time step carries the time of one of its scenes, so its UTC day is a key
    return [",".join(sorted(by_day[np.datetime64(pd.Timestamp(t).normalize(), "D")]))
            for t in times]


def _default_crs(scenes: Sequence[Scene], aoi: odc_geom.Geometry) -> CRS:
    """The CRS of most overlapping scenes; ties → the zone holding the AOI centre."""
    counts = Counter(raster_grid(s.bands[0].href).crs.to_wkt() for s in scenes)
    best = counts.most_common()
    top = [wkt for wkt, n in best if n == best[0][1]]
    if len(top) == 1:
        return CRS.from_wkt(top[0])
    centre = aoi.centroid.to_crs("EPSG:4326").geom
    for wkt in top:
        crs = CRS.from_wkt(wkt)
        epsg = crs.to_epsg() or 0
        if 32601 <= epsg <= 32660 or 32701 <= epsg <= 32760:
            zone = epsg % 100
            if -180 + (zone - 1) * 6 <= centre.x < -180 + zone * 6:
                return crs
    return CRS.from_wkt(top[0])


def load_stack(
    scenes: Any,
    aoi: AOILike = None,
    *,
    resolution: float | None = None,
    crs: Any = None,
    chunks: int | Mapping[str, int] | None = 2048,
    resampling: str = "bilinear",
    groupby: str = "solar_day",
    mask_clouds: bool = True,
    skip_empty: bool = True,
    aoi_crs: Any = None,
    verify: bool = True,
) -> xr.DataArray:
    """Load scenes as one reflectance cube (time, band, y, x) on a common grid over an AOI.

    Every scene is reprojected and resampled by odc-stac onto one GeoBox, scenes of the same
    (solar) day are mosaicked (first valid pixel wins), clouds and nodata are masked as NaN, and
    the result stays lazy (dask) so an archive larger than memory streams through.

    Parameters
    ----------
    scenes
        The GeoDataFrame returned by :func:`minewatch.scan_archive`, a list of
        :class:`~minewatch.io.Scene`, STAC items (``pystac.ItemCollection``), file paths, or a
        folder (scanned).
    aoi
        Area of interest: shapely geometry (lon/lat), GeoDataFrame, odc Geometry or vector file.
        ``None``: the union of all scene footprints.
    resolution
        Output pixel size in units of ``crs`` (m for UTM). Default: the finest band of the
        scenes (10 m for Sentinel-2, 3 m for PlanetScope).
    crs
        Output CRS. Default: the CRS shared by most scenes (ties: the UTM zone of the AOI
        centre), so Kachin archives spanning UTM 46N and 47N land on one grid.
    chunks
        Dask chunk size in pixels along x and y (int) or a mapping ``{"x": .., "y": ..}``;
        ``None`` loads eagerly into memory.
    resampling
        GDAL resampling for reflectance bands (masks always use ``nearest``).
    groupby
        How scenes merge into one time step: ``"solar_day"`` (mosaic same-day tiles), ``"time"``
        or ``"id"`` (see :func:`odc.stac.load`).
    mask_clouds
        Mask clouds, shadows, cirrus and snow from SCL / QA_PIXEL / UDM2 when present.
    skip_empty
        Drop time steps with no valid pixel over the AOI, warning with
        :class:`~minewatch.errors.EmptySceneWarning`; keep those with less than 1 % valid
        pixels, warning with :class:`~minewatch.errors.SparseSceneWarning`. This computes a
        per-date valid count (see ``verify``); pass ``False`` to keep the result fully lazy.
    aoi_crs
        CRS of a bare shapely ``aoi`` when it is not lon/lat.
    verify
        With ``skip_empty``, count valid pixels over every band, which reads every file, so
        that a truncated or corrupt file raises :class:`~minewatch.errors.TileReadError` here.
        ``False`` counts them on the first band only (and on all bands for a date where it
        has none): about 2.6 × faster on a 12-date Sentinel-2 archive, and a broken file of
        another band is found when the stack is computed (:func:`minewatch.analyze` passes
        ``False``: it finds such a file then, and skips its scene).

    Returns
    -------
    xarray.DataArray
        ``reflectance`` (float32, 0–1, NaN where masked) with dims (time, band, y, x), band
        roles as the ``band`` coordinate, per-time coordinates ``scene_id``, ``sensor`` and
        ``valid_fraction`` (when ``skip_empty``), CRS via ``.rio.crs``.

    Raises
    ------
    EmptyArchiveError
        No scene given.
    NoOverlapError
        No scene overlaps the AOI (the message names the AOI, its bounds, the archive's extent
        and the scenes' extents).
    GridError
        The files of one scene are in different CRSs (scenes in different CRSs are fine).
    TileReadError
        A file's pixels cannot be read (truncated or corrupt), when pixels are read here:
        ``chunks=None``, or ``skip_empty=True`` with ``verify=True`` (with ``verify=False``,
        for the first band only). (A lazy stack read later raises odc-stac's error at compute
        time.)

    Examples
    --------
    >>> import minewatch
    >>> scenes = minewatch.scan_archive("sample_tiles")
    >>> s2 = scenes[scenes.sensor == "sentinel2"]
    >>> stack = minewatch.load_stack(s2, "sample_tiles/aoi.geojson")
    >>> dict(stack.sizes)
    {'time': 5, 'band': 6, 'y': 121, 'x': 121}
    >>> nir = stack.sel(band="nir").mean(["y", "x"]).compute()  # one value per date
    >>> bool(((nir > 0.1) & (nir < 0.3)).all())
    True
    """
    scene_list = _as_scenes(scenes)
    if not scene_list:
        raise EmptyArchiveError("load_stack got no scene; the archive or list is empty.")
    footprints = {s.id: scene_footprint(s) for s in scene_list}
    if aoi is None:
        crs0 = next(iter(footprints.values())).crs
        area = odc_geom.unary_union([f.to_crs(crs0) for f in footprints.values()])
    else:
        area = read_aoi(aoi, aoi_crs)

    overlapping, outside = [], []
    for s in scene_list:
        fp = footprints[s.id]
        (overlapping if fp.intersects(area.to_crs(fp.crs)) else outside).append(s)
    if not overlapping:
        boxes = {s.id: footprints[s.id].to_crs(4326).boundingbox for s in scene_list}
        extents = "; ".join(f"{sid} {tuple(round(v, 4) for v in box)}"
                            for sid, box in list(boxes.items())[:5])
        whole = (min(b[0] for b in boxes.values()), min(b[1] for b in boxes.values()),
                 max(b[2] for b in boxes.values()), max(b[3] for b in boxes.values()))
        aoi_box = tuple(round(v, 4) for v in area.to_crs(4326).boundingbox)
        raise NoOverlapError(
            f"No scene overlaps {_aoi_label(aoi)}: AOI lon/lat bounds {aoi_box}, archive "
            f"extent {tuple(round(v, 4) for v in whole)} ({len(scene_list)} scene(s)). Scene "
            f"extents: {extents}. Check the AOI's CRS and that the archive covers it."
        )
    if outside:
        warnings.warn(
            f"{len(outside)} scene(s) do not overlap the AOI and were skipped: "
            + ", ".join(s.id for s in outside[:10]),
            MinewatchWarning,
            stacklevel=2,
        )

    out_crs = CRS.from_user_input(crs) if crs is not None else _default_crs(overlapping, area)
    if resolution is None:
        grids = [raster_grid(b.href) for s in overlapping for b in s.bands]
        projected = [g.resolution for g in grids if g.crs.is_projected]
        if not projected:
            raise InputError("Cannot infer a resolution in metres; pass resolution= and crs=.")
        resolution = min(projected)
    geobox = GeoBox.from_geopolygon(area.to_crs(out_crs), resolution=resolution)
    if isinstance(chunks, int):
        chunk_map: Mapping[str, int] | None = {"x": chunks, "y": chunks}
    else:
        chunk_map = chunks

    groups: dict[tuple, list[Scene]] = defaultdict(list)
    for s in overlapping:
        groups[_radiometry_key(s)].append(s)
    with _reading(overlapping):
        parts = [
            _load_group(
                members,
                geobox,
                chunks=chunk_map,
                resampling=resampling,
                groupby=groupby,
                mask_clouds=mask_clouds,
            )
            for members in groups.values()
        ]
    roles = sorted({r for p in parts for r in p["band"].values}, key=role_sort_key)
    parts = [p.reindex(band=roles) for p in parts]
    stack = xr.concat(parts, dim="time", coords="different", compat="equals", join="outer")
    stack = stack.sortby("time")
    if stack.indexes["time"].has_duplicates:
        stack = _fuse_duplicate_times(stack)

    if skip_empty:
        with _reading(overlapping):
            if verify:  # every pixel of every band read: a broken file is found here
                valid = stack.notnull().any("band").mean(("y", "x")).compute()
            else:
                # the first band only: clouds are masked in every band alike, and reading
                # all of them here costs ~2.6 x more, before detection reads them again
                valid = stack.isel(band=0, drop=True).notnull().mean(("y", "x")).compute()
                none = np.flatnonzero(valid.values == 0)
                if none.size:  # nodata in that band only (e.g. its edge): any band counts
                    valid[none] = (stack.isel(time=none).notnull().any("band")
                                   .mean(("y", "x")).compute().values)
        stack = stack.assign_coords(valid_fraction=("time", valid.values.astype(np.float32)))
        empty = valid.values == 0
        skipped = [
            f"{sid} ({pd.Timestamp(t).date()})"
            for sid, t in zip(stack["scene_id"].values[empty], stack["time"].values[empty],
                              strict=True)
        ]
        if skipped:
            warnings.warn(
                "No valid pixel over the AOI (all nodata or clouded), skipped: "
                + ", ".join(skipped),
                EmptySceneWarning,
                stacklevel=2,
            )
            stack = stack.isel(time=~empty)
        sparse = (valid.values > 0) & (valid.values < SPARSE_FRACTION)
        if sparse.any():
            kept = ", ".join(
                f"{sid} ({pd.Timestamp(t).date()}, {100 * f:.2g}% valid)"
                for sid, t, f in zip(valid["scene_id"].values[sparse],
                                     valid["time"].values[sparse], valid.values[sparse],
                                     strict=True)
            )
            warnings.warn(
                f"Almost no valid pixel over the AOI (< {100 * SPARSE_FRACTION:g}% observed), "
                f"kept: {kept}. Their valid_fraction says so; pools and sites outside the valid "
                "pixels are unobserved on those dates, not absent.",
                SparseSceneWarning,
                stacklevel=2,
            )
    else:
        skipped = []
    stack.name = "reflectance"
    stack.attrs = {
        "long_name": "surface reflectance",
        "units": "1",
        "has_nir": "nir" in roles,
        "skipped_empty": skipped,
    }
    stack = stack.rio.write_crs(out_crs)
    stack = stack.rio.write_nodata(np.nan, encoded=False)
    return stack


@contextlib.contextmanager
def _reading(scenes: Sequence[Scene]) -> Iterator[None]:
    """Turn a read failure inside odc-stac (raw rasterio/GDAL errors) into a TileReadError
    naming the unreadable file, found by reading each file of ``scenes`` (failure path only)."""
    try:
        yield
    except MinewatchError:
        raise
    except Exception as err:  # RasterioIOError, CPLE_* raised from odc-stac's dask tasks
        bad = _unreadable(scenes)
        if bad is None:
            raise
        href, scene_id, why = bad
        raise TileReadError(
            f"{href}: pixels could not be read ({why}); the file of scene {scene_id} is "
            "truncated or corrupt — re-download it, or remove the scene from the archive."
        ) from err


def _unreadable(scenes: Sequence[Scene]) -> tuple[str, str, str] | None:
    """(href, scene id, reason) of the first file of ``scenes`` whose pixels fail to read."""
    import rasterio

    for scene in scenes:
        hrefs = [b.href for b in scene.bands] + ([scene.mask.href] if scene.mask else [])
        for href in dict.fromkeys(hrefs):
            try:
                with rasterio.open(href) as src:
                    for _, window in src.block_windows(1):
                        src.read(window=window)
            except Exception as err:
                text = str(err).strip().splitlines()[0][:200] if str(err).strip() else \
                    type(err).__name__
                return href, scene.id, text
    return None


def _fuse_duplicate_times(stack: xr.DataArray) -> xr.DataArray:
    """Merge time steps with equal timestamps from different radiometry groups: first valid."""
    fused = stack.groupby("time").first(skipna=True)
    ids = stack["scene_id"].to_series().groupby(level=0).agg(",".join)
    sensors = stack["sensor"].to_series().groupby(level=0).agg(lambda s: ",".join(sorted(set(s))))
    return fused.assign_coords(
        scene_id=("time", ids.reindex(fused["time"].values).values),
        sensor=("time", sensors.reindex(fused["time"].values).values),
    )
