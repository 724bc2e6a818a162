"""Spectral indices: pure, NaN-safe functions over numpy- or dask-backed xarray.

Each takes a reflectance cube with a ``band`` coordinate of roles (as returned by
:func:`minewatch.open_tile` / :func:`minewatch.load_stack`; extra leading dims such as
``time`` are fine) and returns a float32 DataArray without the ``band`` dimension, CRS kept,
NaN as nodata. ±inf in a band is invalid: the index is NaN there, never ±inf. Nothing
computes: dask inputs give dask outputs.

=================  =========================================  ==============================
index              formula                                    needs
=================  =========================================  ==============================
``ndvi``           (nir − red) / (nir + red)                  red, nir
``ndwi``           (green − nir) / (green + nir)  (McFeeters)  green, nir
``mndwi``          (green − swir1) / (green + swir1)  (Xu)     green, swir1
``bare_soil``      ((swir1 + red) − (nir + blue)) /           blue, red, nir, swir1
                   ((swir1 + red) + (nir + blue))  (BSI)
``brightness``     mean of red, green, blue                   red, green, blue
``hue``            HSV hue of RGB, 0–1 (0 red, 1/3 green,     red, green, blue
                   2/3 blue)
``saturation``     HSV saturation of RGB, 0–1                 red, green, blue
``blueness``       (blue − red) / (blue + red)                red, blue
=================  =========================================  ==============================

The RGB measures work on 3-band imagery with no NIR (plain high-resolution RGB).
"""

from __future__ import annotations

import numpy as np
import rioxarray  # noqa: F401  (registers .rio)
import xarray as xr

from minewatch.errors import BandError

__all__ = [
    "bare_soil",
    "blueness",
    "brightness",
    "hue",
    "mndwi",
    "ndvi",
    "ndwi",
    "normalized_difference",
    "saturation",
]


def _bands(reflectance: xr.DataArray, *roles: str, index: str) -> list[xr.DataArray]:
    """The requested band roles (band dim dropped), or a BandError naming what is there."""
    there = [str(v) for v in reflectance["band"].values]
    missing = [r for r in roles if r not in there]
    if missing:
        hint = ""
        if "nir" in missing or "swir1" in missing:
            hint = (" RGB-only imagery has no NIR/SWIR: use the RGB measures (brightness, hue, "
                    "saturation, blueness) instead.")
        raise BandError(
            f"{index} needs band(s) {missing} but the image has {there}.{hint}"
        )
    return [reflectance.sel(band=r).drop_vars("band", errors="ignore") for r in roles]


def _finish(out: xr.DataArray, like: xr.DataArray, name: str) -> xr.DataArray:
    """float32, name, CRS and NaN nodata re-set (xarray arithmetic drops attrs)."""
    out = out.astype(np.float32)
    out.name = name
    out.attrs = {"long_name": name, "units": "1"}
    if like.rio.crs is not None:
        out = out.rio.write_crs(like.rio.crs)
    return out.rio.write_nodata(np.nan, encoded=False)


def _quiet_divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return num / den


def _divide(num: xr.DataArray, den: xr.DataArray) -> xr.DataArray:
    """``num / den``, without numpy's RuntimeWarning where IEEE gives NaN (inf / inf, 0 / 0).

    xarray silences numpy around arithmetic on in-memory arrays, but on dask the division
    runs later, in a task, outside that silence: the same index warned on a lazy stack and
    not on an in-memory one. Here the division carries its own ``errstate`` into the task.
    """
    return xr.apply_ufunc(_quiet_divide, num, den, dask="parallelized",
                          output_dtypes=[np.result_type(num.dtype, den.dtype)])


def _nd(reflectance: xr.DataArray, a: str, b: str, *, index: str, name: str) -> xr.DataArray:
    """(a − b) / (a + b), NaN where either is NaN or the sum is 0; ``index`` names it in errors.

    ±inf in a band needs no extra pass: inf / inf and inf − inf are NaN in IEEE arithmetic.
    """
    first, second = _bands(reflectance, a, b, index=index)
    total = first + second
    return _finish(_divide(first - second, total.where(total != 0)), reflectance, name)


def normalized_difference(reflectance: xr.DataArray, a: str, b: str) -> xr.DataArray:
    """(a − b) / (a + b) of two band roles; NaN where either is NaN or the sum is 0.

    Raises
    ------
    BandError
        ``a`` or ``b`` is not a band of ``reflectance``; the message lists the bands there are.
    """
    return _nd(reflectance, a, b, index=f"normalized difference of {a}, {b}", name=f"nd_{a}_{b}")


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
    return _nd(reflectance, "nir", "red", index="NDVI", name="ndvi")


def ndwi(reflectance: xr.DataArray) -> xr.DataArray:
    """Normalized difference water index (McFeeters), (green − nir) / (green + nir), −1…1.

    Open water and turquoise leachate are > 0; vegetation is < 0.
    """
    return _nd(reflectance, "green", "nir", index="NDWI", name="ndwi")


def mndwi(reflectance: xr.DataArray) -> xr.DataArray:
    """Modified NDWI (Xu), (green − swir1) / (green + swir1), −1…1; separates water from
    bright built-up and cloud (bright in SWIR)."""
    return _nd(reflectance, "green", "swir1", index="MNDWI", name="mndwi")


def bare_soil(reflectance: xr.DataArray) -> xr.DataArray:
    """Bare soil index, ((swir1 + red) − (nir + blue)) / ((swir1 + red) + (nir + blue)), −1…1.

    High on cleared laterite, low under canopy.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> soil = xr.DataArray(np.array([0.08, 0.2, 0.25, 0.35], "float32")[:, None, None],
    ...                     dims=("band", "y", "x"),
    ...                     coords={"band": ["blue", "red", "nir", "swir1"]})
    >>> round(bare_soil(soil).item(), 3)
    0.25
    """
    blue, red, nir, swir1 = _bands(reflectance, "blue", "red", "nir", "swir1", index="BSI")
    bright, dark = swir1 + red, nir + blue
    total = bright + dark
    return _finish(_divide(bright - dark, total.where(total != 0)), reflectance, "bare_soil")


def brightness(reflectance: xr.DataArray) -> xr.DataArray:
    """Mean visible reflectance (red + green + blue) / 3, 0–1."""
    red, green, blue = _bands(reflectance, "red", "green", "blue", index="brightness")
    mean = (red + green + blue) / 3
    return _finish(mean.where(~np.isinf(mean)), reflectance, "brightness")


def _rgb_max_min(reflectance: xr.DataArray, index: str):
    red, green, blue = _bands(reflectance, "red", "green", "blue", index=index)
    high = np.maximum(np.maximum(red, green), blue)
    low = np.minimum(np.minimum(red, green), blue)
    return red, green, blue, high, low


def saturation(reflectance: xr.DataArray) -> xr.DataArray:
    """HSV saturation (max − min) / max of red, green, blue, 0–1 (0 for grey and black)."""
    *_, high, low = _rgb_max_min(reflectance, "saturation")
    # 0 for black (max = 0); NaN where a band is NaN or ±inf (inf / inf is NaN, not 0)
    sat = _divide(high - low, high).where(high > 0, 0)
    return _finish(sat.where(np.isfinite(high) & np.isfinite(low)), reflectance, "saturation")


def hue(reflectance: xr.DataArray) -> xr.DataArray:
    """HSV hue of red, green, blue in 0–1 (0 red, 1/3 green, 1/2 cyan, 2/3 blue); NaN on grey.

    Turquoise leachate sits near 0.5, blue liners and tarps near 0.6, laterite near 0.05.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> turquoise = xr.DataArray(np.array([0.05, 0.2, 0.2], "float32")[:, None, None],
    ...                          dims=("band", "y", "x"),
    ...                          coords={"band": ["red", "green", "blue"]})
    >>> round(hue(turquoise).item(), 3)
    0.5
    """
    red, green, blue, high, low = _rgb_max_min(reflectance, "hue")
    span = (high - low).where((high > low) & np.isfinite(high) & np.isfinite(low))
    # The piecewise HSV formula (as in skimage.color.rgb2hsv), written with xarray so that it
    # stays lazy on dask and keeps coordinates; skimage's version needs an (..., 3) ndarray.
    h_red = ((green - blue) / span) % 6
    h_green = (blue - red) / span + 2
    h_blue = (red - green) / span + 4
    h = xr.where(high == red, h_red, xr.where(high == green, h_green, h_blue))
    return _finish((h / 6).where(span.notnull()), reflectance, "hue")


def blueness(reflectance: xr.DataArray) -> xr.DataArray:
    """Blue against red, (blue − red) / (blue + red), −1…1.

    ≈ 0.4 on blue liners, tarps and turquoise leachate; ≈ 0 on canopy, grey roofs and milky
    water; < 0 on laterite soil. Works on RGB-only imagery.
    """
    red, blue = _bands(reflectance, "red", "blue", index="blueness")
    total = blue + red
    return _finish(_divide(blue - red, total.where(total != 0)), reflectance, "blueness")
