"""Grid facts of raster files (CRS, transform, shape), read once from headers only."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.errors import RasterioIOError

from minewatch.errors import InputError, MissingCRSError, TileReadError


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


@lru_cache(maxsize=4096)
def raster_grid(href: str) -> RasterGrid:
    """Read the grid of ``href`` from its header (cached per path).

    Raises
    ------
    TileReadError
        The file cannot be opened as a raster.
    MissingCRSError
        The raster has no CRS.
    """
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
    except RasterioIOError as err:
        raise TileReadError(f"{href}: cannot be read as a raster ({err}).") from err
    if crs is None:
        raise MissingCRSError(
            f"{href}: the raster has no CRS. Assign one, e.g. "
            f"`rio edit-info --crs EPSG:32647 {href}` or `da.rio.write_crs(...)`."
        )
    if transform.b != 0 or transform.d != 0:
        raise InputError(
            f"{href}: rotated or skewed geotransform {tuple(transform)[:6]} is not supported; "
            "warp it to a north-up grid first (gdalwarp)."
        )
    return grid
