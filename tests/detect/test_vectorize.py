"""label_objects and vectorize: numpy = dask for any chunking, exact shape measures, CRS kept."""

from __future__ import annotations

import importlib
import math

import dask.array as da
import numpy as np
import pytest
import shapely
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from rasterio.transform import from_origin
from skimage import measure

from minewatch.detect.vectorize import ATTRIBUTE_COLUMNS, label_objects, vectorize
from minewatch.errors import InputError

CRS = "EPSG:32647"


def on_grid(array: np.ndarray, res: float = 3.0) -> xr.DataArray:
    """A (y, x) DataArray with coordinates, CRS and transform (UTM 47N, ``res`` m pixels)."""
    ny, nx = array.shape
    x0, y0 = 500000.0, 2800000.0
    out = xr.DataArray(array, dims=("y", "x"),
                       coords={"y": y0 - res * (np.arange(ny) + 0.5),
                               "x": x0 + res * (np.arange(nx) + 0.5)})
    return out.rio.write_crs(CRS).rio.write_transform(from_origin(x0, y0, res, res))


def corner_mask() -> np.ndarray:
    """Objects crossing 1 chunk edge, 2 chunks' corner (diagonal only), and 4 chunks' corner,
    for 8 × 8 chunks of a 24 × 24 mask."""
    m = np.zeros((24, 24), bool)
    m[2:5, 6:11] = True            # crosses the vertical edge at x = 8
    m[7, 7] = m[8, 8] = True       # joined only through the corner (8, 8) diagonal
    m[14:18, 14:18] = True         # sits on the corner of four chunks (16, 16)
    m[20:23, 1:3] = True           # inside one chunk
    m[5:20, 21] = True             # a line through two horizontal edges
    m[9, 3] = True                 # single pixel
    m[15, 7] = m[16, 8] = True     # diagonal pair across the corner (16, 8)
    return m


# --------------------------------------------------------------------------------------------
# label_objects
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("chunks", [8, 5, (8, 3), (1, 24), 24, 7])
@pytest.mark.parametrize("connectivity", [1, 2])
def test_dask_labels_equal_numpy(chunks, connectivity):
    mask = on_grid(corner_mask())
    eager = label_objects(mask, connectivity=connectivity)
    cy, cx = (chunks, chunks) if isinstance(chunks, int) else chunks
    lazy = label_objects(mask.chunk({"y": cy, "x": cx}), connectivity=connectivity)
    assert isinstance(lazy.data, da.Array)
    assert lazy.chunks == mask.chunk({"y": cy, "x": cx}).chunks
    np.testing.assert_array_equal(lazy.values, eager.values)
    ref = measure.label(corner_mask(), connectivity=connectivity)
    np.testing.assert_array_equal(eager.values, ref)


def test_corner_objects_are_one_label_across_chunks():
    labels = label_objects(on_grid(corner_mask()).chunk({"y": 8, "x": 8})).values
    assert labels[7, 7] == labels[8, 8] > 0                  # 2 chunks, corner only
    assert len(np.unique(labels[14:18, 14:18])) == 1         # 4 chunks
    assert labels[15, 7] == labels[16, 8] > 0                # diagonal across a 4-chunk corner
    assert len(np.unique(labels[5:20, 21])) == 1             # 3 chunks in a column
    labels4 = label_objects(on_grid(corner_mask()).chunk({"y": 8, "x": 8}),
                            connectivity=1).values
    assert labels4[7, 7] != labels4[8, 8]                    # edges only: two objects


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), ny=st.integers(1, 40), nx=st.integers(1, 40),
       cy=st.integers(1, 15), cx=st.integers(1, 15), density=st.floats(0.05, 0.7),
       connectivity=st.sampled_from([1, 2]))
def test_property_any_chunking_equals_skimage(seed, ny, nx, cy, cx, density, connectivity):
    mask = np.random.default_rng(seed).random((ny, nx)) < density
    arr = xr.DataArray(mask, dims=("y", "x"))
    lazy = label_objects(arr.chunk({"y": cy, "x": cx}), connectivity=connectivity)
    np.testing.assert_array_equal(lazy.values,
                                  measure.label(mask, connectivity=connectivity))


def test_labels_keep_coords_crs_and_treat_nan_as_background():
    values = np.array([[np.nan, 1.0, 0.0], [0.0, 0.5, np.nan]], "float32")
    labels = label_objects(on_grid(values))
    assert labels.dtype == np.int32
    assert str(labels.rio.crs) == CRS
    assert labels.rio.transform() == from_origin(500000.0, 2800000.0, 3.0, 3.0)
    np.testing.assert_array_equal(labels["x"].values, on_grid(values)["x"].values)
    np.testing.assert_array_equal(labels.values, [[0, 1, 0], [0, 1, 0]])


def test_label_errors_say_what_to_do():
    with pytest.raises(InputError, match=r"2-D \(y, x\).*isel\(time=0\)"):
        label_objects(xr.DataArray(np.zeros((2, 3, 3), bool), dims=("time", "y", "x")))
    with pytest.raises(InputError, match=r"connectivity=4.*use 1"):
        label_objects(on_grid(np.zeros((3, 3), bool)), connectivity=4)
    with pytest.raises(InputError, match="must be an xarray DataArray"):
        label_objects(np.zeros((3, 3), bool))


# --------------------------------------------------------------------------------------------
# vectorize
# --------------------------------------------------------------------------------------------

def test_known_shapes():
    a = np.zeros((30, 40), "int32")
    a[1:11, 1:11] = 1      # 10 × 10 square
    a[15:17, 2:22] = 2     # 2 × 20 line
    a[20:25, 30:35] = 3    # 5 × 5 with a 1-px hole
    a[22, 32] = 0
    out = vectorize(on_grid(a, res=3.0)).set_index("label")
    sq, line, ring = out.loc[1], out.loc[2], out.loc[3]
    assert sq.n_pixels == 100
    assert sq.area_m2 == pytest.approx(900.0)
    assert sq.perimeter_m == pytest.approx(120.0)
    assert sq.compactness == pytest.approx(math.pi / 4)
    assert sq.rectangularity == pytest.approx(1.0)
    assert sq.elongation == pytest.approx(1.0)
    assert line.elongation == pytest.approx(10.0)
    assert line.area_m2 == pytest.approx(360.0)
    assert line.perimeter_m == pytest.approx(132.0)
    assert ring.area_m2 == pytest.approx(24 * 9.0)
    assert ring.perimeter_m == pytest.approx(4 * 15.0 + 4 * 3.0)   # outline + hole
    assert ring.geometry.area == pytest.approx(ring.area_m2)
    assert list(out.reset_index().columns[:7]) == list(ATTRIBUTE_COLUMNS)


def test_pool_cut_by_chunk_edge_is_one_polygon_with_the_numpy_area():
    a = np.zeros((20, 20), bool)
    a[6:13, 4:9] = True            # a pool across the chunk edge at y = 10
    a[2:9, 14:19] = True           # an L-shape ...
    a[8:15, 17:19] = True          # ... crossing the edges at y = 10 and x = 15
    mask = on_grid(a)
    eager = vectorize(label_objects(mask))
    lazy = vectorize(label_objects(mask.chunk({"y": 10, "x": 15})))
    assert len(lazy) == len(eager) == 2
    assert (lazy.geom_type == "Polygon").all()
    np.testing.assert_array_equal(lazy["area_m2"].values, eager["area_m2"].values)
    np.testing.assert_allclose(lazy.geometry.area.values, eager.geometry.area.values)
    np.testing.assert_allclose(lazy["perimeter_m"].values, eager["perimeter_m"].values)
    assert lazy.geometry.geom_equals(eager.geometry).all()
    # vertex for vertex (outputs are byte-identical whatever the chunking)
    assert shapely.equals_exact(lazy.geometry.values, eager.geometry.values, tolerance=0).all()
    pool = lazy.set_index("label").loc[2]        # the L starts on an earlier row: label 1
    assert pool.area_m2 == 7 * 5 * 9.0
    assert pool.geometry.area == pytest.approx(315.0)
    assert lazy.set_index("label").loc[1].area_m2 == (35 + 14 - 2) * 9.0


@pytest.mark.parametrize("chunks", [{"y": 8, "x": 8}, {"y": 5, "x": 7}, {"y": 3, "x": 24}])
def test_vectorize_chunked_equals_numpy_with_values(chunks):
    mask = on_grid(corner_mask())
    rng = np.random.default_rng(4)
    ndwi = on_grid(rng.random((24, 24)).astype("float32"))
    ndwi[0:6, 6:9] = np.nan                       # part of one object is NaN
    eager = vectorize(label_objects(mask), values={"ndwi": ndwi})
    lazy = vectorize(label_objects(mask.chunk(chunks)), values={"ndwi": ndwi.chunk(chunks)})
    for col in ("label", "n_pixels", "area_m2"):
        np.testing.assert_array_equal(lazy[col].values, eager[col].values)
    for col in ("perimeter_m", "compactness", "elongation", "rectangularity", "mean_ndwi"):
        np.testing.assert_allclose(lazy[col].values, eager[col].values, rtol=1e-12)
    assert lazy.geometry.geom_equals(eager.geometry).all()
    # vertex for vertex (outputs are byte-identical whatever the chunking)
    assert shapely.equals_exact(lazy.geometry.values, eager.geometry.values, tolerance=0).all()
    assert lazy.is_valid.all()


def test_mean_values_are_nan_safe():
    a = np.zeros((4, 6), "int32")
    a[0:2, 0:2] = 1
    a[3, 4:6] = 2
    v = np.arange(24, dtype="float64").reshape(4, 6)
    v[0, 0] = np.nan
    v[3, 4:6] = np.nan
    out = vectorize(on_grid(a), values={"v": on_grid(v)})
    assert out.loc[0, "mean_v"] == pytest.approx((1 + 6 + 7) / 3)
    assert np.isnan(out.loc[1, "mean_v"])


def test_multipart_label_is_one_multipolygon_row_and_min_pixels():
    a = np.zeros((6, 6), "int32")
    a[0, 0] = a[1, 1] = 1          # corner-touching parts of one label
    a[4:6, 4:6] = 2
    a[0, 5] = 3
    out = vectorize(on_grid(a))
    assert list(out["label"]) == [1, 2, 3]
    assert out.loc[0].geometry.geom_type == "MultiPolygon"
    assert out.loc[0, "n_pixels"] == 2
    assert out.is_valid.all()
    assert list(vectorize(on_grid(a), min_pixels=3)["label"]) == [2]


def test_crs_kept_and_round_trips_through_4326():
    a = np.zeros((12, 12), "int32")
    a[2:7, 3:9] = 1
    out = vectorize(on_grid(a))
    assert out.crs.to_string() == CRS
    back = out.to_crs(4326).to_crs(CRS)
    assert shapely.equals_exact(back.geometry.values, out.geometry.values, tolerance=1e-6).all()
    assert back.geometry.area.iloc[0] == pytest.approx(out.area_m2.iloc[0], rel=1e-9)


@pytest.mark.parametrize("chunked", [False, True])
def test_empty_labels_give_empty_frame_with_columns_and_crs(chunked):
    labels = on_grid(np.zeros((9, 9), "int32"))
    if chunked:
        labels = labels.chunk({"y": 4, "x": 4})
    out = vectorize(labels, values={"ndwi": on_grid(np.ones((9, 9)))})
    assert len(out) == 0
    assert list(out.columns) == [*ATTRIBUTE_COLUMNS, "mean_ndwi", "geometry"]
    assert out.crs.to_string() == CRS


def test_vectorize_errors_name_the_fix():
    labels = on_grid(np.ones((4, 4), "int32"))
    with pytest.raises(InputError, match=r"values\['v'\] has shape \(3, 3\).*reproject_match"):
        vectorize(labels, values={"v": on_grid(np.ones((3, 3)))})
    with pytest.raises(InputError, match=r"dtype float.*label_objects"):
        vectorize(on_grid(np.ones((4, 4))))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), ny=st.integers(2, 30), nx=st.integers(2, 30),
       cy=st.integers(2, 12), cx=st.integers(2, 12), density=st.floats(0.2, 0.8))
def test_property_vectorize_any_chunking_equals_numpy(seed, ny, nx, cy, cx, density):
    mask = on_grid(np.random.default_rng(seed).random((ny, nx)) < density)
    eager = vectorize(label_objects(mask))
    lazy = vectorize(label_objects(mask.chunk({"y": cy, "x": cx})))
    for col in ("label", "n_pixels", "area_m2"):
        np.testing.assert_array_equal(lazy[col].values, eager[col].values)
    np.testing.assert_allclose(lazy["perimeter_m"].values, eager["perimeter_m"].values)
    np.testing.assert_allclose(lazy.geometry.area.values, eager["area_m2"].values)
    assert lazy.is_valid.all() and eager.is_valid.all()
    assert lazy.geometry.geom_equals(eager.geometry).all()
    # vertex for vertex (outputs are byte-identical whatever the chunking)
    assert shapely.equals_exact(lazy.geometry.values, eager.geometry.values, tolerance=0).all()


def test_large_in_memory_labels_take_the_chunked_path(monkeypatch):
    # the package re-exports the function under the module's name: fetch the module itself
    module = importlib.import_module("minewatch.detect.vectorize")
    mask = on_grid(np.random.default_rng(3).random((40, 50)) < 0.5)
    labels = label_objects(mask)
    whole = vectorize(labels)
    monkeypatch.setattr(module, "_SPLIT_PIXELS", 100)
    monkeypatch.setattr(module, "_SPLIT_CHUNKS", 9)
    split = vectorize(labels)
    np.testing.assert_array_equal(split["area_m2"].values, whole["area_m2"].values)
    assert split.geometry.geom_equals(whole.geometry).all()


def test_dask_labels_read_the_mask_once_then_stay_lazy():
    calls = []

    def counted(block):
        calls.append(block.shape)
        return block

    mask = on_grid(corner_mask()).chunk({"y": 8, "x": 8})
    mask = mask.copy(data=mask.data.map_blocks(counted, dtype=bool,
                                               meta=np.empty((0, 0), bool)))
    labels = label_objects(mask)
    assert len(calls) == 9                  # one pass over the 3 × 3 chunks for the borders
    assert isinstance(labels.data, da.Array)
    labels.compute()
    assert len(calls) == 18                 # and one more when the labels are computed
