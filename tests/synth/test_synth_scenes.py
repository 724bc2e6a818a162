"""In-memory generation: truth consistency, growth, clouds, confounders, CRS, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from minewatch.errors import ConfigError
from minewatch.synth import (
    CONFOUNDER_KINDS,
    PoolLook,
    generate_scenes,
    make_world,
)
from minewatch.synth._realpools import real_clusters

DATES = ("2020-02-14", "2021-03-05", "2022-02-27", "2023-03-14")


@pytest.fixture(scope="module")
def scenes():
    return generate_scenes(seed=5, shape=(200, 200), dates=DATES,
                           clouds=(0.0, 0.0, 0.3, 0.0))


def test_shapes_crs_and_range(scenes):
    refl, truth = scenes
    assert refl.dims == ("time", "band", "y", "x")
    assert refl.shape == (4, 6, 200, 200)
    assert str(refl.rio.crs) == "EPSG:32647"
    assert refl.rio.resolution() == (10.0, -10.0)
    values = refl.values[np.isfinite(refl.values)]
    assert values.min() >= 0 and values.max() <= 1
    assert set(truth.data_vars) >= {"pools", "pool_fraction", "clearings", "valid"}
    assert truth["pools"].dtype == np.uint16


def test_pool_fraction_sums_to_pool_area(scenes):
    _, truth = scenes
    pools, looks = scenes.pools, scenes.world.pool_looks
    grid_box = box(*truth.rio.bounds())
    for t in range(4):
        present = (looks[:, t] > 0) & (looks[:, t] < PoolLook.DRAINED)
        expected = pools.geometry[present].intersection(grid_box).area.sum()
        got = float(truth["pool_fraction"].isel(time=t).sum()) * 100.0
        assert expected > 0
        assert got == pytest.approx(expected, rel=0.02)


def test_pool_labels_need_half_a_pixel(scenes):
    _, truth = scenes
    labels = truth["pools"].values
    frac = truth["pool_fraction"].values
    assert (frac[labels > 0] >= 0.5 - 1e-6).all()
    assert set(np.unique(labels[labels > 0])) <= set(scenes.pools["pool_id"])


def test_pools_inside_their_clearings(scenes):
    clearings = scenes.site_clearings
    looks = scenes.world.pool_looks
    dates = [f"{d:%Y-%m-%d}" for d in scenes.world.dates]
    for i, pool in enumerate(scenes.pools.itertuples()):
        for t, day in enumerate(dates):
            if looks[i, t] == 0:
                continue
            row = clearings[(clearings.site_id == pool.site_id) & (clearings.date == day)]
            assert len(row) == 1
            assert row.geometry.iloc[0].buffer(0.5).contains(pool.geometry)


def test_clearing_sizes_and_truth_codes(scenes):
    areas = scenes.site_clearings.area_m2
    assert areas.min() >= 5_000 - 1
    assert areas.max() <= 150_000
    codes = np.unique(scenes.truth["clearings"].values)
    assert {0, 1, 5} <= set(codes.tolist())


def test_sites_appear_and_grow(scenes):
    sites = scenes.sites
    cols = [c for c in sites.columns if c.startswith("n_pools_")]
    counts = sites[cols].to_numpy()
    assert counts.sum(axis=0)[-1] > counts.sum(axis=0)[0]
    assert sites["first_date"].nunique() >= 2  # sites appear at different dates
    areas = scenes.site_clearings.pivot(index="site_id", columns="date", values="area_m2")
    diffs = np.diff(areas.to_numpy(), axis=1)
    assert np.nanmin(diffs) >= -1.0  # clearings never shrink
    assert scenes.pools["drained_date"].notna().any()
    assert (scenes.world.pool_looks == PoolLook.LINER).any()
    n_pools = scenes.pools.groupby("site_id").size()
    assert n_pools.max() <= 40


def test_cloudy_date_marked_invalid(scenes):
    refl, truth = scenes
    cloud = truth["cloud"].isel(time=2).values
    assert 0.1 < cloud.mean() < 0.6
    assert (truth["valid"].isel(time=2).values[cloud] == 0).all()
    assert truth["cloud"].isel(time=1).values.sum() == 0
    # clouds are bright in SWIR, unlike milky pools
    thick = truth["cloud"].isel(time=2).values & (scenes.world.conditions[2].clouds is not None)
    swir = refl.sel(band="swir1").isel(time=2).values
    assert np.nanmean(swir[thick]) > np.nanmean(swir[~thick]) + 0.05


def test_swath_edge_is_nodata(scenes):
    refl, truth = scenes
    nodata = truth["nodata"].isel(time=0).values
    assert 0.05 < nodata.mean() < 0.5
    assert np.isnan(refl.isel(time=0, band=0).values[nodata]).all()
    assert (truth["valid"].isel(time=0).values[nodata] == 0).all()


def test_every_confounder_kind_present():
    world = make_world(seed=0, extent_m=(4000, 4000))
    assert set(world.confounders["kind"]) == set(CONFOUNDER_KINDS)
    assert {"blue", "grey"} <= set(world.confounders.query("kind == 'metal_roof'").detail)


def test_same_world_in_two_utm_zones():
    world = make_world(seed=3, origin_lonlat=(96.0, 25.7), extent_m=(3000, 2000),
                       crs="EPSG:32647", dates=("2022-03-01", "2023-03-01"), clouds=False)
    a = generate_scenes(world, origin_lonlat=(96.0, 25.7), shape=(150, 250), crs="EPSG:32646")
    b = generate_scenes(world, origin_lonlat=(96.0, 25.7), shape=(150, 250), crs="EPSG:32647")
    assert str(a.reflectance.rio.crs) == "EPSG:32646"
    assert str(b.reflectance.rio.crs) == "EPSG:32647"
    for s in (a, b):  # exact pool areas in either CRS
        present = (world.pool_looks[:, 1] > 0) & (world.pool_looks[:, 1] < PoolLook.DRAINED)
        inside = s.pools.geometry[present].intersection(box(*s.truth.rio.bounds()))
        got = float(s.truth["pool_fraction"].isel(time=1).sum()) * 100
        assert got == pytest.approx(inside.area.sum(), rel=0.02)
    ids_a = set(np.unique(a.truth["pools"].values[:, 20:-20, 20:-20])) - {0}
    ids_b = set(np.unique(b.truth["pools"].values)) - {0}
    assert ids_a and len(ids_a & ids_b) >= 0.75 * len(ids_a)  # labels depend on alignment
    # the same ground: mean reflectance of both grids agree
    assert float(a.reflectance.isel(time=1, band=3).mean()) == pytest.approx(
        float(b.reflectance.isel(time=1, band=3).mean()), rel=0.03)


def test_real_positions_follow_pools_refined():
    world = make_world(seed=1, origin_lonlat=(98.3564, 25.6759), extent_m=(3000, 3000),
                       real_positions=True, dates=("2022-03-01",), clouds=False)
    centroids = real_clusters().centroids
    for site in world.sites.itertuples():
        pools = world.pools[world.pools.site_id == site.site_id]
        c = np.array([pools.geometry.centroid.x.mean(), pools.geometry.centroid.y.mean()])
        assert np.hypot(*(centroids - c).T).min() < 60


def test_same_seed_same_arrays_different_seed_differs():
    kw = dict(shape=(60, 60), dates=("2021-03-01", "2022-03-01"))
    a, b, c = (generate_scenes(seed=s, **kw) for s in (7, 7, 8))
    np.testing.assert_array_equal(a.reflectance.values, b.reflectance.values)
    assert not np.array_equal(np.nan_to_num(a.reflectance.values),
                              np.nan_to_num(c.reflectance.values))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(dates=()), "dates is empty"),
        (dict(dates=("2022-03-01", "2021-03-01")), "strictly increasing"),
        (dict(dates=("2022-13-45",)), "not a date"),
        (dict(resolution_m=0), "resolution_m must be > 0"),
        (dict(crs="EPSG:4326"), "not projected"),
        (dict(clouds=(0.1,)), "one cover fraction"),
        (dict(sensor="modis"), "sensor 'modis' unknown"),
    ],
)
def test_bad_arguments_say_how_to_fix(kwargs, match):
    base = dict(shape=(20, 20), dates=("2022-03-01", "2023-03-01"))
    with pytest.raises(ConfigError, match=match):
        generate_scenes(**(base | kwargs))


def test_seasonal_vegetation_differs():
    from minewatch.synth.spectra import Cover, seasonal_spectra

    dry = seasonal_spectra(pd.Timestamp("2022-03-15"))
    wet = seasonal_spectra(pd.Timestamp("2022-08-15"))
    assert dry[Cover.FOREST, 3] < wet[Cover.FOREST, 3]
    assert dry[Cover.BARE].tolist() == wet[Cover.BARE].tolist()
