"""Indices: NaN-safe, dask-safe, CRS kept, clear error for missing bands."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
import rioxarray  # noqa: F401
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from minewatch.errors import BandError
from minewatch.indices import ndvi, normalized_difference


def _cube(red, nir, chunks=None):
    data = np.stack([red, nir]).astype(np.float32)
    arr = da.from_array(data, chunks=chunks) if chunks else data
    cube = xr.DataArray(arr, dims=("band", "y", "x"),
                        coords={"band": ["red", "nir"], "y": [1.5, 0.5], "x": [0.5, 1.5]})
    return cube.rio.write_crs("EPSG:32647")


def test_ndvi_values_nan_and_zero_sum():
    red = np.array([[0.1, np.nan], [0.0, 0.2]])
    nir = np.array([[0.5, 0.4], [0.0, 0.2]])
    out = ndvi(_cube(red, nir))
    np.testing.assert_allclose(out.values, [[0.4 / 0.6, np.nan], [np.nan, 0.0]], rtol=1e-6)
    assert out.dtype == np.float32
    assert out.rio.crs.to_epsg() == 32647
    assert "band" not in out.dims


def test_ndvi_stays_lazy_on_dask():
    cube = _cube(np.full((2, 2), 0.1), np.full((2, 2), 0.3), chunks=(1, 1, 1))
    out = ndvi(cube)
    assert isinstance(out.data, da.Array)
    assert float(out.mean()) == pytest.approx(0.5)


def test_missing_band_names_what_is_there():
    rgb = xr.DataArray(np.zeros((3, 1, 1), np.float32), dims=("band", "y", "x"),
                       coords={"band": ["red", "green", "blue"]})
    with pytest.raises(BandError, match=r"needs band\(s\) \['nir'\].*RGB-only"):
        ndvi(rgb)
    with pytest.raises(BandError, match="swir1"):
        normalized_difference(rgb, "green", "swir1")


def _spectra(**bands):
    roles = list(bands)
    data = np.array([np.atleast_1d(bands[r]) for r in roles], dtype=np.float32)[:, None, :]
    return xr.DataArray(data, dims=("band", "y", "x"),
                        coords={"band": roles}).rio.write_crs("EPSG:32647")


# Typical reflectance (blue, green, red, nir, swir1) of the covers that matter in Kachin.
FOREST = dict(blue=0.03, green=0.06, red=0.03, nir=0.35, swir1=0.15)
LATERITE = dict(blue=0.08, green=0.13, red=0.22, nir=0.28, swir1=0.36)
TURQUOISE = dict(blue=0.14, green=0.17, red=0.06, nir=0.03, swir1=0.01)
BLUE_LINER = dict(blue=0.30, green=0.22, red=0.12, nir=0.10, swir1=0.08)


def test_indices_separate_forest_soil_and_water():
    cube = xr.concat([_spectra(**s) for s in (FOREST, LATERITE, TURQUOISE, BLUE_LINER)], "x")
    from minewatch import indices

    assert list(indices.ndvi(cube).values[0].round(2)) == [0.84, 0.12, -0.33, -0.09]
    assert (indices.ndwi(cube).values[0, 2:] > 0).all() and indices.ndwi(cube).values[0, 0] < 0
    assert indices.mndwi(cube).values[0, 2] > 0.8
    bsi = indices.bare_soil(cube).values[0]
    assert bsi[1] == bsi.max() and bsi[0] < 0
    blue = indices.blueness(cube).values[0]
    assert blue[2] > 0.3 and blue[3] > 0.3 and abs(blue[0]) < 0.05 and blue[1] < -0.3
    hues = indices.hue(cube).values[0]
    assert 0.45 < hues[2] < 0.55 and 0.55 < hues[3] < 0.7 and hues[1] < 0.1


def test_rgb_measures_on_rgb_only_imagery_and_grey():
    from minewatch.indices import brightness, hue, saturation

    grey = _spectra(red=[0.2, 0.0], green=[0.2, 0.0], blue=[0.2, 0.0])
    assert np.isnan(hue(grey).values).all()
    np.testing.assert_allclose(saturation(grey).values, [[0.0, 0.0]])
    np.testing.assert_allclose(brightness(grey).values, [[0.2, 0.0]], rtol=1e-6)


# quiet on dask as in memory: a 0 / 0 computed in a dask task used to warn (RuntimeWarning)
@pytest.mark.filterwarnings("error::RuntimeWarning")
@settings(max_examples=60, deadline=None)
@given(arrays(np.float32, (5, 4), elements=st.floats(0, 1, width=32) | st.just(np.nan)))
def test_every_index_is_bounded_nan_safe_and_lazy_equal(values):
    from minewatch import indices

    cube = xr.DataArray(values[:, None, :], dims=("band", "y", "x"),
                        coords={"band": ["blue", "green", "red", "nir", "swir1"]})
    lazy = cube.chunk({"x": 2})
    for name in ("ndvi", "ndwi", "mndwi", "bare_soil", "saturation", "hue", "brightness",
                 "blueness"):
        func = getattr(indices, name)
        out = func(cube).values
        finite = out[np.isfinite(out)]
        assert ((finite >= -1 - 1e-6) & (finite <= 1 + 1e-6)).all(), name
        np.testing.assert_array_equal(out, func(lazy).compute().values, err_msg=name)
        # a pixel with no data in any band never turns into a number
        assert np.isnan(out[0][np.isnan(values).all(axis=0)]).all(), name
