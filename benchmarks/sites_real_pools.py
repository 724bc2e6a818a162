"""Site counts on 2,497 real leaching-pool positions near Pang War, Kachin, by linking distance.

Data: ``tests/data/kachin_pools/pools_refined.csv`` (oballinger/mining-detector, MIT,
© 2022 Earth Genome, with Global Witness). Published references: Global Witness counted
"over 2,700 pools at almost 300 locations" (March 2022, Planet imagery); the dataset's own
``myanmar_positives.geojson`` holds 188 clusters of more than 3 pools.

Run: ``.venv/bin/python benchmarks/sites_real_pools.py``
"""

from __future__ import annotations

import time
from pathlib import Path

import geopandas as gpd
import pandas as pd

from minewatch.config._sites import SiteConfig
from minewatch.sites import group_sites

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "kachin_pools" / "pools_refined.csv"
DISTANCES_M = (25, 50, 75, 100, 150, 200, 300, 500)


def load_pools() -> gpd.GeoDataFrame:
    """The real pool points as a GeoDataFrame in EPSG:32647 (UTM 47N)."""
    df = pd.read_csv(DATA)
    return gpd.GeoDataFrame(df[["type"]], geometry=gpd.GeoSeries.from_wkt(df["geom"]),
                            crs="EPSG:32647")


def main() -> None:
    pools = load_pools()
    print(f"{len(pools)} real pools; published: ~300 locations (Global Witness), "
          f"188 clusters of >3 pools (dataset)")
    print(f"{'link m':>7} {'sites':>6} {'1 pool':>7} {'2-3':>5} {'>3':>5} {'max':>5} "
          f"{'median':>7} {'s':>6}")
    for d in DISTANCES_M:
        t0 = time.perf_counter()
        sites = group_sites(pools, config=SiteConfig(linking_distance_m=float(d)))
        dt = time.perf_counter() - t0
        n = sites["n_pools"]
        print(f"{d:>7} {len(sites):>6} {(n == 1).sum():>7} {n.between(2, 3).sum():>5} "
              f"{(n > 3).sum():>5} {n.max():>5} {n.median():>7.0f} {dt:>6.2f}")


if __name__ == "__main__":
    main()
