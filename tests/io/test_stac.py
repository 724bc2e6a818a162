"""STAC items → scenes (real items from public catalogues) and scenes → a local catalog."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pystac
import pytest
from rasterio.transform import from_origin

from minewatch.errors import InputError
from minewatch.io import BandSource, MaskSource, Scene, load_stack
from minewatch.io.stac import item_to_scene, read_items, scene_to_item, write_catalog


@pytest.fixture
def stac_dir(data_dir):
    return data_dir / "stac_items"


def test_planetary_computer_sentinel2_baseline_05_has_the_offset(stac_dir):
    items = read_items(stac_dir / "pc_sentinel-2-l2a-pc.json")
    assert len(items) == 4
    scene = item_to_scene(items[0])
    assert scene.sensor == "sentinel2"
    assert scene.roles[:4] == ("coastal", "blue", "green", "red")
    assert {"nir", "nir08", "swir1", "swir2", "rededge1"} <= set(scene.roles)
    red = scene.band("red")
    assert (red.scale, red.offset, red.name) == (1e-4, -0.1, "B04")
    assert red.href.endswith("_B04_10m.tif")
    assert scene.mask is not None and scene.mask.kind == "scl"
    assert scene.time == pd.Timestamp("2024-04-19T09:55:49.024")


def test_sentinel2_baseline_02_and_earth_search_v0_have_no_offset(stac_dir):
    old = item_to_scene(read_items(
        stac_dir / "S2B_MSIL2A_20190629T212529_R043_T06VVN_20201006T080531_raster_ext.json")[0])
    assert old.band("red").offset == 0.0 and old.band("red").scale == 1e-4
    assert old.band("red").nodata == 0
    v0 = item_to_scene(read_items(stac_dir / "S2A_28QCH_20200714_0_L2A.json")[0])
    assert v0.sensor == "sentinel2"
    assert v0.band("swir1").href.endswith("/B11.tif") and v0.band("swir1").offset == 0.0
    assert v0.properties["cloud_cover"] == pytest.approx(2.36)


@pytest.mark.parametrize("name", ["pc_landsat-c2-l2-pc.json",
                                  "LC08_L2SP_028030_20200114_20200824_02_T1_SR.json"])
def test_landsat_c2_l2_items(stac_dir, name):
    scene = item_to_scene(read_items(stac_dir / name)[0])
    assert scene.sensor == "landsat"
    assert scene.roles == ("coastal", "blue", "green", "red", "nir", "swir1", "swir2")
    nir = scene.band("nir")
    assert nir.href.endswith("_SR_B5.TIF")
    assert (nir.scale, nir.offset) == (2.75e-05, -0.2)
    assert scene.mask is not None and scene.mask.kind == "qa_pixel"


def test_planet_nicfi_multiband_asset_scale_one_is_read_as_1e4(stac_dir):
    scene = item_to_scene(read_items(stac_dir / "pc_planet-nicfi-analytic-pc.json")[0])
    assert scene.sensor == "planetscope"
    assert scene.roles == ("blue", "green", "red", "nir")
    assert [b.index for b in scene.bands] == [1, 2, 3, 4]
    assert len({b.href for b in scene.bands}) == 1
    assert scene.band("nir").scale == 1e-4


def test_not_stac_is_a_clear_error(tmp_path):
    bad = tmp_path / "notes.json"
    bad.write_text('{"hello": 1}')
    with pytest.raises(InputError, match=r"notes\.json"):
        read_items(bad)
    with pytest.raises(InputError, match=r"missing\.json"):
        read_items(tmp_path / "missing.json")


def _scene(tmp_path, write_tif, date, value):
    folder = tmp_path / "archive" / f"S2_{date:%Y%m%d}"
    transform = from_origin(300000, 2850000, 10, 10)
    bands = []
    for i, (role, name) in enumerate((("red", "B04"), ("nir", "B08"))):
        path = write_tif(folder / f"{name}.tif", np.full((64, 64), value + 1000 * i, np.uint16),
                         transform=transform)
        bands.append(BandSource(role=role, href=str(path), name=name, scale=1e-4, nodata=0))
    scl = write_tif(folder / "SCL.tif", np.full((32, 32), 4, np.uint8),
                    transform=from_origin(300000, 2850000, 20, 20))
    return Scene(id=folder.name, sensor="sentinel2", bands=tuple(bands), time=date,
                 mask=MaskSource("scl", str(scl)))


def test_scene_item_round_trip_keeps_roles_scale_and_hrefs(tmp_path, write_tif):
    scene = _scene(tmp_path, write_tif, pd.Timestamp("2021-01-05T04:00"), 1500)
    item = scene_to_item(scene)
    back = item_to_scene(item)
    assert back.roles == scene.roles
    assert [b.scale for b in back.bands] == [1e-4, 1e-4]
    assert [b.href for b in back.bands] == [b.href for b in scene.bands]
    assert back.mask == scene.mask
    assert back.time == scene.time


def test_written_catalog_loads_like_the_scenes(tmp_path, write_tif):
    scenes = [_scene(tmp_path, write_tif, pd.Timestamp(d), v)
              for d, v in (("2021-01-05", 1500), ("2021-02-05", 1700))]
    catalog_path = write_catalog(tmp_path / "archive", scenes)
    assert catalog_path.exists()
    catalog = pystac.Catalog.from_file(str(catalog_path))
    items = list(catalog.get_items(recursive=True))
    assert sorted(i.id for i in items) == ["S2_20210105", "S2_20210205"]
    # asset hrefs are stored relative, so the folder can be moved
    raw = (catalog_path.parent / "stac").glob("*.json")
    assert all('"href": "../' in p.read_text() for p in raw)
    from_catalog = load_stack(read_items(catalog_path)).compute()
    direct = load_stack(scenes).compute()
    np.testing.assert_array_equal(from_catalog.values, direct.values)
    np.testing.assert_allclose(direct.sel(band="red").mean(["y", "x"]).values, [0.15, 0.17],
                               atol=1e-6)
