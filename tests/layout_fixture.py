"""A small, consistent output folder in the layout ``minewatch.analyze`` writes.

For tests of what reads that layout (maps, plots, report, web map) without running the
whole pipeline. Every file is real (GeoTIFFs through rasterio, GeoPackages through pyogrio)
and the numbers agree with each other (site counts in ``timeseries.csv`` follow
``site_history.csv``, which follows ``pools.gpkg``), so a reader that mixes files up shows.

Three sites near Pang War (UTM 47N) over four dates; the third date is half clouded
(site S0002 ``unobserved`` there); S0003 appears on the last date (provisional).
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import shapely
from rasterio.transform import from_origin

CRS = "EPSG:32647"
ORIGIN = (427_000.0, 2_860_000.0)  # upper-left (x, y), ~98.27 E 25.86 N
RES = 10.0
SIZE = 200  # pixels a side -> a 2 km square
DATES = [pd.Timestamp(d) for d in ("2021-01-15", "2022-01-20", "2023-01-18", "2024-01-22")]

#: site id -> (centre x, centre y, first date index, pools per date)
SITES = {
    "S0001": (427_500.0, 2_859_500.0, 0, [4, 6, 9, 12]),
    "S0002": (428_300.0, 2_858_700.0, 1, [0, 3, 0, 5]),  # unobserved on date 2 (cloud)
    "S0003": (427_400.0, 2_858_400.0, 3, [0, 0, 0, 2]),  # first seen on the last date
}
CLOUDY = 2  # index of the half-clouded date (east half)


def _pool(x: float, y: float, size: float = 12.0) -> shapely.Polygon:
    return shapely.box(x - size / 2, y - size / 2, x + size / 2, y + size / 2)


def _frames() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, pd.DataFrame]:
    pools, clearings, history = [], [], []
    for site, (cx, cy, first, counts) in SITES.items():
        for t, date in enumerate(DATES):
            if t < first:
                continue
            observed = not (t == CLOUDY and cx > ORIGIN[0] + SIZE * RES / 2)
            n = counts[t] if observed else 0
            cleared = 0.0
            if observed and n:
                for k in range(n):
                    centre = (cx - 60 + 25 * (k % 5), cy + 40 - 25 * (k // 5))
                    pools.append({"date": date, "site_id": site, "area_m2": 144.0,
                                  "confidence": 0.55 + (0.04 * k) % 0.45,
                                  "geometry": _pool(*centre)})
                half = 80.0 + 10 * n
                plot = shapely.box(cx - half, cy - half, cx + half, cy + half)
                cleared = plot.area
                clearings.append({"date": date, "area_m2": cleared, "kind": "mining",
                                  "site_id": site, "geometry": plot})
            if not observed:
                status = "unobserved"
            elif t == first:
                status = "new"
            elif n > counts[t - 1] * 1.25:
                status = "expanded"
            else:
                status = "active"
            history.append({"site_id": site, "date": date, "status": status, "n_pools": n,
                            "cleared_area_m2": cleared, "pool_area_m2": 144.0 * n,
                            "observed_fraction": 0.0 if not observed else 1.0})
    pools = gpd.GeoDataFrame(pools, geometry="geometry", crs=CRS)
    clearings = gpd.GeoDataFrame(clearings, geometry="geometry", crs=CRS)
    return pools, clearings, pd.DataFrame(history)


def _write_rgb(path: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    base = rng.normal(0, 1, (3, SIZE, SIZE)).cumsum(axis=2).cumsum(axis=1)
    base = (base - base.min()) / (np.ptp(base) or 1)
    rgb = np.stack([60 + 60 * base[0], 90 + 70 * base[1], 50 + 40 * base[2]]).astype("uint8")
    for _, (cx, cy, _, _) in SITES.items():  # bare ground at the sites
        col, row = int((cx - ORIGIN[0]) / RES), int((ORIGIN[1] - cy) / RES)
        rgb[:, row - 10:row + 10, col - 10:col + 10] = np.array([190, 160, 130])[:, None, None]
    profile = {"driver": "GTiff", "width": SIZE, "height": SIZE, "count": 3, "dtype": "uint8",
               "crs": CRS, "transform": from_origin(*ORIGIN, RES, RES), "nodata": 0,
               "photometric": "RGB", "tiled": True, "blockxsize": 128, "blockysize": 128,
               "compress": "deflate"}
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(rgb)


def make_out_dir(out: Path) -> Path:
    """Write the output layout into ``out`` and return it."""
    out = Path(out)
    (out / "change").mkdir(parents=True, exist_ok=True)
    (out / "imagery").mkdir(exist_ok=True)
    pools, clearings, history = _frames()
    pools.to_file(out / "pools.gpkg", layer="pools")
    clearings.to_file(out / "clearings.gpkg", layer="clearings")

    rows = []
    for site, group in history.groupby("site_id"):
        seen = group[group["status"].isin(["new", "active", "expanded"])]
        hull = shapely.unary_union(list(clearings.loc[clearings["site_id"] == site].geometry))
        centre = gpd.GeoSeries([hull.centroid], crs=CRS).to_crs(4326).iloc[0]
        rows.append({"site_id": site, "first_seen": seen["date"].min(),
                     "last_seen": seen["date"].max(), "n_dates_seen": len(seen),
                     "n_pools_max": int(group["n_pools"].max()),
                     "area_m2_max": float((group["cleared_area_m2"]).max()),
                     "persistent": len(seen) >= 2, "provisional": len(seen) < 2,
                     "status_last": group["status"].iloc[-1], "lon": centre.x, "lat": centre.y,
                     "geometry": hull.convex_hull.buffer(5.0)})
    sites = gpd.GeoDataFrame(rows, geometry="geometry", crs=CRS)
    sites.to_file(out / "sites.gpkg", layer="sites")
    history.to_csv(out / "site_history.csv", index=False, date_format="%Y-%m-%d")
    pd.DataFrame([{"date": DATES[3], "kind": "merge", "site_id": "S0001",
                   "other_ids": "S0004"}]).to_csv(out / "events.csv", index=False,
                                                  date_format="%Y-%m-%d")

    ts = []
    for t, date in enumerate(DATES):
        h = history[history["date"] == date]
        counted = h[h["site_id"].isin(sites.loc[sites["persistent"] | sites["provisional"],
                                                "site_id"])]
        n_sites = len(counted)
        n_pools = int(h["n_pools"].sum())
        area = float(h["cleared_area_m2"].sum())
        ts.append({"date": date, "sites": n_sites, "pools": n_pools, "cleared_area_m2": area,
                   "new_sites": int((h["status"] == "new").sum()),
                   "valid_fraction": 0.5 if t == CLOUDY else 1.0,
                   "sites_unobserved": int((h["status"] == "unobserved").sum()),
                   "sites_low": max(n_sites - 1, 0), "sites_high": n_sites,
                   "pools_low": int(n_pools * 0.8), "pools_high": n_pools,
                   "cleared_area_m2_low": area * 0.9, "cleared_area_m2_high": area * 1.1})
    pd.DataFrame(ts).to_csv(out / "timeseries.csv", index=False, date_format="%Y-%m-%d")

    for t in (0, len(DATES) - 1):
        _write_rgb(out / "imagery" / f"{DATES[t]:%Y-%m-%d}_rgb.tif", seed=t)

    # change map first -> last: new clearing where a site's last-date plot is not in the first
    d1, d2 = DATES[0], DATES[-1]
    stem = f"{d1:%Y-%m-%d}_{d2:%Y-%m-%d}"
    change = np.ones((SIZE, SIZE), dtype="uint8")
    first = clearings[clearings["date"] == d1]
    last = clearings[clearings["date"] == d2]
    transform = from_origin(*ORIGIN, RES, RES)
    from rasterio.features import rasterize, shapes

    was = rasterize(list(first.geometry), (SIZE, SIZE), transform=transform, dtype="uint8")
    now = rasterize(list(last.geometry), (SIZE, SIZE), transform=transform, dtype="uint8")
    change[(now == 1) & (was == 0)] = 2
    change[(now == 1) & (was == 1)] = 4
    with rasterio.open(out / "change" / f"{stem}.tif", "w", driver="GTiff", width=SIZE,
                       height=SIZE, count=1, dtype="uint8", crs=CRS, transform=transform,
                       nodata=0) as dst:
        dst.write(change, 1)
        dst.write_colormap(1, {0: (0, 0, 0, 0), 1: (240, 240, 240, 255),
                               2: (230, 159, 0, 255), 3: (0, 114, 178, 255),
                               4: (213, 94, 0, 255), 5: (0, 158, 115, 255)})
    names = {1: "no mining", 2: "new clearing", 3: "new pools", 4: "persistent mining",
             5: "regrowth"}
    polys = [{"class": int(v), "name": names[int(v)], "geometry": shapely.geometry.shape(g)}
             for g, v in shapes(change, mask=change > 1, transform=transform)]
    polys = gpd.GeoDataFrame(polys, geometry="geometry", crs=CRS)
    polys["area_m2"] = polys.area
    polys.to_file(out / "change" / f"{stem}.gpkg", layer=stem)
    values, counts = np.unique(change, return_counts=True)
    pd.DataFrame({"class": values, "name": [names.get(int(v), "no data") for v in values],
                  "pixels": counts, "area_m2": counts * RES * RES}).to_csv(
        out / "change" / f"{stem}_areas.csv", index=False)

    pd.DataFrame({"scene_id": [f"S2_{d:%Y%m%d}" for d in DATES], "date": DATES,
                  "sensor": "sentinel2", "status": "used", "reason": ""}).to_csv(
        out / "scenes.csv", index=False, date_format="%Y-%m-%d")
    manifest = {
        "minewatch_version": "0.1.0", "created": "2026-11-24T12:00:00+00:00",
        "archive": "sample_tiles", "aoi": "sample_tiles/aoi.geojson",
        "inputs": [{"path": f"S2_{d:%Y%m%d}.tif", "sha256": "0" * 64, "bytes": 1000}
                   for d in DATES],
        "config": {"preset_name": "sentinel2", "resolution_m": 10.0},
        "versions": {"minewatch": "0.1.0", "rasterio": rasterio.__version__},
        "timings_s": {"total": 1.0}, "scenes": {"used": 4, "skipped": 0},
        "sensor": "sentinel2", "resolution_m": RES, "crs": CRS,
        "dates": [f"{d:%Y-%m-%d}" for d in DATES],
        "outputs": sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return out
