"""Shared fixtures: real GeoTIFFs written through rasterio, the Agg backend for plots."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import matplotlib
import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

matplotlib.use("Agg")

DATA = Path(__file__).parent / "data"


def _write_tif(
    path: Path | str,
    array: np.ndarray,
    *,
    crs: str | None = "EPSG:32647",
    transform=None,
    nodata: float | None = 0,
    tags: Mapping[str, str] | None = None,
    descriptions: Sequence[str] | None = None,
    driver: str = "GTiff",
    **profile,
) -> Path:
    """Write ``array`` ((bands, y, x) or (y, x)) as a real raster file and return its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = array if array.ndim == 3 else array[np.newaxis]
    if transform is None:
        transform = from_origin(300000.0, 2850000.0, 10.0, 10.0)
    opts = dict(
        driver=driver,
        width=data.shape[2],
        height=data.shape[1],
        count=data.shape[0],
        dtype=data.dtype,
        crs=crs,
        transform=transform,
        nodata=nodata,
    )
    if driver == "GTiff":
        opts.update(tiled=True, blockxsize=256, blockysize=256, compress="deflate")
    opts.update(profile)
    with rasterio.open(path, "w", **opts) as dst:
        dst.write(data)
        if tags:
            dst.update_tags(**tags)
        if descriptions:
            for i, d in enumerate(descriptions, start=1):
                dst.set_band_description(i, d)
    return path


@pytest.fixture
def write_tif() -> Callable[..., Path]:
    """A function writing a real GeoTIFF (see ``_write_tif`` for its arguments)."""
    return _write_tif


@pytest.fixture
def data_dir() -> Path:
    """The folder of small real sensor files (see tests/data/README.md)."""
    return DATA
