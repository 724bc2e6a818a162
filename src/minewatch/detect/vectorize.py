"""Label connected objects in a mask and turn labels into polygons with shape measures.

Two steps shared by pool and clearing detection::

    labels = label_objects(pool_mask)                 # int32, 0 = background, 1..N
    pools = vectorize(labels, values={"ndwi": ndwi})  # GeoDataFrame, one row per object

Both work on numpy- and dask-backed DataArrays and give identical results for any chunking:
labels are numbered in raster order of each object's first pixel (the order
:func:`skimage.measure.label` uses), and an object cut by chunk borders becomes one label and
one polygon.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import dask
import dask.array as da
import geopandas as gpd
import numpy as np
import pandas as pd
import rioxarray  # noqa: F401  (registers .rio)
import shapely
import xarray as xr
from affine import Affine
from rasterio import features
from rasterio.errors import NotGeoreferencedWarning
from scipy import sparse
from scipy.sparse import csgraph
from skimage import measure

from minewatch._callable import make_callable
from minewatch.errors import InputError

__all__ = ["ATTRIBUTE_COLUMNS", "label_objects", "vectorize"]

#: Columns of every :func:`vectorize` result, before ``mean_<name>`` and ``geometry``.
ATTRIBUTE_COLUMNS: tuple[str, ...] = (
    "label", "n_pixels", "area_m2", "perimeter_m", "compactness", "elongation",
    "rectangularity",
)

#: In-memory labels larger than this (pixels) are vectorized in chunks of _SPLIT_CHUNKS.
_SPLIT_PIXELS = 4096 * 4096
_SPLIT_CHUNKS = 2048


class _View:
    """A numpy array as dask's ``from_array`` takes it without copying it: dask copies
    anything with a ``copy`` method (a second grid-sized array, 4 bytes per pixel for
    labels); this has none, and hands out views of the array's blocks as numpy would."""

    def __init__(self, array: np.ndarray) -> None:
        self.array = array
        self.shape, self.dtype, self.ndim = array.shape, array.dtype, array.ndim

    def __getitem__(self, key: Any) -> np.ndarray:
        return self.array[key]


def dask_view(array: np.ndarray, chunks: Any) -> da.Array:
    """A dask array of ``chunks`` over the in-memory ``array`` itself (not a copy of it, as
    :func:`dask.array.from_array` makes of numpy input): its blocks are views, so ``array``
    must not change while the result is used."""
    array = np.asarray(array)
    return da.from_array(_View(array), chunks=chunks, name=False, asarray=False,
                         meta=np.empty((0,) * array.ndim, array.dtype))


def local_scheduler() -> bool:
    """Whether dask computes in this process now (its synchronous or threaded scheduler),
    where tasks can write into arrays of the caller."""
    import dask.local
    import dask.threaded
    from dask.base import get_scheduler

    return get_scheduler() in (None, dask.local.get_sync, dask.threaded.get)


def in_memory(data: Any, dtype: Any = None) -> np.ndarray:
    """``data`` (dask or numpy) as one numpy array, cast to ``dtype`` if given. A dask array
    computed in this process has each block (cast and) written into the result as it is
    made: not the blocks, their joined copy and a cast copy side by side (up to three grids
    at once). Elsewhere (a dask.distributed client) it is computed and joined as usual."""
    if not isinstance(data, da.Array):
        data = np.asarray(data)
        return data if dtype is None else data.astype(dtype, copy=False)
    if dtype is not None:
        data = data.astype(dtype)
    if not local_scheduler():
        return np.asarray(data.compute())
    out = np.empty(data.shape, data.dtype)
    da.store(data, out, lock=False)
    return out


# --------------------------------------------------------------------------------------------
# labelling
# --------------------------------------------------------------------------------------------

def _as_bool(block: np.ndarray) -> np.ndarray:
    """True where the mask is set; NaN and 0 are background."""
    if block.dtype == bool:
        return block
    if np.issubdtype(block.dtype, np.floating):
        return np.nan_to_num(block, nan=0.0) != 0
    return block != 0


def _check_2d(array: xr.DataArray, what: str) -> None:
    if not isinstance(array, xr.DataArray):
        raise InputError(f"{what} must be an xarray DataArray (y, x), got "
                         f"{type(array).__name__}; wrap numpy arrays with xr.DataArray(a, "
                         "dims=('y', 'x')).")
    if array.ndim != 2:
        raise InputError(f"{what} must be 2-D (y, x), got dims {array.dims}; select one date "
                         "first, e.g. .isel(time=0).")


def _label_block(block: np.ndarray, connectivity: int) -> np.ndarray:
    return measure.label(_as_bool(block), connectivity=connectivity, background=0).astype(
        np.int32, copy=False)


def _block_summary(block: np.ndarray, connectivity: int, row0: int, col0: int,
                   width: int) -> dict[str, np.ndarray | int]:
    """What the merge needs from one chunk: its object count, its four edges (local ids), and
    the global raster position of each object's first pixel."""
    lab = _label_block(block, connectivity)
    where = np.flatnonzero(lab)  # objects are sparse: sort only their pixels
    ids, first = np.unique(lab.ravel()[where], return_index=True)
    rows, cols = np.divmod(where[first], lab.shape[1])
    return {"n": int(ids.size), "first": (rows + row0) * np.int64(width) + cols + col0,
            "top": lab[0].copy(), "bottom": lab[-1].copy(), "left": lab[:, 0].copy(),
            "right": lab[:, -1].copy()}


def _edge_pairs(a: np.ndarray, b: np.ndarray, connectivity: int) -> np.ndarray:
    """(k, 2) pairs of provisional ids that touch across a straight border: ``a`` and ``b``
    are the facing pixel lines (global ids, 0 = background) on either side."""
    shifts = (0,) if connectivity == 1 else (-1, 0, 1)
    out = []
    n = a.size
    for s in shifts:
        left = a[max(0, -s): n - max(0, s)]
        right = b[max(0, s): n - max(0, -s)]
        both = (left > 0) & (right > 0)
        out.append(np.stack([left[both], right[both]], axis=1))
    return np.concatenate(out) if out else np.empty((0, 2), np.int64)


def _dask_lookup(data: da.Array, connectivity: int) -> tuple[np.ndarray, np.ndarray]:
    """Label every chunk, join objects across chunk borders, and return (offsets, lookup):
    ``lookup[offset[chunk] + local_id]`` is the final label.

    This is the dask-image ``label`` algorithm (per-chunk labels, equivalences from the facing
    edge lines of neighbouring chunks, union-find by connected components of the equivalence
    graph), written here with dask.array + scipy because dask-image is not a dependency. One
    addition: a final renumbering in raster order of each object's first pixel, so the labels
    equal skimage's on the whole array for every chunking.
    """
    row_bounds = np.concatenate([[0], np.cumsum(data.chunks[0])])
    col_bounds = np.concatenate([[0], np.cumsum(data.chunks[1])])
    width = int(col_bounds[-1])
    blocks = data.to_delayed()
    summary_of = dask.delayed(_block_summary, pure=True)
    todo = [summary_of(blocks[i, j], connectivity, int(row_bounds[i]), int(col_bounds[j]),
                       width)
            for i in range(blocks.shape[0]) for j in range(blocks.shape[1])]
    flat = dask.compute(*todo)
    nby, nbx = blocks.shape
    summaries = [[flat[i * nbx + j] for j in range(nbx)] for i in range(nby)]
    counts = np.array([[s["n"] for s in row] for row in summaries], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts.ravel())])[:-1].reshape(counts.shape)
    total = int(counts.sum())

    def glob(i: int, j: int, key: str) -> np.ndarray:
        local = summaries[i][j][key].astype(np.int64)
        return np.where(local > 0, local + offsets[i, j], 0)

    pairs = []
    for i in range(nby - 1):  # horizontal borders, full width (catches chunk corners too)
        above = np.concatenate([glob(i, j, "bottom") for j in range(nbx)])
        below = np.concatenate([glob(i + 1, j, "top") for j in range(nbx)])
        pairs.append(_edge_pairs(above, below, connectivity))
    for j in range(nbx - 1):  # vertical borders, full height
        left = np.concatenate([glob(i, j, "right") for i in range(nby)])
        right = np.concatenate([glob(i, j + 1, "left") for i in range(nby)])
        pairs.append(_edge_pairs(left, right, connectivity))
    edges = np.concatenate(pairs) if pairs else np.empty((0, 2), np.int64)
    # union-find over provisional ids 1..total (index 0 is background)
    graph = sparse.coo_matrix((np.ones(len(edges), np.int8), (edges[:, 0], edges[:, 1])),
                              shape=(total + 1, total + 1))
    _, component = csgraph.connected_components(graph, directed=False)
    first = np.concatenate([s["first"] for row in summaries for s in row] or
                           [np.empty(0, np.int64)])
    comp = component[1:]
    # each object's first pixel: the smallest first-pixel position over its pieces
    comp_ids, comp_inv = np.unique(comp, return_inverse=True)
    comp_first = np.full(comp_ids.size, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(comp_first, comp_inv, first)
    rank = np.empty(comp_ids.size, dtype=np.int64)
    rank[np.argsort(comp_first, kind="stable")] = np.arange(1, comp_ids.size + 1)
    lookup = np.zeros(total + 1, dtype=np.int32)
    lookup[1:] = rank[comp_inv]
    return offsets, lookup


def _relabel_block(block: np.ndarray, offsets: np.ndarray, lookup: np.ndarray,
                   connectivity: int, block_info: Any = None) -> np.ndarray:
    i, j = block_info[0]["chunk-location"]
    lab = _label_block(block, connectivity)
    start = int(offsets[i, j])
    local = np.zeros(int(lab.max(initial=0)) + 1, np.int32)  # this chunk's slice of the table
    local[1:] = lookup[start + 1: start + local.size]
    return local[lab]


def label_objects(mask: xr.DataArray, *, connectivity: int = 2) -> xr.DataArray:
    """Number the connected objects of a mask: 0 background, 1…N in raster order.

    Parameters
    ----------
    mask
        (y, x) mask; True / non-zero is object, False / 0 / NaN is background. numpy- or
        dask-backed.
    connectivity
        1: objects join through edges only (4-neighbourhood); 2: also through corners
        (8-neighbourhood, the default; a chain of diagonal pixels is one object).

    Returns
    -------
    xarray.DataArray
        int32 labels named ``labels``, same dims, coords and CRS as ``mask``. Objects are
        numbered in raster order of their first pixel (top row first, then left to right),
        exactly as :func:`skimage.measure.label` numbers the whole array.

        With a dask-backed mask the result is dask-backed too, with the same chunks, and equal
        to the numpy result for any chunking: an object crossing chunk borders (edges or
        corners) gets one label. Building it computes the mask once (per chunk, keeping only
        each chunk's edge lines and object count) to join labels across borders; computing the
        result labels each chunk again and applies a lookup table of one int32 per object.

    Raises
    ------
    InputError
        ``mask`` is not a 2-D DataArray, or ``connectivity`` is not 1 or 2.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> mask = xr.DataArray(np.array([[1, 1, 0, 0],
    ...                               [0, 0, 0, 1],
    ...                               [1, 0, 1, 1]], bool), dims=("y", "x"))
    >>> label_objects(mask).values
    array([[1, 1, 0, 0],
           [0, 0, 0, 2],
           [3, 0, 2, 2]], dtype=int32)
    >>> bool((label_objects(mask.chunk(2)) == label_objects(mask)).all())
    True
    """
    return counted_labels(mask, connectivity=connectivity)[0]


def counted_labels(mask: xr.DataArray, *, connectivity: int = 2) -> tuple[xr.DataArray, int]:
    """:func:`label_objects` and the number of objects (its largest label), known without
    computing dask-backed labels (from the table that joins chunks)."""
    _check_2d(mask, "label_objects: mask")
    if connectivity not in (1, 2):
        raise InputError(f"label_objects: connectivity={connectivity!r}; use 1 (edges) or 2 "
                         "(edges and corners).")
    if isinstance(mask.data, da.Array):
        data = mask.data
        offsets, lookup = _dask_lookup(data, connectivity)
        labelled = data.map_blocks(_relabel_block, offsets, lookup, connectivity,
                                   dtype=np.int32, meta=np.empty((0, 0), np.int32))
        count = int(lookup.max(initial=0))
    else:
        labelled = _label_block(np.asarray(mask.values), connectivity)
        count = int(labelled.max(initial=0))
    out = mask.copy(data=labelled)
    out.name = "labels"
    out.attrs = {"long_name": "object labels", "units": "1"}
    out.encoding = {}
    # inplace: rioxarray otherwise deep-copies the whole label array on each call
    if mask.rio.crs is not None:
        out.rio.write_crs(mask.rio.crs, inplace=True)
    out.rio.write_nodata(0, encoded=False, inplace=True)
    return out, count


# --------------------------------------------------------------------------------------------
# vectorizing
# --------------------------------------------------------------------------------------------

def _polygons_from_shapes(pieces: list[tuple[dict, float]]) -> tuple[np.ndarray, np.ndarray]:
    """(values, polygons) from rasterio.features.shapes output, built in one vectorised call."""
    if not pieces:
        return np.empty(0, np.int64), np.empty(0, dtype=object)
    ring_coords, ring_poly, values = [], [], np.empty(len(pieces), np.int64)
    for k, (geom, value) in enumerate(pieces):
        values[k] = int(value)
        for ring in geom["coordinates"]:
            ring_coords.append(np.asarray(ring, dtype=np.float64))
            ring_poly.append(k)
    lengths = np.fromiter((len(c) for c in ring_coords), np.int64, len(ring_coords))
    coords = np.concatenate(ring_coords)
    rings = shapely.linearrings(coords, indices=np.repeat(np.arange(lengths.size), lengths))
    polygons = shapely.polygons(rings, indices=np.asarray(ring_poly))
    return values, polygons


def _block_pieces(lab: np.ndarray, value_blocks: tuple[np.ndarray, ...],
                  transform: Affine) -> dict[str, Any]:
    """Polygons and pixel sums of the objects in one chunk (or the whole array)."""
    lab = np.asarray(lab)
    on = lab > 0
    rows = np.flatnonzero(on.any(axis=1))
    if rows.size == 0:
        return {"values": np.empty(0, np.int64), "polygons": np.empty(0, dtype=object),
                "ids": np.empty(0, np.int64), "n": np.empty(0, np.int64),
                "sums": [np.empty(0)] * len(value_blocks),
                "counts": [np.empty(0, np.int64)] * len(value_blocks)}
    cols = np.flatnonzero(on.any(axis=0))
    r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    crop = lab[r0:r1, c0:c1]
    crop_on = on[r0:r1, c0:c1]
    if crop.dtype != np.int32:
        if crop.max() > np.iinfo(np.int32).max or crop.min() < 0:
            raise InputError("vectorize: labels must be 0 … 2,147,483,647 (int32); "
                             "renumber them with label_objects first.")
        crop = crop.astype(np.int32)
    shift = transform @ Affine.translation(int(c0), int(r0))
    # rasterio's in-memory dataset warns before it is given the transform: harmless. (Not
    # thread-safe in Python 3.11: under dask threads the warning may still show once.)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        pieces = list(features.shapes(crop, mask=crop_on, connectivity=4, transform=shift))
    values, polygons = _polygons_from_shapes(pieces)
    # per-object pixel statistics over set pixels only (objects are sparse)
    pix = crop[crop_on].astype(np.int64)
    ids, inverse, n = np.unique(pix, return_inverse=True, return_counts=True)
    sums, counts = [], []
    for vb in value_blocks:
        v = np.asarray(vb)[r0:r1, c0:c1][crop_on].astype(np.float64)
        ok = np.isfinite(v)
        sums.append(np.bincount(inverse, weights=np.where(ok, v, 0.0), minlength=ids.size))
        counts.append(np.bincount(inverse, weights=ok, minlength=ids.size).astype(np.int64))
    return {"values": values, "polygons": polygons, "ids": ids, "n": n, "sums": sums,
            "counts": counts}


def _empty_frame(names: list[str], crs: Any) -> gpd.GeoDataFrame:
    cols: dict[str, Any] = {"label": np.empty(0, np.int64), "n_pixels": np.empty(0, np.int64)}
    for c in ATTRIBUTE_COLUMNS[2:]:
        cols[c] = np.empty(0, np.float64)
    for name in names:
        cols[f"mean_{name}"] = np.empty(0, np.float64)
    return gpd.GeoDataFrame(cols, geometry=gpd.GeoSeries([], crs=crs), crs=crs)


def _rectangle_sides(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Long side, short side and area of each geometry's minimum rotated rectangle."""
    rects = shapely.oriented_envelope(geoms)
    coords, index = shapely.get_coordinates(rects, return_index=True)
    long_side = np.full(geoms.size, np.nan)
    short_side = np.full(geoms.size, np.nan)
    starts = np.searchsorted(index, np.arange(geoms.size))
    counts = np.bincount(index, minlength=geoms.size)
    ok = counts >= 4  # polygons (5 coordinates); degenerate rectangles stay NaN
    s = starts[ok]
    a = np.hypot(*(coords[s + 1] - coords[s]).T)
    b = np.hypot(*(coords[s + 2] - coords[s + 1]).T)
    long_side[ok] = np.maximum(a, b)
    short_side[ok] = np.minimum(a, b)
    return long_side, short_side, shapely.area(rects)


def _aligned_values(labels: xr.DataArray, values: Mapping[str, xr.DataArray] | None
                    ) -> dict[str, xr.DataArray]:
    out = {}
    for name, arr in (values or {}).items():
        if not isinstance(arr, xr.DataArray) or arr.shape != labels.shape:
            shape = getattr(arr, "shape", type(arr).__name__)
            raise InputError(f"vectorize: values[{name!r}] has shape {shape} but labels "
                             f"have {labels.shape}; pass (y, x) rasters on the labels' grid "
                             "(reproject with .rio.reproject_match(labels)).")
        out[name] = arr
    return out


def vectorize(labels: xr.DataArray, *, values: Mapping[str, xr.DataArray] | None = None,
              min_pixels: int = 1) -> gpd.GeoDataFrame:
    """Polygons and shape measures of labelled objects, one row per label.

    Parameters
    ----------
    labels
        (y, x) integer labels, 0 = background (as from :func:`label_objects`), with a CRS
        and transform (rioxarray). numpy- or dask-backed. Labels need not be connected: an
        object of several parts becomes one MultiPolygon row.
    values
        Rasters on the same grid (name → (y, x) DataArray); each adds a column
        ``mean_<name>``, the mean over the object's pixels ignoring NaN (NaN if all are NaN).
    min_pixels
        Drop objects of fewer pixels.

    Returns
    -------
    geopandas.GeoDataFrame
        Sorted by ``label``, in the labels' CRS, with columns

        - ``label`` (int64), ``n_pixels`` (int64);
        - ``area_m2``: polygon area, m² (n_pixels × pixel area);
        - ``perimeter_m``: outline length including holes, m;
        - ``compactness``: 4π·area / perimeter², 1 for a circle, π/4 for a square;
        - ``elongation``: long / short side of the minimum rotated rectangle, ≥ 1;
        - ``rectangularity``: area / area of the minimum rotated rectangle, 0–1;
        - ``mean_<name>`` for each of ``values``;
        - ``geometry``: valid Polygon, or MultiPolygon when the object has several parts
          (pixels joined only at a corner are separate parts).

        Areas and lengths are in CRS units (m for the projected CRSs minewatch uses). No
        objects: an empty frame with these columns and the CRS.

    Raises
    ------
    InputError
        ``labels`` is not 2-D, labels are outside int32, or a ``values`` raster is not on
        the labels' grid.

    Notes
    -----
    Polygons come from :func:`rasterio.features.shapes`, run once per chunk on the bounding
    box of that chunk's objects; pieces of one label in several chunks are dissolved with
    :func:`shapely.union_all` (exact here: vertices lie on the pixel grid), and every geometry
    is normalised (:func:`shapely.normalize`: rings start at the same vertex), so results
    equal the numpy path for any chunking, vertex for vertex. In-memory labels larger than
    4096² px take the same per-chunk path (2048-px chunks) so that chunks are polygonized in
    threads. Labels are computed
    once per chunk; the result is in memory (one row per object).

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> from rasterio.transform import from_origin
    >>> a = np.zeros((12, 12), "int32"); a[1:11, 1:11] = 1        # a 10 × 10 px square
    >>> labels = (xr.DataArray(a, dims=("y", "x")).rio.write_crs("EPSG:32647")
    ...           .rio.write_transform(from_origin(500000, 2800000, 3, 3)))
    >>> row = vectorize(labels).iloc[0]
    >>> [round(float(row[c]), 4) for c in ("area_m2", "perimeter_m", "compactness",
    ...                                    "elongation", "rectangularity")]
    [900.0, 120.0, 0.7854, 1.0, 1.0]
    """
    _check_2d(labels, "vectorize: labels")
    if not (np.issubdtype(labels.dtype, np.integer) or labels.dtype == bool):
        raise InputError(f"vectorize: labels have dtype {labels.dtype}; pass integer labels "
                         "(label_objects(mask) turns a mask into labels).")
    crs = labels.rio.crs
    transform = labels.rio.transform()
    vals = _aligned_values(labels, values)
    names = list(vals)
    data = labels.data
    if not isinstance(data, da.Array) and data.size > _SPLIT_PIXELS:
        # large in-memory labels: the same per-chunk path, so chunks run in threads
        data = dask_view(data, _SPLIT_CHUNKS)
    if isinstance(data, da.Array):
        lab = data
        # optimize_graph=False: each array's graph optimised alone gets its own fused keys,
        # and what the values share (e.g. a baseline behind several of them) would be
        # computed once per value instead of once
        vblocks = [(v.data if isinstance(v.data, da.Array) else da.from_array(v.values))
                   .rechunk(lab.chunks).to_delayed(optimize_graph=False)
                   for v in vals.values()]
        lblocks = lab.to_delayed(optimize_graph=False)
        rb = np.concatenate([[0], np.cumsum(lab.chunks[0])])
        cb = np.concatenate([[0], np.cumsum(lab.chunks[1])])
        piece_of = dask.delayed(_block_pieces, pure=True)
        todo = [piece_of(lblocks[i, j], tuple(vb[i, j] for vb in vblocks),
                         transform @ Affine.translation(int(cb[j]), int(rb[i])))
                for i in range(lblocks.shape[0]) for j in range(lblocks.shape[1])]
        results = list(dask.compute(*todo))
    else:
        results = [_block_pieces(np.asarray(labels.values),
                                 tuple(np.asarray(v.values) for v in vals.values()),
                                 transform)]
    return _assemble(results, names, crs, transform, min_pixels)


def _assemble(results: list[dict[str, Any]], names: list[str], crs: Any, transform: Affine,
              min_pixels: int) -> gpd.GeoDataFrame:
    """One row per label from per-chunk pieces: sum pixel statistics, join polygons."""
    ids = np.concatenate([r["ids"] for r in results])
    if ids.size == 0:
        return _empty_frame(names, crs)
    stats = pd.DataFrame({"label": ids, "n_pixels": np.concatenate([r["n"] for r in results])})
    for k, name in enumerate(names):
        stats[f"s_{name}"] = np.concatenate([r["sums"][k] for r in results])
        stats[f"c_{name}"] = np.concatenate([r["counts"][k] for r in results])
    stats = stats.groupby("label", sort=True).sum()
    stats = stats[stats["n_pixels"] >= min_pixels]
    piece_values = np.concatenate([r["values"] for r in results])
    piece_polys = np.concatenate([r["polygons"] for r in results])
    keep = np.isin(piece_values, stats.index.values)
    piece_values, piece_polys = piece_values[keep], piece_polys[keep]
    if stats.empty:
        return _empty_frame(names, crs)
    geoms = _join_pieces(piece_values, piece_polys, stats.index.values)
    # area from the pixel count: exact, and equal to the polygon area of pixel outlines
    area = stats["n_pixels"].values * abs(transform.a * transform.e - transform.b * transform.d)
    perimeter = shapely.length(geoms)
    long_side, short_side, rect_area = _rectangle_sides(geoms)
    with np.errstate(divide="ignore", invalid="ignore"):
        cols: dict[str, Any] = {
            "label": stats.index.values.astype(np.int64),
            "n_pixels": stats["n_pixels"].values.astype(np.int64),
            "area_m2": area,
            "perimeter_m": perimeter,
            "compactness": 4 * np.pi * area / perimeter**2,
            "elongation": long_side / short_side,
            "rectangularity": area / rect_area,
        }
        for name in names:
            c = stats[f"c_{name}"].values
            cols[f"mean_{name}"] = np.where(c > 0, stats[f"s_{name}"].values / np.maximum(c, 1),
                                            np.nan)
    frame = gpd.GeoDataFrame(cols, geometry=gpd.GeoSeries(geoms, crs=crs), crs=crs)
    return frame.reset_index(drop=True)


def _join_pieces(values: np.ndarray, polygons: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """One geometry per label: a Polygon where one piece, else the union of the pieces
    (pieces of one label never overlap; pieces from neighbouring chunks share edges and
    are dissolved — not with coverage_union, which needs matching vertices on both sides)."""
    order = np.argsort(values, kind="stable")
    values, polygons = values[order], polygons[order]
    starts = np.searchsorted(values, labels, side="left")
    ends = np.searchsorted(values, labels, side="right")
    out = polygons[starts].copy()
    for k in np.flatnonzero(ends - starts > 1):  # only multi-piece objects (few)
        parts = polygons[starts[k]:ends[k]]
        # without the vertices the cut left on straight edges (rasterio's outlines have
        # corners only): tolerance 0 removes exactly collinear points and nothing else
        out[k] = shapely.simplify(shapely.union_all(parts), 0)
    bad = ~shapely.is_valid(out)
    if bad.any():
        out[bad] = shapely.make_valid(out[bad])
    # a dissolved multi-part object may come back as a GeometryCollection of polygons
    kinds = shapely.get_type_id(out)
    for k in np.flatnonzero(kinds == 7):
        polys = [g for g in shapely.get_parts(out[k]) if shapely.get_type_id(g) in (3, 6)]
        out[k] = shapely.union_all(polys)
    # one vertex order whatever the chunking: an object cut by chunk borders is a union of
    # pieces, which starts its rings elsewhere than rasterio's outline of the whole object
    return shapely.normalize(out)


# ``minewatch.detect.vectorize`` is this module and the function (see minewatch._callable)
make_callable(__name__, vectorize)
