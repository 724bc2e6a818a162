"""Rendering date by date and its fast paths give the same numbers as the plain computations."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from minewatch.errors import ConfigError
from minewatch.synth import make_grid, make_world
from minewatch.synth._fields import Field
from minewatch.synth.render import render, render_scenes
from minewatch.synth.write import _mean2x2

DATES = ("2021-03-05", "2022-02-27", "2023-03-14")


@pytest.mark.parametrize("seed", range(40))
def test_sample_grid_is_sample_on_the_meshgrid(seed):
    rng = np.random.default_rng(seed)
    shape = tuple(int(n) for n in rng.integers(2, 40, 2))
    values = (rng.standard_normal(shape) * 10.0 ** rng.integers(-3, 3)).astype(np.float32)
    values[rng.random(shape) < 0.1] = 0.0
    field = Field(values, float(rng.uniform(-1e5, 1e5)), float(rng.uniform(-1e6, 1e6)),
                  float(rng.choice([1.0, 7.3, 10.0, 30.0])))
    # from beyond one edge to beyond the other, exact cell centres included
    span = field.cell * np.array(shape[::-1]) * 1.4
    x = field.x0 - 0.2 * span[0] + np.arange(int(rng.integers(1, 90))) * field.cell * 0.5
    y = field.y0 + 0.2 * span[1] - np.arange(int(rng.integers(1, 90))) * field.cell * 0.37
    dx, dy = (float(v) for v in rng.uniform(-300, 300, 2))
    expected = field.sample(*np.meshgrid(x, y), dx, dy)
    got = field.sample_grid(x, y, dx, dy)
    assert got.dtype == np.float32 and got.shape == (len(y), len(x))
    assert got.tobytes() == expected.tobytes()


@pytest.mark.parametrize("shape", [(3, 64, 80), (37, 51), (2, 2)])
def test_mean2x2_is_nanmean_of_the_blocks(shape):
    rng = np.random.default_rng(1)
    a = (rng.standard_normal(shape) * 10.0 ** rng.integers(-12, 12, shape)).astype(np.float32)
    a[rng.random(shape) < 0.3] = np.nan
    h, w = shape[-2:]
    padded = np.pad(a.astype(np.float64), [(0, 0)] * (a.ndim - 2) + [(0, h % 2), (0, w % 2)],
                    constant_values=np.nan)
    blocks = padded.reshape(*shape[:-2], (h + h % 2) // 2, 2, (w + w % 2) // 2, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = np.nanmean(blocks, axis=(-3, -1))
    np.testing.assert_array_equal(_mean2x2(a), expected)  # NaN where a block is all NaN


@pytest.mark.parametrize("crs", ["EPSG:32647", "EPSG:32646"])  # same CRS as the world, or not
def test_render_scenes_are_the_stack_date_by_date(crs):
    world = make_world(seed=7, extent_m=(3000, 2600), dates=DATES, clouds=(0.0, 0.3, 0.05))
    grid = make_grid((98.33, 25.72), crs=crs, resolution_m=10.0, shape=(230, 250))
    stack = render(world, grid, block_rows=100)
    scenes = list(render_scenes(world, grid, block_rows=100))
    assert [s.t for s in scenes] == [0, 1, 2]
    assert [s.date for s in scenes] == list(world.dates)
    for s in scenes:
        assert s.reflectance.shape == (6, 230, 250)
        for name in ("reflectance", "pool_fraction", "pool_id", "clearings", "scl_fractions",
                     "cloud_opacity", "shadow", "nodata", "haze", "valid"):
            np.testing.assert_array_equal(getattr(s, name), getattr(stack, name)[s.t],
                                          err_msg=f"{name} of date {s.t}")


def test_render_scenes_rejects_an_unknown_sensor():
    world = make_world(seed=3, extent_m=(1000, 1000), dates=DATES[:1])
    grid = make_grid((98.33, 25.72), crs="EPSG:32647", resolution_m=10.0, shape=(20, 20))
    with pytest.raises(ConfigError, match="sensor 'modis' unknown"):
        render_scenes(world, grid, sensor="modis")
