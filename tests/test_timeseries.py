"""Tests of minewatch.timeseries: counts per date, period and region, the band, the Dataset.

The hand-made world (``world()``): a 2 km × 1 km grid at 10 m in UTM 47N, five dates, five
sites with hand-set statuses (one under cloud on date 2, one on date 3), pools with
confidences and clearings. The truth tables below are computed by hand from the docstring
rules, not by the code under test.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rioxarray  # noqa: F401  (registers .rio)
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Point, box

from minewatch.errors import ConfigError, InputError
from minewatch.timeseries import TIMESERIES_COLUMNS, site_timeseries, to_dataset

UTM = "EPSG:32647"
X0, Y0 = 430000.0, 2829000.0  # south-west corner of the grid, near Pang War
DATES = pd.to_datetime(["2022-01-10", "2022-01-25", "2022-02-10", "2022-04-05", "2023-01-05"])
D0, D1, D2, D3, D4 = DATES


@dataclass(frozen=True)
class Tracks:
    """Stand-in for minewatch.sites.SiteTracks: only what site_timeseries reads."""

    sites: gpd.GeoDataFrame
    history: pd.DataFrame
    pools: gpd.GeoDataFrame
    clearings: gpd.GeoDataFrame
    dates: list


# site: (x, y) offset from the grid corner, persistent, provisional, first_seen
SITES = {
    "S0001": ((300, 500), True, False, D0),    # A west; under cloud on D2
    "S0002": ((1500, 500), True, False, D0),   # B east; under cloud on D3
    "S0003": ((1700, 200), False, False, D1),  # C east; seen once: held back
    "S0004": ((600, 900), False, True, D4),    # D west (and north); seen on the last date
    "S0005": ((200, 700), True, False, D0),    # E west; only an 'unknown' clearing
}
STATUS = {  # per date D0..D4, None = no row (before first_seen)
    "S0001": ["new", "active", "unobserved", "active", "inactive"],
    "S0002": ["new", "expanded", "active", "unobserved", "active"],
    "S0003": [None, "new", "inactive", "inactive", "inactive"],
    "S0004": [None, None, None, None, "new"],
    "S0005": ["new", "active", "active", "inactive", "unobserved"],  # D4 not carried
}
# (site, date): [(confidence, n_pools), ...]
POOLS = {
    ("S0001", D0): [(0.9, 1), (0.8, 1)],
    ("S0001", D1): [(0.9, 1), (0.9, 1), (0.6, 1)],
    ("S0001", D3): [(0.95, 2), (0.9, 1), (0.9, 1)],
    ("S0002", D0): [(0.99, 1)],
    ("S0002", D1): [(0.95, 1)] * 5,
    ("S0002", D2): [(0.95, 1)] * 5,
    ("S0002", D4): [(0.95, 1)] * 6,
    ("S0003", D1): [(0.55, 1)],
    ("S0004", D4): [(0.7, 1), (0.6, 1)],
}
# (site, date): [(kind, area_m2), ...]
CLEARINGS = {
    ("S0001", D0): [("mining", 1000.0)],
    ("S0001", D1): [("mining", 1200.0)],
    ("S0001", D3): [("mining", 1500.0)],
    ("S0002", D1): [("mining", 3000.0)],
    ("S0002", D2): [("mining", 3000.0)],
    ("S0002", D4): [("mining", 3000.0)],
    ("S0003", D1): [("unknown", 800.0)],
    ("S0005", D0): [("unknown", 2000.0)],
    ("S0005", D1): [("unknown", 2000.0)],
    ("S0005", D2): [("unknown", 2000.0)],
}


def at(dx: float, dy: float) -> Point:
    return Point(X0 + dx, Y0 + dy)


def world(confidence: float | None = None) -> Tracks:
    sites = gpd.GeoDataFrame(
        {"site_id": list(SITES), "first_seen": [s[3] for s in SITES.values()],
         "persistent": [s[1] for s in SITES.values()],
         "provisional": [s[2] for s in SITES.values()]},
        geometry=[at(*s[0]).buffer(40) for s in SITES.values()], crs=UTM)
    history = pd.DataFrame(
        [{"site_id": s, "date": d, "status": st, "n_pools": 0, "cleared_area_m2": 0.0}
         for s, sts in STATUS.items() for d, st in zip(DATES, sts, strict=True) if st])
    prow = [{"site_id": s, "date": d, "confidence": c if confidence is None else confidence,
             "n_pools": n, "area_m2": 60.0 * n, "geometry": at(*SITES[s][0])}
            for (s, d), objs in POOLS.items() for c, n in objs]
    prow.append({"site_id": None, "date": D1, "confidence": 0.9, "n_pools": 1,  # in no site
                 "area_m2": 60.0, "geometry": at(1000, 50)})
    crow = [{"site_id": s, "date": d, "kind": k, "area_m2": a, "geometry": at(*SITES[s][0])}
            for (s, d), objs in CLEARINGS.items() for k, a in objs]
    crow.append({"site_id": None, "date": D0, "kind": "agriculture", "area_m2": 9e4,
                 "geometry": at(50, 50)})
    return Tracks(sites=sites, history=history,
                  pools=gpd.GeoDataFrame(prow, geometry="geometry", crs=UTM),
                  clearings=gpd.GeoDataFrame(crow, geometry="geometry", crs=UTM),
                  dates=list(DATES))


def valid_mask() -> xr.DataArray:
    """Clear except: west half cloudy on D2, east half on D3, 20 nodata columns (west) on D4."""
    ny, nx = 100, 200
    v = np.ones((len(DATES), ny, nx), dtype=bool)
    v[2, :, :100] = False
    v[3, :, 100:] = False
    v[4, :, :20] = False
    da = xr.DataArray(v, dims=("time", "y", "x"), coords={
        "time": DATES.to_numpy(), "y": Y0 + 1000 - 5 - 10 * np.arange(ny),
        "x": X0 + 5 + 10 * np.arange(nx)})
    return da.rio.write_crs(UTM)


def regions_4326() -> gpd.GeoDataFrame:
    """West and east halves of the grid, and a north strip half outside it, in EPSG:4326."""
    return gpd.GeoDataFrame(
        {"name": ["west", "east", "north"]},
        geometry=[box(X0, Y0, X0 + 1000, Y0 + 1000), box(X0 + 1000, Y0, X0 + 2000, Y0 + 1000),
                  box(X0, Y0 + 800, X0 + 2000, Y0 + 1200)], crs=UTM).to_crs("EPSG:4326")


def cols(table: pd.DataFrame, names: str) -> list[tuple]:
    return [tuple(r) for r in table[names.split()].itertuples(index=False)]


# ------------------------------------------------------------------------ per date


def test_counts_per_date_match_hand_truth():
    table = site_timeseries(world(), valid_mask())
    assert list(table.columns) == [c for c in TIMESERIES_COLUMNS
                                   if c not in ("region", "period", "n_dates")]
    assert list(table["date"]) == list(DATES)
    # sites, pools, cleared, new, unobserved, valid_fraction
    assert cols(table, "sites pools cleared_area_m2 new_sites sites_unobserved") == [
        (3, 3, 3000.0, 3, 0),   # A(2 pools, 1000) B(1, 0) E(0, 2000 unknown)
        (3, 8, 6200.0, 0, 0),   # A(3, 1200) B(5, 3000) E(0, 2000); C held back
        (3, 8, 6200.0, 0, 1),   # A carried from D1, B(5, 3000), E(0, 2000)
        (2, 9, 4500.0, 0, 1),   # A(n_pools 2+1+1, 1500), B carried from D2; E inactive
        (2, 8, 3000.0, 1, 0),   # B(6, 3000), D new (2, 0); E unobserved after inactive
    ]
    assert table["valid_fraction"].tolist() == pytest.approx([1.0, 1.0, 0.5, 0.5, 0.9])
    # high adds C, the one-date site held back by the persistence rule (on D1 only)
    assert cols(table, "sites_high pools_high cleared_area_m2_high") == [
        (3, 3, 3000.0), (4, 9, 7000.0), (3, 8, 6200.0), (2, 9, 4500.0), (2, 8, 3000.0)]
    assert table["sites"].dtype == np.int64 and table["pools"].dtype == np.int64


def test_cloudy_date_does_not_dip_and_is_reported_unobserved():
    table = site_timeseries(world(), valid_mask()).set_index("date")
    assert table.loc[D2, "sites"] == table.loc[D1, "sites"] == 3
    assert table.loc[D2, "sites_unobserved"] == 1 and table.loc[D2, "valid_fraction"] == 0.5
    assert table.loc[D2, "pools"] == table.loc[D1, "pools"]  # A keeps its D1 pools
    # without the carry rule the cloudy date would dip: A's status there is 'unobserved'
    tracks = world()
    dropped = tracks.history[tracks.history["status"] != "unobserved"]
    no_carry = site_timeseries(Tracks(tracks.sites, dropped, tracks.pools, tracks.clearings,
                                      tracks.dates)).set_index("date")
    assert no_carry.loc[D2, "sites"] == 2 and no_carry.loc[D2, "sites_unobserved"] == 0


def test_unobserved_after_inactive_is_not_carried_and_inactive_not_counted():
    table = site_timeseries(world()).set_index("date")
    # E: inactive on D3, unobserved on D4 -> counted on neither; A inactive on D4
    assert table.loc[D4, "sites"] == 2 and table.loc[D4, "sites_unobserved"] == 0
    assert table["valid_fraction"].isna().all()  # no valid mask given


def test_only_persistent_or_provisional_sites_count():
    tracks = world()
    sites = tracks.sites.assign(persistent=False, provisional=False)
    table = site_timeseries(Tracks(sites, tracks.history, tracks.pools, tracks.clearings,
                                   tracks.dates))
    assert table["sites"].sum() == 0 and table["pools"].sum() == 0
    assert table["sites_high"].tolist() == [3, 4, 3, 2, 2]  # all detections, all sites


# ------------------------------------------------------------------------ periods


@pytest.mark.parametrize(("freq", "expected"), [
    # period, n_dates, sites, pools, cleared, new, unobserved, valid, sites_high, pools_high
    ("M", [
        ("2022-01", 2, 3, 8, 6200.0, 3, 0, 1.0, 4, 9),   # A, B, E at their last date (D1)
        ("2022-02", 1, 3, 8, 6200.0, 0, 1, 0.5, 3, 8),   # = D2; A carried on every date
        ("2022-04", 1, 2, 9, 4500.0, 0, 1, 0.5, 2, 9),   # = D3
        ("2023-01", 1, 2, 8, 3000.0, 1, 0, 0.9, 2, 8),   # = D4
    ]),
    ("quarter", [
        ("2022Q1", 3, 3, 8, 6200.0, 3, 0, 1.0, 4, 9),    # A (carried D2), B (D2), E (D2)
        ("2022Q2", 1, 2, 9, 4500.0, 0, 1, 0.5, 2, 9),
        ("2023Q1", 1, 2, 8, 3000.0, 1, 0, 0.9, 2, 8),
    ]),
    ("Y", [
        ("2022", 4, 3, 9, 6500.0, 3, 0, 1.0, 4, 10),     # A (D3: 4, 1500) B (D3 carried) E (D2)
        ("2023", 1, 2, 8, 3000.0, 1, 0, 0.9, 2, 8),
    ]),
])
def test_periods_aggregate_as_documented(freq, expected):
    table = site_timeseries(world(), valid_mask(), freq=freq)
    got = cols(table, "period n_dates sites pools cleared_area_m2 new_sites sites_unobserved "
                      "valid_fraction sites_high pools_high")
    assert got == expected
    first_days = pd.PeriodIndex([e[0] for e in expected], freq=freq[0].upper()).start_time
    assert list(table["date"]) == list(first_days)


def test_a_period_of_one_date_equals_that_date():
    per_date = site_timeseries(world(), valid_mask()).set_index("date")
    monthly = site_timeseries(world(), valid_mask(), freq="month").set_index("period")
    for period, day in (("2022-02", D2), ("2022-04", D3), ("2023-01", D4)):
        for c in per_date.columns:
            assert monthly.loc[period, c] == pytest.approx(per_date.loc[day, c]), c


def test_unknown_freq_raises():
    with pytest.raises(ConfigError, match=r"freq='W' is not supported"):
        site_timeseries(world(), freq="W")


# ------------------------------------------------------------------------ regions


def test_regions_in_another_crs_from_a_file_split_per_region(tmp_path: Path):
    path = tmp_path / "townships.gpkg"
    regions_4326().to_file(path, engine="pyogrio")
    table = site_timeseries(world(), valid_mask(), regions=path)
    assert list(table["region"][:3]) == ["west", "east", "north"]
    assert len(table) == 3 * len(DATES)
    t = table.set_index(["date", "region"])
    # west: A, D, E; east: B (and C held back); north: D (overlaps west)
    expected = {
        (D0, "west"): (2, 2, 3000.0, 2, 0), (D0, "east"): (1, 1, 0.0, 1, 0),
        (D1, "west"): (2, 3, 3200.0, 0, 0), (D1, "east"): (1, 5, 3000.0, 0, 0),
        (D2, "west"): (2, 3, 3200.0, 0, 1), (D2, "east"): (1, 5, 3000.0, 0, 0),
        (D3, "west"): (1, 4, 1500.0, 0, 0), (D3, "east"): (1, 5, 3000.0, 0, 1),
        (D4, "west"): (1, 2, 0.0, 1, 0), (D4, "east"): (1, 6, 3000.0, 0, 0),
        (D4, "north"): (1, 2, 0.0, 1, 0), (D0, "north"): (0, 0, 0.0, 0, 0),
    }
    for key, row in expected.items():
        got = tuple(t.loc[key, ["sites", "pools", "cleared_area_m2", "new_sites",
                                "sites_unobserved"]])
        assert got == row, key
    assert t.loc[(D1, "east"), "sites_high"] == 2 and t.loc[(D1, "east"), "pools_high"] == 6
    # west + east hold every site once: they add up to the AOI table
    aoi = site_timeseries(world()).set_index("date")
    halves = table[table["region"] != "north"].groupby("date")[["sites", "pools"]].sum()
    pd.testing.assert_frame_equal(halves, aoi[["sites", "pools"]])
    # valid fraction of each region; north is half outside the grid (never observed there)
    vf = t["valid_fraction"].unstack("region")[["west", "east", "north"]]
    np.testing.assert_allclose(vf.to_numpy(), [
        [1.0, 1.0, 0.5], [1.0, 1.0, 0.5], [0.0, 1.0, 0.25], [1.0, 0.0, 0.25], [0.8, 1.0, 0.45]],
        atol=1e-6)


def test_regions_dissolve_same_names_and_region_column():
    regs = regions_4326().assign(district=["Chipwi", "Chipwi", "Other"])
    table = site_timeseries(world(), regions=regs, region_column="district")
    assert table["region"].unique().tolist() == ["Chipwi", "Other"]
    t = table.set_index(["date", "region"])
    assert t.loc[(D1, "Chipwi"), "sites"] == 3  # west + east


def test_regions_that_miss_the_sites_raise():
    far = gpd.GeoDataFrame({"name": ["elsewhere"]}, geometry=[box(10, 10, 11, 11)],
                           crs="EPSG:4326")
    with pytest.raises(InputError, match=r"regions \(bounds .* EPSG:4326\) do not overlap the "
                                         r"sites"):
        site_timeseries(world(), valid_mask(), regions=far)


def test_region_layer_problems_raise(tmp_path: Path):
    bare = regions_4326().set_crs(None, allow_override=True)
    with pytest.raises(InputError, match="have no CRS"):
        site_timeseries(world(), regions=bare)
    with pytest.raises(InputError, match="have no column 'district'"):
        site_timeseries(world(), regions=regions_4326(), region_column="district")
    points = gpd.GeoDataFrame({"name": ["p"]}, geometry=[at(0, 0)], crs=UTM)
    with pytest.raises(InputError, match="must be polygons"):
        site_timeseries(world(), regions=points)
    with pytest.raises(InputError, match="could not be read"):
        site_timeseries(world(), regions=tmp_path / "missing.gpkg")


# ------------------------------------------------------------------------ band


@pytest.mark.parametrize("freq", [None, "M", "Q", "Y"])
def test_low_value_high_always_ordered(freq):
    rng = np.random.default_rng(7)
    tracks = world()
    pools = tracks.pools.assign(confidence=rng.uniform(0.0, 1.0, len(tracks.pools)))
    tracks = Tracks(tracks.sites, tracks.history, pools, tracks.clearings, tracks.dates)
    for regions in (None, regions_4326()):
        table = site_timeseries(tracks, valid_mask(), regions=regions, freq=freq, n_draws=300)
        for name in ("sites", "pools", "cleared_area_m2"):
            assert (table[f"{name}_low"] <= table[name]).all(), name
            assert (table[name] <= table[f"{name}_high"]).all(), name
        assert (table["sites_unobserved"] <= table["sites"]).all()
        assert (table["new_sites"] <= table["sites"]).all()


def test_certain_pools_low_drops_only_the_unknown_clearing_site():
    table = site_timeseries(world(confidence=1.0))
    # E (S0005) has only an 'unknown' clearing: never real in the draws (D0–D2)
    assert table["sites_low"].tolist() == [2, 2, 2, 2, 2]
    assert table["pools_low"].tolist() == table["pools"].tolist()
    assert table["cleared_area_m2_low"].tolist() == [1000.0, 4200.0, 4200.0, 4500.0, 3000.0]


def _one_site(confidences: list[float]) -> Tracks:
    sites = gpd.GeoDataFrame({"site_id": ["S0001"], "first_seen": [D0], "persistent": [True],
                              "provisional": [False]}, geometry=[at(0, 0).buffer(30)], crs=UTM)
    history = pd.DataFrame({"site_id": ["S0001"], "date": [D0], "status": ["new"]})
    pools = pd.DataFrame({"site_id": "S0001", "date": D0, "confidence": confidences})
    clearings = pd.DataFrame({"site_id": pd.Series(dtype=object), "date": pd.Series(
        dtype="datetime64[ns]"), "area_m2": pd.Series(dtype=float)})
    return Tracks(sites, history, pools, clearings, [D0])


def test_monte_carlo_quantiles_match_the_binomial():
    # 10 pools at 0.5: pools ~ Binomial(10, 0.5), P(X <= 1) = 0.011, P(X <= 2) = 0.055
    row = site_timeseries(_one_site([0.5] * 10), n_draws=20000).iloc[0]
    assert (row["pools"], row["pools_low"], row["pools_high"]) == (10, 2, 10)
    assert row["sites_low"] == 1  # P(no real pool) = 0.001
    # one pool at 0.9: the site is not real with probability 0.1 > 0.05 -> low 0
    assert site_timeseries(_one_site([0.9]), n_draws=5000).iloc[0]["sites_low"] == 0
    # two pools at 0.9: not real with probability 0.01 < 0.05 -> low 1
    assert site_timeseries(_one_site([0.9, 0.9]), n_draws=5000).iloc[0]["sites_low"] == 1
    # level 0.5: the 25th percentile of Binomial(10, 0.5) is 4
    assert site_timeseries(_one_site([0.5] * 10), n_draws=20000, level=0.5).iloc[0][
        "pools_low"] == 4


def test_same_inputs_same_outputs_and_row_order_does_not_matter():
    rng = np.random.default_rng(3)
    tracks = world()
    pools = tracks.pools.assign(confidence=rng.uniform(0.3, 1.0, len(tracks.pools)))
    tracks = Tracks(tracks.sites, tracks.history, pools, tracks.clearings, tracks.dates)
    a = site_timeseries(tracks, valid_mask(), freq="M", n_draws=400)
    b = site_timeseries(tracks, valid_mask(), freq="M", n_draws=400)
    pd.testing.assert_frame_equal(a, b)
    shuffled = Tracks(tracks.sites.iloc[::-1], tracks.history.sample(frac=1, random_state=1),
                      pools.sample(frac=1, random_state=2),
                      tracks.clearings.sample(frac=1, random_state=3), tracks.dates[::-1])
    pd.testing.assert_frame_equal(a, site_timeseries(shuffled, valid_mask(), freq="M",
                                                     n_draws=400))
    assert a.attrs["seed"] == 0 and a.attrs["n_draws"] == 400


def test_band_options_are_checked():
    with pytest.raises(ConfigError, match="n_draws=0"):
        site_timeseries(world(), n_draws=0)
    with pytest.raises(ConfigError, match=r"level=1\.5"):
        site_timeseries(world(), level=1.5)


# ------------------------------------------------------------------------ input errors


def test_tracks_problems_raise():
    tracks = world()
    with pytest.raises(InputError, match=r"tracks has no \.history"):
        site_timeseries(object())
    bad = tracks.history.assign(status="gone")
    with pytest.raises(InputError, match=r"status holds \['gone'\]"):
        site_timeseries(Tracks(tracks.sites, bad, tracks.pools, tracks.clearings,
                               tracks.dates))
    with pytest.raises(InputError, match=r"history has dates not in tracks\.dates"):
        site_timeseries(Tracks(tracks.sites, tracks.history, tracks.pools, tracks.clearings,
                               tracks.dates[:4]))
    with pytest.raises(InputError, match=r"confidence must be a number in 0–1"):
        site_timeseries(Tracks(tracks.sites, tracks.history, tracks.pools.assign(
            confidence=1.5), tracks.clearings, tracks.dates))
    with pytest.raises(InputError, match=r"tracks.sites has no column\(s\) \['persistent'\]"):
        site_timeseries(Tracks(tracks.sites.drop(columns="persistent"), tracks.history,
                               tracks.pools, tracks.clearings, tracks.dates))


def test_valid_problems_raise():
    with pytest.raises(InputError, match=r"valid.time and tracks.dates differ: missing from "
                                         r"valid \['2023-01-05'\]"):
        site_timeseries(world(), valid_mask().isel(time=slice(0, 4)))
    with pytest.raises(InputError, match="expected bool"):
        site_timeseries(world(), valid_mask().astype(float))
    with pytest.raises(InputError, match=r"expected an xarray\.DataArray"):
        site_timeseries(world(), np.ones((5, 2, 2), dtype=bool))


def test_no_sites_gives_zero_rows_for_every_date():
    tracks = world()
    empty = Tracks(tracks.sites.iloc[:0], tracks.history.iloc[:0], tracks.pools.iloc[:0],
                   tracks.clearings.iloc[:0], tracks.dates)
    table = site_timeseries(empty, valid_mask(), freq="Y")
    assert table["sites"].tolist() == [0, 0] and table["pools_high"].tolist() == [0, 0]
    assert table["valid_fraction"].tolist() == pytest.approx([1.0, 0.9])


# ------------------------------------------------------------------------ Dataset


def test_to_dataset_round_trip_with_regions_and_periods():
    table = site_timeseries(world(), valid_mask(), regions=regions_4326(), freq="Q")
    ds = to_dataset(table)
    assert ds["sites"].dims == ("time", "region") and ds["period"].dims == ("time",)
    assert ds.sizes["time"] == 3 and list(ds["region"].values) == ["west", "east", "north"]
    assert ds["cleared_area_m2_high"].attrs["units"] == "m2"
    assert ds["sites"].attrs["units"] == "count" and ds["valid_fraction"].attrs["units"] == "1"
    assert ds.attrs["seed"] == 0 and ds.attrs["freq"] == "Q"
    assert int(ds["pools"].sel(time="2022-01-01", region="west")) == 3
    back = ds.to_dataframe().reset_index().rename(columns={"time": "date"})
    back = back[list(table.columns)].sort_values(["date", "region"]).reset_index(drop=True)
    expected = table.sort_values(["date", "region"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(back, expected, check_dtype=False)
    assert back["sites"].dtype == np.int64


def test_to_dataset_from_csv_per_date(tmp_path: Path):
    table = site_timeseries(world(), valid_mask())
    path = tmp_path / "timeseries.csv"
    table.to_csv(path, index=False)
    ds = to_dataset(pd.read_csv(path))
    assert ds["sites"].dims == ("time",)
    np.testing.assert_array_equal(ds["time"].values, DATES.to_numpy())
    np.testing.assert_array_equal(ds["sites"].values, table["sites"].to_numpy())


def test_to_dataset_problems_raise():
    with pytest.raises(InputError, match="has no 'date' column"):
        to_dataset(pd.DataFrame({"sites": [1]}))
    dup = pd.DataFrame({"date": [D0, D0], "region": ["a", "a"], "sites": [1, 2]})
    with pytest.raises(InputError, match="more than one row for 2022-01-10 region 'a'"):
        to_dataset(dup)
    with pytest.raises(InputError, match="expected the DataFrame"):
        to_dataset([1, 2])


def test_sites_in_a_geographic_crs_split_the_same_without_warning():
    tracks = world()
    geographic = Tracks(tracks.sites.to_crs("EPSG:4326"), tracks.history, tracks.pools,
                        tracks.clearings, tracks.dates)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = site_timeseries(geographic, regions=regions_4326())
    pd.testing.assert_frame_equal(got, site_timeseries(tracks, regions=regions_4326()))


# ------------------------------------------------------------------------ random worlds


def _naive(tracks: Tracks, freq: str | None) -> pd.DataFrame:
    """Reference: the documented rules as plain loops (no low band)."""
    dates = sorted(tracks.dates)
    unit = {d: (d if freq is None else pd.Period(d, freq=freq)) for d in dates}
    eligible = {r.site_id: bool(r.persistent or r.provisional)
                for r in tracks.sites.itertuples()}
    first = dict(zip(tracks.sites["site_id"], tracks.sites["first_seen"], strict=True))
    pools = {k: g["n_pools"].sum() for k, g in tracks.pools.groupby(["site_id", "date"])}
    clear = {k: g["area_m2"].sum() for k, g in tracks.clearings.groupby(["site_id", "date"])}
    # per site and unit: the rows present, in date order
    present: dict[tuple, list] = {}
    for sid, h in tracks.history.sort_values("date").groupby("site_id"):
        last_obs = None
        for r in h.itertuples():
            if r.status != "unobserved":
                last_obs = (r.date, r.status)
            if last_obs is None or last_obs[1] not in ("new", "active", "expanded"):
                continue
            present.setdefault((sid, unit[r.date]), []).append(
                (r.date, last_obs[0], r.status == "unobserved"))
    rows = []
    for u in dict.fromkeys(unit.values()):
        out = dict.fromkeys(("sites", "pools", "cleared_area_m2", "new_sites",
                             "sites_unobserved", "sites_high", "pools_high",
                             "cleared_area_m2_high"), 0)
        for (sid, uu), items in present.items():
            if uu != u:
                continue
            src = items[-1][1]
            p, c = pools.get((sid, src), 0), clear.get((sid, src), 0.0)
            out["sites_high"] += 1
            out["pools_high"] += p
            out["cleared_area_m2_high"] += c
            if eligible[sid]:
                out["sites"] += 1
                out["pools"] += p
                out["cleared_area_m2"] += c
                out["new_sites"] += int(unit.get(first[sid]) == u)
                out["sites_unobserved"] += int(all(it[2] for it in items))
        rows.append(out)
    return pd.DataFrame(rows)


@st.composite
def random_tracks(draw) -> Tracks:
    n_dates = draw(st.integers(1, 6))
    days = sorted(draw(st.lists(st.integers(0, 700), min_size=n_dates, max_size=n_dates,
                                unique=True)))
    dates = [pd.Timestamp("2021-01-01") + pd.Timedelta(days=d) for d in days]
    n_sites = draw(st.integers(0, 6))
    sites, history, prow, crow = [], [], [], []
    for i in range(n_sites):
        sid = f"S{i + 1:04d}"
        start = draw(st.integers(0, n_dates - 1))
        later = draw(st.lists(st.sampled_from(["active", "expanded", "inactive", "unobserved"]),
                              min_size=n_dates - 1 - start, max_size=n_dates - 1 - start))
        statuses = ["new", *later]
        flag = draw(st.sampled_from(["persistent", "provisional", "neither"]))
        sites.append({"site_id": sid, "first_seen": dates[start],
                      "persistent": flag == "persistent", "provisional": flag == "provisional",
                      "geometry": Point(X0 + 100 * i, Y0).buffer(20)})
        for d, s in zip(dates[start:], statuses, strict=True):
            history.append({"site_id": sid, "date": d, "status": s})
            if s in ("new", "active", "expanded"):
                for _ in range(draw(st.integers(0, 3))):
                    prow.append({"site_id": sid, "date": d, "n_pools": draw(st.integers(1, 3)),
                                 "confidence": draw(st.floats(0.0, 1.0))})
                for _ in range(draw(st.integers(0, 2))):
                    crow.append({"site_id": sid, "date": d,
                                 "kind": draw(st.sampled_from(["mining", "unknown"])),
                                 "area_m2": float(draw(st.integers(100, 5000)))})
    empty = {"site_id": pd.Series(dtype=object), "date": pd.Series(dtype="datetime64[ns]")}
    return Tracks(
        sites=gpd.GeoDataFrame(sites or {"site_id": [], "first_seen": [], "persistent": [],
                                         "provisional": []},
                               geometry=None if sites else [], crs=UTM),
        history=pd.DataFrame(history or {**empty, "status": pd.Series(dtype=object)}),
        pools=pd.DataFrame(prow or {**empty, "n_pools": pd.Series(dtype=int),
                                    "confidence": pd.Series(dtype=float)}),
        clearings=pd.DataFrame(crow or {**empty, "kind": pd.Series(dtype=object),
                                        "area_m2": pd.Series(dtype=float)}),
        dates=dates)


@settings(max_examples=40, deadline=None)
@given(tracks=random_tracks(), freq=st.sampled_from([None, "M", "Q", "Y"]))
def test_random_worlds_follow_the_documented_rules(tracks, freq):
    table = site_timeseries(tracks, freq=freq, n_draws=50)
    expected = _naive(tracks, freq)
    for c in expected.columns:
        np.testing.assert_allclose(table[c].to_numpy(dtype=float),
                                   expected[c].to_numpy(dtype=float), err_msg=c)
    for name in ("sites", "pools", "cleared_area_m2"):
        assert (table[f"{name}_low"] <= table[name]).all()
        assert (table[name] <= table[f"{name}_high"]).all()
    assert (table["sites_unobserved"] <= table["sites"]).all()


# ------------------------------------------------------------------------ with track_sites


def test_end_to_end_with_track_sites():
    from minewatch.sites import track_sites

    # A: 3 pools + a mining clearing, clouded on D2; B: 2 pools; C: a one-date false alarm on
    # D1; D: first seen on the last date (provisional). 3 m-like: one pool per object.
    dates = DATES[:4]
    layout = {"A": [(100, 500), (150, 500), (200, 500)], "B": [(1500, 500), (1550, 500)],
              "C": [(1800, 100)], "D": [(700, 900)]}
    seen = {"A": [0, 1, 3], "B": [0, 1, 2, 3], "C": [1], "D": [3]}
    conf = {"A": 0.9, "B": 0.8, "C": 0.55, "D": 0.7}
    prow = [{"date": dates[t], "area_m2": 60.0, "n_pools": 1, "confidence": conf[k],
             "geometry": at(x, y).buffer(4)}
            for k, pts in layout.items() for t in seen[k] for x, y in pts]
    pools = gpd.GeoDataFrame(prow, geometry="geometry", crs=UTM)
    clearings = gpd.GeoDataFrame(
        [{"date": dates[t], "kind": "mining", "area_m2": 2500.0,
          "geometry": box(X0 + 90, Y0 + 470, X0 + 210, Y0 + 530)} for t in (0, 1, 3)]
        + [{"date": dates[0], "kind": "agriculture", "area_m2": 9e4,
            "geometry": box(X0 + 1000, Y0 + 50, X0 + 1300, Y0 + 350)}],
        geometry="geometry", crs=UTM)
    valid = valid_mask().isel(time=slice(0, 4))
    valid[2:] = True
    valid[2, :, :50] = False  # west 500 m clouded on D2: A unobserved, B seen
    tracks = track_sites(pools, clearings, valid=valid)
    by_id = tracks.history.merge(tracks.sites[["site_id", "persistent", "provisional"]])
    assert sorted(tracks.history.loc[tracks.history["date"] == dates[2], "status"]) == [
        "active", "inactive", "unobserved"]  # B, C, A

    table = site_timeseries(tracks, valid)
    assert cols(table, "sites sites_unobserved pools cleared_area_m2 new_sites") == [
        (2, 0, 5, 2500.0, 2), (2, 0, 5, 2500.0, 0), (2, 1, 5, 2500.0, 0),
        (3, 0, 6, 2500.0, 1)]
    assert table["sites_high"].tolist() == [2, 3, 2, 3]  # C on D1 only
    assert table["valid_fraction"].tolist() == pytest.approx([1.0, 1.0, 0.75, 1.0])
    # on observed dates the counts agree with the tracker's own history
    counted = by_id[(by_id["persistent"] | by_id["provisional"])
                    & by_id["status"].isin(["new", "active", "expanded"])]
    per_date = counted.groupby("date")[["n_pools", "cleared_area_m2"]].sum()
    for d in (dates[0], dates[1], dates[3]):
        row = table.set_index("date").loc[d]
        assert row["pools"] == per_date.loc[d, "n_pools"]
        assert row["cleared_area_m2"] == per_date.loc[d, "cleared_area_m2"]
    # regions: the per-region split matches the tracker's own region of each site
    regs = regions_4326()
    tracks_r = track_sites(pools, clearings, valid=valid, regions=regs)
    split = site_timeseries(tracks_r, valid, regions=regs[regs["name"] != "north"])
    assert split.groupby("date")["sites"].sum().tolist() == table["sites"].tolist()
    region_of = dict(zip(tracks_r.sites["site_id"], tracks_r.sites["region"], strict=True))
    west = split[split["region"] == "west"].set_index("date")
    assert region_of["S0001"] == "west" and west.loc[dates[2], "sites_unobserved"] == 1
    ds = to_dataset(site_timeseries(tracks_r, valid, regions=regs, freq="Y"))
    assert ds["sites"].sel(region="west").values.tolist() == [2]  # A and D in 2022


def test_a_partly_clouded_site_keeps_its_hidden_pools_in_the_counts():
    """Through track_sites: a site of 12 pools whose western half (6 pools, confidence 0.02,
    and a 50 m × 30 m mining clearing) is clouded on the 2nd and 3rd date; one eastern pool
    is truly gone from the 2nd date on. A second site (2 pools) is wholly clouded on the 2nd
    date. The hidden pools are counted (and said to be carried), with their own confidence
    in the band; the gone one is not."""
    from minewatch.sites import track_sites

    dates = pd.to_datetime(["2021-01-01", "2021-06-01", "2021-09-01", "2022-01-01"])
    west = [(x, y) for x in (0, 30, 60) for y in (0, 40)]
    east = [(x, y) for x in (110, 140, 170) for y in (0, 40)]
    other = [(600, 0), (630, 0)]
    rows, crow = [], []
    for t, day in enumerate(dates):
        seen = ((west if t in (0, 3) else []) + [p for p in east if t == 0 or p != (170, 0)]
                + (other if t != 1 else []))
        rows += [{"date": day, "area_m2": 100.0, "confidence": 0.02 if (x, y) in west else 1.0,
                  "geometry": box(X0 + x, Y0 + y, X0 + x + 10, Y0 + y + 10)} for x, y in seen]
        if t in (0, 3):
            crow.append({"date": day, "kind": "mining", "area_m2": 1500.0,
                         "geometry": box(X0, Y0 + 60, X0 + 50, Y0 + 90)})
    pools = gpd.GeoDataFrame(rows, geometry="geometry", crs=UTM)
    clearings = gpd.GeoDataFrame(crow, geometry="geometry", crs=UTM)
    xs = X0 - 100 + 1 + 2 * np.arange(450)
    ys = Y0 + 200 - 1 - 2 * np.arange(200)
    v = np.ones((4, len(ys), len(xs)), dtype=bool)
    v[1:3, :, xs - X0 < 90] = False  # the western half of the big site
    v[1, :, (xs - X0 > 550) & (xs - X0 < 700)] = False  # all of the small one
    valid = xr.DataArray(v, dims=("time", "y", "x"),
                         coords={"time": dates, "y": ys, "x": xs}).rio.write_crs(UTM)
    tracks = track_sites(pools, clearings, valid=valid)
    assert tracks.history.groupby("date")["n_pools_carried"].sum().tolist() == [0, 6, 6, 0]

    table = site_timeseries(tracks, valid)
    assert cols(table, "sites sites_unobserved pools pools_carried") == [
        (2, 0, 14, 0), (2, 1, 13, 6 + 2), (2, 0, 13, 6), (2, 0, 13, 0)]
    assert table["cleared_area_m2"].tolist() == [1500.0] * 4
    assert table["cleared_area_m2_carried"].tolist() == [0.0, 1500.0, 1500.0, 0.0]
    # the carried pools keep their confidence (0.02): the low end counts only the sure ones
    assert table["pools_low"].tolist() == [6 + 2, 5 + 2, 5 + 2, 5 + 2]
    assert (table["pools_high"] == table["pools"]).all()
    # a year: each site's pools on its last counted date (2021-09-01: 6 of them carried)
    year = site_timeseries(tracks, valid, freq="Y")
    assert cols(year, "period pools pools_carried") == [("2021", 13, 6), ("2022", 13, 0)]


def test_sites_and_pools_born_under_cloud_are_back_filled_by_their_share_of_the_spell():
    """Through track_sites, three dates (90 and 30 days apart). Site A (pools at x 0, 30 and
    90 m) is seen on every date, its east end (x 50–120 m) under cloud on the 2nd date; a
    new pool at x 60 m appears there, first seen on the 3rd date. Site B (2 pools at x 400 m)
    is first seen on the 3rd date, its place clear and empty on the 1st and clouded on the
    2nd. Site C (x 800 m) is first seen on the 3rd date, its place clouded on both earlier
    dates. Born some time between the 1st and 3rd date, B and A's new pool were there on the
    2nd with probability 90 / 120 = 0.75; C's birth has no lower bound: upper band only."""
    from minewatch.sites import track_sites

    dates = pd.to_datetime(["2022-01-01", "2022-04-01", "2022-05-01"])
    seen = {(0, 0): (0, 1, 2), (30, 0): (0, 1, 2), (90, 0): (0, 1, 2), (60, 0): (2,),
            (400, 0): (2,), (430, 0): (2,), (800, 0): (2,)}
    rows = [{"date": dates[t], "area_m2": 100.0, "confidence": 1.0,
             "geometry": box(X0 + x, Y0 + y, X0 + x + 10, Y0 + y + 10)}
            for (x, y), ts in seen.items() for t in ts]
    # A's pool at x 90 m is under the 2nd date's cloud: not detected then
    rows = [r for r in rows if not (r["date"] == dates[1] and r["geometry"].bounds[0] > X0 + 50)]
    pools = gpd.GeoDataFrame(rows, geometry="geometry", crs=UTM)
    xs = X0 - 100 + 1 + 2 * np.arange(550)
    ys = Y0 + 100 - 1 - 2 * np.arange(100)
    v = np.ones((3, len(ys), len(xs)), dtype=bool)
    v[1, :, (xs - X0 > 50) & (xs - X0 < 120)] = False    # A's east end
    v[1, :, (xs - X0 > 380) & (xs - X0 < 460)] = False   # B
    v[:2, :, (xs - X0 > 780) & (xs - X0 < 840)] = False  # C, on both earlier dates
    valid = xr.DataArray(v, dims=("time", "y", "x"),
                         coords={"time": dates, "y": ys, "x": xs}).rio.write_crs(UTM)
    tracks = track_sites(pools, valid=valid)
    assert tracks.sites["first_seen"].tolist() == [dates[0], dates[2], dates[2]]

    table = site_timeseries(tracks, valid)
    assert table["sites_backfilled"].tolist() == pytest.approx([0.0, 0.75, 0.0])
    # A: 2 seen + 1 carried + 0.75 of its new pool; B: 0.75 of its 2 pools
    assert table["pools_backfilled"].tolist() == pytest.approx([0.0, 0.75 + 1.5, 0.0])
    assert cols(table, "sites pools pools_carried") == [(1, 3, 0), (2, 5, 1), (3, 7, 0)]
    # the upper band: every birth that may have been there (B, C, A's pool) counted whole
    assert cols(table, "sites_high pools_high") == [(2, 4), (3, 7), (3, 7)]
    assert (table["sites_low"] <= table["sites"]).all()
    # per region (B lies in the west half): the same shares, in the site's region
    split = site_timeseries(tracks, valid, regions=regions_4326().iloc[:2])
    assert split.groupby("date")["sites_backfilled"].sum().tolist() == pytest.approx(
        table["sites_backfilled"].tolist())
    west = split[split["region"] == "west"].set_index("date")
    assert west.loc[dates[1], "sites_backfilled"] == pytest.approx(0.75)
    assert to_dataset(split)["pools_backfilled"].attrs["units"] == "count"
    # without a valid mask nothing is known of the spells: no back-fill
    plain = site_timeseries(tracks)
    assert plain["sites_backfilled"].tolist() == [0.0] * 3
    assert plain["sites"].tolist() == [1, 1, 3]
    # a period holding the date a site is first seen on counts it there already
    year = site_timeseries(tracks, valid, freq="Y")
    assert cols(year, "sites sites_backfilled") == [(3, 0.0)]


def test_back_fill_reads_a_valid_mask_with_other_spatial_dim_names():
    """The mask's spatial dims may have other names (rioxarray knows them): same shares."""
    tracks = world()
    v = valid_mask()
    v[3] = False  # D3 wholly clouded: D (first seen on D4) was hidden on D2 and D3
    renamed = v.rename({"y": "northing", "x": "easting"}).rio.set_spatial_dims(
        x_dim="easting", y_dim="northing")
    a, b = site_timeseries(tracks, v), site_timeseries(tracks, renamed)
    pd.testing.assert_frame_equal(a, b)
    # D: hidden on D2 (west half clouded) and D3, observed and absent on D1
    span = (D4 - D1).days
    assert a["sites_backfilled"].tolist() == pytest.approx(
        [0, 0, round((D2 - D1).days / span, 3), round((D3 - D1).days / span, 3), 0])
    assert "uniform" in a.attrs["backfill"]
    assert site_timeseries(tracks).attrs["backfill"].startswith("not applied")
