"""Archives on disk: layouts, DN rules, tags, truth files, determinism, ingest round trip."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pyogrio
import pytest
import rasterio

from minewatch.errors import InputError
from minewatch.synth import generate_scenes, landsat_dn, make_archive, make_world, s2_dn
from minewatch.synth.layout import CLEARING_CODES

DATES = ("2021-03-05", "2022-02-27")  # both sides of the 2022-01-25 offset change
SMALL = dict(shape=(48, 64), dates=DATES, seed=11)


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _tree(root) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): _sha(p) for p in sorted(root.rglob("*"))
            if p.is_file()}


@pytest.mark.parametrize("layout", ["sentinel2", "planetscope"])
def test_same_seed_same_bytes(tmp_path, layout):
    a = make_archive(tmp_path / "a", layout=layout, **SMALL)
    b = make_archive(tmp_path / "b", layout=layout, **SMALL)
    c = make_archive(tmp_path / "c", layout=layout, **(SMALL | dict(seed=12)))
    ta, tb, tc = _tree(a.root), _tree(b.root), _tree(c.root)
    assert ta == tb
    assert "truth/truth.gpkg" in ta
    assert ta != tc


def test_s2_dn_rule_known_values():
    refl = np.array([0.0, 0.1234, 0.5, np.nan])
    assert s2_dn(refl, "2022-01-25").tolist() == [1000, 2234, 6000, 0]
    assert s2_dn(refl, "2022-01-24").tolist() == [1, 1234, 5000, 0]  # 0 is nodata: clipped
    assert landsat_dn(np.array([0.0])).tolist() == [round(0.2 / 0.0000275)]


def test_sentinel2_cog_layout(tmp_path):
    world = make_world(seed=4, extent_m=(1000, 800), dates=DATES, clouds=(0.0, 0.3))
    arch = make_archive(tmp_path, world=world, shape=(48, 64))
    refl = generate_scenes(world, shape=(48, 64)).reflectance
    for t, date in enumerate(DATES):
        files = {p.name: p for p in arch.scenes[date]}
        assert set(files) == {"B02.tif", "B03.tif", "B04.tif", "B08.tif", "B11.tif", "B12.tif",
                              "SCL.tif"}
        folder = files["B02.tif"].parent.name
        assert folder.endswith(f"_{date.replace('-', '')}_0_L2A") and folder[:3] in ("S2A", "S2B")
        with rasterio.open(files["B04.tif"]) as src:
            assert src.crs.to_epsg() == 32647 and src.dtypes[0] == "uint16" and src.nodata == 0
            assert src.res == (10.0, 10.0) and src.descriptions == ("B04",)
            tags = src.tags()
            dn = src.read(1)
        expected = s2_dn(refl.isel(time=t).sel(band="red").values, date)
        np.testing.assert_array_equal(dn, expected)
        assert tags["TIFFTAG_DATETIME"].startswith(date.replace("-", ":"))
        assert tags["ACQUISITION_DATE"].startswith(date)
        if pd.Timestamp(date) >= pd.Timestamp("2022-01-25"):
            assert tags["BOA_ADD_OFFSET"] == "-1000" and tags["PROCESSING_BASELINE"] == "04.00"
        else:
            assert "BOA_ADD_OFFSET" not in tags and tags["PROCESSING_BASELINE"] == "02.14"
        with rasterio.open(files["B11.tif"]) as src:
            assert src.res == (20.0, 20.0) and src.shape == (24, 32)
        with rasterio.open(files["SCL.tif"]) as src:
            scl = src.read(1)
            assert src.dtypes[0] == "uint8" and src.res == (20.0, 20.0)
        assert set(np.unique(scl)) <= {0, 3, 4, 5, 6, 8, 9, 10}
    with rasterio.open(arch.truth["2022-02-27"]["valid"]) as src:
        valid = src.read(1)
    assert 0 < valid.mean() < 1  # the cloudy date
    assert set(np.unique(scl)) & {8, 9, 10}


@pytest.mark.parametrize(
    ("layout", "names", "dtype", "count"),
    [
        ("sentinel2_multiband", ("B02", "B03", "B04", "B08", "B11", "B12"), "uint16", 6),
        ("sentinel2_gee", ("B2", "B3", "B4", "B8", "B11", "B12"), "uint16", 6),
        ("planetscope", ("blue", "green", "red", "nir"), "uint16", 4),
        ("rgb", ("red", "green", "blue"), "uint8", 3),
    ],
)
def test_single_file_layouts(tmp_path, layout, names, dtype, count):
    world = make_world(seed=2, extent_m=(1000, 800), dates=DATES)
    arch = make_archive(tmp_path, world=world, shape=(48, 64), layout=layout)
    refl = generate_scenes(world, shape=(48, 64),
                           sensor="sentinel2" if layout.startswith("sentinel2") else layout)
    for t, date in enumerate(DATES):
        image = arch.scenes[date][0]
        with rasterio.open(image) as src:
            assert src.crs.to_epsg() == 32647 and src.count == count
            assert src.dtypes[0] == dtype and src.nodata == 0
            assert src.descriptions == names
            assert src.tags()["ACQUISITION_DATE"].startswith(date)
            dn = src.read(1).astype(np.int64)
            colours = [c.name for c in src.colorinterp]
        blue = refl.reflectance.isel(time=t).sel(band="red" if layout == "rgb" else "blue")
        blue = blue.values.astype(np.float64)
        ok = np.isfinite(blue)
        if layout == "sentinel2_multiband":
            np.testing.assert_array_equal(dn, s2_dn(blue, date))
        elif layout == "rgb":
            assert colours == ["red", "green", "blue"]  # photometric=RGB
            np.testing.assert_array_equal(dn[ok], np.clip(np.round(blue[ok] * 255), 1, 255))
        else:  # DN = reflectance x 10000, no offset ever
            np.testing.assert_array_equal(dn[ok], np.round(blue[ok] * 10000))
    if layout == "planetscope":
        udm = arch.scenes[DATES[0]][1]
        assert udm.name.endswith("_3B_udm2.tif")
        with rasterio.open(udm) as src:
            assert src.count == 8 and src.dtypes[0] == "uint8"


def test_landsat_layout(tmp_path):
    arch = make_archive(tmp_path, layout="landsat", resolution_m=30.0, shape=(40, 40),
                        dates=("2021-03-05", "2022-02-27", "2023-03-14"),
                        clouds=(0.0, 0.0, 0.3), seed=3)
    names = [p.name for p in arch.scenes["2022-02-27"]]
    assert names[0] == "LC09_L2SP_131042_20220227_20220309_02_T1_SR_B1.TIF"
    assert names[-1].endswith("_QA_PIXEL.TIF") and len(names) == 8
    qa_path = arch.scenes["2023-03-14"][-1]
    assert qa_path.name.startswith("LC08_")
    with rasterio.open(qa_path) as src:
        qa = src.read(1)
    with rasterio.open(arch.truth["2023-03-14"]["valid"]) as src:
        valid = src.read(1).astype(bool)
    assert ((qa[~valid] & (1 << 3 | 1 << 4 | 1)) != 0).all()
    assert ((qa[valid] & (1 << 6 | 1 << 1)) != 0).all()  # clear, or dilated cloud
    assert ((qa[valid] & (1 << 6)) != 0).mean() > 0.5
    with rasterio.open(arch.scenes["2023-03-14"][4]) as src:  # SR_B5, nir
        nir = src.read(1) * 0.0000275 - 0.2
    assert 0.0 < np.median(nir) < 0.6


def test_truth_files(tmp_path):
    arch = make_archive(tmp_path, **SMALL)
    layers = {name for name, _ in pyogrio.list_layers(arch.truth_vectors)}
    assert layers == {"pools", "sites", "site_clearings", "confounders"}
    pools = pyogrio.read_dataframe(arch.truth_vectors, layer="pools")
    assert pools.crs.to_epsg() == 32647
    assert {"pool_id", "site_id", "shape", "colour", "first_date", "last_date", "drained_date",
            "area_m2"} <= set(pools.columns)
    assert set(pools["shape"]) <= {"square", "circular"}
    sites = pyogrio.read_dataframe(arch.truth_vectors, layer="sites")
    assert {f"n_pools_{d.replace('-', '')}" for d in DATES} <= set(sites.columns)
    for date, files in arch.truth.items():
        assert set(files) == {"pools", "pool_fraction", "clearings", "valid"}
        assert files["pools"].parent.name == "truth"
        with rasterio.open(files["pools"]) as src:
            assert src.dtypes[0] == "uint16" and src.crs.to_epsg() == 32647
        with rasterio.open(files["pool_fraction"]) as src:
            assert src.dtypes[0] == "float32"
        with rasterio.open(files["clearings"]) as src:
            assert set(np.unique(src.read(1))) <= set(CLEARING_CODES.values()) | {0}
        assert date in DATES


def test_refuses_to_overwrite(tmp_path):
    make_archive(tmp_path, **SMALL)
    with pytest.raises(InputError, match="overwrite=True"):
        make_archive(tmp_path, **SMALL)
    make_archive(tmp_path, overwrite=True, **SMALL)


def test_ingest_reads_the_archive(tmp_path):
    from minewatch.io import scan_archive

    make_archive(tmp_path / "s2", **SMALL)
    make_archive(tmp_path / "ps", layout="planetscope", resolution_m=3.0, **SMALL)
    scenes = scan_archive(tmp_path)
    assert sorted(scenes["sensor"]) == ["planetscope"] * 2 + ["sentinel2"] * 2
    assert sorted(str(d)[:10] for d in scenes["date"]) == sorted(list(DATES) * 2)
