"""Mining sites: pools sampled from real Pang War clusters, growing clearings, roads, tarp huts."""

from __future__ import annotations

import math

import numpy as np
import shapely
from pyproj import Transformer
from scipy.spatial import cKDTree
from shapely import affinity
from shapely.geometry import MultiPoint, Point, box

from minewatch.synth._build import Builder, blob, date_str
from minewatch.synth._confounders import ORDER, road_to_edge
from minewatch.synth._realpools import TABLE_CRS, real_clusters
from minewatch.synth.spectra import POOL_COLOURS, Cover, PoolLook

#: Smallest and largest pool side / diameter, m.
POOL_SIZE_M = (3.0, 30.0)
#: Smallest and largest clearing of a site, m².
CLEARING_AREA_M2 = (5_000.0, 100_000.0)
#: Pools closer than this (centre to centre, m) are merged into one.
MIN_SPACING_M = 5.0


def _thin(offsets: np.ndarray) -> np.ndarray:
    """Indices of pools to keep so no two are closer than :data:`MIN_SPACING_M`."""
    keep: list[int] = []
    for i, p in enumerate(offsets):
        if all(np.hypot(*(p - offsets[j])) >= MIN_SPACING_M for j in keep):
            keep.append(i)
    return np.array(keep, dtype=int)


def _layout_offsets(b: Builder) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sample a real cluster shape (maybe two joined): offsets (n, 2), square flags, part ids."""
    rc = real_clusters()
    i = int(b.rng.integers(len(rc.offsets)))
    angle = b.rng.uniform(0, 2 * np.pi)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    offsets, square = [rc.offsets[i] @ rot.T], [rc.square[i]]
    part = [np.zeros(len(rc.offsets[i]), int)]
    if b.rng.random() < 0.35:  # a second real cluster joined on: the site will grow into it
        j = int(b.rng.integers(len(rc.offsets)))
        r1 = np.abs(offsets[0]).max() + np.abs(rc.offsets[j]).max() + b.rng.uniform(15, 40)
        direction = b.rng.uniform(0, 2 * np.pi)
        shift = r1 * np.array([np.cos(direction), np.sin(direction)])
        offsets.append(rc.offsets[j] @ rot.T + shift)
        square.append(rc.square[j])
        part.append(np.ones(len(rc.offsets[j]), int))
    off = np.concatenate(offsets)[:40]
    return off - off.mean(axis=0), np.concatenate(square)[:40], np.concatenate(part)[:40]


def _pool_geometry(b: Builder, centre: np.ndarray, size: float, square: bool,
                   angle: float) -> tuple[shapely.Geometry, str]:
    """A pool polygon; about one in five has an irregular outline."""
    cx, cy = centre
    if b.rng.random() < 0.2:
        return blob(b.rng, cx, cy, size * 0.45, roughness=0.1, n=20,
                    elongation=b.rng.uniform(1.0, 1.25), angle=angle), "irregular"
    if square:
        w, h = size, size * b.rng.uniform(0.7, 1.0)
        geom = box(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
        return affinity.rotate(geom, angle + b.rng.normal(0, 8), origin=(cx, cy)), "regular"
    return Point(cx, cy).buffer(size / 2, quad_segs=8), "regular"


def _clearing(points: np.ndarray, margin: float, blobs: list[shapely.Geometry]) -> shapely.Geometry:
    """Convex hull of the active pools, buffered, with the active spoil/camp blobs added."""
    geom = MultiPoint(points).convex_hull.buffer(margin, quad_segs=6)
    if blobs:
        geom = shapely.union_all([geom, *blobs])
    extra = 0.0
    while geom.area < CLEARING_AREA_M2[0] and extra < 200:
        extra += 5.0
        geom = geom.buffer(5.0, quad_segs=6)
    return geom


def build_sites(b: Builder, *, n_sites: int, real_positions: bool, world_crs: str,
                avoid: list, road_targets: list[np.ndarray]) -> dict:
    """Place ``n_sites`` sites; add their features and return pool/site/clearing records."""
    n_dates = b.n_dates
    placements: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
    if real_positions:
        rc = real_clusters()
        to_world = Transformer.from_crs(TABLE_CRS, world_crs, always_xy=True)
        xmin, ymin, xmax, ymax = b.bounds
        candidates = []
        for k, (off, sq) in enumerate(zip(rc.offsets, rc.square, strict=True)):
            pts = off + rc.centroids[k]
            x, y = to_world.transform(pts[:, 0], pts[:, 1])
            pts = np.column_stack([x, y])
            c = pts.mean(axis=0)
            if xmin + 100 < c[0] < xmax - 100 and ymin + 100 < c[1] < ymax - 100:
                candidates.append((c, pts - c, sq, np.zeros(len(sq), int)))
        if len(candidates) > n_sites:
            pick = np.sort(b.rng.choice(len(candidates), n_sites, replace=False))
            candidates = [candidates[k] for k in pick]
        placements = candidates
    else:
        centres: list[np.ndarray] = []
        for _ in range(n_sites):
            off, sq, part = _layout_offsets(b)
            extent = float(np.abs(off).max()) + 40
            c = b.random_point(extent + 30, avoid + [(Point(p), 250 + extent) for p in centres])
            if c is None:
                continue
            centres.append(c)
            placements.append((c, off, sq, part))

    pools, looks, sites, clearings = [], [], [], []
    site_centres: list[np.ndarray] = []
    palette_names = list(POOL_COLOURS)
    for centre, off, sq, part in placements:
        site_id = len(sites) + 1
        keep = _thin(off)
        off, sq, part = off[keep], sq[keep], part[keep]
        n = len(off)
        if n < 3:
            continue
        # growth order: along the chain's main axis from one end, the joined cluster last
        axis = np.linalg.svd(off - off.mean(0), full_matrices=False)[2][0]
        proj = off @ axis * (1 if b.rng.random() < 0.5 else -1)
        order = np.lexsort((proj, part))
        off, sq = off[order], sq[order]
        first = 0 if b.rng.random() < 0.3 else int(b.rng.integers(0, n_dates))
        frac0, growth = b.rng.uniform(0.35, 0.7), b.rng.uniform(0.15, 0.4)
        n_active = [0 if t < first else
                    min(n, math.ceil(n * min(1.0, frac0 + (t - first) * growth)))
                    for t in range(n_dates)]
        n_final = max(n_active)
        off, sq = off[:n_final], sq[:n_final]
        pool_first = np.array([next(t for t in range(n_dates) if n_active[t] > r)
                               for r in range(n_final)])
        abandon = (int(b.rng.integers(first + 2, n_dates))
                   if n_dates - first >= 3 and b.rng.random() < 0.12 else None)
        nn = cKDTree(off).query(off, k=2)[0][:, 1] if n_final > 1 else np.array([30.0])
        sizes = np.clip(b.rng.lognormal(np.log(9.0), 0.4, n_final), POOL_SIZE_M[0],
                        np.clip(0.7 * nn, POOL_SIZE_M[0], POOL_SIZE_M[1]))
        weights = b.rng.dirichlet(np.full(len(palette_names), 0.6))
        angle = b.rng.uniform(0, 180)
        geoms = []
        for r in range(n_final):
            geom, outline = _pool_geometry(b, centre + off[r], float(sizes[r]), bool(sq[r]),
                                           angle)
            geoms.append(geom)
            colour = palette_names[int(b.rng.choice(len(palette_names), p=weights))]
            drained = abandon
            if pool_first[r] < n_dates - 1 and b.rng.random() < 0.15:
                d = int(b.rng.integers(pool_first[r] + 1, n_dates))
                drained = d if drained is None else min(d, drained)
            look = np.zeros(n_dates, np.uint8)
            for t in range(pool_first[r], n_dates):
                if drained is not None and t >= drained:
                    look[t] = PoolLook.DRAINED
                elif b.rng.random() < 0.12:
                    look[t] = PoolLook.LINER
                else:
                    look[t] = POOL_COLOURS[colour]
            present = [t for t in range(n_dates) if 0 < look[t] < PoolLook.DRAINED]
            looks.append(look)
            pools.append(dict(
                pool_id=len(pools) + 1, site_id=site_id, shape="square" if sq[r] else "circular",
                outline=outline, colour=colour, size_m=round(float(sizes[r]), 2),
                first_date=date_str(b.dates, int(pool_first[r])),
                last_date=date_str(b.dates, present[-1]) if present else None,
                drained_date=date_str(b.dates, drained) if drained is not None else None,
                area_m2=float(geom.area), geometry=geom))
        # clearings per date (monotone growth), spoil/camp blobs joining over time
        margin = b.rng.uniform(12, 25) + float(sizes.max()) / 2
        hull = MultiPoint(centre + off).convex_hull
        n_blobs = int(b.rng.integers(2, 5))
        blob_geoms, blob_first = [], []
        for k in range(n_blobs):
            edge = hull.buffer(margin).exterior.interpolate(b.rng.uniform(), normalized=True)
            blob_geoms.append(blob(b.rng, edge.x, edge.y, b.rng.uniform(12, 35), roughness=0.3))
            blob_first.append(first + (k * (n_dates - first)) // n_blobs)
        previous = None
        site_row = dict(site_id=site_id, first_date=date_str(b.dates, first))
        last_present = None
        for t in range(first, n_dates):
            active = pool_first <= t
            geom = _clearing(centre + off[active], margin,
                             [g for g, f in zip(blob_geoms, blob_first, strict=True) if f <= t])
            geom = geom if previous is None else shapely.union(previous, geom)
            geom = geom.simplify(0.5)
            previous = geom
            covers = np.full(n_dates, 255, np.uint8)
            covers[t] = Cover.BARE
            b.add(geom, Cover.BARE, order=ORDER["clearing"], covers=covers,
                  clear_codes=np.where(covers != 255, 1, 0).astype(np.uint8))
            n_present = sum(1 for lk in looks[-n_final:] if 0 < lk[t] < PoolLook.DRAINED)
            if n_present:
                last_present = t
            site_row[f"n_pools_{b.dates[t]:%Y%m%d}"] = n_present
            clearings.append(dict(site_id=site_id, date=date_str(b.dates, t),
                                  n_pools=n_present, area_m2=float(geom.area), geometry=geom))
        site_row["last_date"] = date_str(b.dates, last_present)
        site_row["geometry"] = previous
        sites.append(site_row)
        # tarp huts of the camp, on the first clearing's edge, inside it
        first_clearing = clearings[-(n_dates - first)]["geometry"]
        pool_union = shapely.union_all(geoms).buffer(3)
        for _h in range(int(b.rng.integers(1, 5))):
            p = first_clearing.buffer(-6).exterior.interpolate(b.rng.uniform(), normalized=True) \
                if first_clearing.buffer(-6).geom_type == "Polygon" else first_clearing.centroid
            w, h = b.rng.uniform(3, 6), b.rng.uniform(3, 5)
            hut = affinity.rotate(box(p.x - w / 2, p.y - h / 2, p.x + w / 2, p.y + h / 2),
                                  b.rng.uniform(0, 90), origin=p)
            if hut.intersects(pool_union):
                continue
            b.add(hut, Cover.TARP, first=first, last=abandon, order=ORDER["tarp"])
            b.confounder("tarp_hut", hut, detail=f"camp of site {site_id}", first=first,
                         last=abandon)
        # road to the nearest earlier site, village or the world edge
        start = np.array(first_clearing.centroid.coords[0])
        targets = road_targets + site_centres
        target = None
        if targets:
            dist = [np.hypot(*(t - start)) for t in targets]
            if min(dist) < 1500:
                target = targets[int(np.argmin(dist))]
        road_to_edge(b, start, first=first, detail=f"road of site {site_id}", target=target)
        site_centres.append(start)
    return dict(pools=pools, looks=looks, sites=sites, clearings=clearings)
