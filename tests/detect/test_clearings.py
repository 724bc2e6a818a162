"""Clearing detection on small seeded generated stacks with known truth (minewatch.synth)."""

from __future__ import annotations

import warnings
from dataclasses import replace

import dask
import dask.array as da
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from rasterio import features
from shapely.geometry import box

from minewatch.config import ClearingConfig, DetectionConfig
from minewatch.detect._clearing_pixels import TileFile
from minewatch.detect.clearings import (
    CLEARING_KINDS,
    clearing_baseline,
    detect_clearings,
    first_bare_date,
    segment_clearings,
)
from minewatch.errors import BandError, InputError, MinewatchWarning
from minewatch.synth import generate_scenes

DATES = ("2020-02-14", "2021-03-05", "2022-02-27", "2023-03-14")
SHAPE = (150, 150)
SEEDS = (2, 3, 4, 5)


def _scene(seed: int, **kw):
    scenes = generate_scenes(seed=seed, shape=SHAPE, dates=DATES, **kw)
    masked = scenes.reflectance.where(scenes.truth["valid"].astype(bool))
    return scenes, masked


@pytest.fixture(scope="module")
def scenes():
    """(scenes, masked stack, detections of the last date) per seed."""
    out = {}
    for seed in SEEDS:
        s, masked = _scene(seed)
        out[seed] = (s, masked, detect_clearings(masked))
    return out


def _raster(frame, like) -> np.ndarray:
    if len(frame) == 0:
        return np.zeros(like.shape[-2:], bool)
    return features.rasterize([(g, 1) for g in frame.geometry], out_shape=like.shape[-2:],
                              transform=like.rio.transform()).astype(bool)


def test_mining_clearings_overlap_truth(scenes):
    inter = union = 0
    for s, masked, found in scenes.values():
        valid = s.truth["valid"].values[-1].astype(bool)
        truth = s.truth["clearings"].values[-1] == 1
        mining = _raster(found[found["kind"] == "mining"], masked)
        inter += int((mining & truth & valid).sum())
        union += int(((mining | truth) & valid).sum())
    # 150-px scenes cut many sites at the border; these four seeds keep whole sites
    # (seeds 0, 1, 7 score 0.45-0.63 here). Measured 0.90 here; the benchmark's 300-px
    # scenes are the accuracy figure.
    assert inter / union > 0.8


def test_output_columns_crs_and_kinds(scenes):
    _s, masked, found = scenes[2]
    assert found.crs == masked.rio.crs
    assert set(found["kind"]) <= set(CLEARING_KINDS)
    for col in ("date", "kind", "first_seen", "area_m2", "mean_ndvi", "mean_bare_soil",
                "geometry"):
        assert col in found.columns
    assert (found["date"] == pd.Timestamp(DATES[-1])).all()
    assert (found["area_m2"] >= ClearingConfig().min_area_m2).all()


def test_clouds_and_shadows_never_become_clearings(scenes):
    for s, masked, found in scenes.values():
        cloudy = s.truth["cloud"].values[-1] | s.truth["shadow"].values[-1]
        assert not (_raster(found, masked) & cloudy).any()
    # clouds left in the data (a missed product mask): still no clearing under them
    s, _, _ = scenes[5]
    t = 2  # the cloudiest date of seed 5 (54 % cloud and shadow)
    cloudy = s.truth["cloud"].values[t] | s.truth["shadow"].values[t]
    assert cloudy.mean() > 0.05
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raw = detect_clearings(s.reflectance.isel(time=slice(0, t + 1)))
    uncleared = s.truth["clearings"].values[t] == 0  # a mine under thin cloud may show
    assert (_raster(raw, s.reflectance) & cloudy & uncleared).mean() < 0.001


def test_haze_and_season_make_little_false_clearing(scenes):
    for s, masked, found in scenes.values():
        valid = s.truth["valid"].values[-1].astype(bool)
        uncleared = s.truth["clearings"].values[-1] == 0
        assert (_raster(found, masked) & valid & uncleared).mean() < 0.01


def test_swidden_mostly_labelled_swidden():
    hits = total = 0
    for seed in SEEDS:
        s, masked = _scene(seed)
        for t in range(1, len(DATES)):
            found = detect_clearings(masked, date=t)
            codes = s.truth["clearings"].values[t]
            for _, row in found.iterrows():
                px = _raster(gpd.GeoDataFrame(geometry=[row.geometry]), masked)
                if np.bincount(codes[px], minlength=6).argmax() == 2:
                    total += 1
                    hits += row["kind"] == "swidden"
    assert total >= 4
    assert hits / total >= 0.8


def test_first_seen_matches_truth_for_most_sites(scenes):
    ok = n = 0
    for s, _, found in scenes.values():
        mining = found[found["kind"] == "mining"]
        for _, rows in s.site_clearings.groupby("site_id"):
            rows = rows.sort_values("date")
            if pd.Timestamp(rows["date"].iloc[-1]) != pd.Timestamp(DATES[-1]) or not len(mining):
                continue
            overlap = mining.geometry.intersection(rows.geometry.iloc[-1]).area.to_numpy()
            if overlap.max() < 0.25 * rows.geometry.iloc[-1].area:
                continue
            n += 1
            best = mining.iloc[int(np.argmax(overlap))]
            ok += pd.Timestamp(best["first_seen"]) == pd.Timestamp(rows["date"].iloc[0])
    assert n >= 5
    assert ok / n >= 0.7


def test_all_cloud_date_gives_empty_frame_and_warning(scenes):
    _, masked, _ = scenes[2]
    cloudy = masked.copy()
    cloudy[-1] = np.nan
    with pytest.warns(MinewatchWarning, match="no clear pixel"):
        found = detect_clearings(cloudy)
    assert len(found) == 0 and found.crs == masked.rio.crs
    assert {"kind", "first_seen", "area_m2", "geometry"} <= set(found.columns)


def test_one_date_and_first_date_are_input_errors(scenes):
    _, masked, _ = scenes[2]
    with pytest.raises(InputError, match=r"1 date\(s\) \(2023-03-14\).*at least two dates"):
        detect_clearings(masked.isel(time=[-1]))
    with pytest.raises(InputError, match="first date"):
        segment_clearings(masked, date=DATES[0])
    with pytest.raises(InputError, match="not in the stack; its dates are"):
        segment_clearings(masked, date="2019-01-01")


def test_baseline_counts_clear_dates_only_and_grid_must_match(scenes):
    s, masked, _ = scenes[3]
    base = clearing_baseline(masked, before=DATES[-1])
    expected = s.truth["valid"].isel(time=slice(0, 3)).sum("time").values
    np.testing.assert_array_equal(base["n_clear"].values, expected)
    assert base["vegetation"].isnull().values[expected == 0].all()
    labels = segment_clearings(masked, baseline=base)
    np.testing.assert_array_equal(labels.values, segment_clearings(masked).values)
    with pytest.raises(InputError, match=r"baseline grid .* differs"):
        segment_clearings(masked, baseline=base.isel(x=slice(0, 100)))


def test_dask_equals_numpy(scenes):
    _, masked, found = scenes[2]
    lazy = masked.chunk({"time": 1, "band": -1, "y": 64, "x": 64})
    np.testing.assert_array_equal(segment_clearings(lazy).values,
                                  segment_clearings(masked).values)
    found_lazy = detect_clearings(lazy)
    assert found_lazy.crs == found.crs
    pd.testing.assert_frame_equal(found_lazy.drop(columns="geometry"),
                                  found.drop(columns="geometry"))
    assert found_lazy.geometry.geom_equals(found.geometry).all()


@pytest.mark.parametrize(("date", "chunks", "config"), [
    # a middle date (later dates: the recovered share), tiles off the sample's stride of
    # 4 px, bands and dates split across chunks
    (2, {"time": 2, "band": 1, "y": 50, "x": 70}, None),
    # the mapped date first in its window, and no date normalisation (no sample)
    (1, {"time": 1, "band": -1, "y": 90, "x": 150},
     replace(ClearingConfig(), normalize_dates=False, window_dates=1)),
    # a four-band stack without redness normalisation
    (-1, {"time": 1, "band": -1, "y": 64, "x": 64},
     replace(ClearingConfig(), normalize_redness=False)),
])
def test_dask_stack_gives_the_numpy_clearings(scenes, date, chunks, config):
    """The lazy stack is read once into per-date layers (temporary files): the same
    clearings as the in-memory stack, for any chunking, date and normalisation."""
    _, masked, _ = scenes[3]
    if config is not None and not config.normalize_redness:
        masked = masked.sel(band=["blue", "green", "red", "nir"])
    want = detect_clearings(masked, config, date=date)
    got = detect_clearings(masked.chunk(chunks), config, date=date)
    assert len(want) > 0
    pd.testing.assert_frame_equal(got.drop(columns="geometry"), want.drop(columns="geometry"))
    assert got.geometry.geom_equals(want.geometry).all()


def test_dask_stack_is_read_once(scenes):
    """detect_clearings and segment_clearings compute each chunk of a lazy stack once (the
    strided sample, the masks and the object table used to read the whole stack each)."""
    _, masked, found = scenes[2]
    lazy = masked.chunk({"time": 1, "band": -1, "y": 64, "x": 64})
    reads: dict[tuple[int, ...], int] = {}

    def count(block, block_info=None):
        where = tuple(block_info[0]["chunk-location"])
        reads[where] = reads.get(where, 0) + 1
        return block

    counted = lazy.copy(data=lazy.data.map_blocks(count, dtype=lazy.dtype))
    with dask.config.set(scheduler="synchronous"):
        got = detect_clearings(counted)
    assert len(reads) == lazy.data.npartitions
    assert set(reads.values()) == {1}
    pd.testing.assert_frame_equal(got.drop(columns="geometry"), found.drop(columns="geometry"))
    reads.clear()
    labels = segment_clearings(counted).values  # computed after the layer files are gone
    assert len(reads) == lazy.data.npartitions and set(reads.values()) == {1}
    np.testing.assert_array_equal(labels, segment_clearings(masked).values)


@pytest.mark.parametrize("positional", [True, False])
def test_tile_file_reads_what_was_written(positional):
    """The layer file of a lazy stack gives back any slice of what its tiles hold, also
    across tiles and without positional reads (seek and read under a lock)."""
    rng = np.random.default_rng(0)
    want = rng.random((3, 50, 70)).astype(np.float32)
    rows, cols = np.array([0, 20, 40, 50]), np.array([0, 32, 70])
    store = TileFile(3, rows, cols, np.float32)
    store._positional = positional and store._positional
    try:
        for i, j in np.ndindex(3, 2):
            for k in range(3):
                store.write(k, i, j, want[k, rows[i]:rows[i + 1], cols[j]:cols[j + 1]])
        for key in [(slice(None),) * 3, (1, slice(5, 45), slice(10, 60)),
                    (slice(0, 2), slice(19, 21), 33), (2, slice(None, None, 3), slice(31, 70)),
                    (slice(1, 3), slice(40, 50), slice(0, 32))]:
            np.testing.assert_array_equal(store[key], want[key])
        np.testing.assert_array_equal(store.dask(rows_per_block=8).compute(), want)
    finally:
        store.close()


def test_baseline_is_lazy_on_dask(scenes):
    _, masked, _ = scenes[2]
    lazy = masked.chunk({"y": 64, "x": 64})
    cfg = ClearingConfig(normalize_dates=False)

    def forbid(*args, **kwargs):
        raise AssertionError("computed")

    with dask.config.set(scheduler=forbid):
        base = clearing_baseline(lazy, before=DATES[-1], config=cfg)
    assert isinstance(base["vegetation"].data, da.Array)


def test_thresholds_change_the_result(scenes):
    _, masked, found = scenes[2]
    base = DetectionConfig.preset("sentinel2")
    bigger = detect_clearings(masked, base.replace(clearings={"min_area_m2": 9000.0}))
    assert 0 < len(bigger) < len(found)
    assert (bigger["area_m2"] >= 9000).all()
    strict = detect_clearings(masked, replace(base.clearings, bare_min=0.3, min_bare_rise=0.6))
    assert _raster(strict, masked).sum() < _raster(found, masked).sum()
    unknown = detect_clearings(masked, replace(base.clearings, unknown_without_pools=True,
                                               min_pool_area_m2=1e6))
    assert "mining" not in set(unknown["kind"])


def test_given_pools_make_a_clearing_mining(scenes):
    _, masked, _found = scenes[2]
    cfg = replace(ClearingConfig(), min_pool_area_m2=1e6, unknown_without_pools=True)
    plain = detect_clearings(masked, cfg)
    target = plain.iloc[0].geometry.representative_point()
    pools = gpd.GeoDataFrame(geometry=[box(target.x - 3, target.y - 3, target.x + 3,
                                           target.y + 3)], crs=masked.rio.crs).to_crs(4326)
    with_pools = detect_clearings(masked, cfg, pools=pools)
    assert with_pools.iloc[0]["kind"] == "mining" and with_pools.iloc[0]["n_given_pools"] == 1


def test_four_band_and_rgb(scenes):
    _s, masked, _found = scenes[2]
    four = detect_clearings(masked.sel(band=["blue", "green", "red", "nir"]))
    assert "mean_redness" in four.columns and (four["kind"] == "mining").any()
    rgb = masked.sel(band=["blue", "green", "red"])
    with pytest.raises(BandError, match="rgb_highres"):
        detect_clearings(rgb, ClearingConfig())
    out = detect_clearings(rgb)  # default for RGB: the rgb_highres preset
    assert "mean_grvi" in out.columns


def test_first_bare_date(scenes):
    s, masked, _ = scenes[2]
    first = first_bare_date(masked)
    assert first.dtype == np.dtype("datetime64[ns]") and first.rio.crs == masked.rio.crs
    forest = (s.truth["clearings"] == 0).all("time").values
    assert first.isnull().values[forest].mean() > 0.95
    mining = (s.truth["clearings"].values == 1).any(axis=0)
    assert first.notnull().values[mining].mean() > 0.8


def test_wrong_inputs():
    with pytest.raises(InputError, match="must be an xarray DataArray"):
        detect_clearings(np.zeros((2, 6, 4, 4)))
    cube = xr.DataArray(np.zeros((2, 4, 4)), dims=("time", "y", "x"))
    with pytest.raises(InputError, match="expected \\(time, band, y, x\\)"):
        segment_clearings(cube)


def _long_bare_stack(grass: tuple[float, ...], laterite: tuple[float, ...]) -> xr.DataArray:
    """Four dates of forest with a patch of ``grass`` and one of ``laterite`` (6-band
    reflectance), both bare on every date: long-bare land the baseline never saw vegetated."""
    forest = (0.02, 0.045, 0.025, 0.32, 0.15, 0.06)
    rng = np.random.default_rng(0)
    data = np.empty((len(DATES), 6, 60, 60), np.float32)
    data[:] = np.asarray(forest, np.float32)[None, :, None, None]
    data[:, :, 10:30, 5:25] = np.asarray(grass, np.float32)[None, :, None, None]
    data[:, :, 10:30, 35:55] = np.asarray(laterite, np.float32)[None, :, None, None]
    data *= rng.uniform(0.97, 1.03, data.shape).astype(np.float32)
    stack = xr.DataArray(
        data, dims=("time", "band", "y", "x"),
        coords={"time": pd.to_datetime(DATES),
                "band": ["blue", "green", "red", "nir", "swir1", "swir2"],
                "y": 2_840_000.0 - 10.0 * np.arange(60) - 5.0,
                "x": 430_000.0 + 10.0 * np.arange(60) + 5.0})
    return stack.rio.write_crs("EPSG:32647")


def test_dry_grass_is_not_long_bare_clearing_at_10m():
    """Dry-season grass (NDVI ≈ 0.21, redness ≈ 0.13: the sample archive's false site of
    2026-11-25) is not an established clearing with the ``sentinel2`` preset; laterite
    (NDVI ≈ 0.12) is. With the former ``established_veg_max`` 0.22 the grass was one."""
    grass = (0.045, 0.065, 0.085, 0.13, 0.22, 0.15)
    laterite = (0.08, 0.13, 0.22, 0.28, 0.38, 0.30)
    stack = _long_bare_stack(grass, laterite)
    cfg = DetectionConfig.preset("sentinel2")
    found = _raster(detect_clearings(stack, cfg), stack)
    assert found[12:28, 37:53].mean() > 0.9  # laterite
    assert found[10:30, 5:25].sum() == 0  # grass
    old = _raster(detect_clearings(stack, cfg.replace(clearings={"established_veg_max": 0.22})),
                  stack)
    assert old[12:28, 7:23].mean() > 0.9
