"""Draw a :class:`~minewatch.synth.layout.SynthWorld` on an output grid, date by date.

The ground is rasterised on a fine grid (``k`` × finer than the output pixel) and averaged down
area-weighted, so a 10 m pixel over a 5 m pool is a mixed pixel. Pools are not rasterised at all:
their exact area fraction in every output pixel comes from polygon intersections, which makes
``truth/pool_fraction`` exact. Terrain shading, texture, cloud shadows, haze, clouds, the
per-date radiometric gain/offset, sensor noise and swath edges are then applied per pixel.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely
from affine import Affine
from pyproj import CRS, Transformer
from rasterio import features as rio_features
from shapely.geometry import mapping

from minewatch.errors import ConfigError
from minewatch.synth._fields import Field, hillshade
from minewatch.synth.layout import SynthWorld
from minewatch.synth.spectra import (
    CLOUD,
    HAZE,
    SHADOW_KEEP,
    VEGETATION,
    WATER,
    Cover,
    PoolLook,
    pool_spectra,
    seasonal_spectra,
)

#: Cloud optical depth from which a pixel counts as cloud in the truth (and is invalid).
CLOUD_MIN = 0.1
#: Shadow strength from which a pixel counts as cloud shadow in the truth.
SHADOW_MIN = 0.1
#: Pixel fraction a pool must cover to own the pixel in ``truth/pools_*.tif``.
POOL_LABEL_MIN = 0.5

#: Radiometric spread per sensor: (gain sd, offset sd, platform weight, noise sd).
RADIOMETRY: dict[str, tuple[float, float, float, float]] = {
    "sentinel2": (0.02, 0.003, 0.5, 0.001),
    "landsat": (0.02, 0.003, 0.5, 0.003),
    "planetscope": (0.04, 0.006, 1.5, 0.002),
    "rgb": (0.05, 0.005, 1.0, 0.004),
}


@dataclass(frozen=True)
class Grid:
    """An output grid: CRS, north-up transform and shape (a GeoBox)."""

    crs: str
    """CRS of the grid (projected, metres)."""
    transform: Affine
    """Affine transform of the top-left corner, square pixels."""
    shape: tuple[int, int]
    """(rows, cols)."""

    @property
    def resolution(self) -> float:
        """Pixel size, m."""
        return float(self.transform.a)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(xmin, ymin, xmax, ymax), m."""
        rows, cols = self.shape
        x0, y0 = self.transform.c, self.transform.f
        return (x0, y0 - rows * self.resolution, x0 + cols * self.resolution, y0)

    def centres(self) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) of every pixel centre, each (rows, cols)."""
        rows, cols = self.shape
        res = self.resolution
        xs = self.transform.c + (np.arange(cols) + 0.5) * res
        ys = self.transform.f - (np.arange(rows) + 0.5) * res
        return np.meshgrid(xs, ys)


def make_grid(origin_lonlat: tuple[float, float], *, crs: str, resolution_m: float,
              shape: tuple[int, int]) -> Grid:
    """A grid of ``shape`` pixels of ``resolution_m`` centred on a lon/lat, corners snapped to
    whole multiples of the resolution.

    Examples
    --------
    >>> g = make_grid((98.33, 25.72), crs="EPSG:32647", resolution_m=10.0, shape=(100, 120))
    >>> g.resolution, g.shape, g.transform.c % 10 == 0
    (10.0, (100, 120), True)
    """
    if not resolution_m > 0:
        raise ConfigError(f"resolution_m must be > 0, got {resolution_m}")
    rows, cols = (int(v) for v in shape)
    if rows < 2 or cols < 2:
        raise ConfigError(f"shape must be at least (2, 2) pixels, got {shape}")
    crs_obj = CRS.from_user_input(crs)
    if not crs_obj.is_projected:
        raise ConfigError(f"crs {crs} is not projected; use a UTM zone such as 'EPSG:32647'")
    x, y = Transformer.from_crs("EPSG:4326", crs_obj, always_xy=True).transform(*origin_lonlat)
    x0 = math.floor((x - cols * resolution_m / 2) / resolution_m) * resolution_m
    y0 = math.ceil((y + rows * resolution_m / 2) / resolution_m) * resolution_m
    return Grid(crs, Affine(resolution_m, 0, x0, 0, -resolution_m, y0), (rows, cols))


class _Masks:
    """Truth masks derived from the cloud, shadow and nodata arrays (any leading shape)."""

    cloud_opacity: np.ndarray
    shadow: np.ndarray
    nodata: np.ndarray

    @property
    def cloud(self) -> np.ndarray:
        """Bool truth cloud mask (optical depth >= :data:`CLOUD_MIN`)."""
        return (self.cloud_opacity >= CLOUD_MIN) & ~self.nodata

    @property
    def cloud_shadow(self) -> np.ndarray:
        """Bool truth shadow mask (not under cloud)."""
        return (self.shadow >= SHADOW_MIN) & ~self.cloud & ~self.nodata

    @property
    def valid(self) -> np.ndarray:
        """uint8: 1 observed clear, 0 cloud, shadow or nodata."""
        return (~self.nodata & ~self.cloud & ~self.cloud_shadow).astype(np.uint8)


@dataclass
class RenderedScene(_Masks):
    """Reflectance and truth of one date on one grid (plain numpy)."""

    grid: Grid
    """The output grid."""
    t: int
    """Index of the date in the world's dates."""
    date: pd.Timestamp
    """Acquisition date."""
    reflectance: np.ndarray
    """(6, rows, cols) float32 surface reflectance 0–1 as observed; NaN on nodata."""
    pool_fraction: np.ndarray
    """(rows, cols) float32 fraction of each pixel covered by pools present that date."""
    pool_id: np.ndarray
    """(rows, cols) uint16 id of the pool covering >= 50 % of the pixel, else 0."""
    clearings: np.ndarray
    """(rows, cols) uint8 clearing code (see ``CLEARING_CODES``), majority per pixel."""
    cloud_opacity: np.ndarray
    """(rows, cols) float32 cloud optical depth 0–1."""
    shadow: np.ndarray
    """(rows, cols) float32 cloud shadow strength 0–1."""
    nodata: np.ndarray
    """(rows, cols) bool: outside the swath."""
    scl_fractions: np.ndarray
    """(3, rows, cols) float32 fractions of vegetation, bare/other, water."""
    haze: np.ndarray
    """(rows, cols) float32 haze depth 0–1."""


@dataclass
class Rendered(_Masks):
    """Reflectance and truth of every date on one grid (plain numpy, time first): the
    :class:`RenderedScene` of each date stacked."""

    grid: Grid
    """The output grid."""
    dates: tuple
    """Acquisition dates (pandas Timestamps)."""
    reflectance: np.ndarray
    """(time, 6, rows, cols) float32 surface reflectance 0–1 as observed; NaN on nodata."""
    pool_fraction: np.ndarray
    """(time, rows, cols) float32 fraction of each pixel covered by pools present that date."""
    pool_id: np.ndarray
    """(time, rows, cols) uint16 id of the pool covering >= 50 % of the pixel, else 0."""
    clearings: np.ndarray
    """(time, rows, cols) uint8 clearing code (see ``CLEARING_CODES``), majority per pixel."""
    cloud_opacity: np.ndarray
    """(time, rows, cols) float32 cloud optical depth 0–1."""
    shadow: np.ndarray
    """(time, rows, cols) float32 cloud shadow strength 0–1."""
    nodata: np.ndarray
    """(time, rows, cols) bool: outside the swath."""
    scl_fractions: np.ndarray
    """(time, 3, rows, cols) float32 fractions of vegetation, bare/other, water."""
    haze: np.ndarray
    """(time, rows, cols) float32 haze depth 0–1."""


#: Fields a :class:`RenderedScene` and a :class:`Rendered` share (per date / stacked).
_ARRAYS = ("reflectance", "pool_fraction", "pool_id", "clearings", "cloud_opacity", "shadow",
           "nodata", "scl_fractions", "haze")


def _supersampling(resolution_m: float) -> int:
    """Fine cells per output pixel side: fine cells of at most ~2 m, at least 2 per pixel."""
    return int(min(16, max(2, math.ceil(resolution_m / 2.0))))


def _reprojector(src: str, dst: str):
    if CRS.from_user_input(src) == CRS.from_user_input(dst):
        return None
    return Transformer.from_crs(src, dst, always_xy=True)


def _to_grid_crs(geoms, transformer) -> list:
    if transformer is None:
        return list(geoms)
    out = []
    for g in geoms:
        g = shapely.segmentize(g, 50.0)
        out.append(shapely.transform(g, lambda xy: np.column_stack(transformer.transform(*xy.T))))
    return out


class _Centres:
    """Output pixel centres in world coordinates, for sampling the smooth fields.

    On a grid in the world CRS they are a product of one row and one column of coordinates,
    and fields are sampled separably (:meth:`Field.sample_grid`, same numbers as
    :meth:`Field.sample`); otherwise every centre is reprojected.
    """

    def __init__(self, grid: Grid, to_world) -> None:
        rows, cols = grid.shape
        res = grid.resolution
        xs = grid.transform.c + (np.arange(cols) + 0.5) * res
        ys = grid.transform.f - (np.arange(rows) + 0.5) * res
        self.separable = to_world is None
        if self.separable:
            self.xs, self.ys = xs, ys
            self.x, self.y = xs[None, :], ys[:, None]
        else:
            wx, wy = to_world.transform(*np.meshgrid(xs, ys))
            self.x, self.y = np.asarray(wx), np.asarray(wy)

    def sample(self, field: Field, dx: float = 0.0, dy: float = 0.0) -> np.ndarray:
        """``field`` at every pixel centre (shifted by ``-dx, -dy``), (rows, cols) float32."""
        if self.separable:
            return field.sample_grid(self.xs, self.ys, dx, dy)
        return field.sample(self.x, self.y, dx, dy)


def pool_fractions(geoms, grid: Grid) -> list[tuple[int, int, np.ndarray]]:
    """Exact area fraction of each pool in each output pixel: (row0, col0, window) per pool."""
    res = grid.resolution
    x0, y0 = grid.transform.c, grid.transform.f
    rows, cols = grid.shape
    out = []
    for g in geoms:
        minx, miny, maxx, maxy = g.bounds
        c0, c1 = max(0, math.floor((minx - x0) / res)), min(cols, math.ceil((maxx - x0) / res))
        r0, r1 = max(0, math.floor((y0 - maxy) / res)), min(rows, math.ceil((y0 - miny) / res))
        if c1 <= c0 or r1 <= r0:
            out.append((0, 0, np.zeros((0, 0), np.float32)))
            continue
        cc, rr = np.meshgrid(np.arange(c0, c1), np.arange(r0, r1))
        boxes = shapely.box(x0 + cc * res, y0 - (rr + 1) * res, x0 + (cc + 1) * res, y0 - rr * res)
        frac = shapely.area(shapely.intersection(g, boxes)) / (res * res)
        out.append((r0, c0, frac.astype(np.float32)))
    return out


def render(world: SynthWorld, grid: Grid, *, sensor: str = "sentinel2",
           block_rows: int = 256) -> Rendered:
    """Draw every date of ``world`` on ``grid`` as seen by ``sensor``, all dates in memory.

    Parameters
    ----------
    world
        The landscape (any CRS; geometries and fields are reprojected to ``grid.crs``).
    grid
        Output grid.
    sensor
        Radiometric behaviour: ``sentinel2``, ``landsat``, ``planetscope`` or ``rgb``.
    block_rows
        Output rows rasterised at once on the fine grid (bounds memory).

    Returns
    -------
    Rendered
        The scenes of :func:`render_scenes`, stacked (time first).
    """
    scenes = render_scenes(world, grid, sensor=sensor, block_rows=block_rows)
    stacked: dict[str, np.ndarray] = {}
    n_t = len(world.dates)
    for scene in scenes:
        for name in _ARRAYS:
            a = getattr(scene, name)
            if name not in stacked:
                stacked[name] = np.empty((n_t, *a.shape), a.dtype)
            stacked[name][scene.t] = a
    return Rendered(grid=grid, dates=tuple(world.dates), **stacked)


def render_scenes(world: SynthWorld, grid: Grid, *, sensor: str = "sentinel2",
                  block_rows: int = 256) -> Iterator[RenderedScene]:
    """Draw ``world`` on ``grid`` as seen by ``sensor``, one date at a time.

    Memory holds one date (plus the date-independent fine background), so archives of many
    dates over large grids are written date by date. The values are those of :func:`render`.

    Parameters
    ----------
    world, grid, sensor, block_rows
        As for :func:`render`.

    Yields
    ------
    RenderedScene
        Each date of ``world``, in order.
    """
    if sensor not in RADIOMETRY:
        raise ConfigError(f"sensor {sensor!r} unknown; use one of {sorted(RADIOMETRY)}")
    return _scenes(world, grid, sensor, block_rows)


@dataclass(frozen=True)
class _Block:
    """Output rows ``r0:r1`` on the fine grid: transform, background classes, features near."""

    r0: int
    r1: int
    transform: Affine
    background: np.ndarray
    """(rows × k, cols × k) uint8 :class:`Cover` of the fine cells where no feature is drawn."""
    counts: dict[int, np.ndarray]
    """Fine cells of each background cover in each output pixel, (rows, cols) uint16."""
    features: np.ndarray
    """Indices of the features whose bounding box reaches the block."""


def _fine_blocks(world: SynthWorld, grid: Grid, k: int, block_rows: int, to_world,
                 feat_bounds: np.ndarray) -> list[_Block]:
    """The fine background of every row block (it does not change with the date)."""
    rows, cols = grid.shape
    res = grid.resolution
    fine_res = res / k
    xmin, _, xmax, _ = grid.bounds
    blocks = []
    for r0 in range(0, rows, block_rows):
        r1 = min(rows, r0 + block_rows)
        h = r1 - r0
        top = grid.transform.f - r0 * res
        fine_tf = Affine(fine_res, 0, grid.transform.c, 0, -fine_res, top)
        fx = grid.transform.c + (np.arange(cols * k) + 0.5) * fine_res
        fy = top - (np.arange(h * k) + 0.5) * fine_res
        if to_world is None:
            noise = world.cover_noise.sample_grid(fx, fy)
        else:
            noise = world.cover_noise.sample(*to_world.transform(*np.meshgrid(fx, fy)))
        background = np.full(noise.shape, Cover.FOREST, np.uint8)
        background[noise > 1.0] = Cover.SHRUB
        background[noise > 1.9] = Cover.GRASS
        del noise
        counts = {int(c): (background == c).reshape(h, k, cols * k).sum(axis=1, dtype=np.uint16)
                  .reshape(h, cols, k).sum(axis=2, dtype=np.uint16)
                  for c in (Cover.FOREST, Cover.SHRUB, Cover.GRASS)}
        # features whose bounding box reaches the block (the others cannot burn a fine cell)
        bottom = grid.transform.f - r1 * res
        near = np.flatnonzero((feat_bounds[:, 0] <= xmax) & (feat_bounds[:, 2] >= xmin)
                              & (feat_bounds[:, 1] <= top) & (feat_bounds[:, 3] >= bottom))
        blocks.append(_Block(r0, r1, fine_tf, background, counts, near))
    return blocks


def _cells_hit(fine: np.ndarray, h: int, k: int,
               cols: int) -> tuple[tuple[np.ndarray, np.ndarray] | None, np.ndarray | None]:
    """Output pixels with a non-zero fine cell, and their (n, k, k) fine cells."""
    # two one-axis reductions: much faster than one over axes (1, 3)
    hit = np.nonzero(fine.reshape(h, k, cols * k).max(axis=1).reshape(h, cols, k).max(axis=2))
    if len(hit[0]) == 0:
        return None, None
    return hit, _cells_at(fine, hit, h, k, cols)


def _cells_at(fine: np.ndarray, hit: tuple[np.ndarray, np.ndarray], h: int, k: int,
              cols: int) -> np.ndarray:
    return fine.reshape(h, k, cols, k)[hit[0], :, hit[1], :]


def _count_classes(cells: np.ndarray, n_classes: int) -> np.ndarray:
    """(n_classes, n) fine cells of each class among each pixel's (k, k) cells."""
    n = len(cells)
    index = cells.astype(np.int64) * n + np.arange(n)[:, None, None]
    return np.bincount(index.ravel(), minlength=n_classes * n).reshape(n_classes, n)


def _scenes(world: SynthWorld, grid: Grid, sensor: str,
            block_rows: int) -> Iterator[RenderedScene]:
    rows, cols = grid.shape
    res = grid.resolution
    k = _supersampling(res)
    to_grid = _reprojector(world.crs, grid.crs)
    to_world = _reprojector(grid.crs, world.crs)

    centres = _Centres(grid, to_world)  # pixel centres in world coordinates

    # pools: exact fractions, once
    pool_geoms = _to_grid_crs(world.pools.geometry.to_numpy(), to_grid)
    windows = pool_fractions(pool_geoms, grid)
    looks = world.pool_looks
    pspec = pool_spectra()
    ids = world.pools["pool_id"].to_numpy()

    feat_geoms = _to_grid_crs([f.geometry for f in world.features], to_grid)
    feat_shapes = [mapping(g) for g in feat_geoms]  # GeoJSON once, not per block and date
    feat_bounds = (shapely.bounds(np.asarray(feat_geoms, dtype=object)) if feat_geoms
                   else np.zeros((0, 4)))
    blocks = _fine_blocks(world, grid, k, block_rows, to_world, feat_bounds)

    frac_buffers: dict[int, np.ndarray] = {}
    veg_idx = [int(c) for c in VEGETATION]
    water_idx = [int(c) for c in WATER]
    n_cover = len(Cover)

    coarse_tex = centres.sample(world.texture[0])
    fine_tex = centres.sample(world.texture[1])
    texture = 1.0 + 0.08 * coarse_tex + 0.08 * min(1.0, 2.0 / res) * fine_tex
    del fine_tex
    cloud_tex = 0.92 + 0.08 * coarse_tex
    del coarse_tex
    gain_sd, offset_sd, platform_w, noise_sd = RADIOMETRY[sensor]
    chunk_rows = max(1, 2**20 // cols)  # light, atmosphere and noise per ~1 M pixels

    for t, (date, cond) in enumerate(zip(world.dates, world.conditions, strict=True)):
        # the ground on the fine grid, averaged down area-weighted
        spectra = seasonal_spectra(date)
        refl = np.empty((6, rows, cols), np.float32)
        scl = np.zeros((3, rows, cols), np.float32)
        clear_map = np.zeros((rows, cols), np.uint8)
        for blk in blocks:
            r0, r1 = blk.r0, blk.r1
            h = r1 - r0
            feats = [(i, world.features[i]) for i in blk.features]
            # features drawn on an empty layer (cover + 1, 0: none); only the output pixels
            # they reach are recounted, the others keep the background's counts
            shapes = [(feat_shapes[i], int(f.covers[t]) + 1) for i, f in feats
                      if f.covers[t] != 255]
            drawn = np.zeros(blk.background.shape, np.uint8)
            if shapes:
                rio_features.rasterize(shapes, out=drawn, transform=blk.transform)
            if h not in frac_buffers:  # reused: a fresh one per block and date costs page faults
                frac_buffers[h] = np.empty((n_cover, h, cols), np.float32)
            frac = frac_buffers[h]
            frac.fill(0)
            for c, n in blk.counts.items():
                frac[c] = n
            hit, cells = _cells_hit(drawn, h, k, cols)
            if hit is not None:
                cells = np.where(cells > 0, cells - 1, _cells_at(blk.background, hit, h, k, cols))
                frac[:, hit[0], hit[1]] = _count_classes(cells, n_cover)
            del drawn, cells
            frac /= k * k
            refl[:, r0:r1] = np.einsum("chw,cb->bhw", frac, spectra)
            scl[0, r0:r1] = frac[veg_idx].sum(0)
            scl[2, r0:r1] = frac[water_idx].sum(0)
            scl[1, r0:r1] = 1.0 - scl[0, r0:r1] - scl[2, r0:r1]
            del frac
            codes = [(feat_shapes[i], int(f.clearing[t])) for i, f in feats if f.clearing[t] != 0]
            if codes:
                code_map = np.zeros(blk.background.shape, np.uint8)
                rio_features.rasterize(codes, out=code_map, transform=blk.transform)
                hit, cells = _cells_hit(code_map, h, k, cols)
                if hit is not None:  # majority code (ties: the lowest), as argmax over counts
                    clear_map[r0:r1][hit] = _count_classes(cells, 6).argmax(0).astype(np.uint8)
                del code_map, cells

        # pools: exact fractions mixed into the ground
        pool_fraction = np.zeros((rows, cols), np.float32)
        pool_id = np.zeros((rows, cols), np.uint16)
        cover_all = np.zeros((rows, cols), np.float32)
        best = np.zeros((rows, cols), np.float32)
        present = []  # (window slices, fractions, look) of the pools there on this date
        for i, (pr, pc, win) in enumerate(windows):
            look = int(looks[i, t])
            if look == PoolLook.ABSENT or win.size == 0:
                continue
            sl = (slice(pr, pr + win.shape[0]), slice(pc, pc + win.shape[1]))
            present.append((sl, win, look))
            cover_all[sl] += win
            if look == PoolLook.DRAINED:
                scl[1][sl] += win
                continue
            if look == PoolLook.LINER:
                scl[1][sl] += win
            else:
                scl[2][sl] += win
            pool_fraction[sl] += win
            better = (win >= POOL_LABEL_MIN) & (win > best[sl])
            pool_id[sl] = np.where(better, ids[i], pool_id[sl])
            best[sl] = np.where(better, win, best[sl])
        del best
        keep = 1 - np.clip(cover_all, 0, 1)
        del cover_all

        # light, atmosphere and sensor, band by band (same arithmetic as on the whole stack)
        light = centres.sample(hillshade(world.dem, cond.sun_azimuth, cond.sun_zenith))
        light *= texture
        cloud_opacity = np.zeros((rows, cols), np.float32)
        shadow = np.zeros((rows, cols), np.float32)
        if cond.clouds is not None:
            cloud_opacity = centres.sample(cond.clouds)
            shadow = centres.sample(cond.clouds, *cond.shadow_shift)
        haze = cond.haze * centres.sample(cond.haze_field)
        alpha = cloud_opacity
        gain = (1 + gain_sd * (cond.gain_z + platform_w * cond.platform_z)).astype(np.float32)
        offset = offset_sd * cond.offset_z  # float64: the surface turns float64 from here
        noise_rng = np.random.default_rng([world.seed, cond.seed])
        nodata = np.zeros((rows, cols), bool)
        if cond.swath_edge is not None:
            a, b, c = cond.swath_edge
            nodata = a * centres.x + b * centres.y > c
        pool_refl = np.empty((rows, cols), np.float32)  # one band at a time: less memory
        for band in range(6):
            pool_refl.fill(0)
            for sl, win, look in present:
                pool_refl[sl] += win * pspec[look, band]
            # in chunks of rows (small temporaries, reused); the sensor noise stream runs band
            # by band, row by row, as one (6, rows, cols) draw
            for n0 in range(0, rows, chunk_rows):
                ch = slice(n0, min(rows, n0 + chunk_rows))
                surface = keep[ch] * refl[band, ch] + pool_refl[ch]
                surface *= light[ch]
                if cond.clouds is not None:
                    surface *= 1 - shadow[ch] * (1 - SHADOW_KEEP[band])
                surface += HAZE[band] * haze[ch]
                surface = (1 - alpha[ch]) * surface + alpha[ch] * CLOUD[band] * cloud_tex[ch]
                surface = surface * gain[band] + offset[band:band + 1]  # float64 from here
                surface += noise_rng.normal(0, noise_sd, surface.shape).astype(np.float32)
                np.clip(surface, 0.0001, 1.0, out=surface)
                surface[nodata[ch]] = np.nan
                refl[band, ch] = surface
        del keep, light, pool_refl
        # pools sit on bare ground: rescale the mixed-cover fractions to sum to one
        total = scl.sum(axis=0, keepdims=True)
        scl /= np.where(total > 0, total, 1)
        del total
        yield RenderedScene(grid=grid, t=t, date=date, reflectance=refl,
                            pool_fraction=pool_fraction, pool_id=pool_id, clearings=clear_map,
                            cloud_opacity=cloud_opacity, shadow=shadow, nodata=nodata,
                            scl_fractions=scl, haze=haze)
