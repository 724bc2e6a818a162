"""Helpers shared by the world builders: features, random shapes, the builder state."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import shapely
from shapely import affinity
from shapely.geometry import LineString, Point, Polygon

from minewatch.errors import ConfigError

#: Absent marker in per-date cover arrays.
ABSENT = 255


@dataclass(frozen=True)
class Feature:
    """A polygon drawn on the class map, with its cover on each date."""

    geometry: shapely.Geometry
    """Polygon in the world CRS."""
    covers: np.ndarray
    """(n_dates,) uint8 :class:`Cover` per date, :data:`ABSENT` where not there."""
    clearing: np.ndarray
    """(n_dates,) uint8 clearing code per date (0: none), see :data:`CLEARING_CODES`."""
    order: int
    """Drawing order (higher drawn later, on top)."""


def to_timestamps(dates: Sequence[str | pd.Timestamp]) -> tuple[pd.Timestamp, ...]:
    if len(dates) == 0:
        raise ConfigError("dates is empty; give at least one date, e.g. dates=('2022-03-15',)")
    out = []
    for d in dates:
        try:
            out.append(pd.Timestamp(d).normalize())
        except (ValueError, TypeError) as err:
            raise ConfigError(f"date {d!r} is not a date; use 'YYYY-MM-DD'") from err
    if sorted(out) != out or len(set(out)) != len(out):
        raise ConfigError(f"dates must be strictly increasing, got {[str(d.date()) for d in out]}")
    return tuple(out)


def blob(rng: np.random.Generator, cx: float, cy: float, radius: float, *,
          roughness: float = 0.25, elongation: float = 1.0, angle: float = 0.0,
          n: int = 28) -> Polygon:
    """An irregular closed polygon (radial noise around a circle or ellipse)."""
    theta = np.linspace(0, 2 * np.pi, n, endpoint=False)
    k = np.arange(1, 5)
    amp = rng.normal(0, roughness, size=(4,)) / k
    phase = rng.uniform(0, 2 * np.pi, size=4)
    r = radius * (1 + (amp[:, None] * np.cos(k[:, None] * theta + phase[:, None])).sum(0))
    r = np.clip(r, 0.3 * radius, None)
    x, y = r * np.cos(theta) * elongation, r * np.sin(theta) / elongation
    poly = Polygon(np.column_stack([x, y]))
    poly = affinity.rotate(poly, angle, origin=(0, 0), use_radians=False)
    return shapely.make_valid(affinity.translate(poly, cx, cy)).buffer(0)


def meander(rng: np.random.Generator, p0: np.ndarray, p1: np.ndarray, amplitude: float,
             n: int = 40) -> LineString:
    """A wiggly line from p0 to p1 (smooth lateral offsets, zero at both ends)."""
    t = np.linspace(0, 1, n)
    direction = p1 - p0
    normal = np.array([-direction[1], direction[0]]) / (np.linalg.norm(direction) or 1.0)
    offs = np.zeros(n)
    for k in (1, 2, 3):
        offs += rng.normal(0, amplitude / k) * np.sin(np.pi * k * t + 0.0)
    pts = p0[None] + t[:, None] * direction[None] + offs[:, None] * normal[None]
    return LineString(pts)


def date_str(dates: tuple[pd.Timestamp, ...], index: int | None) -> str | None:
    if index is None or index < 0 or index >= len(dates):
        return None
    return dates[index].strftime("%Y-%m-%d")


def edge_point(bounds: tuple[float, ...], p: np.ndarray) -> np.ndarray:
    """The point of the bounds' edge nearest to ``p``."""
    xmin, ymin, xmax, ymax = bounds
    cands = np.array([[xmin, p[1]], [xmax, p[1]], [p[0], ymin], [p[0], ymax]])
    return cands[np.argmin(np.hypot(*(cands - p).T))]


@dataclass
class Builder:
    rng: np.random.Generator
    bounds: tuple[float, float, float, float]
    dates: tuple[pd.Timestamp, ...]
    features: list[Feature] = field(default_factory=list)
    confounders: list[dict] = field(default_factory=list)

    @property
    def n_dates(self) -> int:
        return len(self.dates)

    def add(self, geom, cover: int, *, first: int = 0, last: int | None = None,
            clearing: int = 0, order: int, covers: np.ndarray | None = None,
            clear_codes: np.ndarray | None = None) -> None:
        if geom is None or geom.is_empty:
            return
        if covers is None:
            covers = np.full(self.n_dates, ABSENT, np.uint8)
            stop = self.n_dates if last is None else last + 1
            covers[max(first, 0):stop] = cover
        if clear_codes is None:
            clear_codes = np.where(covers != ABSENT, clearing, 0).astype(np.uint8)
        self.features.append(Feature(geom, covers, clear_codes, order))

    def confounder(self, kind: str, geom, *, detail: str = "", first: int | None = 0,
                   last: int | None = None) -> None:
        if geom is None or geom.is_empty:
            return
        self.confounders.append(dict(
            kind=kind, detail=detail, first_date=date_str(self.dates, first),
            last_date=date_str(self.dates, self.n_dates - 1 if last is None else last),
            geometry=geom))

    def random_point(self, margin: float, avoid: list[tuple[shapely.Geometry, float]],
                     tries: int = 200) -> np.ndarray | None:
        xmin, ymin, xmax, ymax = self.bounds
        for _ in range(tries):
            p = self.rng.uniform([xmin + margin, ymin + margin], [xmax - margin, ymax - margin])
            pt = Point(p)
            if all(g is None or g.is_empty or g.distance(pt) >= d for g, d in avoid):
                return p
        return None
