"""Site-level accuracy of the whole pipeline (``minewatch.analyze``) against a known site history.

Issue 5's accuracy targets, measured end to end: for each resolution and each held-out seed a
5-date archive is written with :func:`minewatch.synth.make_archive` (real sensor files: the
Sentinel-2 L2A folder layout, whose SWIR bands are 20 m, and the PlanetScope 4-band layout),
one date heavily clouded (cloud cover per date ``CLOUDS``), no swath edge. The world is drawn
over the analysed grid itself (``make_world(bounds=grid.bounds)``), so every site lies inside
the grid (with the generator's default 200 m margin, a third of the 3 m sites were slivers cut
by the grid edge), with ``n_sites`` (``RUNS``: 20 on 9 km² at 10 m, 10 on 2.25 km² at 3 m;
denser than the generator's 0.8 per km², Pang War is denser still) so that a count per date
means something. Then
``minewatch.analyze(archive, out_dir=...)`` runs with its defaults (the sensor's preset, the
default ``SiteConfig``) and its tables are compared with the generator's truth
(``truth/truth.gpkg``: pools with ``first_date``/``last_date``, sites, each site's clearing per
date).

Truth, per date ``d``, restricted to the analysed grid:

- a truth **site is present** when ``first_date <= d <= last_date`` (it has pools then) and its
  clearing of ``d`` overlaps the grid. ``raw`` counts them; the reference count (**truth**)
  groups their pools and clearings (clipped to the grid) with
  :func:`minewatch.sites.group_sites` and the analysis's own ``SiteConfig`` — two truth sites
  closer than the linking distance are one site for minewatch by definition;
- a truth **pool is present** when ``first_date <= d <= last_date`` and its centroid is in the
  grid;
- ``seeable`` (diagnostic): present truth sites whose clearing was observed (at least
  ``SiteConfig.min_observed_fraction`` of it valid in the analysis's masks) on some date from
  their ``first_date`` to ``d`` — what a perfect tracker carrying unobserved sites could count
  without looking ahead. ``timeseries.csv`` also back-fills sites and pools first seen after
  a cloudy spell (``sites_backfilled``, ``pools_backfilled``: docs/timeseries.md), so its
  counts on a cloudy date can exceed the seeable ones.

Measures (targets of issue 5):

- **sites per date** (``timeseries.csv`` ``sites``) against the grouped truth: relative error of
  the mean over seeds per date; target within ±10 % at 3 m, ±20 % at 10 m on every date;
- **pools per date** (``timeseries.csv`` ``pools``) against the truth pools present: target
  ±15 % at 3 m (10 m reported);
- **first_seen**: each detected persistent site is matched to the truth sites its footprint
  overlaps; right when ``first_seen`` is the earliest ``first_date`` among them, or — a site
  born under cloud can only be seen on the next date it is observed — that first observed date
  (counted apart as "right, cloud"). Target ≥ 90 % at 3 m;
- **ID switches**: for each truth site present on ≥ 2 dates, the detected ``site_id`` of the
  pools and clearings over it on each of those dates; a truth site given more than one ID is a
  switch unless the IDs are joined by a recorded merge/split (``events.csv``, ``merged_into``).
  Target 0;
- **cloudy date** (index ``CLOUDY``): no dip (sites ≥ the smaller of the neighbouring dates),
  ``sites_unobserved`` > 0 and ``valid_fraction`` < 1, in every seed;
- change-map class accuracy: computed here with ``benchmarks/accuracy_change.py``'s own
  functions on the same seeds (its generated 400² px scenes, first → last date, ``raster``
  first-date mode), so the figure can't go stale (a quoted 0.900 did, 2026-11-24 → 25).

Nothing is tuned here; the report seeds are 100–104 (default), seeds 0–4 are for looking::

    python benchmarks/accuracy.py                     # seeds 100-104, ~3 min on 2 cores
    python benchmarks/accuracy.py --seeds 0-4         # the seeds the tests may use
    python benchmarks/accuracy.py --only 3 --per-seed --keep /tmp/acc
    python benchmarks/accuracy.py --layout sentinel2  # one archive layout only
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from rasterio.features import geometry_mask

import minewatch
from minewatch.sites import group_sites
from minewatch.synth import make_archive, make_grid, make_world

DATES = ("2020-02-14", "2021-03-05", "2022-02-27", "2023-03-14", "2024-02-20")
#: Cloud cover per date (fraction of the world); the third date is the heavily clouded one.
CLOUDS = (0.0, 0.1, 0.6, 0.0, 0.1)
CLOUDY = 2
ORIGIN = (98.33, 25.72)
CRS = "EPSG:32647"


def _change_accuracy(name: str, seeds: list[int]) -> float:
    """Changed-pixel class accuracy of the change map (first → last date), computed with
    ``benchmarks/accuracy_change.py`` on ``seeds`` (its scenes, ``raster`` first-date mode)."""
    import accuracy_change  # the sibling script (benchmarks/ is on sys.path when run)

    run = accuracy_change.RUNS[name]
    confusion = sum(accuracy_change.one_seed(s, run)["raster"] for s in seeds)
    return float(accuracy_change.scores(confusion)["changed_acc"])


@dataclass(frozen=True)
class Run:
    """One resolution: archive layout and size, and the targets that apply to it."""

    resolution_m: float
    layout: str
    shape: tuple[int, int]
    n_sites: int
    site_tol: float | None  # relative, per date
    pool_tol: float | None
    first_target: float | None
    change_key: str | None
    note: str = ""
    cloud_mask: bool = True  # the layout carries a cloud mask (SCL, UDM2)


RUNS: dict[str, Run] = {
    "sentinel2 10 m": Run(10.0, "sentinel2", (300, 300), 20, 0.20, None, None,
                          "sentinel2 10 m", "L2A folders: B11/B12 (SWIR) at 20 m, as delivered"),
    "sentinel2 10 m, SWIR at 10 m (diagnostic)": Run(
        10.0, "sentinel2_multiband", (300, 300), 20, 0.20, None, None, None,
        "one 6-band stack, every band at 10 m, as the detection benchmarks feed it; no SCL, "
        "so clouds are not masked", cloud_mask=False),
    "planetscope 3 m": Run(3.0, "planetscope", (500, 500), 10, 0.10, 0.15, 0.90,
                           "planetscope 3 m", "AnalyticMS_SR 4 bands + UDM2"),
}


# --------------------------------------------------------------------------------- truth


def _dates(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, errors="coerce")


def _observed(geoms: list, valid: np.ndarray, transform) -> np.ndarray:
    """Fraction of each geometry's pixels (centre inside; else the pixel under it) valid."""
    out = np.zeros(len(geoms))
    h, w = valid.shape
    for k, g in enumerate(geoms):
        if g is None or g.is_empty:
            continue
        inside = geometry_mask([g], out_shape=(h, w), transform=transform, invert=True)
        if inside.any():
            out[k] = valid[inside].mean()
        else:
            p = shapely.point_on_surface(g)
            col, row = ~transform * (p.x, p.y)
            if 0 <= int(row) < h and 0 <= int(col) < w:
                out[k] = float(valid[int(row), int(col)])
    return out


def load_truth(root: Path) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Truth pools, sites and per-date site clearings of an archive (dates parsed)."""
    gpkg = root / "truth" / "truth.gpkg"
    pools = gpd.read_file(gpkg, layer="pools")
    sites = gpd.read_file(gpkg, layer="sites")
    clear = gpd.read_file(gpkg, layer="site_clearings")
    for frame, cols in ((pools, ("first_date", "last_date")), (sites, ("first_date", "last_date")),
                        (clear, ("date",))):
        for c in cols:
            frame[c] = _dates(frame[c])
    return pools, sites, clear


def truth_per_date(pools, sites, clear, days, grid, site_cfg, valid, transform) -> tuple[
        pd.DataFrame, pd.DataFrame]:
    """Per date: truth pools, raw/grouped/seeable sites; per (site, date): presence, observed."""
    rows, presence = [], []
    for t, d in enumerate(days):
        pools_d = pools[(pools["first_date"] <= d) & (pools["last_date"] >= d)]
        pools_d = pools_d[pools_d.geometry.centroid.within(grid)]
        live = sites[(sites["first_date"] <= d) & (sites["last_date"] >= d)]["site_id"]
        cl = clear[(clear["date"] == d) & clear["site_id"].isin(live)]
        cl = cl[cl.intersects(grid)]
        obs = _observed(list(cl.geometry), valid[t], transform)
        for sid, f in zip(cl["site_id"], obs, strict=True):
            presence.append({"truth_site": int(sid), "t": t, "observed": f})
        clipped = cl.assign(geometry=cl.intersection(grid), kind="mining")
        members = pools_d[pools_d["site_id"].isin(cl["site_id"])]
        grouped = group_sites(members[["geometry"]], clipped[["kind", "geometry"]],
                              config=site_cfg) if len(cl) else []
        cent = pools_d.geometry.centroid
        col, row = ~transform * (cent.x.to_numpy(), cent.y.to_numpy())
        row = np.clip(np.floor(row).astype(int), 0, valid.shape[1] - 1)
        col = np.clip(np.floor(col).astype(int), 0, valid.shape[2] - 1)
        rows.append({"t": t, "date": d, "truth_pools": len(pools_d),
                     "truth_pools_seen": int(valid[t][row, col].sum()), "truth_raw": len(cl),
                     "truth": len(grouped)})
    per_date = pd.DataFrame(rows)
    presence = pd.DataFrame(presence, columns=["truth_site", "t", "observed"])
    # seeable: observed (>= min_observed_fraction) on some date from first_date to t
    seen = presence.assign(ok=presence["observed"] >= site_cfg.min_observed_fraction)
    seen = seen.sort_values(["truth_site", "t"])
    seen["ever"] = seen.groupby("truth_site")["ok"].cummax()
    per_date["seeable"] = [int(seen.loc[seen["t"] == t, "ever"].sum())
                           for t in per_date["t"]]
    return per_date, presence


# --------------------------------------------------------------------------------- scoring


def _id_components(result) -> dict[str, str]:
    """Site id -> a representative id of its merge/split family (union-find)."""
    parent: dict[str, str] = {}

    def find(a: str) -> str:
        parent.setdefault(a, a)
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    def join(a: str, b: str) -> None:
        parent[find(a)] = find(b)

    for sid, into in zip(result.sites["site_id"], result.sites["merged_into"], strict=True):
        find(sid)
        if isinstance(into, str) and into:
            join(sid, into)
    for sid, others in zip(result.events["site_id"], result.events["other_ids"], strict=True):
        for o in str(others).split(","):
            if o:
                join(sid, o)
    return {s: find(s) for s in parent}


def first_seen_scores(result, tsites, presence, days, site_cfg) -> dict:
    """Each persistent detected site against the truth sites its footprint overlaps."""
    det = result.sites[result.sites["persistent"]]
    first_obs: dict[int, pd.Timestamp] = {}
    ok = presence[presence["observed"] >= site_cfg.min_observed_fraction]
    for sid, grp in ok.groupby("truth_site"):
        first_obs[int(sid)] = days[int(grp["t"].min())]
    present = set(presence["truth_site"].astype(int))
    ts = tsites[tsites["site_id"].isin(present)]
    counts = {"n": len(det), "exact": 0, "cloud": 0, "late": 0, "early": 0, "no_truth": 0}
    wrong = []
    for _, s in det.iterrows():
        hit = ts[ts.intersects(s.geometry)]
        if hit.empty:
            counts["no_truth"] += 1
            continue
        want = hit["first_date"].min()
        visible = min((first_obs.get(int(i), pd.NaT) for i in hit["site_id"]),
                      default=pd.NaT)
        got = s["first_seen"]
        if got == want:
            counts["exact"] += 1
        elif pd.notna(visible) and got == visible and visible > want:
            counts["cloud"] += 1
        else:
            counts["late" if got > want else "early"] += 1
            wrong.append(f"{s['site_id']} first_seen {got:%Y-%m-%d}, truth "
                         f"{want:%Y-%m-%d} (first observed "
                         f"{'never' if pd.isna(visible) else f'{visible:%Y-%m-%d}'})")
    counts["right"] = counts["exact"] + counts["cloud"]
    counts["scored"] = counts["n"] - counts["no_truth"]
    counts["wrong"] = wrong
    return counts


def id_switches(result, clear, presence, days) -> dict:
    """Truth sites present on >= 2 dates: how many detected IDs cover them over those dates."""
    family = _id_components(result)
    det = pd.concat([result.pools[["date", "site_id", "geometry"]],
                     result.clearings[["date", "site_id", "geometry"]]], ignore_index=True)
    det = gpd.GeoDataFrame(det[det["site_id"].notna()], geometry="geometry",
                           crs=result.pools.crs)
    out = {"n": 0, "one_id": 0, "documented": 0, "switch": 0, "detail": []}
    for sid, grp in presence.groupby("truth_site"):
        if len(grp) < 2:
            continue
        ids: set[str] = set()
        dates_hit = 0
        for t in grp["t"]:
            d = days[int(t)]
            geom = clear.loc[(clear["site_id"] == sid) & (clear["date"] == d), "geometry"]
            here = det[(det["date"] == d) & det.intersects(geom.iloc[0])]
            if len(here):
                dates_hit += 1
                ids |= set(here["site_id"])
        if dates_hit < 2:
            continue  # not seen on two dates: nothing to switch
        out["n"] += 1
        if len(ids) == 1:
            out["one_id"] += 1
        elif len({family.get(i, i) for i in ids}) == 1:
            out["documented"] += 1
        else:
            out["switch"] += 1
            out["detail"].append(f"truth site {sid}: {', '.join(sorted(ids))}")
    return out


def one_seed(seed: int, run: Run, work: Path) -> dict:
    """Generate, analyse and score one archive."""
    root = work / f"{run.layout}_{seed}"
    t0 = time.perf_counter()
    grid = make_grid(ORIGIN, crs=CRS, resolution_m=run.resolution_m, shape=run.shape)
    world = make_world(bounds=grid.bounds, crs=CRS, seed=seed, dates=DATES, n_sites=run.n_sites,
                       clouds=CLOUDS, nodata_edges=False)
    make_archive(root / "archive", world=world, resolution_m=run.resolution_m,
                 layout=run.layout, shape=run.shape, origin_lonlat=ORIGIN, crs=CRS,
                 overwrite=True)
    t_make = time.perf_counter() - t0
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = minewatch.analyze(root / "archive", out_dir=root / "out", report=False,
                                   overwrite=True)
    t_analyze = time.perf_counter() - t0
    site_cfg = result.config.sites
    days = result.dates
    valid = result.valid.values.astype(bool)
    transform = result.valid.rio.transform()
    grid = shapely.box(*result.valid.rio.bounds())
    tpools, tsites, tclear = load_truth(root / "archive")
    per_date, presence = truth_per_date(tpools, tsites, tclear, days, grid, site_cfg, valid,
                                        transform)
    series = result.timeseries.set_index("date").reindex(days)
    per_date["sites"] = series["sites"].to_numpy()
    per_date["pools"] = series["pools"].to_numpy()
    per_date["sites_unobserved"] = series["sites_unobserved"].to_numpy()
    per_date["sites_backfilled"] = series["sites_backfilled"].to_numpy()
    per_date["pools_backfilled"] = series["pools_backfilled"].to_numpy()
    per_date["valid_fraction"] = series["valid_fraction"].to_numpy()
    c = CLOUDY
    no_dip = per_date["sites"][c] >= min(per_date["sites"][c - 1], per_date["sites"][c + 1])
    return {
        "seed": seed, "per_date": per_date,
        "first_seen": first_seen_scores(result, tsites, presence, days, site_cfg),
        "ids": id_switches(result, tclear, presence, days),
        "cloudy": {"no_dip": bool(no_dip),
                   "unobserved": int(per_date["sites_unobserved"][c]),
                   "valid_fraction": float(per_date["valid_fraction"][c])},
        "n_persistent": int(result.sites["persistent"].sum()),
        "events": len(result.events),
        "make_s": t_make, "analyze_s": t_analyze,
    }


# --------------------------------------------------------------------------------- report


def _verdict(ok: bool | None) -> str:
    return "—" if ok is None else ("PASS" if ok else "MISS")


def _count_table(rows: list[dict], what: str, truth: str, extra: str | None) -> pd.DataFrame:
    days = rows[0]["per_date"]["date"]
    labels = [f"{d:%Y-%m-%d}" + ("*" if t == CLOUDY else "") for t, d in enumerate(days)]
    table = {}
    for r in rows:
        pdd = r["per_date"]
        cells = [f"{int(a)}/{int(b)}" + (f" [{int(e)}]" if extra else "")
                 for a, b, e in zip(pdd[what], pdd[truth], pdd[extra] if extra else pdd[truth],
                                    strict=True)]
        table[str(r["seed"])] = cells
    mean_det = np.mean([r["per_date"][what] for r in rows], axis=0)
    mean_truth = np.mean([r["per_date"][truth] for r in rows], axis=0)
    table["mean"] = [f"{a:.1f}/{b:.1f}" for a, b in zip(mean_det, mean_truth, strict=True)]
    err = np.where(mean_truth > 0, 100 * (mean_det - mean_truth) / np.maximum(mean_truth, 1e-9),
                   np.nan)
    table["error %"] = [f"{e:+.0f}" for e in err]
    out = pd.DataFrame(table, index=labels).T
    out.attrs["err"] = err
    return out


def report(name: str, run: Run, rows: list[dict], seeds_text: str) -> list[tuple]:
    """Print one resolution's tables; return (target, figure, verdict) rows for the summary."""
    print(f"\n## {name} — layout {run.layout!r} ({run.note}), {run.shape[0]}×{run.shape[1]} px, "
          f"n_sites={run.n_sites}, seeds {seeds_text}")
    summary = []
    sites = _count_table(rows, "sites", "truth", "truth_raw")
    print("sites per date: detected / truth grouped at the linking distance [raw truth sites]"
          "  (* = cloudy date)")
    print(sites.to_string())
    seeable = np.mean([r["per_date"]["seeable"] for r in rows], axis=0)
    mean_det = np.mean([r["per_date"]["sites"] for r in rows], axis=0)
    vs_seeable = 100 * (mean_det - seeable) / np.maximum(seeable, 1e-9)
    print("  truth sites seeable (observed since first_date), mean: "
          + "  ".join(f"{v:.1f}" for v in seeable) + "; error against them: "
          + ", ".join(f"{e:+.0f} %" for e in vs_seeable))
    bf = np.mean([r["per_date"]["sites_backfilled"] for r in rows], axis=0)
    print("  of the detected, back-filled (born under cloud, first seen later), mean: "
          + "  ".join(f"{v:.1f}" for v in bf))
    err = sites.attrs["err"]
    worst = float(np.nanmax(np.abs(err)))
    ok = None if run.site_tol is None else bool(worst <= 100 * run.site_tol)
    print(f"  worst date {worst:.0f} % (target ±{100 * run.site_tol:.0f} %): {_verdict(ok)}; "
          f"against the seeable sites: worst {np.nanmax(np.abs(vs_seeable)):.0f} %")
    summary.append((f"sites per date within ±{100 * run.site_tol:.0f} %", f"worst {worst:.0f} %",
                    _verdict(ok)))
    pools = _count_table(rows, "pools", "truth_pools", None)
    print("pools per date: detected / truth pools present")
    print(pools.to_string())
    perr = float(np.nanmax(np.abs(pools.attrs["err"])))
    pok = None if run.pool_tol is None else bool(perr <= 100 * run.pool_tol)
    tol = f"±{100 * run.pool_tol:.0f} %" if run.pool_tol else "reported only"
    seen = np.mean([r["per_date"]["truth_pools_seen"] for r in rows], axis=0)
    print("  truth pools under valid pixels (centre), mean: "
          + "  ".join(f"{v:.1f}" for v in seen))
    pbf = np.mean([r["per_date"]["pools_backfilled"] for r in rows], axis=0)
    print("  of the detected, back-filled, mean: " + "  ".join(f"{v:.1f}" for v in pbf))
    clear = [t for t in range(len(DATES)) if CLOUDS[t] == 0]
    print(f"  error on the cloud-free dates ({', '.join(DATES[t] for t in clear)}): "
          + ", ".join(f"{pools.attrs['err'][t]:+.0f} %" for t in clear))
    print(f"  worst date {perr:.0f} % (target {tol}): {_verdict(pok)}")
    summary.append((f"pools per date ({tol})", f"worst {perr:.0f} %", _verdict(pok)))

    fs = {k: sum(r["first_seen"][k] for r in rows) for k in
          ("n", "exact", "cloud", "late", "early", "no_truth", "right", "scored")}
    share = fs["right"] / fs["scored"] if fs["scored"] else np.nan
    fok = None if run.first_target is None else bool(share >= run.first_target)
    print(f"first_seen of persistent sites: {fs['right']} of {fs['scored']} right ({share:.0%}; "
          f"{fs['exact']} exact, {fs['cloud']} the first observed date after a cloudy birth), "
          f"{fs['late']} late, {fs['early']} early; {fs['no_truth']} persistent sites over no "
          f"truth site (false)"
          + (f" — target ≥ {run.first_target:.0%}: {_verdict(fok)}" if run.first_target
             else ""))
    for r in rows:
        for w in r["first_seen"]["wrong"]:
            print(f"    seed {r['seed']}: {w}")
    summary.append(("first_seen right" + (f" ≥ {run.first_target:.0%}" if run.first_target
                                          else ""), f"{share:.0%} of {fs['scored']}",
                    _verdict(fok)))

    ids = {k: sum(r["ids"][k] for r in rows) for k in ("n", "one_id", "documented", "switch")}
    iok = ids["switch"] == 0
    print(f"IDs: {ids['n']} truth sites seen on ≥ 2 dates: {ids['one_id']} one ID, "
          f"{ids['documented']} several IDs joined by a recorded merge/split, {ids['switch']} "
          f"undocumented switches: {_verdict(iok)}")
    for r in rows:
        for w in r["ids"]["detail"]:
            print(f"    seed {r['seed']}: {w}")
    summary.append(("no ID switch", f"{ids['switch']} of {ids['n']}", _verdict(iok)))

    cl = [r["cloudy"] for r in rows]
    cok = (all(c["no_dip"] and c["unobserved"] > 0 and c["valid_fraction"] < 1 for c in cl)
           if run.cloud_mask else None)
    print(f"cloudy date {pd.Timestamp(DATES[CLOUDY]):%Y-%m-%d}: valid_fraction "
          + ", ".join(f"{c['valid_fraction']:.2f}" for c in cl) + "; sites_unobserved "
          + ", ".join(str(c["unobserved"]) for c in cl) + "; no dip in "
          + f"{sum(c['no_dip'] for c in cl)} of {len(cl)} seeds: {_verdict(cok)}"
          + ("" if run.cloud_mask else " (no cloud mask in this layout: not applicable)"))
    summary.append(("cloudy date: no dip, sites_unobserved > 0",
                    f"{sum(c['no_dip'] and c['unobserved'] > 0 for c in cl)} of {len(cl)} seeds",
                    _verdict(cok)))
    if run.change_key:
        seeds = sorted(r["seed"] for r in rows)
        q = _change_accuracy(run.change_key, seeds)
        print(f"change-map changed-pixel class accuracy (benchmarks/accuracy_change.py's scenes, "
              f"seeds {seeds[0]}-{seeds[-1]}): {q:.3f} (target ≥ 0.90)")
        summary.append(("change map ≥ 0.90", f"{q:.3f}", _verdict(q >= 0.90)))
    print(f"runtime per seed: make_archive {np.mean([r['make_s'] for r in rows]):.1f} s, "
          f"analyze {np.mean([r['analyze_s'] for r in rows]):.1f} s")
    return summary


def parse_seeds(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        a, _, b = part.partition("-")
        out += list(range(int(a), int(b or a) + 1))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="100-104", help="e.g. 100-104 or 0-4 or 1,5,7")
    parser.add_argument("--only", choices=["10", "3"], help="one resolution only (m)")
    parser.add_argument("--layout", nargs="+", choices=sorted({r.layout for r in RUNS.values()}),
                        help="only the runs of these archive layouts (e.g. sentinel2)")
    parser.add_argument("--keep", help="write the archives and outputs here (kept)")
    args = parser.parse_args()
    seeds = parse_seeds(args.seeds)
    print(f"seeds {args.seeds}; dates {', '.join(DATES)}; cloud cover "
          f"{', '.join(f'{c:g}' for c in CLOUDS)} (cloudy date: {DATES[CLOUDY]}); no swath "
          f"edge; analyze() defaults (preset of the sensor, SiteConfig())")
    started = time.perf_counter()
    summaries = {}
    with tempfile.TemporaryDirectory(prefix="minewatch-accuracy-") as tmp:
        work = Path(args.keep) if args.keep else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        for name, run in RUNS.items():
            if args.only and f"{run.resolution_m:g}" != args.only:
                continue
            if args.layout and run.layout not in args.layout:
                continue
            rows = [one_seed(s, run, work) for s in seeds]
            summaries[name] = report(name, run, rows, args.seeds)
    print("\n## Summary against issue 5's targets")
    for name, summary in summaries.items():
        print(f"{name}:")
        for target, figure, verdict in summary:
            print(f"  {target:45s} {figure:>16s}  {verdict}")
    print(f"\ntotal {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
