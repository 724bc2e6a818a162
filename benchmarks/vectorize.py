"""Labelling, vectorizing and evaluating ~50,000 small objects on a full-size 10980² grid.

    python benchmarks/vectorize.py            # median and min of 3 runs per step

Prints seconds for: ``label_objects`` (in memory), ``vectorize`` (in memory), both on a
dask-chunked mask (2048 px), and ``evaluate`` of the labels against themselves shifted by one
column. Seeded: same objects every run.
"""

from __future__ import annotations

import statistics
import time

import numpy as np
import xarray as xr
from rasterio.transform import from_origin

from minewatch.detect.vectorize import label_objects, vectorize
from minewatch.evaluate import evaluate

SIZE, N_OBJECTS = 10980, 50_000


def _grid(array: np.ndarray) -> xr.DataArray:
    da = xr.DataArray(array, dims=("y", "x")).rio.write_crs("EPSG:32647")
    return da.rio.write_transform(from_origin(300000, 2900000, 10, 10))


def _timed(step):
    runs, result = [], None
    for _ in range(3):
        t0 = time.perf_counter()
        result = step()
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs), min(runs), result


def main() -> None:
    rng = np.random.default_rng(0)
    mask = np.zeros((SIZE, SIZE), bool)
    rows, cols = rng.integers(1, SIZE - 5, N_OBJECTS), rng.integers(1, SIZE - 5, N_OBJECTS)
    heights, widths = rng.integers(1, 4, N_OBJECTS), rng.integers(1, 4, N_OBJECTS)
    for r, c, h, w in zip(rows, cols, heights, widths, strict=True):
        mask[r:r + h, c:c + w] = True
    grid = _grid(mask)
    labels = label_objects(grid)
    ref = labels.values
    shifted = _grid(np.roll(ref, 1, axis=1))
    steps = [
        ("label_objects, in memory", lambda: label_objects(grid)),
        ("vectorize, in memory", lambda: vectorize(labels)),
        ("label_objects + vectorize, dask 2048 px",
         lambda: vectorize(label_objects(grid.chunk({"y": 2048, "x": 2048})))),
        ("evaluate vs shifted copy", lambda: evaluate(shifted, _grid(ref))),
    ]
    print(f"{SIZE} x {SIZE} px, {int(ref.max())} objects; median (min) of 3 runs")
    for name, step in steps:
        median, best, _ = _timed(step)
        print(f"{name:<42}{median:>8.2f} s ({best:.2f})")


if __name__ == "__main__":
    main()
