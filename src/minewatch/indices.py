"""Spectral indices: pure, NaN-safe functions over numpy- or dask-backed xarray.

Each takes a reflectance cube with a ``band`` coordinate of roles (as returned by
:func:`minewatch.open_tile` / :func:`minewatch.load_stack`) and returns a DataArray without
the ``band`` dimension, CRS kept.
"""

from __future__ import annotations

import numpy as np
import rioxarray  # noqa: F401  (registers .rio)
import xarray as xr

from minewatch.errors import BandError

__all__ = ["ndvi", "normalized_difference"]


def normalized_difference(reflectance: xr.DataArray, a: str, b: str) -> xr.DataArray:
    """(a − b) / (a + b) of two band roles; NaN where either is NaN or the sum is 0.

    Raises
    ------
    BandError
        ``a`` or ``b`` is not a band of ``reflectance``; the message lists the bands there are.
    """
    bands = [str(v) for v in reflectance["band"].values]
    missing = [r for r in (a, b) if r not in bands]
    if missing:
        raise BandError(
            f"The index needs band(s) {missing} but the image has {bands}"
            + (" (RGB-only imagery has no NIR: use RGB measures instead)." if "nir" in missing
               else ".")
        )
    first, second = reflectance.sel(band=a), reflectance.sel(band=b)
    total = first + second
    out = ((first - second) / total.where(total != 0)).astype(np.float32)
    out = out.drop_vars("band", errors="ignore")
    if reflectance.rio.crs is not None:
        out = out.rio.write_crs(reflectance.rio.crs)
    return out.rio.write_nodata(np.nan, encoded=False)


def ndvi(reflectance: xr.DataArray) -> xr.DataArray:
    """Normalized difference vegetation index, (nir − red) / (nir + red), in −1…1.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> cube = xr.DataArray(np.array([[[0.1]], [[0.5]]], dtype="float32"),
    ...                     dims=("band", "y", "x"), coords={"band": ["red", "nir"]})
    >>> round(ndvi(cube).item(), 3)
    0.667
    """
    out = normalized_difference(reflectance, "nir", "red")
    out.name = "ndvi"
    return out
