"""minewatch.acquire against real servers on 127.0.0.1: a rustac STAC API and a file server
with range requests (tests/servers.py). Nothing reaches the internet."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pystac
import pytest
import rasterio
from shapely.geometry import box

import minewatch
from minewatch import acquire
from minewatch.acquire import FetchFailure, fetch, search
from minewatch.errors import InputError
from servers import SERVED, serve_archive


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    with serve_archive(tmp_path_factory.mktemp("served")) as served:
        yield served


@pytest.fixture
def files(served):
    """The file server, with counts and faults reset for each test."""
    served.files.reset()
    yield served.files
    served.files.reset()


@pytest.fixture
def fast_backoff(monkeypatch):
    monkeypatch.setattr(acquire, "BACKOFF_S", 0.01)


def _items(served, **kwargs):
    """The three served items, with URLs no earlier test has read (see Served.fresh)."""
    return served.fresh(search(served.api, "sentinel-2-l2a", served.aoi, "2020-01-01",
                               "2024-12-31", **kwargs))


# --- search ------------------------------------------------------------------------------------

def test_search_by_aoi_in_utm_dates_cloud_and_limit(served):
    found = _items(served)
    assert isinstance(found, pystac.ItemCollection)
    days = [item.datetime.strftime("%Y-%m-%d") for item in found]
    assert days == sorted(SERVED)  # all three, sorted by date
    # rustac has no query extension: the cloud limit is applied to the results
    clear = _items(served, max_cloud=20)
    assert [i.properties["eo:cloud_cover"] for i in clear] == [5.0, 15.0]
    one = search(served.api, "sentinel-2-l2a", served.aoi, "2022-01-01", "2022-12-31")
    assert [i.datetime.year for i in one] == [2022]
    assert [i.id for i in _items(served, limit=2)] == [i.id for i in found][:2]  # earliest
    far = box(10.0, 45.0, 10.1, 45.1)  # lon/lat, far from Kachin
    assert len(search(served.api, "sentinel-2-l2a", far, "2020-01-01", "2024-12-31")) == 0


def test_search_errors_name_the_problem(served):
    with pytest.raises(InputError, match=r"start=2024-01-01 is after end=2020-01-01"):
        search(served.api, "sentinel-2-l2a", served.aoi, "2024-01-01", "2020-01-01")
    with pytest.raises(InputError, match=r"'yesterday-ish'"):
        search(served.api, "sentinel-2-l2a", served.aoi, "yesterday-ish", "2020-01-01")
    with pytest.raises(InputError, match=r"max_cloud=150"):
        _items(served, max_cloud=150)
    with pytest.raises(InputError, match=r"not a preset"):
        search("earth-serch", "sentinel-2-l2a", served.aoi, "2020-01-01", "2020-02-01")
    with pytest.raises(InputError, match=r"http://127\.0\.0\.1:9: cannot be reached"):
        search("http://127.0.0.1:9", "sentinel-2-l2a", served.aoi, "2020-01-01", "2020-02-01")


def test_planetary_computer_urls_are_signed_when_the_package_is_there(monkeypatch):
    import sys
    import types

    item = pystac.Item("S2B_x", None, None, pd.Timestamp("2024-01-01").to_pydatetime(), {})
    blob = "https://sentinel2l2a01.blob.core.windows.net/sentinel2-l2/B04.tif"
    item.add_asset("B04", pystac.Asset(blob))
    assert acquire._sign_if_needed(item) is item  # no planetary_computer package here

    def sign_inplace(obj):
        for asset in obj.assets.values():
            asset.href += "?st=2024&sig=abc"
        return obj

    monkeypatch.setitem(sys.modules, "planetary_computer",
                        types.SimpleNamespace(sign_inplace=sign_inplace))
    signed = acquire._sign_if_needed(item)
    assert signed.assets["B04"].href.endswith("sig=abc") and item.assets["B04"].href == blob
    assert acquire._public(signed.assets["B04"].href) == blob  # no signature in files/messages
    assert acquire._sign_if_needed(signed) is signed  # already signed


def test_presets():
    assert acquire.resolve_api("earth-search") == "https://earth-search.aws.element84.com/v1"
    assert acquire.resolve_api("planetary-computer").startswith(
        "https://planetarycomputer.microsoft.com/api/stac/v1")
    assert set(acquire.COLLECTIONS) == {"sentinel-2-l2a", "landsat-c2-l2"}


# --- fetch -------------------------------------------------------------------------------------

def test_fetch_reads_only_the_window_and_keeps_the_pixels(served, files, tmp_path):
    result = fetch(_items(served), served.aoi, tmp_path / "archive", progress=False)
    assert result.ok and len(result.fetched) == 3 and not result.skipped
    # bytes: every band file was read, each only for its header and the tile(s) of the AOI
    sizes = {f"/{p.parent.name}/{p.name}": p.stat().st_size
             for p in served.root.glob("S2*/*.tif")}
    assert set(files.bytes_served) == set(sizes)
    for path, served_bytes in files.bytes_served.items():
        if path.endswith(("B02.tif", "B03.tif", "B04.tif", "B08.tif")):  # 1 of 16 tiles
            assert served_bytes < 0.2 * sizes[path], path
    assert files.total_bytes() < 0.25 * sum(sizes.values())
    assert all(r[2] for r in files.requests if r[0] == "GET")  # every GET was a range GET

    # pixels: the fetched scene equals the source read locally and clipped to the same window
    first = result.fetched[0]
    with rasterio.open(first) as src:
        descriptions = src.descriptions
        tags = src.tags()
        left, bottom, right, top = src.bounds
        assert src.crs.to_epsg() == 32647 and src.res == (10.0, 10.0)
    assert descriptions == ("SCL", "B02", "B03", "B04", "B08", "B11", "B12")
    a0, b0, a1, b1 = served.aoi_bounds
    assert left <= a0 and bottom <= b0 and right >= a1 and top >= b1  # covers the AOI
    assert right - left < (a1 - a0) + 41 and top - bottom < (b1 - b0) + 41  # and little more
    fetched = minewatch.open_tile(first)
    source = minewatch.open_tile(served.root / first.stem)
    window = source.sel(x=slice(left, right), y=slice(top, bottom))
    np.testing.assert_array_equal(fetched.values, window.values)  # NaN where SCL masks
    assert fetched.attrs["sensor"] == "sentinel2" and fetched.attrs["mask_kind"] == "scl"
    day = first.stem.split("_")[2]
    assert pd.Timestamp(fetched.attrs["time"]).strftime("%Y%m%d") == day
    # the item's metadata as tags
    assert tags["PROCESSING_BASELINE"] in ("02.14", "04.00")
    assert tags["BOA_ADD_OFFSET"] == ("-1000" if day >= "20220125" else "0")
    assert float(tags["CLOUD_COVER"]) == SERVED[f"{day[:4]}-{day[4:6]}-{day[6:]}"]
    assert tags["STAC_ITEM_ID"] == first.stem and tags["datetime"].startswith(day[:4])
    # atomic writes: no temporary file left
    assert not [p for p in (tmp_path / "archive").rglob(".*")]


def test_rerun_fetches_nothing_new(served, files, tmp_path):
    items = _items(served)
    first = fetch(items, served.aoi, tmp_path / "archive", progress=False)
    stamps = {p: p.stat().st_mtime_ns for p in first.fetched}
    files.reset()
    again = fetch(items, served.aoi, tmp_path / "archive", progress=False)
    assert again.fetched == () and again.skipped == first.fetched and again.ok
    assert files.requests == [] and files.total_bytes() == 0
    assert {p: p.stat().st_mtime_ns for p in again.skipped} == stamps


def test_a_dropped_connection_is_retried(served, files, tmp_path, fast_backoff, caplog):
    target = served.ids[1]
    path = served.url_path(target, "B04")
    # GDAL re-sends a dropped request twice itself (GDAL_HTTP_MAX_RETRY=2), then gives up;
    # minewatch's back-off retry then opens the file again
    files.drops[path] = 4
    with caplog.at_level("INFO", logger="minewatch.acquire"):
        result = fetch(_items(served), served.aoi, tmp_path / "archive", progress=False)
    assert files.dropped == [path] * 4
    assert any("retry 1/3" in r.getMessage() and target in r.getMessage()
               for r in caplog.records)
    assert result.ok and len(result.fetched) == 3
    np.testing.assert_array_equal(
        minewatch.open_tile(tmp_path / "archive" / "sentinel-2-l2a" / f"{target}.tif")
        .sel(band="red").shape, (150, 150))


def test_a_connection_that_keeps_failing_is_recorded(served, files, tmp_path, fast_backoff):
    target = served.ids[0]
    path = served.url_path(target, "B02")
    files.drops[path] = 50
    result = fetch(_items(served), served.aoi, tmp_path / "archive", retries=2,
                   progress=False)
    assert [f.item_id for f in result.failed] == [target]
    failure = result.failed[0]
    assert failure.asset == "B02" and failure.href.endswith(path)
    assert "after 2 retries" in failure.reason
    # 1 try + 2 retries, each of which GDAL may itself retry a few times; then it gives up
    assert 3 <= len(files.dropped) < 50 and files.drops[path] > 0
    assert len(result.fetched) == 2


def test_a_404_asset_is_recorded_and_skipped_then_fetched_on_rerun(served, files, tmp_path):
    items = _items(served)
    target = served.ids[2]
    path = served.url_path(target, "B08")
    files.missing.add(path)
    result = fetch(items, served.aoi, tmp_path / "archive", progress=False)
    assert len(result.failed) == 1
    failure = result.failed[0]
    assert isinstance(failure, FetchFailure)
    assert (failure.item_id, failure.asset) == (target, "B08")
    assert "HTTP 404" in failure.reason and failure.href.endswith(path)
    assert [r for r in files.requests if r[1] == path and r[0] == "GET"] == []  # no retry
    assert sorted(p.stem for p in result.fetched) == sorted(served.ids[:2])
    assert not (tmp_path / "archive" / "sentinel-2-l2a" / f"{target}.tif").exists()
    # the catalog holds what was fetched
    assert sorted(s.id for s in minewatch.io.stac.read_items(result.catalog)) == \
        sorted(served.ids[:2])
    # the server is fixed: the rerun fetches only the missing scene
    files.reset()
    again = fetch(items, served.aoi, tmp_path / "archive", progress=False)
    assert [p.stem for p in again.fetched] == [target] and len(again.skipped) == 2
    assert {r[1].split("/")[1] for r in files.requests} == {target}


def test_fetched_archive_scans_and_opens_with_minewatch(served, files, tmp_path):
    result = fetch(_items(served), served.aoi, tmp_path / "archive", progress=False)
    folder = minewatch.scan_archive(tmp_path / "archive")
    assert list(folder["scene_id"]) == served.ids
    assert set(folder["sensor"]) == {"sentinel2"} and set(folder["resolution_m"]) == {10.0}
    assert (folder["bands"] == "blue,green,red,nir,swir1,swir2").all()
    catalog = minewatch.scan_archive(result.catalog)
    assert list(catalog["scene_id"]) == served.ids
    np.testing.assert_allclose(catalog["cloud_fraction"], folder["cloud_fraction"])
    assert list(catalog["date"]) == list(folder["date"])
    stack = minewatch.load_stack(folder, served.aoi)
    assert stack.sizes["time"] == 3 and stack.sizes["band"] == 6
    assert float(stack.sel(band="nir").mean()) > 0.1  # reflectance, not DN


def test_bands_are_selected_by_role_or_name(served, files, tmp_path):
    items = _items(served)[:1]
    result = fetch(items, served.aoi, tmp_path / "a", bands=["red", "B08", "green", "blue"],
                   progress=False)
    with rasterio.open(result.fetched[0]) as src:
        assert src.descriptions == ("SCL", "B02", "B03", "B04", "B08")
    assert not any(p.endswith(("B11.tif", "B12.tif")) for p in files.bytes_served)
    bad = fetch(items, served.aoi, tmp_path / "b", bands="red,B99", progress=False)
    assert "no band 'B99'" in bad.failed[0].reason and not bad.fetched


def test_an_aoi_outside_the_scene_is_recorded(served, files, tmp_path):
    far = box(98.9, 26.5, 98.91, 26.51)  # same UTM zone, 100 km away
    result = fetch(_items(served)[:1], far, tmp_path / "a", progress=False)
    assert "does not overlap" in result.failed[0].reason and result.catalog is None


def test_the_callers_gdal_options_reach_the_download_threads(served, files, tmp_path):
    with rasterio.Env(GDAL_HTTP_USERAGENT="minewatch-test/1.0"):
        result = fetch(_items(served)[:1], served.aoi, tmp_path / "a", workers=2,
                       progress=False)
    assert result.ok and files.user_agents == {"minewatch-test/1.0"}


def test_fetch_argument_errors(served, tmp_path):
    with pytest.raises(InputError, match="workers=0"):
        fetch([], served.aoi, tmp_path, workers=0)
    with pytest.raises(InputError, match="pystac Items"):
        fetch(["S2A_x"], served.aoi, tmp_path)


def test_landsat_items_are_fetched_into_a_file_open_tile_reads(tmp_path):
    """Landsat C2 L2 (local file hrefs: fetch reads any GDAL path, not only URLs)."""
    from minewatch.io.stac import scene_to_item
    from minewatch.io.tiles import discover_scenes
    from minewatch.synth import make_archive

    make_archive(tmp_path / "src", seed=2, shape=(300, 300), resolution_m=30.0,
                 layout="landsat", dates=("2022-02-01",))
    (scene,), _ = discover_scenes(tmp_path / "src")
    item = scene_to_item(scene)
    assert item.properties["constellation"] == "landsat"
    source = minewatch.open_tile(list(scene.paths))
    x0, y0 = float(source.x[100]), float(source.y[60])  # pixel centres
    aoi = gpd_box(x0 - 15, y0 - 30 * 80 + 15, x0 + 30 * 50 - 15, y0 + 15)
    result = fetch([item], aoi, tmp_path / "out", progress=False)
    assert result.ok, result.failed
    with rasterio.open(result.fetched[0]) as src:
        assert src.descriptions[0] == "QA_PIXEL" and "SR_B5" in src.descriptions
        assert (src.width, src.height) == (50, 80)
    tile = minewatch.open_tile(result.fetched[0])
    assert tile.attrs["sensor"] == "landsat" and tile.attrs["mask_kind"] == "qa_pixel"
    window = source.isel(x=slice(100, 150), y=slice(60, 140)).sel(band=tile["band"].values)
    np.testing.assert_array_equal(tile.values, window.values)


def gpd_box(*bounds):
    import geopandas as gpd

    return gpd.GeoSeries([box(*bounds)], crs="EPSG:32647")
