"""Group the pools and mining clearings of one date into sites.

Two objects (pools or clearings) whose edge-to-edge distance is at most
``SiteConfig.linking_distance_m`` are linked; a site is a connected group of links, so chains
link transitively. Neighbours come from a spatial index (``sindex.query(..., predicate=
"dwithin")``), never from all pairs; the groups are the connected components of the sparse
neighbour graph. Stable IDs across dates are not done here: ``site_id`` is only unique within
one call (sorted by centroid y, then x).
"""

from __future__ import annotations

from os import PathLike

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from minewatch.config._sites import SiteConfig
from minewatch.errors import InputError

__all__ = ["SITE_COLUMNS", "group_sites"]

#: Columns of the site table, in order (``geometry`` last).
SITE_COLUMNS: tuple[str, ...] = (
    "site_id", "n_pools", "cleared_area_m2", "pool_area_m2", "lon", "lat", "region", "geometry",
)


def _check_frame(frame: object, name: str) -> gpd.GeoDataFrame:
    if isinstance(frame, gpd.GeoSeries):
        frame = gpd.GeoDataFrame(geometry=frame)
    if not isinstance(frame, gpd.GeoDataFrame):
        raise InputError(f"{name}: expected a GeoDataFrame, got {type(frame).__name__}; "
                         f"pass the output of detect_{name} (or gpd.read_file(...)).")
    if frame.crs is None and len(frame):
        raise InputError(f"{name} has no CRS; set one with {name}.set_crs(...) first.")
    return frame


def _metric_crs(frames: list[gpd.GeoDataFrame]) -> CRS | None:
    """The first projected CRS among the frames, else the local UTM of their geometries."""
    for f in frames:
        if f.crs is not None and CRS(f.crs).is_projected:
            return CRS(f.crs)
    non_empty = [f for f in frames if len(f) and f.crs is not None]
    if not non_empty:
        return next((CRS(f.crs) for f in frames if f.crs is not None), None)
    return non_empty[0].estimate_utm_crs()


def _fmt(bounds: np.ndarray) -> str:
    return "(" + ", ".join(f"{b:.6g}" for b in bounds) + ")"


def _areas(frame: gpd.GeoDataFrame) -> np.ndarray:
    if len(frame) == 0:
        return np.zeros(0)
    if "area_m2" in frame.columns:
        return frame["area_m2"].to_numpy(dtype=float)
    return frame.geometry.area.to_numpy(dtype=float)


def _load_regions(regions: gpd.GeoDataFrame | str | PathLike, region_column: str | None,
                  ) -> tuple[gpd.GeoDataFrame, str]:
    if not isinstance(regions, gpd.GeoDataFrame):
        regions = gpd.read_file(regions)
    if regions.crs is None:
        raise InputError("regions have no CRS; set one with regions.set_crs(...) first.")
    if region_column is None:
        candidates = [c for c in ("name", "NAME", "Name") if c in regions.columns]
        candidates += [c for c in regions.columns
                       if c != regions.geometry.name
                       and pd.api.types.is_string_dtype(regions[c].dtype)]
        if not candidates:
            raise InputError("regions have no name column (looked for 'name' and any text "
                             "column); pass region_column=... to name one.")
        region_column = candidates[0]
    elif region_column not in regions.columns:
        raise InputError(f"regions have no column {region_column!r}; columns are "
                         f"{list(regions.columns)}.")
    return regions, region_column


def group_sites(
    pools: gpd.GeoDataFrame,
    clearings: gpd.GeoDataFrame | None = None,
    *,
    config: SiteConfig | None = None,
    regions: gpd.GeoDataFrame | str | PathLike | None = None,
    region_column: str | None = None,
    return_members: bool = False,
) -> gpd.GeoDataFrame | tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Group one date's pools and mining clearings into sites.

    Parameters
    ----------
    pools : GeoDataFrame
        Pools of one date (polygons or points), any CRS. An ``area_m2`` column, when present,
        gives the pool areas; otherwise the geometry areas in the metric CRS (0 for points).
    clearings : GeoDataFrame, optional
        Clearings of the same date, any CRS. Only those whose ``kind`` is in
        ``config.clearing_kinds`` (default ``mining``, ``unknown``) take part; without a
        ``kind`` column, all do. Areas as for pools.
    config : SiteConfig, optional
        Thresholds; ``SiteConfig()`` by default (linking distance 150 m).
    regions : GeoDataFrame or path, optional
        Polygons in any CRS with a name column; each site gets the name of the region holding
        its centroid (``None`` when none does).
    region_column : str, optional
        Name column of ``regions``; default ``name`` or else the first text column.
    return_members : bool
        Also return copies of the pools and (used) clearings, in the metric CRS, with a
        ``site_id`` column.

    Returns
    -------
    sites : GeoDataFrame
        One row per site, columns :data:`SITE_COLUMNS`, in a metric CRS (the first projected
        input CRS, else the local UTM zone): ``site_id`` (``S0001``… by centroid y then x),
        ``n_pools``, ``cleared_area_m2`` and ``pool_area_m2`` (m²), centroid ``lon``/``lat``
        (EPSG:4326 degrees), ``region``, and ``geometry``: the convex hull of the members
        buffered by ``config.hull_buffer_m``.
    pools, clearings : GeoDataFrame
        Only with ``return_members=True``: member copies with ``site_id``.

    Raises
    ------
    InputError
        An input without CRS, or ``regions`` that do not overlap the pools and clearings.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import Point
    >>> pools = gpd.GeoDataFrame(geometry=[Point(0, 0), Point(100, 0), Point(1000, 0)],
    ...                          crs="EPSG:32647")
    >>> sites = group_sites(pools)
    >>> sites[["site_id", "n_pools"]].to_string(index=False)
    'site_id  n_pools\\n  S0001        2\\n  S0002        1'
    >>> _, members, _ = group_sites(pools, return_members=True)
    >>> list(members["site_id"])
    ['S0001', 'S0001', 'S0002']
    """
    config = SiteConfig() if config is None else config
    if not isinstance(config, SiteConfig):
        raise InputError(f"config: expected a SiteConfig, got {type(config).__name__}.")
    pools = _check_frame(pools, "pools")
    if clearings is None:
        clearings = gpd.GeoDataFrame(geometry=gpd.GeoSeries([], crs=pools.crs))
    clearings = _check_frame(clearings, "clearings")
    if "kind" in clearings.columns:
        clearings = clearings[clearings["kind"].isin(config.clearing_kinds)]
    crs = _metric_crs([pools, clearings])
    pools = pools.to_crs(crs) if len(pools) and pools.crs != crs else pools.set_crs(
        crs, allow_override=True)
    clearings = (clearings.to_crs(crs) if len(clearings) and clearings.crs != crs
                 else clearings.set_crs(crs, allow_override=True))

    n_p = len(pools)
    geoms = gpd.GeoSeries(
        np.concatenate([pools.geometry.to_numpy(), clearings.geometry.to_numpy()]), crs=crs)
    is_pool = np.arange(len(geoms)) < n_p
    area = np.concatenate([_areas(pools), _areas(clearings)])

    if len(geoms) == 0:
        sites = gpd.GeoDataFrame({c: pd.Series(dtype=d) for c, d in zip(
            SITE_COLUMNS[:-1], (object, int, float, float, float, float, object), strict=True)},
            geometry=gpd.GeoSeries([], crs=crs))
    else:
        left, right = geoms.sindex.query(geoms, predicate="dwithin",
                                         distance=config.linking_distance_m)
        graph = coo_matrix((np.ones(len(left), dtype=np.int8), (left, right)),
                           shape=(len(geoms), len(geoms)))
        n_sites, labels = connected_components(graph, directed=False)
        by_site = np.argsort(labels, kind="stable")  # geometrycollections wants sorted indices
        hulls = shapely.convex_hull(shapely.geometrycollections(
            geoms.to_numpy()[by_site], indices=labels[by_site]))
        centroids = shapely.centroid(hulls)
        cx, cy = shapely.get_x(centroids), shapely.get_y(centroids)
        order = np.lexsort((cx, cy))  # y first, then x
        rank = np.empty(n_sites, dtype=int)
        rank[order] = np.arange(n_sites)
        ids = np.array([f"S{i + 1:04d}" for i in range(n_sites)], dtype=object)
        member_ids = ids[rank[labels]]
        hull_geoms = shapely.buffer(hulls, config.hull_buffer_m) if config.hull_buffer_m > 0 \
            else hulls
        lonlat = gpd.GeoSeries(centroids, crs=crs).to_crs("EPSG:4326")
        sites = gpd.GeoDataFrame({
            "site_id": ids[rank],
            "n_pools": np.bincount(labels, weights=is_pool, minlength=n_sites).astype(int),
            "cleared_area_m2": np.bincount(labels, weights=np.where(is_pool, 0.0, area),
                                           minlength=n_sites),
            "pool_area_m2": np.bincount(labels, weights=np.where(is_pool, area, 0.0),
                                        minlength=n_sites),
            "lon": lonlat.x.to_numpy(), "lat": lonlat.y.to_numpy(), "region": None,
        }, geometry=gpd.GeoSeries(hull_geoms, crs=crs)).sort_values("site_id")
        sites = sites.reset_index(drop=True)
        pools = pools.assign(site_id=member_ids[:n_p])
        clearings = clearings.assign(site_id=member_ids[n_p:])

    if regions is not None:
        regions, column = _load_regions(regions, region_column)
        own_crs, own_bounds = regions.crs, regions.total_bounds
        regions = regions.to_crs(crs) if crs is not None else regions
        if len(geoms) and not regions.intersects(shapely.box(*geoms.total_bounds)).any():
            raise InputError(
                f"regions (bounds {_fmt(own_bounds)} in {own_crs.to_string()}) do not overlap "
                f"the pools and clearings (bounds {_fmt(geoms.to_crs(own_crs).total_bounds)} in "
                f"the same CRS); check that the region file covers the area and that its CRS "
                f"is right.")
        if len(sites):
            cent = gpd.GeoDataFrame(geometry=gpd.points_from_xy(
                sites["lon"], sites["lat"], crs="EPSG:4326")).to_crs(crs)
            hit = gpd.sjoin(cent, regions[[column, regions.geometry.name]],
                            how="left", predicate="within")
            hit = hit[~hit.index.duplicated(keep="first")]
            sites["region"] = pd.Series(
                [None if pd.isna(v) else v for v in hit[column]], index=sites.index,
                dtype=object)
    sites = sites[list(SITE_COLUMNS)]
    if return_members:
        if "site_id" not in pools.columns:
            pools = pools.assign(site_id=pd.Series(dtype=object))
            clearings = clearings.assign(site_id=pd.Series(dtype=object))
        return sites, pools, clearings
    return sites
