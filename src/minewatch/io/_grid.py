"""Grid facts of raster files (CRS, transform, shape), read once from headers only."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.errors import RasterioIOError

from minewatch.errors import GridError, MissingCRSError, ReflectanceError, TileReadError

#: Data types that can never hold reflectance (nor a quality mask).
_BAD_DTYPES = {
    "int8": "signed 8-bit integers",
    "complex64": "complex numbers",
    "complex128": "complex numbers",
    "complex_int16": "complex integers",
    "complex_int32": "complex integers",
    "cint16": "complex integers",
    "cint32": "complex integers",
}


def check_raster(href: str, *, dtype: str, nbits: str | None, transform: Affine, width: int,
                 height: int) -> None:
    """Reject rasters minewatch cannot read correctly, with the file and the fix named.

    Raises
    ------
    GridError
        Rotated or skewed geotransform (everything downstream assumes north-up), or no pixels.
    ReflectanceError
        Complex, signed 8-bit or 1-bit data: not an encoding of reflectance.
    """
    if width < 1 or height < 1:
        raise GridError(f"{href}: the raster has no pixels ({width} × {height}); re-export it.")
    if transform.b != 0 or transform.d != 0:
        raise GridError(
            f"{href}: rotated or skewed geotransform {tuple(transform)[:6]} is not supported "
            "(minewatch assumes north-up pixels); warp it to a north-up grid first "
            f"(gdalwarp {href} north_up.tif)."
        )
    if transform.a <= 0 or transform.e >= 0:
        raise GridError(
            f"{href}: the geotransform {tuple(transform)[:6]} is not north-up (pixel width must "
            "be > 0 and height < 0); warp it to a north-up grid first (gdalwarp)."
        )
    if dtype in _BAD_DTYPES or str(nbits) == "1":
        what = "1-bit values" if str(nbits) == "1" else _BAD_DTYPES[dtype]
        raise ReflectanceError(
            f"{href}: the bands hold {what} ({dtype}{', NBITS=1' if str(nbits) == '1' else ''}),"
            " which cannot be surface reflectance; export reflectance as uint16 (× 10000), "
            "uint8 or float32 (0–1)."
        )


@dataclass(frozen=True)
class RasterGrid:
    """Header facts of one raster file."""

    crs: CRS
    transform: Affine
    width: int
    height: int
    count: int
    dtype: str
    nodata: float | None

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width) in pixels."""
        return (self.height, self.width)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(left, bottom, right, top) in CRS units."""
        left, top = self.transform * (0, 0)
        right, bottom = self.transform * (self.width, self.height)
        return (min(left, right), min(top, bottom), max(left, right), max(top, bottom))

    @property
    def resolution(self) -> float:
        """Pixel size along x, in CRS units (m for UTM)."""
        return abs(self.transform.a)


def raster_grid(href: str) -> RasterGrid:
    """Read the grid of ``href`` from its header (cached per path, size and modification time).

    A file replaced, truncated or deleted since the last call is read again (the cache key
    holds its ``stat``), so a cached header never hides a file that is gone.

    Raises
    ------
    TileReadError
        The file cannot be opened as a raster.
    MissingCRSError
        The raster has no CRS.
    GridError, ReflectanceError
        See :func:`check_raster`.
    """
    try:
        st = os.stat(href)
        stamp: tuple[int, int] | None = (st.st_mtime_ns, st.st_size)
    except (OSError, ValueError):  # /vsi paths, vrt:// connection strings, missing files
        stamp = None
    return _raster_grid(href, stamp)


@lru_cache(maxsize=4096)
def _raster_grid(href: str, stamp: tuple[int, int] | None) -> RasterGrid:
    try:
        with rasterio.open(href) as src:
            crs, transform = src.crs, src.transform
            grid = RasterGrid(
                crs=crs,
                transform=transform,
                width=src.width,
                height=src.height,
                count=src.count,
                dtype=src.dtypes[0],
                nodata=src.nodata,
            )
            nbits = src.tags(1, ns="IMAGE_STRUCTURE").get("NBITS") if src.count else None
    except RasterioIOError as err:
        raise TileReadError(f"{href}: cannot be read as a raster ({err}).") from err
    if crs is None:
        raise MissingCRSError(
            f"{href}: the raster has no CRS. Assign one, e.g. "
            f"`rio edit-info --crs EPSG:32647 {href}` or `da.rio.write_crs(...)`."
        )
    check_raster(href, dtype=grid.dtype, nbits=nbits, transform=transform, width=grid.width,
                 height=grid.height)
    return grid
