"""Get the imagery: search a STAC API, then fetch only the pixels of the area of interest.

:func:`search` asks any STAC API (presets for Earth Search and Planetary Computer) for the
Sentinel-2 L2A or Landsat C2 L2 scenes over an area and period. :func:`fetch` reads, for each
scene, only the window of each band's cloud-optimised GeoTIFF that covers the area — GDAL
``/vsicurl/`` HTTP range requests, no whole-file download — and writes one multi-band GeoTIFF
per scene that :func:`minewatch.open_tile` and :func:`minewatch.scan_archive` read, plus a
local STAC catalog of what was fetched. See docs/acquire.md.
"""

from __future__ import annotations

import logging
import re
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from os import PathLike
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import pandas as pd
import pystac

from minewatch.errors import InputError, MinewatchError, MinewatchWarning, TileReadError
from minewatch.io._scene import BandSource, Scene, role_sort_key
from minewatch.io.sensors import LANDSAT, SENTINEL2

__all__ = [
    "COLLECTIONS",
    "DEFAULT_BANDS",
    "GDAL_HTTP_ENV",
    "PRESETS",
    "FetchFailure",
    "FetchResult",
    "fetch",
    "search",
]

log = logging.getLogger(__name__)

#: Public STAC APIs by short name (any other STAC API URL works too).
PRESETS: dict[str, str] = {
    "earth-search": "https://earth-search.aws.element84.com/v1",
    "planetary-computer": "https://planetarycomputer.microsoft.com/api/stac/v1",
}

#: Collections minewatch reads (the same names on Earth Search and Planetary Computer).
COLLECTIONS: dict[str, str] = {
    "sentinel-2-l2a": "Sentinel-2 Level-2A surface reflectance (10–20 m)",
    "landsat-c2-l2": "Landsat 8/9 Collection 2 Level-2 surface reflectance (30 m)",
}

#: Band roles fetched when ``bands=None`` (the cloud/quality mask is always added).
DEFAULT_BANDS: tuple[str, ...] = ("blue", "green", "red", "nir", "swir1", "swir2")

#: GDAL options for reading COGs over HTTP: no directory listing on open (one HEAD + one
#: range GET for the header instead of a listing per file), consecutive ranges merged, HTTP/2
#: multiplexing, GDAL's own retry on 429/5xx, unsigned access to public S3 buckets.
GDAL_HTTP_ENV: dict[str, Any] = {
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    "GDAL_HTTP_MERGE_CONSECUTIVE_RANGES": "YES",
    "GDAL_HTTP_MULTIPLEX": "YES",
    "GDAL_HTTP_VERSION": "2",
    "GDAL_HTTP_MAX_RETRY": "2",
    "GDAL_HTTP_RETRY_DELAY": "0.5",
    "GDAL_HTTP_TIMEOUT": "60",
    "GDAL_INGESTED_BYTES_AT_OPEN": "32768",
    "VSI_CACHE": "TRUE",
    "AWS_NO_SIGN_REQUEST": "YES",
}

#: Seconds before the first retry; doubled after each failed attempt.
BACKOFF_S = 0.5

_FETCH_TAG = "MINEWATCH_FETCH"
_HTTP_STATUS = re.compile(r"HTTP response code:\s*(\d{3})")
_PC_HOSTS = ("blob.core.windows.net",)
_ROLE_NAMES = {
    "sentinel2": {role: name for name, role in SENTINEL2.bands.items()},
    "landsat": {role: name for name, role in LANDSAT.bands.items()},
}
_MASK_NAMES = {"scl": "SCL", "qa_pixel": "QA_PIXEL"}

T = TypeVar("T")


# --- search ------------------------------------------------------------------------------------

def resolve_api(api_url: str) -> str:
    """A preset name (``earth-search``, ``planetary-computer``) or a STAC API URL → the URL.

    Examples
    --------
    >>> resolve_api("earth-search")
    'https://earth-search.aws.element84.com/v1'
    >>> resolve_api("http://127.0.0.1:7822/")
    'http://127.0.0.1:7822'
    """
    text = str(api_url).strip()
    if text in PRESETS:
        return PRESETS[text]
    if not re.match(r"^https?://", text):
        raise InputError(
            f"STAC API {text!r}: not a preset ({', '.join(PRESETS)}) nor an http(s) URL; pass "
            "e.g. earth-search or https://earth-search.aws.element84.com/v1."
        )
    return text.rstrip("/")


def _is_planetary_computer(url: str) -> bool:
    return "planetarycomputer.microsoft.com" in url


def _pc_signer() -> Callable[[Any], Any] | None:
    """``planetary_computer.sign_inplace`` when the package is installed, else ``None``."""
    try:
        import planetary_computer
    except ImportError:
        return None
    return planetary_computer.sign_inplace


def _pc_note() -> None:
    warnings.warn(
        "Planetary Computer asset URLs must be signed to be read: `pip install "
        "planetary-computer` and minewatch signs them (otherwise reads fail with HTTP 403/409).",
        MinewatchWarning,
        stacklevel=3,
    )


def _aoi_4326(aoi: Any) -> Any:
    """The AOI as one shapely geometry in EPSG:4326 (files and frames in any CRS)."""
    from minewatch.io.stack import read_aoi

    return read_aoi(aoi).to_crs("EPSG:4326").geom


def _date_text(value: Any, name: str) -> str:
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError) as err:
        raise InputError(f"{name}={value!r}: not a date; use YYYY-MM-DD.") from err
    if pd.isna(stamp):
        raise InputError(f"{name}={value!r}: not a date; use YYYY-MM-DD.")
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return stamp.strftime("%Y-%m-%d") if stamp == stamp.normalize() else \
        stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


def search(
    api_url: str,
    collection: str,
    aoi: Any,
    start: Any,
    end: Any,
    max_cloud: float | None = None,
    limit: int | None = None,
) -> pystac.ItemCollection:
    """Find the scenes of ``collection`` over ``aoi`` between ``start`` and ``end``.

    Parameters
    ----------
    api_url
        A preset (``"earth-search"``, ``"planetary-computer"``, see :data:`PRESETS`) or the
        URL of any STAC API.
    collection
        ``"sentinel-2-l2a"`` or ``"landsat-c2-l2"`` on both presets; any collection id of
        another API.
    aoi
        Area of interest: a vector file path (GeoJSON, GeoPackage, Shapefile... in any CRS), a
        GeoDataFrame/GeoSeries (its CRS), or a shapely geometry in lon/lat. Sent to the API as
        an ``intersects`` polygon in EPSG:4326.
    start, end
        First and last day (inclusive), ``"YYYY-MM-DD"`` or anything ``pandas.Timestamp``
        reads. Whole days, UTC.
    max_cloud
        Keep scenes whose ``eo:cloud_cover`` is at most this many percent (0–100). Sent as a
        ``query`` (or CQL2 ``filter``) where the API supports one, and always checked on the
        results, so APIs without those extensions filter correctly too.
    limit
        Return at most this many items.

    Returns
    -------
    pystac.ItemCollection
        Items sorted by date, then id. Planetary Computer items are signed when the
        ``planetary-computer`` package is installed (a warning says so otherwise).

    Raises
    ------
    InputError
        Bad dates, AOI, cloud limit, or the API can't be reached / answered with an error (the
        message names the URL).

    Examples
    --------
    Needs the network (not run as a doctest; ``tests/test_acquire.py`` searches a local STAC
    API)::

        items = search("earth-search", "sentinel-2-l2a", "sample_tiles/aoi.geojson",
                       "2024-01-01", "2024-03-31", max_cloud=20)
        [item.id for item in items][:2]   # ['S2A_47RMJ_20240103_0_L2A', ...]
    """
    from pystac_client import Client
    from pystac_client.conformance import ConformanceClasses
    from pystac_client.exceptions import APIError
    from shapely.geometry import mapping

    url = resolve_api(api_url)
    day0, day1 = _date_text(start, "start"), _date_text(end, "end")
    if pd.Timestamp(day0) > pd.Timestamp(day1):
        raise InputError(f"start={day0} is after end={day1}; swap them.")
    if max_cloud is not None and not 0 <= float(max_cloud) <= 100:
        raise InputError(f"max_cloud={max_cloud}: a cloud cover percentage is 0–100.")
    if limit is not None and int(limit) < 1:
        raise InputError(f"limit={limit}: ask for at least 1 item.")
    geometry = _aoi_4326(aoi)
    modifier = None
    if _is_planetary_computer(url):
        modifier = _pc_signer()
        if modifier is None:
            _pc_note()
    try:
        client = Client.open(url, modifier=modifier)
        kwargs: dict[str, Any] = {
            "collections": [collection],
            "intersects": mapping(geometry),
            "datetime": f"{day0}/{day1}",
            "max_items": None,  # all pages: `limit` keeps the earliest, after sorting
        }
        if max_cloud is not None:
            if client.conforms_to(ConformanceClasses.QUERY):
                kwargs["query"] = {"eo:cloud_cover": {"lte": float(max_cloud)}}
            elif client.conforms_to(ConformanceClasses.FILTER):
                kwargs["filter"] = {"op": "<=", "args": [{"property": "eo:cloud_cover"},
                                                          float(max_cloud)]}
                kwargs["filter_lang"] = "cql2-json"
        found = list(client.search(**kwargs).items())
    except APIError as err:
        text = _first_line(err)
        if "NewConnectionError" in text or "Max retries exceeded" in text:
            raise InputError(f"STAC API {url}: cannot be reached (no answer; check the URL "
                             "and the network).") from err
        raise InputError(f"STAC API {url}: the search failed ({text}).") from err
    except (OSError, ValueError) as err:  # connection refused, DNS, not JSON
        raise InputError(
            f"STAC API {url}: cannot be reached or is not a STAC API ({_first_line(err)})."
        ) from err
    if max_cloud is not None:
        found = [
            item for item in found
            if item.properties.get("eo:cloud_cover") is None
            or float(item.properties["eo:cloud_cover"]) <= float(max_cloud)
        ]
    found.sort(key=lambda item: (str(item.datetime or ""), item.id))
    if limit is not None:
        found = found[: int(limit)]
    return pystac.ItemCollection(found)


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return (text.splitlines()[0] if text else type(err).__name__)[:300]


# --- fetch -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FetchFailure:
    """One scene (or one of its assets) that could not be fetched."""

    item_id: str
    """Id of the STAC item."""
    reason: str
    """Why, in one line (HTTP status, GDAL message, "AOI outside the scene"...)."""
    asset: str | None = None
    """The band asset that failed (``B04``, ``red``...), ``None`` for the whole item."""
    href: str | None = None
    """The asset URL (without any signature query)."""


@dataclass(frozen=True)
class FetchResult:
    """What :func:`fetch` did."""

    out_dir: Path
    """The archive folder."""
    fetched: tuple[Path, ...] = ()
    """Scene files written by this call."""
    skipped: tuple[Path, ...] = ()
    """Scene files already present and complete (not read again)."""
    failed: tuple[FetchFailure, ...] = ()
    """Scenes not written, with the reason; a rerun tries them again."""
    catalog: Path | None = None
    """The local STAC ``catalog.json`` of every scene file in ``out_dir``."""
    seconds: float = 0.0
    """Wall time of the call, s."""
    notes: tuple[str, ...] = field(default=())
    """Other remarks (e.g. bands a collection does not have)."""

    @property
    def paths(self) -> tuple[Path, ...]:
        """Every scene file of the request, fetched now or before."""
        return self.fetched + self.skipped

    @property
    def ok(self) -> bool:
        """True when nothing failed."""
        return not self.failed


def _vsi(href: str) -> str:
    """A GDAL path for an asset href: ``/vsicurl/`` for http(s), ``/vsis3/`` for s3."""
    if href.startswith(("http://", "https://")):
        return f"/vsicurl/{href}"
    if href.startswith("s3://"):
        return "/vsis3/" + href[len("s3://"):]
    if href.startswith("file://"):
        return href[len("file://"):]
    return href


def _public(href: str) -> str:
    """The href without its query string (signatures stay out of files and messages)."""
    parts = urlsplit(href)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")) if parts.scheme else href


class _Permanent(Exception):
    """An error retrying can't fix (HTTP 4xx)."""


def _retrying(work: Callable[[], T], *, retries: int, label: str) -> T:
    """Run ``work``; retry transient failures ``retries`` times with exponential back-off.

    HTTP 4xx answers (not found, forbidden) are not retried: raises :class:`_Permanent`.
    """
    attempt = 0
    while True:
        try:
            return work()
        except Exception as err:  # RasterioIOError, CPLE_* from GDAL, OSError
            status = _HTTP_STATUS.search(str(err))
            code = int(status.group(1)) if status else None
            if code is not None and 400 <= code < 500 and code not in (408, 429):
                raise _Permanent(f"HTTP {code} ({_first_line(err)})") from err
            if attempt >= retries:
                raise
            delay = BACKOFF_S * 2**attempt
            attempt += 1
            log.info("%s: %s; retry %d/%d in %.1f s", label, _first_line(err), attempt,
                     retries, delay)
            time.sleep(delay)


def _select(scene: Scene, bands: Sequence[str] | None) -> list[BandSource]:
    """The scene's bands named by ``bands`` (roles, or sensor/asset band names)."""
    if bands is None:
        chosen = [b for b in scene.bands if b.role in DEFAULT_BANDS]
        return chosen
    out = []
    missing = []
    for want in bands:
        key = str(want).strip()
        match = next((b for b in scene.bands if key.lower() in (b.role.lower(), b.name.lower())),
                     None)
        if match is None:
            missing.append(key)
        elif match not in out:
            out.append(match)
    if missing:
        have = ", ".join(f"{b.role} ({b.name})" for b in scene.bands)
        raise InputError(
            f"STAC item {scene.id}: no band {', '.join(map(repr, missing))}; it has {have}."
        )
    return sorted(out, key=lambda b: role_sort_key(b.role))


def _band_name(sensor: str, band: BandSource) -> str:
    """The band description written to the file: the name open_tile recognises."""
    return _ROLE_NAMES.get(sensor, {}).get(band.role, band.name or band.role)


@dataclass
class _Source:
    label: str
    href: str
    band: BandSource | None  # None: the quality mask
    crs: Any = None
    transform: Any = None
    width: int = 0
    height: int = 0
    dtype: str = "uint16"
    nodata: float | None = None


def _open_header(source: _Source, retries: int) -> None:
    import rasterio

    def work() -> None:
        with rasterio.open(_vsi(source.href)) as src:
            source.crs, source.transform = src.crs, src.transform
            source.width, source.height = src.width, src.height
            source.dtype, source.nodata = src.dtypes[0], src.nodata

    _retrying(work, retries=retries, label=f"{source.label} {_public(source.href)}")


def _read_window(source: _Source, window: Any, shape: tuple[int, int], retries: int
                 ) -> np.ndarray:
    import rasterio
    from rasterio.enums import Resampling

    def work() -> np.ndarray:
        with rasterio.open(_vsi(source.href)) as src:
            return src.read(1, window=window, out_shape=shape, resampling=Resampling.nearest)

    return _retrying(work, retries=retries, label=f"{source.label} {_public(source.href)}")


def _scene_path(out_dir: Path, item: pystac.Item, sensor: str) -> Path:
    folder = re.sub(r"[^A-Za-z0-9_.-]+", "_", item.collection_id or sensor)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", item.id)
    return out_dir / folder / f"{name}.tif"


def _complete(path: Path, descriptions: Sequence[str]) -> bool:
    """True when ``path`` is a finished fetch holding at least ``descriptions``."""
    import rasterio

    if not path.exists():
        return False
    try:
        with rasterio.open(path) as src:
            done = src.tags().get(_FETCH_TAG) == "complete"
            have = {d for d in src.descriptions if d}
    except Exception:  # a corrupt leftover is fetched again
        return False
    return done and set(descriptions) <= have


def _sign_if_needed(item: pystac.Item) -> pystac.Item:
    hrefs = [a.href for a in item.assets.values()]
    if any(any(h in (urlsplit(href).hostname or "") for h in _PC_HOSTS) and "sig=" not in href
           for href in hrefs):
        signer = _pc_signer()
        if signer is not None:
            return signer(item.clone())
    return item



def _asset_failure(item_id: str, source: Any, err: Exception, retries: int) -> FetchFailure:
    """The failure record of one band asset: a permanent error (404...) as it is, anything
    else as unreadable after the retries."""
    why = (str(err) if isinstance(err, _Permanent)
           else f"unreadable after {retries} retries ({_first_line(err)})")
    return FetchFailure(item_id, why, source.label, _public(source.href))


def _fetch_item(item: pystac.Item, geometry: Any, out_dir: Path, bands: Sequence[str] | None,
                retries: int, env: dict[str, Any]) -> tuple[str, Path | FetchFailure]:
    """Fetch one scene; return ("fetched" | "skipped" | "failed", path or failure)."""
    import rasterio
    from odc.geo import geom as odc_geom
    from rasterio.windows import Window, from_bounds

    from minewatch.io.stac import item_to_scene
    from minewatch.io.write import atomic_path

    try:
        scene = item_to_scene(_sign_if_needed(item))
    except MinewatchError as err:
        return "failed", FetchFailure(item.id, str(err))
    if scene.sensor not in _ROLE_NAMES:
        return "failed", FetchFailure(
            item.id, f"sensor {scene.sensor!r} is not fetched (only Sentinel-2 L2A and Landsat "
            "C2 L2: collections sentinel-2-l2a, landsat-c2-l2)")
    try:
        chosen = _select(scene, bands)
    except InputError as err:
        return "failed", FetchFailure(item.id, str(err))
    if not chosen:
        return "failed", FetchFailure(item.id, "none of the requested bands is in the item")
    names = [_band_name(scene.sensor, b) for b in chosen]
    sources = [_Source(name, b.href, b) for name, b in zip(names, chosen, strict=True)]
    if scene.mask is not None and scene.mask.kind in _MASK_NAMES:
        # The mask goes first: a STAC mask asset names no band index, and minewatch's
        # item_to_scene reads it as band 1 of its file (see write_catalog below).
        sources.insert(0, _Source(_MASK_NAMES[scene.mask.kind], scene.mask.href, None))
    descriptions = [s.label for s in sources]
    target = _scene_path(out_dir, item, scene.sensor)
    if _complete(target, descriptions):
        return "skipped", target

    with rasterio.Env(**env):
        for source in sources:
            try:
                _open_header(source, retries)
            except Exception as err:
                return "failed", _asset_failure(item.id, source, err, retries)
        crs = sources[-1].crs
        if crs is None or any(s.crs != crs for s in sources):
            return "failed", FetchFailure(item.id, "the band assets are not all in one CRS, or "
                                          "have none; minewatch fetches without reprojecting")
        # The window is snapped to the coarsest band's pixels, so every band covers exactly
        # the same ground and finer grids are whole multiples of it (S2: 10/20/60 m).
        coarse = max(sources, key=lambda s: abs(s.transform.a))
        fine = min(sources, key=lambda s: abs(s.transform.a))
        left, bottom, right, top = odc_geom.Geometry(geometry, crs="EPSG:4326").to_crs(
            crs.to_wkt()).boundingbox
        win = from_bounds(left, bottom, right, top, coarse.transform)
        win = win.round_offsets(op="floor").round_lengths(op="ceil")
        win = win.intersection(Window(0, 0, coarse.width, coarse.height)) \
            if _overlaps(win, coarse) else None
        if win is None or win.width < 1 or win.height < 1:
            return "failed", FetchFailure(item.id, "the AOI does not overlap the scene's pixels")
        bounds = rasterio.windows.bounds(win, coarse.transform)
        fine_win = from_bounds(*bounds, fine.transform).round_offsets().round_lengths()
        shape = (int(fine_win.height), int(fine_win.width))
        transform = rasterio.windows.transform(fine_win, fine.transform)
        layers = []
        for source in sources:
            own = from_bounds(*bounds, source.transform).round_offsets().round_lengths()
            try:
                layers.append(_read_window(source, own, shape, retries))
            except Exception as err:
                return "failed", _asset_failure(item.id, source, err, retries)

    dtype = np.result_type(*[layer.dtype for layer in layers])
    spectral = [s.band for s in sources if s.band is not None]
    nodata = next((b.nodata for b in spectral if b.nodata is not None), None)
    tags = _scene_tags(item, scene, spectral)
    profile = {
        "driver": "GTiff", "width": shape[1], "height": shape[0], "count": len(layers),
        "dtype": dtype, "crs": crs, "transform": transform, "nodata": nodata,
        "tiled": True, "blockxsize": 256, "blockysize": 256, "compress": "deflate",
        "predictor": 2 if np.issubdtype(dtype, np.integer) else 3,
        "interleave": "band",
    }
    if shape[0] < 256 or shape[1] < 256:
        profile.update(tiled=False, blockxsize=None, blockysize=None)
        profile = {k: v for k, v in profile.items() if v is not None}
    with atomic_path(target) as tmp:
        with rasterio.open(tmp, "w", **profile) as dst:
            for i, (source, layer) in enumerate(zip(sources, layers, strict=True), start=1):
                dst.write(layer.astype(dtype, copy=False), i)
                dst.set_band_description(i, source.label)
                band_tags = {"SOURCE": _public(source.href)}
                if source.band is not None:
                    band_tags.update(SCALE=repr(source.band.scale),
                                     OFFSET=repr(source.band.offset), ROLE=source.band.role)
                dst.update_tags(i, **band_tags)
            dst.scales = [s.band.scale if s.band else 1.0 for s in sources]
            dst.offsets = [s.band.offset if s.band else 0.0 for s in sources]
            dst.update_tags(**tags, **{_FETCH_TAG: "complete"})
    return "fetched", target


def _overlaps(win: Any, source: _Source) -> bool:
    return (win.col_off < source.width and win.row_off < source.height
            and win.col_off + win.width > 0 and win.row_off + win.height > 0)


def _scene_tags(item: pystac.Item, scene: Scene, spectral: Sequence[BandSource]
                ) -> dict[str, str]:
    """Dataset tags: date, processing baseline, cloud cover, BOA offset, provenance."""
    props = item.properties
    when = pd.Timestamp(scene.time) if scene.time is not None else None
    tags: dict[str, str] = {
        "STAC_ITEM_ID": item.id,
        "STAC_COLLECTION": item.collection_id or "",
        "SENSOR": scene.sensor,
    }
    if when is not None:
        tags["datetime"] = when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        tags["ACQUISITION_DATE"] = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    if props.get("eo:cloud_cover") is not None:
        tags["CLOUD_COVER"] = f"{float(props['eo:cloud_cover']):g}"
    if props.get("platform"):
        tags["SPACECRAFT_NAME"] = str(props["platform"])
    baseline = props.get("s2:processing_baseline")
    if baseline is None and scene.sensor == "sentinel2":
        found = re.search(r"_N(\d{2})(\d{2})", str(props.get("s2:product_uri", "")) + item.id)
        baseline = f"{found.group(1)}.{found.group(2)}" if found else None
    if baseline is not None:
        tags["PROCESSING_BASELINE"] = str(baseline)
    if scene.sensor == "sentinel2" and spectral:
        # DN → reflectance offset of these DNs (what item_to_scene decided from raster:bands,
        # the baseline or the date), written the way the ESA metadata gives it: in DN.
        tags["BOA_ADD_OFFSET"] = f"{spectral[0].offset * 1e4:g}"
    self_href = item.get_self_href()
    if self_href:
        tags["STAC_ITEM"] = _public(self_href)
    return tags


def fetch(
    items: pystac.ItemCollection | Iterable[pystac.Item],
    aoi: Any,
    out_dir: str | PathLike[str],
    bands: Sequence[str] | None = None,
    workers: int = 4,
    retries: int = 3,
    progress: bool = True,
) -> FetchResult:
    """Read the AOI window of each scene's band COGs over HTTP; write one GeoTIFF per scene.

    Only the byte ranges of the COG tiles covering the AOI are requested (GDAL ``/vsicurl/``
    range requests), in each asset's own CRS and grid — nothing is reprojected. Bands coarser
    than the finest one (Sentinel-2 20 m) are repeated onto its grid (nearest, exact: the
    window is snapped to the coarsest pixels).

    Each scene becomes ``out_dir/<collection>/<item id>.tif``: uint16 (as published), band 1
    the quality mask (``SCL`` / ``QA_PIXEL``) when the item has one, then the bands in role
    order, described by their sensor names (``B02``... / ``SR_B2``...), so
    :func:`minewatch.open_tile` and :func:`minewatch.scan_archive` recognise it. Tags: the
    item's ``datetime``, ``PROCESSING_BASELINE``, ``CLOUD_COVER`` (%), ``BOA_ADD_OFFSET`` (DN,
    Sentinel-2), ``STAC_ITEM_ID``; per band ``SOURCE`` (URL), ``SCALE``, ``OFFSET``. Then
    ``out_dir/catalog.json`` (+ ``out_dir/stac/*.json``) describes every scene file in
    ``out_dir`` (:func:`minewatch.io.write_catalog`).

    Parameters
    ----------
    items
        From :func:`search`, or any pystac Items (Sentinel-2 L2A or Landsat C2 L2).
    aoi
        Area of interest: vector file, GeoDataFrame/GeoSeries (any CRS) or lon/lat shapely
        geometry. Its bounding box in the scene's CRS is read.
    out_dir
        Archive folder (created).
    bands
        Band roles (``red``, ``nir``, ``swir1``...) or names (``B04``, ``SR_B5``); default
        :data:`DEFAULT_BANDS`. The quality mask is always added.
    workers
        Scenes fetched at once (threads; each reads its bands one after another).
    retries
        Attempts after the first for a failed read, with back-off of 0.5, 1, 2... s. HTTP 4xx
        answers are not retried.
    progress
        Show a tqdm progress bar (scenes).

    Returns
    -------
    FetchResult
        ``fetched``, ``skipped`` (already complete: a rerun reads nothing), ``failed`` (with
        the reason; such a scene is not written, a rerun tries it again), ``catalog``.

    Raises
    ------
    InputError
        Bad AOI, ``workers`` or ``retries``.

    Examples
    --------
    Items from ``search(...)`` have HTTP asset URLs; local files work the same way (here the
    Sentinel-2 items of the sample archive's catalog):

    >>> import tempfile
    >>> from minewatch.io.stac import read_items
    >>> items = [i for i in read_items("sample_tiles/catalog.json") if i.id.startswith("S2")]
    >>> result = fetch(items[:2], "sample_tiles/aoi.geojson", tempfile.mkdtemp(),
    ...                progress=False)
    >>> [p.name for p in result.fetched], result.failed
    (['S2B_47RMJ_20200214_0_L2A.tif', 'S2B_47RMJ_20210228_0_L2A.tif'], ())
    """
    from tqdm.auto import tqdm

    start = time.perf_counter()
    if int(workers) < 1:
        raise InputError(f"workers={workers}: use at least 1.")
    if int(retries) < 0:
        raise InputError(f"retries={retries}: use 0 or more.")
    if isinstance(bands, str):
        bands = [b for b in re.split(r"[,\s]+", bands) if b]
    root = Path(out_dir)
    geometry = _aoi_4326(aoi)
    todo = list(items.items if isinstance(items, pystac.ItemCollection) else items)
    seen: set[str] = set()
    unique = []
    for item in todo:
        if not isinstance(item, pystac.Item):
            raise InputError(f"fetch expects pystac Items, got a {type(item).__name__}.")
        if item.id not in seen:
            seen.add(item.id)
            unique.append(item)
    root.mkdir(parents=True, exist_ok=True)
    # rasterio's environment is per thread: ship the caller's GDAL options (proxy, AWS
    # credentials...) to the worker threads; they take precedence over the defaults.
    import rasterio

    env = {**GDAL_HTTP_ENV, **(dict(rasterio.env.getenv()) if rasterio.env.hasenv() else {})}
    fetched: list[Path] = []
    skipped: list[Path] = []
    failed: list[FetchFailure] = []
    with ThreadPoolExecutor(max_workers=int(workers)) as pool, \
            tqdm(total=len(unique), unit="scene", desc="fetch", disable=not progress,
                 leave=False) as bar:
        futures = {pool.submit(_fetch_item, item, geometry, root, bands, int(retries), env):
                   item for item in unique}
        try:
            done = as_completed(futures)
            for future in done:
                item = futures[future]
                try:
                    status, value = future.result()
                except Exception as err:  # a bug or an unexpected GDAL error: keep the others
                    status, value = "failed", FetchFailure(item.id, _first_line(err))
                if status == "fetched":
                    fetched.append(value)  # type: ignore[arg-type]
                elif status == "skipped":
                    skipped.append(value)  # type: ignore[arg-type]
                else:
                    failed.append(value)  # type: ignore[arg-type]
                    log.info("%s: not fetched: %s", item.id,
                             value.reason)  # type: ignore[union-attr]
                bar.update(1)
        except KeyboardInterrupt:
            # finished scenes are complete files (atomic writes); the rest start over next time
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    catalog = _write_catalog(root) if (fetched or skipped) else None
    return FetchResult(
        out_dir=root,
        fetched=tuple(sorted(fetched)),
        skipped=tuple(sorted(skipped)),
        failed=tuple(sorted(failed, key=lambda f: f.item_id)),
        catalog=catalog,
        seconds=time.perf_counter() - start,
    )


def _write_catalog(root: Path) -> Path | None:
    """A STAC catalog of every fetched scene file under ``root`` (cloud cover as a property)."""
    import rasterio

    from minewatch.io.stac import write_catalog
    from minewatch.io.tiles import resolve_scene

    scenes = []
    for path in sorted(root.glob("*/*.tif")):
        try:
            with rasterio.open(path) as src:
                tags = src.tags()
            if tags.get(_FETCH_TAG) != "complete":
                continue
            scene = resolve_scene(path)
        except (MinewatchError, OSError) as err:
            log.warning("%s: left out of the catalog (%s)", path, _first_line(err))
            continue
        props = dict(scene.properties)
        if "CLOUD_COVER" in tags:
            props["cloud_cover"] = float(tags["CLOUD_COVER"])
        if "SPACECRAFT_NAME" in tags:
            props["platform"] = tags["SPACECRAFT_NAME"]
        scenes.append(replace(scene, properties=props))
    if not scenes:
        return None
    try:
        return write_catalog(root, scenes, title=f"minewatch fetch: {root.name}")
    except (MinewatchError, OSError) as err:
        raise TileReadError(f"{root}: the STAC catalog could not be written ({err}).") from err
