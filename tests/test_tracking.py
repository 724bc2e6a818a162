"""Tests of minewatch.sites.track_sites: stable site IDs, statuses and events over dates.

The hand-built world (``world()``): 10 m square pools in UTM 47N over six dates D0–D5, and a
``valid`` mask on a 3 km × 2 km grid at 10 m. Every site's story is set by construction:

====== ===== ========================================================================
site   first story
====== ===== ========================================================================
S0001  D0    A: 3 pools; under cloud on D2 (unobserved); 5 pools from D3 (expanded)
S0002  D0    B: 2 pools + a mining clearing; a bridging pool on D3 merges C into it
S0003  D0    D: a chain of 5 pools; on D2 the 4th pool goes and it splits in two
S0004  D0    E: 2 pools; absent (observed) on D2: inactive, back on D3 with its ID
S0005  D1    C: 2 pools, 250 m east of B; merged into B on D3 (B is older)
S0006  D1    F: one pool on D1 only: a one-date false alarm
S0007  D2    D': the piece split off D on D2 (the smaller one)
S0008  D4    H: seen on D4, under cloud on D5: provisional
S0009  D5    G: seen on the last date only: provisional
====== ===== ========================================================================

IDs are numbered by first date, then north to south, then west to east, which the
positions below make unambiguous (A y=1600, B 1500, D 1400, E 500; C 1500, F 500).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rioxarray  # noqa: F401  (registers .rio)
import xarray as xr
from affine import Affine
from shapely.geometry import box

from minewatch.config._sites import SiteConfig
from minewatch.errors import ConfigError, DateError, InputError, MissingCRSError
from minewatch.sites import (
    EVENT_COLUMNS,
    HISTORY_COLUMNS,
    STATUSES,
    TRACK_COLUMNS,
    SiteTracks,
    track_sites,
)

UTM = "EPSG:32647"
X0, Y0 = 430000.0, 2829000.0  # south-west corner of the grid, near Pang War
RES = 10.0
WIDTH_M, HEIGHT_M = 3000.0, 2000.0
DATES = pd.to_datetime(["2021-01-10", "2021-03-05", "2021-11-20", "2022-01-15",
                        "2022-12-01", "2023-02-10"])
D0, D1, D2, D3, D4, D5 = DATES

A = [(300, 1600), (340, 1600), (300, 1640)]
A5 = [*A, (340, 1640), (380, 1620)]
B = [(1000, 1500), (1040, 1500)]
C = [(1300, 1500), (1340, 1500)]
BRIDGE = [(1170, 1500)]
D_FULL = [(2000, 1400), (2040, 1400), (2080, 1400), (2200, 1400), (2300, 1400)]
D_SPLIT = [(2000, 1400), (2040, 1400), (2080, 1400), (2300, 1400)]
E = [(502, 502), (542, 502)]  # off the pixel-centre lines (10 m grid, centres at 5 + 10k)
F = [(1500, 500)]
G = [(2500, 500)]
H = [(2500, 1000), (2530, 1000)]

# date index -> list of (label, pool offsets)
SCENE = {
    0: [("A", A), ("B", B), ("D", D_FULL), ("E", E)],
    1: [("A", A), ("B", B), ("C", C), ("D", D_FULL), ("E", E), ("F", F)],
    2: [("B", B), ("C", C), ("D", D_SPLIT)],  # A under cloud, E absent though observed
    3: [("A", A5), ("B", B + BRIDGE + C), ("D", D_SPLIT), ("E", E)],
    4: [("A", A5), ("B", B + BRIDGE + C), ("D", D_SPLIT), ("E", E), ("H", H)],
    5: [("A", A5), ("B", B + BRIDGE + C), ("D", D_SPLIT), ("E", E), ("G", G)],  # H clouded
}
CLOUDS = {2: [box(200, 1500, 450, 1750)], 5: [box(2400, 900, 2650, 1100)]}
CLEARING_B = box(990, 1480, 1060, 1530)  # mining, 70 m × 50 m, with B on every date B is seen
FARM = box(360, 1700, 420, 1760)  # agriculture near A: must stay out of sites

STATUS = {  # expected status per date D0..D5 (None: no row)
    "S0001": ["new", "active", "unobserved", "expanded", "active", "active"],
    "S0002": ["new", "active", "active", "active", "active", "active"],
    "S0003": ["new", "active", "active", "active", "active", "active"],
    "S0004": ["new", "active", "inactive", "active", "active", "active"],
    "S0005": [None, "new", "active", None, None, None],
    "S0006": [None, "new", "inactive", "inactive", "inactive", "inactive"],
    "S0007": [None, None, "new", "active", "active", "active"],
    "S0008": [None, None, None, None, "new", "unobserved"],
    "S0009": [None, None, None, None, None, "new"],
}
# label of the pool's story -> site ID, per date where it differs from the default
LABEL_ID = {"A": "S0001", "B": "S0002", "C": "S0005", "D": "S0003", "E": "S0004",
            "F": "S0006", "H": "S0008", "G": "S0009"}


def square(x, y, size=10.0):
    return box(X0 + x, Y0 + y, X0 + x + size, Y0 + y + size)


def shift(geom):
    from shapely import affinity

    return affinity.translate(geom, X0, Y0)


def expected_pool_id(label, t, x):
    if label == "B" and t >= 3:
        return "S0002"  # C and the bridge belong to B after the merge
    if label == "D" and t >= 2 and x == 2300:
        return "S0007"
    return LABEL_ID[label]


def world(date_format=None):
    """Pools, clearings and valid of the hand-built world (see module docstring)."""
    rows = []
    for t, stories in SCENE.items():
        for label, offsets in stories:
            for x, y in offsets:
                rows.append({"date": DATES[t], "label": label, "x": x, "y": y,
                             "expect": expected_pool_id(label, t, x), "area_m2": 100.0,
                             "confidence": 0.9, "geometry": square(x, y)})
    pools = gpd.GeoDataFrame(rows, geometry="geometry", crs=UTM)
    pools["tag"] = np.arange(len(pools))
    crow = []
    for t, stories in SCENE.items():
        if any(label == "B" for label, _ in stories):
            crow.append({"date": DATES[t], "kind": "mining", "area_m2": CLEARING_B.area,
                         "geometry": shift(CLEARING_B)})
        crow.append({"date": DATES[t], "kind": "agriculture", "area_m2": FARM.area,
                     "geometry": shift(FARM)})
    clearings = gpd.GeoDataFrame(crow, geometry="geometry", crs=UTM)
    if date_format is not None:
        pools["date"] = pools["date"].dt.strftime(date_format)
        clearings["date"] = clearings["date"].dt.strftime(date_format)
    return pools, clearings, valid_mask()


def valid_mask(clouds=CLOUDS, dates=DATES):
    ny, nx = int(HEIGHT_M / RES), int(WIDTH_M / RES)
    xs = X0 + (np.arange(nx) + 0.5) * RES
    ys = Y0 + HEIGHT_M - (np.arange(ny) + 0.5) * RES
    gx, gy = np.meshgrid(xs - X0, ys - Y0)
    data = np.ones((len(dates), ny, nx), dtype=bool)
    for t, boxes in clouds.items():
        for b in boxes:
            x0, y0, x1, y1 = b.bounds
            data[t] &= ~((gx >= x0) & (gx < x1) & (gy >= y0) & (gy < y1))
    da = xr.DataArray(data, dims=("time", "y", "x"),
                      coords={"time": pd.DatetimeIndex(dates), "y": ys, "x": xs}, name="valid")
    transform = Affine(RES, 0, X0, 0, -RES, Y0 + HEIGHT_M)
    return da.rio.write_crs(UTM).rio.write_transform(transform)


@pytest.fixture(scope="module")
def tracks():
    pools, clearings, valid = world()
    return track_sites(pools, clearings, valid=valid)


def status_table(history):
    table = history.pivot(index="site_id", columns="date", values="status")
    table = table.reindex(columns=DATES)
    return {sid: [None if pd.isna(v) else v for v in row] for sid, row in
            zip(table.index, table.to_numpy().tolist(), strict=True)}


# --------------------------------------------------------------------------- the world


def test_result_shape_and_columns(tracks):
    assert isinstance(tracks, SiteTracks)
    assert list(tracks.sites.columns) == list(TRACK_COLUMNS)
    assert list(tracks.history.columns) == list(HISTORY_COLUMNS)
    assert list(tracks.events.columns) == list(EVENT_COLUMNS)
    assert tracks.dates == list(DATES)
    assert tracks.sites.crs.to_epsg() == 32647
    assert set(tracks.history["status"]) <= set(STATUSES)
    assert tracks.history["date"].dtype == "datetime64[ns]"
    assert tracks.sites["first_seen"].dtype == "datetime64[ns]"


def test_ids_and_statuses_per_date(tracks):
    assert list(tracks.sites["site_id"]) == [f"S{i:04d}" for i in range(1, 10)]
    assert status_table(tracks.history) == STATUS


def test_every_pool_gets_its_sites_id(tracks):
    pools = tracks.pools
    assert (pools["site_id"] == pools["expect"]).all(), \
        pools.loc[pools["site_id"] != pools["expect"], ["date", "label", "x", "site_id"]]
    assert pools["date"].dtype == "datetime64[ns]"


def test_clearings_join_only_by_kind(tracks):
    cl = tracks.clearings
    assert set(cl.loc[cl["kind"] == "mining", "site_id"]) == {"S0002"}
    assert cl.loc[cl["kind"] == "agriculture", "site_id"].isna().all()
    b = tracks.history[tracks.history["site_id"] == "S0002"].set_index("date")
    assert (b["cleared_area_m2"] == CLEARING_B.area).all()
    # A's story is untouched by the farm field 60 m from it
    a = tracks.history[tracks.history["site_id"] == "S0001"].set_index("date")
    assert a.loc[D0, "cleared_area_m2"] == 0.0


def test_merge_keeps_the_oldest_id_and_is_recorded(tracks):
    ev = tracks.events
    merge = ev[ev["kind"] == "merge"]
    assert len(merge) == 1
    assert merge.iloc[0][["date", "site_id", "other_ids"]].tolist() == [D3, "S0002", "S0005"]
    s = tracks.sites.set_index("site_id")
    assert s.loc["S0005", "merged_into"] == "S0002"
    assert s.loc["S0005", "last_seen"] == D2 and s.loc["S0005", "status_last"] == "active"
    assert s.loc["S0002", "merged_into"] is None
    h = tracks.history.set_index(["site_id", "date"])
    # B + bridge + C: 5 pools against 2 + 2 before: not past 1.25 ×, so active
    assert h.loc[("S0002", D3), "n_pools"] == 5
    assert s.loc["S0002", "n_pools_max"] == 5


def test_split_largest_keeps_the_id_and_is_recorded(tracks):
    ev = tracks.events
    split = ev[ev["kind"] == "split"]
    assert split[["date", "site_id", "other_ids"]].to_numpy().tolist() == [
        [D2, "S0003", "S0007"]]
    h = tracks.history.set_index(["site_id", "date"])
    assert h.loc[("S0003", D2), "n_pools"] == 3
    assert h.loc[("S0007", D2), "n_pools"] == 1
    assert tracks.sites.set_index("site_id").loc["S0007", "first_seen"] == D2


def test_cloudy_date_is_unobserved_not_inactive_and_the_id_persists(tracks):
    h = tracks.history.set_index(["site_id", "date"])
    assert h.loc[("S0001", D2), "status"] == "unobserved"
    assert h.loc[("S0001", D2), "observed_fraction"] == 0.0
    assert h.loc[("S0001", D2), "n_pools"] == 0
    # back after the cloud, compared with D1 (3 pools) -> 5 pools is expanded, same ID
    assert h.loc[("S0001", D3), "status"] == "expanded"
    assert tracks.pools.loc[tracks.pools["label"] == "A", "site_id"].unique().tolist() == \
        ["S0001"]
    # observed sites carry an observed fraction of 1 here
    assert h.loc[("S0004", D2), "observed_fraction"] == 1.0


def test_gap_keeps_the_id(tracks):
    e = tracks.history[tracks.history["site_id"] == "S0004"]
    assert e["status"].tolist() == STATUS["S0004"]
    s = tracks.sites.set_index("site_id").loc["S0004"]
    assert s["n_dates_seen"] == 5 and s["last_seen"] == D5 and s["first_seen"] == D0


def test_persistence_and_provisional_flags(tracks):
    s = tracks.sites.set_index("site_id")
    persistent = s.index[s["persistent"]].tolist()
    assert persistent == ["S0001", "S0002", "S0003", "S0004", "S0005", "S0007"]
    assert s.loc["S0006", ["persistent", "provisional"]].tolist() == [False, False]
    assert s.loc["S0006", "status_last"] == "inactive"
    # first seen on the last date; seen on D4 and clouded on D5: both not yet testable
    assert s.loc["S0009", ["persistent", "provisional", "status_last"]].tolist() == [
        False, True, "new"]
    assert s.loc["S0008", ["persistent", "provisional", "status_last"]].tolist() == [
        False, True, "unobserved"]
    assert (s.loc["S0009", "first_seen"], s.loc["S0009", "last_seen"]) == (D5, D5)


def test_min_persistence_is_configurable():
    pools, clearings, valid = world()
    one = track_sites(pools, clearings, valid=valid,
                      config=SiteConfig(min_persistence_dates=1)).sites.set_index("site_id")
    assert one["persistent"].all() and not one["provisional"].any()
    three = track_sites(pools, clearings, valid=valid,
                        config=SiteConfig(min_persistence_dates=3)).sites.set_index("site_id")
    # C was seen on D1, D2 and merged on D3: three dates counting the merge
    assert three.loc["S0005", "persistent"]
    assert three.loc["S0007", "persistent"]  # seen D2..D5: 4 dates
    assert not three.loc["S0006", "persistent"] and not three.loc["S0006", "provisional"]


def test_site_table_values(tracks):
    s = tracks.sites.set_index("site_id")
    assert s.loc["S0001", "n_pools_max"] == 5
    assert s.loc["S0001", "area_m2_max"] == pytest.approx(500.0)
    assert s.loc["S0002", "area_m2_max"] == pytest.approx(500.0 + CLEARING_B.area)
    assert s.loc["S0001", "n_dates_seen"] == 5
    # geometry: union of the hulls holds every pool the site ever had
    for sid, group in tracks.pools.groupby("site_id"):
        assert s.loc[sid, "geometry"].buffer(1e-6).contains(group.union_all())
    assert s["lon"].between(98.2, 98.4).all() and s["lat"].between(25.5, 25.6).all()
    assert s["region"].isna().all()


def test_expanded_ratio_is_configurable():
    pools, clearings, valid = world()
    calm = track_sites(pools, clearings, valid=valid, config=SiteConfig(expanded_ratio=2.0))
    h = calm.history.set_index(["site_id", "date"])
    assert h.loc[("S0001", D3), "status"] == "active"  # 5 pools < 2 × 3


@pytest.mark.parametrize(("cover_m", "fraction", "status"),
                         [(20.0, 8 / 12, "inactive"), (50.0, 2 / 12, "unobserved")])
def test_observed_fraction_threshold(cover_m, fraction, status):
    # E's polygon from D1 spans x 497–557, y 497–517 m (two 10 m pools, 5 m buffer): the
    # pixel centres inside it are x 505…555 × y 505, 515, 12 pixels. On D2, when E is absent,
    # a cloud over x < 497 + cover_m hides 2 or 5 of the 6 columns.
    pools, clearings, _ = world()
    valid = valid_mask({2: [box(397, 400, 497 + cover_m, 600)]})
    h = track_sites(pools, clearings, valid=valid).history.set_index(["site_id", "date"])
    assert h.loc[("S0004", D2), "status"] == status
    assert h.loc[("S0004", D2), "observed_fraction"] == pytest.approx(fraction)


def test_without_valid_every_date_is_observed():
    pools, clearings, _ = world()
    t = track_sites(pools, clearings)
    h = t.history.set_index(["site_id", "date"])
    assert h.loc[("S0001", D2), "status"] == "inactive"
    assert h.loc[("S0008", D5), "status"] == "inactive"
    assert (t.history["observed_fraction"] == 1.0).all()
    # the same IDs: clouds change statuses, not identities
    assert list(t.sites["site_id"]) == [f"S{i:04d}" for i in range(1, 10)]
    assert t.dates == list(DATES)


def test_a_date_without_detections_is_still_a_date():
    pools, clearings, valid = world()
    extra = pd.Timestamp("2021-06-01")
    dates = sorted([*DATES, extra])
    valid = valid_mask({}, dates=dates)
    t = track_sites(pools, clearings, valid=valid, dates=[d.strftime("%Y-%m-%d") for d in
                                                          reversed(dates)])
    assert t.dates == dates
    h = t.history.set_index(["site_id", "date"])
    assert h.loc[("S0001", extra), "status"] == "inactive"
    assert h.loc[("S0001", D2), "status"] == "inactive"  # absent, and a clear mask here
    assert h.loc[("S0001", D3), "status"] == "expanded"  # still compared with D1


# --------------------------------------------------------------------------- determinism


def test_same_input_twice_gives_identical_tracks(tracks):
    pools, clearings, valid = world()
    again = track_sites(pools, clearings, valid=valid)
    pd.testing.assert_frame_equal(again.history, tracks.history)
    pd.testing.assert_frame_equal(again.events, tracks.events)
    pd.testing.assert_frame_equal(again.sites.drop(columns="geometry"),
                                  tracks.sites.drop(columns="geometry"))
    assert again.sites.geom_equals(tracks.sites).all()


def test_shuffled_rows_give_the_same_ids(tracks):
    pools, clearings, valid = world()
    shuffled = track_sites(pools.sample(frac=1.0, random_state=3),
                           clearings.sample(frac=1.0, random_state=4), valid=valid)
    pd.testing.assert_frame_equal(shuffled.history, tracks.history)
    pd.testing.assert_frame_equal(shuffled.events, tracks.events)
    by_tag = shuffled.pools.set_index("tag")["site_id"].sort_index()
    assert (by_tag == tracks.pools.set_index("tag")["site_id"].sort_index()).all()
    # the output keeps the caller's rows and index
    assert list(shuffled.pools.index) == list(pools.sample(frac=1.0, random_state=3).index)


def test_geographic_input_and_string_dates_give_the_same_tracks(tracks):
    pools, clearings, valid = world(date_format="%Y-%m-%dT10:32:00")
    t = track_sites(pools.to_crs("EPSG:4326"), clearings.to_crs("EPSG:4326"), valid=valid)
    assert t.sites.crs.is_projected
    assert status_table(t.history) == STATUS
    assert t.events[["date", "kind", "site_id", "other_ids"]].equals(tracks.events)
    assert t.pools.crs.to_epsg() == 4326  # the caller's CRS is kept on the members
    assert (t.pools["date"] == tracks.pools["date"]).all()


def test_regions_in_another_crs_from_a_file(tmp_path):
    pools, clearings, valid = world()
    west = shift(box(0, 0, 1500, 2000))
    east = shift(box(1500, 0, 3000, 2000))
    regions = gpd.GeoDataFrame({"township": ["West", "East"]}, geometry=[west, east],
                               crs=UTM).to_crs("EPSG:4326")
    path = tmp_path / "townships.gpkg"
    regions.to_file(path)
    t = track_sites(pools, clearings, valid=valid, regions=path)
    s = t.sites.set_index("site_id")["region"]
    assert s[["S0001", "S0002", "S0004", "S0005"]].tolist() == ["West"] * 4
    assert s[["S0003", "S0007", "S0008", "S0009"]].tolist() == ["East"] * 4
    h = t.history.drop_duplicates("site_id").set_index("site_id")["region"]
    assert (h == s[h.index]).all()
    far = regions.set_geometry(regions.translate(5.0, 0.0))
    with pytest.raises(InputError, match="do not overlap the pools"):
        track_sites(pools, clearings, valid=valid, regions=far)


# --------------------------------------------------------------------------- generator truth


def test_generator_truth_site_counts_first_seen_and_no_id_switch():
    from minewatch.synth import generate_scenes

    scenes = generate_scenes(seed=2, shape=(300, 300), confounders=False)
    dates = list(pd.DatetimeIndex(scenes.truth["time"].values))
    truth = scenes.pools.rename(columns={"site_id": "truth_site"})
    first = pd.to_datetime(truth["first_date"])
    last = pd.to_datetime(truth["last_date"])
    pools = pd.concat([truth[(first <= d) & (last >= d)].assign(date=d) for d in dates],
                      ignore_index=True)
    pools = gpd.GeoDataFrame(pools, geometry="geometry", crs=truth.crs)
    valid = scenes.truth["valid"].astype(bool)
    t = track_sites(pools, valid=valid)

    present = t.history[t.history["status"].isin(["new", "active", "expanded"])]
    got = present.groupby("date").size().reindex(dates, fill_value=0).tolist()
    want = [pools.loc[pools["date"] == d, "truth_site"].nunique() for d in dates]
    assert got == want
    assert len(t.sites) == pools["truth_site"].nunique() and len(t.events) == 0
    # one ID per truth site over every date (no ID switch), and first_seen right
    ids = t.pools.groupby("truth_site")["site_id"].nunique()
    assert (ids == 1).all()
    first_truth = pools.groupby("truth_site")["date"].min()
    by_id = t.pools.groupby("truth_site")["site_id"].first()
    seen = t.sites.set_index("site_id")["first_seen"]
    assert (seen[by_id.to_numpy()].to_numpy() == first_truth[by_id.index].to_numpy()).all()
    # present exactly where the truth has pools: (site, date) pairs match one to one
    to_truth = t.pools.drop_duplicates("site_id").set_index("site_id")["truth_site"]
    got_pairs = {(to_truth[s], d) for s, d in zip(present["site_id"], present["date"],
                                                  strict=True)}
    want_pairs = set(zip(pools["truth_site"], pools["date"], strict=True))
    assert got_pairs == want_pairs


# --------------------------------------------------------------------------- errors and edges


def test_missing_date_column_raises():
    pools, _, _ = world()
    with pytest.raises(DateError, match=r"pools has no 'date' column"):
        track_sites(pools.drop(columns="date"))


def test_unreadable_and_missing_dates_raise():
    pools, _, _ = world()
    bad = pools.astype({"date": object})
    bad.loc[bad.index[3], "date"] = "not a date"
    with pytest.raises(DateError, match=r"pools\['date'\]: cannot read 'not a date'"):
        track_sites(bad)
    bad.loc[bad.index[3], "date"] = None
    with pytest.raises(DateError, match=r"missing date .* row position\(s\) \[3\]"):
        track_sites(bad)


def test_duplicate_dates_raise():
    pools, _, valid = world()
    with pytest.raises(DateError, match=r"dates holds the same day more than once: "
                                        r"\['2021-01-10'\]"):
        track_sites(pools, dates=[*DATES, "2021-01-10T12:00"])
    doubled = xr.concat([valid, valid.isel(time=[0])], dim="time")
    with pytest.raises(DateError, match=r"valid.time holds the same day more than once"):
        track_sites(pools, valid=doubled)


def test_detections_outside_the_dates_raise():
    pools, _, valid = world()
    with pytest.raises(DateError, match=r"detections dated \['2023-02-10'\] fall on no date"):
        track_sites(pools, dates=DATES[:-1])
    with pytest.raises(DateError, match=r"not in valid.time"):
        track_sites(pools, valid=valid.isel(time=slice(0, 5)), dates=DATES)


def test_missing_crs_raises():
    pools, _, valid = world()
    with pytest.raises(InputError, match=r"pools has no CRS; set one with pools.set_crs"):
        track_sites(gpd.GeoDataFrame(pools.drop(columns="geometry"),
                                     geometry=list(pools.geometry)))
    bare = xr.DataArray(valid.to_numpy(), dims=valid.dims,
                        coords={k: valid[k].to_numpy() for k in ("time", "y", "x")})
    with pytest.raises(MissingCRSError, match=r"valid has no CRS; write one with "
                                              r"valid.rio.write_crs"):
        track_sites(pools, valid=bare)
    with pytest.raises(InputError, match=r"valid has dims \('y', 'x'\)"):
        track_sites(pools, valid=valid.isel(time=0))


def test_config_checks():
    pools, _, _ = world()
    with pytest.raises(InputError, match="expected a SiteConfig"):
        track_sites(pools, config={"expanded_ratio": 2.0})
    with pytest.raises(ConfigError, match=r"min_persistence_dates = 0 is out of range"):
        SiteConfig(min_persistence_dates=0)
    with pytest.raises(ConfigError, match=r"expanded_ratio = 0.5 is out of range"):
        SiteConfig(expanded_ratio=0.5)
    with pytest.raises(ConfigError, match=r"min_observed_fraction = 1.5 is out of range"):
        SiteConfig(min_observed_fraction=1.5)


def test_empty_input_gives_empty_frames_with_columns():
    empty = gpd.GeoDataFrame({"date": pd.Series(dtype="datetime64[ns]")},
                             geometry=gpd.GeoSeries([], crs=UTM))
    t = track_sites(empty, valid=valid_mask({}))
    assert list(t.sites.columns) == list(TRACK_COLUMNS) and len(t.sites) == 0
    assert list(t.history.columns) == list(HISTORY_COLUMNS) and len(t.history) == 0
    assert list(t.events.columns) == list(EVENT_COLUMNS) and len(t.events) == 0
    assert "site_id" in t.pools.columns and "site_id" in t.clearings.columns
    assert t.dates == list(DATES)


# --------------------------------------------------------------------------- small worlds


def pools_at(stories):
    """Pools from {date index: [(x, y), ...]} (10 m squares, 100 m² each)."""
    rows = [{"date": DATES[t], "area_m2": 100.0, "geometry": square(x, y)}
            for t, xy in stories.items() for x, y in xy]
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=UTM)


@pytest.mark.parametrize("mirror", [False, True])
def test_split_keeps_the_id_on_the_largest_part_wherever_it_lies(mirror):
    sign = -1 if mirror else 1
    whole = [(sign * x, 0) for x in (0, 40, 80, 200, 300)]
    parts = [(sign * x, 0) for x in (0, 40, 80, 300)]  # the pool at 200 goes: 3 + 1
    t = track_sites(pools_at({0: whole, 1: parts}))
    h = t.history.set_index(["site_id", "date"])
    assert h.loc[("S0001", D1), "n_pools"] == 3
    assert h.loc[("S0002", D1), ["status", "n_pools"]].tolist() == ["new", 1]
    assert t.events[["kind", "site_id", "other_ids"]].to_numpy().tolist() == [
        ["split", "S0001", "S0002"]]


def test_merge_and_split_in_one_piece():
    # A (3 pools) and B (a chain of 3) on D0; on D1 a bridging pool joins A and B while B's
    # eastern pool goes and a new pool Y appears 145 m past B's old edge (250 m from the
    # joined group): A and B merge (A is west: S0001, same first date) and Y splits off B.
    a = [(0, 0), (40, 0), (80, 0)]
    b = [(300, 0), (340, 0), (440, 0)]
    t = track_sites(pools_at({0: a + b, 1: [*a, (190, 0), (300, 0), (340, 0), (600, 0)]}))
    assert t.events[["date", "kind", "site_id", "other_ids"]].to_numpy().tolist() == [
        [D1, "merge", "S0001", "S0002"], [D1, "split", "S0002", "S0003"]]
    s = t.sites.set_index("site_id")
    assert s.loc["S0002", "merged_into"] == "S0001"
    assert s.loc["S0003", ["first_seen", "n_pools_max"]].tolist() == [D1, 1]
    h = t.history.set_index(["site_id", "date"])
    assert h.loc[("S0001", D1), ["status", "n_pools"]].tolist() == ["active", 6]
    assert ("S0002", D1) not in h.index


def test_min_observed_fraction_is_configurable():
    pools, clearings, _ = world()
    valid = valid_mask({2: [box(397, 400, 517, 600)]})  # 1/3 of E hidden on D2
    strict = SiteConfig(min_observed_fraction=0.9)
    h = track_sites(pools, clearings, valid=valid, config=strict).history
    h = h.set_index(["site_id", "date"])
    assert h.loc[("S0004", D2), "status"] == "unobserved"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_invariants_on_random_worlds(seed):
    # random point pools over 3 km × 3 km and five dates: sites come, go, merge and split
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0, 3000, (40, 2))
    rows = []
    for t in range(5):
        for cx, cy in centres[rng.random(len(centres)) < 0.7]:
            for ox, oy in rng.uniform(-120, 120, (int(rng.integers(1, 6)), 2)):
                rows.append({"date": DATES[t], "geometry": square(cx + ox, cy + oy, 8.0)})
    pools = gpd.GeoDataFrame(rows, geometry="geometry", crs=UTM)
    t = track_sites(pools, dates=DATES[:5])
    s, h = t.sites.set_index("site_id"), t.history
    assert set(t.events["kind"]) == {"merge", "split"}  # the worlds exercise both

    assert list(s.index) == [f"S{i:04d}" for i in range(1, len(s) + 1)]
    assert s["first_seen"].is_monotonic_increasing
    assert t.pools["site_id"].notna().all()
    counts = t.pools.groupby(["site_id", "date"]).size()
    seen = h[h["status"].isin(["new", "active", "expanded"])].set_index(["site_id", "date"])
    assert seen["n_pools"].sort_index().equals(counts.sort_index().rename("n_pools"))
    assert (h.loc[~h["status"].isin(["new", "active", "expanded"]), "n_pools"] == 0).all()
    for sid, rows_ in h.groupby("site_id"):
        # one row per date from first_seen to the end, or to the date before its merge
        ended = np.array([sid in ids.split(",") for ids in t.events["other_ids"]], dtype=bool)
        merges = t.events[(t.events["kind"] == "merge") & ended]
        assert len(merges) == (s.loc[sid, "merged_into"] is not None)
        end = merges["date"].iloc[0] if len(merges) else DATES[4] + pd.Timedelta(days=1)
        want = [d for d in DATES[:5] if s.loc[sid, "first_seen"] <= d < end]
        assert list(rows_["date"]) == want, sid
        assert list(rows_["status"]).count("new") == 1 and rows_["status"].iloc[0] == "new"
        assert s.loc[sid, "n_dates_seen"] == rows_["status"].isin(
            ["new", "active", "expanded"]).sum()
    again = track_sites(pools.sample(frac=1.0, random_state=seed), dates=DATES[:5])
    pd.testing.assert_frame_equal(again.history, t.history)
    pd.testing.assert_frame_equal(again.events, t.events)


def test_history_counts_pools_like_the_time_series() -> None:
    """A 10 m detection can stand for a chain of pools (``n_pools``): history sums it, as the
    time series does."""
    import geopandas as gpd
    import shapely

    from minewatch.sites import track_sites
    from minewatch.timeseries import site_timeseries

    dates = pd.to_datetime(["2021-01-01", "2022-01-01"])
    pools = gpd.GeoDataFrame(
        {"date": [dates[0], dates[1], dates[1]], "n_pools": [3, 4, 2],
         "confidence": [0.9, 0.9, 0.9]},
        geometry=[shapely.box(0, 0, 20, 20), shapely.box(0, 0, 20, 20),
                  shapely.box(40, 0, 60, 20)], crs="EPSG:32647")
    tracks = track_sites(pools, dates=list(dates))
    assert tracks.history.groupby("date")["n_pools"].sum().tolist() == [3, 6]
    series = site_timeseries(tracks)
    assert series["pools"].tolist() == [3, 6]


def test_a_partly_clouded_site_keeps_its_id_when_the_hidden_parts_return() -> None:
    """Date 2 sees only the middle of a chain (cloud over both ends); on date 3 the ends are
    back: they are the same site (a split at most), not new sites beside an inactive one."""
    import geopandas as gpd
    import xarray as xr
    from rasterio.transform import from_origin
    from shapely.geometry import Point

    from minewatch.sites import track_sites

    days = ["2021-01-01", "2022-01-01", "2023-01-01"]
    xs = {days[0]: range(-200, 501, 100), days[1]: [100, 200],
          days[2]: [-200, -100, 400, 500]}
    pools = gpd.GeoDataFrame({"date": [d for d in days for _ in xs[d]]},
                             geometry=[Point(x, 0).buffer(5) for d in days for x in xs[d]],
                             crs="EPSG:32647")
    x = np.arange(-395, 700, 10.0)
    y = np.arange(95, -100, -10.0)
    mask = np.ones((3, len(y), len(x)), bool)
    mask[1][:, (x < 50) | (x > 250)] = False
    valid = xr.DataArray(mask, dims=("time", "y", "x"),
                         coords={"time": pd.to_datetime(days), "y": y, "x": x})
    valid = valid.rio.write_crs("EPSG:32647").rio.write_transform(
        from_origin(-400, 100, 10, 10))
    tracks = track_sites(pools, valid=valid)
    last = tracks.history[tracks.history["date"] == pd.Timestamp(days[2])]
    assert "S0001" in set(last["site_id"])
    assert last.loc[last["site_id"] == "S0001", "status"].item() != "inactive"
    others = set(last["site_id"]) - {"S0001"}
    assert others <= set(tracks.events.loc[tracks.events["kind"] == "split", "other_ids"]
                          .str.split(",").explode())


# --------------------------------------------------------------------------- partly clouded

# A site of 12 pools (10 m squares, two rows of six: x = 0, 30, 60 | 110, 140, 170; y = 0,
# 40) and a mining clearing in each half, beside a far site of 3 pools (x = 1000…1080). On P1
# and P2 a cloud covers x < 90 m: the western half of the big site (its hull spans x -5…185
# with the 5 m buffer). The eastern pool at (170, 0) is truly gone from P1 on, where it
# could be seen. P3 is clear.
PARTLY_DATES = pd.to_datetime(["2021-01-01", "2021-06-01", "2021-09-01", "2022-01-01"])
P0, P1, P2, P3 = PARTLY_DATES
WEST = [(x, y) for x in (0, 30, 60) for y in (0, 40)]
EAST = [(x, y) for x in (110, 140, 170) for y in (0, 40)]
FAR = [(1000, 20), (1040, 20), (1080, 20)]
GONE = (170, 0)
WEST_CLEARING, EAST_CLEARING = box(0, 60, 50, 90), box(120, 60, 180, 80)


def partly_world(cloud_x=90.0):
    rows, crow = [], []
    for t, day in enumerate(PARTLY_DATES):
        east = EAST if t == 0 else [p for p in EAST if p != GONE]
        west = WEST if t in (0, 3) else []
        for x, y in west + east + FAR:
            rows.append({"date": day, "x": x, "y": y, "confidence": 0.9, "area_m2": 100.0,
                         "geometry": square(x, y)})
        for geom in ([WEST_CLEARING] if t in (0, 3) else []) + [EAST_CLEARING]:
            crow.append({"date": day, "kind": "mining", "area_m2": geom.area,
                         "geometry": shift(geom)})
    pools = gpd.GeoDataFrame(rows, geometry="geometry", crs=UTM)
    clearings = gpd.GeoDataFrame(crow, geometry="geometry", crs=UTM)
    res = 2.0
    xs = X0 - 100 + (np.arange(700) + 0.5) * res
    ys = Y0 + 200 - (np.arange(200) + 0.5) * res
    data = np.ones((4, len(ys), len(xs)), dtype=bool)
    data[1:3, :, xs - X0 < cloud_x] = False
    valid = xr.DataArray(data, dims=("time", "y", "x"),
                         coords={"time": PARTLY_DATES, "y": ys, "x": xs}, name="valid")
    valid = valid.rio.write_crs(UTM).rio.write_transform(
        Affine(res, 0, X0 - 100, 0, -res, Y0 + 200))
    return pools, clearings, valid


@pytest.fixture(scope="module")
def partly():
    pools, clearings, valid = partly_world()
    return track_sites(pools, clearings, valid=valid)


def test_a_partly_clouded_site_carries_its_hidden_pools(partly):
    h = partly.history.set_index(["site_id", "date"])
    assert list(partly.sites["site_id"]) == ["S0001", "S0002"]  # the big site is west
    big = h.loc["S0001"]
    # seen 5 (east, one truly gone) + carried 6 (west, under cloud); the gone pool is not
    # carried: it lay on the observed half
    assert big["n_pools"].tolist() == [12, 11, 11, 11]
    assert big["n_pools_carried"].tolist() == [0, 6, 6, 0]
    assert big["pool_area_m2"].tolist() == [1200.0, 1100.0, 1100.0, 1100.0]
    assert big["status"].tolist() == ["new", "active", "active", "active"]
    # the footprint (last outline incl. the clouded half) is half observed
    assert big.loc[P1, "observed_fraction"] == pytest.approx(0.5, abs=0.03)
    assert big.loc[P2, "observed_fraction"] == pytest.approx(0.5, abs=0.03)
    assert big.loc[P3, "observed_fraction"] == 1.0
    # the hidden clearing is carried too; the seen one is not counted twice
    both = WEST_CLEARING.area + EAST_CLEARING.area
    assert big["cleared_area_m2"].tolist() == [both] * 4
    assert big["cleared_area_m2_carried"].tolist() == [0.0, WEST_CLEARING.area,
                                                      WEST_CLEARING.area, 0.0]
    assert partly.sites.set_index("site_id").loc["S0001", "n_pools_max"] == 12


def test_carried_pools_are_listed_with_the_date_they_were_seen(partly):
    cp = partly.carried_pools
    assert len(cp) == 12 and set(cp["site_id"]) == {"S0001"}
    assert cp.groupby("date").size().to_dict() == {P1: 6, P2: 6}
    # carried twice, from P0 both times (P1 did not see them)
    assert (cp["last_seen"] == P0).all()
    assert sorted(zip(cp.loc[cp["date"] == P2, "x"], cp.loc[cp["date"] == P2, "y"],
                      strict=True)) == sorted(WEST)
    assert cp["confidence"].eq(0.9).all() and cp.crs == partly.pools.crs
    cc = partly.carried_clearings
    assert len(cc) == 2 and cc["area_m2"].eq(WEST_CLEARING.area).all()


def test_a_site_seen_whole_is_unchanged_by_the_carry(partly):
    pools, clearings, _ = partly_world()
    clear = track_sites(pools, clearings, dates=PARTLY_DATES)  # no valid: all observed
    far = partly.history[partly.history["site_id"] == "S0002"].reset_index(drop=True)
    ref = clear.history[clear.history["site_id"] == "S0002"].reset_index(drop=True)
    pd.testing.assert_frame_equal(far, ref)
    assert far["n_pools"].tolist() == [3, 3, 3, 3] and (far["n_pools_carried"] == 0).all()
    assert (far["observed_fraction"] == 1.0).all()
    # without valid nothing is carried anywhere: the big site counts what was seen
    big = clear.history[clear.history["site_id"] == "S0001"]
    assert big["n_pools"].tolist() == [12, 5, 5, 11] and len(clear.carried_pools) == 0


def test_a_hidden_pool_detected_in_part_is_not_counted_twice():
    # the cloud edge at x = 66 hides 60 % of the pool at x = 60 (60–70 m); the detector
    # still finds its visible sliver: it counts once, as seen
    pools, clearings, valid = partly_world(cloud_x=66.0)
    sliver = pools[(pools["date"] == P0) & (pools["x"] == 60) & (pools["y"] == 0)].copy()
    sliver["date"] = P1
    sliver["geometry"] = [shift(box(66, 0, 70, 10))]
    pools = pd.concat([pools, sliver], ignore_index=True)
    t = track_sites(pools, clearings, valid=valid)
    h = t.history.set_index(["site_id", "date"])
    assert h.loc[("S0001", P1), "n_pools_carried"] == 5  # 6 hidden, one of them seen
    assert h.loc[("S0001", P1), "n_pools"] == 5 + 1 + 5
    # on P2 the sliver is gone where it could be seen (it was last seen as the sliver, on
    # observed pixels now): not carried; the 5 others still are
    assert h.loc[("S0001", P2), "n_pools_carried"] == 5
    assert h.loc[("S0001", P2), "n_pools"] == 5 + 5


def test_a_partly_clouded_clearing_carries_its_hidden_share_of_area():
    # the cloud edge at x = 150 hides the western half of the east clearing (120–180 m) on
    # P1 and P2; the detector maps only its observed half there. The hidden half is carried
    # (it was cleared when last seen), so the cleared area does not dip; the wholly hidden
    # west clearing is carried whole, as before.
    pools, clearings, valid = partly_world(cloud_x=150.0)
    on_cloudy = clearings["date"].isin([P1, P2])
    visible = shift(box(150, 60, 180, 80))
    clearings.loc[on_cloudy, "geometry"] = [visible] * int(on_cloudy.sum())
    clearings.loc[on_cloudy, "area_m2"] = visible.area
    h = track_sites(pools, clearings, valid=valid).history.set_index(["site_id", "date"])
    both = WEST_CLEARING.area + EAST_CLEARING.area
    big = h.loc["S0001"]
    assert big["cleared_area_m2"].tolist() == pytest.approx([both] * 4, rel=0.02)
    hidden = WEST_CLEARING.area + EAST_CLEARING.area / 2
    assert big["cleared_area_m2_carried"].tolist() == pytest.approx(
        [0.0, hidden, hidden, 0.0], rel=0.02)


def test_a_moving_cloud_does_not_count_a_clearing_twice():
    # P1: the cloud hides x < 150 (the west half of the east clearing is carried); P2: it
    # hides x > 150 instead. The east clearing's area is counted once on both dates.
    pools, clearings, valid = partly_world(cloud_x=150.0)
    xs = valid["x"].values - X0
    valid.values[2] = (xs < 150)[None, :]
    halves = {P1: shift(box(150, 60, 180, 80)), P2: shift(box(120, 60, 150, 80))}
    for day, half in halves.items():
        east = (clearings["date"] == day) & (clearings.geometry.centroid.x > X0 + 100)
        clearings.loc[east, "geometry"] = [half]
        clearings.loc[east, "area_m2"] = half.area
    h = track_sites(pools, clearings, valid=valid).history.set_index(["site_id", "date"])
    big = h.loc["S0001"]
    east_counted = big["cleared_area_m2"] - WEST_CLEARING.area * np.array([1, 1, 0, 1])
    # P2 sees the west clearing's land: it is no longer detected there, so not counted
    assert east_counted.tolist() == pytest.approx([EAST_CLEARING.area] * 4, rel=0.03)
