"""The scene record: where each band of one acquisition lives and how to read it.

A :class:`Scene` is what sensor recognition (:func:`minewatch.io.tiles.resolve_scene`)
produces and what every reader consumes: :func:`~minewatch.io.open_tile` reads one natively,
:func:`~minewatch.io.load_stack` turns many into STAC items for odc-stac. It holds no pixels.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import pandas as pd

#: Canonical order of band roles. Roles not listed here sort after these, alphabetically.
ROLE_ORDER: tuple[str, ...] = (
    "coastal",
    "blue",
    "green_i",
    "green",
    "yellow",
    "red",
    "rededge1",
    "rededge2",
    "rededge3",
    "nir",
    "nir08",
    "swir1",
    "swir2",
)

#: Kinds of quality/cloud mask minewatch can decode.
MaskKind = Literal["scl", "qa_pixel", "udm2"]


def role_sort_key(role: str) -> tuple[int, str]:
    """Sort key putting roles in :data:`ROLE_ORDER`, unknown roles last."""
    try:
        return (ROLE_ORDER.index(role), role)
    except ValueError:
        return (len(ROLE_ORDER), role)


@dataclass(frozen=True)
class BandSource:
    """One spectral band of a scene."""

    role: str
    """Band role: ``blue``, ``green``, ``red``, ``nir``, ``swir1``, ``swir2``, ..."""
    href: str
    """GDAL-openable path (``/vsizip/`` paths allowed)."""
    index: int = 1
    """1-based band index inside ``href``."""
    name: str = ""
    """The sensor's own band name (``B04``, ``SR_B4``, ``b3``)."""
    scale: float = 1.0
    """Reflectance = DN * scale + offset."""
    offset: float = 0.0
    """Reflectance = DN * scale + offset."""
    nodata: float | None = None
    """DN value meaning 'no data' (``None``: none declared)."""


@dataclass(frozen=True)
class MaskSource:
    """A quality/cloud mask band of a scene (decoded by ``sensors.invalid_mask``)."""

    kind: MaskKind
    """``scl`` (Sentinel-2 scene classification), ``qa_pixel`` (Landsat C2), ``udm2`` (Planet)."""
    href: str
    """GDAL-openable path."""
    index: int = 1
    """1-based band index inside ``href`` (UDM2: the first of its 8 bands is used as 1)."""


@dataclass(frozen=True)
class Scene:
    """One acquisition: bands, optional mask, date and sensor. No pixels."""

    id: str
    """A stable identifier, e.g. the product name or the file stem."""
    sensor: str
    """Sensor profile name: ``sentinel2``, ``sentinel2_gee``, ``landsat``, ``planetscope``, ``rgb``
    or ``custom``."""
    bands: tuple[BandSource, ...]
    """Spectral bands in canonical role order (see :data:`ROLE_ORDER`)."""
    time: pd.Timestamp | None = None
    """Acquisition time (UTC, tz-naive), ``None`` when unknown."""
    mask: MaskSource | None = None
    """Cloud/quality mask, when the product has one."""
    paths: tuple[str, ...] = ()
    """The files (or folder/zip) the scene was found in, as given by the user."""
    properties: Mapping[str, object] = field(default_factory=dict)
    """Extra metadata: ``processing_baseline``, ``cloud_cover`` (percent), ``platform``, ..."""

    @property
    def roles(self) -> tuple[str, ...]:
        """Band roles in order."""
        return tuple(b.role for b in self.bands)

    @property
    def has_nir(self) -> bool:
        """True when the scene has a near-infrared band (plain RGB imagery has none)."""
        return "nir" in self.roles

    def band(self, role: str) -> BandSource:
        """The band with ``role`` (KeyError if absent)."""
        for b in self.bands:
            if b.role == role:
                return b
        raise KeyError(role)
