"""Accuracy of detections against a reference: pixel and object measures, false detections.

::

    ev = evaluate(detected_labels, truth["pools"].isel(time=2), valid=truth["valid"].isel(time=2),
                  confounders=scenes.confounders)
    print(ev.report())
    ev.table()          # tidy (metric, value)
    ev.false_by_kind    # what the false detections fell on

Both sides may be rasters (labels or masks) or polygons; everything is compared on one pixel
grid (the raster's; vectors are rasterized onto it), so a result does not depend on whether a
side came as a raster or as polygons.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import rioxarray
import shapely
import xarray as xr
from affine import Affine
from rasterio import features

from minewatch._callable import make_callable
from minewatch.detect.vectorize import label_objects, vectorize
from minewatch.errors import InputError, MissingCRSError

__all__ = ["Evaluation", "evaluate", "match_objects"]

#: Confounder kinds that are image conditions covering whole areas, not look-alike objects;
#: ignored by default when breaking false detections down by kind.
AREA_WIDE_KINDS: tuple[str, ...] = ("haze", "swath_edge")

_RASTER_SUFFIXES = {".tif", ".tiff", ".vrt", ".jp2", ".img", ".nc"}



# --------------------------------------------------------------------------------------------
# result
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class Evaluation:
    """Accuracy of one detection result against a reference (see :func:`evaluate`).

    Ratios are NaN where undefined (0 / 0): recall and relative count error with an empty
    reference, precision with no detection.
    """

    kind: str
    """What was compared: ``pools`` or ``clearings``."""
    iou_threshold: float
    """Smallest intersection over union of a matched pair (0–1)."""
    pixel_iou: float
    """Pixels in both / pixels in either (0–1), over valid pixels."""
    pixel_precision: float
    """Detected pixels that are reference pixels (0–1)."""
    pixel_recall: float
    """Reference pixels that were detected (0–1)."""
    pixel_f1: float
    """Harmonic mean of pixel precision and recall (0–1)."""
    n_detected: int
    """Detected objects (with at least one valid pixel)."""
    n_reference: int
    """Reference objects (with at least one valid pixel)."""
    n_matched: int
    """One-to-one matched pairs."""
    object_precision: float
    """Matched / detected objects (0–1)."""
    object_recall: float
    """Matched / reference objects (0–1)."""
    object_f1: float
    """Harmonic mean of object precision and recall (0–1)."""
    count_error: int
    """n_detected − n_reference (objects)."""
    count_error_relative: float
    """count_error / n_reference."""
    n_false: int
    """Detections matched to no reference object."""
    n_missed: int
    """Reference objects matched by no detection."""
    valid_area_km2: float
    """Area of the valid pixels, km²."""
    false_per_10km2: float
    """False detections per 10 km² of valid area."""
    pixel_size_m: float
    """Side of a pixel of the comparison grid, m."""
    matches: pd.DataFrame = field(repr=False)
    """Matched pairs: ``detected``, ``reference`` (labels on the comparison grid), ``iou``,
    ``intersection_m2``, ``distance_m`` (between centroids), ``rule`` (``iou`` or
    ``centroid``)."""
    false_by_kind: pd.DataFrame = field(repr=False)
    """False detections per confounder kind they fell on (``kind``, ``n_false``,
    ``per_10km2``), most first; ``other`` where they touched no confounder. A single row
    ``unknown`` when no confounders were given."""
    detected: gpd.GeoDataFrame = field(repr=False)
    """Detected objects as compared (valid part only): :func:`vectorize` columns plus
    ``matched`` (bool), ``reference`` (matched reference label or 0) and ``false_kind``."""
    reference: gpd.GeoDataFrame = field(repr=False)
    """Reference objects as compared: :func:`vectorize` columns plus ``matched``."""

    _SCALARS = ("pixel_iou", "pixel_precision", "pixel_recall", "pixel_f1", "n_detected",
                "n_reference", "n_matched", "object_precision", "object_recall", "object_f1",
                "count_error", "count_error_relative", "n_false", "n_missed", "valid_area_km2",
                "false_per_10km2", "iou_threshold", "pixel_size_m")

    def table(self) -> pd.DataFrame:
        """Every number as a tidy table with columns ``metric`` and ``value`` (float)."""
        return pd.DataFrame({"metric": list(self._SCALARS),
                             "value": [float(getattr(self, m)) for m in self._SCALARS]})

    def report(self) -> str:
        """A short plain-text report."""
        def pct(x: float) -> str:
            return "n/a" if math.isnan(x) else f"{100 * x:.1f} %"

        rel = ("n/a" if math.isnan(self.count_error_relative)
               else f"{100 * self.count_error_relative:+.1f} %")
        lines = [
            f"{self.kind}: {self.n_detected} detected, {self.n_reference} in reference, "
            f"{self.n_matched} matched (IoU ≥ {self.iou_threshold:g}); valid area "
            f"{self.valid_area_km2:.3f} km² at {self.pixel_size_m:g} m",
            f"objects  precision {pct(self.object_precision)}, recall "
            f"{pct(self.object_recall)}, F1 {pct(self.object_f1)}; count error "
            f"{self.count_error:+d} ({rel})",
            f"pixels   IoU {pct(self.pixel_iou)}, precision {pct(self.pixel_precision)}, "
            f"recall {pct(self.pixel_recall)}, F1 {pct(self.pixel_f1)}",
            f"false    {self.n_false} ({self.false_per_10km2:.2f} per 10 km²); missed "
            f"{self.n_missed}",
        ]
        if self.n_false and not (len(self.false_by_kind) == 1
                                 and self.false_by_kind["kind"].iloc[0] == "unknown"):
            parts = [f"{k} {n}" for k, n in zip(self.false_by_kind["kind"],
                                                 self.false_by_kind["n_false"], strict=True)]
            lines.append("false on " + ", ".join(parts))
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# inputs onto one grid
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Grid:
    crs: Any
    transform: Affine
    shape: tuple[int, int]
    like: xr.DataArray = field(repr=False)

    def describe(self) -> str:
        t = self.transform
        crs = self.crs.to_string() if self.crs is not None else "no CRS"
        return (f"{self.shape[0]}×{self.shape[1]} px, {crs}, pixel {t.a:g}×{-t.e:g}, origin "
                f"({t.c:g}, {t.f:g})")

    def same(self, other: _Grid) -> bool:
        return (self.shape == other.shape and self.transform.almost_equals(other.transform)
                and (self.crs == other.crs))


def _open(source: Any, what: str) -> xr.DataArray | gpd.GeoDataFrame:
    if isinstance(source, xr.DataArray | gpd.GeoDataFrame):
        return source
    if isinstance(source, gpd.GeoSeries):
        return gpd.GeoDataFrame(geometry=source)
    if isinstance(source, str | PathLike):
        path = Path(source)
        if not path.exists():
            raise InputError(f"evaluate: {what} file {path} does not exist.")
        if path.suffix.lower() in _RASTER_SUFFIXES:
            arr = rioxarray.open_rasterio(path, masked=False)
            if "band" in arr.dims:
                if arr.sizes["band"] != 1:
                    raise InputError(f"evaluate: {what} raster {path} has {arr.sizes['band']} "
                                     "bands; pass a single-band label or mask raster.")
                arr = arr.squeeze("band", drop=True)
            nodata = arr.rio.nodata
            if nodata is not None:
                missing = arr.isnull() if math.isnan(nodata) else arr == nodata
                arr = arr.where(~missing, 0)
                arr.attrs["_minewatch_nodata"] = np.asarray(missing.values)
            return arr
        try:
            return gpd.read_file(path)
        except Exception as err:  # pyogrio raises its own DataSourceError
            raise InputError(f"evaluate: cannot read {what} {path} as raster or vector "
                             f"({err}); pass a GeoTIFF or a vector file GDAL reads.") from err
    raise InputError(f"evaluate: {what} must be a DataArray, a GeoDataFrame or a file path, "
                     f"got {type(source).__name__}.")


def _grid_of(arr: xr.DataArray, what: str) -> _Grid:
    if arr.ndim != 2:
        raise InputError(f"evaluate: {what} must be 2-D (y, x), got dims {arr.dims}; select "
                         "one date first, e.g. .isel(time=0).")
    return _Grid(arr.rio.crs, arr.rio.transform(), tuple(arr.shape), arr)


def _raster_labels(arr: xr.DataArray, kind: str) -> np.ndarray:
    """int32 labels from a raster: integer ids for pools, connected components otherwise."""
    values = np.asarray(arr.values)
    if np.issubdtype(values.dtype, np.integer) and kind == "pools":
        low, high = values.min(initial=0), values.max(initial=0)
        if low < 0 or high > np.iinfo(np.int32).max:
            raise InputError(f"evaluate: integer labels must be 0 … 2,147,483,647 (0 = "
                             f"background); got {low} … {high}.")
        return values.astype(np.int32, copy=False)
    mask = arr.copy(data=np.nan_to_num(values, nan=0) != 0 if values.dtype != bool else values)
    return np.asarray(label_objects(mask).values)


def _rasterize(frame: gpd.GeoDataFrame, grid: _Grid, what: str) -> np.ndarray:
    """int32 object ids burnt onto the grid (pixel centre inside): the frame's ``label``
    column when it holds unique positive integers (as from :func:`vectorize`), else row
    position + 1. Where polygons overlap, the later row wins."""
    if frame.crs is None:
        raise MissingCRSError(f"evaluate: {what} polygons have no CRS; set one with "
                              ".set_crs(...) before comparing.")
    if grid.crs is None:
        raise MissingCRSError(f"evaluate: the raster compared with the {what} polygons has no "
                              "CRS; set it with .rio.write_crs(...).")
    geoms = frame.geometry.to_crs(grid.crs).values
    keep = ~(shapely.is_empty(geoms) | shapely.is_missing(geoms))
    ids = np.arange(1, len(geoms) + 1)
    if "label" in frame.columns and pd.api.types.is_integer_dtype(frame["label"]):
        own = frame["label"].to_numpy(np.int64)
        if own.size and own.min() > 0 and own.max() <= np.iinfo(np.int32).max and len(
                np.unique(own)) == own.size:
            ids = own
    ids = ids[keep]
    if not keep.any():
        return np.zeros(grid.shape, np.int32)
    return features.rasterize(zip(geoms[keep], ids.tolist(), strict=True),
                              out_shape=grid.shape, transform=grid.transform, fill=0,
                              dtype="int32")


def _labels_xr(values: np.ndarray, grid: _Grid) -> xr.DataArray:
    """Labels on the grid (no copy)."""
    like = grid.like
    coords = {k: v for k, v in like.coords.items() if set(v.dims) <= set(like.dims)}
    out = xr.DataArray(values, dims=like.dims, coords=coords)
    out.rio.write_transform(grid.transform, inplace=True)  # inplace: no copy of the data
    if grid.crs is not None:
        out.rio.write_crs(grid.crs, inplace=True)
    return out


# --------------------------------------------------------------------------------------------
# matching
# --------------------------------------------------------------------------------------------

def match_objects(detected: gpd.GeoDataFrame, reference: gpd.GeoDataFrame, *,
                  iou_threshold: float = 0.3, pixel_size_m: float | None = None,
                  small_pixels: int = 2) -> pd.DataFrame:
    """Match detected to reference objects one-to-one, greedily by IoU.

    A pair may match when its IoU (area of intersection / area of union) is at least
    ``iou_threshold``, or — for reference objects of at most ``small_pixels`` pixels, which a
    detector can hardly outline — when the detection's centroid lies within one pixel of the
    reference centroid (|dx| and |dy| ≤ one pixel side, i.e. in the 3 × 3 neighbourhood).
    Candidate pairs are taken by decreasing IoU (then increasing centroid distance); each
    object is used once.

    Parameters
    ----------
    detected, reference
        Polygons in one projected CRS (m). A ``label`` column names the objects in the
        result (else the row position + 1). ``n_pixels`` is used for the small-object rule if
        present, else area / pixel area.
    iou_threshold
        Smallest IoU of a matched pair, 0–1.
    pixel_size_m
        Pixel side, m; needed for the centroid rule (``None`` disables it).
    small_pixels
        Largest reference object (pixels) the centroid rule applies to.

    Returns
    -------
    pandas.DataFrame
        One row per matched pair: ``detected``, ``reference`` (labels), ``iou``,
        ``intersection_m2``, ``distance_m`` (between centroids), ``rule`` (``iou`` or
        ``centroid``), sorted by ``reference``.

    Raises
    ------
    InputError
        The two frames have different CRSs, or ``iou_threshold`` is outside 0–1.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely import box
    >>> ref = gpd.GeoDataFrame(geometry=[box(0, 0, 30, 30), box(100, 0, 110, 10)],
    ...                        crs="EPSG:32647")
    >>> det = gpd.GeoDataFrame(geometry=[box(10, 0, 40, 30), box(105, 5, 115, 15)],
    ...                        crs="EPSG:32647")
    >>> m = match_objects(det, ref, pixel_size_m=10)
    >>> m[["detected", "reference", "rule"]]
       detected  reference      rule
    0         1          1       iou
    1         2          2  centroid
    >>> m["iou"].round(3).tolist()
    [0.5, 0.143]
    """
    if not 0 <= iou_threshold <= 1:
        raise InputError(f"match_objects: iou_threshold={iou_threshold!r}; use a value in 0–1.")
    if detected.crs != reference.crs:
        raise InputError(f"match_objects: detected CRS {detected.crs} differs from reference "
                         f"CRS {reference.crs}; reproject one with .to_crs(...).")
    empty = pd.DataFrame({"detected": pd.Series(dtype="int64"),
                          "reference": pd.Series(dtype="int64"),
                          "iou": pd.Series(dtype="float64"),
                          "intersection_m2": pd.Series(dtype="float64"),
                          "distance_m": pd.Series(dtype="float64"),
                          "rule": pd.Series(dtype="object")})
    if len(detected) == 0 or len(reference) == 0:
        return empty

    def labels(frame: gpd.GeoDataFrame) -> np.ndarray:
        if "label" in frame.columns:
            return frame["label"].to_numpy(np.int64)
        return np.arange(1, len(frame) + 1, dtype=np.int64)

    dg, rg = detected.geometry.values, reference.geometry.values
    d_area, r_area = shapely.area(dg), shapely.area(rg)
    d_cen, r_cen = shapely.centroid(dg), shapely.centroid(rg)
    # candidate pairs by overlap (spatial index, vectorised)
    ri, di = detected.sindex.query(rg, predicate="intersects")
    inter = shapely.area(shapely.intersection(dg[di], rg[ri]))
    iou = inter / (d_area[di] + r_area[ri] - inter)
    ok = (inter > 0) & (iou >= iou_threshold - 1e-12)
    pairs = [pd.DataFrame({"d": di[ok], "r": ri[ok], "iou": iou[ok], "inter": inter[ok],
                           "rule": "iou"})]
    if pixel_size_m is not None and pixel_size_m > 0:
        if "n_pixels" in reference.columns:
            small = reference["n_pixels"].to_numpy() <= small_pixels
        else:
            small = r_area <= small_pixels * pixel_size_m**2 * (1 + 1e-9)
        small_idx = np.flatnonzero(small)
        if small_idx.size:
            tol = pixel_size_m * (1 + 1e-9)
            boxes = shapely.buffer(r_cen[small_idx], tol, cap_style="square")
            s_i, d_j = detected.sindex.query(boxes, predicate="intersects")
            r_j = small_idx[s_i]
            dx = np.abs(shapely.get_x(d_cen[d_j]) - shapely.get_x(r_cen[r_j]))
            dy = np.abs(shapely.get_y(d_cen[d_j]) - shapely.get_y(r_cen[r_j]))
            near = (dx <= tol) & (dy <= tol)
            d_j, r_j = d_j[near], r_j[near]
            c_inter = shapely.area(shapely.intersection(dg[d_j], rg[r_j]))
            c_iou = c_inter / (d_area[d_j] + r_area[r_j] - c_inter)
            pairs.append(pd.DataFrame({"d": d_j, "r": r_j, "iou": c_iou, "inter": c_inter,
                                       "rule": "centroid"}))
    cand = pd.concat(pairs, ignore_index=True)
    if cand.empty:
        return empty
    # an IoU pair that also passes the centroid rule is one candidate, ruled "iou"
    cand = cand.sort_values("rule", kind="stable", key=lambda s: s != "iou")
    cand = cand.drop_duplicates(["d", "r"], keep="first")
    cand["dist"] = shapely.distance(d_cen[cand["d"].to_numpy()], r_cen[cand["r"].to_numpy()])
    cand = cand.sort_values(["iou", "dist", "r", "d"], ascending=[False, True, True, True],
                            kind="stable")
    used_d: set[int] = set()
    used_r: set[int] = set()
    keep = []
    for row, d, r in zip(range(len(cand)), cand["d"].to_numpy(), cand["r"].to_numpy(),
                         strict=True):  # greedy one-to-one: a loop over candidate pairs
        if d in used_d or r in used_r:
            continue
        used_d.add(d)
        used_r.add(r)
        keep.append(row)
    chosen = cand.iloc[keep]
    out = pd.DataFrame({
        "detected": labels(detected)[chosen["d"].to_numpy()],
        "reference": labels(reference)[chosen["r"].to_numpy()],
        "iou": chosen["iou"].to_numpy(float),
        "intersection_m2": chosen["inter"].to_numpy(float),
        "distance_m": chosen["dist"].to_numpy(float),
        "rule": chosen["rule"].to_numpy(object),
    })
    return out.sort_values("reference", kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# false detections by confounder kind
# --------------------------------------------------------------------------------------------

def _false_kinds(false: gpd.GeoDataFrame, confounders: gpd.GeoDataFrame | None,
                 ignore_kinds: Sequence[str], date: Any) -> np.ndarray:
    """The kind of the confounder each false detection overlaps most (by IoU), or "other"."""
    kinds = np.full(len(false), "other", dtype=object)
    if confounders is None or len(false) == 0:
        return kinds
    if "kind" not in confounders.columns:
        raise InputError("evaluate: confounders need a 'kind' column (as in the synth truth "
                         f"'confounders' layer); got columns {list(confounders.columns)}.")
    if confounders.crs is None:
        raise MissingCRSError("evaluate: confounders have no CRS; set one with .set_crs(...).")
    conf = confounders[~confounders["kind"].isin(list(ignore_kinds))]
    if date is not None and {"first_date", "last_date"} <= set(conf.columns):
        when = pd.Timestamp(date)
        first = pd.to_datetime(conf["first_date"])
        last = pd.to_datetime(conf["last_date"])
        conf = conf[(first.isna() | (first <= when)) & (last.isna() | (last >= when))]
    if conf.empty:
        return kinds
    conf = conf.to_crs(false.crs)
    cg = conf.geometry.values
    fg = false.geometry.values
    ci, fi = false.sindex.query(cg, predicate="intersects")
    if ci.size == 0:
        return kinds
    inter = shapely.area(shapely.intersection(fg[fi], cg[ci]))
    union = shapely.area(fg[fi]) + shapely.area(cg[ci]) - inter
    score = pd.DataFrame({"f": fi, "kind": conf["kind"].to_numpy()[ci], "iou": inter / union,
                          "inter": inter})
    score = score[score["inter"] > 0].sort_values(["f", "iou"], ascending=[True, False],
                                                   kind="stable")
    best = score.drop_duplicates("f", keep="first")
    kinds[best["f"].to_numpy()] = best["kind"].to_numpy()
    return kinds


# --------------------------------------------------------------------------------------------
# evaluate
# --------------------------------------------------------------------------------------------

def _ratio(a: float, b: float) -> float:
    return float(a) / float(b) if b else math.nan


def _f1(hits: int, n_a: int, n_b: int) -> float:
    """2·hits / (n_a + n_b): the harmonic mean of precision and recall, defined (0) when one
    of them is undefined; NaN only when both sides are empty."""
    return _ratio(2 * hits, n_a + n_b)


def evaluate(
    detected: Any,
    reference: Any,
    *,
    valid: xr.DataArray | None = None,
    confounders: gpd.GeoDataFrame | None = None,
    kind: str = "pools",
    iou_threshold: float = 0.3,
    ignore_kinds: Sequence[str] = AREA_WIDE_KINDS,
    date: Any = None,
) -> Evaluation:
    """Compare detections with a reference, pixel by pixel and object by object.

    Parameters
    ----------
    detected, reference
        Each a (y, x) DataArray of labels or a mask, a GeoDataFrame of polygons, or a path to
        a GeoTIFF or vector file (a file's nodata pixels count as not valid). With
        ``kind="pools"`` an integer raster holds object ids (0 = background; the synth truth
        ``pools`` layer); boolean, float (NaN = background)
        and, for ``kind="clearings"``, every raster is a mask whose 8-connected parts are the
        objects (pass ``truth["clearings"] == CLEARING_CODES["mining"]`` for mining
        clearings). Polygons are objects, rasterized (pixel centre inside; the later row wins
        where they overlap) onto the raster's grid; when both sides are polygons, ``valid``
        supplies the grid. A polygon's id (in ``matches``) is its ``label`` column when that
        holds unique positive integers (as from :func:`vectorize`), else row position + 1.
    valid
        (y, x) boolean raster on the same grid; pixels where it is False, 0 or NaN (cloud,
        nodata) are left out of every measure, objects keep their valid part only.
    confounders
        Look-alike polygons with a ``kind`` column (the synth truth ``confounders`` layer).
        Each false detection gets the kind of the confounder it overlaps most — by IoU, so
        the confounder closest to it in extent wins (a roof over the village around it) —
        or ``other``.
    kind
        ``pools`` or ``clearings``: how integer rasters are read (above) and the report title.
    iou_threshold
        Smallest IoU (0–1) of a matched pair; reference objects of ≤ 2 pixels also match a
        detection whose centroid lies within one pixel of theirs (see :func:`match_objects`).
    ignore_kinds
        Confounder kinds not used for the breakdown; default the area-wide image conditions
        ``haze`` and ``swath_edge``.
    date
        If given and ``confounders`` has ``first_date`` / ``last_date``, only confounders
        present on that date are used.

    Returns
    -------
    Evaluation
        Pixel IoU / precision / recall / F1, object precision / recall / F1, count error,
        false detections (total, by kind, per 10 km² of valid area), matched pairs. With an
        empty reference recall and relative count error are NaN and every detection is
        false; with no detection precision is NaN.

    Raises
    ------
    InputError
        The rasters (detected, reference, valid) are not on one grid (the message names both
        grids), both sides are polygons and ``valid`` is missing, an input can't be read, or
        a setting is out of range.
    MissingCRSError
        Polygons or the raster they must be rasterized onto have no CRS.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> from rasterio.transform import from_origin
    >>> ref = np.zeros((10, 10), "int32"); ref[2:5, 2:5] = 1; ref[7, 7] = 2
    >>> det = np.zeros((10, 10), "int32"); det[2:5, 3:6] = 1; det[8, 8] = 2
    >>> def grid(a):
    ...     return (xr.DataArray(a, dims=("y", "x")).rio.write_crs("EPSG:32647")
    ...             .rio.write_transform(from_origin(500000, 2800000, 10, 10)))
    >>> ev = evaluate(grid(det), grid(ref))
    >>> ev.n_matched, round(ev.pixel_iou, 3), ev.object_recall
    (2, 0.429, 1.0)
    """
    if kind not in ("pools", "clearings"):
        raise InputError(f"evaluate: kind={kind!r}; use 'pools' or 'clearings'.")
    if not 0 < iou_threshold <= 1:
        raise InputError(f"evaluate: iou_threshold={iou_threshold!r}; use a value in (0, 1].")
    det_in = _open(detected, "detected")
    ref_in = _open(reference, "reference")
    grids = {}
    if isinstance(det_in, xr.DataArray):
        grids["detected"] = _grid_of(det_in, "detected")
    if isinstance(ref_in, xr.DataArray):
        grids["reference"] = _grid_of(ref_in, "reference")
    if valid is not None:
        if not isinstance(valid, xr.DataArray):
            raise InputError(f"evaluate: valid must be a (y, x) DataArray, got "
                             f"{type(valid).__name__}.")
        grids["valid"] = _grid_of(valid, "valid")
    if not grids:
        raise InputError("evaluate: detected and reference are both polygons; pass valid= (a "
                         "raster on the grid to compare on) or rasterize one side.")
    names = list(grids)
    grid = grids[names[0]]
    for other in names[1:]:
        if not grid.same(grids[other]):
            raise InputError(
                f"evaluate: {names[0]} and {other} rasters are on different grids — "
                f"{names[0]}: {grid.describe()}; {other}: {grids[other].describe()}. "
                f"Reproject one onto the other, e.g. "
                f"{other}.rio.reproject_match({names[0]}, resampling=Resampling.nearest).")
    det_lab = (_raster_labels(det_in, kind) if isinstance(det_in, xr.DataArray)
               else _rasterize(det_in, grid, "detected"))
    ref_lab = (_raster_labels(ref_in, kind) if isinstance(ref_in, xr.DataArray)
               else _rasterize(ref_in, grid, "reference"))
    ok = None
    if valid is not None:
        v = np.asarray(valid.values)
        ok = (np.nan_to_num(v, nan=0) != 0) if v.dtype != bool else v
    for side in (det_in, ref_in):  # a file's nodata pixels are not valid either
        if isinstance(side, xr.DataArray) and "_minewatch_nodata" in side.attrs:
            missing = side.attrs["_minewatch_nodata"]
            ok = ~missing if ok is None else ok & ~missing
    if ok is not None:
        det_lab = np.where(ok, det_lab, 0)
        ref_lab = np.where(ok, ref_lab, 0)
        n_valid = int(ok.sum())
    else:
        n_valid = int(np.prod(grid.shape))
    t = grid.transform
    pixel_area = abs(t.a * t.e - t.b * t.d)
    pixel_size = math.sqrt(pixel_area)
    valid_km2 = n_valid * pixel_area / 1e6

    # pixel measures
    d_on, r_on = det_lab > 0, ref_lab > 0
    tp = int(np.count_nonzero(d_on & r_on))
    fp = int(np.count_nonzero(d_on & ~r_on))
    fn = int(np.count_nonzero(~d_on & r_on))
    p_prec, p_rec = _ratio(tp, tp + fp), _ratio(tp, tp + fn)

    # objects: pixel-exact polygons on the comparison grid
    det_gdf = vectorize(_labels_xr(det_lab, grid))
    ref_gdf = vectorize(_labels_xr(ref_lab, grid))
    matches = match_objects(det_gdf, ref_gdf, iou_threshold=iou_threshold,
                            pixel_size_m=pixel_size)
    n_det, n_ref, n_match = len(det_gdf), len(ref_gdf), len(matches)
    o_prec, o_rec = _ratio(n_match, n_det), _ratio(n_match, n_ref)

    matched_ref = dict(zip(matches["detected"], matches["reference"], strict=True))
    det_gdf["matched"] = det_gdf["label"].isin(matches["detected"])
    det_gdf["reference"] = det_gdf["label"].map(matched_ref).fillna(0).astype(np.int64)
    ref_gdf["matched"] = ref_gdf["label"].isin(matches["reference"])
    false = det_gdf[~det_gdf["matched"]]
    false_kind = np.full(n_det, None, dtype=object)
    kinds = _false_kinds(false, confounders, ignore_kinds, date)
    false_kind[~det_gdf["matched"].to_numpy()] = kinds
    det_gdf["false_kind"] = false_kind
    n_false = len(false)
    per10 = _ratio(n_false, valid_km2 / 10)
    if confounders is None:
        by_kind = pd.DataFrame({"kind": ["unknown"], "n_false": [n_false]})
    else:
        counts = pd.Series(kinds, dtype=object).value_counts(sort=False)
        by_kind = pd.DataFrame({"kind": counts.index.astype(str),
                                "n_false": counts.to_numpy(np.int64)})
        by_kind = by_kind.sort_values(["n_false", "kind"], ascending=[False, True],
                                      kind="stable")
    by_kind["n_false"] = by_kind["n_false"].astype(np.int64)
    by_kind["per_10km2"] = [_ratio(n, valid_km2 / 10) for n in by_kind["n_false"]]
    by_kind = by_kind.reset_index(drop=True)

    return Evaluation(
        kind=kind, iou_threshold=float(iou_threshold),
        pixel_iou=_ratio(tp, tp + fp + fn), pixel_precision=p_prec, pixel_recall=p_rec,
        pixel_f1=_f1(tp, tp + fp, tp + fn),
        n_detected=n_det, n_reference=n_ref, n_matched=n_match,
        object_precision=o_prec, object_recall=o_rec, object_f1=_f1(n_match, n_det, n_ref),
        count_error=n_det - n_ref, count_error_relative=_ratio(n_det - n_ref, n_ref),
        n_false=n_false, n_missed=n_ref - n_match, valid_area_km2=valid_km2,
        false_per_10km2=per10 if n_valid else math.nan, pixel_size_m=pixel_size,
        matches=matches, false_by_kind=by_kind, detected=det_gdf, reference=ref_gdf,
    )


# ``minewatch.evaluate`` works as the function whichever was imported first (see _callable)
make_callable(__name__, evaluate)
