"""Real leaching-pool positions near Pang War, the source of every generated site layout.

The shipped table ``minewatch/data/kachin_pools_clusters.csv`` is derived from
``pools_refined.csv`` of the repository oballinger/mining-detector (commit 8388a5d, MIT licence,
© 2022 Earth Genome, made for an investigation with Global Witness): 2,497 pool positions in
EPSG:32647, grouped into clusters by single linkage at :data:`LINK_DISTANCE_M`. Columns:
``cluster`` (int), ``e``/``n`` (UTM 47N easting/northing, m, 0.1 m precision), ``type``
(``square``/``circular``). :func:`derive_pool_table` rebuilds it from the original CSV.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources
from os import PathLike
from pathlib import Path

import numpy as np
import pandas as pd

#: Pools closer than this (m) belong to the same cluster (single linkage).
LINK_DISTANCE_M = 40.0

#: File name of the derived table inside ``minewatch/data``.
TABLE_NAME = "kachin_pools_clusters.csv"

#: CRS of the table coordinates.
TABLE_CRS = "EPSG:32647"


def derive_pool_table(source_csv: str | PathLike[str], out_csv: str | PathLike[str]) -> Path:
    """Rebuild the shipped cluster table from the original ``pools_refined.csv``.

    Parameters
    ----------
    source_csv
        ``pools_refined.csv`` (columns ``x``, ``y``, ``type``, ``geom`` as WKT in EPSG:32647).
    out_csv
        Where to write the derived table.

    Returns
    -------
    pathlib.Path
        ``out_csv``.
    """
    import scipy.sparse as sp
    import shapely
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    src = pd.read_csv(source_csv)
    xy = shapely.get_coordinates(shapely.from_wkt(src["geom"].to_numpy()))
    pairs = cKDTree(xy).query_pairs(LINK_DISTANCE_M, output_type="ndarray")
    graph = sp.coo_matrix(
        (np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(len(xy), len(xy))
    )
    _, labels = connected_components(graph, directed=False)
    # Number clusters by their first pool in northing/easting order: stable across runs.
    order = np.lexsort((xy[:, 0], -xy[:, 1]))
    remap: dict[int, int] = {}
    for i in order:
        remap.setdefault(int(labels[i]), len(remap))
    table = pd.DataFrame(
        {
            "cluster": [remap[int(v)] for v in labels],
            "e": np.round(xy[:, 0], 1),
            "n": np.round(xy[:, 1], 1),
            "type": src["type"].to_numpy(),
        }
    ).iloc[order]
    out = Path(out_csv)
    table.to_csv(out, index=False, float_format="%.1f")
    return out


@dataclass(frozen=True)
class RealClusters:
    """Real pool clusters: offsets from each cluster centroid (m) and pool types."""

    offsets: tuple[np.ndarray, ...]
    """Per cluster, an (n, 2) array of pool offsets (easting, northing) from the centroid, m."""
    square: tuple[np.ndarray, ...]
    """Per cluster, a boolean array: True for square pools, False for circular."""
    centroids: np.ndarray
    """(n_clusters, 2) cluster centroids in EPSG:32647, m."""

    def sizes(self) -> np.ndarray:
        """Number of pools per cluster."""
        return np.array([len(o) for o in self.offsets])


@functools.cache
def real_clusters(min_pools: int = 5) -> RealClusters:
    """Load the shipped table; keep clusters of at least ``min_pools`` pools."""
    ref = resources.files("minewatch") / "data" / TABLE_NAME
    with resources.as_file(ref) as path:
        table = pd.read_csv(path)
    offsets, square, centroids = [], [], []
    for _, group in table.groupby("cluster", sort=True):
        if len(group) < min_pools:
            continue
        xy = group[["e", "n"]].to_numpy(float)
        centre = xy.mean(axis=0)
        offsets.append(xy - centre)
        square.append(group["type"].to_numpy() == "square")
        centroids.append(centre)
    return RealClusters(tuple(offsets), tuple(square), np.array(centroids))
