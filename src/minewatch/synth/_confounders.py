"""Look-alikes and disturbances: rivers, streams, villages, swidden fields, landslides."""

from __future__ import annotations

import numpy as np
import shapely
from shapely import affinity
from shapely.geometry import LineString, Point, box
from shapely.ops import substring

from minewatch.synth._build import ABSENT, Builder, blob, edge_point, meander
from minewatch.synth._fields import Field
from minewatch.synth.spectra import Cover

# Drawing order of the class map (higher on top).
ORDER = dict(swidden=10, landslide=15, river=20, sand_bar=25, stream=27, settlement=30,
             fish_pond=35, roof=40, road=50, clearing=60, tarp=70)


def river(b: Builder) -> tuple[LineString, shapely.Geometry]:
    """One meandering river across the world; returns its centre line and water polygon."""
    xmin, ymin, xmax, ymax = b.bounds
    w, h = xmax - xmin, ymax - ymin
    if b.rng.random() < 0.5:  # west -> east
        p0 = np.array([xmin - 50, ymin + h * b.rng.uniform(0.2, 0.8)])
        p1 = np.array([xmax + 50, ymin + h * b.rng.uniform(0.2, 0.8)])
    else:  # north -> south
        p0 = np.array([xmin + w * b.rng.uniform(0.2, 0.8), ymax + 50])
        p1 = np.array([xmin + w * b.rng.uniform(0.2, 0.8), ymin - 50])
    line = meander(b.rng, p0, p1, amplitude=0.08 * max(w, h), n=80)
    width = b.rng.uniform(30, 70)
    water = line.buffer(width / 2, quad_segs=4)
    b.add(water, Cover.RIVER, order=ORDER["river"])
    b.confounder("river", water, detail=f"width {width:.0f} m")
    # sand bars on alternating banks
    n_bars = int(b.rng.integers(3, 7))
    for frac in np.sort(b.rng.uniform(0.05, 0.95, n_bars)):
        p = line.interpolate(frac, normalized=True)
        q = line.interpolate(min(frac + 0.01, 1.0), normalized=True)
        angle = np.degrees(np.arctan2(q.y - p.y, q.x - p.x))
        side = b.rng.choice([-1.0, 1.0]) * width * 0.3
        nx, ny = -np.sin(np.radians(angle)), np.cos(np.radians(angle))
        bar = blob(b.rng, p.x + side * nx, p.y + side * ny, 1.0, roughness=0.1)
        length = b.rng.uniform(40, 160)
        bar = affinity.scale(bar, length / 2, width * 0.22, origin=(p.x + side * nx,
                                                                      p.y + side * ny))
        bar = affinity.rotate(bar, angle, origin=(p.x + side * nx, p.y + side * ny))
        bar = bar.intersection(water)
        b.add(bar, Cover.SAND, order=ORDER["sand_bar"])
        b.confounder("sand_bar", bar)
    return line, water


def streams(b: Builder, river_line: LineString, n: int) -> None:
    """Tributaries 3–6 m wide, visible only where the canopy opens (about 40 % of length)."""
    for _ in range(n):
        start = b.random_point(50, [(river_line, 500)])
        if start is None:
            continue
        end = river_line.interpolate(river_line.project(Point(start)))
        line = meander(b.rng, start, np.array([end.x, end.y]),
                       amplitude=0.1 * Point(start).distance(end), n=30)
        width = b.rng.uniform(3, 6)
        full = line.buffer(width / 2, quad_segs=2)
        pieces = []
        for k in range(20):
            if b.rng.random() < 0.4:
                seg = substring(line, k / 20, (k + 1) / 20, normalized=True)
                pieces.append(seg.buffer(width / 2, quad_segs=2))
        visible = shapely.union_all(pieces) if pieces else None
        b.add(visible, Cover.RIVER, order=ORDER["stream"])
        b.confounder("stream", full, detail=f"width {width:.1f} m, ~40 % visible")


def villages(b: Builder, water: shapely.Geometry, n: int) -> list[np.ndarray]:
    """Villages near the river: settlement ground, blue and grey metal roofs, fish ponds."""
    centres: list[np.ndarray] = []
    for _ in range(n):
        near_river = water.buffer(350)
        p = None
        for _try in range(200):
            cand = b.random_point(200, [(water, 180)] + [(Point(c), 500) for c in centres], 1)
            if cand is not None and near_river.contains(Point(cand)):
                p = cand
                break
        if p is None:
            p = b.random_point(200, [(water, 180)] + [(Point(c), 500) for c in centres])
        if p is None:
            continue
        centres.append(p)
        radius = b.rng.uniform(90, 180)
        angle = b.rng.uniform(0, 180)
        ground = blob(b.rng, p[0], p[1], radius, roughness=0.2, elongation=1.3, angle=angle)
        ground = ground.difference(water.buffer(10))
        b.add(ground, Cover.SETTLEMENT, order=ORDER["settlement"], clearing=4)
        b.confounder("village", ground)
        roofs: list[shapely.Geometry] = []
        for _r in range(int(b.rng.integers(12, 36))):
            for _try in range(20):
                off = b.rng.uniform(-0.8, 0.8, 2) * radius
                c = Point(p + off)
                if ground.buffer(-8).contains(c) and all(r.distance(c) > 6 for r in roofs):
                    break
            else:
                continue
            w, h = b.rng.uniform(6, 14), b.rng.uniform(5, 10)
            roof = affinity.rotate(box(c.x - w / 2, c.y - h / 2, c.x + w / 2, c.y + h / 2),
                                   angle + b.rng.normal(0, 5), origin=c)
            roofs.append(roof)
            blue = b.rng.random() < 0.35
            b.add(roof, Cover.ROOF_BLUE if blue else Cover.ROOF_GREY, order=ORDER["roof"],
                  clearing=4)
            b.confounder("metal_roof", roof, detail="blue" if blue else "grey")
        for _f in range(int(b.rng.integers(2, 6))):
            theta = b.rng.uniform(0, 2 * np.pi)
            dist = radius * b.rng.uniform(1.0, 1.5)
            c = p + dist * np.array([np.cos(theta), np.sin(theta)])
            w, h = b.rng.uniform(15, 45), b.rng.uniform(12, 35)
            pond = affinity.rotate(box(c[0] - w / 2, c[1] - h / 2, c[0] + w / 2, c[1] + h / 2),
                                   angle + b.rng.normal(0, 10), origin=tuple(c))
            if pond.intersects(water.buffer(5)):
                continue
            b.add(pond, Cover.FISH_POND, order=ORDER["fish_pond"])
            b.confounder("fish_pond", pond)
        # a road from the village to the nearest edge
        road_to_edge(b, p, first=0, detail="village road")
    return centres


def road_to_edge(b: Builder, p: np.ndarray, *, first: int, detail: str,
                 target: np.ndarray | None = None) -> shapely.Geometry:
    """A dirt road from ``p`` to ``target`` (default: the nearest world edge)."""
    end = edge_point(b.bounds, p) if target is None else target
    length = float(np.hypot(*(end - p)))
    line = meander(b.rng, p, end, amplitude=0.08 * length, n=max(8, int(length / 40)))
    road = line.buffer(b.rng.uniform(2.5, 3.5), quad_segs=2)
    b.add(road, Cover.ROAD, first=first, order=ORDER["road"], clearing=5)
    return road


def swidden(b: Builder, n: int, avoid: list) -> None:
    """Slash-and-burn fields: forest, then burnt, cropped, regrowing shrub over the dates."""
    cycle = [Cover.BURNT, Cover.CROP, Cover.SHRUB]
    for _ in range(n):
        p = b.random_point(100, avoid)
        if p is None:
            continue
        area = b.rng.uniform(1e4, 5e4)
        geom = blob(b.rng, p[0], p[1], np.sqrt(area / np.pi), roughness=0.3,
                    elongation=b.rng.uniform(1.0, 1.6), angle=b.rng.uniform(0, 180))
        start = int(b.rng.integers(-1, max(b.n_dates - 1, 1)))
        covers = np.full(b.n_dates, ABSENT, np.uint8)
        codes = np.zeros(b.n_dates, np.uint8)
        for t in range(b.n_dates):
            k = t - start
            if k >= 0:
                covers[t] = cycle[min(k, 2)]
                codes[t] = 2
        b.add(geom, 0, order=ORDER["swidden"], covers=covers, clear_codes=codes)
        stages = "; ".join(f"{b.dates[t].date()} {Cover(c).name.lower()}"
                           for t, c in enumerate(covers) if c != ABSENT)
        b.confounder("swidden", geom, detail=stages, first=max(start, 0))
        avoid.append((geom, 100))


def landslides(b: Builder, n: int, dem: Field, avoid: list) -> None:
    """Landslide scars: bare teardrops pointing downslope, appearing on some date."""
    gy, gx = np.gradient(dem.values, dem.cell)
    for _ in range(n):
        p = b.random_point(150, avoid)
        if p is None:
            continue
        col = int(np.clip((p[0] - dem.x0) / dem.cell, 0, dem.values.shape[1] - 1))
        row = int(np.clip((dem.y0 - p[1]) / dem.cell, 0, dem.values.shape[0] - 1))
        down = np.degrees(np.arctan2(gy[row, col], -gx[row, col]))  # direction of descent
        length = b.rng.uniform(80, 250)
        width = length * b.rng.uniform(0.25, 0.45)
        head = Point(p).buffer(width / 2)
        toe = Point(p[0] + length, p[1]).buffer(width / 4)
        geom = shapely.convex_hull(shapely.union(head, toe))
        geom = affinity.rotate(geom, down, origin=tuple(p))
        first = int(b.rng.integers(0, b.n_dates))
        b.add(geom, Cover.LANDSLIDE, first=first, order=ORDER["landslide"], clearing=3)
        b.confounder("landslide", geom, first=first)
        avoid.append((geom, 80))
