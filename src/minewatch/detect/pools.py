"""Leaching pools: per-pixel evidence, segmentation, context filters and calibrated confidence.

==================  ==========================================  =============================
method              bands it needs                              used when
==================  ==========================================  =============================
``multispectral``   blue, green, red, nir (+ swir1, swir2 used   Sentinel-2, Landsat,
                    when present and in ``unmixing_bands``)     PlanetScope (``auto`` with NIR)
``rgb``             blue, green, red                            plain RGB (``auto`` without
                                                                NIR), or asked for
==================  ==========================================  =============================

Pipeline (:func:`detect_pools`):

1. :func:`pool_evidence` — every pixel is unmixed against its local background (window mean
   with pool-like pixels left out) and a small library of pool materials (turquoise, blue,
   milky, dark and brown leachate, and the empty blue liner): evidence ≈ the pool's fraction of
   the pixel (0–1) times how well the material fits. Sub-pixel: a 10 m pixel a third covered
   by a 6 m pool scores about 1/3. NaN pixels and a buffer around them score 0. The fit uses
   ``PoolConfig.unmixing_bands`` (the ``sentinel2`` preset: the four 10 m bands, because
   L2A delivers SWIR at 20 m and a resampled 20 m band smears a pool over 4–9 pixels).
2. :func:`segment_pools` — evidence ≥ ``evidence_threshold`` → optional opening →
   connected components (:func:`minewatch.detect.vectorize.label_objects`) → per-object
   filters: peak evidence, evidence-weighted area, elongation (streams, roads), background
   greenness (a pool sits on cleared ground), density of pool-like pixels around it (river
   channels and lakes), then the calibrated confidence ≥ ``min_confidence``.
3. :func:`detect_pools` — polygons of the kept objects with their measures, the mean indices
   of each pool (computed on the pool's mean reflectance) and ``confidence``, the probability
   (logistic model fitted on generated scenes, coefficients in the config) that it is a pool.

Dask-backed input stays lazy up to the object table: the neighbourhood steps run with
``map_overlap`` and labelling merges objects across chunk borders.
"""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import xarray as xr
from scipy.spatial import cKDTree

from minewatch import indices
from minewatch.config import PRESETS, DetectionConfig, PoolConfig
from minewatch.config._pools import CONFIDENCE_FEATURES
from minewatch.detect._pool_objects import (
    block_stats,
    candidate_pixels,
    merge_stats,
    pixel_stats,
    shape_measures,
)
from minewatch.detect._pool_pixels import (
    LAYERS,
    LIBRARY_BANDS,
    POOL_LIBRARY,
    pixel_layers,
    split_mask,
)
from minewatch.detect.vectorize import dask_view, in_memory, local_scheduler
from minewatch.errors import BandError, EmptySceneWarning, InputError

if TYPE_CHECKING:
    from minewatch.detect.model import PoolModel

__all__ = ["INDEX_BANDS", "METHOD_BANDS", "detect_pools", "pool_evidence", "pools_and_cores",
           "segment_pools"]

#: Bands each detection method needs.
METHOD_BANDS: dict[str, tuple[str, ...]] = {
    "multispectral": ("blue", "green", "red", "nir"),
    "rgb": ("blue", "green", "red"),
}

#: Bands each reportable index needs (see :mod:`minewatch.indices`).
INDEX_BANDS: dict[str, tuple[str, ...]] = {
    "ndwi": ("green", "nir"),
    "mndwi": ("green", "swir1"),
    "ndvi": ("red", "nir"),
    "bare_soil": ("blue", "red", "nir", "swir1"),
    "blueness": ("red", "blue"),
    "brightness": ("red", "green", "blue"),
    "hue": ("red", "green", "blue"),
    "saturation": ("red", "green", "blue"),
}

#: Clearing kinds (``kind`` column of ``detect_clearings``) that can hold pools.
POOL_CLEARING_KINDS: tuple[str, ...] = ("mining", "unknown")

_COLUMNS = ["label", "date", "n_pools", "area_m2", "footprint_m2", "perimeter_m", "compactness",
            "n_pixels", "elongation", "fill", "peak_evidence", "mean_evidence", "material",
            "background_green", "density", "neighbours"]


# --------------------------------------------------------------------------- set-up
def _scene_2d(scene: xr.DataArray) -> xr.DataArray:
    if not isinstance(scene, xr.DataArray):
        raise InputError(f"scene must be an xarray.DataArray (band, y, x) of reflectance, got "
                         f"{type(scene).__name__}; read one with minewatch.open_tile.")
    if "time" in scene.dims:
        if scene.sizes["time"] != 1:
            raise InputError(f"scene has {scene.sizes['time']} dates; pass one time step, "
                             "e.g. stack.isel(time=0).")
        scene = scene.isel(time=0)
    if set(scene.dims) != {"band", "y", "x"}:
        raise InputError(f"scene dims are {scene.dims}; expected ('band', 'y', 'x').")
    return scene.transpose("band", "y", "x")


def _resolution(scene: xr.DataArray) -> float:
    try:
        res = abs(float(scene.rio.resolution()[0]))
    except Exception:  # rioxarray raises several kinds on coordinate-less input
        res = float("nan")
    if not math.isfinite(res) or res <= 0:
        raise InputError("scene has no pixel size (x/y coordinates or a transform); read it "
                         "with minewatch.open_tile or write one with .rio.write_transform().")
    return res


def _pool_config(scene: xr.DataArray, config: DetectionConfig | PoolConfig | None
                 ) -> PoolConfig:
    if isinstance(config, PoolConfig):
        return config
    if isinstance(config, DetectionConfig):
        return config.pools
    if config is not None:
        raise InputError(f"config must be a DetectionConfig or PoolConfig, got "
                         f"{type(config).__name__}.")
    sensor = str(scene.attrs.get("sensor", ""))
    try:
        return DetectionConfig.preset(sensor).pools
    except Exception:  # unknown sensor: fall back on the pixel size
        res = _resolution(scene)
        name = min(PRESETS, key=lambda k: abs(math.log(PRESETS[k] / res)))
        if name == "rgb_highres" and "nir" in [str(b) for b in scene["band"].values]:
            name = "planetscope"
        return DetectionConfig.preset(name).pools


def _method_roles(scene: xr.DataArray, cfg: PoolConfig) -> tuple[str, tuple[str, ...]]:
    there = [str(b) for b in scene["band"].values]
    works = [m for m, need in METHOD_BANDS.items() if all(b in there for b in need)]
    method = cfg.method
    if method == "auto":
        if not works:
            raise BandError(f"pool detection needs at least bands {list(METHOD_BANDS['rgb'])} "
                            f"but the image has {there}.")
        method = works[0]
    elif method not in works:
        missing = [b for b in METHOD_BANDS[method] if b not in there]
        raise BandError(f"pool method {method!r} needs band(s) {missing} but the image has "
                        f"{there}; methods that work on it: {works or 'none'} "
                        "(set PoolConfig.method).")
    if method == "rgb":
        roles = METHOD_BANDS["rgb"]
    else:
        roles = tuple(b for b in LIBRARY_BANDS if b in there)
    return method, tuple(b for b in LIBRARY_BANDS if b in roles)


def _report_indices(scene: xr.DataArray, cfg: PoolConfig) -> tuple[str, ...]:
    there = [str(b) for b in scene["band"].values]
    works = tuple(k for k, need in INDEX_BANDS.items() if all(b in there for b in need))
    if not cfg.report_indices:
        return works
    for name in cfg.report_indices:
        if name not in INDEX_BANDS:
            raise BandError(f"unknown index {name!r} in PoolConfig.report_indices; known: "
                            f"{sorted(INDEX_BANDS)}.")
        missing = [b for b in INDEX_BANDS[name] if b not in there]
        if missing:
            raise BandError(f"index {name!r} needs band(s) {missing} but the image has "
                            f"{there}; indices that work on it: {list(works)}.")
    return tuple(cfg.report_indices)


def _depth_px(cfg: PoolConfig, res: float) -> int:
    from minewatch.detect._pool_pixels import odd_window

    bg = odd_window(cfg.background_window_m, res) // 2
    dens = odd_window(cfg.density_window_m, res) // 2
    return 2 * bg + 1 + dens + round(cfg.nodata_buffer_m / res) + cfg.opening_radius_px + 2


def _layer_kwargs(cfg: PoolConfig, roles: tuple[str, ...], res: float) -> dict[str, Any]:
    return dict(roles=roles, resolution_m=res, background_window_m=cfg.background_window_m,
                background_exclude=cfg.background_exclude, fit_tolerance=cfg.fit_tolerance,
                gain_range=tuple(cfg.gain_range), nodata_buffer_m=cfg.nodata_buffer_m,
                density_window_m=cfg.density_window_m, density_evidence=cfg.density_evidence,
                water_ndwi_min=cfg.water_ndwi_min, water_evidence=cfg.water_evidence,
                water_evidence_ndwi=tuple(cfg.water_evidence_ndwi),
                edge_exclude=cfg.evidence_threshold, edge=cfg.max_edge_green < 1.0,
                materials=tuple(POOL_LIBRARY), unmixing=_unmixing_roles(roles, cfg))


def _unmixing_roles(roles: tuple[str, ...], cfg: PoolConfig) -> tuple[str, ...]:
    """The bands of ``roles`` the unmixing uses (``PoolConfig.unmixing_bands``)."""
    if not cfg.unmixing_bands:
        return roles
    use = tuple(b for b in roles if b in cfg.unmixing_bands)
    if len(use) < 3:
        raise BandError(f"PoolConfig.unmixing_bands {list(cfg.unmixing_bands)} leaves "
                        f"{list(use)} of the image's bands {list(roles)}; the unmixing needs "
                        "at least three (set unmixing_bands=() to use every band).")
    return use


def _layers(cube: xr.DataArray, cfg: PoolConfig, roles: tuple[str, ...], res: float
            ) -> xr.DataArray:
    """(layer, y, x) float32 per-pixel layers, numpy or dask like ``cube``."""
    kwargs = _layer_kwargs(cfg, roles, res)
    data = cube.data
    if _is_dask(data):
        import dask.array as da

        depth = _depth_px(cfg, res)
        data = _block_data(data, depth)
        ov = da.overlap.overlap(data, depth={0: 0, 1: depth, 2: depth},
                                boundary={0: "none", 1: "none", 2: "none"})
        out = ov.map_blocks(lambda b: pixel_layers(b, **kwargs), dtype=np.float32,
                            chunks=((len(LAYERS),), *ov.chunks[1:]))
        out = da.overlap.trim_internal(out, {0: 0, 1: depth, 2: depth},
                                       boundary={0: "none", 1: "none", 2: "none"})
    else:
        out = pixel_layers(np.asarray(data), **kwargs)
    return xr.DataArray(out, dims=("layer", "y", "x"),
                        coords={"layer": list(LAYERS), "y": cube["y"], "x": cube["x"]})


def _block_data(data: Any, depth: int) -> Any:
    """The dask (band, y, x) reflectance as the per-pixel layers read it: float32, all bands in
    a block, blocks at least ``depth`` on each side (smaller chunks: one block per axis)."""
    data = data.rechunk({0: -1}).astype(np.float32)
    if any(min(c) < depth for c in data.chunks[1:]):
        data = data.rechunk({1: _rechunk(data.chunks[1], depth),
                             2: _rechunk(data.chunks[2], depth)})
    return data


def _rechunk(chunks: tuple[int, ...], depth: int) -> tuple[int, ...]:
    total = sum(chunks)
    size = max(max(chunks), 2 * depth)
    n = max(1, total // size)
    base = [total // n] * n
    for i in range(total - sum(base)):
        base[i] += 1
    return tuple(base)


def _is_dask(data: Any) -> bool:
    return type(data).__module__.startswith("dask")


def _georef(out: xr.DataArray, like: xr.DataArray) -> xr.DataArray:
    if like.rio.crs is not None:
        # on a shallow copy: rioxarray's own copy is deep (the labels again, 4 bytes a pixel)
        out = out.copy(deep=False).rio.write_crs(like.rio.crs, inplace=True)
    return out


# --------------------------------------------------------------------------- public API
def pool_evidence(scene: xr.DataArray, config: DetectionConfig | PoolConfig | None = None
                  ) -> xr.DataArray:
    """Per-pixel spectral evidence of a leaching pool, 0–1 (about the pool's pixel fraction).

    Parameters
    ----------
    scene
        Reflectance (0–1) ``(band, y, x)`` with band roles, as from :func:`minewatch.open_tile`
        or one time step of :func:`minewatch.load_stack`; numpy- or dask-backed. NaN is
        cloud/nodata.
    config
        :class:`~minewatch.config.DetectionConfig` or its ``pools``; default the preset of
        ``scene.attrs["sensor"]``, else of the nearest pixel size.

    Returns
    -------
    xarray.DataArray
        float32 ``(y, x)`` evidence 0–1 (0 on NaN and near it), lazy if ``scene`` is.

    Raises
    ------
    BandError
        The image lacks the bands of the configured method; the message lists what works.

    Examples
    --------
    >>> from minewatch.synth import generate_scenes
    >>> refl, truth = generate_scenes(seed=2, resolution_m=3.0, shape=(80, 80),
    ...                               sensor="planetscope", clouds=False)
    >>> ev = pool_evidence(refl.isel(time=-1).sel(band=["blue", "green", "red", "nir"]))
    >>> ev.dtype, float(ev.min()) >= 0.0, float(ev.max()) <= 1.0
    (dtype('float32'), True, True)
    """
    scene = _scene_2d(scene)
    cfg = _pool_config(scene, config)
    _, roles = _method_roles(scene, cfg)
    res = _resolution(scene)
    ev = _layers(scene.sel(band=list(roles)), cfg, roles, res).sel(layer="evidence")
    ev = ev.drop_vars("layer").rename("pool_evidence")
    ev.attrs = {"long_name": "pool evidence", "units": "1"}
    return _georef(ev, scene)


def _open(mask: np.ndarray, radius: int) -> np.ndarray:
    from scipy import ndimage
    from skimage.morphology import disk

    return ndimage.binary_opening(mask, structure=disk(radius).astype(bool))


def _label(mask: xr.DataArray, connectivity: int) -> xr.DataArray:
    try:
        from minewatch.detect.vectorize import label_objects
    except ImportError:  # pragma: no cover - until the shared labeller lands
        from scipy import ndimage

        m = np.asarray(mask.values)
        structure = ndimage.generate_binary_structure(2, connectivity)
        lab = ndimage.label(m, structure=structure)[0].astype(np.int32)
        return mask.copy(data=lab)
    return label_objects(mask, connectivity=connectivity)


def _candidates(scene: xr.DataArray, cfg: PoolConfig, res: float, roles: tuple[str, ...],
                core_min: float | None = None
                ) -> tuple[xr.DataArray, pd.DataFrame, np.ndarray | None]:
    """Labels of every candidate and the measured object table (no filters yet); with
    ``core_min``, also the (y, x) bool mask of evidence ≥ ``core_min`` (else None)."""
    cube = scene.sel(band=list(roles))
    pixels = None
    core = None
    if _is_dask(cube.data) and local_scheduler():
        # In this process (dask's local schedulers): the evidence is computed a row of blocks
        # at a time (:func:`_evidence_by_rows`), each block's task writing it into one
        # grid-sized array and returning only its candidates, so the evidence is held once
        # (4 bytes per pixel) and each block of reflectance is read once.
        data = _block_data(cube.data, _depth_px(cfg, res))
        ev_np, pixels = _evidence_by_rows(data, cfg, roles, res)
        if core_min is not None:
            core = ev_np >= core_min
        ev = xr.DataArray(dask_view(ev_np, data.chunks[1:]), dims=("y", "x"),
                          coords={"y": cube["y"], "x": cube["x"]})
        del ev_np
    elif _is_dask(cube.data):
        # Elsewhere (a dask.distributed client): one pass of the unmixing, whose result is
        # read twice: the evidence is kept for the mask and labels (4 bytes per pixel), and of
        # the other layers and the bands only the pixels whose evidence reaches the threshold
        # (the only ones a mask can hold, ~1 %), for the object table. Keeping all five
        # layers would be 20 bytes per pixel (2.4 GB for a 10980² tile), recomputing them
        # would double the cost. The blocks come back and are joined here.
        import dask

        layers = _layers(cube, cfg, roles, res)
        lay = layers.data
        cub = cube.data.rechunk(((len(roles),), *lay.chunks[1:])).astype(np.float32)
        offs_y = np.cumsum((0, *lay.chunks[1][:-1]))
        offs_x = np.cumsum((0, *lay.chunks[2][:-1]))
        lb, cb = lay.to_delayed(optimize_graph=False), cub.to_delayed(optimize_graph=False)
        gather = dask.delayed(_evidence_and_candidates, pure=True)
        parts = [gather(lb[0, i, j], cb[0, i, j], cfg.evidence_threshold, int(offs_y[i]),
                        int(offs_x[j]))
                 for i in range(lb.shape[1]) for j in range(lb.shape[2])]
        # one task per block returns both, so no block of layers outlives its task
        done = dask.compute(*parts)
        ev_np = np.block([[done[i * lb.shape[2] + j][0] for j in range(lb.shape[2])]
                          for i in range(lb.shape[1])])
        pixels = [part[1:] for part in done]
        del done
        if core_min is not None:
            core = ev_np >= core_min
        ev = layers.isel(layer=0, drop=True).copy(data=dask_view(ev_np, lay.chunks[1:]))
        del ev_np
    else:
        layers = _layers(cube, cfg, roles, res)
        ev = layers.sel(layer="evidence").drop_vars("layer")
        if core_min is not None:
            core = np.asarray(ev.values) >= core_min
    radius = round(cfg.split_distance_m / res)
    split = dict(threshold=cfg.evidence_threshold, radius_px=radius,
                 min_peak=cfg.peak_evidence_min)
    if _is_dask(ev.data):
        mask = ev.copy(data=ev.data.map_overlap(split_mask, depth=max(8, 6 * radius),
                                                boundary="none", dtype=bool, **split))
    else:
        mask = ev.copy(data=split_mask(ev.values, **split))
    if cfg.opening_radius_px > 0:
        if _is_dask(mask.data):
            mask = mask.copy(data=mask.data.map_overlap(
                _open, depth=cfg.opening_radius_px + 1, boundary="none",
                radius=cfg.opening_radius_px, dtype=bool))
        else:
            mask = mask.copy(data=_open(mask.values, cfg.opening_radius_px))
    mask = _georef(mask, scene)
    if pixels is not None:
        # the mask in memory (1 byte per pixel) before labelling, and the evidence let go:
        # labelling reads the mask twice (border joins, then labels), which recomputed it
        # from the evidence each time, and held the evidence beside the labels
        chunks = mask.data.chunks
        mask = mask.copy(data=dask_view(in_memory(mask.data), chunks))
        del ev
    labels = _label(mask, cfg.connectivity)
    if pixels is not None:
        del mask
        lab_np = in_memory(labels.data)
        labels = labels.copy(data=lab_np)
        tables = []
        for gy, gx, values in pixels:  # per block, in its raster order: the sums of block_stats
            lab = lab_np[gy, gx]
            on = lab > 0
            tables.append(pixel_stats(lab[on], gy[on], gx[on], values[:, on]))
    else:
        tables = [block_stats(labels.values, layers.values, cube.values, 0, 0)]
    return labels, merge_stats(tables), core


class _Rows:
    """What the block tasks of one row read and write: the blocks of reflectance of the row
    above (only their last ``depth`` rows), of the row, and of the row below (only their
    first ``depth`` rows), and the grid-sized evidence array they fill in place (dask passes
    this object on as it is: not arrays it would hash or split)."""

    def __init__(self, evidence: np.ndarray, above: list[np.ndarray] | None,
                 row: list[np.ndarray], below: list[np.ndarray] | None) -> None:
        self.evidence, self.above, self.row, self.below = evidence, above, row, below


def _evidence_by_rows(data: Any, cfg: PoolConfig, roles: tuple[str, ...], res: float
                      ) -> tuple[np.ndarray, list[tuple[np.ndarray, ...]]]:
    """Evidence (y, x) float32 and the candidate pixels of each block (raster order) of the
    dask reflectance ``data`` (band, y, x; blocked by :func:`_block_data`), computed a row of
    blocks at a time.

    The same values as the layers of :func:`_layers` (dask's overlap with ``boundary="none"``
    and its trim: each block sees ``depth`` pixels of its neighbours, none past the grid's
    edge), with each block of reflectance read once: a row is read, then the row below it,
    whose first ``depth`` rows the blocks of the row need; of the row above only its last
    ``depth`` rows are kept. Reading a row of blocks with their halos from dask instead read
    the neighbouring rows again in full (2.7 reads per block on a full tile), and computing
    every block at once read nearly all of them before the unmixing used them (memory).
    Memory: two rows of reflectance, the evidence (4 bytes per pixel), the blocks running.
    """
    import dask

    depth = _depth_px(cfg, res)
    kwargs = _layer_kwargs(cfg, roles, res)
    ys = np.cumsum((0, *data.chunks[1]))
    xs = np.cumsum((0, *data.chunks[2]))
    n_y, n_x = len(ys) - 1, len(xs) - 1
    evidence = np.empty(data.shape[1:], np.float32)
    blocks = data.to_delayed(optimize_graph=True)[0]

    def read(i: int) -> list[np.ndarray]:
        # the blocks as they are (no joined copy of the row)
        return list(dask.compute(*blocks[i]))

    block = dask.delayed(_row_block, pure=False)
    pixels: list[tuple[np.ndarray, ...]] = []
    above, row = None, read(0)
    for i in range(n_y):
        below_row = read(i + 1) if i + 1 < n_y else None
        rows = _Rows(evidence, above, row,
                     None if below_row is None else [b[:, :depth] for b in below_row])
        tasks = [block(rows, j, int(ys[i]), xs, depth, kwargs, cfg.evidence_threshold)
                 for j in range(n_x)]
        pixels += dask.compute(*tasks)
        above = None if below_row is None else [np.array(b[:, -depth:]) for b in row]
        row = below_row
        del rows, tasks
    return evidence, pixels


def _row_block(rows: _Rows, j: int, y0: int, xs: np.ndarray, depth: int,
               kwargs: dict[str, Any], threshold: float) -> tuple[np.ndarray, ...]:
    """Block ``j`` of the row of :func:`_evidence_by_rows`: its layers from the block and
    its halo, the evidence written into ``rows.evidence``, its candidate pixels returned."""
    x0, x1 = int(xs[j]), int(xs[j + 1])
    left = depth if j > 0 else 0
    right = depth if j + 1 < len(xs) - 1 else 0

    def strip(row: list[np.ndarray]) -> list[np.ndarray]:
        parts = [row[j]]
        if left:
            parts.insert(0, row[j - 1][:, :, -left:])
        if right:
            parts.append(row[j + 1][:, :, :right])
        return parts

    grid = [strip(r) for r in (rows.above, rows.row, rows.below) if r is not None]
    # the block with its halo, copied once from its (up to nine) pieces
    cube = np.empty((rows.row[j].shape[0], sum(g[0].shape[1] for g in grid),
                     sum(p.shape[2] for p in grid[0])), np.float32)
    r0 = 0
    for g in grid:
        c0 = 0
        for piece in g:
            cube[:, r0:r0 + piece.shape[1], c0:c0 + piece.shape[2]] = piece
            c0 += piece.shape[2]
        r0 += g[0].shape[1]
    layers = pixel_layers(cube, **kwargs)
    del cube
    top = 0 if rows.above is None else rows.above[j].shape[1]
    h = rows.row[j].shape[1]
    layers = layers[:, top:top + h, left:left + (x1 - x0)]
    rows.evidence[y0:y0 + h, x0:x1] = layers[0]
    return candidate_pixels(layers, rows.row[j], threshold, y0, x0)


def _evidence_and_candidates(layers: np.ndarray, cube: np.ndarray, threshold: float, y0: int,
                             x0: int) -> tuple[Any, ...]:
    """A block's evidence layer, and :func:`~._pool_objects.candidate_pixels` of it."""
    return (np.array(layers[0]), *candidate_pixels(layers, cube, threshold, y0, x0))


def _features(table: pd.DataFrame, cfg: PoolConfig, res: float) -> pd.DataFrame:
    t = shape_measures(table)
    n = t["n_pixels"].to_numpy()
    t["mean_evidence"] = t["evidence_sum"] / n
    t["area_m2"] = t["evidence_sum"] * res * res
    t["footprint_m2"] = n * res * res
    t["background_green"] = t["green_sum"] / n
    t["density"] = t["density_sum"] / n
    # NaN where no pixel of the object touches non-pool ground (then the filter passes it)
    t["edge_green"] = t["edge_sum"] / t["edge_n"].where(t["edge_n"] > 0)
    t["material"] = [list(POOL_LIBRARY)[int(m) - 1] if m >= 1 else "none"
                     for m in t["material"]]
    return t


def _neighbours(t: pd.DataFrame, radius_m: float, res: float) -> np.ndarray:
    if len(t) < 2 or radius_m <= 0:
        return np.zeros(len(t))
    pts = np.column_stack([t["row"], t["col"]]) * res
    tree = cKDTree(pts)
    return np.array([len(c) - 1 for c in tree.query_ball_point(pts, radius_m)], float)


def confidence_features(t: pd.DataFrame) -> np.ndarray:
    """(n, len(CONFIDENCE_FEATURES)) design matrix of the confidence model from an object
    table (columns as produced by :func:`detect_pools`)."""
    return np.column_stack([
        t["peak_evidence"], t["mean_evidence"], np.log(np.maximum(t["area_m2"], 1e-3)),
        t["elongation"], t["background_green"], t["density"],
        (t["material"] == "liner").astype(float), np.log1p(t["neighbours"]), t["fill"],
    ]).astype(float)


def _confidence(t: pd.DataFrame, cfg: PoolConfig) -> np.ndarray:
    coef = np.asarray(cfg.confidence_coefficients, float)
    if coef.size != len(CONFIDENCE_FEATURES) + 1:
        raise InputError(f"PoolConfig.confidence_coefficients has {coef.size} values; it "
                         f"needs {len(CONFIDENCE_FEATURES) + 1} (intercept + "
                         f"{', '.join(CONFIDENCE_FEATURES)}).")
    if len(t) == 0:
        return np.zeros(0)
    z = coef[0] + confidence_features(t) @ coef[1:]
    return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))


def _select(t: pd.DataFrame, cfg: PoolConfig, res: float, *, apply_confidence: bool = True
            ) -> pd.DataFrame:
    """Apply the object filters; adds ``neighbours`` and ``confidence``."""
    if len(t) == 0:
        return t.assign(neighbours=[], confidence=[])
    keep = ((t["peak_evidence"] >= cfg.peak_evidence_min)
            & (t["area_m2"] >= cfg.min_area_m2) & (t["area_m2"] <= cfg.max_area_m2)
            & (t["elongation"] <= cfg.max_elongation)
            & (t["background_green"] <= cfg.max_background_green)
            & (t["density"] <= cfg.max_density)
            & ~(t["edge_green"] > cfg.max_edge_green))
    t = t[keep.to_numpy()].copy()
    t["neighbours"] = _neighbours(t, cfg.neighbour_radius_m, res)
    t["confidence"] = _confidence(t, cfg)
    if apply_confidence:
        t = t[t["confidence"] >= cfg.min_confidence]
    return t


#: Rows of labels :func:`_keep_labels` clears at a time.
_CLEAR_ROWS = 512


def _keep_labels(labels: xr.DataArray, keep: np.ndarray) -> xr.DataArray:
    """Only the labels in ``keep``, cleared in place through a lookup table (no grid-sized
    copy: 4 bytes per pixel on a full tile). ``labels`` are the segmentation's own int32
    array, in memory on every path (:func:`_candidates` computes dask labels)."""
    keep = np.asarray(keep, dtype=np.int64)
    data = np.asarray(labels.data)
    if data.size == 0:
        return labels.copy(data=data.astype(np.int32)).rename("pools")
    top = int(data.max())
    table = np.zeros(top + 1, bool)
    table[keep[(keep >= 0) & (keep <= top)]] = True
    for r0 in range(0, data.shape[0], _CLEAR_ROWS):  # rows at a time: a mask of those only
        rows = data[r0:r0 + _CLEAR_ROWS]
        rows[~table[rows]] = 0
    return labels.copy(data=data, deep=False).rename("pools")


def _clearing_filter(t: pd.DataFrame, clearings: gpd.GeoDataFrame | None,
                     scene: xr.DataArray) -> pd.DataFrame:
    """Keep objects whose centre lies in (or within one pixel of) a clearing, if given (only
    clearings of :data:`POOL_CLEARING_KINDS` when there is a ``kind`` column)."""
    if clearings is None or len(t) == 0:
        return t
    if "kind" in clearings.columns:  # detect_clearings output: pools sit on mining clearings
        clearings = clearings[clearings["kind"].isin(POOL_CLEARING_KINDS)]
    if len(clearings) == 0:
        return t.iloc[:0]
    tf = scene.rio.transform()
    xs = tf.c + (t["col"].to_numpy() + 0.5) * tf.a
    ys = tf.f + (t["row"].to_numpy() + 0.5) * tf.e
    pts = gpd.GeoSeries(gpd.points_from_xy(xs, ys), crs=scene.rio.crs)
    if clearings.crs is not None and scene.rio.crs is not None:
        clearings = clearings.to_crs(scene.rio.crs)
    zone = clearings.geometry.buffer(abs(tf.a)).union_all()
    return t[pts.within(zone).to_numpy()]


def _segment(scene: xr.DataArray, config: Any, clearings: Any, *, apply_confidence: bool = True,
             with_core: bool = False
             ) -> tuple[xr.DataArray, pd.DataFrame, PoolConfig, tuple[str, ...], float,
                        np.ndarray | None]:
    """Kept labels, their object table, the config, band roles, pixel size and, with
    ``with_core``, the mask of pixels whose evidence reaches ``pixel_min_evidence`` (the
    pools' cores, for change maps; else None)."""
    scene = _scene_2d(scene)
    cfg = _pool_config(scene, config)
    method, roles = _method_roles(scene, cfg)
    res = _resolution(scene)
    labels, table, core = _candidates(scene, cfg, res, roles,
                                      cfg.pixel_min_evidence if with_core else None)
    if len(table):
        table = _features(table, cfg, res)
    table = _select(table, cfg, res, apply_confidence=apply_confidence)
    table = _clearing_filter(table, clearings, scene)
    labels = _keep_labels(labels, table["label"].to_numpy() if len(table) else [])
    labels.attrs = {"long_name": "pool labels", "method": method, "bands": list(roles)}
    return _georef(labels, scene), table, cfg, roles, res, core


def segment_pools(scene: xr.DataArray, config: DetectionConfig | PoolConfig | None = None, *,
                  clearings: gpd.GeoDataFrame | None = None) -> xr.DataArray:
    """Label the pools of one scene: evidence → mask → components → shape/context filters.

    Parameters
    ----------
    scene
        Reflectance ``(band, y, x)`` (see :func:`pool_evidence`).
    config
        Detection settings; default the preset for the scene's sensor or pixel size.
    clearings
        Optional clearing polygons (e.g. from ``detect_clearings``): only pools inside one
        (one-pixel tolerance) are kept; with a ``kind`` column only ``mining`` and ``unknown``
        clearings count (not swidden or landslides).

    Returns
    -------
    xarray.DataArray
        int32 ``(y, x)`` labels, 0 = no pool; ids match the ``label`` column of
        :func:`detect_pools`. Computed (numpy) even for dask input: the object filters need
        the whole table.

    Examples
    --------
    >>> from minewatch.synth import generate_scenes
    >>> refl, truth = generate_scenes(seed=2, resolution_m=3.0, shape=(80, 80),
    ...                               sensor="planetscope", clouds=False)
    >>> labels = segment_pools(refl.isel(time=-1).sel(band=["blue", "green", "red", "nir"]))
    >>> labels.dtype
    dtype('int32')
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        labels, *_ = _segment(scene, config, clearings)
    return labels


def _date(scene: xr.DataArray) -> pd.Timestamp | None:
    if "time" in scene.coords and scene["time"].size == 1:
        return pd.Timestamp(np.asarray(scene["time"].values).reshape(-1)[0])
    if "time" in scene.attrs:
        return pd.Timestamp(scene.attrs["time"])
    return None


def _index_means(table: pd.DataFrame, roles: tuple[str, ...], names: tuple[str, ...]
                 ) -> dict[str, np.ndarray]:
    means = np.stack([table[f"band{i}_sum"].to_numpy() / table["n_pixels"].to_numpy()
                      for i in range(len(roles))]).astype(np.float32)
    cube = xr.DataArray(means, dims=("band", "object"), coords={"band": list(roles)})
    return {name: getattr(indices, name)(cube).values.astype(float) for name in names}


def _polygons(labels: xr.DataArray) -> gpd.GeoDataFrame:
    try:
        from minewatch.detect.vectorize import vectorize
    except ImportError:  # pragma: no cover - until the shared vectoriser lands
        import shapely
        from rasterio import features

        lab = np.asarray(labels.values).astype(np.int32)
        shapes = features.shapes(lab, mask=lab > 0, transform=labels.rio.transform())
        frame = gpd.GeoDataFrame(
            [{"label": int(v), "geometry": shapely.geometry.shape(g)} for g, v in shapes],
            geometry="geometry", crs=labels.rio.crs)
        frame = frame.dissolve("label").reset_index()
        frame["perimeter_m"] = frame.length
        frame["compactness"] = 4 * np.pi * frame.area / np.maximum(frame.length ** 2, 1e-9)
        return frame
    return vectorize(labels)


def _empty(crs: Any, names: tuple[str, ...]) -> gpd.GeoDataFrame:
    cols = _COLUMNS + list(names) + ["confidence"]
    return gpd.GeoDataFrame({c: [] for c in cols}, geometry=gpd.GeoSeries([], crs=crs),
                            crs=crs)


def detect_pools(scene: xr.DataArray, config: DetectionConfig | PoolConfig | None = None, *,
                 clearings: gpd.GeoDataFrame | None = None,
                 model: PoolModel | None = None) -> gpd.GeoDataFrame:
    """Leaching pools of one scene as polygons with measures and a calibrated confidence.

    Parameters
    ----------
    scene
        Reflectance (0–1) ``(band, y, x)`` as from :func:`minewatch.open_tile` or one time step
        of :func:`minewatch.load_stack` (numpy or dask); NaN = cloud/nodata, never a pool.
        6-band (Sentinel-2, Landsat), 4-band (PlanetScope) or RGB-only imagery.
    config
        :class:`~minewatch.config.DetectionConfig` (or its ``pools``); default
        ``DetectionConfig.preset(scene.attrs["sensor"])``, else the preset of the nearest
        pixel size.
    clearings
        Optional clearing polygons: only pools inside one are kept.
    model
        A trained :class:`~minewatch.detect.model.PoolModel`: its per-pixel probability
        replaces the rule-based evidence (see :meth:`PoolModel.detect`; the config's area
        limits still apply). Default: the rules, which need no training.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per pool, in the scene CRS: ``label``, ``date``, ``n_pools`` (pools the object
        holds: 1, or at coarse resolution its area over ``pool_area_m2``), ``area_m2``
        (evidence-weighted pool area, m²: sub-pixel at 10 m), ``footprint_m2`` (pixels, m²),
        ``perimeter_m``, ``compactness`` (4πA/P², 1 for a disc), ``n_pixels``,
        ``elongation``, ``fill`` (pixels over the moment-ellipse area),
        ``peak_evidence``, ``mean_evidence``, ``material`` (best-fitting library material),
        ``background_green``, ``density``, ``neighbours``, one column per index (``ndwi``,
        ``blueness``, … of the pool's mean reflectance), ``confidence`` (0–1, calibrated
        probability of a real pool) and ``geometry`` (pixel outline).

    Raises
    ------
    BandError
        The configured method or a requested index needs bands the image lacks; the message
        lists the methods/indices that work.

    Warns
    -----
    EmptySceneWarning
        The scene has no valid pixel (result empty).

    Examples
    --------
    >>> from minewatch.synth import generate_scenes
    >>> refl, truth = generate_scenes(seed=2, resolution_m=3.0, shape=(120, 120),
    ...                               sensor="planetscope", clouds=False)
    >>> scene = refl.isel(time=-1).sel(band=["blue", "green", "red", "nir"])
    >>> pools = detect_pools(scene)
    >>> str(pools.crs), bool(pools["confidence"].between(0, 1).all())
    ('EPSG:32647', True)
    """
    scene = _scene_2d(scene)
    cfg = _pool_config(scene, config)
    if model is not None:
        return model.detect(scene, cfg, clearings=clearings)
    return _detect(scene, cfg, clearings)[0]


def pools_and_cores(scene: xr.DataArray, config: DetectionConfig | PoolConfig | None = None
                    ) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """:func:`detect_pools` (rules, no clearing filter) and the ``(y, x)`` bool mask of the
    pixels whose pool evidence reaches ``PoolConfig.pixel_min_evidence``: the pixels that are
    mostly pool, which :func:`minewatch.change.change_map` takes as ``pool_pixels``. One pass
    of the evidence gives both (``analyze`` caches the mask per date).

    Examples
    --------
    >>> from minewatch.synth import generate_scenes
    >>> refl, truth = generate_scenes(seed=2, resolution_m=10.0, shape=(100, 100),
    ...                               clouds=False)
    >>> pools, core = pools_and_cores(refl.isel(time=-1))
    >>> core.shape, core.dtype.name
    ((100, 100), 'bool')
    """
    scene = _scene_2d(scene)
    return _detect(scene, _pool_config(scene, config), None, with_core=True)


def _detect(scene: xr.DataArray, cfg: PoolConfig, clearings: Any, *, with_core: bool = False
            ) -> tuple[gpd.GeoDataFrame, np.ndarray | None]:
    """The rule-based body of :func:`detect_pools`, and the core mask with ``with_core``
    (see :func:`_segment`)."""
    _method_roles(scene, cfg)
    names = _report_indices(scene, cfg)
    crs = scene.rio.crs.to_string() if scene.rio.crs is not None else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        labels, table, cfg, roles, _, core = _segment(scene, cfg, clearings,
                                                      with_core=with_core)
    if len(table) == 0:
        valid_any = bool(np.isfinite(scene.isel(band=0)).any())
        if not valid_any:
            warnings.warn(f"scene of {_date(scene) or 'unknown date'} has no valid pixel (all "
                          "NaN: nodata or cloud); no pools detected.", EmptySceneWarning,
                          stacklevel=3)
        return _empty(crs, names), core
    polys = _polygons(labels)
    polys = polys[["label", "perimeter_m", "compactness", "geometry"]]
    frame = table.merge(pd.DataFrame(polys.drop(columns="geometry")).assign(
        geometry=polys.geometry.values), on="label", how="inner")
    for name, values in _index_means(frame, roles, names).items():
        frame[name] = values
    frame["date"] = _date(scene)
    if cfg.pool_area_m2 > 0:
        frame["n_pools"] = np.maximum(1, np.round(frame["area_m2"] / cfg.pool_area_m2))
    else:
        frame["n_pools"] = 1
    frame["n_pools"] = frame["n_pools"].astype(int)
    frame["n_pixels"] = frame["n_pixels"].astype(int)
    frame["label"] = frame["label"].astype(np.int32)
    cols = _COLUMNS + list(names) + ["confidence", "geometry"]
    return gpd.GeoDataFrame(frame[cols], geometry="geometry", crs=crs), core
