"""The whole job in one call: ingest → detect → sites → change → time series, written to disk.

:func:`analyze` runs every stage over an archive and writes the output layout that scripts,
the CLI, the maps and the report rely on; :func:`verify` re-checks a finished output folder
against the sha256 of its inputs (and of its own outputs) recorded in ``manifest.json``.

Output layout (names and columns are a contract)::

    out_dir/scenes.csv            one row per scene, used or skipped (``status``, ``reason``)
    out_dir/pools.gpkg            date, site_id, area_m2, confidence, geometry (+ measures)
    out_dir/clearings.gpkg        date, area_m2, kind, site_id, geometry (+ measures)
    out_dir/sites.gpkg            site_id, first_seen, last_seen, n_pools_max, area_m2_max, ...
    out_dir/site_history.csv      site_id, date, status, n_pools, cleared_area_m2, ...
    out_dir/events.csv            date, kind (merge/split), site_id, other_ids
    out_dir/timeseries.csv        date, sites, pools, cleared_area_m2, new_sites, ...
    out_dir/timeseries_regions.csv  the same per region (when ``regions`` are given)
    out_dir/change/<d1>_<d2>.tif  (+ .gpkg, _areas.csv) first → last date, and each step
    out_dir/imagery/<date>_rgb.tif  true-colour COGs of the first and last dates (for maps)
    out_dir/manifest.json         inputs with sha256, config, versions, timings, outputs
    out_dir/figures/              maps and plots (PNG); report.html; webmap.html
    out_dir/cache/                per-date results, so a rerun does only what is new

Reproducibility: the same inputs and settings give byte-identical tables, GeoPackages
(GDAL's ``OGR_CURRENT_DATE`` is pinned) and GeoTIFFs; only ``manifest.json`` (creation time
and timings) differs between runs.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import itertools
import json
import math
import os
import platform
import re
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from os import PathLike
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import rioxarray  # noqa: F401  (registers the .rio accessor)
import shapely
import xarray as xr

from minewatch.config import DetectionConfig
from minewatch.errors import (
    ConfigError,
    EmptyArchiveError,
    EmptySceneWarning,
    InputError,
    MinewatchError,
    MinewatchWarning,
    SparseSceneWarning,
    TileReadError,
)

__all__ = ["Analysis", "analyze", "verify"]

#: GDAL writes this as the GeoPackage's "last change" time, so reruns are byte-identical.
_GPKG_DATE = "2000-01-01T00:00:00.000Z"
#: Bump when the cached per-date results change meaning.
_CACHE_VERSION = 1
#: Reflectance shown as full white in the true-colour COGs (0–1).
_RGB_MAX = 0.3

PathLike_ = str | PathLike[str]


@dataclass(frozen=True)
class Analysis:
    """What :func:`analyze` found, in memory, and where it wrote it.

    Attributes hold the same tables as the files of ``out_dir`` (see the module docs).
    """

    scenes: pd.DataFrame
    """One row per scene: scene_id, date, sensor, status (``used``/``skipped``), reason."""
    pools: gpd.GeoDataFrame
    """Pools of every date (``date``, ``site_id``, ``area_m2``, ``confidence``, geometry)."""
    clearings: gpd.GeoDataFrame
    """Clearings of every date (``date``, ``area_m2``, ``kind``, ``site_id``, geometry)."""
    sites: gpd.GeoDataFrame
    """Tracked sites with stable IDs (``site_id``, ``first_seen``, ``last_seen``, ...)."""
    history: pd.DataFrame
    """Status of each site on each date (``site_id``, ``date``, ``status``, ...)."""
    events: pd.DataFrame
    """Merges and splits of sites (``date``, ``kind``, ``site_id``, ``other_ids``)."""
    timeseries: pd.DataFrame
    """Counts per date with their uncertainty (``date``, ``sites``, ``pools``, ...), for the
    whole area."""
    timeseries_regions: pd.DataFrame | None
    """The same per date and region (``region`` column) when ``regions`` were given; also
    written as ``timeseries_regions.csv``."""
    valid: xr.DataArray
    """(time, y, x) bool: where each date was observed (not cloud, shadow or nodata). With an
    ``out_dir`` it is dask-backed, one chunk per date read from ``out_dir/cache`` when used
    (``.values``, ``.sel(time=...)``): a long archive's masks are not all held in memory."""
    config: DetectionConfig
    """The settings used."""
    out_dir: Path | None = None
    """Where the layout was written (``None``: nothing written)."""
    files: tuple[Path, ...] = ()
    """Files written."""
    notes: tuple[str, ...] = field(default_factory=tuple)
    """What the run wants the user to know (e.g. why there is no change map)."""

    @property
    def dates(self) -> list[pd.Timestamp]:
        """The dates analysed, in order."""
        return [pd.Timestamp(t) for t in self.valid["time"].values]


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------

def _sha256(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _resolve_config(config: Any, sensor: str, scenes: gpd.GeoDataFrame) -> DetectionConfig:
    if config is None:
        from minewatch.config import PRESETS, SENSOR_PRESETS

        if SENSOR_PRESETS.get(sensor, sensor) in PRESETS:
            return DetectionConfig.preset(sensor)
        # imagery of an unknown sensor (bands=): the preset tuned nearest its pixel size
        res = float(scenes["resolution_m"].min())
        name = min(PRESETS, key=lambda k: abs(math.log(PRESETS[k] / res)))
        has_nir = bool(scenes["has_nir"].all()) if "has_nir" in scenes.columns else True
        if name == "rgb_highres" and has_nir:
            name = "planetscope"
        return DetectionConfig.preset(name)
    if isinstance(config, DetectionConfig):
        return config
    if isinstance(config, Mapping):
        return DetectionConfig.from_dict(dict(config))
    if isinstance(config, str | PathLike):
        return DetectionConfig.from_toml(config)
    raise ConfigError(f"config: expected a DetectionConfig, a dict or a TOML file path, got "
                      f"{type(config).__name__}.")


def _detection_settings(cfg: DetectionConfig) -> dict[str, Any]:
    """The settings detection depends on (cache keys): all but the site settings."""
    settings = cfg.to_dict()
    settings.pop("sites", None)
    return settings


def _key(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _day(t: Any) -> str:
    return f"{pd.Timestamp(t):%Y-%m-%d}"


def _write_gpkg(frame: gpd.GeoDataFrame, path: Path, layer: str | None = None) -> Path:
    from minewatch.io.write import atomic_path

    out = frame.copy()
    for column in out.columns:  # GeoPackage has no tuple/list columns
        if column != out.geometry.name and out[column].dtype == object:
            out[column] = out[column].map(
                lambda v: ",".join(map(str, v)) if isinstance(v, list | tuple) else v)
    with atomic_path(path) as tmp:
        tmp.unlink()  # the GPKG driver wants to create the file itself
        out.to_file(tmp, driver="GPKG", layer=layer or path.stem, engine="pyogrio")
    return path


def _write_csv(frame: pd.DataFrame, path: Path) -> Path:
    from minewatch.io.write import atomic_path

    out = pd.DataFrame(frame).copy()
    if "geometry" in out.columns:
        out = out.drop(columns="geometry")
    for column in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[column]):
            out[column] = out[column].dt.strftime("%Y-%m-%d")
    with atomic_path(path) as tmp:
        out.to_csv(tmp, index=False, float_format="%.6g", lineterminator="\n")
    return path


def _write_bool_tif(mask: np.ndarray, like: xr.DataArray, path: Path) -> Path:
    from minewatch.io.write import atomic_path

    height, width = mask.shape
    profile = {"driver": "GTiff", "width": width, "height": height, "count": 1,
               "dtype": "uint8", "crs": like.rio.crs, "transform": like.rio.transform(),
               "compress": "deflate", "tiled": width >= 256 and height >= 256}
    with atomic_path(path) as tmp, rasterio.open(tmp, "w", **profile) as dst:
        dst.write(mask.astype("uint8"), 1)
    return path


def _read_bool_tif(path: Path) -> np.ndarray:
    with rasterio.open(path) as src:
        return src.read(1).astype(bool)


#: Side (px) of the blocks a date's true colour is made in when the date is in memory.
_RGB_BLOCK = 2048
_RGB_BANDS = ("red", "green", "blue")


def _rgb_bytes(rgb: np.ndarray) -> np.ndarray:
    """uint8 true colour (0 = no data) of (band, y, x) reflectance (0–1)."""
    rgb = rgb.astype("float32", copy=False)
    scaled = np.clip(np.sqrt(np.clip(rgb, 0, None) / _RGB_MAX) * 254 + 1, 1, 255)
    return np.where(np.isfinite(rgb), scaled, 0).astype("uint8")


def _rgb_vrt(pixels: Path, width: int, height: int, crs: Any, transform: Any,
             tags: Mapping[str, str]) -> str:
    """A VRT of the staged pixels that says what an in-memory dataset of them would (tags,
    band names, nodata 0, colour interpretation undefined), so that GDAL's COG copy of it is
    the file the in-memory dataset gives; a GeoTIFF cannot say "undefined" of its first band
    once blocks are written."""
    from xml.sax.saxutils import escape

    from rasterio.crs import CRS

    items = "".join(f'<MDI key="{escape(k)}">{escape(v)}</MDI>' for k, v in tags.items())
    bands = "".join(
        f'<VRTRasterBand dataType="Byte" band="{i}"><Description>{escape(name)}</Description>'
        "<NoDataValue>0</NoDataValue><ColorInterp>Undefined</ColorInterp><SimpleSource>"
        f'<SourceFilename relativeToVRT="0">{escape(str(pixels))}</SourceFilename>'
        f"<SourceBand>{i}</SourceBand></SimpleSource></VRTRasterBand>"
        for i, name in enumerate(_RGB_BANDS, start=1))
    geotransform = ", ".join(repr(float(v)) for v in transform.to_gdal())
    return (f'<VRTDataset rasterXSize="{width}" rasterYSize="{height}">'
            f"<SRS>{escape(CRS.from_user_input(crs).to_wkt())}</SRS>"
            f"<GeoTransform>{geotransform}</GeoTransform><Metadata>{items}</Metadata>{bands}"
            "</VRTDataset>")


def _write_rgb(scene: xr.DataArray, path: Path) -> Path:
    """A true-colour uint8 COG of one date (0 = no data), for maps and the report.

    ``scene`` may be lazy: it is read and scaled a block at a time (its dask chunks, else
    blocks of :data:`_RGB_BLOCK` px), each block written to a temporary tiled GeoTIFF that
    GDAL then copies to the COG, so neither the date's reflectance nor its image is ever in
    memory whole (the same file, byte for byte, as writing the image in one piece).
    """
    from rasterio.shutil import copy as copy_raster
    from rasterio.windows import Window

    from minewatch.io.write import atomic_path

    rgb = scene.sel(band=list(_RGB_BANDS)).transpose("band", "y", "x")
    height, width = rgb.sizes["y"], rgb.sizes["x"]
    if _is_dask(rgb.data):
        rows, cols = rgb.data.chunks[1], rgb.data.chunks[2]
    else:
        rows = tuple(np.diff([*range(0, height, _RGB_BLOCK), height]))
        cols = tuple(np.diff([*range(0, width, _RGB_BLOCK), width]))
    crs, transform = scene.rio.crs, scene.rio.transform()
    profile = {"driver": "GTiff", "width": width, "height": height, "count": 3,
               "dtype": "uint8", "crs": crs, "transform": transform, "tiled": True,
               "blockxsize": 256, "blockysize": 256, "BIGTIFF": "IF_SAFER"}
    tags = {"date": _day(scene["time"].values), "stretch": f"sqrt(r/{_RGB_MAX})"}
    with atomic_path(path) as tmp:
        # named like atomic_path's temporaries, so a killed run's is removed by the next
        fd, name = tempfile.mkstemp(prefix=f".{path.stem}-staged.", suffix=".tif",
                                    dir=tmp.parent)
        os.close(fd)
        staged = Path(name)
        try:
            with rasterio.open(staged, "w", **profile) as dst:
                y0 = 0
                for h in map(int, rows):
                    x0 = 0
                    for w in map(int, cols):
                        block = rgb.isel(y=slice(y0, y0 + h), x=slice(x0, x0 + w)).values
                        dst.write(_rgb_bytes(block), window=Window(x0, y0, w, h))
                        x0 += w
                    y0 += h
            with rasterio.open(_rgb_vrt(staged, width, height, crs, transform, tags)) as src:
                copy_raster(src, tmp, driver="COG", compress="deflate")
        finally:
            staged.unlink(missing_ok=True)
    return path


@contextlib.contextmanager
def _pinned_gpkg_date() -> Iterator[None]:
    """Pin the GeoPackage "last change" time that GDAL (pyogrio's own copy) writes."""
    import pyogrio

    before = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": _GPKG_DATE})
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": before})


@contextlib.contextmanager
def _dask_client(workers: int | None, scheduler: str | None) -> Iterator[Any]:
    """A dask.distributed client for the run: an existing cluster, a LocalCluster, or none."""
    if workers is None and scheduler is None:
        yield None
        return
    if workers is not None and scheduler is not None:
        raise InputError("Pass workers= (a local cluster) or scheduler= (an existing one), "
                         "not both.")
    from dask.distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, ValueError, TypeError) as err:
            raise InputError(f"Cannot reach the dask scheduler at {scheduler!r}: {err}") from err
        with client:
            yield client
        return
    if int(workers) < 1:
        raise InputError(f"workers must be >= 1, got {workers}.")
    with LocalCluster(n_workers=int(workers), threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        yield client


def _select_sensor(scenes: gpd.GeoDataFrame, sensor: str | None) -> str:
    counts = scenes.groupby("sensor")["date"].apply(lambda d: d.dt.normalize().nunique())
    if sensor is not None:
        if sensor not in counts.index:
            raise InputError(f"sensor={sensor!r}: the archive holds only "
                             f"{', '.join(f'{s} ({n} dates)' for s, n in counts.items())}.")
        return sensor
    # the sensor with the most dates; ties go to the finest pixel
    res = scenes.groupby("sensor")["resolution_m"].min()
    order = sorted(counts.index, key=lambda s: (-counts[s], res[s], s))
    return str(order[0])


def _check_duplicates(scenes: gpd.GeoDataFrame) -> None:
    dup = scenes[scenes["scene_id"].duplicated(keep=False)]
    if len(dup):
        first = dup.iloc[0]["scene_id"]
        where = [str(p) for p in dup.loc[dup["scene_id"] == first, "paths"]]
        raise InputError(f"Scene {first} appears more than once in the archive ({'; '.join(where)}"
                         "); remove the duplicate copies.")


def _scene_files(scenes: gpd.GeoDataFrame) -> list[Path]:
    files: set[Path] = set()
    for scene in scenes["scene"]:
        hrefs = [b.href for b in scene.bands] + ([scene.mask.href] if scene.mask else [])
        for href in hrefs:
            path = href.split("?", 1)[0]
            for prefix in ("vrt://",):
                path = path.removeprefix(prefix)
            if path.startswith("/vsizip/"):
                path = path.removeprefix("/vsizip/").split(".zip", 1)[0] + ".zip"
            if Path(path).is_file():
                files.add(Path(path).resolve())
    return sorted(files)


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version(), "gdal": rasterio.__gdal_version__}
    for name in ("minewatch", "numpy", "xarray", "dask", "rasterio", "rioxarray", "geopandas",
                 "shapely", "pyogrio", "scikit-image", "scipy", "odc-stac", "odc-geo",
                 "pandas", "scikit-learn"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:  # pragma: no cover
            out[name] = "not installed"
    return out


def _empty_like(frame: gpd.GeoDataFrame | None, crs: Any, columns: Sequence[str]
                ) -> gpd.GeoDataFrame:
    if frame is not None:
        return frame.iloc[0:0]
    return gpd.GeoDataFrame({c: pd.Series(dtype=object) for c in columns},
                            geometry=gpd.GeoSeries([], crs=crs), crs=crs)


# --------------------------------------------------------------------------------------------
# per-date detection, cached
# --------------------------------------------------------------------------------------------

class _Deferred:
    """A lazy array handed to a task unread: dask computes collections passed to a task
    before it runs, and the read belongs inside the task (so that a run holds only the dates
    its running tasks need, whatever the number of tasks queued)."""

    def __init__(self, value: xr.DataArray) -> None:
        self.value = value

    def read(self) -> xr.DataArray:
        """The date in memory; left lazy on a grid of more than :data:`_BLOCK_MIN_PIXELS`
        (the task then reads it in blocks)."""
        if _blocked(self.value.sizes["y"], self.value.sizes["x"]):
            return self.value
        # in the task's own thread: no nested use of the cluster
        return self.value.compute(scheduler="synchronous")


def _is_dask(data: Any) -> bool:
    return type(data).__module__.startswith("dask")


def _pixels_path(valid_file: Path) -> Path:
    """The cache file of a date's pool pixels (the mask change maps take), beside its valid
    mask."""
    return valid_file.with_name(valid_file.name.replace("valid-", "poolpx-", 1))


def _pools_and_valid(scene: xr.DataArray | _Deferred, cfg: DetectionConfig,
                     layers_file: Path | None = None, pools_file: Path | None = None,
                     valid_file: Path | None = None
                     ) -> tuple[gpd.GeoDataFrame, np.ndarray | None, np.ndarray | None]:
    """Pools, the valid mask and the pool-pixel mask (evidence ≥ ``pixel_min_evidence``, for
    the change maps) of one date (one task, on a worker when distributed); with
    ``layers_file``, also writes the date's layers for clearing detection there, and with
    ``pools_file``/``valid_file`` caches its results (so a killed run resumes; the masks are
    then returned as None and read back from their files)."""
    from minewatch.detect.pools import pools_and_cores
    from minewatch.detect.vectorize import in_memory
    from minewatch.io.write import atomic_path

    if isinstance(scene, _Deferred):
        scene = scene.read()
    if layers_file is not None:
        layers_file.parent.mkdir(parents=True, exist_ok=True)
        _write_layers(scene, cfg, layers_file)
        if _is_dask(scene.data):  # read once: the pools are found in the layers just written
            scene = scene.copy(data=_layer_array(layers_file, 0, scene.sizes["band"]))
    cached = pools_file is not None and valid_file is not None
    with _TaskThreadScheduler():
        valid = in_memory(scene.notnull().all("band").data, bool)
        if cached:  # written and let go before detection: not held beside its arrays
            pools_file.parent.mkdir(parents=True, exist_ok=True)
            _write_bool_tif(valid, scene, valid_file)
            valid = None
        height, width = scene.sizes["y"], scene.sizes["x"]
        one_at_a_time = height * width >= _POOL_STEP_SERIAL_PIXELS
        with _POOL_STEP_LOCK if one_at_a_time else contextlib.nullcontext():
            pools, pixels = pools_and_cores(scene, cfg)
    if cached:
        _write_bool_tif(pixels, scene, _pixels_path(valid_file))
        pixels = None
        with atomic_path(pools_file) as tmp:  # last: its presence says the date is done
            pools.to_parquet(tmp)
    del scene
    _trim_memory()
    # with cache files, the masks are read back lazily (_valid_stack): the client does not
    # hold every date's masks
    return pools, valid, pixels


def _trim_memory() -> None:
    """Hand memory freed by a task back to the operating system.

    glibc keeps freed blocks in per-thread arenas; with a task per date running on threads,
    the process's resident memory grew by what each task had freed (to 17 GB for 12 dates of
    16 MP, for ~4 GB in use). ``malloc_trim(0)`` returns it, as dask.distributed's workers do
    (dask docs, "Memory not released back to the OS"). A no-op where there is no glibc.
    """
    global _LIBC
    if _LIBC is None:
        try:
            _LIBC = ctypes.CDLL("libc.so.6")
        except OSError:
            _LIBC = False
    if _LIBC:
        _LIBC.malloc_trim(0)


_LIBC: Any = None


def _run_tasks(tasks: list[Any], step: Any) -> list[Any]:
    """Compute ``tasks`` (dask.delayed) together, calling ``step()`` as each one finishes:
    on the active dask.distributed client when there is one, else dask's local scheduler."""
    import dask

    try:
        from dask.distributed import as_completed, get_client

        client = get_client()
    except (ImportError, ValueError):
        client = None
    if client is not None:
        futures = client.compute(tasks)
        for _ in as_completed(futures):
            step()
        return [f.result() for f in futures]
    from dask.callbacks import Callback

    keys = {task.key for task in tasks}

    def posttask(key: Any, result: Any, dsk: Any, state: Any, worker_id: Any) -> None:
        if key in keys:
            step()

    with Callback(posttask=posttask):
        return list(dask.compute(*tasks))


# Clearing detection at a date needs the vegetation and bare-soil indices of the dates of its
# window (ClearingConfig.window_dates each side) and the reflectance of that date. Computing
# them from the stack for every date's window reads and reprojects each scene up to
# 2 × window + 1 times and recomputes its indices as often, which made the run grow faster
# than the number of dates. Instead each date's reflectance and raw indices are written once,
# as one float32 .npy (band layers, then vegetation and bare index), by the task that detects
# its pools; the clearing tasks read the files of their window (memory-mapped, or in blocks
# on large grids). .npy and not GeoTIFF: these are private, uncompressed scratch arrays,
# never published.

#: Grids above this many pixels per date are handled by each task in blocks: dask arrays over
#: the layer files, computed in the task's own thread, so a task holds one block's temporaries
#: and grid-sized masks and labels, not date cubes of the whole grid (~19 bytes per pixel and
#: window date in memory otherwise: 4 GB for 16 MP and a 13-date window). Measured on
#: 12 generated dates of 2000² px (4 MP): whole grids 32.7 s and 6.7 GB peak, blocks 41.4 s
#: and 0.92 GB; at 1 MP whole grids peak at 1.75 GB. Above 1 MP, memory wins.
_BLOCK_MIN_PIXELS = 1_000_000
#: Block (rows, columns) of that path: 1 MP (smaller blocks: less held by tasks waiting on
#: their neighbours' overlap; 2048² blocks peaked 0.45 GB higher on a 16 MP pool task).
_BLOCK = (512, 2048)
#: Grids from which one process runs one pool step at a time (:data:`_POOL_STEP_LOCK`). A
#: pool step holds grid-sized arrays (evidence, mask, labels: ~1.7 GB above the process at
#: 120 MP); two at once on a full 10980² tile peaked at 4.18 GB for 12 dates (issue 8's
#: bound is 4 GB). The other thread meanwhile writes layers and finds clearings.
_POOL_STEP_SERIAL_PIXELS = 50_000_000
_POOL_STEP_LOCK = threading.Lock()


def _blocked(height: int, width: int) -> bool:
    return height * width > _BLOCK_MIN_PIXELS


def _sample_path(layers_file: Path) -> Path:
    """The strided sample of a layer file, beside it (``sample-<key>.npy``)."""
    return layers_file.with_name(layers_file.name.replace("layers-", "sample-", 1))


def _layers_written(layers_file: Path, cfg: DetectionConfig) -> bool:
    return layers_file.exists() and (not cfg.clearings.normalize_dates
                                     or _sample_path(layers_file).exists())


def _write_layers(scene: xr.DataArray, cfg: DetectionConfig, path: Path) -> None:
    """Write one date's layers: reflectance bands, raw vegetation and bare index as one
    float32 ``.npy`` (layer, y, x), and the strided sample of the per-date shifts
    (:func:`~minewatch.detect._clearing_pixels.shift_sample`) beside it. A dask-backed
    ``scene`` is read and written chunk by chunk, each chunk read once."""
    from minewatch.detect._clearing_pixels import chunk_layers, empty_sample, put_sample
    from minewatch.io.write import atomic_path

    nb, height, width = scene.shape
    lazy = _is_dask(scene.data)
    edges_y = np.cumsum((0, *scene.data.chunks[1])) if lazy else np.array([0, height])
    edges_x = np.cumsum((0, *scene.data.chunks[2])) if lazy else np.array([0, width])
    sample = None
    if cfg.clearings.normalize_dates:
        sample = empty_sample(height, width, cfg.clearings)
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype("<f4")), "fortran_order": False,
              "shape": (nb + 2, height, width)}
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.lib.format.write_array_header_1_0(fh, header)
        start = fh.tell()
        for (r0, r1), (c0, c1) in itertools.product(itertools.pairwise(edges_y),
                                                    itertools.pairwise(edges_x)):
            part = scene.isel(y=slice(r0, r1), x=slice(c0, c1))
            if lazy:
                part = part.compute(scheduler="synchronous")
            veg, bare, part_sample = chunk_layers(part, r0, c0, cfg.clearings)
            layers = (*np.asarray(part.values, np.float32), veg, bare)
            for k, layer in enumerate(layers):
                # np.save's layout (C order, layer-major) written a chunk at a time: np.save
                # needs the whole array in memory
                block = np.ascontiguousarray(layer, "<f4")
                if c0 == 0 and c1 == width:  # whole rows: one write
                    fh.seek(start + (k * height + r0) * width * 4)
                    fh.write(block.tobytes())
                    continue
                for i in range(r1 - r0):
                    fh.seek(start + ((k * height + r0 + i) * width + c0) * 4)
                    fh.write(block[i].tobytes())
            if sample is not None:
                put_sample(sample, part_sample, r0, c0, cfg.clearings)
            del part, veg, bare, layers, part_sample
    if sample is not None:
        with atomic_path(_sample_path(path)) as tmp, open(tmp, "wb") as fh:
            np.save(fh, sample)


class _LayerRows:
    """Layers ``first`` to ``stop`` of a layer file as an array dask can slice. Each block is
    copied out of a memory map of its rows that is closed at once: a task's resident memory
    holds its blocks, not the pages of every file it has read (which a memory map of the
    whole file keeps mapped until it is closed), and only the columns asked for are read."""

    def __init__(self, path: Path, first: int, stop: int) -> None:
        with open(path, "rb") as fh:
            version = np.lib.format.read_magic(fh)
            read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                    else np.lib.format.read_array_header_2_0)
            shape, _, dtype = read(fh)
            self.offset = fh.tell()
        self.path, self.first = path, first
        self.shape = (stop - first, *shape[1:])
        self.dtype, self.ndim = np.dtype(dtype), 3

    def __getitem__(self, key: tuple[slice | int, slice, slice]) -> np.ndarray:
        layers, rows, cols = key
        _, height, width = self.shape
        r0, r1, _ = rows.indices(height)
        c0, c1, _ = cols.indices(width)
        if isinstance(layers, (int, np.integer)):  # one layer: 2-D (dask fuses [k] into reads)
            return self[slice(int(layers), int(layers) + 1), rows, cols][0]
        out = []
        for k in range(*layers.indices(self.shape[0])):
            rows_map = np.memmap(self.path, self.dtype, "r", shape=(r1 - r0, width),
                                 offset=self.offset + ((self.first + k) * height + r0)
                                 * width * self.dtype.itemsize)
            out.append(np.array(rows_map[:, c0:c1]))
            del rows_map  # unmapped: its pages leave the task's resident memory
        return np.stack(out)


def _layer_array(path: Path, first: int, stop: int | None = None) -> Any:
    """Layers ``first`` … ``stop - 1`` (default: ``first`` alone, 2-D) of a layer file as a
    dask array in blocks of :data:`_BLOCK`, every layer of a block read by one task."""
    import dask.array as da

    reader = _LayerRows(path, first, first + 1 if stop is None else stop)
    chunks = (reader.shape[0], *(min(b, n) for b, n in zip(_BLOCK, reader.shape[1:],
                                                              strict=True)))
    out = da.from_array(reader, chunks=chunks, lock=False, asarray=False,
                        name=f"layers-{_key(str(path), first, stop)}",
                        meta=np.empty((0, 0, 0), "<f4"))
    return out[0] if stop is None else out


class _TaskThreadScheduler:
    """dask computations inside a task run in the task's own thread.

    The detection code computes and persists dask arrays itself; inside a task they must not
    start a second thread pool (memory: one more block per thread) nor reach a cluster from a
    worker. ``dask.config`` is process-wide, so the tasks running at once in a process share
    one setting, kept while any of them runs."""

    _lock = threading.Lock()
    _depth = 0
    _setting: Any = None

    def __enter__(self) -> None:
        import dask

        with self._lock:
            if _TaskThreadScheduler._depth == 0:
                _TaskThreadScheduler._setting = dask.config.set(scheduler="synchronous")
            _TaskThreadScheduler._depth += 1

    def __exit__(self, *exc: Any) -> None:
        with self._lock:
            _TaskThreadScheduler._depth -= 1
            if _TaskThreadScheduler._depth == 0:
                _TaskThreadScheduler._setting.__exit__(None, None, None)


def _grid_info(stack: xr.DataArray, times: np.ndarray) -> dict[str, Any]:
    """What a task working from layer files needs to know of the grid: band names,
    coordinates, CRS, transform and the dates of its window (``times``)."""
    return {"bands": [str(b) for b in stack["band"].values], "y": stack["y"].values,
            "x": stack["x"].values, "crs": stack.rio.crs, "transform": stack.rio.transform(),
            "window": times}


def _window_medians(files: Sequence[Path], cfg: DetectionConfig) -> np.ndarray | None:
    """The stable-vegetation medians (4, time) of the strided samples of the dates of
    ``files``, as ``sample_medians`` of their stack's sample gives them, read a date at a
    time (a window's samples together: 1 byte per pixel and date at the default stride,
    held twice while joined); None when dates are not normalised."""
    from minewatch.detect._clearing_pixels import sample_medians

    if not cfg.clearings.normalize_dates:
        return None
    return np.concatenate([sample_medians(np.load(_sample_path(f)), cfg.clearings)
                           for f in files], axis=1)


def _indices_from_files(files: Sequence[Path], t: int, grid: dict[str, Any],
                        cfg: DetectionConfig) -> Any:
    """:class:`~minewatch.detect._clearing_pixels.Indices` of the dates of ``files`` (layers of
    :func:`_write_layers`), with the reflectance of date ``t``; and the (time, y, x) template
    carrying their dates, grid and CRS. In memory, or, on a grid of more than
    :data:`_BLOCK_MIN_PIXELS`, dask-backed in blocks read from the files (same values)."""
    from minewatch.detect._clearing_pixels import indices_from_layers

    bands = grid["bands"]
    nb = len(bands)
    coords = {"time": grid["window"], "y": grid["y"], "x": grid["x"]}
    blocked = _blocked(len(grid["y"]), len(grid["x"]))
    arrays = ([None] * len(files) if blocked
              else [np.load(f, mmap_mode="r") for f in files])

    def layer(i: int, k: int) -> Any:
        return _layer_array(files[i], k) if blocked else arrays[i][k]

    def georef(out: xr.DataArray) -> xr.DataArray:
        # in place: rio.write_* otherwise deep-copies the array
        return out.rio.write_crs(grid["crs"], inplace=True).rio.write_transform(
            grid["transform"], inplace=True)

    def cube(k: int) -> xr.DataArray:
        if blocked:
            import dask.array as da

            data = da.stack([layer(i, k) for i in range(len(files))])
        else:
            data = np.stack([layer(i, k) for i in range(len(files))])
        return georef(xr.DataArray(data, dims=("time", "y", "x"), coords=coords))

    veg, bare = cube(nb), cube(nb + 1)
    medians = _window_medians(files, cfg)
    if blocked:
        one = _layer_array(files[t], 0, nb)
    else:
        one = np.asarray(arrays[t][:nb])
    one = georef(xr.DataArray(one, dims=("band", "y", "x"),
                              coords={"band": bands, "y": grid["y"], "x": grid["x"]}))
    return indices_from_layers(veg, bare, medians, one, t, cfg.clearings), veg


def _written(result: Any) -> bool:
    """A small stand-in for a pool task's result: the clearing tasks only wait for it."""
    return True


def _clearings_task(files: Sequence[Path], t: int, grid: dict[str, Any], cfg: DetectionConfig,
                    pools: tuple[gpd.GeoDataFrame, ...], clear_file: Path | None,
                    after: list[bool]) -> gpd.GeoDataFrame:
    """One date's clearings from the layer files (after the pool tasks ``after`` wrote them);
    cached in ``clear_file``."""
    from minewatch.io.write import atomic_path

    clearings = _clearings_from_files(files, t, grid, cfg, pools[0])
    if clear_file is not None:
        with atomic_path(clear_file) as tmp:
            clearings.to_parquet(tmp)
    _trim_memory()
    return clearings


def _clearings_from_files(files: Sequence[Path], t: int, grid: dict[str, Any],
                          cfg: DetectionConfig, pools: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Clearings of the date ``t`` of the window ``files`` (one task; same result as
    :func:`~minewatch.detect.detect_clearings` on the stack, tested)."""
    from minewatch.detect.clearings import clearings_at

    ix, template = _indices_from_files(files, t, grid, cfg)
    with _TaskThreadScheduler():
        return clearings_at(template, t, cfg.clearings, pools, ix)


def _detect_dates(stack: xr.DataArray, cfg: DetectionConfig, cache: Path | None,
                  progress: bool, scratch: Path | None = None
                  ) -> tuple[list[gpd.GeoDataFrame], list[gpd.GeoDataFrame], Any, Any,
                             list[str], list[Path] | None]:
    """Pools, clearings, valid masks and pool-pixel masks per date (the masks as (time, y, x)
    arrays, lazy where cached), the dates computed, the layer files; reuses ``cache``
    entries with the same key.

    One dask graph: a task per date not cached detects its pools and valid mask (it reads its
    own date, so memory holds only the dates of the running tasks; on the cluster's workers
    when a ``dask.distributed`` client is active). It also writes the date's layers
    (``layers-*.npy`` and ``sample-*.npy``, in ``cache`` or else in ``scratch``), and a task
    per date computes its clearings from the layer files of its window as soon as those are
    written; the files are returned. Each task caches what it made in ``cache``, so a killed
    run resumes where it stopped. On grids of more than :data:`_BLOCK_MIN_PIXELS` pixels the
    tasks work in blocks (:func:`_indices_from_files`), so their memory does not grow with
    the grid's area times its dates.
    """
    import dask

    from minewatch.detect import detect_clearings
    from minewatch.io.write import atomic_path

    times = [pd.Timestamp(t) for t in stack["time"].values]
    ids = [str(v) for v in stack["scene_id"].values]
    grid = [str(stack.rio.crs), list(stack.rio.transform())[:6], stack.sizes["y"],
            stack.sizes["x"]]
    config = _detection_settings(cfg)
    # Clearings use the dates within ClearingConfig.window_dates before (baseline) and after
    # (regrowth) theirs, so their key holds those dates: a new date at the end recomputes only
    # the clearings of the last `window` dates. Pools and valid masks depend on their own date.
    window = cfg.clearings.window_dates
    dated = list(zip(map(_day, times), ids, strict=True))
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=2 * len(times), desc="detect", unit="step")

    from_files = len(times) >= 2 and (cache is not None or scratch is not None)
    layer_files: list[Path] = []
    if from_files:
        for t in range(len(times)):
            key = _key(_CACHE_VERSION, "layers", config, grid, dated[t])[:16]
            layer_files.append((cache if cache is not None else scratch) / dated[t][0]
                               / f"layers-{key}.npy")

    def window_of(t: int) -> range:
        if window <= 0:
            return range(len(times))
        return range(max(0, t - window), min(len(times), t + window + 1))

    def files(t: int) -> tuple[Path | None, Path | None, Path | None]:
        """Cache files of date ``t``: pools, valid mask (the pool-pixel mask beside it,
        :func:`_pixels_path`), clearings."""
        if cache is None:
            return None, None, None
        day = dated[t][0]
        pool_key = _key(_CACHE_VERSION, "pools", config, grid, day, dated[t][1])[:16]
        w = window_of(t)
        clear_key = _key(_CACHE_VERSION, "clearings", config, grid, dated[w.start:w.stop],
                         day)[:16]
        folder = cache / day
        return (folder / f"pools-{pool_key}.parquet", folder / f"valid-{pool_key}.tif",
                folder / f"clearings-{clear_key}.parquet")

    def step() -> None:
        if bar is not None:
            bar.update(1)

    # ---- what is cached: clearings first (they say which dates' layers are still needed)
    clearings_by_t: dict[int, gpd.GeoDataFrame | None] = {0: None}  # none on the first date:
    # no earlier baseline (see _first_date_clearings)
    missing = []
    for t in range(1, len(times)):
        _, _, clear_file = files(t)
        if clear_file is not None and clear_file.exists():
            clearings_by_t[t] = gpd.read_parquet(clear_file)
            step()
        else:
            missing.append(t)
    needed = {k for t in missing for k in window_of(t)} if from_files else set()
    pools_by_t: dict[int, gpd.GeoDataFrame] = {}
    valid_by_t: dict[int, np.ndarray | None] = {}
    pixels_by_t: dict[int, np.ndarray | None] = {}
    todo = []
    for t in range(len(times)):
        pools_file, valid_file, _ = files(t)
        if (pools_file is not None and pools_file.exists() and valid_file.exists()
                and _pixels_path(valid_file).exists()
                and (t not in needed or _layers_written(layer_files[t], cfg))):
            pools_by_t[t] = gpd.read_parquet(pools_file)
            valid_by_t[t] = None  # read lazily from valid_file (_valid_stack)
            pixels_by_t[t] = None
            step()
        else:
            todo.append(t)

    # One graph: a task per date for pools, valid mask and layers (each reads its own date),
    # then a task per date for clearings, after the pool tasks of its window. Every task
    # caches what it made, so a killed run resumes where it stopped.
    pool_tasks = {}
    for t in todo:
        pools_file, valid_file, _ = files(t)
        pool_tasks[t] = dask.delayed(_pools_and_valid, pure=False)(
            _Deferred(stack.isel(time=t)), cfg, layer_files[t] if t in needed else None,
            pools_file, valid_file)
    clear_tasks = {}
    if from_files:
        for t in missing:
            lo, hi = window_of(t).start, window_of(t).stop
            info = _grid_info(stack, stack["time"].values[lo:hi])
            pools = pool_tasks[t] if t in pool_tasks else (pools_by_t[t], None)
            after = [dask.delayed(_written, pure=False)(pool_tasks[k])
                     for k in range(lo, hi) if k in pool_tasks]
            clear_tasks[t] = dask.delayed(_clearings_task, pure=False)(
                layer_files[lo:hi], t - lo, info, cfg, pools, files(t)[2], after)
    order = [*pool_tasks, *(("c", t) for t in clear_tasks)]
    results = _run_tasks([*pool_tasks.values(), *clear_tasks.values()], step)
    for what, result in zip(order, results, strict=True):
        if isinstance(what, tuple):
            clearings_by_t[what[1]] = result
        else:
            pools_by_t[what], valid_by_t[what], pixels_by_t[what] = result
    for t in missing:
        if t not in clearings_by_t:  # no folder for layer files: on the dask stack
            clearings = detect_clearings(stack, cfg.clearings, date=t, pools=pools_by_t[t])
            clear_file = files(t)[2]
            if clear_file is not None:
                with atomic_path(clear_file) as tmp:
                    clearings.to_parquet(tmp)
            clearings_by_t[t] = clearings
            step()
    step()  # the first date's clearing step

    pools_out, clear_out = [], []
    for t, when in enumerate(times):
        pools_out.append(pools_by_t[t].assign(date=when.normalize()))
        if clearings_by_t[t] is not None:
            clear_out.append(clearings_by_t[t].assign(date=when.normalize()))
    if bar is not None:
        bar.close()
    done = [dated[t][0] for t in todo]
    shape = (stack.sizes["y"], stack.sizes["x"])
    valid = _valid_stack([valid_by_t[t] for t in range(len(times))],
                         [files(t)[1] for t in range(len(times))], shape)
    pixels = _valid_stack([pixels_by_t[t] for t in range(len(times))],
                          [None if files(t)[1] is None else _pixels_path(files(t)[1])
                           for t in range(len(times))], shape)
    return (pools_out, clear_out, valid, pixels, done,
            layer_files if from_files else None)


def _valid_stack(masks: list[np.ndarray | None], paths: list[Path | None],
                 shape: tuple[int, int]) -> Any:
    """(time, y, x) bool masks (valid, or pool pixels): in memory where a task returned one,
    else read from its cache file when asked (dask, one chunk per date): the masks of a long
    archive on a large grid (1 byte per pixel and date) are not all held by the client, whose
    consumers (sites, time series, change maps) read them date by date."""
    if all(m is not None for m in masks):
        return np.stack(masks)
    import dask
    import dask.array as da

    read = dask.delayed(_read_bool_tif, pure=True)
    return da.stack([da.from_array(m, chunks=-1, name=False) if m is not None
                     else da.from_delayed(read(p), shape, dtype=bool)
                     for m, p in zip(masks, paths, strict=True)])


def _first_date_clearings(clearings: gpd.GeoDataFrame, first_seen: xr.DataArray,
                          first: pd.Timestamp, cfg: DetectionConfig) -> gpd.GeoDataFrame:
    """Clearings of the first date, which ``detect_clearings`` cannot map (no earlier baseline).

    The land of a later date's clearing whose pixels were already seen cleared on the first
    date (``first_bare_date``) was a clearing then too; bare land that never becomes part of a
    detected clearing (rivers, roads, villages) is not taken. Pieces smaller than the minimum
    mapping unit are dropped. Rows get ``inferred=True``.
    """
    from rasterio.features import rasterize, shapes

    later = clearings[clearings["date"] > first]
    if later.empty:
        return later.iloc[0:0]
    shape = first_seen.shape
    transform = first_seen.rio.transform()
    # label each pixel with the first later clearing covering it (its kind is kept)
    order = later.sort_values("date", kind="stable").reset_index(drop=True)
    # rasterize paints later rows over earlier ones: paint in reverse so the earliest wins
    owner = rasterize(((g, i + 1) for i, g in reversed(list(enumerate(order.geometry)))
                       if g is not None), out_shape=shape, transform=transform, fill=0,
                      dtype="int32")
    seen_then = (first_seen.data.astype("datetime64[D]")
                 == np.datetime64(first.date(), "D"))
    if _is_dask(seen_then):  # a block at a time, here (the index lives in this process)
        seen_then = seen_then.compute(scheduler="threads")
    seen_then = np.asarray(seen_then)
    owner = np.where(seen_then, owner, 0).astype("int32")
    rows = []
    for geom, value in shapes(owner, mask=owner > 0, transform=transform, connectivity=8):
        polygon = shapely.geometry.shape(geom)
        if polygon.area < cfg.clearings.min_area_m2:
            continue
        source = order.iloc[int(value) - 1]
        rows.append({"date": first, "kind": source.get("kind", "unknown"),
                     "first_seen": first, "area_m2": float(polygon.area),
                     "inferred": True, "geometry": polygon})
    if not rows:
        return later.iloc[0:0]
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=clearings.crs)


def _first_seen(stack: xr.DataArray, cfg: DetectionConfig, cache: Path | None,
                layer_files: list[Path] | None = None) -> xr.DataArray:
    """Per-pixel first date seen cleared over the series (for the first date's change map);
    from the dates' layer files when given (the same values as ``first_bare_date(stack)``).

    Held as the index of the date (int16, 2 bytes a pixel); the dates (datetime64, 8 bytes a
    pixel) are a dask array made from it a block of :data:`_BLOCK` at a time."""

    from minewatch.detect import first_bare_date
    from minewatch.detect._clearing_pixels import first_cleared_index
    from minewatch.detect.vectorize import dask_view, in_memory

    times = stack["time"].values.astype("datetime64[ns]")
    like = stack.isel(time=0, band=0, drop=True)
    key = _key(_CACHE_VERSION, "first_seen", _detection_settings(cfg),
               [str(v) for v in stack["scene_id"].values], list(map(str, times)),
               str(stack.rio.crs), list(stack.rio.transform())[:6])[:16]
    path = cache / f"first_seen-{key}.tif" if cache is not None else None
    if path is not None and path.exists():
        with rasterio.open(path) as src:
            index = src.read(1).astype(np.int16, copy=False)
    else:
        if layer_files is not None and all(_layers_written(f, cfg) for f in layer_files):
            info = _grid_info(stack, stack["time"].values)
            ix, _ = _indices_from_files(layer_files, 0, info, cfg)
            with _TaskThreadScheduler():
                index = in_memory(first_cleared_index(ix, cfg.clearings).data, np.int16)
        else:
            first = first_bare_date(stack, cfg.clearings)
            values = first.values.astype("datetime64[ns]")
            index = np.full(values.shape, -1, dtype=np.int16)
            for i, when in enumerate(times):
                index[values == when] = i
        if path is not None:
            from minewatch.io.write import atomic_path

            profile = {"driver": "GTiff", "width": index.shape[1], "height": index.shape[0],
                       "count": 1, "dtype": "int16", "crs": stack.rio.crs,
                       "transform": stack.rio.transform(), "compress": "deflate"}
            with atomic_path(path) as tmp, rasterio.open(tmp, "w", **profile) as dst:
                dst.write(index, 1)

    def dates(block: np.ndarray) -> np.ndarray:
        return np.where(block >= 0, times[np.clip(block, 0, None)],
                        np.datetime64("NaT", "ns"))

    chunks = tuple(min(b, n) for b, n in zip(_BLOCK, index.shape, strict=True))
    values = dask_view(index, chunks).map_blocks(
        dates, dtype="datetime64[ns]", meta=np.array((), "datetime64[ns]"))
    out = like.copy(data=values)
    out.name = "first_seen"
    return out.rio.write_crs(stack.rio.crs, inplace=True)


# --------------------------------------------------------------------------------------------
# analyze
# --------------------------------------------------------------------------------------------

def analyze(
    archive: PathLike_ | gpd.GeoDataFrame,
    aoi: Any = None,
    out_dir: PathLike_ | None = None,
    config: DetectionConfig | Mapping[str, Any] | PathLike_ | None = None,
    regions: gpd.GeoDataFrame | PathLike_ | None = None,
    *,
    sensor: str | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    overwrite: bool = False,
    progress: bool = False,
    chunks: int = 2048,
    report: bool = True,
    events: Any = None,
    keep_layers: bool = True,
) -> Analysis:
    """Run the whole analysis of an archive and write the output layout.

    ingest (:func:`~minewatch.scan_archive`, :func:`~minewatch.load_stack`) → pools and
    clearings per date (:func:`~minewatch.detect_pools`, :func:`~minewatch.detect_clearings`)
    → sites tracked over the dates (:func:`~minewatch.track_sites`) → change maps
    (:func:`~minewatch.change_map`) → time series (:func:`~minewatch.site_timeseries`).

    Parameters
    ----------
    archive
        A folder of scenes, a STAC catalog / ItemCollection file, or the table returned by
        :func:`~minewatch.scan_archive`.
    aoi
        Area of interest (vector file, GeoDataFrame, or lon/lat shapely geometry). ``None``:
        the union of the analysed scenes' footprints.
    out_dir
        Where to write the layout; ``None`` keeps everything in memory.
    config
        :class:`~minewatch.DetectionConfig`, a dict of settings, or a TOML file; default: the
        preset of the analysed sensor.
    regions
        Polygons (any file GeoPandas reads, any CRS) to count per region, e.g. townships.
    sensor
        Which sensor to analyse when the archive holds several (one grid, one radiometry);
        default: the one with the most dates. The other sensors' scenes are listed in
        ``scenes.csv`` as skipped, with the reason.
    workers, scheduler
        Run on a ``dask.distributed.LocalCluster`` of ``workers`` processes, or on an existing
        cluster at ``scheduler`` (``"tcp://host:8786"``); default: dask's local threads.
    overwrite
        Replace an existing, non-empty ``out_dir`` that is not a minewatch output folder.
    progress
        Show progress bars.
    chunks
        Dask chunk size (pixels) of the reflectance stack.
    report
        With ``out_dir``: also write the maps and plots (``figures/``), the one-file
        ``report.html`` and the ``webmap.html`` (:func:`minewatch.plot.write_figures`,
        :func:`minewatch.report`, :func:`minewatch.web_map`).
    events
        Dated events to mark on the time series and list in the report, e.g.
        ``[("2024-10-01", "KIO takes control of the mining area")]``.
    keep_layers
        With ``out_dir``: keep each date's layer file in ``cache/`` (reflectance and raw
        indices, 32 bytes per pixel and date for Sentinel-2: ~4 GB per full-tile date), so
        that a run with a new date reads only the new date's imagery. ``False`` deletes them
        once the outputs are written: the cache keeps only the per-date results (pools, valid
        masks, clearings, first-seen index), a rerun of the same archive is as quick and gives
        the same files, and a run with a new date reads the imagery of the dates around it
        again (same outputs, more time).

    Returns
    -------
    Analysis

    Raises
    ------
    EmptyArchiveError
        No usable scene (the message lists what was skipped).
    InputError
        Duplicate scenes, unknown ``sensor``, an ``out_dir`` that holds other files.

    Examples
    --------
    >>> import tempfile, minewatch
    >>> from minewatch.synth import make_archive
    >>> work = tempfile.mkdtemp()
    >>> _ = make_archive(f"{work}/archive", seed=1, shape=(60, 60),
    ...                  dates=("2021-02-28", "2022-02-27"), clouds=False)
    >>> result = minewatch.analyze(f"{work}/archive", out_dir=f"{work}/out", report=False)
    >>> list(result.timeseries.columns[:6])
    ['date', 'sites', 'pools', 'cleared_area_m2', 'new_sites', 'valid_fraction']
    >>> [f"{d:%Y-%m-%d}" for d in result.dates]
    ['2021-02-28', '2022-02-27']
    """
    from minewatch.io import load_stack, scan_archive

    started = time.perf_counter()
    timings: dict[str, float] = {}
    notes: list[str] = []
    out = Path(out_dir) if out_dir is not None else None
    if out is not None:
        _prepare_out_dir(out, overwrite)

    # ---------------------------------------------------------------- ingest
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", MinewatchWarning)
        if isinstance(archive, gpd.GeoDataFrame):
            scenes = archive
            archive_path = None
        else:
            archive_path = Path(archive)
            scenes = scan_archive(archive_path)
    scan_skipped = list(scenes.attrs.get("skipped", []))
    if scenes.empty:
        raise EmptyArchiveError(f"No usable scene in {archive}.")
    _check_duplicates(scenes)
    chosen = _select_sensor(scenes, sensor)
    used = scenes[scenes["sensor"] == chosen].sort_values("date", kind="stable")
    cfg = _resolve_config(config, chosen, used)
    cache = out / "cache" if out is not None else None
    unreadable: dict[str, str] = {}
    # without an out_dir, the dates' layers for clearing detection go to a scratch folder
    scratch = tempfile.TemporaryDirectory(prefix="minewatch-layers-")

    with scratch, _dask_client(workers, scheduler):
        # A corrupt scene is dropped (its reason goes to scenes.csv) and the run goes on.
        while True:
            todo = used[~used["scene_id"].isin(list(unreadable))]
            if todo.empty:
                raise EmptyArchiveError(f"No readable {chosen} scene in {archive}: "
                                        + "; ".join(f"{k}: {v}" for k, v in unreadable.items()))
            try:
                with warnings.catch_warnings(record=True) as caught_stack:
                    warnings.simplefilter("always", MinewatchWarning)
                    # verify=False: a broken file is found by the task that reads it
                    # (below), not by an extra read of every band here
                    stack = load_stack(todo, aoi, chunks=chunks, verify=False)
                if stack.sizes["time"] == 0:
                    raise EmptyArchiveError(f"Every {chosen} scene of {archive} is empty over "
                                            "the AOI (all clouded or no data).")
                timings["ingest_s"] = time.perf_counter() - t0
                # ------------------------------------------------------------ detect
                t0 = time.perf_counter()
                pools_list, clear_list, valid_np, pixels_np, computed, layer_files = _detect_dates(
                    stack, cfg, cache, progress, scratch=Path(scratch.name))
                break
            except MinewatchError as err:
                bad = _bad_scene(err, todo)
                if bad is None:
                    raise
                unreadable[bad] = str(err)
            except Exception as err:  # a raw GDAL error from a dask task: find the file
                from minewatch.io.stack import _unreadable

                found = _unreadable(list(todo["scene"]))
                if found is None:
                    raise
                href, bad, why = found
                unreadable[bad] = f"{href}: pixels could not be read ({why})"
                del err
        empty_ids = {sid for msg in caught_stack if issubclass(msg.category, EmptySceneWarning)
                     for sid in todo["scene_id"] if sid in str(msg.message)}
        outside_ids = {sid for msg in caught_stack
                       if "do not overlap the AOI" in str(msg.message)
                       for sid in todo["scene_id"] if sid in str(msg.message)}
        sparse = {sid: str(msg.message) for msg in caught_stack
                  if issubclass(msg.category, SparseSceneWarning)
                  for sid in todo["scene_id"] if sid in str(msg.message)}
        for msg in [*caught, *caught_stack]:
            if not issubclass(msg.category, MinewatchWarning):
                warnings.warn_explicit(msg.message, msg.category, msg.filename, msg.lineno)
        table = _scene_table(scenes, chosen, set(map(str, stack["scene_id"].values)),
                             empty_ids, outside_ids, scan_skipped, unreadable, sparse)
        if unreadable:
            notes.append(f"{len(unreadable)} unreadable scene(s) skipped: "
                         + ", ".join(sorted(unreadable)) + " (reasons in scenes.csv).")
        timings["detect_s"] = time.perf_counter() - t0
        times = stack["time"].values.astype("datetime64[ns]")
        days = pd.DatetimeIndex(times).normalize()
        valid = xr.DataArray(valid_np, dims=("time", "y", "x"),
                             coords={"time": days, "y": stack["y"].values,
                                     "x": stack["x"].values}, name="valid")
        # in place: rio.write_* deep-copies an array (masks in memory: 1 byte a pixel a date,
        # held twice)
        valid.rio.write_crs(stack.rio.crs, inplace=True).rio.write_transform(
            stack.rio.transform(), inplace=True)
        pool_pixels = valid.copy(data=pixels_np).rename("pool_pixels")
        crs = stack.rio.crs
        pools = pd.concat(pools_list, ignore_index=True) if pools_list else None
        pools = gpd.GeoDataFrame(pools, geometry="geometry", crs=crs)
        if clear_list:
            clearings = gpd.GeoDataFrame(pd.concat(clear_list, ignore_index=True),
                                         geometry="geometry", crs=crs)
        else:
            clearings = _empty_like(None, crs, ["date", "area_m2", "kind"])
            clearings["date"] = pd.Series(dtype="datetime64[ns]")
        first_seen = None
        if len(days) >= 2:
            _trim_memory()  # what the detection tasks freed (glibc keeps it otherwise)
            first_seen = _first_seen(stack, cfg, cache, layer_files)
            _trim_memory()
            inferred = _first_date_clearings(clearings, first_seen, days[0], cfg)
            if len(inferred):
                clearings = gpd.GeoDataFrame(pd.concat([inferred, clearings], ignore_index=True),
                                             geometry="geometry", crs=crs)
        notes.append(f"{len(computed)} of {len(days)} dates detected in this run"
                     + (f" ({len(days) - len(computed)} from the cache)"
                        if len(computed) < len(days) else "") + ".")

        # ------------------------------------------------------------ sites
        from minewatch.sites import track_sites

        t0 = time.perf_counter()
        tracks = track_sites(pools, clearings, valid=valid, config=cfg.sites,
                             regions=regions, dates=list(days))
        timings["sites_s"] = time.perf_counter() - t0

        # ------------------------------------------------------------ time series
        from minewatch.timeseries import site_timeseries

        t0 = time.perf_counter()
        series = site_timeseries(tracks, valid=valid)
        by_region = (site_timeseries(tracks, valid=valid, regions=regions)
                     if regions is not None else None)
        timings["timeseries_s"] = time.perf_counter() - t0

        # ------------------------------------------------------------ write
        # (inside the client's block: the change maps are tasks on its workers)
        result_files: list[Path] = []
        if out is not None:
            t0 = time.perf_counter()
            with _pinned_gpkg_date():
                result_files += _write_layout(out, tracks, series, table, valid, stack,
                                              first_seen, pool_pixels)
                if by_region is not None:
                    result_files.append(_write_csv(by_region,
                                                   out / "timeseries_regions.csv"))
            timings["write_s"] = time.perf_counter() - t0
        if cache is not None and not keep_layers and layer_files is not None:
            _drop_layers(layer_files)
        _trim_memory()  # what the output stage freed, before the figures are drawn
    if len(days) < 2:
        notes.append(f"Only one date ({_day(days[0])}): sites and counts, but no change map "
                     "(it needs two dates).")
    if out is not None:
        timings["total_s"] = time.perf_counter() - started
        _write_manifest(out, archive_path, aoi, used, table, cfg, stack, timings, result_files,
                        notes)
        if report:  # figures and report read the manifest (credits, provenance): after it
            t0 = time.perf_counter()
            result_files += _publish(out, events)
            timings["report_s"] = time.perf_counter() - t0
        timings["total_s"] = time.perf_counter() - started
        manifest = _write_manifest(out, archive_path, aoi, used, table, cfg, stack, timings,
                                   result_files, notes)
        result_files.append(manifest)
    timings["total_s"] = time.perf_counter() - started
    return Analysis(scenes=table, pools=tracks.pools, clearings=tracks.clearings,
                    sites=tracks.sites, history=tracks.history, events=tracks.events,
                    timeseries=series, timeseries_regions=by_region, valid=valid,
                    config=cfg, out_dir=out, files=tuple(result_files), notes=tuple(notes))


def _drop_layers(layer_files: Sequence[Path]) -> None:
    """Delete the dates' layer files and their samples (``analyze(keep_layers=False)``):
    every result made from them is cached beside them, and a later run that needs a date's
    layers again writes them again from the imagery (:func:`_detect_dates`)."""
    for path in layer_files:
        for f in (path, _sample_path(path)):
            f.unlink(missing_ok=True)


def _prepare_out_dir(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise InputError(f"out_dir {out} exists and is not a folder.")
    if out.is_dir() and any(out.iterdir()):
        ours = (out / "manifest.json").exists() or (out / "cache").is_dir()
        if not ours and not overwrite:
            raise InputError(f"out_dir {out} is not empty and holds no minewatch output; pick "
                             "an empty folder or pass overwrite=True (--overwrite).")
    out.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(out)


#: Names of atomic_path's temporary files: ".<stem>.<8 random chars><suffix>".
_TEMPORARY = re.compile(r"^\.[^/]+\.[a-z0-9_]{8}(\.[A-Za-z0-9]+)?$")


def _remove_stale_temporaries(out: Path) -> None:
    """Delete temporary files a killed run left behind (atomic writes never renamed)."""
    for path in out.rglob(".*"):
        if path.is_file() and _TEMPORARY.match(path.name):
            with contextlib.suppress(OSError):
                path.unlink()


def _bad_scene(err: MinewatchError, scenes: gpd.GeoDataFrame) -> str | None:
    """The scene id a TileReadError names, when it names one of ``scenes``."""
    if not isinstance(err, TileReadError):
        return None
    message = str(err)
    named = [sid for sid in scenes["scene_id"] if str(sid) in message]
    if named:
        return str(max(named, key=len))
    for sid, paths in zip(scenes["scene_id"], scenes["paths"], strict=True):
        if any(p and p in message for p in str(paths).split(";")):
            return str(sid)
    return None


def _scene_table(scenes: gpd.GeoDataFrame, chosen: str, used_ids: set[str], empty: set[str],
                 outside: set[str], scan_skipped: list[tuple[str, str]],
                 unreadable: Mapping[str, str], sparse: Mapping[str, str]) -> pd.DataFrame:
    rows = []
    for _, s in scenes.iterrows():
        sid = str(s["scene_id"])
        if sid in unreadable:
            status, reason = "skipped", f"unreadable: {unreadable[sid]}"
        elif s["sensor"] != chosen:
            status, reason = "skipped", (f"sensor {s['sensor']} not analysed (this run: "
                                         f"{chosen}; pass sensor={s['sensor']!r})")
        elif sid in outside:
            status, reason = "skipped", "does not overlap the AOI"
        elif sid in empty:
            status, reason = "skipped", "no valid pixel over the AOI (all clouded or no data)"
        elif any(sid in u.split(",") for u in used_ids):
            status, reason = "used", ("few valid pixels over the AOI" if sid in sparse else "")
        else:
            status, reason = "skipped", "not loaded"
        rows.append({"scene_id": sid, "date": pd.Timestamp(s["date"]), "sensor": s["sensor"],
                     "resolution_m": s["resolution_m"], "cloud_fraction": s["cloud_fraction"],
                     "nodata_fraction": s["nodata_fraction"], "status": status,
                     "reason": reason, "paths": s["paths"]})
    for path, why in scan_skipped:
        rows.append({"scene_id": Path(str(path)).name, "date": pd.NaT, "sensor": "",
                     "resolution_m": np.nan, "cloud_fraction": np.nan,
                     "nodata_fraction": np.nan, "status": "skipped",
                     "reason": f"unreadable: {why}", "paths": str(path)})
    table = pd.DataFrame(rows)
    table["date"] = pd.to_datetime(table["date"])
    return table.sort_values(["date", "scene_id"], na_position="last", kind="stable"
                             ).reset_index(drop=True)


def _write_layout(out: Path, tracks: Any, series: pd.DataFrame, table: pd.DataFrame,
                  valid: xr.DataArray, stack: xr.DataArray, first_seen: xr.DataArray | None,
                  pool_pixels: xr.DataArray | None = None) -> list[Path]:
    import dask

    files: list[Path] = []
    scenes_out = table.copy()
    scenes_out["date"] = scenes_out["date"].dt.strftime("%Y-%m-%dT%H:%M:%S")
    files.append(_write_csv(scenes_out, out / "scenes.csv"))
    files.append(_write_gpkg(tracks.pools, out / "pools.gpkg", "pools"))
    files.append(_write_gpkg(tracks.clearings, out / "clearings.gpkg", "clearings"))
    files.append(_write_gpkg(tracks.sites, out / "sites.gpkg", "sites"))
    files.append(_write_csv(tracks.history, out / "site_history.csv"))
    files.append(_write_csv(tracks.events, out / "events.csv"))
    files.append(_write_csv(series, out / "timeseries.csv"))
    days = [pd.Timestamp(t) for t in valid["time"].values]
    # The rasters (true colour of the first and last dates, a change map per pair of dates)
    # are one task each: on the cluster's workers when a dask.distributed client is active
    # (they are most of this stage), else one after another here (one at a time in memory).
    tasks = [dask.delayed(_rgb_task, pure=False)(
        _Deferred(stack.isel(time=t)), out / "imagery" / f"{_day(days[t])}_rgb.tif")
        for t in sorted({0, len(days) - 1})]
    if len(days) >= 2:
        pairs = [(days[0], days[-1]), *itertools.pairwise(days)]
        # one key each, shared by the tasks (not a copy of the tables in every task)
        pools, clearings = dask.delayed(tracks.pools), dask.delayed(tracks.clearings)
        lazy_valid = _Deferred(valid)
        lazy_first = _Deferred(first_seen) if first_seen is not None else None
        lazy_pixels = _Deferred(pool_pixels) if pool_pixels is not None else None
        tasks += [dask.delayed(_change_task, pure=False)(
            pools, clearings, lazy_valid, lazy_first, before, after,
            out / "change" / f"{_day(before)}_{_day(after)}.tif", lazy_pixels)
            for before, after in dict.fromkeys(pairs)]
    for written in _run_output_tasks(tasks):
        files += written
    _remove_stale(out, files, ("change", "imagery"))
    return files


def _remove_stale(out: Path, written: Sequence[Path], folders: Sequence[str]) -> None:
    """Remove the files of ``folders`` that this run did not write (with GDAL's ``.aux.xml``
    beside them): what an earlier run wrote for dates that are no longer first or last, or
    no longer in the archive (e.g. the change map to a former last date), so these folders
    hold this run's outputs only, as ``manifest.json`` lists them."""
    keep = {Path(f).resolve() for f in written}
    for name in folders:
        folder = out / name
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            base = path.with_name(path.name.removesuffix(".aux.xml"))
            if path.is_file() and not {path.resolve(), base.resolve()} & keep:
                path.unlink()


def _on_worker() -> contextlib.AbstractContextManager[Any]:
    """:class:`_TaskThreadScheduler` in a task on a dask.distributed worker (no nested use of
    the cluster), nothing otherwise: run here, one after another, the output tasks' own dask
    computations keep dask's threads."""
    try:
        from distributed import get_worker

        get_worker()
    except (ImportError, ValueError):
        return contextlib.nullcontext()
    return _TaskThreadScheduler()


def _rgb_task(scene: _Deferred, path: Path) -> list[Path]:
    """Write one date's true-colour COG (a task of the output stage)."""
    with _on_worker():  # a block at a time when the stack is lazy
        return [_write_rgb(scene.value, path)]


def _change_task(pools: gpd.GeoDataFrame, clearings: gpd.GeoDataFrame, valid: _Deferred,
                 first_seen: _Deferred | None, before: pd.Timestamp, after: pd.Timestamp,
                 path: Path, pool_pixels: _Deferred | None = None) -> list[Path]:
    """Compute and write one change map, its polygons and its areas (a task of the output
    stage); returns the files to list in the manifest."""
    from minewatch.change import change_map, write_change

    with _on_worker(), _pinned_gpkg_date():  # (GDAL's settings are per process)
        change = change_map(pools, clearings, valid.value, before, after,
                            first_seen=None if first_seen is None else first_seen.value,
                            pool_pixels=None if pool_pixels is None else pool_pixels.value)
        tif, gpkg = write_change(change, path)
    # (the .tif.aux.xml side-car of category names is not listed: GDAL may rewrite it when
    # a GIS opens the map, which would fail verify for no real change)
    areas = tif.with_name(tif.stem + "_areas.csv")
    return [tif, gpkg, *([areas] if areas.exists() else [])]


def _run_output_tasks(tasks: list[Any]) -> list[Any]:
    """Results of the output stage's tasks, in order: on the active dask.distributed client
    (each worker writes its files), else one task after another in this thread."""
    import dask

    try:
        from dask.distributed import get_client

        get_client()
    except (ImportError, ValueError):
        # (the synchronous scheduler runs the task in this thread; the task's own
        # computations use dask's default scheduler, as before the stage had tasks)
        return [dask.compute(task, scheduler="synchronous")[0] for task in tasks]
    return _run_tasks(tasks, lambda: None)


def _publish(out: Path, events: Any) -> list[Path]:
    """Figures (PNG), the one-file HTML report and the web map of a written layout."""
    from minewatch.plot import write_figures
    from minewatch.report import report
    from minewatch.webmap import web_map

    files = [Path(p) for p in write_figures(out, events=events)]
    files.append(Path(report(out, events=events)))
    files.append(Path(web_map(out)))
    return files


def _write_manifest(out: Path, archive: Path | None, aoi: Any, used: gpd.GeoDataFrame,
                    table: pd.DataFrame, cfg: DetectionConfig, stack: xr.DataArray,
                    timings: dict[str, float], files: list[Path], notes: list[str]) -> Path:
    from minewatch import __version__
    from minewatch.io.write import atomic_path

    inputs = []
    base = archive.resolve() if archive is not None else None
    for path in _scene_files(used):
        rel = os.path.relpath(path, base) if base is not None else str(path)
        inputs.append({"path": rel, "sha256": _sha256(path), "bytes": path.stat().st_size})
    aoi_entry: Any = None
    if isinstance(aoi, str | PathLike) and Path(aoi).is_file():
        aoi_entry = {"path": str(Path(aoi).resolve()), "sha256": _sha256(Path(aoi))}
    elif aoi is not None:
        aoi_entry = getattr(aoi, "wkt", None) or type(aoi).__name__
    outputs = []
    for path in sorted(set(files)):
        outputs.append({"path": str(path.relative_to(out)), "sha256": _sha256(path),
                        "bytes": path.stat().st_size})
    manifest = {
        "minewatch_version": __version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "archive": str(base) if base is not None else None,
        "aoi": aoi_entry,
        "sensor": str(used["sensor"].iloc[0]),
        "resolution_m": float(abs(stack.rio.resolution()[0])),
        "crs": str(stack.rio.crs),
        "grid": {"width": int(stack.sizes["x"]), "height": int(stack.sizes["y"]),
                 "transform": list(stack.rio.transform())[:6]},
        "dates": [_day(t) for t in stack["time"].values],
        "scenes": {"used": int((table["status"] == "used").sum()),
                   "skipped": int((table["status"] == "skipped").sum()),
                   "skipped_reasons": {str(r["scene_id"]): str(r["reason"]) for _, r in
                                       table[table["status"] == "skipped"].iterrows()}},
        "inputs": inputs,
        "config": cfg.to_dict(),
        "versions": _versions(),
        "timings_s": {k: round(v, 3) for k, v in timings.items()},
        "notes": notes,
        "outputs": outputs,
    }
    path = out / "manifest.json"
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(manifest, indent=2, default=str) + "\n")
    return path


# --------------------------------------------------------------------------------------------
# verify
# --------------------------------------------------------------------------------------------

def verify(out_dir: PathLike_, archive: PathLike_ | None = None) -> list[str]:
    """Re-check an output folder against its ``manifest.json``.

    Every input file listed is hashed again and compared with its recorded sha256, and so is
    every output file, so a published number can be traced to unchanged scenes and settings.

    Parameters
    ----------
    out_dir
        A folder written by :func:`analyze`.
    archive
        Where the inputs are now, when the archive moved (default: the path in the manifest).

    Returns
    -------
    list of str
        One line per problem (missing or changed file); empty when everything matches.

    Raises
    ------
    InputError
        ``out_dir`` has no readable ``manifest.json``.

    Examples
    --------
    >>> import tempfile, minewatch
    >>> from minewatch.synth import make_archive
    >>> work = tempfile.mkdtemp()
    >>> _ = make_archive(f"{work}/archive", seed=1, shape=(60, 60),
    ...                  dates=("2021-02-28", "2022-02-27"), clouds=False)
    >>> _ = minewatch.analyze(f"{work}/archive", out_dir=f"{work}/out", report=False)
    >>> minewatch.verify(f"{work}/out")
    []
    """
    folder = Path(out_dir)
    path = folder / "manifest.json"
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError as err:
        raise InputError(f"{path}: no manifest.json; is {folder} a minewatch output folder?"
                         ) from err
    except (OSError, json.JSONDecodeError) as err:
        raise InputError(f"{path}: not a readable manifest ({err}).") from err
    base = Path(archive) if archive is not None else Path(manifest.get("archive") or ".")
    problems = []
    for kind, root, entries in (("input", base, manifest.get("inputs", [])),
                                ("output", folder, manifest.get("outputs", []))):
        for entry in entries:
            target = root / entry["path"]
            if not target.is_file():
                problems.append(f"{kind} missing: {target}")
            elif _sha256(target) != entry["sha256"]:
                problems.append(f"{kind} changed: {target} (sha256 differs from the manifest)")
    return problems
