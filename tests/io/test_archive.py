"""scan_archive on folder trees (every layout, junk files) and STAC catalogs; sample truth."""

from __future__ import annotations

from pathlib import Path

import dask
import numpy as np
import pandas as pd
import pytest
import rasterio

from minewatch import load_stack, scan_archive
from minewatch.errors import EmptyArchiveError, MinewatchWarning
from minewatch.synth import make_archive

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_tiles"


@pytest.fixture(scope="module")
def mixed_archive(tmp_path_factory):
    """One folder holding every layout the generator writes, plus junk."""
    root = tmp_path_factory.mktemp("mixed")
    common = dict(shape=(48, 48), clouds=False, confounders=False, nodata_edges=False)
    make_archive(root / "s2", layout="sentinel2", dates=("2022-03-01",), seed=1, **common)
    make_archive(root / "s2gee", layout="sentinel2_gee", dates=("2021-01-10",), seed=2, **common)
    make_archive(root / "s2stack", layout="sentinel2_multiband", dates=("2020-12-01",), seed=3,
                 **common)
    make_archive(root / "ls", layout="landsat", resolution_m=30, dates=("2021-02-01",), seed=4,
                 **common)
    make_archive(root / "ps", layout="planetscope", resolution_m=3, dates=("2023-02-02",),
                 seed=5, **common)
    make_archive(root / "rgb", layout="rgb", resolution_m=0.5, dates=("2024-01-05",), seed=6,
                 **common)
    (root / "junk").mkdir()
    (root / "junk" / "notes_20220101.tif").write_text("not a raster")
    good = next((root / "ps").glob("*_AnalyticMS_SR.tif")).read_bytes()
    (root / "junk" / "20220202_000000_0000_3B_AnalyticMS_SR.tif").write_bytes(good[:300])
    return root


def test_every_layout_is_one_scene_with_its_sensor_and_date(mixed_archive):
    with pytest.warns(MinewatchWarning, match="skipped 2"):
        scenes = scan_archive(mixed_archive)
    got = {(r.sensor, r.date.strftime("%Y-%m-%d")) for r in scenes.itertuples()}
    assert got == {
        ("sentinel2", "2022-03-01"),
        ("sentinel2_gee", "2021-01-10"),
        ("sentinel2", "2020-12-01"),
        ("landsat", "2021-02-01"),
        ("planetscope", "2023-02-02"),
        ("rgb", "2024-01-05"),
    }
    assert list(scenes["date"]) == sorted(scenes["date"])
    assert scenes.crs.to_epsg() == 4326
    assert set(scenes["crs"]) == {"EPSG:32647"}
    rgb = scenes[scenes.sensor == "rgb"].iloc[0]
    assert not rgb.has_nir and rgb.bands == "blue,green,red"
    assert scenes.loc[scenes.sensor == "landsat", "resolution_m"].item() == 30.0
    skipped = dict(scenes.attrs["skipped"])
    assert any("notes_20220101.tif" in p for p in skipped)
    assert any("20220202_000000" in p for p in skipped)
    # the footprints are where the generator put them (Kachin, near lon 98.33, lat 25.72)
    minx, miny, maxx, maxy = scenes.total_bounds
    assert 98.2 < minx < maxx < 98.5 and 25.6 < miny < maxy < 25.8


def test_empty_or_missing_archive_is_a_clear_error(tmp_path):
    with pytest.raises(EmptyArchiveError, match="no usable scene"):
        scan_archive(tmp_path)
    with pytest.raises(EmptyArchiveError, match="no such folder"):
        scan_archive(tmp_path / "nowhere")


def test_stac_catalog_lists_the_same_scenes_as_the_folder():
    from_folder = scan_archive(SAMPLE)
    from_catalog = scan_archive(SAMPLE / "catalog.json")
    assert list(from_catalog["scene_id"]) == list(from_folder["scene_id"])
    assert list(from_catalog["date"]) == list(from_folder["date"])
    assert list(from_catalog["sensor"]) == list(from_folder["sensor"])
    np.testing.assert_allclose(from_catalog["cloud_fraction"], from_folder["cloud_fraction"])


def _truth(name):
    with rasterio.open(SAMPLE / "sentinel2_10m" / "truth" / name) as src:
        return src.read(1)


def test_cloud_fraction_matches_the_generators_truth():
    scenes = scan_archive(SAMPLE / "sentinel2_10m")
    cloudy = scenes[scenes.date.dt.strftime("%Y%m%d") == "20220227"].iloc[0]
    valid = _truth("valid_20220227.tif").astype(bool)
    with rasterio.open(next((SAMPLE / "sentinel2_10m").glob("*20220227*/B04.tif"))) as src:
        nodata = src.read(1) == 0
    truth_cloud = (~valid & ~nodata).sum() / (~nodata).sum()
    assert cloudy.cloud_fraction == pytest.approx(truth_cloud, abs=0.05)
    assert cloudy.cloud_fraction > 0.2


def test_load_stack_masks_clouds_but_never_the_pools():
    scenes = scan_archive(SAMPLE / "sentinel2_10m")
    with dask.config.set(scheduler="synchronous"):
        stack = load_stack(scenes, mask_clouds=True).compute()
    for t, day in enumerate(pd.DatetimeIndex(stack["time"].values).strftime("%Y%m%d")):
        finite = np.isfinite(stack.isel(time=t).sel(band="red").values)
        valid = _truth(f"valid_{day}.tif").astype(bool)
        pools = _truth(f"pools_{day}.tif") > 0
        assert finite.shape == valid.shape
        # the product mask (SCL at 20 m) agrees with the truth at 10 m
        assert (finite == valid).mean() > 0.95, day
        # pools seen in clear sky are never masked: no cloud test eats bright pools
        seen = pools & valid
        assert seen.sum() > 0
        assert finite[seen].mean() > 0.98, day
