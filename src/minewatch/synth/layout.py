"""The synthetic world: terrain, mining sites with their pools, and the confounders.

A :class:`SynthWorld` holds everything that does not depend on the output grid: vector features
in one CRS (the *world CRS*), smooth random fields, and per-date conditions (clouds, haze,
swath edges, radiometric calibration). :mod:`minewatch.synth.render` draws it on any grid, in
any CRS, at any resolution; the same world written in UTM 46N and 47N gives matching scenes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer
from shapely.geometry import MultiPoint, Point, Polygon, box

from minewatch.errors import ConfigError
from minewatch.synth._build import Builder, Feature, to_timestamps
from minewatch.synth._confounders import landslides, river, streams, swidden, villages
from minewatch.synth._fields import Field, texture_field, world_field
from minewatch.synth._realpools import TABLE_CRS, real_clusters
from minewatch.synth._sites import build_sites

#: Dry-season dates used when none are given (both sides of the Sentinel-2 offset change).
DEFAULT_DATES: tuple[str, ...] = ("2020-02-14", "2021-03-05", "2022-02-27", "2023-03-14")

#: Codes of ``truth/clearings_*.tif``.
CLEARING_CODES: dict[str, int] = {
    "mining": 1, "swidden": 2, "landslide": 3, "settlement": 4, "road": 5,
}

#: Confounder kinds the generator draws (the ``kind`` column of the ``confounders`` layer).
CONFOUNDER_KINDS: tuple[str, ...] = (
    "river", "sand_bar", "stream", "fish_pond", "tarp_hut", "metal_roof", "swidden",
    "landslide", "village", "haze", "swath_edge",
)

@dataclass(frozen=True)
class DateConditions:
    """What changes with each acquisition besides the ground."""

    cloud_cover: float
    """Target fraction of the world under cloud (0–1)."""
    clouds: Field | None
    """Cloud optical depth field (0–1) or None for a clear date."""
    shadow_shift: tuple[float, float]
    """Displacement of cloud shadows from their clouds (dx, dy), m."""
    haze: float
    """Haze depth (0–1) scaling :data:`~minewatch.synth.spectra.HAZE`."""
    haze_field: Field
    """Relative spatial pattern of haze (mean ~1)."""
    swath_edge: tuple[float, float, float] | None
    """(a, b, c): world points with ``a*x + b*y > c`` are outside the swath (nodata)."""
    sun_azimuth: float
    """Sun azimuth, degrees clockwise from north."""
    sun_zenith: float
    """Sun zenith angle, degrees."""
    gain_z: np.ndarray
    """(6,) standard-normal draws for the per-band radiometric gain of the date."""
    offset_z: np.ndarray
    """(6,) standard-normal draws for the per-band radiometric offset of the date."""
    platform_z: float
    """One standard-normal draw shared by all bands (satellite-to-satellite difference)."""
    seed: int
    """Seed of the per-date sensor noise."""


@dataclass(frozen=True)
class SynthWorld:
    """A generated landscape through time; draw it with :func:`minewatch.synth.generate_scenes`.

    Build one with :func:`make_world`.
    """

    seed: int
    """Seed every random choice came from."""
    crs: str
    """CRS of every geometry and field (the world CRS)."""
    bounds: tuple[float, float, float, float]
    """(xmin, ymin, xmax, ymax) of the world in its CRS, m."""
    dates: tuple[pd.Timestamp, ...]
    """Acquisition dates."""
    pools: gpd.GeoDataFrame
    """One row per pool (see :func:`make_world`)."""
    pool_looks: np.ndarray
    """(n_pools, n_dates) uint8 :class:`~minewatch.synth.spectra.PoolLook` of each pool."""
    sites: gpd.GeoDataFrame
    """One row per mining site; geometry: the clearing on its last date."""
    site_clearings: gpd.GeoDataFrame
    """The clearing of each site on each date (columns site_id, date, n_pools, area_m2)."""
    confounders: gpd.GeoDataFrame
    """Look-alikes and disturbances (columns kind, detail, first_date, last_date)."""
    features: tuple[Feature, ...]
    """Polygons of the class map, in drawing order."""
    dem: Field
    """Terrain height, m."""
    cover_noise: Field
    """Smooth noise deciding shrub and grass patches in the forest."""
    texture: tuple[Field, Field]
    """Coarse and fine multiplicative texture (mean 0, std 1)."""
    conditions: tuple[DateConditions, ...] = field(repr=False)
    """Per-date clouds, haze, swath edge, calibration."""

    def date_labels(self) -> list[str]:
        """Dates as ``YYYYMMDD`` strings."""
        return [d.strftime("%Y%m%d") for d in self.dates]



def _conditions(rng: np.random.Generator, bounds: tuple[float, float, float, float],
                dates: tuple[pd.Timestamp, ...], clouds: bool | Sequence[float],
                nodata_edges: bool) -> tuple[DateConditions, ...]:
    n = len(dates)
    if isinstance(clouds, bool):
        covers = [0.0] * n
        if clouds:
            for t in range(n):
                covers[t] = 0.0 if rng.random() < 0.5 else float(rng.uniform(0.02, 0.06))
            covers[n // 2] = 0.3
    else:
        covers = [float(c) for c in clouds]
        if len(covers) != n or not all(0 <= c <= 1 for c in covers):
            raise ConfigError(f"clouds must be a bool or one cover fraction 0–1 per date "
                              f"({n} dates), got {clouds!r}")
    xmin, ymin, xmax, ymax = bounds
    out = []
    for t in range(n):
        azimuth, zenith = rng.uniform(125, 150), rng.uniform(35, 45)
        height = rng.uniform(800, 2000)
        shift = height * math.tan(math.radians(zenith))
        back = math.radians(azimuth + 180)
        dx, dy = shift * math.sin(back), shift * math.cos(back)
        cloud_field = None
        if covers[t] > 0:
            grown = (xmin - abs(dx) - 500, ymin - abs(dy) - 500,
                     xmax + abs(dx) + 500, ymax + abs(dy) + 500)
            size = min(xmax - xmin, ymax - ymin)
            raw = world_field(rng, grown, 25.0, float(np.clip(size / 10, 60.0, 250.0)))
            v = raw.values
            # the quantile over the scene (not the margin) sets the cover
            core = v[int(abs(dy) + 500) // 25: -(int(abs(dy) + 500) // 25) or None,
                     int(abs(dx) + 500) // 25: -(int(abs(dx) + 500) // 25) or None]
            q = float(np.quantile(core, 1 - covers[t]))
            opacity = np.clip((v - q) / 0.8 + 0.1, 0, 1) ** 1.5
            cloud_field = Field(opacity.astype(np.float32), raw.x0, raw.y0, raw.cell)
        else:
            rng.random()  # keep the stream aligned between cloudy and clear variants
        haze_field = world_field(rng, bounds, 50.0, 800.0)
        haze_field = Field(np.clip(1 + 0.5 * haze_field.values, 0, None), haze_field.x0,
                           haze_field.y0, haze_field.cell)
        haze = float(rng.uniform(0.25, 0.4) if t == n - 1 else rng.uniform(0.0, 0.2))
        edge = None
        if nodata_edges and n >= 2 and t == 0:
            theta = rng.uniform(np.radians(20), np.radians(70)) + rng.choice([0, np.pi / 2,
                                                                              np.pi, 1.5 * np.pi])
            a, bb = math.cos(theta), math.sin(theta)
            proj = [a * x + bb * y for x in (xmin, xmax) for y in (ymin, ymax)]
            c = max(proj) - rng.uniform(0.25, 0.35) * (max(proj) - min(proj))
            edge = (a, bb, c)
        out.append(DateConditions(
            cloud_cover=covers[t], clouds=cloud_field, shadow_shift=(dx, dy), haze=haze,
            haze_field=haze_field, swath_edge=edge, sun_azimuth=azimuth, sun_zenith=zenith,
            gain_z=rng.standard_normal(6), offset_z=rng.standard_normal(6),
            platform_z=float(rng.standard_normal()), seed=int(rng.integers(2**31))))
    return tuple(out)


def default_n_sites(bounds: tuple[float, float, float, float]) -> int:
    """Sites for an area: about 0.8 per km², at least 3 (Pang War is denser still)."""
    area_km2 = (bounds[2] - bounds[0]) * (bounds[3] - bounds[1]) / 1e6
    return int(np.clip(round(0.8 * area_km2), 3, 60))


def world_bounds(origin_lonlat: tuple[float, float], extent_m: tuple[float, float],
                 crs: str) -> tuple[float, float, float, float]:
    """Bounds (xmin, ymin, xmax, ymax) in ``crs`` of an ``extent_m`` box centred on a lon/lat."""
    x, y = Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(*origin_lonlat)
    w, h = extent_m
    return (x - w / 2, y - h / 2, x + w / 2, y + h / 2)


def make_world(
    *,
    seed: int = 0,
    origin_lonlat: tuple[float, float] = (98.33, 25.72),
    extent_m: tuple[float, float] = (4000.0, 4000.0),
    bounds: tuple[float, float, float, float] | None = None,
    dates: Sequence[str | pd.Timestamp] = DEFAULT_DATES,
    crs: str = "EPSG:32647",
    n_sites: int | None = None,
    clouds: bool | Sequence[float] = True,
    confounders: bool = True,
    nodata_edges: bool = True,
    real_positions: bool = False,
) -> SynthWorld:
    """Generate a landscape of Kachin hills with mining sites that appear and grow over dates.

    Parameters
    ----------
    seed
        Seed of :func:`numpy.random.default_rng`; every random choice comes from it.
    origin_lonlat
        Centre of the world (longitude, latitude in degrees).
    extent_m
        (width, height) of the world, m. Ignored when ``bounds`` is given.
    bounds
        (xmin, ymin, xmax, ymax) in ``crs``, m, instead of ``origin_lonlat``/``extent_m``.
    dates
        Acquisition dates, strictly increasing (``YYYY-MM-DD`` strings or Timestamps).
    crs
        World CRS (a projected CRS in metres); scenes can be drawn in another one.
    n_sites
        Number of mining sites (default about 0.8 per km², at least 3).
    clouds
        ``True``: the middle date is partly cloudy (30 %), others clear or nearly;
        ``False``: no clouds; or one cloud cover fraction 0–1 per date.
    confounders
        Draw rivers, sand bars, streams, villages (roofs, fish ponds), swidden fields and
        landslides. Tarp huts in mining camps are always drawn.
    nodata_edges
        Cut the first date with a diagonal swath edge (nodata beyond it).
    real_positions
        Place sites exactly on real pool clusters near Pang War (positions and types from
        ``pools_refined.csv``; needs ``bounds`` over the pool field) instead of sampling real
        cluster shapes at random places.

    Returns
    -------
    SynthWorld

    Examples
    --------
    >>> world = make_world(seed=1, extent_m=(2000, 2000), dates=("2021-03-01", "2022-03-01"))
    >>> world.crs, len(world.dates), int(world.sites.shape[0]) >= 1
    ('EPSG:32647', 2, True)
    """
    dates_ts = to_timestamps(dates)
    if bounds is None:
        bounds = world_bounds(origin_lonlat, extent_m, crs)
    bounds = tuple(float(v) for v in bounds)
    if not (bounds[2] > bounds[0] and bounds[3] > bounds[1]):
        raise ConfigError(f"world bounds {bounds} are empty; give xmin < xmax and ymin < ymax")
    rng = np.random.default_rng(seed)
    b = Builder(rng, bounds, dates_ts)
    xmin, ymin, xmax, ymax = bounds
    margin = 600.0
    grown = (xmin - margin, ymin - margin, xmax + margin, ymax + margin)
    dem = world_field(rng, grown, 30.0, 400.0)
    cover_noise = world_field(rng, grown, 10.0, 120.0)
    texture = (world_field(rng, grown, 10.0, 40.0), texture_field(rng, 1.0, 1.2))
    n_sites = default_n_sites(bounds) if n_sites is None else int(n_sites)
    if n_sites < 0:
        raise ConfigError(f"n_sites must be >= 0, got {n_sites}")
    avoid: list = []
    road_targets: list[np.ndarray] = []
    relief = 180.0 * dem.values + 900.0
    if confounders:
        line, water = river(b)
        if real_positions:  # keep the river off the real pools
            real = MultiPoint(real_clusters().centroids).buffer(150)
            to_world = Transformer.from_crs(TABLE_CRS, crs, always_xy=True)
            real = shapely.transform(real, lambda xy: np.column_stack(to_world.transform(*xy.T)))
            for _ in range(30):
                if not water.intersects(real):
                    break
                b.features.clear()
                b.confounders.clear()
                line, water = river(b)
        rows, cols = relief.shape
        gx = dem.x0 + (np.arange(cols) + 0.5) * dem.cell
        gy = dem.y0 - (np.arange(rows) + 0.5) * dem.cell
        pts = shapely.points(*np.meshgrid(gx, gy))
        relief -= 300.0 * np.exp(-((shapely.distance(pts, line) / 700.0) ** 2))
        avoid.append((water, 120))
        area_km2 = (xmax - xmin) * (ymax - ymin) / 1e6
        streams(b, line, int(np.clip(round(area_km2 / 5), 2, 8)))
        road_targets = villages(b, water, int(np.clip(round(area_km2 / 8), 1, 6)))
        avoid += [(Point(c), 300) for c in road_targets]
    dem = Field(relief.astype(np.float32), dem.x0, dem.y0, dem.cell)
    recs = build_sites(b, n_sites=n_sites, real_positions=real_positions, world_crs=crs,
                       avoid=avoid, road_targets=road_targets)
    if confounders:
        site_zone = [(g["geometry"], 150) for g in recs["sites"]]
        area_km2 = (xmax - xmin) * (ymax - ymin) / 1e6
        swidden(b, int(np.clip(round(area_km2 / 3), 2, 12)), avoid + site_zone)
        landslides(b, int(np.clip(round(area_km2 / 6), 1, 6)), dem, avoid + site_zone)
    conditions = _conditions(rng, bounds, dates_ts, clouds, nodata_edges)
    for t, cond in enumerate(conditions):
        if cond.swath_edge is not None:
            a, bb, c = cond.swath_edge
            b.confounder("swath_edge", _half_plane(bounds, a, bb, c), first=t, last=t)
        if cond.haze > 0.2:
            b.confounder("haze", box(*bounds), detail=f"depth {cond.haze:.2f}", first=t, last=t)

    pool_columns = ["pool_id", "site_id", "shape", "outline", "colour", "size_m", "first_date",
                    "last_date", "drained_date", "area_m2", "geometry"]
    pools = gpd.GeoDataFrame(pd.DataFrame(recs["pools"], columns=pool_columns),
                             geometry="geometry", crs=crs)
    looks = (np.array(recs["looks"], np.uint8) if recs["looks"]
             else np.zeros((0, len(dates_ts)), np.uint8))
    n_cols = [f"n_pools_{d:%Y%m%d}" for d in dates_ts]
    site_frame = pd.DataFrame(recs["sites"])
    for c in ["site_id", "first_date", "last_date", *n_cols, "geometry"]:
        if c not in site_frame:
            site_frame[c] = 0 if c in n_cols else None
    site_frame[n_cols] = site_frame[n_cols].fillna(0).astype("int32")
    sites = gpd.GeoDataFrame(site_frame[["site_id", "first_date", "last_date", *n_cols,
                                         "geometry"]], geometry="geometry", crs=crs)
    site_clearings = gpd.GeoDataFrame(
        pd.DataFrame(recs["clearings"],
                     columns=["site_id", "date", "n_pools", "area_m2", "geometry"]),
        geometry="geometry", crs=crs)
    confounder_frame = gpd.GeoDataFrame(
        pd.DataFrame(b.confounders, columns=["kind", "detail", "first_date", "last_date",
                                             "geometry"]), geometry="geometry", crs=crs)
    features = tuple(sorted(b.features, key=lambda f: f.order))
    return SynthWorld(seed=seed, crs=crs, bounds=bounds, dates=dates_ts, pools=pools,
                      pool_looks=looks, sites=sites, site_clearings=site_clearings,
                      confounders=confounder_frame, features=features, dem=dem,
                      cover_noise=cover_noise, texture=texture, conditions=conditions)


def _half_plane(bounds: tuple[float, ...], a: float, b: float, c: float) -> shapely.Geometry:
    """The part of ``bounds`` where ``a*x + b*y > c`` (the area cut off by a swath edge)."""
    xmin, ymin, xmax, ymax = bounds
    big = 4 * max(xmax - xmin, ymax - ymin)
    cx, cy = (xmin + xmax) / 2, (ymin + ymax) / 2
    # a point on the line nearest to the centre, then a large box on the far side
    d = c - (a * cx + b * cy)
    px, py = cx + a * d, cy + b * d
    poly = Polygon([(px - b * big, py + a * big), (px + b * big, py - a * big),
                    (px + b * big + a * big, py - a * big + b * big),
                    (px - b * big + a * big, py + a * big + b * big)])
    return poly.intersection(box(*bounds))
