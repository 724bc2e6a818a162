"""Write rendered scenes in the sensor file layouts minewatch ingests, and the truth beside them.

Layouts (``layout=``), one scene per date:

``sentinel2``
    ``S2B_47RMJ_YYYYMMDD_0_L2A/B02.tif B03.tif B04.tif B08.tif`` (10 m) and ``B11.tif B12.tif
    SCL.tif`` (20 m, 2×2 means of the 10 m truth), COGs, uint16, nodata 0.
``sentinel2_multiband``
    ``S2B_47RMJ_YYYYMMDD_L2A_stack.tif``: bands B02,B03,B04,B08,B11,B12, all at the grid
    resolution.
``sentinel2_gee``
    ``S2_SR_HARMONIZED_YYYYMMDD_47RMJ.tif``: bands B2,B3,B4,B8,B11,B12, DN = reflectance × 10000.
``landsat``
    ``LC08_L2SP_131042_YYYYMMDD_YYYYMMDD_02_T1/…_SR_B1.TIF … _SR_B7.TIF, _QA_PIXEL.TIF``
    (LC09 on some dates).
``planetscope``
    ``YYYYMMDD_HHMMSS_XXXX_3B_AnalyticMS_SR.tif`` (blue, green, red, nir) and
    ``YYYYMMDD_HHMMSS_XXXX_3B_udm2.tif`` (8 bands).
``rgb``
    ``rgb_YYYYMMDD.tif``: 3-band uint8, DN = reflectance × 255 clipped to 1–255, 0 is nodata.

Sentinel-2 DN rule: DN = round(reflectance × 10000) + 1000 from 2022-01-25 (processing
baseline 04.00; the band files carry ``BOA_ADD_OFFSET=-1000``), DN = round(reflectance × 10000)
before (baseline 02.14). Every band file carries ``TIFFTAG_DATETIME`` and ``ACQUISITION_DATE``
tags taken from the scene date, never from the clock, so the same seed gives the same bytes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import rasterio
from pyproj import CRS, Transformer
from scipy import ndimage

from minewatch.errors import ConfigError
from minewatch.synth.render import RenderedScene

__all__ = ["LAYOUTS", "landsat_dn", "mgrs_tile", "s2_dn", "scl_from_truth", "write_scene"]

#: Layouts :func:`write_scene` knows.
LAYOUTS: tuple[str, ...] = ("sentinel2", "sentinel2_multiband", "sentinel2_gee", "landsat",
                            "planetscope", "rgb")
#: First acquisition date with the Sentinel-2 processing baseline 04.00 (+1000 DN offset).
S2_OFFSET_DATE = pd.Timestamp("2022-01-25")
#: Sentinel-2 band names of the six rendered bands.
S2_BANDS = ("B02", "B03", "B04", "B08", "B11", "B12")
#: Earth Engine names of the same bands.
GEE_BANDS = ("B2", "B3", "B4", "B8", "B11", "B12")
#: Landsat 8/9 SR band files and which rendered band each takes (coastal from blue).
LANDSAT_BANDS = (("SR_B1", 0), ("SR_B2", 0), ("SR_B3", 1), ("SR_B4", 2), ("SR_B5", 3),
                 ("SR_B6", 4), ("SR_B7", 5))
#: Landsat C2 L2 surface reflectance scale and offset.
LANDSAT_SCALE, LANDSAT_OFFSET = 0.0000275, -0.2
#: Scene-centre UTC time of day per layout family (Kachin, morning overpass).
_TIME_OF_DAY = {"sentinel2": "04:12:31", "landsat": "03:58:07", "planetscope": "03:41:26",
                "rgb": "04:30:00"}
_PLANET_SATS = ("2262", "2403", "241e", "1050", "227a")

# NUM_THREADS: tiles are compressed in parallel, written in the same order (same bytes)
_GTIFF = dict(driver="GTiff", tiled=True, blockxsize=256, blockysize=256, compress="deflate",
              zlevel=9, predictor=2, num_threads="ALL_CPUS")
_COG = dict(driver="COG", blocksize=256, compress="deflate", level=9, predictor="yes",
            overviews="none", bigtiff="no", num_threads="ALL_CPUS")


#: Values converted at a time: small temporaries, reused, instead of fresh full-scene ones.
_CHUNK = 2**20


def _rowwise(fn, a: np.ndarray, dtype) -> np.ndarray:
    """``fn`` (pointwise) over ``a`` in chunks of rows of about :data:`_CHUNK` values."""
    a = np.asarray(a)
    if a.ndim < 2 or a.size <= _CHUNK:
        return fn(a)
    rows = a.shape[-2]
    step = max(1, _CHUNK * rows // a.size)
    out = np.empty(a.shape, dtype)
    for r0 in range(0, rows, step):
        out[..., r0:r0 + step, :] = fn(a[..., r0:r0 + step, :])
    return out


def s2_dn(reflectance: np.ndarray, date: str | pd.Timestamp) -> np.ndarray:
    """Sentinel-2 L2A DN (uint16, 0 = nodata) of reflectance (NaN = nodata) on ``date``.

    Examples
    --------
    >>> s2_dn(np.array([0.1234, np.nan]), "2022-03-01").tolist()
    [2234, 0]
    >>> s2_dn(np.array([0.1234]), "2021-03-01").tolist()
    [1234]
    """
    add = 1000 if pd.Timestamp(date) >= S2_OFFSET_DATE else 0
    return _rowwise(lambda r: _to_uint16(np.round(np.asarray(r, np.float64) * 10000) + add, r),
                    reflectance, np.uint16)


def _to_uint16(dn: np.ndarray, reflectance: np.ndarray) -> np.ndarray:
    out = np.clip(np.nan_to_num(dn, nan=0.0), 1, 65535).astype(np.uint16)
    out[np.isnan(reflectance)] = 0
    return out


def landsat_dn(reflectance: np.ndarray) -> np.ndarray:
    """Landsat C2 L2 SR DN: (reflectance + 0.2) / 0.0000275, uint16, 0 = nodata."""
    def dn(r):
        r = np.asarray(r, np.float64)
        return _to_uint16(np.round((r - LANDSAT_OFFSET) / LANDSAT_SCALE), r)

    return _rowwise(dn, reflectance, np.uint16)


def _dn10000(reflectance: np.ndarray) -> np.ndarray:
    """DN = reflectance × 10000 (no offset), uint16, 0 = nodata."""
    return _rowwise(lambda r: _to_uint16(np.round(r.astype(np.float64) * 10000), r),
                    reflectance, np.uint16)


def mgrs_tile(crs: str, x: float, y: float) -> str:
    """The MGRS tile id (e.g. ``47RMJ``) of a point given in a UTM ``crs``."""
    crs_obj = CRS.from_user_input(crs)
    lon, lat = Transformer.from_crs(crs_obj, "EPSG:4326", always_xy=True).transform(x, y)
    zone = int((lon + 180) // 6) + 1
    utm = crs_obj.utm_zone
    if utm:
        zone = int(utm[:-1])
    band = "CDEFGHJKLMNPQRSTUVWX"[int(np.clip((lat + 80) // 8, 0, 19))]
    col_sets = ("ABCDEFGH", "JKLMNPQR", "STUVWXYZ")
    col = col_sets[(zone - 1) % 3][int(np.clip(x // 100000 - 1, 0, 7))]
    row = "ABCDEFGHJKLMNPQRSTUV"[(int(y // 100000) + (5 if zone % 2 == 0 else 0)) % 20]
    return f"{zone:02d}{band}{col}{row}"


def _tags(date: pd.Timestamp, family: str) -> dict[str, str]:
    clock = _TIME_OF_DAY[family]
    return {"TIFFTAG_DATETIME": f"{date:%Y:%m:%d} {clock}",
            "ACQUISITION_DATE": f"{date:%Y-%m-%d}T{clock}Z"}


def _write(path: Path, data: np.ndarray, *, crs: str, transform, nodata, descriptions,
           tags: dict[str, str], options: dict, photometric: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = data if data.ndim == 3 else data[None]
    profile = dict(options, width=data.shape[2], height=data.shape[1], count=data.shape[0],
                   dtype=data.dtype, crs=crs, transform=transform, nodata=nodata)
    if photometric:
        profile["photometric"] = photometric
    with rasterio.Env(GDAL_PAM_ENABLED="NO"), rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
        dst.update_tags(**tags)
        for i, name in enumerate(descriptions, start=1):
            dst.set_band_description(i, name)
    return path


def _mean2x2(a: np.ndarray) -> np.ndarray:
    """NaN-aware 2×2 block mean over the last two axes (odd edges padded with NaN)."""
    h, w = a.shape[-2:]
    if a.size <= _CHUNK:
        return _mean2x2_part(a)
    out_rows = (h + 1) // 2
    out = np.empty((*a.shape[:-2], out_rows, (w + 1) // 2), np.float64)
    step = max(1, _CHUNK * h // a.size // 2)  # output rows per chunk of ~_CHUNK values
    for o in range(0, out_rows, step):
        out[..., o:o + step, :] = _mean2x2_part(a[..., 2 * o:2 * (o + step), :])
    return out


def _mean2x2_part(a: np.ndarray) -> np.ndarray:
    h, w = a.shape[-2:]
    ph, pw = h % 2, w % 2
    if ph or pw:
        a = np.pad(a.astype(np.float64), [(0, 0)] * (a.ndim - 2) + [(0, ph), (0, pw)],
                   constant_values=np.nan)
    # the four corners as strided views, summed in the order np.nanmean sums a 2×2 block
    # ((top-left + top-right) + (bottom-left + bottom-right)): the same numbers, without the
    # slow reduction over two axes
    values, counts = {}, None
    for i in (0, 1):
        for j in (0, 1):
            corner = a[..., i::2, j::2].astype(np.float64)
            missing = np.isnan(corner)
            corner[missing] = 0.0
            values[i, j] = corner
            seen = (~missing).astype(np.intp)
            counts = seen if counts is None else counts + seen
    total = (values[0, 0] + values[0, 1]) + (values[1, 0] + values[1, 1])
    with np.errstate(invalid="ignore", divide="ignore"):  # all-NaN blocks stay NaN
        return total / counts


def scl_from_truth(scene: RenderedScene) -> np.ndarray:
    """Sentinel-2 scene classification at half the grid resolution, from the truth.

    0 nodata, 3 cloud shadow, 4 vegetation, 5 bare (soil, roofs, liners), 6 water (incl. pools),
    8 cloud medium / 9 cloud high probability (optical depth < / >= 0.6), 10 thin cirrus
    (cloud pixels of optical depth < 0.25, the soft cloud edges).
    """
    nodata = _mean2x2(scene.nodata.astype(np.float32)) >= 0.5
    cloud = _mean2x2(scene.cloud.astype(np.float32)) >= 0.5
    depth = _mean2x2(scene.cloud_opacity)
    shadow = _mean2x2(scene.cloud_shadow.astype(np.float32)) >= 0.5
    cover = _mean2x2(scene.scl_fractions)
    scl = np.array([4, 5, 6], np.uint8)[np.nan_to_num(cover).argmax(axis=0)]
    scl[shadow] = 3
    scl[cloud] = np.where(depth[cloud] >= 0.6, 9, np.where(depth[cloud] < 0.25, 10, 8))
    scl[nodata] = 0
    return scl


def _qa_pixel(scene: RenderedScene) -> np.ndarray:
    cloud, shadow, nodata = scene.cloud, scene.cloud_shadow, scene.nodata
    dilated = ndimage.binary_dilation(cloud, iterations=2) & ~cloud
    qa = np.full(cloud.shape, 1 << 6, np.uint16)  # clear
    qa[dilated] = (1 << 1)
    qa[shadow] = (1 << 4) | (3 << 10)
    qa[cloud] = (1 << 3) | (3 << 8)
    qa[nodata] = 1
    return qa


def _udm2(scene: RenderedScene) -> np.ndarray:
    cloud, shadow, nodata, haze = scene.cloud, scene.cloud_shadow, scene.nodata, scene.haze
    udm = np.zeros((8, *cloud.shape), np.uint8)
    light_haze = (haze >= 0.15) & ~cloud & ~shadow & ~nodata
    udm[0] = ~cloud & ~shadow & ~nodata & ~light_haze
    udm[2] = shadow
    udm[3] = light_haze
    udm[5] = cloud
    near = ndimage.binary_dilation(cloud | shadow, iterations=3)
    udm[6] = np.where(nodata, 0, np.where(near, 70, 95))
    udm[7] = nodata.astype(np.uint8)  # bit 0: blackfill
    return udm


def write_scene(scene: RenderedScene, out_dir: Path, layout: str, *,
                seed: int = 0) -> tuple[Path, ...]:
    """Write one rendered date in ``layout`` under ``out_dir``; return the files written."""
    if layout not in LAYOUTS:
        raise ConfigError(f"layout {layout!r} unknown; use one of {', '.join(LAYOUTS)}")
    grid, t = scene.grid, scene.t
    date = pd.Timestamp(scene.date)
    refl = scene.reflectance
    crs, tf = grid.crs, grid.transform
    day = f"{date:%Y%m%d}"
    rng = np.random.default_rng([seed, t, 7])
    platform = ("S2A", "S2B")[int(rng.integers(2))]
    cx, cy = (grid.bounds[0] + grid.bounds[2]) / 2, (grid.bounds[1] + grid.bounds[3]) / 2
    written: list[Path] = []
    if layout in ("sentinel2", "sentinel2_multiband"):
        tags = _tags(date, "sentinel2")
        if date >= S2_OFFSET_DATE:
            tags |= {"BOA_ADD_OFFSET": "-1000", "PROCESSING_BASELINE": "04.00"}
        else:
            tags |= {"PROCESSING_BASELINE": "02.14"}
        tags |= {"SPACECRAFT_NAME": f"Sentinel-2{platform[-1]}"}
        tile = mgrs_tile(crs, cx, cy)
        if layout == "sentinel2_multiband":
            path = out_dir / f"{platform}_{tile}_{day}_L2A_stack.tif"
            written.append(_write(path, s2_dn(refl, date), crs=crs, transform=tf, nodata=0,
                                  descriptions=S2_BANDS, tags=tags, options=_GTIFF))
            return tuple(written)
        folder = out_dir / f"{platform}_{tile}_{day}_0_L2A"
        tf20 = tf * tf.scale(2)
        for i, name in enumerate(S2_BANDS):
            band = refl[i] if i < 4 else _mean2x2(refl[i])
            written.append(_write(folder / f"{name}.tif", s2_dn(band, date), crs=crs,
                                  transform=tf if i < 4 else tf20, nodata=0,
                                  descriptions=(name,), tags=tags, options=_COG))
        written.append(_write(folder / "SCL.tif", scl_from_truth(scene), crs=crs, transform=tf20,
                              nodata=0, descriptions=("SCL",), tags=_tags(date, "sentinel2"),
                              options=_COG))
    elif layout == "sentinel2_gee":
        tile = mgrs_tile(crs, cx, cy)
        dn = _dn10000(refl)
        path = out_dir / f"S2_SR_HARMONIZED_{day}_{tile}.tif"
        written.append(_write(path, dn, crs=crs, transform=tf, nodata=0, descriptions=GEE_BANDS,
                              tags=_tags(date, "sentinel2"), options=_GTIFF))
    elif layout == "landsat":
        mission = "LC09" if (date >= pd.Timestamp("2021-10-31") and t % 2 == 1) else "LC08"
        processed = date + pd.Timedelta(days=10)
        product = f"{mission}_L2SP_131042_{day}_{processed:%Y%m%d}_02_T1"
        tags = _tags(date, "landsat") | {"SPACECRAFT_ID": f"LANDSAT_{mission[-1]}"}
        for name, i in LANDSAT_BANDS:
            band = refl[i] * (0.92 if name == "SR_B1" else 1.0)
            written.append(_write(out_dir / product / f"{product}_{name}.TIF", landsat_dn(band),
                                  crs=crs, transform=tf, nodata=0, descriptions=(name,),
                                  tags=tags, options=_GTIFF))
        written.append(_write(out_dir / product / f"{product}_QA_PIXEL.TIF", _qa_pixel(scene),
                              crs=crs, transform=tf, nodata=1, descriptions=("QA_PIXEL",),
                              tags=tags, options=_GTIFF))
    elif layout == "planetscope":
        sat = _PLANET_SATS[int(rng.integers(len(_PLANET_SATS)))]
        clock = _TIME_OF_DAY["planetscope"].replace(":", "")
        stem = f"{day}_{clock}_{sat}_3B"
        tags = _tags(date, "planetscope") | {"SATELLITE_ID": sat}
        dn = _dn10000(refl[:4])
        written.append(_write(out_dir / f"{stem}_AnalyticMS_SR.tif", dn, crs=crs, transform=tf,
                              nodata=0, descriptions=("blue", "green", "red", "nir"), tags=tags,
                              options=_GTIFF))
        written.append(_write(out_dir / f"{stem}_udm2.tif", _udm2(scene), crs=crs,
                              transform=tf, nodata=None,
                              descriptions=("clear", "snow", "shadow", "light_haze",
                                            "heavy_haze", "cloud", "confidence", "udm1"),
                              tags=tags, options=_GTIFF))
    else:  # rgb
        rgb = refl[[2, 1, 0]].astype(np.float64)
        dn = np.clip(np.round(np.nan_to_num(rgb, nan=0.0) * 255), 1, 255).astype(np.uint8)
        dn[:, np.isnan(rgb).any(axis=0)] = 0
        written.append(_write(out_dir / f"rgb_{day}.tif", dn, crs=crs, transform=tf, nodata=0,
                              descriptions=("red", "green", "blue"), tags=_tags(date, "rgb"),
                              options=_GTIFF, photometric="RGB"))
    return tuple(written)


def write_truth_rasters(scene: RenderedScene, truth_dir: Path) -> dict[str, Path]:
    """Write the truth rasters of one rendered date; return them by name."""
    date = pd.Timestamp(scene.date)
    day = f"{date:%Y%m%d}"
    crs, tf = scene.grid.crs, scene.grid.transform
    tags = {"ACQUISITION_DATE": f"{date:%Y-%m-%d}"}
    out = {
        "pools": _write(truth_dir / f"pools_{day}.tif", scene.pool_id, crs=crs, transform=tf,
                        nodata=None, descriptions=("pool_id",), tags=tags, options=_GTIFF),
        "pool_fraction": _write(truth_dir / f"pool_fraction_{day}.tif", scene.pool_fraction,
                                crs=crs, transform=tf, nodata=None,
                                descriptions=("pool_fraction",), tags=tags,
                                options=dict(_GTIFF, predictor=3)),
        "clearings": _write(truth_dir / f"clearings_{day}.tif", scene.clearings, crs=crs,
                            transform=tf, nodata=None, descriptions=("clearing_code",),
                            tags=tags | {"CODES": "0 none, 1 mining, 2 swidden, 3 landslide, "
                                                  "4 settlement, 5 road"}, options=_GTIFF),
        "valid": _write(truth_dir / f"valid_{day}.tif", scene.valid, crs=crs, transform=tf,
                        nodata=None, descriptions=("valid",), tags=tags, options=_GTIFF),
    }
    return out


def write_vectors(layers: dict, path: Path) -> Path:
    """Write GeoDataFrames as layers of one GeoPackage, with a fixed timestamp (same bytes)."""
    import pyogrio

    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()
    previous = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": "2000-01-01T00:00:00.000Z"})
    try:
        for name, frame in layers.items():
            pyogrio.write_dataframe(frame, path, layer=name, driver="GPKG", append=path.exists())
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": previous})
    return path


def layout_family(layout: str) -> str:
    """The radiometric family (``sentinel2``, ``landsat``, ``planetscope``, ``rgb``)."""
    return "sentinel2" if layout.startswith("sentinel2") else layout

