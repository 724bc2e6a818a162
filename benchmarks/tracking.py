"""Tracking speed: ``track_sites`` on 500 sites × 12 dates (target: well under 1 s per date).

Builds (seeded, in memory) a world in UTM 47N: ``--sites`` sites on a jittered 600 m grid
(13.8 km × 13.8 km for 500), each with 4–20 square pools (6–14 m) and a mining clearing; 60 %
exist from the first date, the others appear on a random date; they grow, 15 % fade out, 5 %
of pools are missed on any date; two dates are partly cloudy in a 10 m ``valid`` mask
(1380 × 1380 px per date for 500 sites). Then runs :func:`minewatch.sites.track_sites` with
the defaults (grouping per date, matching through the spatial index, observed fractions from
``valid``), ``--repeat`` times, and prints the best wall-clock time per date (with the CPU
time of that run, which a busy machine inflates less) and the peak memory; then
:func:`minewatch.timeseries.site_timeseries` on the result with and without ``valid`` (with
it: valid fractions and the back-fill of births under cloud).

    .venv/bin/python benchmarks/tracking.py                       # 500 sites × 12 dates
    .venv/bin/python benchmarks/tracking.py --sites 2000 --dates 24
"""

from __future__ import annotations

import argparse
import time

import geopandas as gpd
import numpy as np
import pandas as pd
import rioxarray  # noqa: F401  (registers .rio)
import xarray as xr
from _harness import measured
from affine import Affine
from shapely import box

from minewatch.sites import track_sites
from minewatch.timeseries import site_timeseries

UTM = "EPSG:32647"
X0, Y0 = 420000.0, 2830000.0
RES = 10.0
SPACING_M = 600.0


def build(n_sites: int, n_dates: int, seed: int = 0) -> tuple[gpd.GeoDataFrame,
                                                              gpd.GeoDataFrame, xr.DataArray]:
    """Pools, clearings (one row per object per date) and the valid mask of the world."""
    rng = np.random.default_rng(seed)
    side = int(np.ceil(np.sqrt(n_sites)))
    extent = side * SPACING_M
    dates = pd.date_range("2020-01-15", periods=n_dates, freq="MS") + pd.Timedelta(days=14)
    cells = rng.permutation(side * side)[:n_sites]
    centres = np.column_stack([(cells % side + 0.5) * SPACING_M,
                               (cells // side + 0.5) * SPACING_M])
    centres += rng.uniform(-80, 80, centres.shape)
    pool_rows: dict[str, list] = {"date": [], "area_m2": [], "confidence": [], "geometry": []}
    clear_rows: dict[str, list] = {"date": [], "area_m2": [], "kind": [], "geometry": []}
    for cx, cy in centres:
        n = int(rng.integers(4, 21))
        offsets = rng.uniform(-90, 90, (n, 2))
        sizes = rng.uniform(6, 14, n)
        first = 0 if rng.random() < 0.6 else int(rng.integers(0, n_dates))
        last = n_dates - 1 if rng.random() < 0.85 else int(rng.integers(first, n_dates))
        for t in range(first, last + 1):
            k = min(n, 2 + (t - first) * 2)
            for (ox, oy), s in zip(offsets[:k], sizes[:k], strict=True):
                if rng.random() < 0.05:  # a pool missed on this date
                    continue
                x, y = X0 + cx + ox, Y0 + cy + oy
                pool_rows["date"].append(dates[t])
                pool_rows["area_m2"].append(s * s)
                pool_rows["confidence"].append(float(rng.uniform(0.5, 1.0)))
                pool_rows["geometry"].append(box(x, y, x + s, y + s))
            half = 60 + 5 * k
            clear_rows["date"].append(dates[t])
            clear_rows["area_m2"].append((2 * half) ** 2)
            clear_rows["kind"].append("mining")
            clear_rows["geometry"].append(box(X0 + cx - half, Y0 + cy - half,
                                              X0 + cx + half, Y0 + cy + half))
    pools = gpd.GeoDataFrame(pool_rows, geometry="geometry", crs=UTM)
    clearings = gpd.GeoDataFrame(clear_rows, geometry="geometry", crs=UTM)

    n_px = int(extent / RES)
    data = np.ones((n_dates, n_px, n_px), dtype=bool)
    for t in (n_dates // 3, 2 * n_dates // 3):  # two partly cloudy dates
        for _ in range(6):
            r, c = rng.integers(0, n_px, 2)
            half = int(rng.integers(50, 200))
            data[t, max(r - half, 0):r + half, max(c - half, 0):c + half] = False
    xs = X0 + (np.arange(n_px) + 0.5) * RES
    ys = Y0 + extent - (np.arange(n_px) + 0.5) * RES
    valid = xr.DataArray(data, dims=("time", "y", "x"), coords={"time": dates, "y": ys, "x": xs})
    valid = valid.rio.write_crs(UTM).rio.write_transform(Affine(RES, 0, X0, 0, -RES, Y0 + extent))
    return pools, clearings, valid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=500)
    parser.add_argument("--dates", type=int, default=12)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    pools, clearings, valid = build(args.sites, args.dates)
    print(f"{args.sites} sites × {args.dates} dates: {len(pools)} pool rows, "
          f"{len(clearings)} clearing rows, valid {valid.shape} (time, y, x)")
    best = None
    for _ in range(args.repeat):
        cpu0 = time.process_time()
        run = measured(lambda: track_sites(pools, clearings, valid=valid))
        run["cpu_s"] = time.process_time() - cpu0
        best = run if best is None or run["seconds"] < best["seconds"] else best
    tracks = best["result"]
    present = tracks.history["status"].isin(["new", "active", "expanded"])
    print(f"tracked: {len(tracks.sites)} sites, {present.sum() / args.dates:.0f} present per "
          f"date on average, "
          f"{(tracks.history['status'] == 'unobserved').sum()} unobserved, "
          f"{len(tracks.events)} merge/split events")
    print(f"track_sites: {best['seconds']:.2f} s in all, "
          f"{best['seconds'] / args.dates:.3f} s per date (best of {args.repeat}; CPU "
          f"{best['cpu_s'] / args.dates:.3f} s per date); peak RSS {best['peak_mb']:.0f} MB")

    # the time series after it: with the valid mask (observed fractions, back-fill of births
    # under cloud) against without (the baseline, same process)
    times = {}
    for name, kwargs in (("without valid", {}), ("with valid", {"valid": valid})):
        times[name] = min(measured(lambda kw=kwargs: site_timeseries(tracks, **kw))["seconds"]
                          for _ in range(args.repeat))
    table = site_timeseries(tracks, valid=valid)
    print(f"site_timeseries: {times['without valid']:.2f} s without valid, "
          f"{times['with valid']:.2f} s with it (valid_fraction, back-fill; "
          f"{times['with valid'] / times['without valid']:.2f} x); back-filled sites "
          f"{table['sites_backfilled'].sum():.1f}, pools {table['pools_backfilled'].sum():.1f} "
          f"over all dates")


if __name__ == "__main__":
    main()
