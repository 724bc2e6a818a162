"""STAC in and out: read scenes from STAC items, write a local STAC catalog of an archive.

Items from the public catalogues researchers use are understood: Planetary Computer and Earth
Search Sentinel-2 L2A (asset keys ``B02``... or common names), USGS / Planetary Computer Landsat
Collection 2 Level-2 (``red``, ``nir08``, ``qa_pixel``...), Planet NICFI / PlanetScope
(a multi-band ``data`` asset with ``eo:bands``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from os import PathLike
from pathlib import Path
from typing import Any

import pandas as pd
import pystac
import shapely

from minewatch.errors import BandError, DateError, InputError
from minewatch.io._dates import check_not_future
from minewatch.io._grid import raster_grid
from minewatch.io._layouts import s2_offset
from minewatch.io._scene import ROLE_ORDER, BandSource, MaskSource, Scene, role_sort_key
from minewatch.io.sensors import PROFILES, SENTINEL2

__all__ = ["item_to_scene", "read_items", "require_bands", "scene_to_item", "write_catalog"]

_EO_EXT = "https://stac-extensions.github.io/eo/v1.1.0/schema.json"
_PROJ_EXT = "https://stac-extensions.github.io/projection/v1.1.0/schema.json"
_RASTER_EXT = "https://stac-extensions.github.io/raster/v1.1.0/schema.json"

#: STAC ``eo:bands`` common names → minewatch roles.
COMMON_NAME_ROLES: dict[str, str] = {
    "coastal": "coastal",
    "blue": "blue",
    "green": "green",
    "yellow": "yellow",
    "red": "red",
    "nir": "nir",
    "nir08": "nir08",
    "swir16": "swir1",
    "swir22": "swir2",
}
_ROLE_COMMON_NAMES = {v: k for k, v in COMMON_NAME_ROLES.items()}

#: Asset keys that name a band without ``eo:bands`` (Earth Search v0/v1, Planetary Computer):
#: Sentinel-2 band names (from the sensor profile), role names and STAC common names.
_KEY_ROLES: dict[str, str] = {
    **SENTINEL2.bands,
    **{role: role for role in ROLE_ORDER},
    **COMMON_NAME_ROLES,
}
_MASK_KEYS = {"scl": "scl", "qa_pixel": "qa_pixel", "udm2": "udm2", "ortho_udm2": "udm2"}
#: Assets that are never spectral bands even when they carry eo:bands.
_SKIP_KEYS = {"visual", "tci", "overview", "preview", "thumbnail", "rendered_preview", "aot", "wvp"}

# Sensor defaults for DN → reflectance when an item carries no usable raster:bands scale.
_DEFAULT_SCALE = {name: PROFILES[name].scale for name in ("sentinel2", "landsat", "planetscope")}
_DEFAULT_OFFSET = {name: PROFILES[name].offset for name in _DEFAULT_SCALE}


def _sensor_of(item: pystac.Item) -> str:
    text = " ".join(
        str(item.properties.get(k, ""))
        for k in ("platform", "constellation", "instruments", "mission")
    ).lower() + " " + (item.collection_id or "").lower() + " " + item.id.lower()
    if "sentinel-2" in text or "sentinel 2" in text or "sentinel2" in text or item.id[:3] in (
        "S2A", "S2B", "S2C"
    ):
        return "sentinel2"
    if "landsat" in text or re.match(r"L[COTE]0[4-9]_", item.id):
        return "landsat"
    if "planet" in text or "psscene" in text or "nicfi" in text:
        return "planetscope"
    return "custom"


def _s2_offset(item: pystac.Item, time: pd.Timestamp) -> float:
    """The −1000 DN (−0.1 reflectance) offset of Sentinel-2 baseline ≥ 04.00 products."""
    baseline = item.properties.get("s2:processing_baseline")
    if baseline is None:
        granule = str(item.properties.get("s2:granule_id", "")) + " " + item.id
        found = re.search(r"_N(\d{2})(\d{2})", granule)
        if found:
            baseline = f"{found.group(1)}.{found.group(2)}"
    return s2_offset(baseline=baseline, time=time)[0]


def _item_time(item: pystac.Item) -> pd.Timestamp:
    value = item.datetime or item.common_metadata.start_datetime
    if value is None:
        raise DateError(f"STAC item {item.id}: no datetime or start_datetime; cannot date it.")
    stamp = pd.Timestamp(value)
    stamp = stamp.tz_convert("UTC").tz_localize(None) if stamp.tzinfo else stamp
    return check_not_future(stamp, source=f"STAC item {item.id} datetime")


def item_to_scene(item: pystac.Item) -> Scene:
    """Describe a STAC item as a :class:`~minewatch.io.Scene`.

    Band roles come from ``eo:bands`` common names, else from well-known asset keys; scale,
    offset and nodata from ``raster:bands``, else from the sensor's defaults (Sentinel-2:
    1e-4 with −0.1 from processing baseline 04.00; Landsat C2 L2: 2.75e-5, −0.2; PlanetScope:
    1e-4). A ``raster:bands`` scale of exactly 1 on integer data of a known sensor (as in Planet
    NICFI items) is read as "not given": those DNs are reflectance × 10000.

    Parameters
    ----------
    item
        A pystac Item whose asset hrefs are absolute or resolvable from its self link.

    Returns
    -------
    Scene

    Raises
    ------
    BandError
        The item has no asset minewatch can map to a band role.

    Examples
    --------
    >>> scene = item_to_scene(read_items("sample_tiles/catalog.json")[0])
    >>> scene.sensor, scene.roles
    ('sentinel2', ('blue', 'green', 'red', 'nir', 'swir1', 'swir2'))
    """
    time = _item_time(item)
    sensor = _sensor_of(item)
    bands: dict[str, BandSource] = {}
    mask: MaskSource | None = None
    for key, asset in item.assets.items():
        href = asset.get_absolute_href() or asset.href
        low = key.lower()
        if low in _MASK_KEYS:
            mask = MaskSource(kind=_MASK_KEYS[low], href=href)  # type: ignore[arg-type]
            continue
        if low in _SKIP_KEYS or (asset.roles and "data" not in asset.roles and low not in _KEY_ROLES
                                 and key not in _KEY_ROLES):
            continue
        eo_bands = asset.extra_fields.get("eo:bands") or []
        raster_bands = asset.extra_fields.get("raster:bands") or []
        if len(eo_bands) > 1:
            candidates = [
                (i + 1, COMMON_NAME_ROLES.get(str(b.get("common_name", "")).lower()), b)
                for i, b in enumerate(eo_bands)
            ]
        else:
            common = str(eo_bands[0].get("common_name", "")) if eo_bands else ""
            role = _KEY_ROLES.get(key) or _KEY_ROLES.get(low)
            if role is None or (sensor != "sentinel2" and common.lower() in COMMON_NAME_ROLES):
                role = COMMON_NAME_ROLES.get(common.lower(), role)
            candidates = [(1, role, eo_bands[0] if eo_bands else {})]
        for index, role, eo in candidates:
            if role is None or role in bands:
                continue
            rb = raster_bands[index - 1] if len(raster_bands) >= index else {}
            scale = rb.get("scale")
            offset = rb.get("offset")
            dtype = str(rb.get("data_type", ""))
            if scale is None or (scale == 1.0 and dtype.startswith(("uint", "int"))
                                 and sensor in _DEFAULT_SCALE):
                scale = _DEFAULT_SCALE.get(sensor, 1.0)
                offset = (
                    _s2_offset(item, time) if sensor == "sentinel2"
                    else _DEFAULT_OFFSET.get(sensor, 0.0)
                )
            nodata = rb.get("nodata", 0 if sensor in _DEFAULT_SCALE else None)
            bands[role] = BandSource(
                role=role,
                href=href,
                index=index,
                name=str(eo.get("name") or key),
                scale=float(scale),
                offset=float(offset or 0.0),
                nodata=None if nodata is None else float(nodata),
            )
    if "nir" not in bands and "nir08" in bands:
        bands["nir"] = _replace_role(bands.pop("nir08"), "nir")
    if not bands:
        raise BandError(
            f"STAC item {item.id}: no asset maps to a band role (assets: {sorted(item.assets)}); "
            "give assets eo:bands common names (blue, green, red, nir, swir16, swir22)."
        )
    cloud = item.properties.get("eo:cloud_cover")
    properties: dict[str, object] = {"stac_item": item.get_self_href() or item.id}
    if cloud is not None:
        properties["cloud_cover"] = float(cloud)
    if item.properties.get("platform"):
        properties["platform"] = item.properties["platform"]
    return Scene(
        id=item.id,
        sensor=sensor,
        bands=tuple(sorted(bands.values(), key=lambda b: role_sort_key(b.role))),
        time=time,
        mask=mask,
        paths=tuple(dict.fromkeys(b.href for b in bands.values())),
        properties=properties,
    )


#: Roles a scene of a known multispectral sensor must have to be analysed like the others.
REQUIRED_ROLES = ("blue", "green", "red", "nir")
#: Asset keys the public catalogues use for the required roles (for messages).
_EXPECTED_KEYS = {
    "sentinel2": {"blue": "B02", "green": "B03", "red": "B04", "nir": "B08"},
    "landsat": {"blue": "blue", "green": "green", "red": "red", "nir": "nir08"},
    "planetscope": {"blue": "data band 1", "green": "data band 2", "red": "data band 3",
                    "nir": "data band 4"},
}


def require_bands(item: pystac.Item, scene: Scene | None = None) -> Scene:
    """The scene of ``item``, or :class:`BandError` naming the assets a known sensor lacks.

    :func:`item_to_scene` keeps whatever bands an item has (``fetch`` may ask for a few); an
    archive item of Sentinel-2, Landsat or PlanetScope without blue, green, red and NIR would
    be analysed with fewer bands than its neighbours, so :func:`minewatch.scan_archive` skips
    it with this reason. (:func:`minewatch.load_stack` given items directly loads the bands
    they have.)

    Examples
    --------
    >>> item = read_items("sample_tiles/catalog.json")[0]
    >>> del item.assets["B08"]
    >>> require_bands(item)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    minewatch.errors.BandError: STAC item ...: missing asset(s) for nir (B08); the item has ...
    """
    scene = scene if scene is not None else item_to_scene(item)
    if scene.sensor in _EXPECTED_KEYS:
        missing = [r for r in REQUIRED_ROLES if r not in scene.roles]
        if missing:
            keys = _EXPECTED_KEYS[scene.sensor]
            raise BandError(
                f"STAC item {item.id}: missing asset(s) for "
                + ", ".join(f"{r} ({keys[r]})" for r in missing)
                + f"; the item has assets {sorted(item.assets)}. Re-fetch the item with all "
                "bands, or drop it from the catalog."
            )
    return scene


def _replace_role(band: BandSource, role: str) -> BandSource:
    from dataclasses import replace

    return replace(band, role=role)


def read_items(source: Any) -> list[pystac.Item]:
    """All items of a STAC catalog, collection, ItemCollection, item file or list of items.

    Parameters
    ----------
    source
        Path of a ``catalog.json`` / ``collection.json`` / item / FeatureCollection JSON, or a
        pystac Catalog, ItemCollection, Item or iterable of Items.
    """
    if isinstance(source, str | PathLike):
        path = Path(source)
        try:
            content = json.loads(path.read_text())
        except (OSError, ValueError) as err:
            raise InputError(f"{path}: not a readable STAC JSON file ({err}).") from err
        try:
            if isinstance(content, list):  # a bare list of item dicts, as some APIs dump them
                items = [pystac.Item.from_dict(d) for d in content]
                for item in items:
                    item.set_self_href(str(path.resolve()))
                return items
            if content.get("type") == "FeatureCollection":
                return list(pystac.ItemCollection.from_file(str(path)).items)
            return read_items(pystac.read_file(str(path)))
        except (pystac.STACError, pystac.STACTypeError, KeyError, TypeError, ValueError) as err:
            raise InputError(f"{path}: not a STAC catalog, collection or item ({err}).") from err
    if isinstance(source, pystac.Item):
        return [source]
    if isinstance(source, pystac.Catalog):
        return list(source.get_items(recursive=True))
    if isinstance(source, pystac.ItemCollection):
        return list(source.items)
    if isinstance(source, Iterable):
        items = list(source)
        if all(isinstance(i, pystac.Item) for i in items):
            return items
    raise InputError(f"Cannot read STAC items from a {type(source).__name__}.")


def scene_to_item(scene: Scene) -> pystac.Item:
    """Describe a scene as a publishable STAC item: one asset per file, absolute hrefs.

    Each asset carries ``eo:bands`` (sensor band names and common names), ``raster:bands``
    (scale, offset, nodata, data type) and projection facts, so :func:`item_to_scene` (and
    odc-stac) read it back without opening the files.
    """
    if scene.time is None:
        raise DateError(f"{scene.id}: a STAC item needs an acquisition date; none is known.")
    files: dict[str, list[BandSource]] = {}
    for band in scene.bands:
        files.setdefault(band.href, []).append(band)
    item_geom = None
    assets: dict[str, pystac.Asset] = {}
    for href, members in files.items():
        grid = raster_grid(href)
        eo, rb = [], []
        for i in range(1, grid.count + 1):
            match = next((b for b in members if b.index == i), None)
            entry: dict[str, Any] = {"name": match.name if match else f"band{i}"}
            if match and match.role in _ROLE_COMMON_NAMES:
                entry["common_name"] = _ROLE_COMMON_NAMES[match.role]
            elif match:
                entry["minewatch:role"] = match.role
            eo.append(entry)
            raster_entry: dict[str, Any] = {"data_type": grid.dtype}
            if match:
                raster_entry.update(scale=match.scale, offset=match.offset)
                if match.nodata is not None:
                    raster_entry["nodata"] = match.nodata
            rb.append(raster_entry)
        key = members[0].name if len(members) == 1 and grid.count == 1 else "data"
        if key in assets:
            key = f"{key}_{len(assets)}"
        assets[key] = pystac.Asset(
            href=str(Path(href).resolve()) if "://" not in href and not href.startswith("/vsi")
            else href,
            media_type=pystac.MediaType.COG,
            roles=["data"],
            extra_fields={
                "eo:bands": eo,
                "raster:bands": rb,
                "proj:epsg": grid.crs.to_epsg(),
                "proj:shape": [grid.height, grid.width],
                "proj:transform": list(grid.transform)[:6],
            },
        )
        if item_geom is None:
            from odc.geo import geom as odc_geom

            item_geom = odc_geom.box(*grid.bounds, crs=grid.crs).to_crs("EPSG:4326").geom
    if scene.mask is not None:
        mask_key = {"scl": "SCL", "qa_pixel": "qa_pixel", "udm2": "udm2"}[scene.mask.kind]
        assets[mask_key] = pystac.Asset(
            href=str(Path(scene.mask.href).resolve()),
            media_type=pystac.MediaType.COG,
            roles=["data-mask"],
        )
    properties: dict[str, Any] = {"minewatch:sensor": scene.sensor}
    if "cloud_cover" in scene.properties:
        properties["eo:cloud_cover"] = scene.properties["cloud_cover"]
    if "platform" in scene.properties:
        properties["platform"] = scene.properties["platform"]
    if scene.sensor.startswith("sentinel2"):
        properties.setdefault("constellation", "sentinel-2")
    elif scene.sensor == "landsat":
        properties.setdefault("constellation", "landsat")
    elif scene.sensor == "planetscope":
        properties.setdefault("constellation", "planetscope")
    if item_geom is None:
        raise BandError(f"{scene.id}: the scene has no band; nothing to describe.")
    item = pystac.Item(
        id=scene.id,
        geometry=shapely.geometry.mapping(item_geom),
        bbox=list(item_geom.bounds),
        datetime=scene.time.to_pydatetime(),
        properties=properties,
        stac_extensions=[_EO_EXT, _PROJ_EXT, _RASTER_EXT],
    )
    for key, asset in assets.items():
        item.add_asset(key, asset)
    return item


def write_catalog(
    root: str | PathLike[str],
    scenes: Iterable[Scene] | None = None,
    *,
    title: str = "minewatch archive",
) -> Path:
    """Write a self-contained STAC catalog (relative links) describing an archive folder.

    Parameters
    ----------
    root
        The archive folder; ``catalog.json`` is written there, one item JSON per scene under
        ``root/stac/<scene id>.json`` with asset hrefs relative to it.
    scenes
        Scenes to describe; default: everything :func:`minewatch.scan_archive` finds in ``root``.
    title
        Catalog title.

    Returns
    -------
    pathlib.Path
        Path of ``catalog.json``.

    Examples
    --------
    >>> import shutil, tempfile
    >>> copy = shutil.copytree("sample_tiles/sentinel2_10m", tempfile.mkdtemp() + "/s2")
    >>> write_catalog(copy).name
    'catalog.json'
    >>> len(read_items(f"{copy}/catalog.json"))
    5
    """
    from minewatch.io.tiles import discover_scenes

    root = Path(root).resolve()
    if scenes is None:
        scenes, _ = discover_scenes(root)
    catalog = pystac.Catalog(id="minewatch-archive", description=title, title=title)
    for scene in sorted(scenes, key=lambda s: (s.time, s.id)):
        catalog.add_item(scene_to_item(scene))
    catalog.normalize_hrefs(
        str(root), strategy=pystac.layout.TemplateLayoutStrategy(item_template="stac")
    )
    catalog.make_all_asset_hrefs_relative()
    catalog.save(catalog_type=pystac.CatalogType.SELF_CONTAINED)
    return root / "catalog.json"
