"""Tests of minewatch.sites: grouping one date's pools and clearings into sites."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import Point, box

from minewatch.config._sites import SiteConfig
from minewatch.errors import ConfigError, InputError
from minewatch.sites import SITE_COLUMNS, group_sites

UTM = "EPSG:32647"  # UTM 47N, the zone of the real Kachin data
X0, Y0 = 430000.0, 2830000.0  # near Pang War


def points(xy, crs=UTM, **cols):
    return gpd.GeoDataFrame(cols or None, geometry=[Point(X0 + x, Y0 + y) for x, y in xy],
                            crs=crs)


def members(pools, **kw):
    _, p, c = group_sites(pools, return_members=True, **kw)
    return list(p["site_id"]), list(c["site_id"])


def test_chain_links_transitively_and_a_gap_splits():
    pools = points([(0, 0), (100, 0), (200, 0), (300, 0), (460, 0)])
    sites = group_sites(pools)
    assert list(sites["n_pools"]) == [4, 1]
    assert members(pools)[0] == ["S0001"] * 4 + ["S0002"]


@pytest.mark.parametrize(("gap", "n_sites"), [(150.5, 2), (150.0, 1), (149.5, 1)])
def test_edge_to_edge_distance_decides(gap, n_sites):
    # two 20 m squares, their facing edges `gap` m apart (centres gap + 20 m apart)
    squares = [box(X0, Y0, X0 + 20, Y0 + 20), box(X0 + 20 + gap, Y0, X0 + 40 + gap, Y0 + 20)]
    pools = gpd.GeoDataFrame(geometry=squares, crs=UTM)
    assert len(group_sites(pools)) == n_sites


def test_clearing_bridges_pools_and_kinds_filter():
    pools = points([(0, 0), (400, 0)], area_m2=[50.0, 70.0])
    clearing = gpd.GeoDataFrame({"kind": ["mining"], "area_m2": [4000.0]},
                                geometry=[box(X0 + 100, Y0 - 10, X0 + 300, Y0 + 10)], crs=UTM)
    sites = group_sites(pools, clearing)
    assert len(sites) == 1
    assert sites.loc[0, "n_pools"] == 2
    assert sites.loc[0, "cleared_area_m2"] == 4000.0
    assert sites.loc[0, "pool_area_m2"] == 120.0
    farm = clearing.assign(kind="agriculture")
    sites = group_sites(pools, farm)
    assert len(sites) == 2 and sites["cleared_area_m2"].sum() == 0.0
    _, _, used = group_sites(pools, farm, return_members=True)
    assert len(used) == 0


def test_clearings_without_area_column_use_geometry_area_and_form_sites_alone():
    clearing = gpd.GeoDataFrame(geometry=[box(X0, Y0, X0 + 100, Y0 + 50)], crs=UTM)
    sites = group_sites(points([]), clearing)
    assert len(sites) == 1
    assert sites.loc[0, "n_pools"] == 0
    assert sites.loc[0, "cleared_area_m2"] == pytest.approx(5000.0)


def test_single_point_site_is_a_polygon_and_hull_holds_members():
    pools = points([(0, 0), (50, 0), (0, 50), (1000, 1000)])
    sites = group_sites(pools)
    assert set(sites.geom_type) == {"Polygon"}
    assert sites.geometry.iloc[0].contains(pools.geometry.iloc[0])
    assert sites.geometry.iloc[1].area == pytest.approx(np.pi * 25, rel=0.05)


def test_geographic_input_gives_metric_output_and_same_grouping():
    pools = points([(0, 0), (100, 0), (200, 0), (600, 0), (700, 0)])
    in_utm = group_sites(pools)
    in_4326 = group_sites(pools.to_crs("EPSG:4326"))
    assert in_4326.crs.is_projected and in_4326.crs.to_epsg() == 32647
    assert list(in_4326["n_pools"]) == list(in_utm["n_pools"]) == [3, 2]
    np.testing.assert_allclose(in_4326[["lon", "lat"]], in_utm[["lon", "lat"]], atol=1e-7)
    assert 98.0 < in_utm.loc[0, "lon"] < 98.5 and 25.5 < in_utm.loc[0, "lat"] < 25.7


def test_projected_clearings_crs_is_kept_when_pools_are_geographic():
    pools = points([(0, 0)]).to_crs("EPSG:4326")
    clearing = gpd.GeoDataFrame(geometry=[box(X0 + 50, Y0, X0 + 80, Y0 + 30)], crs=UTM)
    sites = group_sites(pools, clearing)
    assert sites.crs.to_epsg() == 32647 and len(sites) == 1


def test_regions_in_another_crs_are_reprojected():
    west = box(X0 - 1000, Y0 - 1000, X0 + 500, Y0 + 1000)
    east = box(X0 + 500, Y0 - 1000, X0 + 3000, Y0 + 1000)
    regions = gpd.GeoDataFrame({"name": ["Pang War", "Chipwi"]}, geometry=[west, east],
                               crs=UTM).to_crs("EPSG:3857")
    pools = points([(0, 0), (50, 0), (2000, 0), (5000, 5000)])
    sites = group_sites(pools, regions=regions)
    by_x = sites.sort_values("lon")
    assert list(by_x["region"]) == ["Pang War", "Chipwi", None]


def test_regions_from_a_file_with_another_name_column(tmp_path):
    regions = gpd.GeoDataFrame({"township": ["Chipwi"]},
                               geometry=[box(X0 - 100, Y0 - 100, X0 + 100, Y0 + 100)], crs=UTM)
    path = tmp_path / "townships.gpkg"
    regions.to_crs("EPSG:4326").to_file(path)
    sites = group_sites(points([(0, 0)]), regions=path)
    assert list(sites["region"]) == ["Chipwi"]
    with pytest.raises(InputError, match="no column 'district'"):
        group_sites(points([(0, 0)]), regions=path, region_column="district")


def test_regions_not_overlapping_raise():
    far = gpd.GeoDataFrame({"name": ["elsewhere"]}, geometry=[box(0, 0, 1, 1)],
                           crs="EPSG:4326")
    with pytest.raises(InputError, match="do not overlap the pools"):
        group_sites(points([(0, 0)]), regions=far)


def test_missing_crs_raises():
    pools = gpd.GeoDataFrame(geometry=[Point(0, 0)])
    with pytest.raises(InputError, match=r"no CRS; set one with pools.set_crs"):
        group_sites(pools)


@pytest.mark.parametrize("crs", [UTM, "EPSG:4326"])
def test_empty_input_gives_empty_frame_with_columns(crs):
    sites, p, c = group_sites(points([], crs=crs), return_members=True)
    assert list(sites.columns) == list(SITE_COLUMNS)
    assert len(sites) == 0 and sites.crs is not None
    assert "site_id" in p.columns and "site_id" in c.columns
    assert group_sites(points([]), points([])).crs.to_epsg() == 32647


def test_ids_are_deterministic_and_follow_y_then_x():
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 5000, size=(200, 2))
    pools = points(xy, tag=np.arange(200))
    _, a, _ = group_sites(pools, return_members=True)
    shuffled = pools.sample(frac=1.0, random_state=1)
    _, b, _ = group_sites(shuffled, return_members=True)
    assert (a.set_index("tag")["site_id"].sort_index()
            == b.set_index("tag")["site_id"].sort_index()).all()
    sites = group_sites(pools)
    assert list(sites["site_id"]) == [f"S{i:04d}" for i in range(1, len(sites) + 1)]
    cy = sites.geometry.centroid.y.to_numpy()
    assert (np.diff(cy) >= -10).all()  # sorted by y (up to the buffer's effect)
    assert sites["n_pools"].sum() == 200


def test_config_validation():
    with pytest.raises(ConfigError, match=r"linking_distance_m = -5\.0 is out of range"):
        SiteConfig(linking_distance_m=-5.0)
    with pytest.raises(ConfigError, match="hull_buffer_m"):
        SiteConfig(hull_buffer_m=-1.0)
    with pytest.raises(InputError, match="expected a SiteConfig"):
        group_sites(points([(0, 0)]), config={"linking_distance_m": 10})
    wide = group_sites(points([(0, 0), (400, 0)]), config=SiteConfig(linking_distance_m=500))
    assert len(wide) == 1


def _benchmark():
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "sites_real_pools.py"
    spec = importlib.util.spec_from_file_location("sites_real_pools", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_real_kachin_pools_at_default_distance():
    pools = _benchmark().load_pools()
    assert len(pools) == 2497
    sites, members_, _ = group_sites(pools, return_members=True)
    # Fewer sites than points (pools cluster), and at least as many as the dataset's 188
    # clusters of > 3 pools; Global Witness counted "almost 300 locations" (of 2,700+ pools)
    # so the total should be of that order (within a third either way).
    assert 188 <= len(sites) < 2497
    assert 200 <= len(sites) <= 400
    # clusters of > 3 pools: the dataset's own 188, within 10 %
    assert 169 <= (sites["n_pools"] > 3).sum() <= 207
    assert sites["n_pools"].sum() == 2497
    assert members_["site_id"].value_counts().sort_index().tolist() == \
        sites.set_index("site_id")["n_pools"].sort_index().tolist()
    assert sites["lon"].between(98.0, 98.6).all() and sites["lat"].between(25.3, 26.0).all()
