"""analyze() against a generated archive's known site history (issue 5, accuracy).

One small PlanetScope archive (3 m, 250 × 250 px, 4 dates, the third 60 % clouded) written as
real files, analysed end to end, and compared with the generator's truth (``truth/truth.gpkg``)
the way ``benchmarks/accuracy.py`` does on held-out seeds. The seed (0) is one of the tuning
seeds 0-4; nothing was tuned on it. Why the tolerances:

* sites per date: a truth site is present from its ``first_date`` to its ``last_date`` (it has
  pools then); truth sites are grouped with ``group_sites`` and the analysis's own
  ``SiteConfig`` (two truth sites within the linking distance are one site for minewatch). The
  grid holds 1-2 sites a date, so a percentage tolerance below 50 % would demand exact counts:
  each date may be off by one site, and at most one date may be off at all (seed 0 matches
  exactly on every date today; seeds 2-3 are off by one or two on dates after a site was
  abandoned: its clearing stays bare and minewatch still counts it).
* IDs: every truth site seen on two or more dates keeps one ``site_id`` (no tolerance).
* the cloudy date: partly unobserved (valid_fraction < 1), at least one site carried
  (``sites_unobserved`` >= 1: 2 today), and no dip below the neighbouring dates.
"""

from __future__ import annotations

import warnings

import geopandas as gpd
import pandas as pd
import pytest
import shapely

import minewatch
from minewatch.sites import group_sites
from minewatch.synth import make_archive, make_grid, make_world

DATES = ("2021-03-05", "2022-02-27", "2023-03-14", "2024-02-20")
CLOUDS = (0.0, 0.0, 0.6, 0.0)
CLOUDY = 2
SEED = 0
SHAPE = (250, 250)


@pytest.fixture(scope="module")
def analysed(tmp_path_factory):
    root = tmp_path_factory.mktemp("accuracy_truth")
    grid = make_grid((98.33, 25.72), crs="EPSG:32647", resolution_m=3.0, shape=SHAPE)
    # the world is the grid itself, so no truth site is a sliver cut by the grid edge
    world = make_world(bounds=grid.bounds, seed=SEED, dates=DATES, n_sites=6, clouds=CLOUDS,
                       nodata_edges=False)
    arch = make_archive(root / "archive", world=world, resolution_m=3.0, layout="planetscope",
                        shape=SHAPE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = minewatch.analyze(root / "archive", out_dir=root / "out", report=False)
    truth = {layer: gpd.read_file(arch.truth_vectors, layer=layer)
             for layer in ("pools", "sites", "site_clearings")}
    for frame, cols in ((truth["pools"], ("first_date", "last_date")),
                        (truth["sites"], ("first_date", "last_date")),
                        (truth["site_clearings"], ("date",))):
        for c in cols:
            frame[c] = pd.to_datetime(frame[c], errors="coerce")
    return result, truth, root / "out"


def _truth_present(truth: dict, day: pd.Timestamp, grid: shapely.Geometry) -> gpd.GeoDataFrame:
    """Clearings (of that date, in the grid) of the truth sites present on ``day``."""
    sites = truth["sites"]
    live = sites.loc[(sites["first_date"] <= day) & (sites["last_date"] >= day), "site_id"]
    clear = truth["site_clearings"]
    clear = clear[(clear["date"] == day) & clear["site_id"].isin(live)]
    return clear[clear.intersects(grid)]


def test_site_count_per_date_matches_the_grouped_truth(analysed):
    result, truth, out = analysed
    grid = shapely.box(*result.valid.rio.bounds())
    pools = truth["pools"]
    want = []
    for day in result.dates:
        clear = _truth_present(truth, day, grid)
        members = pools[(pools["first_date"] <= day) & (pools["last_date"] >= day)
                        & pools["site_id"].isin(clear["site_id"])]
        grouped = group_sites(members[["geometry"]],
                              clear.assign(kind="mining")[["kind", "geometry"]],
                              config=result.config.sites)
        want.append(len(grouped))
    # what is written is what is returned
    written = pd.read_csv(out / "timeseries.csv")
    got = written["sites"].tolist()
    assert got == result.timeseries["sites"].tolist()
    assert sum(want) >= 5  # not a vacuous comparison: sites on most dates
    off = [abs(g - w) for g, w in zip(got, want, strict=True)]
    assert max(off) <= 1 and sum(off) <= 1, (got, want)


def test_a_persisting_truth_site_keeps_one_site_id(analysed):
    result, truth, _ = analysed
    grid = shapely.box(*result.valid.rio.bounds())
    detected = pd.concat([result.pools[["date", "site_id", "geometry"]],
                          result.clearings[["date", "site_id", "geometry"]]])
    detected = gpd.GeoDataFrame(detected[detected["site_id"].notna()], geometry="geometry",
                                crs=result.pools.crs)
    ids_of: dict[int, set[str]] = {}
    dates_of: dict[int, int] = {}
    for day in result.dates:
        clear = _truth_present(truth, day, grid)
        today = detected[detected["date"] == day]
        for sid, geom in zip(clear["site_id"], clear.geometry, strict=True):
            hit = set(today.loc[today.intersects(geom), "site_id"])
            if hit:
                ids_of.setdefault(int(sid), set()).update(hit)
                dates_of[int(sid)] = dates_of.get(int(sid), 0) + 1
    persisting = [sid for sid, n in dates_of.items() if n >= 2]
    assert len(persisting) >= 2
    assert all(len(ids_of[sid]) == 1 for sid in persisting), ids_of
    # and the tracked site behind each one is persistent
    flags = result.sites.set_index("site_id")["persistent"]
    assert all(flags[next(iter(ids_of[sid]))] for sid in persisting)


def test_the_cloudy_date_is_partly_unobserved_without_a_dip(analysed):
    result, _, _ = analysed
    series = result.timeseries.set_index("date")
    cloudy = series.loc[pd.Timestamp(DATES[CLOUDY])]
    before = series.loc[pd.Timestamp(DATES[CLOUDY - 1])]
    after = series.loc[pd.Timestamp(DATES[CLOUDY + 1])]
    assert cloudy["valid_fraction"] < 0.5 <= before["valid_fraction"]
    assert cloudy["sites_unobserved"] >= 1
    assert cloudy["sites"] >= min(before["sites"], after["sites"])
    # the carried sites are 'unobserved' in the history, never 'inactive'
    hist = result.history[result.history["date"] == pd.Timestamp(DATES[CLOUDY])]
    assert (hist["status"] == "unobserved").sum() >= cloudy["sites_unobserved"]
    assert not (hist["status"] == "inactive").any()
