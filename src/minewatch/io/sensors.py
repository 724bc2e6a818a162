"""Sensor profiles (band names → roles, DN → reflectance rules, mask kind) and mask decoding.

A :class:`SensorProfile` says how one product family stores its bands: which band name plays
which role (``blue``, ``red``, ``nir``, ``swir1``...), how digital numbers become surface
reflectance (``reflectance = DN * scale + offset``), which DN means "no data", and which quality
band (Sentinel-2 SCL, Landsat QA_PIXEL, Planet UDM2) flags clouds. :func:`invalid_mask` decodes
those quality bands with elementwise operations only, so it works unchanged on numpy and dask
arrays.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from minewatch.errors import BandError, UnknownSensorError
from minewatch.io._scene import MaskKind

__all__ = [
    "LANDSAT",
    "PLANETSCOPE",
    "PROFILES",
    "RGB",
    "SENTINEL2",
    "SENTINEL2_GEE",
    "SensorProfile",
    "get_profile",
    "invalid_mask",
    "S2_OFFSET_BASELINE",
    "S2_OFFSET_DATE",
    "S2_BOA_ADD_OFFSET",
]

#: Sentinel-2 processing baseline from which L2A DNs carry a +1000 offset.
S2_OFFSET_BASELINE = 4.0
#: First day of products processed with baseline 04.00 (used when no baseline is known).
S2_OFFSET_DATE = "2022-01-25"
#: ``BOA_ADD_OFFSET`` of baseline ≥ 04.00 products, in DN.
S2_BOA_ADD_OFFSET = -1000.0


def _frozen(mapping: Mapping[Any, Any]) -> Mapping[Any, Any]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class SensorProfile:
    """How one product family stores bands, radiometry and its quality mask."""

    name: str
    """Profile name: ``sentinel2``, ``sentinel2_gee``, ``landsat``, ``planetscope``, ``rgb``."""
    description: str
    """One line for humans (shown in error messages)."""
    bands: Mapping[str, str]
    """The sensor's band names (file names, band descriptions) → roles."""
    scale: float
    """Reflectance = DN * scale + offset (before any per-product offset)."""
    offset: float = 0.0
    """Reflectance = DN * scale + offset, in reflectance units (0–1)."""
    nodata: float | None = None
    """DN meaning "no data" when the file declares none."""
    mask_kind: MaskKind | None = None
    """Kind of the quality band decoded by :func:`invalid_mask` (``None``: the sensor has none)."""
    mask_names: tuple[str, ...] = ()
    """Band names of the quality band (``SCL``, ``QA_PIXEL``, ``udm2``)."""
    layouts: Mapping[int, tuple[str, ...]] = field(default_factory=dict)
    """Band count → band names in file order, for multi-band files without descriptions."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "bands", _frozen(self.bands))
        object.__setattr__(self, "layouts", _frozen(self.layouts))
        for count, names in self.layouts.items():
            if len(names) != count or any(n not in self.bands for n in names):
                raise ValueError(f"profile {self.name}: layout {count} does not match its bands")

    def role(self, band_name: str) -> str | None:
        """The role of ``band_name`` (case-insensitive), ``None`` when it is not a role band."""
        if band_name in self.bands:
            return self.bands[band_name]
        upper = {k.upper(): v for k, v in self.bands.items()}
        return upper.get(band_name.upper())

    def is_mask(self, band_name: str) -> bool:
        """True when ``band_name`` is this sensor's quality band."""
        return band_name.upper() in {m.upper() for m in self.mask_names}


SENTINEL2 = SensorProfile(
    name="sentinel2",
    description="Sentinel-2 L2A (ESA/Copernicus: B02, B03, B04, B08, B8A, B11, B12, SCL)",
    bands={
        "B01": "coastal",
        "B02": "blue",
        "B03": "green",
        "B04": "red",
        "B05": "rededge1",
        "B06": "rededge2",
        "B07": "rededge3",
        "B08": "nir",
        "B8A": "nir08",
        "B11": "swir1",
        "B12": "swir2",
    },
    scale=1e-4,
    offset=0.0,  # −0.1 from processing baseline 04.00, decided per product
    nodata=0,
    mask_kind="scl",
    mask_names=("SCL",),
)

SENTINEL2_GEE = SensorProfile(
    name="sentinel2_gee",
    description="Sentinel-2 S2_SR_HARMONIZED export from Google Earth Engine (B2, B3, B4, B8...)",
    bands={
        "B1": "coastal",
        "B2": "blue",
        "B3": "green",
        "B4": "red",
        "B5": "rededge1",
        "B6": "rededge2",
        "B7": "rededge3",
        "B8": "nir",
        "B8A": "nir08",
        "B11": "swir1",
        "B12": "swir2",
    },
    scale=1e-4,
    offset=0.0,  # harmonized collection: offset already removed
    nodata=None,
    mask_kind="scl",
    mask_names=("SCL",),
)

LANDSAT = SensorProfile(
    name="landsat",
    description="Landsat 8/9 Collection 2 Level-2 surface reflectance (SR_B1...SR_B7, QA_PIXEL)",
    bands={
        "SR_B1": "coastal",
        "SR_B2": "blue",
        "SR_B3": "green",
        "SR_B4": "red",
        "SR_B5": "nir",
        "SR_B6": "swir1",
        "SR_B7": "swir2",
    },
    scale=2.75e-5,
    offset=-0.2,
    nodata=0,
    mask_kind="qa_pixel",
    mask_names=("QA_PIXEL",),
)

PLANETSCOPE = SensorProfile(
    name="planetscope",
    description="PlanetScope surface reflectance, 4-band (B, G, R, NIR) or 8-band (SuperDove)",
    bands={
        "coastal_blue": "coastal",
        "blue": "blue",
        "green_i": "green_i",
        "green": "green",
        "yellow": "yellow",
        "red": "red",
        "rededge": "rededge1",
        "nir": "nir",
    },
    scale=1e-4,
    nodata=0,
    mask_kind="udm2",
    mask_names=("udm2",),
    layouts={
        4: ("blue", "green", "red", "nir"),
        8: ("coastal_blue", "blue", "green_i", "green", "yellow", "red", "rededge", "nir"),
    },
)

RGB = SensorProfile(
    name="rgb",
    description="plain 3-band 8-bit RGB (red, green, blue; no near-infrared)",
    bands={"red": "red", "green": "green", "blue": "blue"},
    scale=1 / 255,
    nodata=None,
    layouts={3: ("red", "green", "blue")},
)

#: Every profile by name.
PROFILES: Mapping[str, SensorProfile] = _frozen(
    {p.name: p for p in (SENTINEL2, SENTINEL2_GEE, LANDSAT, PLANETSCOPE, RGB)}
)


def get_profile(name: str | SensorProfile) -> SensorProfile:
    """The sensor profile called ``name``.

    Parameters
    ----------
    name
        ``sentinel2``, ``sentinel2_gee``, ``landsat``, ``planetscope`` or ``rgb`` (a profile
        passes through).

    Raises
    ------
    UnknownSensorError
        ``name`` is not a known profile (the message lists them).

    Examples
    --------
    >>> get_profile("landsat").bands["SR_B5"]
    'nir'
    """
    if isinstance(name, SensorProfile):
        return name
    key = str(name).lower().replace("-", "").replace(" ", "")
    aliases = {"s2": "sentinel2", "sentinel2l2a": "sentinel2", "gee": "sentinel2_gee",
               "landsat8": "landsat", "landsat9": "landsat", "planet": "planetscope"}
    key = aliases.get(key, key)
    if key not in PROFILES:
        raise UnknownSensorError(
            f"Unknown sensor {name!r}; use one of {', '.join(sorted(PROFILES))}, or leave "
            "sensor=None and pass bands={...} to map band names or 1-based indices to roles."
        )
    return PROFILES[key]


# --- quality masks ---------------------------------------------------------------------------

#: Sentinel-2 SCL classes masked: 0 no data, 1 saturated/defective, 3 cloud shadow,
#: 8 cloud medium probability, 9 cloud high probability, 10 thin cirrus, 11 snow/ice.
#: Kept: 2 dark area, 4 vegetation, 5 bare soil, 6 water, 7 unclassified.
SCL_MASKED: tuple[int, ...] = (0, 1, 3, 8, 9, 10, 11)
#: Landsat C2 QA_PIXEL bits masked: 0 fill, 1 dilated cloud, 2 cirrus, 3 cloud,
#: 4 cloud shadow, 5 snow.
QA_PIXEL_BITS: tuple[int, ...] = (0, 1, 2, 3, 4, 5)
#: Planet UDM2 bands (0-based) masked when non-zero: 1 snow, 2 shadow, 4 heavy haze, 5 cloud,
#: 7 unusable pixels. Band 0 (clear), 3 (light haze) and 6 (confidence) are not used.
UDM2_MASKED_BANDS: tuple[int, ...] = (1, 2, 4, 5, 7)
UDM2_BANDS: tuple[str, ...] = (
    "clear", "snow", "shadow", "light_haze", "heavy_haze", "cloud", "confidence", "unusable",
)


def invalid_mask(kind: MaskKind | str, data: Any) -> Any:
    """True where a pixel must be masked (no data, cloud, shadow, cirrus, snow).

    Only elementwise operations are used, so ``data`` may be a numpy or a dask array (the
    result has the same type and stays lazy).

    Parameters
    ----------
    kind
        ``"scl"``: Sentinel-2 scene classification, ``data`` of any shape holding class
        numbers; masks classes 0, 1, 3, 8, 9, 10, 11 (keeps dark, vegetation, bare soil, water,
        unclassified: leaching pools are water and bright ground, don't eat them).
        ``"qa_pixel"``: Landsat Collection 2 QA_PIXEL, ``data`` of any shape (integer bit
        field); masks bits 0 fill, 1 dilated cloud, 2 cirrus, 3 cloud, 4 cloud shadow, 5 snow.
        ``"udm2"``: Planet UDM2, ``data`` of shape ``(8, ...)`` with the 8 UDM2 bands on the
        **first** axis in file order (clear, snow, shadow, light haze, heavy haze, cloud,
        confidence, unusable); masks where snow, shadow, heavy haze, cloud or unusable is
        non-zero. The result has shape ``data.shape[1:]``.
        Floating-point input (masks read with NaN fill) is accepted: NaN counts as invalid.

    Returns
    -------
    numpy.ndarray or dask.array.Array
        Boolean, True where invalid.

    Raises
    ------
    BandError
        Unknown ``kind``, or a UDM2 array whose first axis is not 8 long.

    Examples
    --------
    >>> import numpy as np
    >>> invalid_mask("scl", np.array([0, 4, 6, 8, 9, 10]))
    array([ True, False, False,  True,  True,  True])
    >>> invalid_mask("qa_pixel", np.array([21824, 22280, 1]))
    array([False,  True,  True])
    """
    if kind == "scl":
        d, nan = _as_int(data)
        out = (d == 0) | (d == 1) | (d == 3) | ((d >= 8) & (d <= 11))
        return out | nan if nan is not None else out
    if kind == "qa_pixel":
        d, nan = _as_int(data)
        bits = sum(1 << b for b in QA_PIXEL_BITS)
        out = (d & bits) != 0
        return out | nan if nan is not None else out
    if kind == "udm2":
        if data.ndim < 1 or data.shape[0] != 8:
            raise BandError(
                f"UDM2 mask: expected the 8 UDM2 bands on the first axis, got shape "
                f"{tuple(data.shape)}; pass the whole udm2 file read as (band, y, x)."
            )
        out = None
        for i in UDM2_MASKED_BANDS:
            d, nan = _as_int(data[i])
            flag = d != 0
            if nan is not None:
                flag = flag | nan
            out = flag if out is None else out | flag
        return out
    raise BandError(f"Unknown mask kind {kind!r}; use 'scl', 'qa_pixel' or 'udm2'.")


def _as_int(data: Any) -> tuple[Any, Any]:
    """(integer view of data, NaN flags or None) using elementwise operations only."""
    if np.issubdtype(data.dtype, np.floating):
        nan = data != data  # NaN test that works on numpy and dask alike
        return np.where(nan, 1, data).astype(np.int64), nan
    return data, None
