"""The public entry points: in-memory scenes and on-disk archives."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr

from minewatch.errors import ConfigError, InputError
from minewatch.synth.layout import DEFAULT_DATES, SynthWorld, make_world
from minewatch.synth.render import Grid, Rendered, make_grid, render, render_scenes
from minewatch.synth.spectra import BANDS
from minewatch.synth.write import (
    LAYOUTS,
    layout_family,
    write_scene,
    write_truth_rasters,
    write_vectors,
)

#: Extra ground (m) generated around the output grid when no world is given.
WORLD_MARGIN_M = 200.0


@dataclass(frozen=True)
class SynthScenes:
    """Generated scenes in memory: reflectance, truth rasters and truth vectors.

    Unpacks as ``reflectance, truth = generate_scenes(...)``.
    """

    reflectance: xr.DataArray
    """(time, band, y, x) float32 surface reflectance 0–1 as observed (clouds, haze, gain);
    NaN outside the swath. CRS and transform via ``.rio``."""
    truth: xr.Dataset
    """(time, y, x) truth: ``pools`` (uint16 id where a pool covers >= 50 % of the pixel),
    ``pool_fraction`` (float32), ``clearings`` (uint8 codes), ``valid`` (uint8), ``cloud``,
    ``shadow``, ``nodata`` (bool)."""
    pools: gpd.GeoDataFrame
    """Pool polygons (grid CRS): pool_id, site_id, shape, outline, colour, size_m, first_date,
    last_date, drained_date, area_m2."""
    sites: gpd.GeoDataFrame
    """Sites (grid CRS): site_id, first_date, last_date, n_pools_YYYYMMDD per date; geometry is
    the final clearing."""
    site_clearings: gpd.GeoDataFrame
    """Clearing polygon of each site on each date (site_id, date, n_pools, area_m2)."""
    confounders: gpd.GeoDataFrame
    """Look-alikes (grid CRS): kind, detail, first_date, last_date."""
    world: SynthWorld = field(repr=False)
    """The world the scenes were drawn from."""

    def __iter__(self) -> Iterator[xr.DataArray | xr.Dataset]:
        yield self.reflectance
        yield self.truth


@dataclass(frozen=True)
class SynthArchive:
    """Files written by :func:`make_archive`."""

    root: Path
    """The archive folder."""
    layout: str
    """Sensor file layout of the scenes."""
    crs: str
    """CRS of every file."""
    resolution_m: float
    """Output pixel size, m."""
    dates: tuple[pd.Timestamp, ...]
    """Acquisition dates."""
    scenes: dict[str, tuple[Path, ...]]
    """Image files per date (``YYYY-MM-DD`` → paths)."""
    truth: dict[str, dict[str, Path]]
    """Truth rasters per date (``YYYY-MM-DD`` → {pools, pool_fraction, clearings, valid})."""
    truth_vectors: Path
    """``truth/truth.gpkg`` with layers pools, sites, site_clearings, confounders."""

    def files(self) -> list[Path]:
        """Every file written, sorted."""
        out = [p for ps in self.scenes.values() for p in ps]
        out += [p for d in self.truth.values() for p in d.values()]
        return sorted([*out, self.truth_vectors])


def _grid(origin_lonlat, crs, resolution_m, shape, extent_m) -> Grid:
    if extent_m is not None:
        shape = (round(extent_m[1] / resolution_m), round(extent_m[0] / resolution_m))
    return make_grid(tuple(origin_lonlat), crs=crs, resolution_m=float(resolution_m),
                     shape=tuple(shape))


def _world_for(grid: Grid, world: SynthWorld | None, **kwargs) -> SynthWorld:
    if world is not None:
        return world
    xmin, ymin, xmax, ymax = grid.bounds
    m = WORLD_MARGIN_M
    return make_world(bounds=(xmin - m, ymin - m, xmax + m, ymax + m), crs=grid.crs, **kwargs)


def _xarray(r: Rendered) -> tuple[xr.DataArray, xr.Dataset]:
    grid = r.grid
    gx, gy = grid.centres()
    coords = {"time": pd.DatetimeIndex(r.dates), "y": gy[:, 0], "x": gx[0]}
    refl = xr.DataArray(r.reflectance, dims=("time", "band", "y", "x"),
                        coords={**coords, "band": list(BANDS)}, name="reflectance",
                        attrs={"units": "1", "long_name": "surface reflectance"})
    refl = refl.rio.write_crs(grid.crs).rio.write_transform(grid.transform)
    refl = refl.rio.write_nodata(np.nan, encoded=False)
    dims = ("time", "y", "x")
    truth = xr.Dataset(
        {"pools": (dims, r.pool_id), "pool_fraction": (dims, r.pool_fraction),
         "clearings": (dims, r.clearings), "valid": (dims, r.valid), "cloud": (dims, r.cloud),
         "shadow": (dims, r.cloud_shadow), "nodata": (dims, r.nodata)},
        coords=coords)
    truth = truth.rio.write_crs(grid.crs).rio.write_transform(grid.transform)
    return refl, truth


def generate_scenes(
    world: SynthWorld | None = None,
    *,
    seed: int = 0,
    resolution_m: float = 10.0,
    shape: tuple[int, int] = (400, 400),
    extent_m: tuple[float, float] | None = None,
    origin_lonlat: tuple[float, float] = (98.33, 25.72),
    dates: Sequence[str | pd.Timestamp] = DEFAULT_DATES,
    crs: str = "EPSG:32647",
    n_sites: int | None = None,
    clouds: bool | Sequence[float] = True,
    confounders: bool = True,
    nodata_edges: bool = True,
    real_positions: bool = False,
    sensor: str = "sentinel2",
) -> SynthScenes:
    """Generate multi-date scenes of Kachin hills with leaching-pool mines, in memory.

    Parameters
    ----------
    world
        A world from :func:`~minewatch.synth.make_world` to draw; by default one is generated
        from ``seed`` … ``real_positions`` over the grid plus a 200 m margin.
    seed
        Seed of every random choice (same seed, same scenes).
    resolution_m
        Output pixel size, m (0.5 for aerial RGB, 3 PlanetScope, 10 Sentinel-2, 30 Landsat).
    shape
        (rows, cols) of the output grid, pixels.
    extent_m
        (width, height) in m instead of ``shape``.
    origin_lonlat
        Centre of the grid (longitude, latitude, degrees).
    dates
        Acquisition dates, strictly increasing.
    crs
        CRS of the output grid (projected, m), e.g. ``EPSG:32647`` (UTM 47N) or ``EPSG:32646``.
    n_sites, clouds, confounders, nodata_edges, real_positions
        See :func:`~minewatch.synth.make_world`.
    sensor
        Radiometric behaviour between dates: ``sentinel2``, ``landsat``, ``planetscope``
        (satellites differ more) or ``rgb``.

    Returns
    -------
    SynthScenes
        ``reflectance`` (time, band, y, x) and ``truth``; unpacks as a pair.

    Examples
    --------
    >>> refl, truth = generate_scenes(seed=3, shape=(60, 80), dates=("2021-03-01",
    ...                               "2022-03-01"), clouds=False)
    >>> refl.dims, refl.shape, str(refl.rio.crs)
    (('time', 'band', 'y', 'x'), (2, 6, 60, 80), 'EPSG:32647')
    >>> float(truth["valid"].isel(time=1).mean())
    1.0
    """
    grid = _grid(origin_lonlat, crs, resolution_m, shape, extent_m)
    world = _world_for(grid, world, seed=seed, dates=dates, n_sites=n_sites, clouds=clouds,
                       confounders=confounders, nodata_edges=nodata_edges,
                       real_positions=real_positions)
    r = render(world, grid, sensor=sensor)
    return _scenes(r, world)


def _truth_layers(world: SynthWorld, crs: str) -> dict[str, gpd.GeoDataFrame]:
    """The truth vectors of ``world`` in the grid ``crs``, by layer name."""
    return {"pools": world.pools.to_crs(crs), "sites": world.sites.to_crs(crs),
            "site_clearings": world.site_clearings.to_crs(crs),
            "confounders": world.confounders.to_crs(crs)}


def _scenes(r: Rendered, world: SynthWorld) -> SynthScenes:
    refl, truth = _xarray(r)
    return SynthScenes(reflectance=refl, truth=truth, world=world,
                       **_truth_layers(world, r.grid.crs))


def make_archive(
    out_dir: str | PathLike[str],
    *,
    world: SynthWorld | None = None,
    seed: int = 0,
    resolution_m: float = 10.0,
    layout: str = "sentinel2",
    dates: Sequence[str | pd.Timestamp] = DEFAULT_DATES,
    shape: tuple[int, int] = (400, 400),
    extent_m: tuple[float, float] | None = None,
    origin_lonlat: tuple[float, float] = (98.33, 25.72),
    n_sites: int | None = None,
    clouds: bool | Sequence[float] = True,
    confounders: bool = True,
    nodata_edges: bool = True,
    real_positions: bool = False,
    crs: str = "EPSG:32647",
    overwrite: bool = False,
) -> SynthArchive:
    """Write generated scenes as real sensor files, with the truth in ``truth/``.

    Parameters
    ----------
    out_dir
        Archive folder (created). Scenes go in it in ``layout``; truth rasters
        (``pools_``, ``pool_fraction_``, ``clearings_``, ``valid_YYYYMMDD.tif``) and
        ``truth.gpkg`` in ``out_dir/truth/``.
    layout
        ``sentinel2`` (COG folder per scene), ``sentinel2_multiband``, ``sentinel2_gee``,
        ``landsat``, ``planetscope`` or ``rgb``; see :mod:`minewatch.synth.write`.
    overwrite
        Allow writing into a folder that already holds files (they are replaced file by file;
        stale files of other dates stay).
    world, seed, resolution_m, dates, shape, extent_m, origin_lonlat, n_sites, clouds, \
confounders, nodata_edges, real_positions, crs
        As for :func:`generate_scenes`. To write the same ground in two UTM zones, build one
        world with :func:`~minewatch.synth.make_world` and pass it to two calls with different
        ``crs``.

    Returns
    -------
    SynthArchive

    Examples
    --------
    >>> import tempfile
    >>> arch = make_archive(tempfile.mkdtemp(), seed=1, shape=(50, 50), layout="planetscope",
    ...                     resolution_m=3.0, dates=("2022-03-01", "2023-03-01"))
    >>> [p.name for p in arch.scenes["2022-03-01"]]  # doctest: +ELLIPSIS
    ['20220301_034126_..._3B_AnalyticMS_SR.tif', '20220301_034126_..._3B_udm2.tif']
    """
    if layout not in LAYOUTS:
        raise ConfigError(f"layout {layout!r} unknown; use one of {', '.join(LAYOUTS)}")
    root = Path(out_dir)
    if root.exists() and any(root.iterdir()) and not overwrite:
        raise InputError(f"{root} already holds files; pass overwrite=True (CLI --overwrite) "
                         "or choose an empty folder")
    grid = _grid(origin_lonlat, crs, resolution_m, shape, extent_m)
    world = _world_for(grid, world, seed=seed, dates=dates, n_sites=n_sites, clouds=clouds,
                       confounders=confounders, nodata_edges=nodata_edges,
                       real_positions=real_positions)
    scenes, truth = {}, {}
    # one date in memory at a time: render it, write it, drop it
    for scene in render_scenes(world, grid, sensor=layout_family(layout)):
        key = f"{scene.date:%Y-%m-%d}"
        scenes[key] = write_scene(scene, root, layout, seed=world.seed)
        truth[key] = write_truth_rasters(scene, root / "truth")
        del scene
    gpkg = write_vectors(_truth_layers(world, grid.crs), root / "truth" / "truth.gpkg")
    return SynthArchive(root=root, layout=layout, crs=grid.crs, resolution_m=grid.resolution,
                        dates=world.dates, scenes=scenes, truth=truth, truth_vectors=gpkg)
