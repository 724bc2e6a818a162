"""The bad-input battery: every odd file a user can feed minewatch gives a clear minewatch error
naming the file and the problem, or a documented handling (docs/errors.md) — never a GDAL
traceback and never a silently wrong count.

Every case writes a real file (rasterio, pyogrio, json, TOML text) into ``tmp_path``.
"""

from __future__ import annotations

import errno
import json
import os
import re
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pystac
import pytest
import rasterio
import rasterio.shutil
from affine import Affine
from pyproj import Transformer
from rasterio.transform import from_origin
from shapely.geometry import Polygon, box

from minewatch.config import DetectionConfig
from minewatch.errors import (
    ConfigError,
    DateError,
    EmptySceneWarning,
    GridError,
    InputError,
    MinewatchError,
    MinewatchWarning,
    NoOverlapError,
    OutputError,
    ReflectanceError,
    SparseSceneWarning,
    TileReadError,
)
from minewatch.indices import blueness, brightness, hue, ndvi, ndwi, saturation
from minewatch.io import load_stack, open_tile, read_scene, resolve_scene, scan_archive
from minewatch.io._scene import BandSource, Scene
from minewatch.io.stac import read_items, write_catalog
from minewatch.io.write import atomic_path, write_table

S2_DESCRIPTIONS = ["B02", "B03", "B04", "B08"]
#: Reflectance of the four bands of a plain test scene (blue, green, red, nir).
VALUES = (0.05, 0.08, 0.06, 0.30)
ORIGIN = (300000.0, 2850000.0)  # UTM 47N, about 97.0 °E 25.7 °N


def _q(path) -> str:
    """A path as a regular expression (for ``match=``)."""
    return re.escape(str(path))


def _s2_file(write_tif, path, *, size=32, values=VALUES, crs="EPSG:32647", transform=None,
             **kw):
    """A 4-band Sentinel-2 GeoTIFF (ESA band descriptions, DN = reflectance × 10000)."""
    dn = np.stack([np.full((size, size), round(v * 10000), np.uint16) for v in values])
    return write_tif(path, dn, crs=crs, transform=transform, descriptions=S2_DESCRIPTIONS, **kw)


def _scan(folder):
    """scan_archive, its MinewatchWarning about skipped files recorded, not shown."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MinewatchWarning)
        return scan_archive(folder)


def _reason(frame, name: str) -> str:
    """The skip reason scan_archive gives for the file or item ``name``."""
    found = [why for path, why in frame.attrs["skipped"] if name in path]
    assert found, f"{name} not among the skipped: {frame.attrs['skipped']}"
    return found[0]


# --- unreadable files -----------------------------------------------------------------------

def _zero_size(path: Path, write_tif) -> None:
    path.write_bytes(b"")


def _random_bytes(path: Path, write_tif) -> None:
    path.write_bytes(np.random.default_rng(1).bytes(20_000))


def _random_after_tiff_magic(path: Path, write_tif) -> None:
    path.write_bytes(b"II*\x00" + np.random.default_rng(2).bytes(20_000))


def _header_cut(path: Path, write_tif) -> None:
    # GDAL's Create mode writes the header (IFD) last: cut in half, the file does not open
    _s2_file(write_tif, path, size=300)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _text(path: Path, write_tif) -> None:
    path.write_text("this is a download error page, not a GeoTIFF\n")


UNOPENABLE = {
    "zero-size": _zero_size,
    "random bytes": _random_bytes,
    "random bytes after the TIFF magic": _random_after_tiff_magic,
    "truncated header": _header_cut,
    "text named .tif": _text,
}


@pytest.mark.parametrize("make", UNOPENABLE.values(), ids=UNOPENABLE.keys())
@pytest.mark.parametrize("chunks", [None, 64])
def test_unopenable_file_is_a_tile_read_error_naming_it(tmp_path, write_tif, make, chunks):
    path = tmp_path / "S2_20210105.tif"
    make(path, write_tif)
    with pytest.raises(TileReadError, match=rf"{_q(path)}: cannot be opened as a raster.*re-"):
        open_tile(path, chunks=chunks)


@pytest.mark.parametrize("make", UNOPENABLE.values(), ids=UNOPENABLE.keys())
def test_scan_skips_an_unopenable_file_with_its_reason(tmp_path, write_tif, make):
    _s2_file(write_tif, tmp_path / "good" / "S2_20210105.tif")
    (tmp_path / "bad").mkdir()
    make(tmp_path / "bad" / "S2_20210110.tif", write_tif)
    frame = _scan(tmp_path)
    assert list(frame["scene_id"]) == ["S2_20210105"]
    assert "cannot be opened as a raster" in _reason(frame, "S2_20210110.tif")


def _pixels_cut(tmp_path, write_tif) -> Path:
    """A tiled GeoTIFF with its header first (as COGs) cut in half: opens, pixels fail."""
    rng = np.random.default_rng(0)
    dn = rng.integers(1, 10000, (4, 512, 512), dtype=np.uint16)
    full = write_tif(tmp_path / "full.tif", dn, descriptions=S2_DESCRIPTIONS)
    path = tmp_path / "archive" / "S2_20210105.tif"
    path.parent.mkdir()
    rasterio.shutil.copy(full, path, driver="GTiff", tiled=True, compress="deflate")
    full.unlink()
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return path


def test_truncated_pixels_eager_lazy_and_scan(tmp_path, write_tif):
    path = _pixels_cut(tmp_path, write_tif)
    with pytest.raises(TileReadError, match=rf"{_q(path)}: pixels could not be read.*truncated"):
        open_tile(path)
    lazy = open_tile(path, chunks=128)  # the header is intact: opening works
    with pytest.raises(TileReadError, match=rf"{_q(path)}: pixels could not be read"):
        lazy.compute()
    # the scan reads a decimated preview: it skips the file with the reason (was a raw
    # RasterioIOError that stopped the whole scan)
    _s2_file(write_tif, tmp_path / "archive" / "ok" / "S2_20210110.tif")
    frame = _scan(tmp_path / "archive")
    assert list(frame["scene_id"]) == ["S2_20210110"]
    assert "pixels could not be read" in _reason(frame, "S2_20210105.tif")


def test_one_truncated_band_file_of_a_scene_in_load_stack(tmp_path, write_tif):
    """scan_archive previews a scene's first band only (documented); load_stack reads every
    pixel when it counts valid pixels, and names the broken file instead of a GDAL error."""
    folder = tmp_path / "archive" / "S2_20210105"
    noise = np.random.default_rng(6).integers(1, 10000, (512, 512), dtype=np.uint16)
    full = write_tif(tmp_path / "b08_full.tif", noise)
    b08 = folder / "B08.tif"
    for name in S2_DESCRIPTIONS[:3]:
        write_tif(folder / f"{name}.tif", noise)
    rasterio.shutil.copy(full, b08, driver="GTiff", tiled=True, compress="deflate")
    b08.write_bytes(b08.read_bytes()[: b08.stat().st_size // 2])
    frame = _scan(tmp_path / "archive")
    assert list(frame["scene_id"]) == ["S2_20210105"]
    for chunks in (None, 256):
        with pytest.raises(TileReadError, match=rf"{_q(b08)}: pixels could not be read .*scene "
                                                r"S2_20210105 is truncated or corrupt"):
            load_stack(frame, chunks=chunks)


def test_one_by_one_pixel_raster_is_read_exactly(tmp_path, write_tif):
    path = _s2_file(write_tif, tmp_path / "S2_20210105.tif", size=1)
    for chunks in (None, 16):
        tile = open_tile(path, chunks=chunks)
        assert tile.shape == (4, 1, 1)
        np.testing.assert_allclose(tile.values[:, 0, 0], VALUES, rtol=1e-6)
        assert tile.rio.transform() == from_origin(*ORIGIN, 10, 10)
    frame = _scan(tmp_path)
    assert frame["nodata_fraction"].tolist() == [0.0]
    assert frame["resolution_m"].tolist() == [10.0]


# --- NaN / inf reflectance ----------------------------------------------------------------

def _float_scene(write_tif, path, *, bad: float, size=20):
    """Float32 reflectance (blue, green, red, nir) with ``bad`` in a block and single pixels."""
    data = np.empty((4, size, size), np.float32)
    data[:] = np.array(VALUES, np.float32)[:, None, None]
    data[3, :5, :5] = bad  # nir only
    data[0, 10, 10] = bad  # blue only
    data[:, 15, 15] = bad  # every band
    return write_tif(path, data, nodata=None)


ROLES = {1: "blue", 2: "green", 3: "red", 4: "nir"}


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("chunks", [None, 8])
def test_nan_and_inf_reflectance_are_invalid_pixels(tmp_path, write_tif, bad, chunks):
    path = _float_scene(write_tif, tmp_path / "F_20210105.tif", bad=bad)
    tile = open_tile(path, bands=ROLES, chunks=chunks).compute()
    values = tile.values
    assert not np.isinf(values).any()
    assert np.isnan(values[3, :5, :5]).all() and np.isnan(values[0, 10, 10])
    assert np.isnan(values[:, 15, 15]).all()
    assert int(np.isnan(values).sum()) == 25 + 1 + 4
    for index in (ndvi, ndwi, blueness, brightness, hue, saturation):
        out = index(tile).values
        assert not np.isinf(out).any(), index.__name__
    assert int(np.isnan(ndvi(tile).values).sum()) == 25 + 1  # nir block + all-bad pixel


@pytest.mark.parametrize("bad", [np.inf, -np.inf, 1e300], ids=["inf", "-inf", "float64 1e300"])
@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
def test_inf_is_masked_by_load_stack_and_never_counted_valid(tmp_path, write_tif, bad):
    data = np.empty((4, 20, 20), np.float64)
    data[:] = np.array(VALUES)[:, None, None]
    data[:, :10, :] = bad  # the top half of every band
    path = write_tif(tmp_path / "F_20210105.tif", data, nodata=None)
    scene = resolve_scene(path, bands=ROLES)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MinewatchWarning)
        stack = load_stack([scene], resampling="nearest").compute()
    assert not np.isinf(stack.values).any()
    assert float(stack["valid_fraction"][0]) == pytest.approx(0.5, abs=0.06)
    valid = stack.notnull().all("band")
    assert float(valid.mean()) == pytest.approx(0.5, abs=0.06)


def test_inf_changes_no_pool_count(tmp_path, write_tif):
    """A block of inf in NIR is detected exactly as the same block of NaN (nodata)."""
    from minewatch.detect.pools import detect_pools
    from minewatch.synth import generate_scenes

    refl, _ = generate_scenes(seed=1, shape=(100, 100), dates=("2022-03-01",), clouds=False,
                              nodata_edges=False)
    scene = refl.isel(time=0)
    roles = {i + 1: str(b) for i, b in enumerate(scene["band"].values)}
    counts = []
    for name, bad in (("nan", np.nan), ("inf", np.inf)):
        data = scene.values.copy()
        data[3, 40:70, 40:70] = bad
        path = write_tif(tmp_path / f"{name}.tif", data, nodata=None, crs="EPSG:32647",
                         transform=scene.rio.transform())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MinewatchWarning)
            pools = detect_pools(open_tile(path, bands=roles))
        counts.append((len(pools), round(float(pools["area_m2"].sum()), 3)))
    assert counts[0] == counts[1]
    assert counts[0][0] > 0  # the scene has pools, so the comparison means something


# --- wrong data types -----------------------------------------------------------------------

def _int8(tmp_path, write_tif):
    return write_tif(tmp_path / "x.tif", np.ones((3, 8, 8), np.int8), nodata=None)


def _complex64(tmp_path, write_tif):
    return write_tif(tmp_path / "x.tif", np.ones((3, 8, 8), np.complex64), nodata=None)


def _complex_int16(tmp_path, write_tif):
    return write_tif(tmp_path / "x.tif", np.ones((3, 8, 8), np.complex64), nodata=None,
                     dtype="complex_int16")


def _one_bit(tmp_path, write_tif):
    # a bool band: GDAL stores it as 1-bit Byte (NBITS=1); numpy bool cannot be written
    return write_tif(tmp_path / "x.tif", np.ones((3, 8, 8), np.uint8), nodata=None, nbits=1)


WRONG_DTYPES = {
    "int8": (_int8, "signed 8-bit"),
    "complex64": (_complex64, "complex numbers"),
    "complex_int16": (_complex_int16, "complex integers"),
    "bool (1-bit)": (_one_bit, "1-bit values"),
}


@pytest.mark.parametrize(("make", "what"), WRONG_DTYPES.values(), ids=WRONG_DTYPES.keys())
def test_wrong_dtype_is_a_reflectance_error(tmp_path, write_tif, make, what):
    path = make(tmp_path, write_tif)
    with pytest.raises(ReflectanceError, match=rf"{_q(path)}: the bands hold {what}.*uint16"):
        open_tile(path, bands={1: "blue", 2: "green", 3: "red"})
    with pytest.raises(ReflectanceError, match=what):
        open_tile(path, sensor="rgb")
    frame_dir = tmp_path
    _s2_file(write_tif, frame_dir / "S2_20210105.tif")
    assert what in _reason(_scan(frame_dir), "x.tif")


def test_uint16_that_is_not_reflectance(tmp_path, write_tif):
    # e.g. Level-1 or radiance digital numbers: reflectance would be 3–6.5 after × 1e-4
    rng = np.random.default_rng(3)
    dn = rng.integers(30000, 65535, (4, 64, 64), dtype=np.uint16)
    path = write_tif(tmp_path / "S2_20210105.tif", dn, descriptions=S2_DESCRIPTIONS)
    with pytest.raises(ReflectanceError, match=rf"{_q(path)}: band 'blue' has a median of 4\.\d+ "
                                               r"after scaling.*not surface reflectance"):
        open_tile(path)
    _s2_file(write_tif, tmp_path / "ok" / "S2_20210110.tif")
    frame = _scan(tmp_path)
    assert list(frame["scene_id"]) == ["S2_20210110"]
    assert "not surface reflectance" in _reason(frame, "S2_20210105.tif")
    # documented: a lazy open_tile does not read pixels, so it cannot check them
    assert float(open_tile(path, chunks=32).sel(band="blue").compute().median()) > 2


def test_bright_but_real_reflectance_is_accepted(tmp_path, write_tif):
    # fresh snow and cloud tops reach ~1.2 in surface reflectance: not an error
    path = _s2_file(write_tif, tmp_path / "S2_20210105.tif", values=(1.2, 1.25, 1.3, 1.1))
    assert float(open_tile(path).max()) == pytest.approx(1.3)


# --- huge nodata areas --------------------------------------------------------------------

def test_99_9_percent_nodata_is_read_exactly_and_kept_with_a_warning(tmp_path, write_tif):
    good = _s2_file(write_tif, tmp_path / "a" / "S2_20210105.tif", size=100)
    dn = np.zeros((4, 100, 100), np.uint16)  # DN 0 is nodata
    dn[:, 50, 40:50] = np.array([round(v * 10000) for v in VALUES], np.uint16)[:, None]
    sparse = write_tif(tmp_path / "b" / "S2_20210110.tif", dn, descriptions=S2_DESCRIPTIONS)
    tile = open_tile(sparse)
    assert int(tile.notnull().all("band").sum()) == 10  # exactly the 10 valid pixels
    np.testing.assert_allclose(tile.values[:, 50, 45], VALUES, rtol=1e-6)
    frame = _scan(tmp_path)
    assert frame.set_index("scene_id")["nodata_fraction"].to_dict() == {
        "S2_20210105": 0.0, "S2_20210110": pytest.approx(0.999)}
    with pytest.warns(SparseSceneWarning, match=r"S2_20210110 \(2021-01-10, 0\.1% valid\)"):
        stack = load_stack(frame, resampling="nearest")
    assert stack["scene_id"].values.tolist() == ["S2_20210105", "S2_20210110"]
    assert stack["valid_fraction"].values.tolist() == pytest.approx([1.0, 0.001], abs=2e-4)
    assert good.exists()


def test_all_nodata_is_dropped_with_an_empty_scene_warning(tmp_path, write_tif):
    _s2_file(write_tif, tmp_path / "a" / "S2_20210105.tif")
    write_tif(tmp_path / "b" / "S2_20210110.tif", np.zeros((4, 32, 32), np.uint16),
              descriptions=S2_DESCRIPTIONS)
    frame = _scan(tmp_path)
    assert frame.set_index("scene_id")["nodata_fraction"]["S2_20210110"] == 1.0
    with pytest.warns(EmptySceneWarning, match="S2_20210110"):
        stack = load_stack(frame)
    assert stack["scene_id"].values.tolist() == ["S2_20210105"]


# --- CRSs -----------------------------------------------------------------------------------

def _band_folder(write_tif, folder, odd_crs=None):
    """Per-band COGs B02/B03/B04/B08 of one scene; B08 in ``odd_crs`` when given."""
    for name, value in zip(S2_DESCRIPTIONS, VALUES, strict=True):
        crs = odd_crs if (odd_crs and name == "B08") else "EPSG:32647"
        write_tif(folder / f"{name}.tif", np.full((32, 32), round(value * 10000), np.uint16),
                  crs=crs)
    return folder


def test_a_band_in_another_crs_inside_one_scene_is_an_error(tmp_path, write_tif):
    folder = _band_folder(write_tif, tmp_path / "S2_20210105", odd_crs="EPSG:32646")
    pattern = r"B08\.tif is in EPSG:32646 and .*B0\d\.tif in EPSG:32647.*reproject"
    with pytest.raises(GridError, match=rf"{_q(folder)}: the files of one scene must share one"):
        open_tile(folder)
    with pytest.raises(GridError, match=pattern):
        open_tile(folder)
    assert "must share one CRS" in _reason(_scan_with_good(tmp_path, write_tif), "S2_20210105")
    # a hand-built Scene reaches read_scene and load_stack without the layout check
    scene = Scene(id="S2_20210105", sensor="sentinel2", time=pd.Timestamp("2021-01-05"),
                  bands=tuple(BandSource(role=r, href=str(folder / f"{n}.tif"), scale=1e-4,
                                         nodata=0)
                              for r, n in zip(("blue", "green", "red", "nir"), S2_DESCRIPTIONS,
                                              strict=True)))
    with pytest.raises(GridError, match=pattern):
        read_scene(scene)
    with pytest.raises(GridError, match=pattern):
        load_stack([scene])


def _scan_with_good(tmp_path, write_tif):
    _s2_file(write_tif, tmp_path / "good" / "S2_20210110.tif")
    return _scan(tmp_path)


def test_scenes_in_two_utm_zones_are_reprojected_onto_one_grid(tmp_path, write_tif):
    lon, lat = 95.99, 25.70  # 96 °E is the border of UTM 46N and 47N
    paths = []
    for epsg, day in ((32646, "20210105"), (32647, "20210110")):
        x, y = Transformer.from_crs(4326, epsg, always_xy=True).transform(lon, lat)
        paths.append(_s2_file(write_tif, tmp_path / f"z{epsg}" / f"S2_{day}.tif", size=60,
                              crs=f"EPSG:{epsg}",
                              transform=from_origin(round(x) - 300, round(y) + 300, 10, 10)))
    frame = _scan(tmp_path)
    assert sorted(frame["crs"]) == ["EPSG:32646", "EPSG:32647"]
    aoi = box(lon - 0.001, lat - 0.001, lon + 0.001, lat + 0.001)
    stack = load_stack(frame, aoi, crs="EPSG:32647", resampling="nearest").compute()
    assert stack.rio.crs.to_epsg() == 32647 and stack.sizes["time"] == 2
    np.testing.assert_allclose(stack.mean(["y", "x"]).values, [VALUES, VALUES], rtol=1e-5)


# --- geotransforms --------------------------------------------------------------------------

TRANSFORMS = {
    "rotated": (Affine(9.8, 1.7, ORIGIN[0], 1.7, -9.8, ORIGIN[1]), "rotated or skewed"),
    "skewed": (Affine(10, 3, ORIGIN[0], 0, -10, ORIGIN[1]), "rotated or skewed"),
    "south-up": (Affine(10, 0, ORIGIN[0], 0, 10, ORIGIN[1] - 320), "not north-up"),
}


@pytest.mark.parametrize(("transform", "what"), TRANSFORMS.values(), ids=TRANSFORMS.keys())
def test_rotated_skewed_or_flipped_grid_is_an_error(tmp_path, write_tif, transform, what):
    path = _s2_file(write_tif, tmp_path / "S2_20210105.tif", transform=transform)
    with pytest.raises(GridError, match=rf"{_q(path)}: .*{what}.*gdalwarp"):
        open_tile(path)
    scene = Scene(id="x", sensor="sentinel2", time=pd.Timestamp("2021-01-05"),
                  bands=(BandSource(role="red", href=str(path), index=3, scale=1e-4, nodata=0),))
    with pytest.raises(GridError, match=what):
        load_stack([scene])
    frame = _scan_with_good(tmp_path, write_tif)
    assert list(frame["scene_id"]) == ["S2_20210110"]
    assert what in _reason(frame, "S2_20210105.tif")


# --- dates ----------------------------------------------------------------------------------

def test_future_date_in_metadata_is_a_date_error(tmp_path, write_tif):
    path = _s2_file(write_tif, tmp_path / "scene.tif", tags={"ACQUISITION_DATE": "2999-01-05"})
    with pytest.raises(DateError, match=rf"{_q(path)} tag ACQUISITION_DATE: the acquisition date "
                                        r"2999-01-05 is in the future"):
        open_tile(path)
    assert "in the future" in _reason(_scan_with_good(tmp_path, write_tif), "scene.tif")


def test_future_date_in_a_stac_item_is_a_date_error(tmp_path, write_tif):
    catalog = _catalog(tmp_path, write_tif)
    item_file = next((catalog.parent / "stac").glob("S2_20210110*.json"))
    item = json.loads(item_file.read_text())
    item["properties"]["datetime"] = "2999-01-10T04:00:00Z"
    item_file.write_text(json.dumps(item))
    frame = _scan(catalog)
    assert list(frame["scene_id"]) == ["S2_20210105"]
    assert re.search(r"STAC item S2_20210110 datetime: the acquisition date 2999-01-10T04:00:00 "
                     r"is in the future", _reason(frame, "S2_20210110"))


def test_future_date_in_a_file_name_is_not_taken(tmp_path, write_tif):
    # names hold many numbers: a date after tomorrow is not an acquisition date (documented)
    path = _s2_file(write_tif, tmp_path / "S2_29990105.tif")
    tile = open_tile(path)
    assert "time" not in tile.coords
    with pytest.raises(DateError, match=r"S2_29990105: no acquisition date.*after tomorrow"):
        load_stack([path])


# --- STAC -----------------------------------------------------------------------------------

def _catalog(tmp_path, write_tif) -> Path:
    """A two-item STAC catalog of per-band scenes, written by write_catalog (json on disk)."""
    for day in ("20210105", "20210110"):
        _band_folder(write_tif, tmp_path / "archive" / f"S2_{day}")
    return write_catalog(tmp_path / "archive")


def test_stac_item_missing_band_assets_is_skipped_naming_them(tmp_path, write_tif):
    catalog = _catalog(tmp_path, write_tif)
    item_file = next((catalog.parent / "stac").glob("S2_20210110*.json"))
    item = json.loads(item_file.read_text())
    del item["assets"]["B08"], item["assets"]["B03"]
    item_file.write_text(json.dumps(item))
    frame = _scan(catalog)
    assert list(frame["scene_id"]) == ["S2_20210105"]
    reason = _reason(frame, "S2_20210110")
    assert "STAC item S2_20210110: missing asset(s) for green (B03), nir (B08)" in reason
    assert "['B02', 'B04']" in reason


def test_stac_item_whose_asset_file_is_gone(tmp_path, write_tif):
    catalog = _catalog(tmp_path, write_tif)
    gone = catalog.parent / "S2_20210110" / "B04.tif"
    gone.unlink()
    frame = _scan(catalog)
    assert list(frame["scene_id"]) == ["S2_20210105"]
    assert f"{gone}: cannot be read as a raster" in _reason(frame, "S2_20210110")
    items = [i for i in read_items(catalog) if i.id == "S2_20210110"]
    with pytest.raises(TileReadError, match=rf"{_q(gone)}: cannot be read as a raster"):
        load_stack(pystac.ItemCollection(items))


# --- AOIs -----------------------------------------------------------------------------------

@pytest.fixture
def archive(tmp_path, write_tif):
    """One 64 × 64 px scene (640 m) at ORIGIN, EPSG:32647."""
    _s2_file(write_tif, tmp_path / "archive" / "S2_20210105.tif", size=64)
    return _scan(tmp_path / "archive")


def _lonlat(x, y):
    return Transformer.from_crs(32647, 4326, always_xy=True).transform(x, y)


def _aoi_utm():
    x0, y0 = ORIGIN
    return box(x0 + 100, y0 - 500, x0 + 500, y0 - 100)


def test_aoi_in_another_crs_is_reprojected(tmp_path, archive):
    utm = tmp_path / "aoi_utm.gpkg"
    gpd.GeoDataFrame(geometry=[_aoi_utm()], crs="EPSG:32647").to_file(utm)
    lonlat = tmp_path / "aoi_lonlat.geojson"
    gpd.GeoDataFrame(geometry=[_aoi_utm()], crs="EPSG:32647").to_crs(4326).to_file(lonlat)
    merc = tmp_path / "aoi_3857.gpkg"
    gpd.GeoDataFrame(geometry=[_aoi_utm()], crs="EPSG:32647").to_crs(3857).to_file(merc)
    stacks = [load_stack(archive, path) for path in (utm, lonlat, merc)]
    for stack in stacks:
        assert stack.rio.crs.to_epsg() == 32647
        assert abs(stack.sizes["x"] - 40) <= 1 and abs(stack.sizes["y"] - 40) <= 1
        np.testing.assert_allclose(stack.isel(time=0).mean(["y", "x"]).values, VALUES,
                                   rtol=1e-5)


def test_self_intersecting_aoi_is_repaired_and_says_so(tmp_path, archive):
    x0, y0 = ORIGIN
    bowtie = Polygon([(x0 + 100, y0 - 100), (x0 + 500, y0 - 500), (x0 + 500, y0 - 100),
                      (x0 + 100, y0 - 500)])
    assert not bowtie.is_valid
    path = tmp_path / "bowtie.geojson"
    gpd.GeoDataFrame(geometry=[bowtie], crs="EPSG:32647").to_crs(4326).to_file(path)
    with pytest.warns(MinewatchWarning, match=rf"AOI file {_q(path)} was invalid \(Self-inter"
                                              r"section.*repaired with shapely.make_valid"):
        stack = load_stack(archive, path)
    assert stack.sizes["time"] == 1 and stack.notnull().any()


@pytest.mark.parametrize("kind", ["no feature", "empty geometry", "a point"])
def test_empty_aoi_is_an_input_error_naming_the_file(tmp_path, archive, kind):
    path = tmp_path / "aoi.geojson"
    features = {
        "no feature": [],
        "empty geometry": [{"type": "Feature", "properties": {},
                            "geometry": {"type": "Polygon", "coordinates": []}}],
        "a point": [{"type": "Feature", "properties": {},
                     "geometry": {"type": "Point", "coordinates": list(_lonlat(*ORIGIN))}}],
    }[kind]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    with pytest.raises(InputError, match=rf"AOI file {_q(path)} (is empty|has no area)"):
        load_stack(archive, path)


def test_aoi_far_from_the_imagery_names_the_aoi_and_the_archive_extent(tmp_path, archive):
    path = tmp_path / "mandalay.gpkg"
    gpd.GeoDataFrame(geometry=[box(96.0, 21.9, 96.1, 22.0)], crs=4326).to_file(path)
    with pytest.raises(NoOverlapError) as caught:
        load_stack(archive, path)
    message = str(caught.value)
    lon0, _ = _lonlat(*ORIGIN)
    assert f"No scene overlaps AOI file {path}: AOI lon/lat bounds (96.0, 21.9, 96.1, 22.0)" \
        in message
    assert f"archive extent ({round(lon0, 4)}, " in message and "S2_20210105" in message


# --- config files ---------------------------------------------------------------------------

CONFIGS = {
    "unknown top-level key": ("resolution = 10.0\n",
                              r"unknown setting\(s\) \['resolution'\]; known: \['clearings', "
                              r"'pools', 'preset_name', 'resolution_m', 'sites'\]\. Did you "
                              r"mean "
                              r"'resolution_m'"),
    "unknown nested key": ("[pools]\nmin_aera_m2 = 4.0\n",
                           r"DetectionConfig\.pools: unknown setting\(s\) \['min_aera_m2'\]; "
                           r"known: \[.*'min_area_m2'.*Did you mean 'min_area_m2'"),
    "string for a float": ('resolution_m = "10"\n',
                           r"resolution_m = '10' has the wrong type \(str\): expected float"),
    "list for a float": ("[pools]\nmin_area_m2 = [1, 2]\n",
                         r"min_area_m2 = \(1, 2\) has the wrong type \(tuple\): expected float"),
    "bool for a float": ("resolution_m = true\n", r"resolution_m = True has the wrong type"),
    "table for a float": ("[resolution_m]\nx = 1\n", r"resolution_m = \{'x': 1\} has the wrong"),
    "number for a table": ("pools = 5\n", r"DetectionConfig\.pools: expected a table, got 5"),
    "inf": ("[pools]\nmin_area_m2 = inf\n", r"min_area_m2 = inf is out of range"),
    "nan": ("resolution_m = nan\n", r"resolution_m = nan is out of range"),
    "out of range": ("resolution_m = -3.0\n", r"resolution_m = -3\.0 is out of range"),
    "unknown choice": ('preset_name = "modis"\n', r"preset_name = 'modis': allowed values"),
    "not TOML": ("resolution_m = = 10\n", r"cannot read the settings file"),
}


@pytest.mark.parametrize(("text", "message"), CONFIGS.values(), ids=CONFIGS.keys())
def test_bad_config_file_is_a_config_error_naming_the_file(tmp_path, text, message):
    path = tmp_path / "detection.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=rf"{_q(path)}: .*{message}"):
        DetectionConfig.from_toml(path)


def test_config_file_that_is_not_text(tmp_path):
    path = tmp_path / "detection.toml"
    path.write_bytes(np.random.default_rng(4).bytes(300) + b"\xff\xfe")
    with pytest.raises(ConfigError, match=rf"{_q(path)}: cannot read the settings file"):
        DetectionConfig.from_toml(path)


# --- disk full and permissions ----------------------------------------------------------------

TABLE = pd.DataFrame({"site_id": ["S0001", "S0002"], "area_m2": [1200.0, 800.0]})


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_disk_full_inside_atomic_path_keeps_the_old_output(tmp_path):
    target = tmp_path / "sites.csv"
    target.write_text("the earlier result\n")
    with pytest.raises(OutputError, match=rf"{_q(target)}: cannot write \(no space left on the "
                                          r"device") as caught, atomic_path(target) as tmp:
        tmp.write_text("half a table")
        with open("/dev/full", "w") as full:  # a real ENOSPC from the kernel
            full.write("x" * 100_000)
            full.flush()
    assert caught.value.errno == errno.ENOSPC and caught.value.filename == str(target)
    assert isinstance(caught.value, OSError) and isinstance(caught.value, MinewatchError)
    assert target.read_text() == "the earlier result\n"
    assert _leftovers(tmp_path) == []


def test_disk_full_in_write_table_keeps_the_old_output(tmp_path, monkeypatch):
    target = write_table(TABLE, tmp_path / "timeseries.csv")
    before = target.read_bytes()

    def half_then_full(self, path, **kw):
        Path(path).write_text("site_id,area_m2\nS00")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(pd.DataFrame, "to_csv", half_then_full)
    with pytest.raises(OutputError, match=rf"{_q(target)}: cannot write \(no space left"):
        write_table(TABLE.assign(area_m2=0.0), target)
    assert target.read_bytes() == before
    assert _leftovers(tmp_path) == []


def test_config_written_to_a_full_disk(tmp_path, monkeypatch):
    target = DetectionConfig.preset("sentinel2").to_toml(tmp_path / "detection.toml")
    before = target.read_text()

    def full(self, data, *a, **kw):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(Path, "write_text", full)
    with pytest.raises(OutputError, match=rf"{_q(target)}: cannot write \(no space left"):
        DetectionConfig.preset("landsat").to_toml(target)
    monkeypatch.undo()
    assert target.read_text() == before and _leftovers(tmp_path) == []


def _unwritable_folder(tmp_path: Path) -> tuple[Path, str]:
    """A folder no file can be created in, and the words of the expected message.

    As root (containers, CI), chmod does not stop writes: use a "folder" that is a file.
    """
    if os.geteuid() != 0:
        folder = tmp_path / "readonly"
        folder.mkdir()
        folder.chmod(0o555)
        return folder, "permission denied"
    blocker = tmp_path / "readonly"
    blocker.write_text("a file where the output folder should be")
    return blocker, "a parent of the path is a file"


@pytest.mark.parametrize("nested", [False, True], ids=["in it", "in a subfolder"])
def test_permission_error_names_the_output(tmp_path, nested):
    folder, words = _unwritable_folder(tmp_path)
    target = folder / ("sub" if nested else "") / "events.csv"
    try:
        with pytest.raises(OutputError, match=rf"{_q(target)}: cannot write \({words}"):
            write_table(TABLE, target)
    finally:
        folder.chmod(0o755)
    assert not target.exists()


def test_read_only_target_directory_rename_fails_cleanly(tmp_path):
    # the target is an existing folder: the rename fails, the temp file is removed
    target = tmp_path / "pools.csv"
    target.mkdir()
    (target / "keep.txt").write_text("x")
    with pytest.raises(OutputError, match=rf"{_q(target)}: cannot write \(the path is a folder"):
        write_table(TABLE, target)
    assert (target / "keep.txt").read_text() == "x"
    assert _leftovers(tmp_path) == []


def _full_disk(monkeypatch):
    """The file system reports 0 bytes free, as it does when a write hit ENOSPC."""
    import shutil

    import minewatch.io.write as write

    usage = shutil.disk_usage("/")
    monkeypatch.setattr(write.shutil, "disk_usage",
                        lambda path: type(usage)(usage.total, usage.total, 0))


def test_gdal_write_on_a_full_disk(tmp_path, monkeypatch):
    # GDAL reports ENOSPC only in its log; its exception says "Write failed"
    target = tmp_path / "change.tif"
    target.write_bytes(b"earlier change map")
    _full_disk(monkeypatch)
    with pytest.raises(OutputError, match=rf"{_q(target)}: cannot write \(no space left.*"
                                          r"RasterioIOError"), atomic_path(target) as tmp:
        tmp.unlink()
        tmp.symlink_to("/dev/full")  # every write to it fails with ENOSPC
        with rasterio.open(tmp, "w", driver="GTiff", width=300, height=300, count=1,
                           dtype="float32", crs="EPSG:32647",
                           transform=from_origin(*ORIGIN, 10, 10)) as dst:
            dst.write(np.random.default_rng(5).random((1, 300, 300), np.float32))
    assert target.read_bytes() == b"earlier change map"
    assert _leftovers(tmp_path) == []


def test_geopackage_driver_error_on_a_full_disk(tmp_path, monkeypatch):
    from pyogrio.errors import DataSourceError

    target = tmp_path / "pools.gpkg"
    _full_disk(monkeypatch)
    with pytest.raises(OutputError, match=rf"{_q(target)}: cannot write \(no space left"), \
            atomic_path(target):
        raise DataSourceError("sqlite3_exec(INSERT ...) failed: database or disk is full")
    assert not target.exists() and _leftovers(tmp_path) == []


def test_other_errors_inside_atomic_path_are_not_disguised(tmp_path):
    target = tmp_path / "out.csv"
    with pytest.raises(FileNotFoundError, match=r"missing_input\.csv"), atomic_path(target):
        pd.read_csv(tmp_path / "missing_input.csv")  # an input, not the output
    with pytest.raises(RuntimeError, match="a bug"), atomic_path(target):
        raise RuntimeError("a bug, with plenty of disk space")
    assert not target.exists() and _leftovers(tmp_path) == []


def test_input_errors_inside_atomic_path_are_not_disguised(tmp_path, write_tif):
    cut = tmp_path / "cut.tif"
    cut.write_bytes(b"")
    target = tmp_path / "out.csv"
    with pytest.raises(TileReadError, match=r"cut\.tif"), atomic_path(target):
        open_tile(cut)
    assert not target.exists() and _leftovers(tmp_path) == []


def test_load_stack_without_verify_reads_one_band_and_leaves_the_broken_one_lazy(
        tmp_path, write_tif):
    """verify=False counts valid pixels on the first band: a truncated later band is not read
    (the stack loads), and computing the stack then fails on it (analyze finds the file
    then: test_pipeline.py::test_a_corrupt_scene_is_skipped_with_its_reason)."""
    folder = tmp_path / "archive" / "S2_20210105"
    noise = np.random.default_rng(6).integers(1, 10000, (512, 512), dtype=np.uint16)
    full = write_tif(tmp_path / "b08_full.tif", noise)
    for name in S2_DESCRIPTIONS[:3]:
        write_tif(folder / f"{name}.tif", noise)
    b08 = folder / "B08.tif"
    rasterio.shutil.copy(full, b08, driver="GTiff", tiled=True, compress="deflate")
    b08.write_bytes(b08.read_bytes()[: b08.stat().st_size // 2])
    frame = _scan(tmp_path / "archive")
    stack = load_stack(frame, chunks=256, verify=False)
    assert float(stack["valid_fraction"][0]) == 1.0
    with pytest.raises(Exception):  # noqa: B017 - odc-stac's own error, at compute time
        stack.sel(band="nir").compute()
