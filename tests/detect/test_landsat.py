"""The ``landsat`` preset (30 m) on clearings: large clearings found, clouds and dry grass not.

Pools are sub-pixel at 30 m (docs/detection.md, "Landsat 30 m"), so these tests are about
clearings only.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from rasterio import features
from scipy import ndimage

from minewatch.config import DetectionConfig
from minewatch.detect.clearings import detect_clearings
from minewatch.synth import generate_scenes
from minewatch.synth.spectra import BANDS, CLOUD, Cover, PoolLook, pool_spectra, seasonal_spectra

RES = 30.0
DATES = ("2020-02-14", "2021-03-05", "2022-02-27", "2023-03-14")
SHAPE = (40, 40)
NEW = (slice(5, 17), slice(5, 17))          # forest until the last date, then laterite
OLD = (slice(5, 15), slice(24, 34))         # laterite on every date (cleared before 2020)
GRASS = (slice(24, 34), slice(24, 34))      # dry-season grass on every date
CLOUD_CENTRE, CLOUD_RADIUS_PX = (29, 9), 7  # thick in the middle, thin at the edge


def _mine(date: pd.Timestamp) -> np.ndarray:
    """Laterite with 10 % of leaching pools (turquoise water): a 30 m pixel of a mine."""
    spectra = seasonal_spectra(date)
    return 0.9 * spectra[Cover.BARE] + 0.1 * pool_spectra()[PoolLook.TURQUOISE]


def _cloud_opacity() -> np.ndarray:
    yy, xx = np.mgrid[:SHAPE[0], :SHAPE[1]]
    r = np.hypot(yy - CLOUD_CENTRE[0], xx - CLOUD_CENTRE[1])
    return np.clip(1.5 - r / CLOUD_RADIUS_PX * 1.5, 0.0, 1.0)


@pytest.fixture(scope="module")
def stack() -> xr.DataArray:
    """4 dry-season dates of 30 m forest with a new and an old mine, grass and (last date) an
    unmasked cloud, from the generator's spectra, with texture and sensor noise."""
    rng = np.random.default_rng(7)
    data = np.empty((len(DATES), len(BANDS), *SHAPE), np.float32)
    texture = 1.0 + 0.05 * rng.standard_normal(SHAPE)
    for t, day in enumerate(DATES):
        date = pd.Timestamp(day)
        spectra = seasonal_spectra(date)
        ground = np.broadcast_to(spectra[Cover.FOREST][:, None, None], data.shape[1:]).copy()
        ground[(slice(None), *GRASS)] = spectra[Cover.GRASS][:, None, None]
        ground[(slice(None), *OLD)] = _mine(date)[:, None, None]
        if t == len(DATES) - 1:
            ground[(slice(None), *NEW)] = _mine(date)[:, None, None]
            opacity = _cloud_opacity()
            ground = (1 - opacity) * ground + opacity * CLOUD[:, None, None]
        data[t] = ground * texture + 0.003 * rng.standard_normal(ground.shape)
    x = 500_000 + (np.arange(SHAPE[1]) + 0.5) * RES
    y = 2_850_000 - (np.arange(SHAPE[0]) + 0.5) * RES
    da = xr.DataArray(data, dims=("time", "band", "y", "x"),
                      coords={"time": pd.DatetimeIndex(DATES), "band": list(BANDS),
                              "y": y, "x": x})
    return da.rio.write_crs("EPSG:32647")


def _raster(frame, like: xr.DataArray) -> np.ndarray:
    if len(frame) == 0:
        return np.zeros(like.shape[-2:], bool)
    return features.rasterize([(g, 1) for g in frame.geometry], out_shape=like.shape[-2:],
                              transform=like.rio.transform()).astype(bool)


def _box(rows_cols) -> np.ndarray:
    out = np.zeros(SHAPE, bool)
    out[rows_cols] = True
    return out


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


def test_preset_is_picked_for_30m_and_is_landsat(stack):
    found = detect_clearings(stack)  # no config: the preset of the pixel size
    same = detect_clearings(stack, DetectionConfig.preset("landsat"))
    assert found.drop(columns="geometry").equals(same.drop(columns="geometry"))


def test_large_new_and_old_clearings_are_mining(stack):
    found = detect_clearings(stack, DetectionConfig.preset("landsat"))
    mining = _raster(found[found["kind"] == "mining"], stack)
    assert _iou(mining & _box(NEW), _box(NEW)) >= 0.8
    # cleared before the series and no pool resolved at 30 m: still a mine, not "unknown"
    assert _iou(mining & _box(OLD), _box(OLD)) >= 0.8


def test_unmasked_cloud_and_dry_grass_are_not_clearing(stack):
    found = detect_clearings(stack, DetectionConfig.preset("landsat"))
    anything = _raster(found, stack)
    assert not (anything & (_cloud_opacity() > 0)).any()
    mining = _raster(found[found["kind"] == "mining"], stack)
    assert not (mining & _box(GRASS)).any()


def test_generated_30m_scene_largest_site_found_and_cloud_not_cleared():
    """A generated Landsat-like scene (drawn on the 30 m grid): its largest mining clearing is
    found as mining, and a cloud left unmasked makes almost no false clearing."""
    s = generate_scenes(seed=2, resolution_m=RES, shape=(80, 80), dates=DATES,
                        sensor="landsat", clouds=[0.0, 0.0, 0.0, 0.35], nodata_edges=False)
    codes = s.truth["clearings"].values[-1]
    valid = s.truth["valid"].values[-1].astype(bool)
    labels, n = ndimage.label(codes == 1)
    sizes = ndimage.sum(np.ones_like(labels), labels, range(1, n + 1))
    largest = (labels == 1 + int(np.argmax(sizes))) & valid
    assert largest.sum() >= 20  # the scene holds a site of ≥ 1.8 ha in clear sky
    cfg = DetectionConfig.preset("landsat")
    masked = s.reflectance.where(s.truth["valid"].astype(bool))
    found = detect_clearings(masked, cfg)
    mining = _raster(found[found["kind"] == "mining"], masked)
    assert (mining & largest).sum() >= 0.9 * largest.sum()
    # the same date with its clouds (35 % cover) not masked, as if QA_PIXEL missed them
    cloudy = s.truth["cloud"].values[-1] | s.truth["shadow"].values[-1]
    assert cloudy.mean() > 0.3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raw = detect_clearings(s.reflectance, cfg)
    false = _raster(raw, masked) & cloudy & (codes == 0)
    assert false.sum() < 0.01 * cloudy.sum()
