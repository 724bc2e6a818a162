"""Counts of mining sites, pools and cleared area per date, per period and per region.

:func:`site_timeseries` turns tracked sites (``minewatch.sites.track_sites``) into a tidy table,
one row per date (or month, quarter, year) and region; :func:`to_dataset` turns that table
into an :class:`xarray.Dataset` with dims ``(time[, region])``.

Rules, in short (details in ``docs/timeseries.md``):

* A site counts on a date when it is **persistent or provisional** (``tracks.sites``) and its
  status that date is ``new``, ``active`` or ``expanded``, or ``unobserved`` with its last
  observed status one of those three (it is *carried*: a cloudy date does not dip the count;
  ``sites_unobserved`` says how many were carried). ``inactive`` sites and sites the
  persistence rule holds back (neither persistent nor provisional) do not count.
* A carried site keeps the pools and cleared area of its last observed date. A site seen
  only in part also counts the pools and clearings it held when last seen that now lie
  under cloud or nodata (``tracks.carried_pools``/``carried_clearings``, chosen by
  ``track_sites``); ``pools_carried`` and ``cleared_area_m2_carried`` say how much of a
  count was not seen that date.
* A site or pool that appeared under cloud is seen later, on the first clear date after the
  spell; the hidden dates each count it with the probability that it was born by then (a
  birth time uniform between the last observation without it and the first with it):
  ``sites_backfilled`` / ``pools_backfilled`` (fractions, included in ``sites`` / ``pools``,
  revised when later dates are added).
* A period counts the distinct sites counted on at least one of its dates; pools and cleared
  area are each counted site's values on its last counted date in the period.
* The uncertainty band: ``*_low`` is the 5th percentile (``level=0.9``) of a seeded Monte
  Carlo in which each detected pool object is real with probability equal to its calibrated
  ``confidence``; ``*_high`` adds the sites the persistence rule held back and every
  possible birth under cloud whole. Neither covers pools the detector missed.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from os import PathLike
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import rioxarray  # noqa: F401  (registers the .rio accessor)
import shapely
import xarray as xr
from pyproj import CRS
from rasterio.features import geometry_mask
from scipy import sparse

from minewatch.errors import ConfigError, InputError

if TYPE_CHECKING:  # pragma: no cover
    from minewatch.sites import SiteTracks

__all__ = ["TIMESERIES_COLUMNS", "UNITS", "site_timeseries", "to_dataset"]

#: Columns of :func:`site_timeseries`, in order; ``region`` only when regions are given,
#: ``period`` and ``n_dates`` only when ``freq`` is given.
TIMESERIES_COLUMNS: tuple[str, ...] = (
    "date", "region", "sites", "pools", "cleared_area_m2", "new_sites", "valid_fraction",
    "sites_unobserved", "sites_low", "sites_high", "pools_low", "pools_high",
    "cleared_area_m2_low", "cleared_area_m2_high", "pools_carried", "cleared_area_m2_carried",
    "sites_backfilled", "pools_backfilled", "period", "n_dates",
)

#: Units and meaning of each column (``units`` / ``long_name`` attrs of :func:`to_dataset`).
UNITS: dict[str, tuple[str, str]] = {
    "sites": ("count", "mining sites counted (persistent or provisional; unobserved ones carried)"),
    "pools": ("count", "leaching pools in the counted sites"),
    "cleared_area_m2": ("m2", "cleared area (mining and unknown clearings) of the counted sites"),
    "new_sites": ("count", "counted sites first seen in this date or period"),
    "valid_fraction": ("1", "fraction of the AOI (or region) observed (not cloud or nodata)"),
    "sites_unobserved": ("count", "counted sites carried because they were unobserved"),
    "sites_low": ("count", "lower end of the band of sites (confidence Monte Carlo)"),
    "sites_high": ("count", "upper end of the band of sites (one-date sites included)"),
    "pools_low": ("count", "lower end of the band of pools (confidence Monte Carlo)"),
    "pools_high": ("count", "upper end of the band of pools (one-date sites included)"),
    "cleared_area_m2_low": ("m2", "lower end of the band of cleared area"),
    "cleared_area_m2_high": ("m2", "upper end of the band of cleared area"),
    "pools_carried": ("count", "pools counted but not seen (under cloud or nodata), carried "
                               "from the site's last observation"),
    "cleared_area_m2_carried": ("m2", "cleared area counted but not seen, carried likewise"),
    "sites_backfilled": ("count", "expected sites born under cloud or nodata and first seen "
                                  "later, included in sites (revised as dates are added)"),
    "pools_backfilled": ("count", "expected pools born under cloud or nodata and first seen "
                                  "later, included in pools"),
    "period": ("", "period label (YYYY-MM, YYYYQn or YYYY)"),
    "n_dates": ("count", "dates of the analysis in the period"),
}

_STATUSES = frozenset({"new", "active", "expanded", "inactive", "unobserved"})
_PRESENT = ("new", "active", "expanded")
_FREQS = {"M": "M", "ME": "M", "MS": "M", "MONTH": "M", "MONTHLY": "M",
          "Q": "Q", "QE": "Q", "QS": "Q", "QUARTER": "Q", "QUARTERLY": "Q",
          "Y": "Y", "YE": "Y", "YS": "Y", "A": "Y", "YEAR": "Y", "YEARLY": "Y", "ANNUAL": "Y"}
_TIME_ONLY = ("period", "n_dates")
_CHUNK = 250  # Monte Carlo draws evaluated at once (bounds memory: pool objects × _CHUNK)


# --------------------------------------------------------------------------- inputs


def _frame(tracks: Any, name: str, required: Sequence[str]) -> pd.DataFrame:
    if not hasattr(tracks, name):
        raise InputError(f"tracks has no .{name}; pass the SiteTracks returned by "
                         f"minewatch.sites.track_sites (got {type(tracks).__name__}).")
    frame = getattr(tracks, name)
    if frame is None:
        frame = pd.DataFrame({c: pd.Series(dtype=object) for c in required})
    if not isinstance(frame, pd.DataFrame):
        raise InputError(f"tracks.{name}: expected a DataFrame, got {type(frame).__name__}.")
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise InputError(f"tracks.{name} has no column(s) {missing}; columns are "
                         f"{list(frame.columns)}.")
    return frame


def _dates(values: Any, name: str) -> pd.Series:
    try:
        out = pd.to_datetime(pd.Series(values).reset_index(drop=True))
    except (ValueError, TypeError) as err:
        raise InputError(f"{name}: not dates ({err}).") from err
    if getattr(out.dt, "tz", None) is not None:
        out = out.dt.tz_convert(None)
    return out.astype("datetime64[ns]")


def _with_carried(tracks: Any, name: str, required: Sequence[str]) -> pd.DataFrame:
    """``tracks.<name>`` and the rows ``track_sites`` carried into later dates
    (``tracks.carried_<name>``, optional), with a bool ``_carried`` column."""
    frame = _frame(tracks, name, required).assign(_carried=False)
    if getattr(tracks, f"carried_{name}", None) is None:
        return frame
    extra = _frame(tracks, f"carried_{name}", required)
    if not len(extra):
        return frame
    extra = extra.assign(_carried=True)
    if "area_m2" not in extra.columns and isinstance(extra, gpd.GeoDataFrame):
        extra["area_m2"] = extra.geometry.area.to_numpy(dtype=float)
    if "area_m2" not in frame.columns and isinstance(frame, gpd.GeoDataFrame) \
            and "area_m2" in extra.columns:
        frame["area_m2"] = frame.geometry.area.to_numpy(dtype=float)
    keep = [c for c in frame.columns if c in extra.columns]
    return pd.concat([pd.DataFrame(frame[keep]), pd.DataFrame(extra[keep])],
                     ignore_index=True)


def _read_tracks(tracks: Any) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame,
                                       pd.DataFrame, pd.DatetimeIndex]:
    history = _frame(tracks, "history", ("site_id", "date", "status")).copy()
    sites = _frame(tracks, "sites", ("site_id", "persistent", "provisional"))
    pools = _with_carried(tracks, "pools", ("site_id", "date", "confidence")).copy()
    clearings = _with_carried(tracks, "clearings", ("site_id", "date")).copy()
    if not hasattr(tracks, "dates"):
        raise InputError("tracks has no .dates (the list of all dates of the analysis).")
    dates = pd.DatetimeIndex(_dates(list(tracks.dates), "tracks.dates"))
    if dates.has_duplicates:
        dup = sorted({str(d.date()) for d in dates[dates.duplicated()]})
        raise InputError(f"tracks.dates holds duplicated dates {dup}.")
    dates = dates.sort_values()

    history["date"] = _dates(history["date"], "tracks.history.date").to_numpy()
    bad = sorted(set(history["status"].dropna().astype(str)) - _STATUSES)
    if bad or history["status"].isna().any():
        raise InputError(f"tracks.history.status holds {bad or ['missing values']}; allowed "
                         f"{sorted(_STATUSES)}.")
    dup = history.duplicated(["site_id", "date"])
    if dup.any():
        row = history[dup].iloc[0]
        raise InputError(f"tracks.history has more than one row for site {row['site_id']} on "
                         f"{row['date'].date()}.")
    stray = ~history["date"].isin(dates)
    if stray.any():
        raise InputError(f"tracks.history has dates not in tracks.dates: "
                         f"{sorted({str(d.date()) for d in history.loc[stray, 'date']})}.")
    unknown = ~history["site_id"].isin(sites["site_id"])
    if unknown.any():
        raise InputError(f"tracks.history names sites missing from tracks.sites: "
                         f"{sorted(set(history.loc[unknown, 'site_id']))[:5]}.")
    if sites["site_id"].duplicated().any():
        raise InputError(f"tracks.sites has duplicated site_id "
                         f"{sites.loc[sites['site_id'].duplicated(), 'site_id'].iloc[0]!r}.")
    for name, frame in (("pools", pools), ("clearings", clearings)):
        frame["date"] = _dates(frame["date"], f"tracks.{name}.date").to_numpy()
    used = pools["site_id"].notna()
    conf = pd.to_numeric(pools.loc[used, "confidence"], errors="coerce")
    if conf.isna().any() or ((conf < 0) | (conf > 1)).any():
        raise InputError("tracks.pools.confidence must be a number in 0–1 for every pool in a "
                         "site (it is the calibrated probability that the pool is real).")
    return history, sites, pools, clearings, dates


def _freq(freq: str | None) -> str | None:
    if freq is None:
        return None
    key = str(freq).strip().upper() if isinstance(freq, str) else None
    if key not in _FREQS:
        raise ConfigError(f"freq={freq!r} is not supported; use None (per date), 'M' or "
                          f"'month', 'Q' or 'quarter', 'Y' or 'year'.")
    return _FREQS[key]


def _check_valid(valid: Any, dates: pd.DatetimeIndex) -> xr.DataArray:
    if not isinstance(valid, xr.DataArray):
        raise InputError(f"valid: expected an xarray.DataArray of bool (time, y, x), got "
                         f"{type(valid).__name__}.")
    if "time" not in valid.dims or valid.ndim != 3:
        raise InputError(f"valid: expected dims (time, y, x), got {valid.dims}.")
    if valid.dtype.kind not in "biu":
        raise InputError(f"valid: expected bool (True = observed), got dtype {valid.dtype}; "
                         f"use valid.notnull() or a mask comparison.")
    times = pd.DatetimeIndex(_dates(valid["time"].values, "valid.time"))
    if times.has_duplicates:
        raise InputError(f"valid.time holds duplicated dates "
                         f"{sorted({str(d.date()) for d in times[times.duplicated()]})}.")
    missing, extra = dates.difference(times), times.difference(dates)
    if len(missing) or len(extra):
        raise InputError(
            "valid.time and tracks.dates differ: "
            + (f"missing from valid {[str(d.date()) for d in missing]}; " if len(missing) else "")
            + (f"not in tracks.dates {[str(d.date()) for d in extra]}; " if len(extra) else "")
            + "pass the valid mask of the same analysis.")
    spatial = [d for d in valid.dims if d != "time"]
    return valid.assign_coords(time=times.to_numpy()).transpose("time", *spatial)


def _load_regions(regions: Any, region_column: str | None) -> gpd.GeoDataFrame:
    """Regions as a GeoDataFrame with ``region`` (unique names, rows dissolved) + geometry."""
    source = "regions"
    if isinstance(regions, gpd.GeoSeries):
        regions = gpd.GeoDataFrame({"region": [str(i) for i in regions.index]},
                                   geometry=regions)
        region_column = "region"
    elif isinstance(regions, str | PathLike):
        source = f"regions file {str(regions)!r}"
        try:
            regions = gpd.read_file(regions)
        except Exception as err:  # pyogrio raises several types
            raise InputError(f"{source} could not be read as a vector file: {err}") from err
    if not isinstance(regions, gpd.GeoDataFrame):
        raise InputError(f"regions: expected a GeoDataFrame, GeoSeries or a vector file path, "
                         f"got {type(regions).__name__}.")
    if regions.crs is None:
        raise InputError(f"{source} have no CRS; set one with regions.set_crs(...) first.")
    if len(regions) == 0:
        raise InputError(f"{source} hold no polygon.")
    kinds = set(regions.geom_type.dropna())
    if not kinds <= {"Polygon", "MultiPolygon"} or regions.geometry.isna().any():
        raise InputError(f"{source} must be polygons; found {sorted(kinds)} "
                         f"{'and empty geometries' if regions.geometry.isna().any() else ''}.")
    if region_column is None:
        candidates = [c for c in ("name", "NAME", "Name") if c in regions.columns]
        candidates += [c for c in regions.columns if c != regions.geometry.name
                       and pd.api.types.is_string_dtype(regions[c].dtype)]
        if not candidates:
            raise InputError(f"{source} have no name column (looked for 'name' and any text "
                             f"column); pass region_column=... to name one.")
        region_column = candidates[0]
    elif region_column not in regions.columns:
        raise InputError(f"{source} have no column {region_column!r}; columns are "
                         f"{list(regions.columns)}.")
    names = regions[region_column]
    if names.isna().any():
        raise InputError(f"{source}: column {region_column!r} has empty names; every region "
                         f"needs one.")
    names = names.astype(str)
    order = list(dict.fromkeys(names))
    geoms = [shapely.union_all(regions.geometry[(names == n).to_numpy()].to_numpy())
             for n in order]
    return gpd.GeoDataFrame({"region": order}, geometry=geoms, crs=regions.crs)


def _fmt(bounds: Sequence[float]) -> str:
    return "(" + ", ".join(f"{b:.6g}" for b in bounds) + ")"


def _site_regions(sites: pd.DataFrame, regs: gpd.GeoDataFrame,
                  valid: xr.DataArray | None) -> pd.DataFrame:
    """Rows (site_id, region) by the site centroid; raises when nothing overlaps."""
    own_crs, own_bounds = regs.crs, regs.total_bounds
    extents: list[shapely.Geometry] = []
    target: CRS | None = None
    has_geom = isinstance(sites, gpd.GeoDataFrame) and len(sites) > 0
    if has_geom:
        if sites.crs is None:
            raise InputError("tracks.sites has no CRS; cannot place sites in regions.")
        target = CRS(sites.crs)
        extents.append(shapely.box(*sites.total_bounds))
    if valid is not None and valid.rio.crs is not None:
        vbox = gpd.GeoSeries([shapely.box(*valid.rio.bounds())], crs=valid.rio.crs)
        target = target or CRS(valid.rio.crs)
        extents.append(vbox.to_crs(target).iloc[0])
    if target is None:  # nothing to check against or place
        return pd.DataFrame({"site_id": pd.Series(dtype=object),
                             "region": pd.Series(dtype=object)})
    regs_t = regs.to_crs(target)
    if not any(regs_t.intersects(e).any() for e in extents):
        what = "sites" if has_geom else "valid grid"
        box = gpd.GeoSeries([shapely.union_all(extents)], crs=target).to_crs(own_crs)
        raise InputError(
            f"regions (bounds {_fmt(own_bounds)} in {own_crs.to_string()}) do not overlap the "
            f"{what} (bounds {_fmt(box.total_bounds)} in the same CRS); check that the region "
            f"layer covers the area and that its CRS is right.")
    if not has_geom:
        return pd.DataFrame({"site_id": pd.Series(dtype=object),
                             "region": pd.Series(dtype=object)})
    geoms = sites.geometry
    if target.is_geographic:  # centroids in metres, then back
        geoms = geoms.to_crs(geoms.estimate_utm_crs()).centroid.to_crs(target)
    else:
        geoms = geoms.centroid
    cent = gpd.GeoDataFrame({"site_id": sites["site_id"].to_numpy()},
                            geometry=geoms.to_numpy(), crs=target)
    hit = gpd.sjoin(cent, regs_t, how="inner", predicate="intersects")
    return pd.DataFrame({"site_id": hit["site_id"].to_numpy(dtype=object),
                         "region": hit["region"].to_numpy(dtype=object)})


# --------------------------------------------------------------------------- site-dates


def _site_dates(history: pd.DataFrame, sites: pd.DataFrame) -> pd.DataFrame:
    """History rows where a site is present (observed or carried), with the source date."""
    h = history[["site_id", "date", "status"]].copy()
    h["status"] = h["status"].astype(str)
    h = h.sort_values(["site_id", "date"], kind="stable").reset_index(drop=True)
    observed = h["status"] != "unobserved"
    h["src_date"] = h["date"].where(observed)
    h["src_status"] = h["status"].astype(object).where(observed)
    grouped = h.groupby("site_id", sort=False)
    h["src_date"] = grouped["src_date"].ffill()
    h["src_status"] = grouped["src_status"].ffill()
    h["carried"] = ~observed
    h = h[h["src_status"].isin(_PRESENT)].copy()
    h["counted"] = h["site_id"].map(_eligible(sites)).fillna(False).astype(bool).to_numpy()
    return h.reset_index(drop=True)


def _eligible(sites: pd.DataFrame) -> pd.Series:
    """Per ``site_id``: whether the site can count (persistent or provisional)."""
    flags = sites.set_index("site_id")[["persistent", "provisional"]]
    return flags.fillna(False).astype(bool).any(axis=1)


def _first_seen(sites: pd.DataFrame, history: pd.DataFrame) -> pd.Series:
    if "first_seen" in sites.columns:
        return pd.Series(_dates(sites["first_seen"], "tracks.sites.first_seen").to_numpy(),
                         index=sites["site_id"].to_numpy())
    return history.groupby("site_id")["date"].min()


# --------------------------------------------------------------------------- valid fraction


def _valid_fractions(valid: xr.DataArray | None, unit_dates: list[pd.DatetimeIndex],
                     regs: gpd.GeoDataFrame | None) -> np.ndarray:
    """(n_units, n_regions) fraction observed on at least one date of each unit."""
    n_reg = 1 if regs is None else len(regs)
    out = np.full((len(unit_dates), n_reg), np.nan)
    if valid is None:
        return out
    ny, nx = valid.shape[1:]
    if regs is None:
        masks = [(None, 1.0)]
    else:
        if valid.rio.crs is None:
            raise InputError("valid has no CRS, so regions cannot be placed on it; write one "
                             "with valid.rio.write_crs(...).")
        transform = valid.rio.transform()
        grid = shapely.box(*valid.rio.bounds())
        masks = []
        for geom in regs.to_crs(valid.rio.crs).geometry:
            mask = geometry_mask([geom], out_shape=(ny, nx), transform=transform, invert=True)
            if not mask.any():
                mask = geometry_mask([geom], out_shape=(ny, nx), transform=transform,
                                     invert=True, all_touched=True)
            cover = geom.intersection(grid).area / geom.area if geom.area > 0 else 0.0
            masks.append((mask, cover))
    for u, days in enumerate(unit_dates):
        seen = np.zeros((ny, nx), dtype=bool)
        for day in days:
            seen |= np.asarray(valid.sel(time=day).values, dtype=bool)
        for r, (mask, cover) in enumerate(masks):
            if mask is None:
                out[u, r] = seen.mean() if seen.size else np.nan
            else:
                out[u, r] = seen[mask].mean() * cover if mask.any() else 0.0
    return out


# --------------------------------------------------------------------------- back-fill


def _backfill(tracks: Any, valid: xr.DataArray | None, dates: pd.DatetimeIndex,
              sites: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Sites and pools first seen right after a spell of dates on which they were hidden.

    A site first seen on date ``f`` whose members (its pools and clearings of ``f``) were all
    hidden — less than half of each polygon observed, as ``track_sites`` decides which members
    a partly seen site carries — on the dates before ``f`` back to date ``b``, where some were
    observed and nothing was detected, was born some time in ``(b, f]``. With no knowledge
    of when, a birth time uniform over that interval gives it a probability of being there
    on a hidden date ``k`` of ``(day_k - day_b) / (day_f - day_b)``. A pool first seen on
    ``f`` in a site that already existed is handled alike, pool by pool: hidden back to ``b``
    and not detected on ``b``. A spell that reaches the first date has no ``b``: no
    estimate, only the upper band.

    Returns two frames: site births (``site_id``, ``date``, ``weight``, ``pools``,
    ``cleared_area_m2``, each a weight × the site's value on ``f``, and ``pools_high``,
    ``cleared_area_m2_high`` for weight 1) and pool births (``site_id``, ``date``,
    ``pools``, ``pools_high``). Empty without ``valid`` or without a CRS on it.
    """
    births = pd.DataFrame({"site_id": pd.Series(dtype=object),
                           "date": pd.Series(dtype="datetime64[ns]"),
                           **{c: pd.Series(dtype=float) for c in
                              ("weight", "weight_high", "pools", "pools_high",
                               "cleared_area_m2", "cleared_area_m2_high")}})
    pool_births = births[["site_id", "date", "pools", "pools_high"]].copy()
    p_in, c_in = getattr(tracks, "pools", None), getattr(tracks, "clearings", None)
    if (valid is None or valid.rio.crs is None or len(dates) < 2
            or not isinstance(p_in, gpd.GeoDataFrame) or "first_seen" not in sites.columns):
        return births, pool_births
    from minewatch.sites import _HIDDEN_BELOW, _Observer  # the rule track_sites carries by

    # (time, row, column) whatever the names (rasters are row-major: y before x)
    rows, cols = (d for d in valid.dims if d != "time")
    observer = _Observer(valid.rename({k: v for k, v in ((rows, "y"), (cols, "x")) if k != v}))
    days = dates.to_numpy().astype("datetime64[D]").astype(np.int64)
    p_in = p_in[p_in["site_id"].notna()]
    p_t = dates.get_indexer(_dates(p_in["date"], "tracks.pools.date"))
    p_geom = p_in.geometry.to_numpy()
    p_site = p_in["site_id"].to_numpy(dtype=object)
    p_n = (pd.to_numeric(p_in["n_pools"], errors="coerce").fillna(1.0).to_numpy(float)
           if "n_pools" in p_in.columns else np.ones(len(p_in)))
    if isinstance(c_in, gpd.GeoDataFrame) and len(c_in):
        c_in = c_in[c_in["site_id"].notna()]
        c_t = dates.get_indexer(_dates(c_in["date"], "tracks.clearings.date"))
        c_geo = (c_in.geometry.to_crs(p_in.crs) if c_in.crs is not None and p_in.crs
                 is not None and CRS(c_in.crs) != CRS(p_in.crs) else c_in.geometry)
        c_geom, c_site = c_geo.to_numpy(), c_in["site_id"].to_numpy(dtype=object)
        c_area = (pd.to_numeric(c_in["area_m2"], errors="coerce").fillna(0.0).to_numpy(float)
                  if "area_m2" in c_in.columns else shapely.area(c_geom))
    else:
        c_t, c_geom = np.zeros(0, dtype=int), np.zeros(0, dtype=object)
        c_site, c_area = np.zeros(0, dtype=object), np.zeros(0)
    first = dates.get_indexer(_dates(sites["first_seen"], "tracks.sites.first_seen"))
    first_of = dict(zip(sites["site_id"].to_numpy(dtype=object), first.tolist(), strict=True))

    # walkers: a site born on f > 0 (all its members of f), or a pool of f > 0 in a site
    # first seen before f; each walks back from f - 1 while hidden
    walkers: list[tuple[str, Any, int, np.ndarray, float, float]] = []
    p_rows_of = pd.DataFrame({"s": p_site, "t": p_t}).groupby(["s", "t"]).indices
    c_rows_of = pd.DataFrame({"s": c_site, "t": c_t}).groupby(["s", "t"]).indices
    no_rows = np.zeros(0, dtype=int)
    for sid, f in first_of.items():
        if f <= 0:
            continue
        sp, sc = p_rows_of.get((sid, f), no_rows), c_rows_of.get((sid, f), no_rows)
        if len(sp) or len(sc):
            walkers.append(("site", sid, f, np.concatenate([p_geom[sp], c_geom[sc]]),
                            float(p_n[sp].sum()), float(c_area[sc].sum())))
    born_later = (pd.Series(p_site).map(first_of).fillna(-1).to_numpy() < p_t)
    for r in np.flatnonzero((p_t > 0) & born_later).tolist():
        walkers.append(("pool", p_site[r], int(p_t[r]), p_geom[r:r + 1], float(p_n[r]), 0.0))
    hidden: list[list[int]] = [[] for _ in walkers]
    stop = np.full(len(walkers), -1)
    alive = np.ones(len(walkers), dtype=bool)
    f_of = np.array([w[2] for w in walkers], dtype=int)
    p_crs = observer.crs if p_in.crs is None else CRS(p_in.crs)
    for k in range(len(dates) - 2, -1, -1):
        at = np.flatnonzero(alive & (f_of > k))
        if not len(at):
            continue
        geoms = [g for i in at.tolist() for g in walkers[i][3]]
        owner = np.repeat(at, [len(walkers[i][3]) for i in at.tolist()])
        seen = np.zeros(len(walkers))
        np.maximum.at(seen, owner, observer.fractions(geoms, p_crs, dates[k]))
        for i in at.tolist():
            if seen[i] < _HIDDEN_BELOW:
                hidden[i].append(k)
            else:
                alive[i], stop[i] = False, k
    # a pool detected on b where it was observed was there before the spell: the site
    # carries it (track_sites), it was not born in it
    for b in np.unique(stop[stop >= 0]).tolist():
        idx = [i for i in np.flatnonzero(stop == b).tolist() if walkers[i][0] == "pool"]
        there = p_geom[p_t == b]
        if idx and len(there):
            hit, _ = shapely.STRtree(there).query(np.array([walkers[i][3][0] for i in idx]),
                                                  predicate="intersects")
            for j in np.unique(hit).tolist():
                hidden[idx[j]] = []
    s_rows, p_rows = [], []
    for i, (kind, sid, f, _, n, area) in enumerate(walkers):
        b = int(stop[i])
        for k in hidden[i]:
            w = (days[k] - days[b]) / (days[f] - days[b]) if b >= 0 else 0.0
            if kind == "site":
                s_rows.append((sid, dates[k], w, 1.0, w * n, n, w * area, area))
            else:
                p_rows.append((sid, dates[k], w * n, n))
    if s_rows:
        births = pd.DataFrame(s_rows, columns=list(births.columns)).astype(
            {"date": "datetime64[ns]"})
    if p_rows:
        pool_births = (pd.DataFrame(p_rows, columns=list(pool_births.columns))
                       .astype({"date": "datetime64[ns]"})
                       .groupby(["site_id", "date"], as_index=False, sort=True).sum())
    return births, pool_births


# --------------------------------------------------------------------------- main


def site_timeseries(
    tracks: SiteTracks,
    valid: xr.DataArray | None = None,
    regions: gpd.GeoDataFrame | gpd.GeoSeries | str | PathLike | None = None,
    freq: str | None = None,
    *,
    region_column: str | None = None,
    n_draws: int = 1000,
    level: float = 0.9,
    seed: int = 0,
) -> pd.DataFrame:
    """Sites, pools and cleared area per date (or period) and region, with an uncertainty band.

    Parameters
    ----------
    tracks : SiteTracks
        Output of ``minewatch.sites.track_sites``. Only ``.history`` (``site_id``, ``date``,
        ``status``), ``.sites`` (``site_id``, ``persistent``, ``provisional``, ``first_seen``,
        ``geometry`` for regions), ``.pools`` (``site_id``, ``date``, ``confidence``, and
        ``n_pools`` when present), ``.clearings`` (``site_id``, ``date``, ``area_m2``,
        ``kind``), ``.dates`` and, when present, ``.carried_pools``/``.carried_clearings``
        (the same columns as ``.pools``/``.clearings``) are read.
    valid : xarray.DataArray of bool, optional
        ``(time, y, x)``, True where observed, with a rioxarray CRS and transform; its
        ``time`` values must be ``tracks.dates``. Without it ``valid_fraction`` is NaN.
    regions : GeoDataFrame, GeoSeries or path, optional
        Polygons in any CRS (reprojected) with a name column; rows with the same name are one
        region. A site belongs to every region holding its centroid; sites in no region are
        in no row. Regions must overlap the sites (or the ``valid`` grid when there are none).
    freq : {None, "M", "Q", "Y"}, optional
        None: one row per date. ``"M"``/``"month"``, ``"Q"``/``"quarter"``,
        ``"Y"``/``"year"``: one row per period holding at least one date; ``date`` is the
        period's first day.
    region_column : str, optional
        Name column of ``regions``; default ``name``, else the first text column.
    n_draws : int
        Monte Carlo draws of the lower band (default 1000).
    level : float
        Central probability of the Monte Carlo interval whose lower end is ``*_low``
        (default 0.9: the 5th percentile).
    seed : int
        Seed of the Monte Carlo (same inputs and seed, same table).

    Returns
    -------
    pandas.DataFrame
        One row per date or period (× region), sorted by date then region order, columns
        (:data:`TIMESERIES_COLUMNS`):

        - ``date`` (datetime64), ``region`` (str, only with regions);
        - ``sites``: sites counted — persistent or provisional, present (``new``,
          ``active``, ``expanded``) or carried (``unobserved`` with last observed status
          present). Per period: distinct sites counted on at least one of its dates;
        - ``pools``: pools of the counted sites (sum of the pools' ``n_pools`` column, the
          10 m chain estimate, else one per pool); a carried site keeps its last observed
          pools. Per period: each counted site's pools on its last counted date (not max);
        - ``cleared_area_m2`` (m²): same for the area of its clearings (``mining`` and
          ``unknown``);
        - ``new_sites``: counted sites whose ``first_seen`` falls on the date or period;
        - ``valid_fraction`` (0–1): fraction of the AOI grid (per region: of the region's
          area, parts outside the grid unobserved) observed that date; per period: observed
          on at least one of its dates;
        - ``sites_unobserved``: counted sites that were carried (per period: carried on every
          counted date of the period), ``sites_unobserved <= sites``;
        - ``pools_carried``, ``cleared_area_m2_carried`` (m²): the part of ``pools`` and
          ``cleared_area_m2`` not seen on the date (per period: on each site's last counted
          date): all of a carried site's, plus the hidden members a partly observed site
          carries (``tracks.carried_pools``/``carried_clearings``); those carried pools are
          drawn with their own confidence in the band like any other;
        - ``sites_backfilled``, ``pools_backfilled`` (fractional counts, included in
          ``sites`` and ``pools``; ``cleared_area_m2`` takes a back-filled site's share of its
          area too): sites and pools first seen on a later date whose members were hidden
          (less than half observed in ``valid``) on this date and back to an earlier date
          where they were observed and absent, each weighted by the probability that it was
          born by this date (``(day - day_before) / (day_first_seen - day_before)``). Needs
          ``valid`` (0 without it); never on the last date;
        - ``sites_low``, ``pools_low``, ``cleared_area_m2_low``: the ``(1 - level) / 2``
          quantile of ``n_draws`` seeded draws in which each pool object is real with
          probability ``confidence``; a site counts when it holds a real pool or a ``mining``
          clearing, and its ``unknown`` clearings count only when it does;
        - ``sites_high``, ``pools_high``, ``cleared_area_m2_high``: the values with the
          sites the persistence rule held back (neither persistent nor provisional) counted
          too, and every site and pool that may have been born under cloud counted whole;
        - ``period`` (``2022-03``, ``2022Q1``, ``2022``) and ``n_dates``, only with ``freq``.

        ``low <= value <= high`` holds in every row. ``table.attrs`` records the method.

    Raises
    ------
    InputError
        ``tracks`` lacking an attribute or column, unknown statuses, dates of ``history`` or
        ``valid`` that are not ``tracks.dates``, confidences outside 0–1, regions without CRS
        or name, not polygons, or not overlapping the sites.
    ConfigError
        An unknown ``freq``, ``n_draws < 1`` or ``level`` outside (0, 1).

    Examples
    --------
    One persistent site, seen on the first and last date, under cloud on the second:

    >>> from types import SimpleNamespace
    >>> import geopandas as gpd, pandas as pd
    >>> from shapely.geometry import Point
    >>> d = pd.to_datetime(["2022-01-05", "2022-02-04", "2022-03-06"])
    >>> sites = gpd.GeoDataFrame({"site_id": ["S0001"], "first_seen": d[:1],
    ...     "persistent": [True], "provisional": [False]},
    ...     geometry=[Point(0, 0).buffer(50)], crs="EPSG:32647")
    >>> history = pd.DataFrame({"site_id": "S0001", "date": d,
    ...     "status": ["new", "unobserved", "active"]})
    >>> pools = pd.DataFrame({"site_id": "S0001", "date": d[[0, 0, 2, 2, 2]],
    ...     "confidence": [0.9, 0.6, 0.9, 0.95, 0.7]})
    >>> clearings = pd.DataFrame({"site_id": ["S0001"], "date": d[:1], "area_m2": [5000.0],
    ...     "kind": ["mining"]})
    >>> tracks = SimpleNamespace(sites=sites, history=history, pools=pools,
    ...     clearings=clearings, dates=list(d))
    >>> table = site_timeseries(tracks)
    >>> table[["date", "sites", "sites_unobserved", "pools", "cleared_area_m2"]]
            date  sites  sites_unobserved  pools  cleared_area_m2
    0 2022-01-05      1                 0      2           5000.0
    1 2022-02-04      1                 1      2           5000.0
    2 2022-03-06      1                 0      3              0.0
    >>> site_timeseries(tracks, freq="Q")[["period", "sites", "pools", "n_dates"]]
      period  sites  pools  n_dates
    0 2022Q1      1      3        3
    """
    history, sites, pools, clearings, dates = _read_tracks(tracks)
    step = _freq(freq)
    if isinstance(n_draws, bool) or not isinstance(n_draws, int | np.integer) or n_draws < 1:
        raise ConfigError(f"n_draws={n_draws!r}: expected an integer >= 1.")
    if not isinstance(level, int | float) or not 0.0 < float(level) < 1.0:
        raise ConfigError(f"level={level!r}: expected a probability in (0, 1), e.g. 0.9.")
    if valid is not None:
        valid = _check_valid(valid, dates)
    regs = None if regions is None else _load_regions(regions, region_column)

    # ---- units (dates or periods) -----------------------------------------------------
    if step is None:
        unit_start = pd.DatetimeIndex(dates)
        unit_code = np.arange(len(dates))
        labels: list[str] | None = None
    else:
        periods = pd.PeriodIndex(dates, freq=step) if len(dates) else pd.PeriodIndex(
            [], freq=step)
        uniq = periods.unique().sort_values()
        unit_code = uniq.get_indexer(periods)
        unit_start = pd.DatetimeIndex(uniq.start_time)
        labels = [str(p) for p in uniq]
    n_units = len(unit_start)
    unit_dates = [dates[unit_code == u] for u in range(n_units)]
    code_of_date = pd.Series(unit_code, index=dates)

    # ---- regions ---------------------------------------------------------------------
    if regs is None:
        region_names: list[Any] = [None]
        site_reg = pd.DataFrame({"site_id": sites["site_id"].to_numpy(dtype=object),
                                 "region": 0})
    else:
        region_names = list(regs["region"])
        pairs_sr = _site_regions(sites, regs, valid)
        site_reg = pd.DataFrame({"site_id": pairs_sr["site_id"].to_numpy(dtype=object),
                                 "region": pd.Index(region_names).get_indexer(
                                     pairs_sr["region"])})
    n_reg = len(region_names)

    # ---- present site-dates, pairs (site, source date), groups (site, unit) -------------
    rows = _site_dates(history, sites)
    rows["unit"] = code_of_date.reindex(rows["date"]).to_numpy()
    pair_key = pd.MultiIndex.from_arrays([rows["site_id"], rows["src_date"]])
    pair_index = pair_key.unique()
    rows["pair"] = pair_index.get_indexer(pair_key)
    n_pairs = len(pair_index)

    rows = rows.sort_values(["site_id", "unit", "date"], kind="stable").reset_index(drop=True)
    group_key = pd.MultiIndex.from_arrays([rows["site_id"], rows["unit"]])
    group_index = group_key.unique()
    rows["group"] = group_index.get_indexer(group_key)
    n_groups = len(group_index)
    grouped = rows.groupby("group", sort=True)
    last_pair = grouped["pair"].last().to_numpy()
    g_site = grouped["site_id"].first().to_numpy(dtype=object)
    g_unit = grouped["unit"].first().to_numpy(dtype=int)
    g_counted = grouped["counted"].first().to_numpy(dtype=bool)
    g_carried = grouped["carried"].all().to_numpy(dtype=bool)
    g_last_carried = grouped["carried"].last().to_numpy(dtype=bool)
    first = _first_seen(sites, history)
    first_unit = code_of_date.reindex(pd.DatetimeIndex(first.reindex(g_site))).to_numpy()
    g_new = g_counted & (first_unit == g_unit)
    any_pair = sparse.csr_matrix((np.ones(len(rows)), (rows["group"], rows["pair"])),
                                 shape=(n_groups, n_pairs))

    # ---- members per pair ------------------------------------------------------------
    pools = pools[pools["site_id"].notna()]
    pool_key = pd.MultiIndex.from_arrays([pools["site_id"], pools["date"]])
    pool_pair = pair_index.get_indexer(pool_key) if n_pairs else np.full(len(pools), -1)
    keep = pool_pair >= 0
    pool_pair = pool_pair[keep]
    weight = (pd.to_numeric(pools["n_pools"], errors="coerce").fillna(1.0).to_numpy()[keep]
              if "n_pools" in pools.columns else np.ones(keep.sum()))
    conf = pools["confidence"].to_numpy(dtype=float)[keep]
    hid = pools["_carried"].to_numpy(dtype=bool)[keep]
    order = np.lexsort((weight, conf, hid, pool_pair))  # any row order: the same draws
    pool_pair, weight, conf, hid = pool_pair[order], weight[order], conf[order], hid[order]
    n_obj = len(pool_pair)
    to_pair = sparse.csr_matrix((weight, (pool_pair, np.arange(n_obj))),
                                shape=(n_pairs, n_obj))
    pools_pair = np.asarray(to_pair.sum(axis=1)).ravel()
    hidden_pools_pair = np.bincount(pool_pair[hid], weights=weight[hid], minlength=n_pairs)

    clearings = clearings[clearings["site_id"].notna()]
    if "area_m2" in clearings.columns:
        area = pd.to_numeric(clearings["area_m2"], errors="coerce").fillna(0.0).to_numpy()
    elif isinstance(clearings, gpd.GeoDataFrame):
        area = clearings.geometry.area.to_numpy(dtype=float)
    else:
        raise InputError("tracks.clearings has neither area_m2 nor geometry.")
    mining = (clearings["kind"].astype(str).eq("mining").to_numpy()
              if "kind" in clearings.columns else np.ones(len(clearings), dtype=bool))
    clr_key = pd.MultiIndex.from_arrays([clearings["site_id"], clearings["date"]])
    clr_pair = pair_index.get_indexer(clr_key) if n_pairs else np.full(len(clearings), -1)
    ok = clr_pair >= 0
    mining_n = np.bincount(clr_pair[ok & mining], minlength=n_pairs)
    mining_area = np.bincount(clr_pair[ok & mining], weights=area[ok & mining],
                              minlength=n_pairs)
    other_area = np.bincount(clr_pair[ok & ~mining], weights=area[ok & ~mining],
                             minlength=n_pairs)
    c_hid = ok & clearings["_carried"].to_numpy(dtype=bool)
    hidden_area_pair = np.bincount(clr_pair[c_hid], weights=area[c_hid], minlength=n_pairs)

    # ---- groups -> output rows (unit × region) -----------------------------------------
    sr = site_reg[site_reg["region"] >= 0]
    gmap = pd.DataFrame({"group": np.arange(n_groups), "site_id": g_site}).merge(
        sr, on="site_id", how="inner")
    gi = gmap["group"].to_numpy(dtype=int)
    oi = g_unit[gi] * n_reg + gmap["region"].to_numpy(dtype=int)
    n_out = n_units * n_reg

    def out_matrix(mask: np.ndarray) -> sparse.csr_matrix:
        sel = mask[gi]
        return sparse.csr_matrix((np.ones(sel.sum()), (oi[sel], gi[sel])),
                                 shape=(n_out, n_groups))

    counted, everything = out_matrix(g_counted), out_matrix(np.ones(n_groups, dtype=bool))
    cleared_pair = mining_area + other_area
    ones = np.ones(n_groups)
    value = {
        "sites": counted @ ones,
        "pools": counted @ pools_pair[last_pair],
        "cleared_area_m2": counted @ cleared_pair[last_pair],
        "new_sites": counted @ g_new.astype(float),
        "sites_unobserved": counted @ g_carried.astype(float),
        # not seen on the (last counted) date: all of a carried site, the hidden part of a
        # partly observed one
        "pools_carried": counted @ np.where(g_last_carried, pools_pair[last_pair],
                                            hidden_pools_pair[last_pair]),
        "cleared_area_m2_carried": counted @ np.where(g_last_carried, cleared_pair[last_pair],
                                                      hidden_area_pair[last_pair]),
    }
    high = {"sites": everything @ ones, "pools": everything @ pools_pair[last_pair],
            "cleared_area_m2": everything @ cleared_pair[last_pair]}

    # ---- back-fill: sites and pools born while hidden, first seen later ------------------
    births, pool_births = _backfill(tracks, valid, dates, sites)
    value["sites_backfilled"] = np.zeros(n_out)
    value["pools_backfilled"] = np.zeros(n_out)
    eligible = _eligible(sites)
    reg_of = site_reg[site_reg["region"] >= 0]
    if len(births):
        # a site with a row in the unit is counted (or not) there already; of several hidden
        # dates in one unit, the latest (the most likely to hold it) stands for the unit
        births = births.assign(unit=code_of_date.reindex(births["date"]).to_numpy())
        has_row = pd.MultiIndex.from_arrays([g_site, g_unit])
        births = births[~pd.MultiIndex.from_arrays(
            [births["site_id"], births["unit"]]).isin(has_row)]
        births = births.sort_values("date").groupby(["site_id", "unit"], as_index=False).last()
        b = births.merge(reg_of, on="site_id", how="inner")
        b_out = b["unit"].to_numpy(dtype=int) * n_reg + b["region"].to_numpy(dtype=int)
        b_ok = b["site_id"].map(eligible).fillna(False).to_numpy(dtype=bool)
        for name, col in (("sites", "weight"), ("pools", "pools"),
                          ("cleared_area_m2", "cleared_area_m2")):
            add = np.bincount(b_out[b_ok], weights=b[col].to_numpy(float)[b_ok],
                              minlength=n_out)
            value[name] = value[name] + add
            high[name] = high[name] + np.bincount(
                b_out, weights=b[f"{col}_high"].to_numpy(float), minlength=n_out)
        value["sites_backfilled"] += np.bincount(b_out[b_ok], weights=b["weight"].to_numpy(
            float)[b_ok], minlength=n_out)
        value["pools_backfilled"] += np.bincount(b_out[b_ok], weights=b["pools"].to_numpy(
            float)[b_ok], minlength=n_out)
    if len(pool_births):
        # added to a site's row of the unit when the date is the one the row takes its pools
        # from (per date: always; per period: the site's last date in it)
        last_date = pd.DatetimeIndex(grouped["date"].last().to_numpy())
        key = pd.MultiIndex.from_arrays([g_site, last_date])
        gi_of = key.get_indexer(pd.MultiIndex.from_arrays([pool_births["site_id"],
                                                            pool_births["date"]]))
        found = gi_of >= 0
        pb = pool_births[found].assign(group=gi_of[found])
        pb = pb.merge(gmap[["group", "region"]], on="group", how="inner")
        p_out = g_unit[pb["group"].to_numpy(dtype=int)] * n_reg + pb["region"].to_numpy(int)
        p_ok = g_counted[pb["group"].to_numpy(dtype=int)]
        add = np.bincount(p_out[p_ok], weights=pb["pools"].to_numpy(float)[p_ok],
                          minlength=n_out)
        value["pools"] = value["pools"] + add
        value["pools_backfilled"] += add
        high["pools"] = high["pools"] + np.bincount(
            p_out, weights=pb["pools_high"].to_numpy(float), minlength=n_out)

    # ---- Monte Carlo lower band --------------------------------------------------------
    rng = np.random.default_rng(seed)
    draws = {k: np.empty((n_out, n_draws)) for k in ("sites", "pools", "cleared_area_m2")}
    for start in range(0, n_draws, _CHUNK):
        k = min(_CHUNK, n_draws - start)
        real = (rng.random((n_obj, k)) < conf[:, None]).astype(float)
        p_pair = to_pair @ real                                     # (pairs, k)
        site_real = (p_pair > 0) | (mining_n > 0)[:, None]
        c_pair = mining_area[:, None] + other_area[:, None] * site_real
        g_real = (any_pair @ site_real.astype(float)) > 0          # (groups, k)
        draws["sites"][:, start:start + k] = counted @ g_real.astype(float)
        draws["pools"][:, start:start + k] = counted @ p_pair[last_pair]
        draws["cleared_area_m2"][:, start:start + k] = counted @ c_pair[last_pair]
    q = (1.0 - float(level)) / 2.0
    low = {k: (np.quantile(v, q, axis=1, method="inverted_cdf") if n_out and n_draws
               else np.zeros(n_out)) for k, v in draws.items()}

    # ---- assemble ------------------------------------------------------------------------
    fractions = _valid_fractions(valid, unit_dates, regs).reshape(-1)
    unit_of_out = np.repeat(np.arange(n_units), n_reg)
    table = pd.DataFrame({"date": unit_start[unit_of_out].astype("datetime64[ns]")})
    if regs is not None:
        table["region"] = pd.Series(np.tile(np.asarray(region_names, dtype=object), n_units),
                                    dtype=object)
    integer = weight.size == 0 or bool(np.all(np.mod(weight, 1) == 0))
    for name in ("sites", "pools", "cleared_area_m2"):
        v = value[name]
        lo = np.minimum(low[name], v)          # guards float rounding only
        hi = np.maximum(high[name], v)
        if name != "cleared_area_m2" and (name == "sites" or integer):
            v, lo, hi = (np.rint(a).astype(np.int64) for a in (v, lo, hi))
        table[name], table[f"{name}_low"], table[f"{name}_high"] = v, lo, hi
    table["new_sites"] = np.rint(value["new_sites"]).astype(np.int64)
    table["valid_fraction"] = fractions
    table["sites_unobserved"] = np.rint(value["sites_unobserved"]).astype(np.int64)
    table["pools_carried"] = (np.rint(value["pools_carried"]).astype(np.int64) if integer
                              else value["pools_carried"])
    table["cleared_area_m2_carried"] = value["cleared_area_m2_carried"]
    table["sites_backfilled"] = np.round(value["sites_backfilled"], 3)
    table["pools_backfilled"] = np.round(value["pools_backfilled"], 3)
    if step is not None:
        table["period"] = pd.Series([labels[u] for u in unit_of_out], dtype=object)
        table["n_dates"] = np.array([len(unit_dates[u]) for u in unit_of_out], dtype=np.int64)
    table = table[[c for c in TIMESERIES_COLUMNS if c in table.columns]]
    table.attrs = {
        "freq": step or "date",
        "uncertainty": (f"low: {q:g} quantile of {n_draws} Monte Carlo draws (seed {seed}), "
                        f"each pool object real with probability = its confidence; high: "
                        f"sites held back by the persistence rule and possible births under "
                        f"cloud counted too; missed pools not covered"),
        "backfill": ("sites and pools born under cloud, first seen later: counted on the "
                     "hidden dates with the probability that they were born by then (birth "
                     "uniform between the last observation without them and the first with "
                     "them); sites_backfilled / pools_backfilled"
                     if valid is not None and valid.rio.crs is not None else
                     "not applied: no valid mask with a CRS"),
        "n_draws": int(n_draws), "level": float(level), "seed": int(seed),
    }
    return table


# --------------------------------------------------------------------------- xarray


def to_dataset(table: pd.DataFrame) -> xr.Dataset:
    """The table of :func:`site_timeseries` as an :class:`xarray.Dataset`.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`site_timeseries`, or ``timeseries.csv`` read back with pandas
        (``date`` parsed here).

    Returns
    -------
    xarray.Dataset
        Dims ``time`` (from ``date``) and ``region`` when the table has one; one variable per
        other column (``period`` and ``n_dates`` along ``time`` only), each with ``units``
        and ``long_name`` attrs (counts ``count``, areas ``m2``, fractions ``1``). The
        dataset attrs are the table's ``attrs``. ``ds.to_dataframe()`` gives the table back.

    Raises
    ------
    InputError
        Not a DataFrame, no ``date`` column, or two rows for one date (and region).

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame({"date": pd.to_datetime(["2022-01-05", "2022-03-06"]),
    ...                       "sites": [3, 4], "cleared_area_m2": [1.5e4, 2.0e4]})
    >>> ds = to_dataset(table)
    >>> dict(ds.sizes), ds["cleared_area_m2"].attrs["units"]
    ({'time': 2}, 'm2')
    >>> int(ds["sites"].sel(time="2022-03-06"))
    4
    """
    if not isinstance(table, pd.DataFrame):
        raise InputError(f"to_dataset: expected the DataFrame of site_timeseries, got "
                         f"{type(table).__name__}.")
    if "date" not in table.columns:
        raise InputError(f"to_dataset: the table has no 'date' column; columns are "
                         f"{list(table.columns)}.")
    t = table.copy()
    t["date"] = _dates(t["date"], "table.date").to_numpy()
    keys = ["date", "region"] if "region" in t.columns else ["date"]
    dup = t.duplicated(keys)
    if dup.any():
        row = t[dup].iloc[0]
        where = f" region {row['region']!r}" if "region" in keys else ""
        raise InputError(f"to_dataset: more than one row for {row['date'].date()}{where}.")
    t = t.rename(columns={"date": "time"})
    dims = ["time", "region"] if "region" in keys else ["time"]
    time_only = [c for c in _TIME_ONLY if c in t.columns and len(dims) > 1]
    data = [c for c in t.columns if c not in dims and c not in time_only]
    ds = t.set_index(dims)[data].to_xarray()
    for c in time_only:
        ds[c] = t.groupby("time", sort=True)[c].first().to_xarray()
    ds = ds.sortby("time")
    if "region" in dims:  # keep the table's region order (to_xarray sorts it)
        ds = ds.reindex(region=list(dict.fromkeys(t["region"])))
    for name in ds.data_vars:
        units, long_name = UNITS.get(str(name), ("", str(name)))
        ds[name].attrs.update({"units": units, "long_name": long_name})
    ds["time"].attrs.update({"long_name": "date of the image (or first day of the period)"})
    ds.attrs.update(_attrs(table.attrs))
    return ds


def _attrs(attrs: Mapping[Hashable, Any]) -> dict[str, Any]:
    return {str(k): (v if isinstance(v, str | int | float) else str(v))
            for k, v in attrs.items()}
