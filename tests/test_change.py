"""Tests of minewatch.change: change maps between two dates, their polygons, areas and files."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import dask
import dask.array as da
import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import rasterio
import xarray as xr
from rasterio.errors import NotGeoreferencedWarning
from shapely.geometry import box

from minewatch.change import (
    CHANGE_CLASSES,
    CHANGE_COLORS,
    change_areas,
    change_map,
    change_polygons,
    write_change,
)
from minewatch.errors import DateError, InputError, MissingCRSError

UTM = "EPSG:32647"
X0, Y0 = 430000.0, 2830000.0  # top-left corner, near Pang War
RES = 10.0
DATES = pd.to_datetime(["2021-03-01", "2022-03-01", "2023-03-01"])
B, A = "2021-03-01", "2023-03-01"


def cells(r0: int, r1: int, c0: int, c1: int):
    """Box over pixel rows r0..r1-1, columns c0..c1-1 of the test grid."""
    return box(X0 + c0 * RES, Y0 - r1 * RES, X0 + c1 * RES, Y0 - r0 * RES)


def make_valid(shape=(20, 20), values=None, chunks=None, crs=UTM) -> xr.DataArray:
    data = np.ones((len(DATES), *shape), bool) if values is None else values
    ys = Y0 - (np.arange(shape[0]) + 0.5) * RES
    xs = X0 + (np.arange(shape[1]) + 0.5) * RES
    valid = xr.DataArray(data, dims=("time", "y", "x"),
                         coords={"time": DATES, "y": ys, "x": xs}, name="valid")
    if chunks is not None:
        valid = valid.chunk(chunks)
    return valid.rio.write_crs(crs) if crs else valid


def frame(rows, crs=UTM) -> gpd.GeoDataFrame:
    """rows: (date, kind, geometry); kind None for pools."""
    data = {"date": pd.to_datetime([r[0] for r in rows])}
    if rows and rows[0][1] is not None:
        data["kind"] = [r[1] for r in rows]
    out = gpd.GeoDataFrame(data, geometry=[r[2] for r in rows], crs=crs)
    out["area_m2"] = out.geometry.area
    return out


@pytest.fixture
def scene():
    """Clearings and pools with one known answer per class (pixel blocks of the 20 × 20 grid).

    - rows 0–4, cols 0–4: mining on both dates, same pool on both → persistent (4)
    - rows 0–4, cols 10–14: mining clearing only after → new clearing (2), with a pool on
      rows 1–2, cols 11–12 → new pools (3)
    - rows 10–14, cols 0–4: mining clearing only before → regrowth (5)
    - rows 10–14, cols 10–14: swidden after → no mining (1)
    - rows 15–19, cols 15–19: mining on the middle date only → no mining (1)
    """
    clearings = frame([
        (B, "mining", cells(0, 5, 0, 5)),
        (A, "mining", cells(0, 5, 0, 5)),
        (A, "mining", cells(0, 5, 10, 15)),
        (B, "unknown", cells(10, 15, 0, 5)),
        (A, "swidden", cells(10, 15, 10, 15)),
        ("2022-03-01", "mining", cells(15, 20, 15, 20)),
    ])
    pools = frame([
        (B, None, cells(1, 3, 1, 3)),
        (A, None, cells(1, 3, 1, 3)),
        (A, None, cells(1, 3, 11, 13)),
    ])
    return pools, clearings


def expected_classes() -> np.ndarray:
    out = np.ones((20, 20), np.uint8)
    out[0:5, 0:5] = 4
    out[0:5, 10:15] = 2
    out[1:3, 11:13] = 3
    out[10:15, 0:5] = 5
    return out


def test_every_class_has_its_known_answer(scene):
    pools, clearings = scene
    change = change_map(pools, clearings, make_valid(), B, A)
    assert change.dtype == np.uint8 and change.dims == ("y", "x")
    np.testing.assert_array_equal(change.values, expected_classes())
    assert change.attrs["before"] == "2021-03-01" and change.attrs["after"] == "2023-03-01"
    assert change.attrs["before_clearings"] == "detected"
    assert change.attrs["flag_values"] == [0, 1, 2, 3, 4, 5]
    assert change.attrs["flag_meanings"].split() == [n.replace(" ", "_")
                                                     for n in CHANGE_CLASSES.values()]


def test_cloud_on_either_date_is_no_data_never_change(scene):
    pools, clearings = scene
    values = np.ones((3, 20, 20), bool)
    values[0, 0:5, 10:20] = False   # cloud at `before` over the new clearing and its pools
    values[2, 10:15, 0:3] = False   # cloud at `after` over part of the regrowth
    values[1, :, :] = False         # the middle date is all cloud: it does not matter
    change = change_map(pools, clearings, make_valid(values=values), B, A).values
    expected = expected_classes()
    expected[0:5, 10:20] = 0
    expected[10:15, 0:3] = 0
    np.testing.assert_array_equal(change, expected)
    assert set(np.unique(change[~(values[0] & values[2])])) == {0}


def test_grid_crs_and_coordinates_are_kept(scene):
    pools, clearings = scene
    valid = make_valid()
    change = change_map(pools, clearings, valid, pd.Timestamp(B), np.datetime64(A))
    assert change.rio.crs == valid.rio.crs
    assert change.rio.transform() == valid.rio.transform()
    np.testing.assert_array_equal(change["x"], valid["x"])
    np.testing.assert_array_equal(change["y"], valid["y"])
    assert change.rio.nodata == 0
    as_bytes = change_map(pools, clearings, valid.astype(np.uint8), B, A)  # truth rasters' 0/1
    np.testing.assert_array_equal(as_bytes.values, change.values)


def test_subpixel_pool_burns_one_pixel_and_centres_decide():
    # 4 × 4 m pool between pixel centres: covers no centre, yet is one pixel of new pools
    tiny = box(X0 + 51, Y0 - 59, X0 + 55, Y0 - 55)  # inside pixel row 5, col 5
    # 14 × 14 m pool over the corner of four pixels, covering only one centre (row 8, col 8)
    corner = box(X0 + 79, Y0 - 91, X0 + 93, Y0 - 77)
    pools = frame([(A, None, tiny), (A, None, corner)])
    change = change_map(pools, None, make_valid(), B, A).values
    assert change[5, 5] == 3
    assert change[8, 8] == 3
    assert (change == 3).sum() == 2
    assert (change == 1).sum() == 398


def test_only_mining_kinds_count():
    clearings = frame([(A, kind, cells(0, 5, 5 * i, 5 * i + 5))
                       for i, kind in enumerate(["mining", "unknown", "swidden", "landslide"])])
    change = change_map(None, clearings, make_valid(), B, A).values
    assert (change[0:5, 0:10] == 2).all()
    assert (change[0:5, 10:20] == 1).all()


def test_dask_valid_gives_the_same_map_lazily(scene):
    pools, clearings = scene
    valid = make_valid(chunks={"time": 1, "y": 7, "x": 6})
    computed = []

    def counting_get(dsk, keys, **kwargs):
        computed.append(1)
        return dask.get(dsk, keys, **kwargs)

    with dask.config.set(scheduler=counting_get):
        change = change_map(pools, clearings, valid, B, A)
        assert computed == []  # building the map computes nothing
    assert isinstance(change.data, da.Array)
    assert change.data.chunks == ((7, 7, 6), (6, 6, 6, 2))
    np.testing.assert_array_equal(change.values, expected_classes())
    areas = change_areas(change)
    assert areas["pixels"].sum() == 400


def test_dask_threads_give_the_numpy_map(scene):
    pools, clearings = scene
    many = pd.concat([pools] + [pools.translate(xoff=float(dx), yoff=float(-dy)).to_frame(
        "geometry").assign(date=pools["date"].values) for dx in range(0, 150, 30)
        for dy in range(0, 150, 30)], ignore_index=True)
    many = gpd.GeoDataFrame(many, geometry="geometry", crs=UTM)
    valid = make_valid(shape=(200, 200), chunks={"y": 16, "x": 16})
    expected = change_map(many, clearings, valid.compute(), B, A).values
    with warnings.catch_warnings():
        warnings.simplefilter("error", NotGeoreferencedWarning)
        with dask.config.set(scheduler="threads", num_workers=4):
            found = change_map(many, clearings, valid, B, A).values
    np.testing.assert_array_equal(found, expected)


def test_in_memory_map_in_strips_is_the_map_of_one_block(scene, monkeypatch):
    # a large grid is classified (and its classes counted) a strip of rows at a time, so
    # the temporaries do not span it: strips of 3 rows give the one-block map and areas
    import minewatch.change as change_module

    pools, clearings = scene
    sub = frame([(A, None, box(X0 + 31, Y0 - 72, X0 + 34, Y0 - 69))])  # no pixel centre
    pools = gpd.GeoDataFrame(pd.concat([pools, sub], ignore_index=True), crs=UTM)
    values = np.ones((3, 20, 20), bool)
    values[0, 12:20, 2:9] = False
    valid = make_valid(values=values)
    seen = np.full((20, 20), np.datetime64("NaT"), "datetime64[ns]")
    seen[0:3, 10:15] = np.datetime64(B)
    first_seen = valid.isel(time=0, drop=True).copy(data=seen)
    later = clearings[clearings["date"] > pd.Timestamp(B)]  # the first date: from first_seen
    whole = change_map(pools, later, valid, B, A, first_seen=first_seen)
    areas = change_areas(whole)
    detected = change_map(pools, clearings, valid, B, A)
    monkeypatch.setattr(change_module, "_STRIP_PIXELS", 3 * 20)
    assert len(change_module._strips(20, 20)) == 7
    strips = change_map(pools, later, valid, B, A, first_seen=first_seen)
    assert strips.attrs["before_clearings"] == "first_seen raster"
    np.testing.assert_array_equal(strips.values, whole.values)
    assert (whole.values == 0).any() and (whole.values == 3).sum() == 5  # 2x2 pool + 1 px
    pd.testing.assert_frame_equal(change_areas(strips), areas)
    monkeypatch.setattr(change_module, "_STRIP_PIXELS", 7)  # strips of one row
    np.testing.assert_array_equal(change_map(pools, clearings, valid, B, A).values,
                                  detected.values)
    # a lazy valid of one block a date (as analyze reads it back) is made in strips too, on
    # the blocks of a lazy first_seen cut finer
    lazy = change_map(pools, later, valid.chunk({"time": 1}), B, A,
                      first_seen=first_seen.chunk({"x": 8}))
    assert lazy.data.chunks == ((20,), (8, 8, 4))
    np.testing.assert_array_equal(lazy.values, whole.values)
    np.testing.assert_array_equal(
        change_map(pools, clearings, valid.chunk({"time": 1}), B, A).values, detected.values)
    pd.testing.assert_frame_equal(change_areas(strips), areas)


def test_first_date_without_clearings_uses_first_seen():
    # before = the first date: detect_clearings gives no rows for it
    clearings = frame([
        ("2022-03-01", "mining", cells(0, 5, 0, 10)),
        (A, "mining", cells(0, 10, 0, 10)),
    ])
    clearings["first_seen"] = pd.to_datetime([B, B])
    valid = make_valid()
    # no first_seen at all: only pools could mark mining at `before`
    none = change_map(None, clearings.drop(columns="first_seen"), valid, B, A)
    assert none.attrs["before_clearings"] == "none"
    assert (none.values[0:10, 0:10] == 2).all()
    # the column: the nearest later date's clearings seen cleared at `before`
    column = change_map(None, clearings, valid, B, A)
    assert column.attrs["before_clearings"] == "first_seen of 2022-03-01"
    assert (column.values[0:5, 0:10] == 4).all() and (column.values[5:10, 0:10] == 2).all()
    # the raster, per pixel: cleared at `before` only on rows 0-2
    seen = np.full((20, 20), np.datetime64("NaT"), "datetime64[ns]")
    seen[0:3, 0:10] = np.datetime64(B)
    seen[3:10, 0:10] = np.datetime64("2022-03-01")
    first_seen = valid.isel(time=0, drop=True).copy(data=seen)
    raster = change_map(None, clearings, valid, B, A, first_seen=first_seen)
    assert raster.attrs["before_clearings"] == "first_seen raster"
    assert (raster.values[0:3, 0:10] == 4).all() and (raster.values[3:10, 0:10] == 2).all()
    assert (raster.values[10:] == 1).all()
    lazy = change_map(None, clearings, make_valid(chunks={"y": 8}), B, A,
                      first_seen=first_seen.chunk({"x": 5}))
    np.testing.assert_array_equal(lazy.values, raster.values)
    # an in-memory valid with a lazy first_seen: the map is lazy, on first_seen's blocks
    lazy = change_map(None, clearings, valid, B, A, first_seen=first_seen.chunk({"y": 6}))
    assert isinstance(lazy.data, da.Array)
    assert lazy.data.chunks == ((6, 6, 6, 2), (20,))
    np.testing.assert_array_equal(lazy.values, raster.values)


def test_polygon_areas_sum_to_the_table(scene):
    pools, clearings = scene
    values = np.ones((3, 20, 20), bool)
    values[2, 12:20, 2:20] = False
    change = change_map(pools, clearings, make_valid(values=values), B, A)
    polygons = change_polygons(change)
    areas = change_areas(change)
    assert list(areas.columns) == ["class", "name", "pixels", "area_m2"]
    assert list(polygons.columns) == ["class", "name", "area_m2", "geometry"]
    assert set(polygons["class"]) == {2, 3, 4, 5}  # no "no data", no "no mining"
    assert polygons.crs == UTM
    by_class = polygons.groupby("class")["area_m2"].sum()
    table = areas.set_index("class")
    for code, area in by_class.items():
        assert area == pytest.approx(table.loc[code, "area_m2"])
        assert table.loc[code, "pixels"] * RES * RES == pytest.approx(area)
    # regrowth observed: rows 10-11 (cols 0-4) and rows 12-14 (cols 0-1)
    assert table.loc[5, "area_m2"] == (2 * 5 + 3 * 2) * 100.0
    assert table.loc[0, "pixels"] == 8 * 18
    assert polygons.loc[polygons["class"] == 3, "name"].tolist() == ["new pools"]


def big_change(shape=(600, 520)) -> xr.DataArray:
    rng = np.random.default_rng(0)
    values = np.ones(shape, np.uint8)
    values[rng.random(shape) < 0.01] = 2
    values[100:200, 100:250] = 4
    values[300:320, 50:60] = 5
    values[:, :10] = 0
    values[50:52, 400:403] = 3
    ys = Y0 - (np.arange(shape[0]) + 0.5) * 3.0
    xs = X0 + (np.arange(shape[1]) + 0.5) * 3.0
    change = xr.DataArray(values, dims=("y", "x"), coords={"y": ys, "x": xs}, name="change",
                          attrs={"before": B, "after": A})
    return change.rio.write_crs(UTM)


def test_write_change_is_a_cog_with_colours_names_polygons_and_areas(tmp_path):
    change = big_change()
    target = tmp_path / "change" / "2021-03-01_2023-03-01.tif"
    tif, gpkg = write_change(change, target)
    assert tif == target and gpkg == target.with_suffix(".gpkg")
    with rasterio.open(tif) as src:
        assert src.driver == "GTiff"
        assert src.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        assert src.overviews(1) == [2, 4]
        assert src.profile["tiled"] and src.block_shapes[0] == (256, 256)
        assert src.nodata == 0 and src.dtypes[0] == "uint8"
        assert src.crs.to_epsg() == 32647
        assert src.transform == change.rio.transform()
        colours = src.colormap(1)
        for code, rgba in CHANGE_COLORS.items():
            assert colours[code] == rgba
        tags = src.tags()
        assert tags["before"] == B and tags["after"] == A
        assert tags["CLASS_4"] == "persistent mining"
        np.testing.assert_array_equal(src.read(1), change.values)
        overview = src.read(1, out_shape=(150, 130))  # read from the 4× overview
        assert set(np.unique(overview)) <= set(CHANGE_CLASSES)  # nearest: no blended codes
    aux = tif.with_name(tif.name + ".aux.xml").read_text()
    assert "<Category>new clearing</Category>" in aux
    polygons = gpd.read_file(gpkg, layer="change")
    assert pyogrio.list_layers(gpkg)[:, 0].tolist() == ["change"]
    assert polygons.crs == UTM
    areas = pd.read_csv(tif.with_name(f"{tif.stem}_areas.csv"))
    assert areas["pixels"].sum() == change.size
    merged = polygons.groupby("class")["area_m2"].sum()
    assert merged.loc[4] == pytest.approx(100 * 150 * 9.0)
    for code, area in merged.items():
        assert area == pytest.approx(areas.set_index("class").loc[code, "area_m2"])
    assert sorted(p.name for p in tif.parent.iterdir()) == sorted(
        [tif.name, tif.name + ".aux.xml", gpkg.name, f"{tif.stem}_areas.csv"])


def test_write_change_failure_leaves_no_temporary_file(tmp_path, monkeypatch):
    import minewatch.change as module

    def broken(change):
        raise RuntimeError("disk full")

    monkeypatch.setattr(module, "change_polygons", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        write_change(big_change((40, 40)), tmp_path / "c.tif")
    names = sorted(p.name for p in tmp_path.iterdir())
    assert not any(n.startswith(".") for n in names)  # no temporary file left
    assert names == []  # nothing is written before everything is computed


def test_write_change_replaces_an_existing_map(tmp_path):
    target = tmp_path / "c.tif"
    write_change(big_change((40, 40)), target)
    change = big_change((40, 40)).copy(data=np.full((40, 40), 4, np.uint8))
    write_change(change, target)
    with rasterio.open(target) as src:
        assert (src.read(1) == 4).all()
    assert len(gpd.read_file(target.with_suffix(".gpkg"))) == 1


# ------------------------------------------------------------------------------------ errors

def test_date_not_in_valid(scene):
    pools, clearings = scene
    with pytest.raises(DateError, match=r"after=2024-01-01 is not in valid.time \(2021-03-01, "
                                        r"2022-03-01, 2023-03-01\)"):
        change_map(pools, clearings, make_valid(), B, "2024-01-01")
    with pytest.raises(DateError, match="before='soon' is not a date"):
        change_map(pools, clearings, make_valid(), "soon", A)


def test_one_date_has_no_change_map(scene):
    pools, clearings = scene
    with pytest.raises(DateError, match=r"valid has 1 date \(2021-03-01\); a change map "
                                        "compares two dates"):
        change_map(pools, clearings, make_valid().isel(time=[0]), B, B)


def test_before_must_be_earlier(scene):
    pools, clearings = scene
    with pytest.raises(DateError, match="not earlier than after=2021-03-01; swap them"):
        change_map(pools, clearings, make_valid(), A, B)
    with pytest.raises(DateError, match="not earlier"):
        change_map(pools, clearings, make_valid(), A, A)


def test_detections_in_another_crs(scene):
    pools, clearings = scene
    with pytest.raises(InputError, match=r"clearings CRS \(EPSG:32646\) differs from valid's "
                                         r"CRS \(EPSG:32647\).*to_crs"):
        change_map(pools, clearings.set_crs("EPSG:32646", allow_override=True), make_valid(),
                   B, A)
    with pytest.raises(MissingCRSError, match="pools has no CRS"):
        change_map(pools.set_crs(None, allow_override=True), clearings, make_valid(), B, A)


def test_detections_outside_the_grid(scene):
    pools, clearings = scene
    far = pools.set_geometry(pools.translate(xoff=50_000.0))
    with pytest.raises(InputError, match="pools lie outside the grid of valid"):
        change_map(far, clearings, make_valid(), B, A)


def test_valid_problems(scene):
    pools, clearings = scene
    with pytest.raises(MissingCRSError, match=r"valid has no CRS; write one with valid.rio"):
        change_map(pools, clearings, make_valid(crs=None), B, A)
    with pytest.raises(InputError, match="valid has dims"):
        change_map(pools, clearings, make_valid().isel(time=0), B, A)
    with pytest.raises(InputError, match="valid has dtype float"):
        change_map(pools, clearings, make_valid().astype(float), B, A)
    with pytest.raises(InputError, match="pools has no 'date' column"):
        change_map(pools.drop(columns="date"), clearings, make_valid(), B, A)


def test_first_seen_on_another_grid(scene):
    pools, clearings = scene
    valid = make_valid()
    seen = xr.DataArray(np.full((10, 20), np.datetime64(B), "datetime64[ns]"),
                        dims=("y", "x"))
    with pytest.raises(InputError, match="first_seen is 10 × 20 px, valid 20 × 20"):
        change_map(pools, clearings, valid, B, A, first_seen=seen)
    shifted = valid.isel(time=0, drop=True).astype("datetime64[ns]")
    shifted = shifted.assign_coords(x=shifted["x"] + 5_000.0)
    with pytest.raises(InputError, match="first_seen lies on another grid"):
        change_map(pools, clearings, valid, B, A, first_seen=shifted)


def test_change_functions_need_a_change_map(tmp_path):
    with pytest.raises(InputError, match="change must be the"):
        change_areas(make_valid())
    with pytest.raises(MissingCRSError, match="change has no CRS"):
        change_polygons(xr.DataArray(np.ones((2, 2), np.uint8), dims=("y", "x")))


def test_docs_example_runs(tmp_path, monkeypatch):
    text = (Path(__file__).parents[1] / "docs" / "change.md").read_text()
    block = re.search(r"```python\n(.*?)```", text, re.S)
    assert block is not None
    monkeypatch.setattr("tempfile.mkdtemp", lambda: str(tmp_path))
    namespace: dict = {}
    exec(compile(block.group(1), "docs/change.md", "exec"), namespace)
    change = namespace["change"]
    assert change.attrs["before_clearings"] == "first_seen raster"
    assert set(np.unique(change.values)) >= {0, 1, 2, 4}
    assert namespace["tif"] == tmp_path / "change.tif" and namespace["gpkg"].exists()


def test_pool_with_a_pixel_centre_on_its_outline_is_never_lost():
    # 6 × 6 m pools whose edges pass through pixel centres (x = X0 + 55 and y = Y0 - 55):
    # whichever way rasterize decides the outline, each pool is at least one pixel
    pools = frame([(A, None, box(X0 + 55, Y0 - 61, X0 + 61, Y0 - 55)),
                   (A, None, box(X0 + 149, Y0 - 155, X0 + 155, Y0 - 149))])
    change = change_map(pools, None, make_valid(), B, A).values
    assert 2 <= (change == 3).sum() <= 3
    assert change[5, 5] == 3 or change[5, 6] == 3 or change[6, 5] == 3
    assert change[14, 14] == 3 or change[15, 15] == 3 or change[14, 15] == 3


def test_change_colours_match_the_maps() -> None:
    from matplotlib.colors import to_rgb

    from minewatch.change import CHANGE_COLORS
    from minewatch.plot import CHANGE_STYLE

    for code in (2, 3, 4, 5):
        rgb = tuple(round(255 * c) for c in to_rgb(CHANGE_STYLE[code][1]))
        assert CHANGE_COLORS[code][:3] == rgb, code


def test_pool_pixels_keep_only_the_mostly_pool_pixels_as_new_pools(scene):
    """With ``pool_pixels`` a pool's outline pixels that are not mostly pool are its rim:
    mining ground (new clearing on new ground, persistent on old), not new pools."""
    pools, clearings = scene
    mostly = np.zeros((len(DATES), 20, 20), bool)
    mostly[:, 1:3, 11] = True  # of the new 2×2 pool at rows 1–2, cols 11–12: column 11 only
    mostly[:, 1:3, 1:3] = True  # the pool present on both dates: all of it, on both dates
    pixels = make_valid(values=mostly)
    for valid in (make_valid(), make_valid(chunks={"y": 7, "x": 9})):
        px = pixels.chunk({"y": 5, "x": 20}) if isinstance(valid.data, da.Array) else pixels
        change = change_map(pools, clearings, valid, B, A, pool_pixels=px)
        expected = expected_classes()
        expected[1:3, 12] = 2  # the rim of the new pool lies on the new clearing
        np.testing.assert_array_equal(np.asarray(change.values), expected)
    # without the masks every outline pixel is pool (the former behaviour)
    np.testing.assert_array_equal(change_map(pools, clearings, make_valid(), B, A).values,
                                  expected_classes())
    # a rim on ground already mined at `before` is persistent mining
    rim_old = mostly.copy()
    rim_old[:, 1:3, 1] = False
    change = change_map(pools, clearings, make_valid(), B, A,
                        pool_pixels=make_valid(values=rim_old)).values
    assert (change[1:3, 1:3] == 4).all()


def test_pool_pixels_must_match_the_grid_and_dates(scene):
    from minewatch.errors import GridError

    pools, clearings = scene
    valid = make_valid()
    with pytest.raises(InputError, match=r"pool_pixels must be a \(time, y, x\)"):
        change_map(pools, clearings, valid, B, A, pool_pixels=np.ones((3, 20, 20), bool))
    with pytest.raises(GridError, match="must share one grid"):
        change_map(pools, clearings, valid, B, A, pool_pixels=make_valid(shape=(10, 20)))
    with pytest.raises(DateError, match="pool_pixels has 0 layers for 2023-03-01"):
        change_map(pools, clearings, valid, B, A,
                   pool_pixels=make_valid().isel(time=[0, 1]))
