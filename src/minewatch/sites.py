"""Mining sites: group one date's pools and clearings into sites, and track sites over dates.

:func:`group_sites` (one date): two objects (pools or mining clearings) whose edge-to-edge
distance is at most ``SiteConfig.linking_distance_m`` are linked; a site is a connected group
of links, so chains link transitively. Neighbours come from a spatial index
(``STRtree.query(..., predicate="dwithin")``), never from all pairs; the groups are the
connected components of the sparse neighbour graph. Its ``site_id`` is only unique within one
call (sorted by centroid y, then x).

:func:`track_sites` (all dates): groups each date the same way and matches the groups, through
the spatial index again, against the last known polygon of every site still tracked, giving
stable IDs, a status per site and date (``new``, ``active``, ``expanded``, ``inactive``,
``unobserved``), merges and splits, and persistence flags. A site seen only in part (cloud or
nodata over the rest) carries the pools and clearings it held when last seen that now lie
under invalid pixels. Rules in ``docs/sites.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from os import PathLike

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from minewatch.config._sites import SiteConfig
from minewatch.errors import DateError, InputError, MissingCRSError

__all__ = [
    "EVENT_COLUMNS",
    "HISTORY_COLUMNS",
    "SITE_COLUMNS",
    "STATUSES",
    "TRACK_COLUMNS",
    "SiteTracks",
    "group_sites",
    "track_sites",
]

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


def _region_of(sites: gpd.GeoDataFrame, regions: gpd.GeoDataFrame | str | PathLike,
               region_column: str | None, geoms: gpd.GeoSeries, crs: CRS | None) -> pd.Series:
    """Name of the region holding each site's centroid (``lon``/``lat`` columns), or None."""
    regions, column = _load_regions(regions, region_column)
    own_crs, own_bounds = regions.crs, regions.total_bounds
    regions = regions.to_crs(crs) if crs is not None else regions
    if len(geoms) and not regions.intersects(shapely.box(*geoms.total_bounds)).any():
        raise InputError(
            f"regions (bounds {_fmt(own_bounds)} in {own_crs.to_string()}) do not overlap "
            f"the pools and clearings (bounds {_fmt(geoms.to_crs(own_crs).total_bounds)} in "
            f"the same CRS); check that the region file covers the area and that its CRS "
            f"is right.")
    if not len(sites):
        return pd.Series([], index=sites.index, dtype=object)
    cent = gpd.GeoDataFrame(geometry=gpd.points_from_xy(
        sites["lon"], sites["lat"], crs="EPSG:4326")).to_crs(crs)
    hit = gpd.sjoin(cent, regions[[column, regions.geometry.name]], how="left",
                    predicate="within")
    hit = hit[~hit.index.duplicated(keep="first")]
    return pd.Series([None if pd.isna(v) else v for v in hit[column]], index=sites.index,
                     dtype=object)


def _cluster(geoms: np.ndarray, distance_m: float) -> tuple[int, np.ndarray, np.ndarray]:
    """Connected groups of geometries within ``distance_m`` (spatial index, sparse graph).

    Returns the number of groups, the group label of each geometry and each group's convex hull.
    """
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="dwithin", distance=distance_m)
    graph = coo_matrix((np.ones(len(left), dtype=np.int8), (left, right)),
                       shape=(len(geoms), len(geoms)))
    n_groups, labels = connected_components(graph, directed=False)
    by_group = np.argsort(labels, kind="stable")  # geometrycollections wants sorted indices
    hulls = shapely.convex_hull(shapely.geometrycollections(
        geoms[by_group], indices=labels[by_group]))
    return n_groups, labels, hulls


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
        n_sites, labels, hulls = _cluster(geoms.to_numpy(), config.linking_distance_m)
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
        sites["region"] = _region_of(sites, regions, region_column, geoms, crs)
    sites = sites[list(SITE_COLUMNS)]
    if return_members:
        if "site_id" not in pools.columns:
            pools = pools.assign(site_id=pd.Series(dtype=object))
            clearings = clearings.assign(site_id=pd.Series(dtype=object))
        return sites, pools, clearings
    return sites


# =========================================================================== tracking

#: Statuses of a site on a date (``SiteTracks.history["status"]``).
STATUSES: tuple[str, ...] = ("new", "active", "expanded", "inactive", "unobserved")

#: Columns of ``SiteTracks.sites``, in order (``geometry`` last).
TRACK_COLUMNS: tuple[str, ...] = (
    "site_id", "first_seen", "last_seen", "n_dates_seen", "n_pools_max", "area_m2_max",
    "persistent", "provisional", "status_last", "merged_into", "lon", "lat", "region",
    "geometry",
)

#: Columns of ``SiteTracks.history``, in order.
HISTORY_COLUMNS: tuple[str, ...] = (
    "site_id", "date", "status", "n_pools", "pool_area_m2", "cleared_area_m2",
    "observed_fraction", "region", "n_pools_carried", "cleared_area_m2_carried",
)

#: Columns of ``SiteTracks.events``, in order.
EVENT_COLUMNS: tuple[str, ...] = ("date", "kind", "site_id", "other_ids")


@dataclass(frozen=True)
class SiteTracks:
    """Sites tracked over the dates of an analysis: the result of :func:`track_sites`."""

    sites: gpd.GeoDataFrame
    """One row per site ever seen, columns :data:`TRACK_COLUMNS`, in the metric CRS."""
    history: pd.DataFrame
    """One row per site and date from its first_seen on (up to the date before it merged
    into another site), columns :data:`HISTORY_COLUMNS`."""
    events: pd.DataFrame
    """Merges and splits, columns :data:`EVENT_COLUMNS`, sorted by date, kind, site_id."""
    pools: gpd.GeoDataFrame
    """The input pools (same rows, index and CRS) with ``date`` parsed to midnight and a
    ``site_id`` column."""
    clearings: gpd.GeoDataFrame
    """The input clearings likewise; ``site_id`` is None for kinds outside
    ``SiteConfig.clearing_kinds``."""
    dates: list[pd.Timestamp]
    """Every date of the analysis, sorted (a date without detections is still a date)."""
    carried_pools: gpd.GeoDataFrame | None = None
    """Pools carried into a later date by a site seen there only in part: one row per pool
    and date carried into, the columns of :attr:`pools` (``date`` the date carried into,
    ``site_id`` the site carrying it) plus ``last_seen``, the date it was detected."""
    carried_clearings: gpd.GeoDataFrame | None = None
    """Clearings carried likewise (same columns as :attr:`clearings` plus ``last_seen``)."""


def _to_days(values: object, name: str) -> pd.DatetimeIndex:
    """Parse dates to tz-naive midnight Timestamps, or raise DateError naming the culprit."""
    series = pd.Series(values if not isinstance(values, pd.Series) else values.to_numpy(),
                       dtype=object if not hasattr(values, "dtype") else None)
    try:
        parsed = pd.to_datetime(series, utc=True, format="mixed")
    except (ValueError, TypeError, OverflowError) as err:
        bad = next((v for v in series if _unparseable(v)), None)
        raise DateError(f"{name}: cannot read {bad!r} as a date ({err}); give dates as "
                        f"'YYYY-MM-DD' strings, datetime64 or pandas Timestamps.") from err
    missing = parsed.isna().to_numpy()
    if missing.any():
        rows = [int(i) for i in np.flatnonzero(missing)[:5]]
        raise DateError(f"{name}: missing date (NaT/None) at row position(s) {rows}; every "
                        f"row needs a date.")
    return pd.DatetimeIndex(parsed.dt.tz_convert(None)).normalize().astype("datetime64[ns]")


def _unparseable(value: object) -> bool:
    try:
        pd.to_datetime(value, utc=True)
    except (ValueError, TypeError, OverflowError):
        return True
    return False


def _row_dates(frame: gpd.GeoDataFrame, name: str) -> pd.DatetimeIndex:
    if "date" not in frame.columns:
        if len(frame) == 0:
            return pd.DatetimeIndex([], dtype="datetime64[ns]")
        raise DateError(f"{name} has no 'date' column; track_sites needs the date of every row "
                        f"(concatenate detect_{name} over dates with a 'date' column). Columns "
                        f"are {list(frame.columns)}.")
    return _to_days(frame["date"], f"{name}['date']")


class _Observer:
    """Observed fraction of polygons on each date, from a ``valid`` (time, y, x) mask."""

    def __init__(self, valid: object) -> None:
        import xarray as xr

        if not isinstance(valid, xr.DataArray):
            raise InputError(f"valid: expected an xarray.DataArray of bool with dims (time, y, "
                             f"x), got {type(valid).__name__}.")
        if set(valid.dims) != {"time", "y", "x"}:
            raise InputError(f"valid has dims {valid.dims}; expected (time, y, x) (True where "
                             f"the date was observed).")
        if valid.rio.crs is None:
            raise MissingCRSError("valid has no CRS; write one with valid.rio.write_crs(...) "
                                  "(and valid.rio.write_transform(...)).")
        self.valid = valid.transpose("time", "y", "x")
        self.crs = CRS(valid.rio.crs)
        self.transform = valid.rio.transform()
        self.shape = (valid.sizes["y"], valid.sizes["x"])
        self.times = _to_days(valid["time"].to_numpy(), "valid.time")
        if self.times.has_duplicates:
            dup = sorted({f"{d:%Y-%m-%d}" for d in self.times[self.times.duplicated()]})
            raise DateError(f"valid.time holds the same day more than once: {dup}; mosaic "
                            f"same-day scenes into one layer first.")
        self._layer_date: pd.Timestamp | None = None
        self._layer: np.ndarray | None = None
        self._masks: dict[int, tuple[object, int, int, np.ndarray, int]] = {}

    def _layer_at(self, date: pd.Timestamp) -> np.ndarray:
        if self._layer_date != date:
            k = int(self.times.get_loc(date))
            arr = np.asarray(self.valid.isel(time=k).to_numpy())
            if arr.dtype.kind == "f":
                arr = np.where(np.isnan(arr), False, arr != 0)
            self._layer, self._layer_date = arr.astype(bool, copy=False), date
        return self._layer

    def _masks_of(self, geoms: np.ndarray) -> list[tuple[int, int, np.ndarray, int]]:
        """(row0, col0, mask, pixels) per geometry: the pixels whose centre lies inside it,
        over its bounding window (one vectorised point-in-polygon test for all of them).
        A geometry holding no pixel centre gets the pixel under its representative point."""
        t = self.transform
        inv = ~t
        b = shapely.bounds(geoms)
        bx, by = b[:, [0, 2, 0, 2]], b[:, [1, 1, 3, 3]]
        cols, rows = inv.a * bx + inv.b * by + inv.c, inv.d * bx + inv.e * by + inv.f
        c0, r0 = np.floor(cols.min(axis=1)).astype(int), np.floor(rows.min(axis=1)).astype(int)
        c1 = np.maximum(np.ceil(cols.max(axis=1)).astype(int), c0 + 1)
        r1 = np.maximum(np.ceil(rows.max(axis=1)).astype(int), r0 + 1)
        shapes = list(zip((r1 - r0).tolist(), (c1 - c0).tolist(), strict=True))
        cc = np.concatenate([np.tile(np.arange(w), h) + c for (h, w), c in
                             zip(shapes, c0.tolist(), strict=True)]) + 0.5
        rr = np.concatenate([np.repeat(np.arange(h), w) + r for (h, w), r in
                             zip(shapes, r0.tolist(), strict=True)]) + 0.5
        owner = np.repeat(np.arange(len(geoms)), [h * w for h, w in shapes])
        shapely.prepare(geoms)
        inside = shapely.contains_xy(geoms[owner], t.a * cc + t.b * rr + t.c,
                                     t.d * cc + t.e * rr + t.f)
        out = []
        start = 0
        for k, (h, w) in enumerate(shapes):
            mask = inside[start:start + h * w].reshape(h, w)
            start += h * w
            row, col = int(r0[k]), int(c0[k])
            if not mask.any():  # smaller than a pixel: the pixel holding it
                p = shapely.point_on_surface(geoms[k])
                fc, fr = inv * (p.x, p.y)
                row, col, mask = int(np.floor(fr)), int(np.floor(fc)), np.ones((1, 1), bool)
            out.append((row, col, mask, int(mask.sum())))
        return out

    def fractions(self, geoms: list, crs: CRS, date: pd.Timestamp) -> np.ndarray:
        """Observed fraction (0–1) of each geometry on ``date``; outside the grid counts as
        unobserved. Masks are cached per geometry object."""
        todo = [g for g in geoms if id(g) not in self._masks]
        if todo:
            own = (gpd.GeoSeries(todo, crs=crs).to_crs(self.crs).to_numpy()
                   if crs is not None and crs != self.crs else np.array(todo, dtype=object))
            for g, m in zip(todo, self._masks_of(own), strict=True):
                self._masks[id(g)] = (g, *m)
        layer = self._layer_at(date)
        h, w = self.shape
        out = np.zeros(len(geoms))
        for k, g in enumerate(geoms):
            _, r0, c0, mask, total = self._masks[id(g)]
            rr0, rr1 = max(r0, 0), min(r0 + mask.shape[0], h)
            cc0, cc1 = max(c0, 0), min(c0 + mask.shape[1], w)
            if rr0 < rr1 and cc0 < cc1:
                seen = layer[rr0:rr1, cc0:cc1] & mask[rr0 - r0:rr1 - r0, cc0 - c0:cc1 - c0]
                out[k] = np.count_nonzero(seen) / total
        return out


@dataclass(eq=False)
class _Track:
    key: int  # creation order (deterministic: by date, then detection order)
    first: int  # index of the first date seen
    polygon: object  # last known hull
    anchor: tuple[float, float]  # centroid (x, y) of the first hull, for numbering
    n_ref: float = 0.0  # pools on the last date seen (incl. carried ones)
    area_ref: float = 0.0  # pool + cleared area (m²) on the last date seen (incl. carried)
    seen: list[int] = field(default_factory=list)
    hulls: list = field(default_factory=list)
    # (t, status, n, pool m², clear m², obs, n carried, clear m² carried); n and m² incl. carried
    rows: list[tuple] = field(default_factory=list)
    # members the site holds as of its last observation: (is_pool, input row, t detected);
    # the ones seen that date and the ones carried from before (hidden then)
    kept: list[tuple[bool, int, int]] = field(default_factory=list)
    merged_into: _Track | None = None
    site_id: str = ""


#: Observed share of a member's last-seen polygon below which it counts as hidden (carried).
_HIDDEN_BELOW = 0.5


def _hidden_members(groups: list[list[_Track]], observer: _Observer, crs: CRS | None,
                    date: pd.Timestamp, p_geom: np.ndarray, c_geom: np.ndarray,
                    seen_p: np.ndarray, seen_c: np.ndarray
                    ) -> tuple[list[list[tuple[bool, int, int]]],
                               list[list[tuple[bool, int, int]]]]:
    """Per detection of ``date``: the members its sites held when last seen (``_Track.kept``)
    whose polygon is now less than half observed and overlaps no pool (for a pool) or
    clearing (for a clearing) detected on ``date``; and the other clearings it held that are
    now partly unobserved (their unobserved part of area is carried, since a clearing is only
    ever mapped on observed pixels: :func:`_partial_hidden_area`; the site keeps them)."""
    out: list[list[tuple[bool, int, int]]] = [[] for _ in groups]
    partial: list[list[tuple[bool, int, int]]] = [[] for _ in groups]
    owner = [i for i, g in enumerate(groups) for tr in g for _ in tr.kept]
    kept = [m for g in groups for tr in g for m in tr.kept]
    if not kept:
        return out, partial
    is_p = np.array([m[0] for m in kept], dtype=bool)
    row = np.array([m[1] for m in kept], dtype=int)
    geoms = np.empty(len(kept), dtype=object)
    geoms[is_p], geoms[~is_p] = p_geom[row[is_p]], c_geom[row[~is_p]]
    observed = observer.fractions(list(geoms), crs, date)
    hidden = observed < _HIDDEN_BELOW
    for kind, seen in ((is_p, seen_p), (~is_p, seen_c)):
        sel = np.flatnonzero(hidden & kind)
        if len(sel) and len(seen):
            hit, _ = shapely.STRtree(seen).query(geoms[sel], predicate="intersects")
            hidden[sel[np.unique(hit)]] = False
    for k in np.flatnonzero(hidden).tolist():
        out[owner[k]].append(kept[k])
    for k in np.flatnonzero(~hidden & ~is_p & (observed < 1.0)).tolist():
        partial[owner[k]].append(kept[k])
    return out, partial


def _partial_hidden_area(partial: list[list[tuple[bool, int, int]]],
                         carried: list[list[tuple[bool, int, int]]], c_geom: np.ndarray,
                         observer: _Observer, crs: CRS | None, date: pd.Timestamp
                         ) -> np.ndarray:
    """Per detection: the unobserved area (m²) of its partly hidden clearings, counted once
    where they overlap each other and not where a wholly carried clearing already counts."""
    out = np.zeros(len(partial))
    shapes, which = [], []
    for i, part in enumerate(partial):
        if not part:
            continue
        geom = shapely.union_all([c_geom[r] for _, r, _ in part])
        whole = [c_geom[r] for is_p, r, _ in carried[i] if not is_p]
        if whole:
            geom = shapely.difference(geom, shapely.union_all(whole))
        if not geom.is_empty:
            shapes.append(geom)
            which.append(i)
    if shapes:
        observed = observer.fractions(shapes, crs, date)
        for i, geom, f in zip(which, shapes, observed.tolist(), strict=True):
            out[i] = geom.area * (1.0 - f)
    return out


def _analysis_dates(dates: object, observer: _Observer | None,
                    detected: pd.DatetimeIndex) -> pd.DatetimeIndex:
    if dates is not None:
        if isinstance(dates, str | pd.Timestamp):
            dates = [dates]
        days = _to_days(list(dates), "dates")
        if days.has_duplicates:
            dup = sorted({f"{d:%Y-%m-%d}" for d in days[days.duplicated()]})
            raise DateError(f"dates holds the same day more than once: {dup}; give each date "
                            f"once (mosaic same-day scenes first).")
        if observer is not None:
            missing = days.difference(observer.times)
            if len(missing):
                raise DateError(f"dates {[f'{d:%Y-%m-%d}' for d in missing[:5]]} are not in "
                                f"valid.time; valid needs a layer for every date.")
    elif observer is not None:
        days = observer.times
    else:
        days = detected.unique()
    days = days.sort_values()
    stray = detected.unique().difference(days)
    if len(stray):
        raise DateError(f"detections dated {[f'{d:%Y-%m-%d}' for d in stray[:5]]} fall on no "
                        f"date of the analysis ({len(days)} dates from dates= or valid.time); "
                        f"pass every date in dates=.")
    return days


def track_sites(
    pools: gpd.GeoDataFrame,
    clearings: gpd.GeoDataFrame | None = None,
    valid: object | None = None,
    config: SiteConfig | None = None,
    regions: gpd.GeoDataFrame | str | PathLike | None = None,
    dates: Sequence[str | pd.Timestamp] | None = None,
    *,
    region_column: str | None = None,
) -> SiteTracks:
    """Track sites over the dates of an archive, with stable IDs, statuses and events.

    On each date the pools and mining clearings are grouped into sites as by
    :func:`group_sites`; each group is matched (spatial index, ``dwithin``
    ``config.linking_distance_m``) against the **last known polygon of every site still
    tracked**, so a site unobserved or absent on the previous date keeps its ID when it comes
    back. Per connected group of matches:

    * one site, one group: the same site;
    * several sites, one group (**merge**): the oldest ID (first_seen, then creation order)
      goes on; the others end (``merged_into``) and a ``merge`` event is recorded;
    * one site, several groups (**split**): the largest group among those overlapping the old
      polygon (pool + cleared area, then pools, then hull area) keeps the ID, the others are
      new sites and a ``split`` event is recorded under the old ID;
    * mixed cases: each old site follows its largest overlapping group (else its largest
      group within the distance); groups followed by none are new, split from the old site
      they overlap (else the oldest one within the distance).

    Parameters
    ----------
    pools : GeoDataFrame
        Pools of all dates, one row per pool per date, with a ``date`` column (anything
        :func:`pandas.to_datetime` reads; times are dropped to the day, time zones to UTC),
        any CRS. ``area_m2`` as in :func:`group_sites`.
    clearings : GeoDataFrame, optional
        Clearings of all dates with ``date`` (and ``kind``: only ``config.clearing_kinds``
        take part).
    valid : xarray.DataArray, optional
        Bool (time, y, x), True where observed, with ``.rio.crs`` and transform. A site not
        seen on a date is ``unobserved`` when less than ``config.min_observed_fraction`` of its
        last known polygon is observed (cloud, shadow, nodata, or off the grid), else
        ``inactive``. Without it every date counts as fully observed.
    config : SiteConfig, optional
        ``linking_distance_m``, ``hull_buffer_m``, ``clearing_kinds``,
        ``min_persistence_dates``, ``expanded_ratio``, ``min_observed_fraction``.
    regions : GeoDataFrame or path, optional
        Polygons in any CRS with a name column, as in :func:`group_sites`; each site gets the
        region of its centroid (the centroid of its whole footprint).
    dates : sequence of dates, optional
        Every date of the analysis; default ``valid.time``, else the detections' dates. Sorted
        here; a day given twice is an error. A date without detections is still a date.
    region_column : str, optional
        Name column of ``regions``.

    Returns
    -------
    SiteTracks
        ``sites`` (:data:`TRACK_COLUMNS`): ``site_id`` ``S0001``… numbered by first_seen,
        then centroid of the first footprint north to south, then west to east;
        ``first_seen``/``last_seen`` (Timestamp), ``n_dates_seen``, ``n_pools_max``,
        ``area_m2_max`` (pool + cleared area, m²), ``persistent`` (seen on ≥
        ``min_persistence_dates`` dates; a site that merged into another counts the merge
        date), ``provisional`` (not persistent, but observed on fewer dates than that: too
        recent or clouded since), ``status_last``, ``merged_into`` (ID or None), ``lon``/
        ``lat`` (EPSG:4326), ``region``, ``geometry`` (union of its hulls). ``history``
        (:data:`HISTORY_COLUMNS`): ``status`` in :data:`STATUSES` — ``new`` (first date),
        ``active``, ``expanded`` (pools or area above ``expanded_ratio`` × its value on the
        last date seen), ``inactive`` (observed, absent), ``unobserved``; ``n_pools``,
        ``pool_area_m2``, ``cleared_area_m2`` (0 when not seen; a site seen only in part
        includes the members it carries, below), ``observed_fraction`` (of its hull that
        date, joined with its last known outline when that is partly unobserved; of its last
        known outline when not seen), ``n_pools_carried``, ``cleared_area_m2_carried`` (m²).
        ``events`` (:data:`EVENT_COLUMNS`). ``pools``/``clearings`` with ``site_id``;
        ``dates``; ``carried_pools``/``carried_clearings``: the members a site seen only in
        part carries — those it held when last seen whose polygon is now less than half
        observed in ``valid`` and overlaps no detection of the date — one row per member
        and date carried into, with ``last_seen``.

    Raises
    ------
    DateError
        A missing ``date`` column, an unreadable or missing date, a day given twice in
        ``dates`` or ``valid.time``, or detections on a day outside the analysis dates.
    InputError
        An input without CRS (``MissingCRSError`` for ``valid``), ``valid`` without dims
        (time, y, x), or ``regions`` that do not overlap.

    Examples
    --------
    Two pools 100 m apart on the first date, joined by a third on the second, and a one-date
    pool far away:

    >>> import geopandas as gpd
    >>> from shapely.geometry import Point
    >>> pools = gpd.GeoDataFrame(
    ...     {"date": ["2022-01-01", "2022-01-01", "2022-02-01", "2022-02-01", "2022-02-01",
    ...               "2022-01-01"]},
    ...     geometry=[Point(0, 0), Point(100, 0), Point(0, 0), Point(100, 0), Point(200, 0),
    ...               Point(5000, 0)], crs="EPSG:32647")
    >>> tracks = track_sites(pools)
    >>> print(tracks.history[["site_id", "date", "status", "n_pools"]].to_string(index=False))
    site_id       date   status  n_pools
      S0001 2022-01-01      new        2
      S0001 2022-02-01 expanded        3
      S0002 2022-01-01      new        1
      S0002 2022-02-01 inactive        0
    >>> print(tracks.sites[["site_id", "n_dates_seen", "persistent", "provisional"]]
    ...       .to_string(index=False))
    site_id  n_dates_seen  persistent  provisional
      S0001             2        True        False
      S0002             1       False        False
    """
    config = SiteConfig() if config is None else config
    if not isinstance(config, SiteConfig):
        raise InputError(f"config: expected a SiteConfig, got {type(config).__name__}.")
    pools_in = _check_frame(pools, "pools")
    if clearings is None:
        clearings_in = gpd.GeoDataFrame({"date": pd.Series(dtype="datetime64[ns]")},
                                        geometry=gpd.GeoSeries([], crs=pools_in.crs))
    else:
        clearings_in = _check_frame(clearings, "clearings")
    p_days = _row_dates(pools_in, "pools")
    c_days = _row_dates(clearings_in, "clearings")
    observer = _Observer(valid) if valid is not None else None
    days = _analysis_dates(dates, observer, p_days.append(c_days))
    n_dates = len(days)

    crs = _metric_crs([pools_in, clearings_in])
    if crs is None and observer is not None:
        crs = observer.crs

    def metric(frame: gpd.GeoDataFrame) -> np.ndarray:
        if len(frame) and frame.crs is not None and CRS(frame.crs) != crs:
            return frame.geometry.to_crs(crs).to_numpy()
        return frame.geometry.to_numpy()

    use_c = (clearings_in["kind"].isin(config.clearing_kinds).to_numpy()
             if "kind" in clearings_in.columns else np.ones(len(clearings_in), dtype=bool))
    p_geom, c_geom = metric(pools_in), metric(clearings_in)
    p_area, c_area = _areas(pools_in), _areas(clearings_in)
    # pools per detection: detect_pools' ``n_pools`` (a 10 m object can be a chain of several
    # pools), else one per row — the same count minewatch.timeseries sums
    p_count = (pd.to_numeric(pools_in["n_pools"], errors="coerce").fillna(1.0).to_numpy(float)
               if "n_pools" in pools_in.columns else np.ones(len(pools_in)))
    p_t = days.get_indexer(p_days)
    c_t = days.get_indexer(c_days)
    c_t = np.where(use_c, c_t, -1)
    p_order, c_order = np.argsort(p_t, kind="stable"), np.argsort(c_t, kind="stable")
    p_bounds = np.searchsorted(p_t[p_order], np.arange(n_dates + 1))
    c_bounds = np.searchsorted(c_t[c_order], np.arange(n_dates + 1))
    p_track = np.empty(len(pools_in), dtype=object)
    c_track = np.empty(len(clearings_in), dtype=object)

    link = config.linking_distance_m
    ratio = config.expanded_ratio
    tracks: list[_Track] = []
    live: list[_Track] = []
    events: list[tuple[int, str, _Track, list[_Track]]] = []
    carry_log: list[tuple[bool, int, int, int, _Track]] = []  # (is_pool, row, t, t_seen, site)

    for t in range(n_dates):
        ip = p_order[p_bounds[t]:p_bounds[t + 1]]
        ic = c_order[c_bounds[t]:c_bounds[t + 1]]
        n_p = len(ip)
        geoms = np.concatenate([p_geom[ip], c_geom[ic]])
        if len(geoms):
            n_det, labels, hulls = _cluster(geoms, link)
            if config.hull_buffer_m > 0:
                hulls = shapely.buffer(hulls, config.hull_buffer_m)
            det_n = np.round(np.bincount(labels[:n_p], weights=p_count[ip], minlength=n_det))
            det_pa = np.bincount(labels[:n_p], weights=p_area[ip], minlength=n_det)
            det_ca = np.bincount(labels[n_p:], weights=c_area[ic], minlength=n_det)
            cent = shapely.centroid(hulls)
            cx, cy = shapely.get_x(cent), shapely.get_y(cent)
            hull_area = shapely.area(hulls)
            order = np.lexsort((hull_area, cx, -cy))  # north to south, west to east
        else:
            n_det, labels, hulls = 0, np.zeros(0, dtype=int), np.zeros(0, dtype=object)
            det_n = det_pa = det_ca = cx = cy = hull_area = np.zeros(0)
            order = np.zeros(0, dtype=int)
        rank = np.empty(n_det, dtype=int)
        rank[order] = np.arange(n_det)
        det_area = det_pa + det_ca

        # candidate matches: every detection against the last polygon of every live site
        if live and n_det:
            tree = shapely.STRtree([tr.polygon for tr in live])
            d_idx, s_idx = tree.query(hulls, predicate="dwithin", distance=link)
            overlap = shapely.intersects(hulls[d_idx],
                                         np.array([live[j].polygon for j in s_idx]))
        else:
            d_idx = s_idx = np.zeros(0, dtype=int)
            overlap = np.zeros(0, dtype=bool)
        site_dets: dict[int, list[tuple[int, bool]]] = {}
        det_sites: dict[int, list[tuple[int, bool]]] = {}
        for i, j, o in zip(d_idx.tolist(), s_idx.tolist(), overlap.tolist(), strict=True):
            site_dets.setdefault(j, []).append((i, o))
            det_sites.setdefault(i, []).append((j, o))

        # each old site follows its largest overlapping detection (else its largest near one)
        followers: dict[int, list[_Track]] = {}
        for j, cands in site_dets.items():
            i_best = max(cands, key=lambda c: (c[1], det_area[c[0]], det_n[c[0]],
                                               hull_area[c[0]], -rank[c[0]]))[0]
            followers.setdefault(i_best, []).append(live[j])

        assigned: list[_Track | None] = [None] * n_det
        status: list[str] = [""] * n_det
        groups: list[list[_Track]] = [[] for _ in range(n_det)]
        children: dict[int, list[_Track]] = {}
        for i in order.tolist():
            group = followers.get(i)
            if group:
                group.sort(key=lambda tr: (tr.first, tr.key))
                keeper = group[0]
                for other in group[1:]:
                    other.merged_into = keeper
                if len(group) > 1:
                    events.append((t, "merge", keeper, group[1:]))
                assigned[i], status[i], groups[i] = keeper, "active", group
            else:
                tr = _Track(key=len(tracks), first=t, polygon=hulls[i],
                            anchor=(float(cx[i]), float(cy[i])))
                tracks.append(tr)
                assigned[i], status[i] = tr, "new"
                near = det_sites.get(i)
                if near:
                    j = min(near, key=lambda c: (not c[1], live[c[0]].first, live[c[0]].key))[0]
                    children.setdefault(j, []).append(tr)
        for j, kids in children.items():
            events.append((t, "split", live[j], kids))

        # A site seen only in part (cloud over the rest of its last outline) keeps the clouded
        # part in the outline it is matched by: otherwise the hidden ends would come back as
        # new sites once the outline shrank to the visible part. Its observed fraction is
        # taken over that outline (the hull of what was seen plus the clouded part).
        prev = [None if not g else g[0].polygon if len(g) == 1
                else shapely.union_all([tr.polygon for tr in g]) for g in groups]
        known = [i for i in range(n_det) if prev[i] is not None]
        partly: set[int] = set()
        clouded: set[int] = set()  # any pixel of the last outline unobserved
        if observer is not None and known:
            f_prev = observer.fractions([prev[i] for i in known], crs, days[t])
            partly = {i for i, f in zip(known, f_prev.tolist(), strict=True) if f < 0.999}
            clouded = {i for i, f in zip(known, f_prev.tolist(), strict=True) if f < 1.0}
        # A site seen only in part still holds the members it had when last seen that now
        # lie (mostly) under invalid pixels and that no detection of this date overlaps:
        # nobody can see them gone, so they are carried into this date's count. (Only sites
        # whose last outline is not wholly observed can hold such members.)
        # A clearing it held that is now only partly observed (and so mapped, if at all, on
        # its observed part) carries its unobserved share of area.
        carried, partial = (
            _hidden_members([g if i in clouded else [] for i, g in enumerate(groups)],
                            observer, crs, days[t], p_geom, c_geom, p_geom[ip], c_geom[ic])
            if clouded else ([[] for _ in range(n_det)], [[] for _ in range(n_det)]))
        car_n = np.round(np.array([sum(p_count[r] for is_p, r, _ in c if is_p)
                                   for c in carried], dtype=float))
        car_pa = np.array([sum(p_area[r] for is_p, r, _ in c if is_p) for c in carried],
                          dtype=float)
        car_ca = np.array([sum(c_area[r] for is_p, r, _ in c if not is_p) for c in carried],
                          dtype=float)
        if any(partial):
            car_ca += _partial_hidden_area(partial, carried, c_geom, observer, crs, days[t])
        tot_n, tot_pa, tot_ca = det_n + car_n, det_pa + car_pa, det_ca + car_ca
        tot_area = tot_pa + tot_ca
        for i, group in enumerate(groups):
            if group:  # compared with the sum over the sites it continues (a merge: all)
                n_ref = sum(tr.n_ref for tr in group)
                a_ref = sum(tr.area_ref for tr in group)
                if ((tot_n[i] > ratio * n_ref and tot_n[i] > n_ref)
                        or (tot_area[i] > ratio * a_ref and tot_area[i] > a_ref)):
                    status[i] = "expanded"

        outlines = [shapely.union(prev[i], hulls[i]) if i in partly else hulls[i]
                    for i in range(n_det)]
        obs_det = (observer.fractions(outlines, crs, days[t]) if observer is not None
                   else np.ones(n_det))
        members: list[list[tuple[bool, int, int]]] = [[] for _ in range(n_det)]
        for r, lab in zip(ip.tolist(), labels[:n_p].tolist(), strict=True):
            members[lab].append((True, r, t))
        for r, lab in zip(ic.tolist(), labels[n_p:].tolist(), strict=True):
            members[lab].append((False, r, t))
        for i in range(n_det):
            tr = assigned[i]
            tr.polygon, tr.n_ref, tr.area_ref = outlines[i], float(tot_n[i]), float(tot_area[i])
            tr.seen.append(t)
            tr.hulls.append(hulls[i])
            tr.rows.append((t, status[i], int(tot_n[i]), float(tot_pa[i]), float(tot_ca[i]),
                            float(obs_det[i]), int(car_n[i]), float(car_ca[i])))
            # a partly hidden clearing stays held: its hidden share is carried until seen
            tr.kept = members[i] + carried[i] + partial[i]
            carry_log += [(is_p, r, t, t_seen, tr) for is_p, r, t_seen in carried[i]]
        if n_det:
            which = np.array(assigned, dtype=object)
            p_track[ip] = which[labels[:n_p]]
            c_track[ic] = which[labels[n_p:]]

        seen_now = {id(tr) for tr in assigned}
        live = [tr for tr in live if tr.merged_into is None]
        absent = [tr for tr in live if id(tr) not in seen_now]
        obs_abs = (observer.fractions([tr.polygon for tr in absent], crs, days[t])
                   if observer is not None and absent else np.ones(len(absent)))
        for tr, f in zip(absent, obs_abs.tolist(), strict=True):
            gone = "inactive" if f >= config.min_observed_fraction else "unobserved"
            if gone == "inactive":  # observed absent: nothing of it is carried later
                tr.kept = []
            tr.rows.append((t, gone, 0, 0.0, 0.0, float(f), 0, 0.0))
        live += [tr for tr, st in zip(assigned, status, strict=True) if st == "new"]

    return _assemble(tracks, events, days, config, crs, pools_in, clearings_in, p_days,
                     c_days, p_track, c_track, regions, region_column, p_geom, c_geom,
                     carry_log)


def _distinct(geoms: list) -> list:
    """The geometries with exact repeats dropped (a site unchanged over dates repeats its
    hull; the union is the same and faster without them)."""
    seen: dict[bytes, object] = {}
    for g in geoms:
        seen.setdefault(shapely.to_wkb(g), g)
    return list(seen.values())


def _text(values: Sequence[object], index: pd.Index | None = None) -> pd.Series:
    """An object Series of str/None (pandas 3 would infer ``str`` and turn None into NaN)."""
    return pd.Series(list(values), index=index, dtype=object)


def _assemble(tracks: list[_Track], events: list, days: pd.DatetimeIndex, config: SiteConfig,
              crs: CRS | None, pools_in: gpd.GeoDataFrame, clearings_in: gpd.GeoDataFrame,
              p_days: pd.DatetimeIndex, c_days: pd.DatetimeIndex, p_track: np.ndarray,
              c_track: np.ndarray, regions: object, region_column: str | None,
              p_geom: np.ndarray, c_geom: np.ndarray, carry_log: list) -> SiteTracks:
    """Number the tracks and build the SiteTracks frames."""
    tracks = sorted(tracks, key=lambda tr: (tr.first, -round(tr.anchor[1], 2),
                                            round(tr.anchor[0], 2), tr.key))
    for k, tr in enumerate(tracks, start=1):
        tr.site_id = f"S{k:04d}"
    need = config.min_persistence_dates
    persistent = [len(tr.seen) + (tr.merged_into is not None) >= need for tr in tracks]
    n_observed = [sum(r[1] != "unobserved" for r in tr.rows) for tr in tracks]
    footprints = np.array([shapely.union_all(_distinct(tr.hulls)) for tr in tracks],
                          dtype=object)
    sites = gpd.GeoDataFrame({
        "site_id": _text([tr.site_id for tr in tracks]),
        "first_seen": pd.Series([days[tr.first] for tr in tracks], dtype="datetime64[ns]"),
        "last_seen": pd.Series([days[tr.seen[-1]] for tr in tracks], dtype="datetime64[ns]"),
        "n_dates_seen": pd.Series([len(tr.seen) for tr in tracks], dtype=int),
        "n_pools_max": pd.Series([max(r[2] for r in tr.rows) for tr in tracks], dtype=int),
        "area_m2_max": pd.Series([max(r[3] + r[4] for r in tr.rows) for tr in tracks],
                                 dtype=float),
        "persistent": pd.Series(persistent, dtype=bool),
        "provisional": pd.Series([not p and n < need for p, n in zip(persistent, n_observed,
                                                                     strict=True)], dtype=bool),
        "status_last": _text([tr.rows[-1][1] for tr in tracks]),
        "merged_into": _text([tr.merged_into.site_id if tr.merged_into is not None else None
                              for tr in tracks]),
    }, geometry=gpd.GeoSeries(footprints, crs=crs))
    if len(sites):
        lonlat = gpd.GeoSeries(shapely.centroid(footprints), crs=crs).to_crs("EPSG:4326")
        sites["lon"], sites["lat"] = lonlat.x.to_numpy(), lonlat.y.to_numpy()
    else:
        sites["lon"], sites["lat"] = pd.Series(dtype=float), pd.Series(dtype=float)
    sites["region"] = _text([None] * len(sites))
    if regions is not None:
        data = gpd.GeoSeries(np.concatenate([p_geom, c_geom]), crs=crs)
        sites["region"] = _region_of(sites, regions, region_column, data, crs)
    sites = sites[list(TRACK_COLUMNS)]

    region_of = dict(zip(sites["site_id"], sites["region"], strict=True))
    rows = [(tr.site_id, days[r[0]], *r[1:]) for tr in tracks for r in tr.rows]
    cols = list(zip(*rows, strict=True)) if rows else [()] * 9
    history = pd.DataFrame({
        "site_id": _text(cols[0]), "date": pd.Series(cols[1], dtype="datetime64[ns]"),
        "status": _text(cols[2]), "n_pools": pd.Series(cols[3], dtype=int),
        "pool_area_m2": pd.Series(cols[4], dtype=float),
        "cleared_area_m2": pd.Series(cols[5], dtype=float),
        "observed_fraction": pd.Series(cols[6], dtype=float),
        "region": _text([region_of[sid] for sid in cols[0]]),
        "n_pools_carried": pd.Series(cols[7], dtype=int),
        "cleared_area_m2_carried": pd.Series(cols[8], dtype=float),
    })
    history = history.sort_values(["site_id", "date"], ignore_index=True)

    ev = [(days[t], kind, tr.site_id, ",".join(sorted(o.site_id for o in others)))
          for t, kind, tr, others in events]
    cols = list(zip(*ev, strict=True)) if ev else [()] * 4
    events_df = pd.DataFrame({"date": pd.Series(cols[0], dtype="datetime64[ns]"),
                              "kind": _text(cols[1]), "site_id": _text(cols[2]),
                              "other_ids": _text(cols[3])})
    events_df = events_df.sort_values(["date", "kind", "site_id"], ignore_index=True)

    pools_out = pools_in.copy()
    clearings_out = clearings_in.copy()
    if len(pools_out):
        pools_out["date"] = p_days.to_numpy()
    if len(clearings_out):
        clearings_out["date"] = c_days.to_numpy()
    pools_out["site_id"] = _text([None if tr is None else tr.site_id for tr in p_track],
                                 index=pools_out.index)
    clearings_out["site_id"] = _text([None if tr is None else tr.site_id for tr in c_track],
                                     index=clearings_out.index)
    carried = {True: [], False: []}
    for is_p, r, t, t_seen, tr in carry_log:
        carried[is_p].append((r, days[t], tr.site_id, days[t_seen]))
    return SiteTracks(sites=sites, history=history, events=events_df, pools=pools_out,
                      clearings=clearings_out, dates=list(days),
                      carried_pools=_carried_rows(pools_out, carried[True]),
                      carried_clearings=_carried_rows(clearings_out, carried[False]))


def _carried_rows(frame: gpd.GeoDataFrame, carried: list[tuple]) -> gpd.GeoDataFrame:
    """Copies of the carried rows of ``frame`` with the date carried into, the carrying
    site and ``last_seen``; sorted by site, date and last_seen."""
    rows, dates, ids, last = (list(c) for c in zip(*carried, strict=True)) if carried \
        else ([], [], [], [])
    out = frame.iloc[rows].reset_index(drop=True)
    out["date"] = pd.Series(dates, dtype="datetime64[ns]")
    out["site_id"] = _text(ids)
    out["last_seen"] = pd.Series(last, dtype="datetime64[ns]")
    return out.sort_values(["site_id", "date", "last_seen"], kind="stable",
                           ignore_index=True)
