"""Open one satellite scene as surface reflectance: ``open_tile``, ``resolve_scene``.

Sensor recognition (which file holds which band, how DN become reflectance, which band flags
clouds) lives in :mod:`minewatch.io._layouts` and :mod:`minewatch.io.sensors`; this module
reads pixels. Reading is done with rasterio directly: eagerly into one float32 array (one
vectorised DN → reflectance pass per band), or lazily as a dask array whose tasks each read one
window, convert it, and turn GDAL failures (truncated files) into
:class:`~minewatch.errors.TileReadError` naming the file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import rasterio
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from rasterio.enums import Resampling
from rasterio.vrt import WarpedVRT
from rasterio.windows import Window

from minewatch.errors import (
    BandError,
    InputError,
    ReflectanceError,
    TileReadError,
    UnknownSensorError,
)
from minewatch.io import _layouts as lay
from minewatch.io._layouts import BandsArg
from minewatch.io._scene import Scene
from minewatch.io.sensors import get_profile, invalid_mask

__all__ = ["discover_scenes", "open_tile", "read_scene", "resolve_scene"]

PathArg = str | PathLike[str]
ChunksArg = int | tuple[int, int] | Mapping[str, int] | bool | str | None
_DEFAULT_CHUNK = 1024
#: Threads reading strips of one eager read.
_THREADS = min(8, os.cpu_count() or 1)


# --- recognition -------------------------------------------------------------------------------

def resolve_scene(
    path_or_paths: PathArg | Sequence[PathArg],
    sensor: str | None = None,
    bands: BandsArg = None,
) -> Scene:
    """Recognise the product at ``path_or_paths`` and describe it as a :class:`Scene`.

    Reads headers and small metadata files only (no pixels).

    Parameters
    ----------
    path_or_paths
        One file, a folder holding one scene, a ``.SAFE`` folder or zip, or a list of the files
        of one scene (per-band COGs, a Landsat ``SR_B*`` set).
    sensor
        Force a profile: ``sentinel2``, ``sentinel2_gee``, ``landsat``, ``planetscope``, ``rgb``.
    bands
        Map band descriptions (``"B4"``), sensor band names (``"SR_B4"``) or 1-based indices
        (``3`` or ``"3"``) to roles (``red``, ``nir``...; ``scl``/``qa_pixel``/``udm2`` mark a
        quality band). Only the mapped bands are used. Files of an unknown sensor get the scale
        of their data type: uint8 → 1/255, other integers → 1e-4, floats → 1.

    Returns
    -------
    Scene

    Raises
    ------
    TileReadError
        A file is not a raster, or is truncated/corrupt.
    MissingCRSError
        A file has no CRS.
    UnknownSensorError
        The sensor can't be recognised and neither ``sensor=`` nor ``bands=`` was given.
    BandError
        ``bands=`` names a band not in the file, or a product lacks a required band.
    DateError
        A date in the metadata can't be parsed.

    Examples
    --------
    >>> scene = resolve_scene("tests/data/real/landsat7_rgb_byte/RGB.byte.tif")
    >>> scene.sensor, scene.roles, scene.has_nir
    ('rgb', ('blue', 'green', 'red'), False)
    """
    if isinstance(path_or_paths, str | PathLike):
        return _resolve_one(Path(path_or_paths), sensor, bands)
    paths = [Path(p) for p in path_or_paths]
    if not paths:
        raise InputError("resolve_scene got an empty list of files.")
    if len(paths) == 1:
        return _resolve_one(paths[0], sensor, bands)
    for p in paths:
        if not p.exists():
            raise TileReadError(f"{p}: no such file; check the path.")
    folders = {p.parent for p in paths}
    if len(folders) != 1:
        raise InputError(
            f"The files {[str(p) for p in paths]} are in different folders; a scene's band "
            "files must sit side by side."
        )
    folder = folders.pop()
    errors: list[Exception] = []
    scenes, skipped = lay.group_folder(folder, [p.name for p in paths], sensor, bands, errors)
    return _one_scene(f"{[str(p) for p in paths]}", scenes, skipped, errors)


def _resolve_one(path: Path, sensor: str | None, bands: BandsArg) -> Scene:
    if not path.exists() and not str(path).startswith("/vsi"):
        raise TileReadError(f"{path}: no such file or folder; check the path.")
    if lay.is_safe(path):
        return lay.safe_scene(path, bands)
    if path.is_dir():
        errors: list[Exception] = []
        scenes, skipped = lay.group_folder(path, lay._listdir(path), sensor, bands, errors)
        return _one_scene(str(path), scenes, skipped, errors)
    profile = get_profile(sensor).name if sensor is not None else None
    if not bands:
        names = lay._listdir(path.parent)
        # One file of a multi-file product identifies the whole product.
        landsat = lay.landsat_groups(path.parent, [path.name])
        if landsat and profile in (None, "landsat"):
            product = next(iter(landsat))
            group = lay.landsat_groups(path.parent, names).get(product, {})
            if any(b.startswith("SR_B") for b in group):
                return lay.landsat_scene(product, group, path.parent, bands)
        s2 = lay.s2_band_files(path.parent, [path.name])
        if s2 and profile in (None, "sentinel2"):
            prefix = next(iter(s2))
            group = lay.s2_band_files(path.parent, names).get(prefix, {})
            if sum(1 for b in group if lay.SENTINEL2.role(b)) >= 2:
                errors = []
                scenes, skipped = lay.group_folder(
                    path.parent, [Path(h).name for h in group.values()], None, None, errors
                )
                return _one_scene(str(path), scenes, skipped, errors)
    return lay.file_scene(path, sensor, bands)


def _one_scene(label: str, scenes: list[Scene], skipped: list[tuple[str, str]],
               errors: list[Exception]) -> Scene:
    if len(scenes) == 1:
        return scenes[0]
    if not scenes:
        if len(errors) == 1:
            raise errors[0]
        reasons = "; ".join(f"{p}: {why}" for p, why in skipped[:5]) or "no raster files"
        raise UnknownSensorError(f"{label}: no scene recognised ({reasons}).")
    raise InputError(
        f"{label}: holds {len(scenes)} scenes ({', '.join(s.id for s in scenes[:5])}); open one "
        "file, or use minewatch.scan_archive / discover_scenes for a whole folder."
    )


def discover_scenes(
    root: PathArg,
    sensor: str | None = None,
    bands: BandsArg = None,
) -> tuple[list[Scene], list[tuple[str, str]]]:
    """Walk a folder tree and group its files into scenes; never raise on one bad file.

    Groups per-band COG folders (``B02.tif``...), Landsat ``*_SR_B*.TIF`` sets, ``.SAFE``
    folders and zips, PlanetScope SR files with their UDM2, and treats any other raster as a
    single-file scene. Sidecars (json, xml, txt, ``.aux.xml``, thumbnails, vectors), files in a
    ``truth/`` folder and files whose name holds ``_truth`` or ``_mask`` are ignored.

    Parameters
    ----------
    root
        The folder to walk (recursively; hidden folders are skipped).
    sensor, bands
        As for :func:`resolve_scene`, applied to every file.

    Returns
    -------
    scenes : list of Scene
        In walk order (sorted paths).
    skipped : list of (str, str)
        ``(path, reason)`` for every file that is not a usable scene.

    Examples
    --------
    >>> scenes, skipped = discover_scenes("tests/data/real")
    >>> sorted({s.sensor for s in scenes})
    ['landsat', 'rgb', 'sentinel2']
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root}: not a folder; pass a folder to discover_scenes.")
    scenes: list[Scene] = []
    skipped: list[tuple[str, str]] = []
    for folder, dirnames, filenames in os.walk(root):
        here = Path(folder)
        keep = []
        for d in sorted(dirnames):
            if d.startswith(".") or d.lower() == "truth":
                continue
            if lay.is_safe(here / d):
                try:
                    scenes.append(lay.safe_scene(here / d, bands))
                except (TileReadError, InputError) as err:
                    skipped.append((str(here / d), str(err)))
                continue
            keep.append(d)
        dirnames[:] = keep
        found, why = lay.group_folder(here, sorted(filenames), sensor, bands)
        scenes.extend(found)
        skipped.extend(why)
    return scenes, skipped


# --- reading -----------------------------------------------------------------------------------

class _Grid:
    """Target grid: CRS, transform, shape."""

    def __init__(self, crs: Any, transform: Any, height: int, width: int) -> None:
        self.crs, self.transform, self.height, self.width = crs, transform, height, width

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        t = self.transform
        return (t.c, t.f + t.e * self.height, t.c + t.a * self.width, t.f)


def _mode(header: lay.Header, grid: _Grid) -> str:
    """How a file maps onto the grid: ``same``, ``scaled`` (same bounds) or ``warp``."""
    if header.crs != grid.crs:
        return "warp"
    if (header.width, header.height) == (grid.width, grid.height) and \
            header.transform.almost_equals(grid.transform, precision=1e-6):
        return "same"
    t = header.transform
    own = (t.c, t.f + t.e * header.height, t.c + t.a * header.width, t.f)
    tol = abs(grid.transform.a) / 2
    if all(abs(a - b) < tol for a, b in zip(own, grid.bounds, strict=True)) and t.b == t.d == 0:
        return "scaled"
    return "warp"


class _Source:
    """Bands of one file, readable by window on the target grid as ``(band, y, x)``."""

    def __init__(self, href: str, indexes: list[int], header: lay.Header, grid: _Grid,
                 luts: list[tuple[float, float, float | None]] | None,
                 env: Mapping[str, Any]) -> None:
        self.href, self.indexes, self.grid, self.luts, self.env = href, indexes, grid, luts, env
        self.mode = _mode(header, grid)
        self.nodata = header.nodata
        self.dtype = np.dtype(np.float32) if luts is not None else np.dtype(header.dtype)
        self.shape = (len(indexes), grid.height, grid.width)
        self.ndim = 3
        self.block_height = header.block_height

    def __getitem__(self, key: tuple[slice, ...]) -> np.ndarray:
        rows, cols = key[-2], key[-1]
        r0, r1, _ = rows.indices(self.grid.height)
        c0, c1, _ = cols.indices(self.grid.width)
        return self.read(Window(c0, r0, c1 - c0, r1 - r0))

    def read_all(self, out: np.ndarray | None = None) -> np.ndarray:
        """Read the whole grid; same-grid files in parallel strips (one handle per thread).

        Each strip is read and converted while it is hot in cache, and GDAL decompresses
        strips concurrently, so no full-size DN buffer is ever allocated.
        """
        height = self.grid.height
        strips = _strips(height, self.block_height, _THREADS)
        if self.mode != "same" or len(strips) < 2:
            return self.read(None, out=out)
        if out is None:
            out = np.empty(self.shape, self.dtype)
        target = out

        def work(rows: tuple[int, int]) -> None:
            r0, r1 = rows
            self.read(Window(0, r0, self.grid.width, r1 - r0), out=target[:, r0:r1])

        with ThreadPoolExecutor(max_workers=min(_THREADS, len(strips))) as pool:
            list(pool.map(work, strips))
        return out

    def read(self, window: Window | None = None, out: np.ndarray | None = None) -> np.ndarray:
        """Read ``window`` of the target grid; convert to reflectance when ``luts`` is set."""
        full = window is None
        window = window or Window(0, 0, self.grid.width, self.grid.height)
        shape = (len(self.indexes), int(window.height), int(window.width))
        try:
            with rasterio.Env(**self.env), rasterio.open(self.href) as src:
                if self.mode == "same":
                    dn = src.read(self.indexes, window=window)
                elif self.mode == "scaled" and full:
                    dn = src.read(self.indexes, out_shape=shape, resampling=Resampling.nearest)
                else:
                    with WarpedVRT(src, crs=self.grid.crs, transform=self.grid.transform,
                                   width=self.grid.width, height=self.grid.height,
                                   resampling=Resampling.nearest, src_nodata=self.nodata,
                                   nodata=self.nodata if self.nodata is not None else 0) as vrt:
                        dn = vrt.read(self.indexes, window=window)
        except Exception as err:  # RasterioIOError, CPLE_* from GDAL drivers
            raise TileReadError(
                f"{self.href}: pixels could not be read ({lay._short(err)}); the file is "
                "truncated or corrupt — re-download or re-export it."
            ) from err
        if self.luts is None:
            return dn
        if out is None:
            out = np.empty(dn.shape, np.float32)
        for i, lut in enumerate(self.luts):
            _to_reflectance(dn[i], *lut, out=out[i])
        return out


def _strips(height: int, block: int, threads: int) -> list[tuple[int, int]]:
    """Row ranges aligned on the file's block rows, about 4 per thread, at least 256 rows."""
    if threads < 2:
        return [(0, height)]
    step = max(256, -(-height // (4 * threads)))
    step = -(-step // max(block, 1)) * max(block, 1)
    return [(r, min(r + step, height)) for r in range(0, height, step)]


def _to_reflectance(dn: np.ndarray, scale: float, offset: float, nodata: float | None,
                    out: np.ndarray | None = None) -> np.ndarray:
    """DN → float32 reflectance in one vectorised pass (+ in-place offset and nodata)."""
    if out is None:
        out = np.empty(dn.shape, np.float32)
    np.multiply(dn, np.float32(scale), out=out, dtype=np.float32, casting="unsafe")
    if offset:
        out += np.float32(offset)
    if nodata is not None and not np.isnan(nodata):
        np.copyto(out, np.float32(np.nan), where=dn == dn.dtype.type(nodata))
    if np.issubdtype(dn.dtype, np.floating):
        # NaN stays NaN; ±inf (and float64 beyond float32) is no reflectance: invalid, NaN
        np.copyto(out, np.float32(np.nan), where=np.isinf(out))
    return out


#: Median reflectance above which a band is not surface reflectance (wrong scale or product).
MAX_MEDIAN_REFLECTANCE = 2.0


def check_reflectance(data: np.ndarray, label: str, roles: Sequence[str] | None = None) -> None:
    """Raise :class:`ReflectanceError` when a band's median is far above reflectance's 0–1.

    Looks at a strided sample (at most ~65,000 pixels per band), so it costs little. Clouds and
    snow are below 1.2 in surface reflectance; a median above :data:`MAX_MEDIAN_REFLECTANCE`
    means digital numbers of another product (Level-1, radiance) or a wrong ``scale``.
    """
    if data.ndim == 2:
        data = data[np.newaxis]
    step = max(1, int(np.ceil(np.sqrt(data.shape[-2] * data.shape[-1] / 65536))))
    sample = data[..., ::step, ::step].reshape(data.shape[0], -1)
    for i, band in enumerate(sample):
        finite = band[np.isfinite(band)]
        if finite.size == 0:
            continue
        median = float(np.median(finite))
        if median > MAX_MEDIAN_REFLECTANCE:
            name = f"band {roles[i]!r}" if roles is not None else f"band {i + 1}"
            raise ReflectanceError(
                f"{label}: {name} has a median of {median:.3g} after scaling, which is not "
                "surface reflectance (0–1): the file holds other digital numbers (Level-1, "
                "radiance) or needs another scale. Pass sensor= for a known product, or convert "
                "it to reflectance × 10000 (uint16)."
            )


def _normalise_chunks(chunks: ChunksArg) -> tuple[int, int] | None:
    if chunks is None or chunks is False:
        return None
    if chunks is True or chunks == "auto":
        return (_DEFAULT_CHUNK, _DEFAULT_CHUNK)
    if isinstance(chunks, int):
        return (chunks, chunks)
    if isinstance(chunks, Mapping):
        y = chunks.get("y", _DEFAULT_CHUNK)
        x = chunks.get("x", _DEFAULT_CHUNK)
        return (int(y) if y not in (-1, None) else 10**9, int(x) if x not in (-1, None) else 10**9)
    if isinstance(chunks, tuple) and len(chunks) == 2:
        return (int(chunks[0]), int(chunks[1]))
    raise InputError(f"chunks={chunks!r}: pass an int, (y, x), {{'x': .., 'y': ..}} or None.")


def _env() -> dict[str, Any]:
    """The GDAL options of the caller's rasterio.Env, shipped to each dask task."""
    return dict(rasterio.env.getenv()) if rasterio.env.hasenv() else {}


def _lazy(source: _Source, chunks: tuple[int, int], name: str) -> Any:
    # Why not rioxarray.open_rasterio(chunks=...): its tasks raise raw RasterioIOError on a
    # truncated file and cannot convert DN to reflectance inside the read; this reader raises
    # TileReadError naming the file at compute time and carries the caller's GDAL env per task.
    import dask.array as da  # imported on first lazy read only (import time matters)
    from dask.base import tokenize

    cy, cx = (min(chunks[0], source.grid.height), min(chunks[1], source.grid.width))
    token = tokenize(source.href, source.indexes, source.luts, source.mode, source.shape,
                     _mtime(source.href), tuple(source.grid.transform), str(source.grid.crs))
    return da.from_array(source, chunks=(source.shape[0], cy, cx), lock=False, asarray=False,
                         fancy=False, name=f"{name}-{token}",
                         meta=np.empty((0, 0, 0), source.dtype))


def _mtime(href: str) -> float:
    try:
        return os.path.getmtime(href)
    except OSError:
        return 0.0


def read_scene(scene: Scene, chunks: ChunksArg = None, *, mask_clouds: bool = True
               ) -> xr.DataArray:
    """Read a :class:`Scene` as float32 surface reflectance on the grid of its finest band.

    Parameters
    ----------
    scene
        From :func:`resolve_scene` (or built by hand).
    chunks
        ``None``: read now into memory. An int, ``(y, x)`` or ``{"y": .., "x": ..}`` (pixels):
        return a lazy dask-backed array; nothing is read until ``.compute()``.
    mask_clouds
        Set pixels flagged by the scene's quality band (SCL, QA_PIXEL, UDM2) to NaN.

    Returns
    -------
    xarray.DataArray
        See :func:`open_tile`.

    Raises
    ------
    TileReadError
        Pixels can't be read (truncated/corrupt file); on the lazy path at compute time.
    GridError
        The files of the scene are not all in one CRS.
    ReflectanceError
        Eager reads only: a band's median is above 2 after scaling (not reflectance).

    Examples
    --------
    >>> scene = resolve_scene("tests/data/real/landsat7_rgb_byte/RGB.byte.tif")
    >>> read_scene(scene, chunks=32).sizes["band"]
    3
    """
    if not scene.bands:
        raise BandError(f"{scene.id}: the scene has no band to read.")
    headers = {h: lay.read_header(h) for h in {b.href for b in scene.bands}}
    finest = min(scene.bands, key=lambda b: abs(headers[b.href].transform.a))
    head = headers[finest.href]
    for header in headers.values():
        lay.check_same_crs(scene.id, header, head)
    grid = _Grid(head.crs, head.transform, head.height, head.width)
    env = _env()
    chunk_yx = _normalise_chunks(chunks)
    roles = [b.role for b in scene.bands]
    # One source per file: a multi-band file is read once for all its bands.
    by_href: dict[str, list[int]] = {}
    for pos, b in enumerate(scene.bands):
        by_href.setdefault(b.href, []).append(pos)
    groups = [
        (positions, _Source(href, [scene.bands[p].index for p in positions], headers[href], grid,
                            [(scene.bands[p].scale, scene.bands[p].offset,
                              scene.bands[p].nodata) for p in positions], env))
        for href, positions in by_href.items()
    ]
    mask_src = None
    if mask_clouds and scene.mask is not None:
        mhead = lay.read_header(scene.mask.href)
        lay.check_same_crs(scene.id, mhead, head)
        indexes = (list(range(1, mhead.count + 1)) if scene.mask.kind == "udm2"
                   else [scene.mask.index])
        mask_src = _Source(scene.mask.href, indexes, mhead, grid, None, env)
    kind = scene.mask.kind if scene.mask is not None else None
    if chunk_yx is None:
        data: Any = np.empty((len(roles), grid.height, grid.width), np.float32)
        for positions, src in groups:
            if positions == list(range(positions[0], positions[0] + len(positions))):
                src.read_all(out=data[positions[0]:positions[0] + len(positions)])
            else:
                data[positions] = src.read_all()
        if mask_src is not None:
            invalid = invalid_mask(kind, _squeeze_mask(kind, mask_src.read()))
            for i in range(len(roles)):
                np.copyto(data[i], np.float32(np.nan), where=invalid)
        check_reflectance(data, ";".join(scene.paths) or scene.id, roles)
    else:
        import dask.array as da

        parts = [_lazy(src, chunk_yx, f"read-{Path(src.href).stem}") for _, src in groups]
        data = da.concatenate(parts) if len(parts) > 1 else parts[0]
        order = [p for positions, _ in groups for p in positions]
        if order != list(range(len(order))):
            data = data[np.argsort(order)]
        if mask_src is not None:
            raw = _lazy(mask_src, chunk_yx, f"mask-{Path(mask_src.href).stem}")
            invalid = invalid_mask(kind, _squeeze_mask(kind, raw))
            data = da.where(invalid[np.newaxis], np.float32(np.nan), data)
    return _wrap(data, scene, grid, roles)


def _squeeze_mask(kind: str | None, raw: Any) -> Any:
    """(1, y, x) → (y, x) for SCL / QA_PIXEL; UDM2 keeps its 8 bands first."""
    return raw if kind == "udm2" else raw[0]


def _wrap(data: Any, scene: Scene, grid: _Grid, roles: list[str]) -> xr.DataArray:
    t = grid.transform
    x = t.c + t.a * (np.arange(grid.width) + 0.5)
    y = t.f + t.e * (np.arange(grid.height) + 0.5)
    coords: dict[str, Any] = {
        "band": np.array(roles, dtype=str),
        "y": y,
        "x": x,
        "band_name": ("band", np.array([b.name or b.role for b in scene.bands], dtype=str)),
    }
    attrs: dict[str, Any] = {
        "long_name": "surface reflectance",
        "units": "1",
        "sensor": scene.sensor,
        "scene_id": scene.id,
        "has_nir": scene.has_nir,
        "paths": ";".join(scene.paths),
    }
    if scene.time is not None:
        coords["time"] = np.datetime64(pd.Timestamp(scene.time).to_datetime64(), "ns")
        attrs["time"] = pd.Timestamp(scene.time).isoformat()
    if scene.mask is not None:
        attrs["mask_kind"] = scene.mask.kind
    arr = xr.DataArray(data, dims=("band", "y", "x"), coords=coords, attrs=attrs,
                       name="reflectance")
    # inplace: the default copies the (possibly large, eager) pixel array each time
    arr.rio.write_crs(grid.crs, inplace=True)
    arr.rio.write_transform(t, inplace=True)
    arr.rio.write_nodata(np.nan, encoded=False, inplace=True)
    return arr


def open_tile(
    path: PathArg | Sequence[PathArg],
    sensor: str | None = None,
    bands: BandsArg = None,
    chunks: ChunksArg = None,
    *,
    mask_clouds: bool = True,
) -> xr.DataArray:
    """Open one scene as float32 surface reflectance (0–1), clouds and nodata as NaN.

    Recognises Sentinel-2 L2A (``.SAFE`` folders/zips, per-band COG folders, multi-band
    GeoTIFFs with ``B02``... descriptions), Earth Engine S2_SR_HARMONIZED exports (``B2``...),
    Landsat 8/9 C2 L2 ``*_SR_B*.TIF`` sets, PlanetScope ``*_AnalyticMS_SR*.tif`` (+ UDM2) and
    plain 3-band 8-bit RGB. Bands coarser than the finest one (Sentinel-2 20 m) are brought
    onto its grid by nearest neighbour (exact for integer factors).

    Parameters
    ----------
    path
        A file, a folder of one scene, a ``.SAFE`` folder/zip, or a list of one scene's files.
    sensor, bands
        See :func:`resolve_scene`.
    chunks
        ``None`` (eager) or dask chunk sizes in pixels (int, ``(y, x)``, ``{"y", "x"}``).
    mask_clouds
        Mask pixels flagged by SCL (0, 1, 3, 8–11), QA_PIXEL (bits 0–5) or UDM2 (snow, shadow,
        heavy haze, cloud, unusable).

    Returns
    -------
    xarray.DataArray
        Dims ``(band, y, x)``; ``band`` holds roles in canonical order (``blue``, ``green``,
        ``red``, ``nir``, ``swir1``...) and ``band_name`` the sensor's names (``B04``,
        ``SR_B4``); a scalar ``time`` coordinate (datetime64, UTC) when the date is known; CRS
        and transform via ``.rio``; nodata NaN. ``attrs``: ``sensor``, ``scene_id``,
        ``has_nir`` (bool), ``time`` (ISO-8601, when known), ``paths`` (``;``-joined).

    Raises
    ------
    TileReadError, MissingCRSError, UnknownSensorError, BandError, DateError
        See :func:`resolve_scene`; ``TileReadError`` also for truncated pixels.
    GridError
        Rotated/skewed geotransform, no pixels, or the files of a scene in different CRSs.
    ReflectanceError
        Complex, int8 or 1-bit bands; eager reads also when a band's median is above 2 after
        scaling (see ``docs/errors.md``). ±inf pixels are read as NaN (invalid).

    Examples
    --------
    >>> tile = open_tile("tests/data/real/landsat7_rgb_byte/RGB.byte.tif")
    >>> tile.dtype, tile["band"].values.tolist(), tile.attrs["has_nir"]
    (dtype('float32'), ['blue', 'green', 'red'], False)
    """
    scene = resolve_scene(path, sensor=sensor, bands=bands)
    return read_scene(scene, chunks=chunks, mask_clouds=mask_clouds)
