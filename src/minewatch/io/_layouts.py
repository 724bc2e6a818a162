"""Recognise product layouts on disk and describe them as :class:`~minewatch.io.Scene` records.

Layouts: Sentinel-2 ``.SAFE`` folders and their zips, per-band COG folders (``B02.tif``...),
multi-band GeoTIFFs with band descriptions (ESA ``B02`` or Earth Engine ``B2``), Landsat 8/9
C2 L2 ``*_SR_B*.TIF`` sets, PlanetScope ``*_AnalyticMS_SR*.tif`` (+ ``*_udm2*.tif``) and plain
3-band 8-bit RGB. Only headers and small metadata files are read here, never pixels.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import rasterio
from rasterio.errors import RasterioError

from minewatch.errors import (
    BandError,
    GridError,
    InputError,
    MissingCRSError,
    TileReadError,
    UnknownSensorError,
)
from minewatch.io._dates import date_from_name, parse_date
from minewatch.io._grid import check_raster
from minewatch.io._scene import ROLE_ORDER, BandSource, MaskSource, Scene, role_sort_key
from minewatch.io.sensors import (
    LANDSAT,
    PLANETSCOPE,
    RGB,
    S2_BOA_ADD_OFFSET,
    S2_OFFSET_BASELINE,
    S2_OFFSET_DATE,
    SENTINEL2,
    SENTINEL2_GEE,
    SensorProfile,
    get_profile,
)

BandsArg = Mapping[str | int, str] | None

RASTER_SUFFIXES = (".tif", ".tiff", ".jp2", ".vrt", ".img", ".nc")
#: Sidecar files never treated as rasters (nor reported as skipped).
SIDECAR_SUFFIXES = (
    ".json", ".geojson", ".xml", ".txt", ".md", ".csv", ".html", ".jpg", ".jpeg", ".png",
    ".gpkg", ".shp", ".shx", ".dbf", ".prj", ".cpg", ".qml", ".ovr", ".msk", ".py", ".yaml",
    ".yml", ".toml", ".log", ".kml", ".parquet", ".gml", ".safe_manifest",
)
#: Required roles of multi-file products (per-band folders, SAFE, Landsat sets).
REQUIRED_ROLES = ("blue", "green", "red", "nir")
MASK_KINDS = ("scl", "qa_pixel", "udm2")

_S2_BAND = re.compile(
    r"^(?:(?P<prefix>.*?)_)?(?P<band>B0[1-9]|B1[0-2]|B8A|SCL)(?:_(?P<res>10|20|60)m)?$",
    re.IGNORECASE,
)
_S2_EXTRA = re.compile(r"^(?:.*_)?(AOT|WVP|TCI|PVI|L2A_PVI|B10)(?:_\d{2}m)?$", re.IGNORECASE)
_LANDSAT = re.compile(
    r"^(?P<product>L(?P<sensor>[COTE])(?P<mission>0[4-9])_L2S[PR]_\d{6}_\d{8}_\d{8}_\d{2}_[A-Z0-9]{2})"
    r"_(?P<band>SR_B\d|QA_PIXEL|QA_RADSAT|SR_QA_AEROSOL|SR_ATMOS_OPACITY|SR_CLOUD_QA|ST_\w+|ANG|MTL"
    r"|thumb_\w+)$",
    re.IGNORECASE,
)
_PLANET_SR = re.compile(r"^(?P<prefix>.+?)_AnalyticMS_SR", re.IGNORECASE)
_SAFE_NAME = re.compile(r"S2[A-D]_MSIL2A_\d{8}T\d{6}_N(\d{2})(\d{2})_R\d{3}_T\w{5}_\d{8}T\d{6}")
_GRANULE_IMG = re.compile(
    r"GRANULE/[^/]+/IMG_DATA/R(?P<res>10|20|60)m/[^/]*_(?P<band>B\d{2}|B8A|SCL)_(?:10|20|60)m\.jp2$",
    re.IGNORECASE,
)
_DATE_TAGS = ("ACQUISITION_DATE", "DATE_ACQUIRED", "SENSING_TIME", "DATATAKE_SENSING_START",
              "datetime", "TIFFTAG_DATETIME")


@dataclass(frozen=True)
class Header:
    """Header facts of one raster file."""

    href: str
    count: int
    dtype: str
    descriptions: tuple[str, ...]
    tags: Mapping[str, str]
    nodata: float | None
    crs: Any
    transform: Any
    width: int
    height: int
    block_height: int = 1


def read_header(href: str, *, require_crs: bool = True) -> Header:
    """Open ``href`` (headers only), wrapping GDAL errors into minewatch errors."""
    try:
        with rasterio.open(href) as src:
            if src.count == 0:
                subs = list(src.subdatasets)[:3]
                raise TileReadError(
                    f"{href}: holds no raster band"
                    + (f" but subdatasets ({', '.join(subs)}); open one of them" if subs else "")
                    + " — convert it to a GeoTIFF (gdal_translate) or pass a band file."
                )
            header = Header(
                href=href,
                count=src.count,
                dtype=src.dtypes[0],
                descriptions=tuple(d or "" for d in src.descriptions),
                tags={**src.tags(), **src.tags(1)},
                nodata=src.nodata,
                crs=src.crs,
                transform=src.transform,
                width=src.width,
                height=src.height,
                block_height=src.block_shapes[0][0],
            )
            nbits = src.tags(1, ns="IMAGE_STRUCTURE").get("NBITS") if src.count else None
    except TileReadError:
        raise
    except (RasterioError, OSError) as err:
        raise TileReadError(
            f"{href}: cannot be opened as a raster ({_short(err)}). Check that it is a complete "
            "GeoTIFF/JP2 (re-download or re-export it) and that the path is right."
        ) from err
    except Exception as err:  # CPLE_* errors from GDAL drivers on corrupt files
        raise TileReadError(f"{href}: the raster is corrupt ({_short(err)}); re-download it.") \
            from err
    if require_crs and header.crs is None:
        raise MissingCRSError(
            f"{href}: the raster has no CRS. Assign one, e.g. "
            f"`rio edit-info --crs EPSG:32647 {href}`, then retry."
        )
    check_raster(href, dtype=header.dtype, nbits=nbits, transform=header.transform,
                 width=header.width, height=header.height)
    return header


def crs_name(crs: Any) -> str:
    """``EPSG:32647`` when the CRS has a code, else its WKT (for messages)."""
    if crs is None:
        return "no CRS"
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else crs.to_wkt()[:80]


def check_same_crs(label: str, header: Header, first: Header) -> None:
    """Raise :class:`GridError` when two files of one scene are in different CRSs."""
    if header.crs != first.crs:
        raise GridError(
            f"{label}: the files of one scene must share one CRS, but {header.href} is in "
            f"{crs_name(header.crs)} and {first.href} in {crs_name(first.crs)}; reproject "
            f"the odd one (gdalwarp -t_srs {crs_name(first.crs)} ...) or re-download the scene."
        )


def _short(err: BaseException) -> str:
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return text[:200]


# --- dates and Sentinel-2 offsets ------------------------------------------------------------

def _date_from_tags(tags: Mapping[str, str], href: str) -> pd.Timestamp | None:
    for key in _DATE_TAGS:
        for k, v in tags.items():
            if k.upper() == key.upper() and str(v).strip():
                return parse_date(v, source=f"{href} tag {k}")
    return None


def _date_from_names(*names: str | Path) -> pd.Timestamp | None:
    for name in names:
        found = date_from_name(name)
        if found is not None:
            return found
    return None


def _stac_item_beside(folder: Path, header: Header) -> dict[str, Any] | None:
    """A STAC item JSON in ``folder`` that describes the raster of ``header``."""
    matches = []
    for path in sorted(folder.glob("*.json")):
        try:
            item = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if not isinstance(item, dict) or item.get("type") != "Feature":
            continue
        props = item.get("properties") or {}
        epsg = props.get("proj:epsg")
        if epsg is not None and header.crs is not None and header.crs.to_epsg() != epsg:
            continue
        matches.append(item)
    return matches[0] if len(matches) >= 1 else None


def s2_offset(
    *,
    baseline: str | float | None = None,
    boa_add_offset: str | float | None = None,
    time: pd.Timestamp | None = None,
) -> tuple[float, str]:
    """Reflectance offset of a Sentinel-2 L2A product and the rule that decided it."""
    if boa_add_offset is not None:
        return float(boa_add_offset) / 1e4, f"BOA_ADD_OFFSET {float(boa_add_offset):g}"
    if baseline is not None:
        try:
            value = float(str(baseline).strip())
        except ValueError:
            value = None
        if value is not None:
            off = S2_BOA_ADD_OFFSET / 1e4 if value >= S2_OFFSET_BASELINE else 0.0
            return off, f"processing baseline {value:05.2f}"
    if time is not None and time >= pd.Timestamp(S2_OFFSET_DATE):
        return S2_BOA_ADD_OFFSET / 1e4, f"acquired on/after {S2_OFFSET_DATE} (baseline ≥ 04.00)"
    return 0.0, "acquired before 2022-01-25 (baseline < 04.00)" if time is not None else "unknown"


def _tag(tags: Mapping[str, str], key: str) -> str | None:
    for k, v in tags.items():
        if k.upper() == key.upper():
            return str(v)
    return None


# --- band mapping ------------------------------------------------------------------------------

def _norm_bands(bands: BandsArg, label: str) -> dict[str | int, str]:
    """Validate ``bands=``: keys → names (str) or 1-based indices (int); values → roles."""
    out: dict[str | int, str] = {}
    for key, role in dict(bands or {}).items():
        k: str | int = key
        if isinstance(key, str) and key.strip().isdigit():
            k = int(key.strip())
        if isinstance(k, bool) or not isinstance(k, int | str):
            raise BandError(f"{label}: bands= key {key!r} must be a band name or 1-based index.")
        if isinstance(k, int) and k < 1:
            raise BandError(f"{label}: band indices are 1-based; got {k} in bands=.")
        r = str(role).lower()
        if r not in ROLE_ORDER and r not in MASK_KINDS:
            raise BandError(
                f"{label}: unknown role {role!r} in bands=; use one of {', '.join(ROLE_ORDER)} "
                f"(or {', '.join(MASK_KINDS)} for a quality band)."
            )
        out[k] = r
    if not out:
        raise BandError(f"{label}: bands= is empty; map at least one band, e.g. {{3: 'red'}}.")
    roles = [r for r in out.values() if r not in MASK_KINDS]
    if len(set(roles)) != len(roles):
        raise BandError(f"{label}: a role appears twice in bands={dict(bands or {})}.")
    return out


def _custom_scale(dtype: str) -> float:
    kind = np.dtype(dtype)
    if kind == np.uint8:
        return 1 / 255
    return 1e-4 if np.issubdtype(kind, np.integer) else 1.0


def _describe(header: Header) -> str:
    desc = ", ".join(repr(d) for d in header.descriptions) if any(header.descriptions) else "none"
    return f"{header.count} band(s) of {header.dtype}, band descriptions: {desc}"


def _how_to_pass(header: Header) -> str:
    roles = ("blue", "green", "red", "nir")[: max(1, min(header.count, 4))]
    example = ", ".join(f"{i}: {r!r}" for i, r in enumerate(roles, start=1))
    return (f"Pass sensor= (one of sentinel2, sentinel2_gee, landsat, planetscope, rgb) or map "
            f"bands to roles, e.g. open_tile(path, bands={{{example}}}) (keys: band descriptions "
            "or 1-based indices).")


def _desc_matches(header: Header, profile: SensorProfile) -> dict[int, str]:
    """1-based index → band name, for descriptions naming ``profile`` bands or its mask."""
    out = {}
    for i, desc in enumerate(header.descriptions, start=1):
        name = desc.strip()
        if profile.role(name) is not None or profile.is_mask(name):
            out[i] = name
    return out


def _single_file_scene(
    href: str, header: Header, profile: SensorProfile | None, bands: BandsArg, *,
    label: str, time: pd.Timestamp | None, scene_id: str, paths: tuple[str, ...],
    properties: Mapping[str, object] | None = None, offset: float | None = None,
) -> Scene:
    """A scene whose bands all live in the one file ``href``."""
    props = dict(properties or {})
    names_by_index: dict[int, str] = {}
    if profile is not None:
        names_by_index = _desc_matches(header, profile)
        if not any(profile.role(n) for n in names_by_index.values()) and header.count in \
                profile.layouts:
            names_by_index = dict(enumerate(profile.layouts[header.count], start=1))
    mapping: dict[int, tuple[str, str]] = {}  # index → (name, role or mask kind)
    if bands:
        wanted = _norm_bands(bands, label)
        lowered = {d.strip().lower(): i for i, d in enumerate(header.descriptions, start=1) if d}
        lowered.update({n.lower(): i for i, n in names_by_index.items()})
        for key, role in wanted.items():
            if isinstance(key, int):
                if key > header.count:
                    raise BandError(
                        f"{label}: bands= names band {key} but the file has {header.count} "
                        f"band(s) ({_describe(header)}). Use indices 1..{header.count}."
                    )
                index = key
            elif key.lower() in lowered:
                index = lowered[key.lower()]
            else:
                raise BandError(
                    f"{label}: bands= names {key!r}, which is not a band of this file "
                    f"({_describe(header)}). Use a description or a 1-based index."
                )
            name = names_by_index.get(index) or header.descriptions[index - 1] or f"band{index}"
            mapping[index] = (name, role)
    elif profile is not None:
        for index, name in names_by_index.items():
            role = profile.role(name)
            mapping[index] = (name, role if role else profile.mask_kind or "")
        if not any(r in ROLE_ORDER for _, r in mapping.values()):
            raise BandError(
                f"{label}: sensor={profile.name!r} but no band of the file could be matched to "
                f"its bands ({_describe(header)}; expected descriptions like "
                f"{', '.join(list(profile.bands)[:4])}). " + _how_to_pass(header)
            )
    if profile is None:
        scale, base_offset, nodata, sensor = _custom_scale(header.dtype), 0.0, header.nodata, \
            "custom"
    else:
        scale, base_offset, sensor = profile.scale, profile.offset, profile.name
        nodata = header.nodata if header.nodata is not None else profile.nodata
    if offset is not None:
        base_offset = offset
    band_list, mask = [], None
    for index, (name, role) in sorted(mapping.items()):
        if role in MASK_KINDS:
            if mask is not None:
                raise BandError(f"{label}: two quality bands mapped; keep one.")
            mask = MaskSource(kind=role, href=href, index=index)  # type: ignore[arg-type]
            continue
        band_list.append(BandSource(role=role, href=href, index=index, name=name, scale=scale,
                                    offset=base_offset, nodata=nodata))
    band_list.sort(key=lambda b: role_sort_key(b.role))
    return Scene(id=scene_id, sensor=sensor, bands=tuple(band_list), time=time, mask=mask,
                 paths=paths, properties=props)


def _select_bands(scene: Scene, bands: BandsArg, label: str) -> Scene:
    """Apply ``bands=`` (sensor band names → roles) to a multi-file scene."""
    wanted = _norm_bands(bands, label)
    by_name = {b.name.upper(): b for b in scene.bands}
    out, mask = [], scene.mask
    for key, role in wanted.items():
        if isinstance(key, int) or key.upper() not in by_name:
            raise BandError(
                f"{label}: bands= names {key!r}, but this {scene.sensor} product has the bands "
                f"{', '.join(sorted(by_name))}; use those names as keys."
            )
        src = by_name[key.upper()]
        if role in MASK_KINDS:
            raise BandError(f"{label}: the quality band of this product is found automatically.")
        out.append(BandSource(role=role, href=src.href, index=src.index, name=src.name,
                              scale=src.scale, offset=src.offset, nodata=src.nodata))
    out.sort(key=lambda b: role_sort_key(b.role))
    return Scene(id=scene.id, sensor=scene.sensor, bands=tuple(out), time=scene.time, mask=mask,
                 paths=scene.paths, properties=scene.properties)


def _require(scene: Scene, label: str, found: Sequence[str]) -> Scene:
    missing = [r for r in REQUIRED_ROLES if r not in scene.roles]
    if missing:
        profile = get_profile(scene.sensor)
        need = [n for n, r in profile.bands.items() if r in missing]
        raise BandError(
            f"{label}: the {scene.sensor} product lacks required band(s) {', '.join(need)} "
            f"({', '.join(missing)}); found {', '.join(found) or 'none'}. Add the missing "
            "file(s) (re-download the product), or pass bands={...} to open only the bands "
            "present."
        )
    return scene


# --- multi-file layouts ------------------------------------------------------------------------

def s2_band_files(folder: Path, names: Sequence[str]) -> dict[str, dict[str, str]]:
    """Group Sentinel-2 per-band files of one folder by product prefix: prefix → band → href."""
    groups: dict[str, dict[str, str]] = {}
    for name in names:
        path = Path(name)
        if path.suffix.lower() not in RASTER_SUFFIXES:
            continue
        found = _S2_BAND.match(path.stem)
        if found:
            groups.setdefault((found["prefix"] or "").upper(), {})[found["band"].upper()] = \
                str(folder / name)
    return groups


def s2_band_scene(
    files: Mapping[str, str], *, scene_id: str, paths: tuple[str, ...], folder: Path | None,
    names_for_date: Sequence[str | Path], baseline: str | None = None,
    boa_add_offset: float | None = None, time: pd.Timestamp | None = None,
    bands: BandsArg = None, label: str,
) -> Scene:
    """A Sentinel-2 L2A scene from band name → href (per-band COGs or SAFE JP2s)."""
    role_files = {b: h for b, h in files.items() if SENTINEL2.role(b)}
    if not role_files:
        raise BandError(f"{label}: no Sentinel-2 band file (B02, B03, B04, B08...) found.")
    first = read_header(role_files[sorted(role_files)[0]])
    props: dict[str, object] = {}
    tags = first.tags
    if time is None:
        time = _date_from_tags(tags, first.href)
    item = _stac_item_beside(folder, first) if folder is not None else None
    if item is not None:
        p = item.get("properties") or {}
        if time is None and p.get("datetime"):
            time = parse_date(p["datetime"], source=f"{folder} STAC item {item.get('id')}")
        baseline = baseline or p.get("s2:processing_baseline")
        if p.get("earthsearch:boa_offset_applied") is True and boa_add_offset is None:
            boa_add_offset = 0.0
        if "eo:cloud_cover" in p:
            props["cloud_cover"] = float(p["eo:cloud_cover"])
        props["stac_item"] = str(item.get("id"))
    if time is None:
        time = _date_from_names(*names_for_date)
    tag_offset = _tag(tags, "BOA_ADD_OFFSET")
    if tag_offset is not None:
        boa_add_offset = float(tag_offset)
    baseline = _tag(tags, "PROCESSING_BASELINE") or baseline
    offset, rule = s2_offset(baseline=baseline, boa_add_offset=boa_add_offset, time=time)
    props.update(offset_rule=rule)
    if baseline is not None:
        props["processing_baseline"] = str(baseline)
    out = []
    for name, href in role_files.items():
        header = first if href == first.href else read_header(href)
        check_same_crs(label, header, first)
        out.append(BandSource(role=SENTINEL2.bands[name], href=href, index=1, name=name,
                              scale=SENTINEL2.scale, offset=offset,
                              nodata=header.nodata if header.nodata is not None else 0))
    out.sort(key=lambda b: role_sort_key(b.role))
    mask = None
    if "SCL" in files:
        check_same_crs(label, read_header(files["SCL"]), first)
        mask = MaskSource(kind="scl", href=files["SCL"])
    scene = Scene(id=scene_id, sensor="sentinel2", bands=tuple(out), time=time, mask=mask,
                  paths=paths, properties=props)
    if bands:
        return _select_bands(scene, bands, label)
    return _require(scene, label, sorted(files))


def safe_scene(path: Path, bands: BandsArg = None) -> Scene:
    """A Sentinel-2 L2A ``.SAFE`` folder or its ``.zip`` (read through ``/vsizip/``)."""
    label = str(path)
    if path.is_dir():
        members = [p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file()]
        prefix = str(path.resolve())

        def read_text(member: str) -> str:
            return (path / member).read_text(errors="replace")
    else:
        try:
            with zipfile.ZipFile(path) as zf:
                members = zf.namelist()
        except (OSError, zipfile.BadZipFile) as err:
            raise TileReadError(f"{path}: not a readable zip file ({err}); re-download it.") \
                from err
        prefix = f"/vsizip/{path.resolve()}"

        def read_text(member: str) -> str:
            with zipfile.ZipFile(path) as zf:
                return zf.read(member).decode(errors="replace")
    best: dict[str, tuple[int, str]] = {}
    mtd = None
    for member in members:
        found = _GRANULE_IMG.search(member)
        if found:
            band, res = found["band"].upper(), int(found["res"])
            if band not in best or res < best[band][0]:
                best[band] = (res, f"{prefix}/{member}")
        elif member.rsplit("/", 1)[-1].upper() == "MTD_MSIL2A.XML":
            mtd = member
    if not best:
        raise UnknownSensorError(
            f"{path}: no GRANULE/*/IMG_DATA/R10m|R20m/*_B02_10m.jp2 files found; this is not a "
            "Sentinel-2 L2A .SAFE product (or its zip). Unpack it or pass the band files."
        )
    safe_name = next((m.split("/")[0] for m in members if m.split("/")[0].endswith(".SAFE")),
                     path.name)
    baseline, boa, time = None, None, None
    name_match = _SAFE_NAME.search(safe_name) or _SAFE_NAME.search(path.name)
    if name_match:
        baseline = f"{name_match.group(1)}.{name_match.group(2)}"
    if mtd is not None:
        text = read_text(mtd)
        if found := re.search(r"<PROCESSING_BASELINE>\s*([\d.]+)\s*<", text):
            baseline = found.group(1)
        if found := re.search(r"<BOA_ADD_OFFSET[^>]*>\s*(-?[\d.]+)\s*<", text):
            boa = float(found.group(1))
        if found := re.search(r"<PRODUCT_START_TIME>\s*([^<]+?)\s*<", text):
            time = parse_date(found.group(1), source=f"{path} {mtd} PRODUCT_START_TIME")
    if time is None:
        time = _date_from_names(safe_name, path.name)
    scene_id = re.sub(r"\.(SAFE|zip)$", "", re.sub(r"\.SAFE\.zip$", "", safe_name), flags=re.I)
    files = {b: href for b, (_, href) in best.items()}
    return s2_band_scene(files, scene_id=scene_id, paths=(str(path),), folder=None,
                         names_for_date=(safe_name,), baseline=baseline, boa_add_offset=boa,
                         time=time, bands=bands, label=label)


def landsat_groups(folder: Path, names: Sequence[str]) -> dict[str, dict[str, str]]:
    """Landsat C2 L2 files of one folder by product id: product → band (``SR_B4``...) → href."""
    groups: dict[str, dict[str, str]] = {}
    for name in names:
        found = _LANDSAT.match(Path(name).stem)
        if found:
            groups.setdefault(found["product"], {})[found["band"].upper()] = str(folder / name)
    return groups


def landsat_scene(product: str, files: Mapping[str, str], folder: Path,
                  bands: BandsArg = None) -> Scene:
    """A Landsat 8/9 Collection 2 Level-2 scene from its ``SR_B*`` (+ ``QA_PIXEL``) files."""
    label = f"{folder / product}_*"
    found = _LANDSAT.match(product + "_SR_B1")
    if found is None or found["mission"] not in ("08", "09") or found["sensor"].upper() != "C":
        raise UnknownSensorError(
            f"{label}: only Landsat 8/9 OLI Collection 2 Level-2 (LC08/LC09) band numbering is "
            "known; Landsat 4-7 number their bands differently. Pass bands={'SR_B3': 'red', "
            "...} with sensor='landsat'."
        )
    time = None
    mtl = folder / f"{product}_MTL.txt"
    if mtl.exists():
        text = mtl.read_text(errors="replace")
        day = re.search(r'DATE_ACQUIRED\s*=\s*"?([\d-]+)', text)
        clock = re.search(r'SCENE_CENTER_TIME\s*=\s*"?([\d:.]+)', text)
        if day:
            stamp = f"{day.group(1)}T{clock.group(1)[:8]}" if clock else day.group(1)
            time = parse_date(stamp, source=f"{mtl} DATE_ACQUIRED")
    if time is None:
        time = date_from_name(product)
    out = []
    first: Header | None = None
    for name, role in LANDSAT.bands.items():
        if name in files:
            header = read_header(files[name])
            first = first or header
            check_same_crs(label, header, first)
            out.append(BandSource(role=role, href=files[name], index=1, name=name,
                                  scale=LANDSAT.scale, offset=LANDSAT.offset,
                                  nodata=header.nodata if header.nodata is not None else 0))
    mask = MaskSource(kind="qa_pixel", href=files["QA_PIXEL"]) if "QA_PIXEL" in files else None
    paths = tuple(sorted(h for n, h in files.items() if n in LANDSAT.bands or n == "QA_PIXEL"))
    scene = Scene(id=product, sensor="landsat", bands=tuple(out), time=time, mask=mask,
                  paths=paths, properties={"platform": f"landsat-{int(found['mission'])}"})
    if bands:
        return _select_bands(scene, bands, label)
    return _require(scene, label, sorted(n for n in files if n.startswith("SR_B")))


def planet_udm2(href: Path, names: Sequence[str]) -> Path | None:
    """The UDM2 file beside a PlanetScope SR file (same product prefix), if any."""
    found = _PLANET_SR.match(href.name)
    if not found:
        return None
    prefix = found["prefix"]
    base = prefix[:-3] if prefix.upper().endswith("_3B") else prefix
    for name in sorted(names):
        low = name.lower()
        if "udm2" in low and name.startswith(base) and Path(name).suffix.lower() in (".tif",
                                                                                     ".tiff"):
            return href.parent / name
    return None


def planet_scene(href: Path, names: Sequence[str], bands: BandsArg = None,
                 header: Header | None = None) -> Scene:
    """A PlanetScope 4- or 8-band surface reflectance file (+ its UDM2)."""
    header = header or read_header(str(href))
    if header.count not in PLANETSCOPE.layouts and not bands:
        raise UnknownSensorError(
            f"{href}: a PlanetScope AnalyticMS_SR file should have 4 or 8 bands, this one has "
            f"{_describe(header)}. " + _how_to_pass(header)
        )
    scene = _single_file_scene(
        str(href), header, PLANETSCOPE, bands, label=str(href),
        time=_date_from_names(href.name, href.parent.name), scene_id=href.stem,
        paths=(str(href),), properties={"platform": "planetscope"},
    )
    udm2 = planet_udm2(href, names)
    if udm2 is not None:
        udm = read_header(str(udm2))
        if udm.count != 8:
            raise BandError(f"{udm2}: a UDM2 file has 8 bands, this one has {udm.count}.")
        scene = Scene(id=scene.id, sensor=scene.sensor, bands=scene.bands, time=scene.time,
                      mask=MaskSource(kind="udm2", href=str(udm2)),
                      paths=(*scene.paths, str(udm2)), properties=scene.properties)
    return scene


# --- one file ----------------------------------------------------------------------------------

def _recognise(header: Header) -> tuple[SensorProfile | None, dict[int, str]]:
    """Guess the profile of a multi-band file from descriptions, band count and dtype."""
    descs = [d.strip() for d in header.descriptions]
    upper = {d.upper() for d in descs if d}
    esa = {n for n in SENTINEL2.bands if re.fullmatch(r"B\d{2}", n)} | {"B8A"}
    if len(upper & esa) >= 3 and upper & {"B02", "B03", "B04", "B08"}:
        return SENTINEL2, _desc_matches(header, SENTINEL2)
    gee = {n for n in SENTINEL2_GEE.bands if re.fullmatch(r"B\d{1,2}", n)}
    if len(upper & gee) >= 3 and upper & {"B2", "B3", "B4", "B8"}:
        return SENTINEL2_GEE, _desc_matches(header, SENTINEL2_GEE)
    if len(upper & {n.upper() for n in LANDSAT.bands}) >= 3:
        return LANDSAT, _desc_matches(header, LANDSAT)
    planet8 = tuple(n.upper() for n in PLANETSCOPE.layouts[8])
    if tuple(d.upper() for d in descs) == planet8:
        return PLANETSCOPE, {}
    if header.count == 3 and header.dtype == "uint8":
        return RGB, {}
    return None, {}


def file_scene(path: Path, sensor: str | None, bands: BandsArg,
               sibling_names: Sequence[str] | None = None) -> Scene:
    """The scene of one raster file (no grouping with siblings)."""
    href = str(path)
    header = read_header(href)
    names = sibling_names if sibling_names is not None else _listdir(path.parent)
    time = _date_from_tags(header.tags, href) or _date_from_names(path.name, path.parent.name)
    if sensor is not None:
        profile: SensorProfile | None = get_profile(sensor)
    elif _PLANET_SR.match(path.name):
        return planet_scene(path, names, bands, header)
    else:
        profile, _ = _recognise(header)
        if profile is None and not bands:
            raise UnknownSensorError(
                f"{href}: cannot tell which sensor made this file ({_describe(header)}). "
                + _how_to_pass(header)
            )
    if profile is PLANETSCOPE:
        return planet_scene(path, names, bands, header)
    offset = None
    props: dict[str, object] = {}
    if profile is SENTINEL2:
        offset, rule = s2_offset(
            baseline=_tag(header.tags, "PROCESSING_BASELINE"),
            boa_add_offset=_tag(header.tags, "BOA_ADD_OFFSET"), time=time,
        )
        props["offset_rule"] = rule
    return _single_file_scene(href, header, profile, bands, label=href, time=time,
                              scene_id=path.stem, paths=(href,), properties=props, offset=offset)


def _listdir(folder: Path) -> list[str]:
    try:
        return sorted(p.name for p in folder.iterdir() if p.is_file())
    except OSError:
        return []


def is_sidecar(path: Path) -> bool:
    """True for metadata, thumbnails, vectors and truth/mask files that are never scenes."""
    name = path.name.lower()
    if name.endswith(".aux.xml") or path.suffix.lower() in SIDECAR_SUFFIXES:
        return True
    return "_truth" in name or "_mask" in name or name.startswith(".")


def is_safe(path: Path) -> bool:
    """A ``.SAFE`` folder, or a zip holding one."""
    if path.is_dir():
        return path.suffix.upper() == ".SAFE" or (path / "GRANULE").is_dir()
    if path.suffix.lower() == ".zip":
        if _SAFE_NAME.search(path.name) or ".SAFE" in path.name.upper():
            return True
        try:
            with zipfile.ZipFile(path) as zf:
                return any("/GRANULE/" in m or m.startswith("GRANULE/") for m in zf.namelist())
        except (OSError, zipfile.BadZipFile):
            return False
    return False


def group_folder(folder: Path, names: Sequence[str], sensor: str | None, bands: BandsArg,
                 errors: list[Exception] | None = None,
                 ) -> tuple[list[Scene], list[tuple[str, str]]]:
    """Group the files of one folder (no recursion) into scenes; return (scenes, skipped).

    ``errors``, when given, collects the exceptions behind the skipped entries.
    """
    scenes: list[Scene] = []
    skipped: list[tuple[str, str]] = []
    used: set[str] = set()
    names = sorted(n for n in names if not is_sidecar(folder / n))

    def attempt(paths: Sequence[str], build) -> None:
        used.update(paths)
        try:
            scenes.append(build())
        except (TileReadError, InputError) as err:  # one bad file never stops a scan
            if errors is not None:
                errors.append(err)
            skipped.append((str(folder / paths[0]) if len(paths) == 1 else
                            f"{folder}/{{{','.join(paths)}}}", str(err)))

    lower_names = {n: n.lower() for n in names}
    for n in names:
        if lower_names[n].endswith(".zip"):
            used.add(n)
            if is_safe(folder / n):
                attempt([n], lambda n=n: safe_scene(folder / n, bands))
            else:
                skipped.append((str(folder / n), "zip without a Sentinel-2 .SAFE product"))
    if sensor in (None, "landsat", LANDSAT):
        for product, files in landsat_groups(folder, names).items():
            members = [Path(h).name for h in files.values()]
            if not any(b.startswith("SR_B") for b in files):
                used.update(members)
                continue
            attempt(members, lambda p=product, f=files: landsat_scene(p, f, folder, bands))
    if sensor in (None, "sentinel2", SENTINEL2):
        for prefix, files in s2_band_files(folder, [n for n in names if n not in used]).items():
            members = [Path(h).name for h in files.values()]
            extras = [n for n in names if _S2_EXTRA.match(Path(n).stem) and n not in used]
            if sum(1 for b in files if SENTINEL2.role(b)) < 2:
                continue  # a lone B04.tif is a single-file scene
            scene_id = prefix or folder.name
            used.update(extras)
            attempt(members, lambda f=files, s=scene_id, m=members: s2_band_scene(
                f, scene_id=s, paths=tuple(sorted(str(folder / x) for x in m)), folder=folder,
                names_for_date=(s, folder.name), bands=bands, label=str(folder)))
    udm2_used = set()
    for n in names:
        if n not in used and _PLANET_SR.match(n):
            udm = planet_udm2(folder / n, names)
            if udm is not None:
                udm2_used.add(udm.name)
    for n in names:
        if n in used or n in udm2_used:
            continue
        path = folder / n
        if path.suffix.lower() not in RASTER_SUFFIXES:
            skipped.append((str(path), f"not a raster file type ({path.suffix or 'no suffix'})"))
            continue
        attempt([n], lambda p=path: file_scene(p, sensor, bands, names))
    return scenes, skipped
