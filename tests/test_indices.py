"""Indices: NaN-safe, dask-safe, CRS kept, clear error for missing bands."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
import rioxarray  # noqa: F401
import xarray as xr

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
