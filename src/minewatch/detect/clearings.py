"""Forest clearings: where hillside vegetation became bare ground, and what cleared it.

Rare-earth leaching mines clear hillside forest to bare laterite plots (0.5–10 ha) on which
chains of leachate pools sit. This module maps such clearings on one date of a stack and tells
them from the other reasons land goes bare in the Kachin hills.

Pipeline (:func:`detect_clearings`):

1. Indices of every date (:mod:`minewatch.indices`): vegetation index NDVI, bare index BSI
   (PlanetScope without SWIR: laterite redness (red − green)/(red + green)), water index NDWI.
   Each date is shifted by the scene-wide median change of *stable vegetation* (pixels with
   NDVI ≥ ``veg_min``), so season, haze and calibration between dates are not change.
2. :func:`clearing_baseline` — per pixel, a high quantile of the earlier clear dates' NDVI and a
   low quantile of their BSI (NaN-aware: cloudy dates don't count) and the number of clear
   earlier observations.
3. :func:`segment_clearings` — a pixel is cleared when it is clear now, has a baseline, and
   either *changed* (vegetated in the baseline, NDVI dropped by ≥ ``min_ndvi_drop`` and BSI
   rose by ≥ ``min_bare_rise``) or is *established* bare land (bare now and not vegetated in the
   baseline: cleared before the series). Opening (roads), closing and hole filling (the pools
   inside a clearing), connected components
   (:func:`minewatch.detect.vectorize.label_objects`), minimum mapping unit.
4. :func:`detect_clearings` — polygons (:func:`minewatch.detect.vectorize.vectorize`) with
   ``kind`` by the rules below, ``first_seen`` from :func:`first_bare_date` over the whole
   series, and mean indices.

Kinds (first rule that matches):

============  =================================================================================
``mining``    pool evidence: pool-like pixels (NDWI > ``pool_water_min``) covering
              ≥ ``min_pool_area_m2`` at least ``pool_edge_margin_m`` inside the clearing, or a
              pool of ``pools=`` within ``pool_buffer_m``
``swidden``   no pools, and still partly green (mean NDVI ≥ ``swidden_veg_min``: cropped or
              regrowing), or burnt (mean NIR ≤ ``burnt_nir_max`` and grey: mean redness below
              ``laterite_redness_min`` + 0.04), or regrowing later (≥
              ``swidden_recovered_fraction`` of pixels regain ``recovery_veg_gain`` of NDVI on a
              later date)
``landslide`` no pools, elongated (long/short side ≥ ``landslide_min_elongation``) and,
              with ``landslide_grey_only``, grey (as burnt): red elongated plots stay
              ``mining``
``unknown``   no pools and mostly bare already in the baseline (changed share <
              ``established_max_changed``): dry grass, sand bars, old scars
``mining``    no pools, newly bare, compact: laterite plots whose pools are drained, brown or
              below the pixel size (``unknown`` instead with ``unknown_without_pools=True``)
============  =================================================================================

Roads and terraces are not used as evidence (roads are a few metres wide; see
docs/detection.md). A dask-backed stack is read once by :func:`detect_clearings` and
:func:`segment_clearings`: each date's tile is reduced at once to its vegetation and bare
index (and the mapped date's bands), kept in temporary files while the call runs
(:func:`~minewatch.detect._clearing_pixels.indices_once`); :func:`clearing_baseline` stays
lazy except one strided sample per date for the normalisation.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import dask
import dask.array as da
import geopandas as gpd
import numpy as np
import pandas as pd
import rioxarray  # noqa: F401  (registers .rio)
import xarray as xr

from minewatch.config import ClearingConfig
from minewatch.detect._clearing_pixels import (
    Indices,
    check_stack,
    clean_block,
    compute_indices,
    date_index,
    erode_block,
    first_cleared_index,
    indices_once,
    local,
    max_time,
    pixels,
    quantile_time,
    resolution_m,
    resolve_config,
)
from minewatch.detect.vectorize import counted_labels, local_scheduler, vectorize
from minewatch.errors import InputError, MinewatchWarning

__all__ = [
    "CLEARING_KINDS",
    "clearing_baseline",
    "detect_clearings",
    "first_bare_date",
    "segment_clearings",
]

#: Values of the ``kind`` column of :func:`detect_clearings`.
CLEARING_KINDS: tuple[str, ...] = ("mining", "swidden", "landslide", "unknown")


def date_window(stack: xr.DataArray, t: int, window: int) -> tuple[xr.DataArray, int]:
    """The dates within ``window`` of index ``t`` (all when ``window`` is 0), and ``t`` in it."""
    if window <= 0:
        return stack, t
    lo, hi = max(0, t - window), min(stack.sizes["time"], t + window + 1)
    return stack.isel(time=slice(lo, hi)), t - lo


# --------------------------------------------------------------------------------------------
# baseline
# --------------------------------------------------------------------------------------------

def _check_has_baseline(stack: xr.DataArray, t: int) -> None:
    """InputError when date index ``t`` has no earlier date for a baseline."""
    if t < 1:
        first = pd.Timestamp(stack["time"].values[0]).date()
        raise InputError(f"No baseline before {first}: it is the stack's first date; pick a "
                         "later date (the baseline is built from earlier dates only).")


def _baseline(ix: Indices, t: int, cfg: ClearingConfig, stack: xr.DataArray) -> xr.Dataset:
    _check_has_baseline(stack, t)
    veg, bare = ix.veg.isel(time=slice(0, t)), ix.bare.isel(time=slice(0, t))
    n_clear = (veg.notnull() & bare.notnull()).sum("time").astype(np.int16)
    out = xr.Dataset({
        "vegetation": quantile_time(veg, cfg.baseline_veg_quantile),
        "bare": quantile_time(bare, cfg.baseline_bare_quantile),
        "n_clear": n_clear,
    })
    out["vegetation"].attrs = {"long_name": f"baseline {ix.names[0]} "
                                            f"(quantile {cfg.baseline_veg_quantile})",
                               "units": "1"}
    out["bare"].attrs = {"long_name": f"baseline {ix.names[1]} "
                                      f"(quantile {cfg.baseline_bare_quantile})", "units": "1"}
    out["n_clear"].attrs = {"long_name": "clear earlier observations", "units": "count"}
    before = pd.Timestamp(stack["time"].values[t])
    out.attrs = {"before": str(before.date()), "indices": list(ix.names[:2]),
                 "dates": [str(pd.Timestamp(d).date()) for d in stack["time"].values[:t]]}
    if stack.rio.crs is not None:
        out = out.rio.write_crs(stack.rio.crs)
    return out


def clearing_baseline(stack: xr.DataArray, *, before: Any,
                      config: ClearingConfig | None = None) -> xr.Dataset:
    """Per-pixel baseline of vegetation and bare soil from the clear dates before ``before``.

    Parameters
    ----------
    stack
        Reflectance (time, band, y, x), 0–1, NaN where cloudy or no data (as from
        :func:`minewatch.load_stack`); numpy- or dask-backed; at least two dates.
    before
        A date of the stack (``'YYYY-MM-DD'``, Timestamp, or index); only earlier dates count,
        at most ``window_dates`` of them.
    config
        Thresholds (:class:`~minewatch.config.ClearingConfig` or a ``DetectionConfig``);
        default: the preset for the stack's pixel size.

    Returns
    -------
    xarray.Dataset
        (y, x) ``vegetation`` (quantile ``baseline_veg_quantile`` of the date-normalised NDVI,
        or GRVI for RGB), ``bare`` (quantile ``baseline_bare_quantile`` of the normalised BSI,
        or redness without SWIR), both in index units −1…1, NaN where no clear earlier date;
        ``n_clear`` (int16, number of clear earlier dates). CRS kept; lazy on dask input.

    Raises
    ------
    InputError
        One date only, ``before`` is the first date or not in the stack.
    BandError
        No red / NIR band and ``method`` is not ``rgb``.

    Examples
    --------
    >>> from minewatch.synth import generate_scenes
    >>> refl, truth = generate_scenes(seed=1, shape=(40, 40), dates=("2020-02-14",
    ...     "2021-03-05", "2022-02-27"), clouds=False)
    >>> base = clearing_baseline(refl, before="2022-02-27")
    >>> int(base["n_clear"].max()), base.attrs["dates"]
    (2, ['2020-02-14', '2021-03-05'])
    """
    stack = check_stack(stack, "clearing_baseline")
    cfg = resolve_config(config, stack)
    t = date_index(stack, before, "clearing_baseline")
    stack, t = date_window(stack, t, cfg.window_dates)
    return _baseline(compute_indices(stack, cfg), t, cfg, stack)


# --------------------------------------------------------------------------------------------
# segmentation
# --------------------------------------------------------------------------------------------

def _check_baseline_grid(baseline: xr.Dataset, stack: xr.DataArray) -> None:
    if not isinstance(baseline, xr.Dataset) or "vegetation" not in baseline:
        raise InputError("baseline must be the Dataset returned by clearing_baseline(stack, "
                         "before=date).")
    same = (baseline.sizes.get("y") == stack.sizes["y"]
            and baseline.sizes.get("x") == stack.sizes["x"]
            and np.allclose(baseline["x"].values, stack["x"].values)
            and np.allclose(baseline["y"].values, stack["y"].values))
    crs_a, crs_b = baseline.rio.crs, stack.rio.crs
    if not same or (crs_a is not None and crs_b is not None and crs_a != crs_b):
        raise InputError(
            f"The baseline grid ({baseline.sizes.get('y')}×{baseline.sizes.get('x')} px, CRS "
            f"{crs_a}) differs from the stack's ({stack.sizes['y']}×{stack.sizes['x']} px, CRS "
            f"{crs_b}); compute it from the same stack with clearing_baseline(stack, "
            "before=date), or reproject one onto the other (.rio.reproject_match).")


def _pixel_layers(stack: xr.DataArray, cfg: ClearingConfig, t: int,
                  baseline: xr.Dataset | None, ix: Indices | None = None) -> dict[str, Any]:
    """Lazy per-pixel layers of date ``t``: candidate, ok (clear now and in the baseline)...

    ``ix``: the stack's indices when already at hand (then ``stack`` only gives the dates, the
    grid and the CRS)."""
    ix = compute_indices(stack, cfg) if ix is None else ix
    if baseline is None:
        baseline = _baseline(ix, t, cfg, stack)
    else:
        _check_baseline_grid(baseline, stack)
    veg, bare = ix.veg.isel(time=t), ix.bare.isel(time=t)
    b_veg, b_bare = baseline["vegetation"], baseline["bare"]
    ok = (veg.notnull() & bare.notnull() & (baseline["n_clear"] >= cfg.min_baseline_obs)
          & b_veg.notnull() & b_bare.notnull())
    vegetated = b_veg >= cfg.veg_min
    changed = (vegetated & (b_veg - veg >= cfg.min_ndvi_drop)
               & (bare - b_bare >= cfg.min_bare_rise))
    bare_now = (veg <= cfg.bare_veg_max) & (bare >= cfg.bare_min)
    # newly cleared: vegetated before and now changed or bare (a baseline that saw the first
    # stage of a growing clearing is only partly vegetated, so bare-now alone is enough)
    new = vegetated & (changed | bare_now)
    laterite = ix.redness(t) >= cfg.laterite_redness_min
    established = bare_now & ~vegetated & laterite & (veg <= cfg.established_veg_max)
    candidate = (new | established) if cfg.include_established else new
    candidate = candidate & (ix.blue(t) <= cfg.max_blue)
    return dict(ix=ix, ok=ok, candidate=candidate & ok, changed=new, bare_now=bare_now,
                laterite=laterite)


def _persist(*arrays: xr.DataArray) -> list[xr.DataArray]:
    if any(isinstance(a.data, da.Array) for a in arrays):
        return list(dask.persist(*arrays))
    return list(arrays)


def _label_and_filter(mask: xr.DataArray, split: xr.DataArray, min_px: int
                      ) -> tuple[xr.DataArray, int]:
    """Label ``mask & ~split`` and ``mask & split`` apart (so a mine next to a swidden field or
    a landslide stays two objects), drop objects under ``min_px``, renumber 1…N."""
    lazy = isinstance(mask.data, da.Array)
    part_a, n_a = counted_labels(mask & ~split, connectivity=2)
    part_b, n_b = counted_labels(mask & split, connectivity=2)
    combined = xr.where(part_b > 0, part_b + n_a, part_a).astype(np.int32)
    if lazy:
        # dask: no label array is kept (4 bytes per pixel), only the masks (1 byte each):
        # the labels are made again block by block where they are read (sizes here, then
        # the object table), which costs about what holding them saved in labelling passes
        sizes = da.bincount(combined.data.ravel(), minlength=n_a + n_b + 1).compute()
    else:
        sizes = np.bincount(np.asarray(combined.values).ravel())
    keep = sizes >= min_px
    keep[0] = False
    lookup = (np.cumsum(keep) * keep).astype(np.int32)
    if lazy:
        data = combined.data.map_blocks(lambda b: lookup[b], dtype=np.int32)
    else:
        data = lookup[np.asarray(combined.values)]
    out = part_a.copy(data=data)
    return out, int(keep.sum())


def _read_once(stack: xr.DataArray) -> bool:
    """Whether to read a stack once into per-date layers (:func:`indices_once`): dask-backed
    and computed in this process. The graph over the whole stack reads every chunk once per
    computation (the shift sample, the masks, the object table: three reads, ~40 × a
    one-date read on a full Sentinel-2 tile); the layer files must be on this machine, so
    not with a dask.distributed client, which keeps the graph."""
    return isinstance(stack.data, da.Array) and local_scheduler()


def _segment(stack: xr.DataArray, cfg: ClearingConfig, t: int,
             baseline: xr.Dataset | None, ix: Indices | None = None
             ) -> tuple[xr.DataArray, dict[str, Any]]:
    layers = _pixel_layers(stack, cfg, t, baseline, ix)
    res = resolution_m(stack)
    open_px, close_px = pixels(res, cfg.opening_radius_m), pixels(res, cfg.closing_radius_m)
    split_px = pixels(res, cfg.split_radius_m)
    hole_px = int(cfg.max_hole_area_m2 // (res * res))
    depth = open_px + close_px + 2 * math.isqrt(max(hole_px, 0)) + 2
    cleaned = local(clean_block, layers["candidate"], depth, open_px, close_px, hole_px)
    mask = cleaned & layers["ok"]
    # broad regions that changed but are not red laterite: swidden fields, grey scars
    other = layers["candidate"] & ~(layers["bare_now"] & layers["laterite"])
    split = local(clean_block, other, split_px + 1, split_px, 0, 0) & mask
    # with the layer the object table reads again (dask: computed with the rest, not twice)
    # (of ``ok`` only whether it holds a pixel is asked: not kept, 1 byte per pixel)
    mask, split, ok, changed = _persist(mask, split, layers["ok"].any(), layers["changed"])
    layers["changed"] = changed
    min_px = max(1, math.ceil(cfg.min_area_m2 / (res * res)))
    labels, n_objects = _label_and_filter(mask, split, min_px)
    labels.name = "clearings"
    labels.attrs = {"long_name": "clearing labels", "units": "1"}
    layers["ok"] = ok
    layers["n_objects"] = n_objects
    return labels, layers


def segment_clearings(stack: xr.DataArray, config: ClearingConfig | None = None, *,
                      date: Any = None, baseline: xr.Dataset | None = None) -> xr.DataArray:
    """Label the clearings of one date: int32 objects, 0 = not cleared.

    Parameters
    ----------
    stack
        Reflectance (time, band, y, x), 0–1, NaN where cloudy / cloud shadow / no data;
        numpy- or dask-backed; at least two dates.
    config
        :class:`~minewatch.config.ClearingConfig` (or ``DetectionConfig``); default: the
        preset for the stack's pixel size (and ``rgb_highres`` without NIR).
    date
        The date to map (``'YYYY-MM-DD'``, Timestamp or index); default the last. It must
        have an earlier date for the baseline.
    baseline
        A :func:`clearing_baseline` of the same grid (default: computed from ``stack``).

    Returns
    -------
    xarray.DataArray
        (y, x) int32 labels 1…N, 0 elsewhere (also wherever the date or the
        baseline has no clear observation: cloud and shadow are never clearing). Objects are
        at least ``min_area_m2``. CRS kept; dask-backed input gives dask-backed labels (the
        cleaned mask is computed once to join objects across chunks).

    Raises
    ------
    InputError
        One-date stack, the first date, a date not in the stack, or a baseline on another grid.
    BandError
        No red / NIR band and ``method`` is not ``rgb``.

    Examples
    --------
    >>> from minewatch.synth import generate_scenes
    >>> refl, truth = generate_scenes(seed=2, shape=(120, 120), clouds=False)
    >>> labels = segment_clearings(refl)
    >>> labels.dtype.name, int(labels.max()) > 0
    ('int32', True)
    """
    stack = check_stack(stack, "segment_clearings")
    cfg = resolve_config(config, stack)
    t = date_index(stack, date, "segment_clearings")
    if baseline is None:
        stack, t = date_window(stack, t, cfg.window_dates)
        if _read_once(stack):
            _check_has_baseline(stack, t)
            with indices_once(stack, t, cfg) as ix:
                # the labels come from the persisted masks, not from the layer files
                labels, _ = _segment(stack, cfg, t, None, ix)
            return labels
    labels, _ = _segment(stack, cfg, t, baseline)
    return labels


# --------------------------------------------------------------------------------------------
# first cleared date
# --------------------------------------------------------------------------------------------

def first_bare_date(stack: xr.DataArray, config: ClearingConfig | None = None) -> xr.DataArray:
    """The first date each pixel is seen cleared, over the whole series (NaT where never).

    A pixel is cleared on a date when it is bare (NDVI ≤ ``bare_veg_max`` and BSI ≥
    ``bare_min``, date-normalised) or changed (vegetated, NDVI drop ≥ ``min_ndvi_drop`` and BSI
    rise ≥ ``min_bare_rise``) against the running maximum NDVI / minimum BSI of its earlier
    clear dates (a one-pass stand-in for the quantile baseline of :func:`clearing_baseline`).
    Cloudy dates are skipped, so the date is when clearing was first *seen*; land bare on the
    first clear date gets that date ("on or before"). Dask input is computed.

    Returns
    -------
    xarray.DataArray
        (y, x) ``datetime64[ns]``, CRS kept.

    Examples
    --------
    >>> from minewatch.synth import generate_scenes
    >>> refl, truth = generate_scenes(seed=2, shape=(60, 60), clouds=False)
    >>> first = first_bare_date(refl)
    >>> first.dtype.kind, bool(first.isnull().any())
    ('M', True)
    """
    stack = check_stack(stack, "first_bare_date")
    cfg = resolve_config(config, stack)
    index = first_cleared_index(compute_indices(stack, cfg), cfg).compute()
    times = stack["time"].values.astype("datetime64[ns]")
    idx = np.asarray(index.values)
    values = np.where(idx >= 0, times[np.clip(idx, 0, None).astype(int)],
                      np.datetime64("NaT", "ns"))
    out = index.copy(data=values)
    out.name = "first_seen"
    out.attrs = {"long_name": "first date seen cleared"}
    if stack.rio.crs is not None:
        out = out.rio.write_crs(stack.rio.crs)
    return out


# --------------------------------------------------------------------------------------------
# objects
# --------------------------------------------------------------------------------------------

_COLUMNS = ["date", "kind", "first_seen", "area_m2", "pool_area_m2", "n_given_pools",
            "changed_fraction", "recovered_fraction"]


def _empty(crs: Any, names: tuple[str, str, str]) -> gpd.GeoDataFrame:
    cols = {c: pd.Series(dtype=object) for c in _COLUMNS}
    cols.update({f"mean_{n}": pd.Series(dtype=float) for n in names})
    return gpd.GeoDataFrame(cols, geometry=gpd.GeoSeries([], crs=crs), crs=crs)


def _given_pools(frame: gpd.GeoDataFrame, pools: gpd.GeoDataFrame | None,
                 buffer_m: float) -> np.ndarray:
    """Number of given pools within ``buffer_m`` of each clearing."""
    if pools is None or len(pools) == 0 or len(frame) == 0:
        return np.zeros(len(frame), int)
    if not isinstance(pools, gpd.GeoDataFrame):
        raise InputError("pools must be a GeoDataFrame of pool polygons (detect_pools).")
    if pools.crs is None:
        raise InputError("pools has no CRS; call pools.set_crs(...) first.")
    near = gpd.sjoin(gpd.GeoDataFrame(geometry=frame.geometry.buffer(buffer_m), crs=frame.crs),
                     pools[["geometry"]].to_crs(frame.crs), predicate="intersects")
    counts = near.groupby(level=0).size()
    return counts.reindex(range(len(frame)), fill_value=0).to_numpy()


def _kinds(frame: gpd.GeoDataFrame, cfg: ClearingConfig, has_pools: np.ndarray) -> np.ndarray:
    veg = frame["mean_veg"].to_numpy(float)
    dark = frame["mean_dark"].to_numpy(float)
    red = frame["mean_red"].to_numpy(float) < cfg.laterite_redness_min + 0.04
    grey = np.asarray(red)  # not the red of laterite: ash, grey landslide rock
    recovered = frame["recovered_fraction"].to_numpy(float)
    # RGB: ``dark`` is 2 × brightness, so the NIR threshold reads as half of it in brightness
    burnt = (dark <= cfg.burnt_nir_max) & grey
    swidden = ~has_pools & ((veg >= cfg.swidden_veg_min) | burnt
                            | (np.nan_to_num(recovered) >= cfg.swidden_recovered_fraction))
    elongated = frame["elongation"].to_numpy(float) >= cfg.landslide_min_elongation
    landslide = ~has_pools & ~swidden & elongated & (grey | (not cfg.landslide_grey_only))
    kind = np.where(has_pools, "mining", "unknown").astype(object)
    kind[swidden] = "swidden"
    kind[landslide] = "landslide"
    rest = ~has_pools & ~swidden & ~landslide
    kind[rest] = "unknown" if cfg.unknown_without_pools else "mining"
    established = frame["changed_fraction"].to_numpy(float) < cfg.established_max_changed
    kind[rest & established] = "unknown"
    return kind


def detect_clearings(stack: xr.DataArray, config: ClearingConfig | None = None, *,
                     date: Any = None, pools: gpd.GeoDataFrame | None = None
                     ) -> gpd.GeoDataFrame:
    """Clearings of one date as polygons, with what cleared them and when.

    Parameters
    ----------
    stack
        Reflectance (time, band, y, x), 0–1, NaN where cloudy / shadow / no data (as from
        :func:`minewatch.load_stack`); numpy- or dask-backed; ≥ 2 dates. 6-band
        (Sentinel-2, Landsat), 4-band (PlanetScope: redness replaces BSI), or RGB with
        ``ClearingConfig(method="rgb")`` / the ``rgb_highres`` preset.
    config
        :class:`~minewatch.config.ClearingConfig` or ``DetectionConfig``; default: the preset
        for the pixel size.
    date
        Date to map (``'YYYY-MM-DD'``, Timestamp or index); default the last.
    pools
        Pool polygons (e.g. :func:`minewatch.detect.pools.detect_pools`) in any CRS: a pool
        within ``pool_buffer_m`` makes a clearing ``mining``.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per clearing, in the stack's CRS: ``date`` (Timestamp), ``kind``
        (``mining`` / ``swidden`` / ``landslide`` / ``unknown``, rules in the module doc),
        ``first_seen`` (Timestamp, first date ≥ ``first_seen_min_fraction`` of it was seen
        cleared), ``area_m2`` (m²), ``pool_area_m2`` (pool-like area inside, m²),
        ``n_given_pools``, ``changed_fraction`` (share newly cleared vs the baseline, the rest
        was already bare), ``recovered_fraction`` (share regrowing on later dates, NaN on the
        last date), ``mean_ndvi``, ``mean_bare_soil`` (or ``mean_redness``), ``mean_ndwi``
        (index units, as observed), shape measures of
        :func:`~minewatch.detect.vectorize.vectorize`, ``geometry``. An all-cloud date gives
        an empty frame and a :class:`~minewatch.errors.MinewatchWarning`.

    Raises
    ------
    InputError
        One-date stack, the first date, or a date not in the stack.
    BandError
        RGB-only input without ``method="rgb"``.

    Notes
    -----
    A dask-backed stack (computed in this process) is read once: each date's tile is reduced
    to its vegetation and bare index, and on the mapped date kept with its bands, in unnamed
    temporary files (8 bytes per pixel and date plus the date's bands: ≈ 8.7 GB for six
    dates of a full Sentinel-2 tile, in ``TMPDIR``) that are deleted on return; the rest
    runs from them in blocks. Memory stays at a few tiles (1.3 GB for that tile).

    Examples
    --------
    >>> from minewatch.synth import generate_scenes
    >>> refl, truth = generate_scenes(seed=2, shape=(150, 150), clouds=False)
    >>> found = detect_clearings(refl)
    >>> set(found["kind"]) <= set(CLEARING_KINDS)
    True
    >>> found.crs.to_epsg(), bool((found["area_m2"] >= 2500).all())
    (32647, True)
    """
    stack = check_stack(stack, "detect_clearings")
    cfg = resolve_config(config, stack)
    t = date_index(stack, date, "detect_clearings")
    stack, t = date_window(stack, t, cfg.window_dates)
    if _read_once(stack):
        _check_has_baseline(stack, t)
        with indices_once(stack, t, cfg) as ix:
            return clearings_at(stack, t, cfg, pools, ix)
    return clearings_at(stack, t, cfg, pools)


def clearings_at(stack: xr.DataArray, t: int, cfg: ClearingConfig,
                 pools: gpd.GeoDataFrame | None = None, ix: Indices | None = None
                 ) -> gpd.GeoDataFrame:
    """:func:`detect_clearings` of date index ``t`` of ``stack`` (already cut to its window).

    With ``ix`` (e.g. :func:`~minewatch.detect._clearing_pixels.indices_from_layers` over
    cached per-date layers), ``stack`` may be any (time, y, x) array of the window's dates on
    the grid, with its CRS: only its dates, grid and CRS are used."""
    when = pd.Timestamp(stack["time"].values[t])
    labels, layers = _segment(stack, cfg, t, None, ix)
    ix: Indices = layers["ix"]
    crs = stack.rio.crs
    if layers["n_objects"] == 0:
        if not bool(layers["ok"].any()):
            warnings.warn(
                f"detect_clearings: {when.date()} has no clear pixel with a clear baseline "
                "(all cloud, shadow or no data); no clearing can be mapped on it, which is not "
                "the same as no clearing. Pick another date.", MinewatchWarning, stacklevel=2)
        return _empty(crs, ix.names)
    res = resolution_m(stack)
    objects = labels > 0
    interior = local(erode_block, objects, pixels(res, cfg.pool_edge_margin_m) + 1,
                     pixels(res, cfg.pool_edge_margin_m))
    water_now = ix.water(t)
    pool_like = (interior & (water_now > cfg.pool_water_min)).astype(np.float32)
    veg_now = ix.veg.isel(time=t)
    if t + 1 < stack.sizes["time"]:
        later = max_time(ix.veg.isel(time=slice(t + 1, None)))
        recovered = (later - veg_now >= cfg.recovery_veg_gain).astype(np.float32).where(
            later.notnull())
    else:
        recovered = xr.full_like(veg_now, np.nan)
    first_idx = first_cleared_index(ix, cfg, upto=t)  # only cleared-by-k, k ≤ t, is asked
    values = {
        ix.names[0]: ix.veg_raw.isel(time=t), ix.names[1]: ix.bare_raw.isel(time=t),
        ix.names[2]: water_now, "veg": veg_now, "dark": ix.dark(t), "red": ix.redness(t),
        "pool": pool_like, "changed": layers["changed"].astype(np.float32),
        "recovered": recovered,
    }
    for k in range(t + 1):
        values[f"cleared_{k}"] = ((first_idx >= 0) & (first_idx <= k)).astype(np.float32)
    frame = vectorize(labels, values=values, min_pixels=1)
    frame = frame.reset_index(drop=True)
    pixel_area = res * res
    frame["pool_area_m2"] = frame.pop("mean_pool").fillna(0) * frame["n_pixels"] * pixel_area
    frame["n_given_pools"] = _given_pools(frame, pools, cfg.pool_buffer_m)
    frame["changed_fraction"] = frame.pop("mean_changed")
    frame["recovered_fraction"] = frame.pop("mean_recovered")
    frame["mean_veg"] = frame["mean_veg"]
    has_pools = ((frame["pool_area_m2"].to_numpy() >= cfg.min_pool_area_m2 - 1e-6)
                 & (cfg.min_pool_area_m2 > 0)) | (frame["n_given_pools"].to_numpy() > 0)
    frame["kind"] = _kinds(frame, cfg, has_pools)
    times = pd.DatetimeIndex(stack["time"].values)
    cleared = np.column_stack([frame.pop(f"mean_cleared_{k}").to_numpy(float)
                               for k in range(t + 1)])
    reached = cleared >= max(cfg.first_seen_min_fraction, 1e-9)
    first = np.where(reached.any(axis=1), reached.argmax(axis=1), t)
    frame["first_seen"] = times[first]
    frame["date"] = when
    frame = frame.drop(columns=["mean_veg", "mean_dark", "mean_red"])
    ordered = ["date", "kind", "first_seen", "area_m2", "pool_area_m2", "n_given_pools",
               "changed_fraction", "recovered_fraction",
               *[f"mean_{n}" for n in ix.names]]
    rest = [c for c in frame.columns if c not in ordered and c != "geometry"]
    frame = frame[[*ordered, *rest, "geometry"]]
    return gpd.GeoDataFrame(frame, geometry="geometry", crs=crs)
