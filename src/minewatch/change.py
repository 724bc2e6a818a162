"""Change maps: what happened to the ground between two dates, as a categorical raster.

:func:`change_map` compares the mining detected on two dates of an analysis, pixel by pixel on
the grid of the valid-data masks, and gives each pixel one class of :data:`CHANGE_CLASSES`:

====  ====================  ===================================================================
code  name                  meaning (both dates observed unless 0)
====  ====================  ===================================================================
0     ``no data``           not observed on ``before`` or on ``after`` (cloud, shadow, no
                            data): never change
1     ``no mining``         no mining on either date
2     ``new clearing``      mining clearing at ``after``, no mining at ``before``
3     ``new pools``         pool at ``after`` where there was no pool at ``before`` (on a new
                            or an existing clearing)
4     ``persistent mining`` mining on both dates (and not a new pool)
5     ``regrowth``          mining at ``before``, none at ``after`` (revegetated, abandoned)
====  ====================  ===================================================================

*Mining* on a date is the union of the date's pools and of its clearings of a pool-bearing kind
(:data:`MINING_KINDS` = ``minewatch.detect.pools.POOL_CLEARING_KINDS``: ``mining`` and
``unknown``); swidden fields, landslides and the like are never mining.

Polygons are burnt with :func:`rasterio.features.rasterize` (``all_touched=False``: a pixel is
in a polygon when its centre is). Leaching pools are often smaller than a 10 m pixel: a polygon
that covers no pixel centre at all would vanish, so it burns the one pixel holding its
representative point (:func:`shapely.point_on_surface`) instead. Detected pools are pixel
outlines and are burnt back exactly; hand-drawn or sub-pixel ones count as one pixel each.

The first date of a stack has no clearings (``detect_clearings`` needs earlier dates); pass
``first_seen=first_bare_date(stack)`` to :func:`change_map` so the land already cleared then is
known per pixel (see its Notes).

``valid`` (or ``first_seen``) may be dask-backed: the map is then built lazily, block by
block on the chunks of the one cut finest, each block burning only the polygons that touch
it. Blocks, and in-memory maps, are made a strip of rows at a time, so the temporaries never
span the grid.

:func:`change_polygons` and :func:`change_areas` turn a change map into polygons and a table
of area per class, :func:`write_change` writes all three (Cloud-Optimized GeoTIFF with a colour
table, GeoPackage, CSV) atomically.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import dask.array as da
import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import rasterio
import rioxarray  # noqa: F401  (registers .rio)
import shapely
import xarray as xr
from affine import Affine
from rasterio import features

from minewatch.detect.pools import POOL_CLEARING_KINDS
from minewatch.errors import DateError, GridError, InputError, MissingCRSError
from minewatch.io.write import atomic_path, write_table

__all__ = [
    "CHANGE_CLASSES",
    "CHANGE_COLORS",
    "MINING_KINDS",
    "change_areas",
    "change_map",
    "change_polygons",
    "write_change",
]

#: Change class code → name (the ``class`` / ``name`` columns of the outputs).
CHANGE_CLASSES: dict[int, str] = {
    0: "no data",
    1: "no mining",
    2: "new clearing",
    3: "new pools",
    4: "persistent mining",
    5: "regrowth",
}

#: Change class code → RGBA colour of the GeoTIFF colour table (no data transparent). The
#: Okabe–Ito colours of the maps (``minewatch.plot.CHANGE_STYLE``): distinguishable with every
#: common colour-vision deficiency, unlike red against green.
CHANGE_COLORS: dict[int, tuple[int, int, int, int]] = {
    0: (0, 0, 0, 0),
    1: (232, 232, 232, 255),
    2: (230, 159, 0, 255),    # orange
    3: (0, 114, 178, 255),    # blue
    4: (213, 94, 0, 255),     # vermillion
    5: (0, 158, 115, 255),    # bluish green
}

#: Clearing kinds (``kind`` column of ``detect_clearings``) that count as mining.
MINING_KINDS: tuple[str, ...] = POOL_CLEARING_KINDS

_NODATA = 0
_RASTERIZE_LOCK = threading.Lock()
#: Pixels of one strip of rows of an in-memory map: the map is classified, and its classes
#: counted, a strip at a time, so the temporaries (about 15 bytes a pixel) stay near 16 MB
#: whatever the grid and only the map itself (1 byte a pixel) spans it.
_STRIP_PIXELS = 1 << 20


# --------------------------------------------------------------------------------------------
# inputs
# --------------------------------------------------------------------------------------------

def _check_valid(valid: Any) -> xr.DataArray:
    if not isinstance(valid, xr.DataArray):
        raise InputError(f"valid must be an xarray.DataArray (time, y, x) of bool, got "
                         f"{type(valid).__name__}.")
    if set(valid.dims) != {"time", "y", "x"}:
        raise InputError(f"valid has dims {valid.dims}; expected ('time', 'y', 'x') (True where "
                         "a date was observed).")
    if not (valid.dtype == bool or np.issubdtype(valid.dtype, np.integer)):
        raise InputError(f"valid has dtype {valid.dtype}; expected bool (or 0/1 integers).")
    if valid.rio.crs is None:
        raise MissingCRSError("valid has no CRS; write one with valid.rio.write_crs(...) (the "
                              "CRS of the imagery the detections came from).")
    return valid.transpose("time", "y", "x")


def _same_day(times: pd.DatetimeIndex, when: pd.Timestamp) -> tuple[np.ndarray, str]:
    """Indices of ``times`` on the day of ``when``, and ``times`` as YYYY-MM-DD (messages)."""
    hits = np.flatnonzero(times.normalize() == when.normalize())
    return hits, ", ".join(f"{t:%Y-%m-%d}" for t in times)


def _date(valid: xr.DataArray, value: Any, name: str) -> pd.Timestamp:
    try:
        when = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise DateError(f"{name}={value!r} is not a date; pass 'YYYY-MM-DD' or a Timestamp."
                        ) from exc
    times = pd.DatetimeIndex(valid["time"].values)
    hits, have = _same_day(times, when)
    if len(hits) != 1:
        what = "not in" if len(hits) == 0 else "more than once in"
        raise DateError(f"{name}={when:%Y-%m-%d} is {what} valid.time ({have}); pick one of "
                        "these dates.")
    return pd.Timestamp(times[hits[0]])


def _grid_bounds(shape: tuple[int, int], transform: Affine) -> tuple[float, float, float, float]:
    xs = [transform.c, transform.c + transform.a * shape[1]]
    ys = [transform.f, transform.f + transform.e * shape[0]]
    return min(xs), min(ys), max(xs), max(ys)


def _check_frame(frame: Any, name: str, crs: Any, bounds: Sequence[float]) -> gpd.GeoDataFrame:
    if frame is None:
        return gpd.GeoDataFrame({"date": pd.Series([], dtype="datetime64[ns]")},
                                geometry=[], crs=crs)
    if not isinstance(frame, gpd.GeoDataFrame):
        raise InputError(f"{name} must be a GeoDataFrame (from minewatch.detect_{name}), got "
                         f"{type(frame).__name__}.")
    if "date" not in frame.columns:
        raise InputError(f"{name} has no 'date' column; concatenate the per-date detections "
                         "(each detect_* result carries its date).")
    if len(frame) == 0:
        return frame
    if frame.crs is None:
        raise MissingCRSError(f"{name} has no CRS; set it with {name}.set_crs(...) (the CRS "
                              "of valid).")
    if pyproj.CRS.from_user_input(frame.crs) != pyproj.CRS.from_user_input(crs):
        raise InputError(f"{name} CRS ({frame.crs.to_string()}) differs from valid's CRS "
                         f"({pyproj.CRS.from_user_input(crs).to_string()}): the detections "
                         "come from another grid. Reproject them with "
                         f"{name}.to_crs(valid.rio.crs) if that is intended.")
    xmin, ymin, xmax, ymax = frame.total_bounds
    gx0, gy0, gx1, gy1 = bounds
    if xmax < gx0 or xmin > gx1 or ymax < gy0 or ymin > gy1:
        raise InputError(f"{name} lie outside the grid of valid (theirs: "
                         f"{xmin:.0f}, {ymin:.0f}, {xmax:.0f}, {ymax:.0f}; valid's: {gx0:.0f}, "
                         f"{gy0:.0f}, {gx1:.0f}, {gy1:.0f} m): they come from another area.")
    return frame


def _on(frame: gpd.GeoDataFrame, when: pd.Timestamp) -> gpd.GeoDataFrame:
    if len(frame) == 0:
        return frame
    dates = pd.to_datetime(frame["date"]).dt.normalize()
    return frame[(dates == when.normalize()).to_numpy()]


def _mining(clearings: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    if len(clearings) == 0 or "kind" not in clearings.columns:
        return clearings
    return clearings[clearings["kind"].isin(MINING_KINDS).to_numpy()]


def _clearings_before(clearings: gpd.GeoDataFrame, before: pd.Timestamp, after: pd.Timestamp,
                      first_seen: xr.DataArray | None) -> tuple[gpd.GeoDataFrame, str]:
    """Mining clearings standing for ``before`` and how the cleared land at ``before`` is found.

    Modes: ``detected`` (the date's own clearing rows), ``first_seen raster`` (``after``'s
    mining clearings where the per-pixel first-cleared date ≤ ``before``), ``first_seen of
    <date>`` (the nearest later date's mining clearings with ``first_seen`` ≤ ``before``,
    within ``after``'s mining clearings), ``none`` (no clearing known at ``before``).
    """
    rows = _on(clearings, before)
    if len(rows) > 0:
        return _mining(rows), "detected"
    if first_seen is not None:
        return rows, "first_seen raster"
    if len(clearings) == 0 or "first_seen" not in clearings.columns:
        return rows, "none"
    dates = pd.to_datetime(clearings["date"]).dt.normalize()
    later = dates[(dates > before.normalize()) & (dates <= after.normalize())]
    if len(later) == 0:
        return rows, "none"
    nearest = later.min()
    rows = clearings[(dates == nearest).to_numpy()]
    seen = pd.to_datetime(rows["first_seen"]).dt.normalize()
    rows = rows[(seen <= before.normalize()).to_numpy()]
    return _mining(rows), f"first_seen of {nearest:%Y-%m-%d}"


def _check_first_seen(first_seen: Any, valid: xr.DataArray) -> xr.DataArray | None:
    if first_seen is None:
        return None
    if not isinstance(first_seen, xr.DataArray) or set(first_seen.dims) != {"y", "x"}:
        raise InputError("first_seen must be a (y, x) DataArray of dates (from "
                         "minewatch.detect.clearings.first_bare_date), got "
                         f"{type(first_seen).__name__} {getattr(first_seen, 'dims', '')}.")
    if first_seen.dtype.kind != "M":
        raise InputError(f"first_seen has dtype {first_seen.dtype}; expected datetime64 (NaT "
                         "where never cleared), as first_bare_date returns.")
    first_seen = first_seen.transpose("y", "x")
    shape = (valid.sizes["y"], valid.sizes["x"])
    if first_seen.shape != shape:
        raise InputError(f"first_seen is {first_seen.shape[0]} × {first_seen.shape[1]} px, "
                         f"valid {shape[0]} × {shape[1]}: compute it on the stack valid "
                         "belongs to.")
    crs = first_seen.rio.crs
    if crs is not None and pyproj.CRS.from_user_input(crs) != pyproj.CRS.from_user_input(
            valid.rio.crs):
        raise InputError(f"first_seen CRS ({crs.to_string()}) differs from valid's "
                         f"({valid.rio.crs.to_string()}): compute it on the same stack.")
    if not first_seen.rio.transform().almost_equals(valid.rio.transform()):
        raise InputError("first_seen lies on another grid than valid (transforms "
                         f"{tuple(first_seen.rio.transform())[:6]} vs "
                         f"{tuple(valid.rio.transform())[:6]}): compute it on the same stack.")
    return first_seen


# --------------------------------------------------------------------------------------------
# burning polygons, block by block
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Layer:
    """Polygons of one date and role, ready to burn into any block of the grid."""

    geoms: np.ndarray
    """Shapely polygons."""
    tree: shapely.STRtree
    """Index of ``geoms``."""
    rows: np.ndarray
    """Row of the one pixel burnt for each polygon covering no pixel centre."""
    cols: np.ndarray
    """Column of the same."""


def _check_pool_pixels(pool_pixels: Any, valid: xr.DataArray) -> xr.DataArray:
    """``pool_pixels`` checked against ``valid``: (time, y, x) on its grid, with its dates."""
    if not isinstance(pool_pixels, xr.DataArray) or pool_pixels.dims != ("time", "y", "x"):
        raise InputError("pool_pixels must be a (time, y, x) DataArray of bool (the pixels that "
                         "are mostly pool on each date), got "
                         f"{type(pool_pixels).__name__}"
                         + (f" with dims {pool_pixels.dims}"
                            if isinstance(pool_pixels, xr.DataArray) else "") + ".")
    if pool_pixels.shape[1:] != (valid.sizes["y"], valid.sizes["x"]):
        raise GridError(f"pool_pixels is {pool_pixels.shape[1]} × {pool_pixels.shape[2]} px, "
                        f"valid {valid.sizes['y']} × {valid.sizes['x']}: they must share one "
                        "grid.")
    return pool_pixels


def _pool_pixels_on(pool_pixels: xr.DataArray, when: pd.Timestamp) -> Any:
    """The (y, x) data of ``pool_pixels`` on the day of ``when``."""
    hits, have = _same_day(pd.DatetimeIndex(pool_pixels["time"].values), when)
    if len(hits) != 1:
        raise DateError(f"pool_pixels has {len(hits)} layers for {when:%Y-%m-%d} (its dates: "
                        f"{have}); it needs one for each date of the map.")
    return pool_pixels.isel(time=int(hits[0])).data


def _layer(frame: gpd.GeoDataFrame, transform: Affine, shape: tuple[int, int]) -> _Layer:
    geoms = np.asarray(frame.geometry.values if len(frame) else [], dtype=object)
    geoms = geoms[[g is not None and not g.is_empty for g in geoms]] if len(geoms) else geoms
    rows: list[int] = []
    cols: list[int] = []
    inv = ~transform
    for g in geoms:
        if _covers_a_centre(g, transform, inv):
            continue
        p = shapely.point_on_surface(g)
        c, r = inv @ (p.x, p.y)
        r, c = math.floor(r), math.floor(c)
        if 0 <= r < shape[0] and 0 <= c < shape[1]:
            rows.append(r)
            cols.append(c)
    return _Layer(geoms=geoms, tree=shapely.STRtree(geoms), rows=np.array(rows, np.int64),
                  cols=np.array(cols, np.int64))


def _covers_a_centre(geom: Any, transform: Affine, inv: Affine) -> bool:
    """True when ``geom`` holds at least one pixel centre (so ``rasterize`` burns it)."""
    xmin, ymin, xmax, ymax = geom.bounds
    c0, r0 = inv @ (xmin, ymax)
    c1, r1 = inv @ (xmax, ymin)
    cs = np.arange(math.ceil(min(c0, c1) - 0.5), math.floor(max(c0, c1) - 0.5) + 1)
    rs = np.arange(math.ceil(min(r0, r1) - 0.5), math.floor(max(r0, r1) - 0.5) + 1)
    if len(cs) == 0 or len(rs) == 0:
        return False
    cc, rr = np.meshgrid(cs + 0.5, rs + 0.5)
    xs = (transform.c + cc * transform.a + rr * transform.b).ravel()
    ys = (transform.f + cc * transform.d + rr * transform.e).ravel()
    if shapely.contains_xy(geom, xs, ys).any():
        return True
    if not shapely.intersects_xy(geom, xs, ys).any():
        return False
    # a centre on the outline: whether it is burnt is rasterize's call, so ask it
    window = np.zeros((len(rs), len(cs)), np.uint8)
    with _RASTERIZE_LOCK:
        features.rasterize([(geom, 1)], out=window, all_touched=False,
                           transform=transform @ Affine.translation(int(cs[0]), int(rs[0])))
    return bool(window.any())


def _burn(layer: _Layer, shape: tuple[int, int], transform: Affine, r0: int, c0: int
          ) -> np.ndarray:
    """Bool (shape) mask of ``layer`` in the block at row ``r0``, column ``c0``."""
    out = np.zeros(shape, np.uint8)
    tf = transform @ Affine.translation(c0, r0)
    if len(layer.geoms):
        block = shapely.box(*_grid_bounds(shape, tf))
        hit = layer.tree.query(block, predicate="intersects")
        if len(hit):
            # one burn at a time: rasterio's in-memory datasets race between threads (dask
            # blocks), with NotGeoreferencedWarning; burning is a small share of the time
            with _RASTERIZE_LOCK:
                features.rasterize(((g, 1) for g in layer.geoms[hit]), out=out, transform=tf,
                                   all_touched=False)
    inside = ((layer.rows >= r0) & (layer.rows < r0 + shape[0])
              & (layer.cols >= c0) & (layer.cols < c0 + shape[1]))
    out[layer.rows[inside] - r0, layer.cols[inside] - c0] = 1
    return out.view(bool)  # 0/1 bytes: a view, not a copy


def _classes(arrays: dict[str, np.ndarray], r0: int, c0: int, *, transform: Affine,
             layers: dict[str, _Layer], mode: str, before: np.datetime64) -> np.ndarray:
    """Classes of one block; ``arrays``: ``valid_before``, ``valid_after`` and, if given,
    ``first_seen``, ``pool_pixels_before``, ``pool_pixels_after`` (same shape)."""
    valid_before, valid_after = arrays["valid_before"], arrays["valid_after"]
    shape = valid_before.shape
    burnt = {k: _burn(v, shape, transform, r0, c0) for k, v in layers.items()}
    pools_b, pools_a = burnt["pools_before"], burnt["pools_after"]
    clear_a = burnt["clearings_after"]
    first_seen = arrays.get("first_seen")
    if mode == "detected":
        clear_b = burnt["clearings_before"]
    elif mode == "first_seen raster" and first_seen is not None:
        seen = np.asarray(first_seen, "datetime64[ns]")
        clear_b = clear_a & ~np.isnat(seen) & (seen <= before)
    else:  # nearest later date standing in (empty layer for "none")
        clear_b = burnt["clearings_before"] & clear_a
    mine_b = pools_b | clear_b
    mine_a = pools_a | clear_a
    # a pool's pixels are pool where they are mostly pool (pool_pixels), its rim is mining
    # ground; without pool_pixels every pixel of its outline is pool
    core_b = pools_b & np.asarray(arrays["pool_pixels_before"], bool) \
        if "pool_pixels_before" in arrays else pools_b
    core_a = pools_a & np.asarray(arrays["pool_pixels_after"], bool) \
        if "pool_pixels_after" in arrays else pools_a
    out = np.ones(shape, np.uint8)
    out[mine_a & ~mine_b] = 2
    out[mine_a & mine_b] = 4
    out[core_a & ~core_b] = 3
    out[mine_b & ~mine_a] = 5
    out[~(np.asarray(valid_before, bool) & np.asarray(valid_after, bool))] = _NODATA
    return out


def _strips(height: int, width: int) -> list[tuple[int, int]]:
    """(first row, end row) of the strips of :data:`_STRIP_PIXELS` covering a grid."""
    rows = max(1, _STRIP_PIXELS // max(width, 1))
    return [(r0, min(r0 + rows, height)) for r0 in range(0, height, rows)]


def _classes_in_strips(arrays: dict[str, np.ndarray], r0: int = 0, c0: int = 0,
                       **kwargs: Any) -> np.ndarray:
    """:func:`_classes` of the block at row ``r0``, column ``c0`` (a whole in-memory grid, or
    a dask block: one date's block can be its whole grid), a strip of rows at a time (the
    same values as one call: each strip burns the polygons on its own grid)."""
    height, width = arrays["valid_before"].shape
    out = np.empty((height, width), np.uint8)
    for s0, s1 in _strips(height, width):
        out[s0:s1] = _classes({k: v[s0:s1] for k, v in arrays.items()}, r0 + s0, c0,
                              **kwargs)
    return out


class _InMemory:
    """A numpy array that dask reads in place: ``dask.array.from_array`` copies arrays
    (which have a ``copy`` method), this has none."""

    def __init__(self, array: np.ndarray) -> None:
        self.array = array
        self.shape = array.shape
        self.dtype = array.dtype
        self.ndim = array.ndim

    def __getitem__(self, key: Any) -> np.ndarray:
        return self.array[key]


def _lazy(array: np.ndarray, chunks: tuple[tuple[int, ...], ...]) -> da.Array:
    """``array`` as a dask array of ``chunks``, not copied."""
    from dask.base import tokenize

    return da.from_array(_InMemory(array), chunks=chunks, name=f"in-memory-{tokenize(array)}",
                         meta=np.array((), array.dtype))


def _block(*blocks: np.ndarray, names: tuple[str, ...], block_info: Any = None,
           **kwargs: Any) -> np.ndarray:
    (r0, _), (c0, _) = block_info[0]["array-location"]
    return _classes_in_strips(dict(zip(names, blocks, strict=True)), r0, c0, **kwargs)


# --------------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------------

def change_map(pools: gpd.GeoDataFrame | None, clearings: gpd.GeoDataFrame | None,
               valid: xr.DataArray, before: Any, after: Any, *,
               first_seen: xr.DataArray | None = None,
               pool_pixels: xr.DataArray | None = None) -> xr.DataArray:
    """Change of mining between two dates as a categorical raster on the grid of ``valid``.

    Parameters
    ----------
    pools
        Detected pools of any dates (``date``, ``geometry``; e.g. ``detect_pools`` per date,
        concatenated), in the CRS of ``valid``; rows of other dates are ignored. ``None``: no
        pools.
    clearings
        Detected clearings (``date``, ``kind``, ``geometry``; ``first_seen`` optional) in the
        same CRS; only kinds in :data:`MINING_KINDS` count. See "The first date" below.
    valid
        (time, y, x) bool, True where the date was observed; CRS and transform via ``.rio``.
        numpy- or dask-backed: dask gives a dask-backed result, computed block by block.
    before, after
        Dates ('YYYY-MM-DD' or Timestamp) in ``valid.time``, ``before`` < ``after``.
    first_seen
        Optional (y, x) datetime64 raster on ``valid``'s grid: the first date each pixel was
        seen cleared (:func:`minewatch.detect.clearings.first_bare_date` of the stack). Used
        only when ``before`` has no clearing rows (see below); recommended then. numpy- or
        dask-backed (dask: the map is lazy, on the chunks of whichever of ``valid`` and
        ``first_seen`` is cut into more blocks).
    pool_pixels
        Optional (time, y, x) bool on ``valid``'s grid and dates: the pixels that are mostly
        pool on each date (pool evidence ≥ ``PoolConfig.pixel_min_evidence``, the mask
        :func:`minewatch.detect.pools.pools_and_cores` returns; ``analyze`` passes it).
        Then only those pixels of a pool's outline are pool (``new pools``); the rest of the
        outline, its mixed rim, is mining ground. Without it every pixel of the outline is
        pool, which at 10 m calls a 40 m² pool's whole 100 m² pixels "new pools".

    Returns
    -------
    xarray.DataArray
        uint8 (y, x) named ``change`` on ``valid``'s grid (coordinates, CRS and transform
        kept, ``_FillValue`` 0), codes of :data:`CHANGE_CLASSES`; attributes
        ``flag_values``, ``flag_meanings`` (CF style), ``before``, ``after`` (YYYY-MM-DD),
        ``before_clearings`` (how cleared land at ``before`` was found: ``detected``,
        ``first_seen raster``, ``first_seen of YYYY-MM-DD`` or ``none``), ``resolution_m``
        (pixel size, m).

    Notes
    -----
    The first date. ``detect_clearings`` cannot map the first date of a stack (no earlier
    date to compare with), so when ``before`` has no clearing rows, the cleared land at
    ``before`` is found from later information, in this order (attribute
    ``before_clearings`` says which):

    1. ``first_seen`` raster given: pixels of ``after``'s mining clearings first seen cleared
       on or before ``before`` (pixel-exact; an expansion after ``before`` stays "new
       clearing");
    2. else, with a ``first_seen`` column: the mining clearings of the nearest later date
       whose ``first_seen`` ≤ ``before``, within ``after``'s mining clearings (expansions
       between ``before`` and that date count as persistent);
    3. else none: only pools mark mining at ``before``.

    In 1 and 2 a clearing cannot be seen to regrow from ``before`` (nothing was mapped there);
    pools still can. ``docs/change.md`` compares the three on generated archives.

    Raises
    ------
    DateError
        A date not in ``valid.time`` (the message lists them), ``before`` ≥ ``after``, or
        ``valid`` of fewer than two dates.
    MissingCRSError
        ``valid`` or a non-empty detection frame has no CRS.
    InputError
        Detections in another CRS than ``valid``, or lying wholly outside its grid; ``valid``
        not (time, y, x) bool; ``first_seen`` on another grid.

    Examples
    --------
    >>> import geopandas as gpd, numpy as np, pandas as pd, xarray as xr
    >>> from shapely.geometry import box
    >>> valid = xr.DataArray(np.ones((2, 4, 4), bool), dims=("time", "y", "x"),
    ...                      coords={"time": pd.to_datetime(["2021-03-01", "2023-03-01"]),
    ...                              "y": [35.0, 25.0, 15.0, 5.0], "x": [5.0, 15.0, 25.0, 35.0]}
    ...                      ).rio.write_crs("EPSG:32647")
    >>> clearings = gpd.GeoDataFrame({"date": pd.to_datetime(["2021-03-01", "2023-03-01"]),
    ...                               "kind": ["mining", "mining"]},
    ...                              geometry=[box(0, 20, 20, 40), box(0, 0, 40, 40)],
    ...                              crs="EPSG:32647")
    >>> change = change_map(None, clearings, valid, "2021-03-01", "2023-03-01")
    >>> change.values
    array([[4, 4, 2, 2],
           [4, 4, 2, 2],
           [2, 2, 2, 2],
           [2, 2, 2, 2]], dtype=uint8)
    >>> change.attrs["flag_meanings"]
    'no_data no_mining new_clearing new_pools persistent_mining regrowth'
    """
    valid = _check_valid(valid)
    if valid.sizes["time"] < 2:
        only = ", ".join(f"{t:%Y-%m-%d}" for t in pd.DatetimeIndex(valid["time"].values))
        raise DateError(f"valid has {valid.sizes['time']} date ({only or 'none'}); a change map "
                        "compares two dates, so an archive of one date has none.")
    b = _date(valid, before, "before")
    a = _date(valid, after, "after")
    if b >= a:
        raise DateError(f"before={b:%Y-%m-%d} is not earlier than after={a:%Y-%m-%d}; swap "
                        "them (regrowth means mining at before, none at after).")
    crs = valid.rio.crs
    transform = valid.rio.transform()
    shape = (valid.sizes["y"], valid.sizes["x"])
    bounds = _grid_bounds(shape, transform)
    pools = _check_frame(pools, "pools", crs, bounds)
    clearings = _check_frame(clearings, "clearings", crs, bounds)
    first_seen = _check_first_seen(first_seen, valid)
    clear_b, source = _clearings_before(clearings, b, a, first_seen)
    layers = {
        "pools_before": _layer(_on(pools, b), transform, shape),
        "pools_after": _layer(_on(pools, a), transform, shape),
        "clearings_before": _layer(clear_b, transform, shape),
        "clearings_after": _layer(_mining(_on(clearings, a)), transform, shape),
    }
    kwargs = dict(transform=transform, layers=layers, mode=source,
                  before=np.datetime64(b.to_datetime64(), "ns"))
    named = {"valid_before": valid.sel(time=b).data, "valid_after": valid.sel(time=a).data}
    if source == "first_seen raster" and first_seen is not None:
        named["first_seen"] = first_seen.data
    if pool_pixels is not None:
        pool_pixels = _check_pool_pixels(pool_pixels, valid)
        named["pool_pixels_before"] = _pool_pixels_on(pool_pixels, b)
        named["pool_pixels_after"] = _pool_pixels_on(pool_pixels, a)
    names, arrays = tuple(named), list(named.values())
    if any(isinstance(x, da.Array) for x in arrays):
        # the blocks of the dask input cut finest (the first on a tie: valid's): a lazy
        # first_seen (8 bytes a pixel) is never made one block because valid has one block
        # a date, nor an in-memory valid one block because first_seen is lazy
        chunks = max((x for x in arrays if isinstance(x, da.Array)),
                     key=lambda x: x.npartitions).chunks
        arrays = [x.rechunk(chunks) if isinstance(x, da.Array) else _lazy(np.asarray(x), chunks)
                  for x in arrays]
        data = da.map_blocks(_block, *arrays, names=names, dtype=np.uint8,
                             meta=np.array((), np.uint8), **kwargs)
    else:
        data = _classes_in_strips({k: np.asarray(x) for k, x in zip(names, arrays,
                                                                     strict=True)}, **kwargs)
    template = valid.isel(time=0, drop=True)
    out = xr.DataArray(data, dims=("y", "x"), coords=template.coords, name="change")
    # in place: each rio.write_* would otherwise deep-copy the map (1 byte a pixel), and the
    # copies, held in a cycle by their .rio accessor, live until the garbage collector runs
    out.rio.write_crs(crs, inplace=True).rio.write_transform(transform, inplace=True)
    out.rio.write_nodata(_NODATA, encoded=False, inplace=True)
    out.attrs.update({
        "long_name": "change of mining",
        "flag_values": list(CHANGE_CLASSES),
        "flag_meanings": " ".join(n.replace(" ", "_") for n in CHANGE_CLASSES.values()),
        "before": f"{b:%Y-%m-%d}",
        "after": f"{a:%Y-%m-%d}",
        "before_clearings": source,
        "resolution_m": float(abs(transform.a)),
    })
    return out


def _check_change(change: Any) -> xr.DataArray:
    if not isinstance(change, xr.DataArray) or set(change.dims) != {"y", "x"}:
        raise InputError("change must be the (y, x) DataArray of minewatch.change.change_map, "
                         f"got {type(change).__name__} "
                         f"{getattr(change, 'dims', '')}.")
    if change.rio.crs is None:
        raise MissingCRSError("change has no CRS; write one with change.rio.write_crs(...).")
    return change.transpose("y", "x")


def _pixel_area_m2(change: xr.DataArray) -> float:
    tf = change.rio.transform()
    return float(abs(tf.a * tf.e - tf.b * tf.d))


def change_polygons(change: xr.DataArray) -> gpd.GeoDataFrame:
    """Polygons of the change classes 2–5 (no "no data", no "no mining").

    One polygon per 4-connected patch of one class (pixel outlines,
    :func:`rasterio.features.shapes`). The map is computed in memory (1 byte per pixel).

    Parameters
    ----------
    change
        A change map from :func:`change_map`.

    Returns
    -------
    geopandas.GeoDataFrame
        ``class`` (int), ``name`` (str), ``area_m2`` (m²), ``geometry``, in the map's CRS,
        sorted by class then area (largest first).

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> change = xr.DataArray(np.array([[1, 2, 2], [1, 1, 3], [0, 0, 3]], np.uint8),
    ...                       dims=("y", "x"), coords={"y": [25.0, 15.0, 5.0],
    ...                                                "x": [5.0, 15.0, 25.0]}
    ...                       ).rio.write_crs("EPSG:32647")
    >>> change_polygons(change)[["class", "name", "area_m2"]]
       class          name  area_m2
    0      2  new clearing    200.0
    1      3     new pools    200.0
    """
    change = _check_change(change)
    values = np.asarray(change.values).astype(np.uint8, copy=False)
    transform = change.rio.transform()
    mask = values >= 2
    rows = [(int(v), shapely.geometry.shape(g))
            for g, v in features.shapes(values, mask=mask, transform=transform, connectivity=4)]
    frame = gpd.GeoDataFrame(
        {"class": pd.Series([r[0] for r in rows], dtype="int64"),
         "name": pd.Series([CHANGE_CLASSES.get(r[0], "unknown") for r in rows], dtype=object)},
        geometry=[r[1] for r in rows], crs=change.rio.crs.to_wkt())
    frame["area_m2"] = frame.geometry.area.astype(float)
    frame = frame.sort_values(["class", "area_m2"], ascending=[True, False],
                              kind="stable").reset_index(drop=True)
    return frame[["class", "name", "area_m2", "geometry"]]


def change_areas(change: xr.DataArray) -> pd.DataFrame:
    """Area of every change class (all six, zero ones included).

    Parameters
    ----------
    change
        A change map from :func:`change_map` (numpy- or dask-backed).

    Returns
    -------
    pandas.DataFrame
        ``class``, ``name``, ``pixels``, ``area_m2`` (pixels × pixel area, m²).

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> change = xr.DataArray(np.array([[1, 2], [2, 0]], np.uint8), dims=("y", "x"),
    ...                       coords={"y": [15.0, 5.0], "x": [5.0, 15.0]}
    ...                       ).rio.write_crs("EPSG:32647")
    >>> change_areas(change).iloc[:3]
       class          name  pixels  area_m2
    0      0       no data       1    100.0
    1      1     no mining       1    100.0
    2      2  new clearing       2    200.0
    """
    change = _check_change(change)
    data = change.data
    n = len(CHANGE_CLASSES)
    if isinstance(data, da.Array):
        counts = da.bincount(data.ravel().astype(np.int64), minlength=n).compute()[:n]
    else:  # a strip at a time: bincount takes 8 bytes a pixel of what it counts
        values = np.asarray(data)
        counts = np.zeros(n, np.int64)
        for r0, r1 in _strips(*values.shape):
            counts += np.bincount(values[r0:r1].ravel().astype(np.int64, copy=False),
                                  minlength=n)[:n]
    px = _pixel_area_m2(change)
    return pd.DataFrame({"class": list(CHANGE_CLASSES), "name": list(CHANGE_CLASSES.values()),
                         "pixels": counts.astype(np.int64),
                         "area_m2": counts.astype(float) * px})


def _category_xml() -> str:
    names = "".join(f"<Category>{escape(n)}</Category>" for n in CHANGE_CLASSES.values())
    return ('<PAMDataset>\n  <PAMRasterBand band="1">\n'
            f"    <CategoryNames>{names}</CategoryNames>\n"
            "  </PAMRasterBand>\n</PAMDataset>\n")


def write_change(change: xr.DataArray, path: str | PathLike[str]) -> tuple[Path, Path]:
    """Write a change map as a Cloud-Optimized GeoTIFF, its polygons and its area table.

    Files, each written to a temporary name and renamed when complete
    (:func:`minewatch.io.write.atomic_path`):

    - ``path`` (``.tif``): COG (GDAL ``COG`` driver: 256 px tiles, DEFLATE, overviews by
      nearest neighbour), uint8 with nodata 0 (class "no data"), a colour table
      (:data:`CHANGE_COLORS`), tags ``before``, ``after``, ``flag_values``,
      ``flag_meanings`` and ``CLASS_<code>`` = name;
    - ``path`` + ``.aux.xml``: the class names as GDAL category names, which QGIS and
      ``gdalinfo`` show as the legend;
    - same stem ``.gpkg``: :func:`change_polygons` (layer ``change``);
    - same stem ``_areas.csv``: :func:`change_areas`.

    The map is computed in memory to write it (1 byte per pixel, and about 2 more while its
    polygons are traced); a lazy map is computed block by block.

    Parameters
    ----------
    change
        A change map from :func:`change_map`.
    path
        Target ``.tif`` (folders are created; existing files are replaced).

    Returns
    -------
    tuple of pathlib.Path
        The GeoTIFF and the GeoPackage (the CSV is ``<stem>_areas.csv`` beside them).

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np, rasterio, xarray as xr
    >>> change = xr.DataArray(np.array([[1, 2], [3, 0]], np.uint8), dims=("y", "x"),
    ...                       coords={"y": [15.0, 5.0], "x": [5.0, 15.0]}
    ...                       ).rio.write_crs("EPSG:32647")
    >>> tif, gpkg = write_change(change, pathlib.Path(tempfile.mkdtemp()) / "c.tif")
    >>> with rasterio.open(tif) as src:
    ...     src.colormap(1)[2], src.nodata
    ((230, 159, 0, 255), 0.0)
    """
    change = _check_change(change)
    target = Path(path)
    gpkg = target.with_suffix(".gpkg")
    csv = target.with_name(f"{target.stem}_areas.csv")
    values = np.asarray(change.values).astype(np.uint8, copy=False)  # computed once (dask)
    change = change.copy(data=values)
    transform = change.rio.transform()
    tags = {"before": str(change.attrs.get("before", "")),
            "after": str(change.attrs.get("after", "")),
            "flag_values": " ".join(str(k) for k in CHANGE_CLASSES),
            "flag_meanings": " ".join(n.replace(" ", "_") for n in CHANGE_CLASSES.values()),
            **{f"CLASS_{k}": v for k, v in CHANGE_CLASSES.items()}}
    polygons = change_polygons(change)  # everything computed before the first file is written
    areas = change_areas(change)
    profile = dict(driver="COG", width=values.shape[1], height=values.shape[0], count=1,
                   dtype="uint8", crs=change.rio.crs, transform=transform, nodata=_NODATA,
                   compress="deflate", blocksize=256, overview_resampling="nearest",
                   overviews="auto")
    with atomic_path(target) as tmp:
        with rasterio.open(tmp, "w", **profile) as dst:
            dst.write(values, 1)
            dst.write_colormap(1, CHANGE_COLORS)
            dst.update_tags(**tags)
            dst.set_band_description(1, "change class")
    with atomic_path(target.with_name(target.name + ".aux.xml")) as tmp:
        tmp.write_text(_category_xml(), encoding="utf-8")
    with atomic_path(gpkg) as tmp:
        tmp.unlink()
        polygons.to_file(tmp, layer="change", driver="GPKG", engine="pyogrio")
    write_table(areas, csv)
    return target, gpkg
