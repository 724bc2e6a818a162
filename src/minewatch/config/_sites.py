"""Thresholds of site grouping (``minewatch.sites``).

The default linking distance (150 m) was chosen on 2,497 real leaching-pool positions near
Pang War, Kachin (``benchmarks/sites_real_pools.py``, table in ``docs/sites.md``): it gives
186 sites of more than 3 pools against the dataset's own 188 such clusters, and 318 sites in
all against Global Witness's "almost 300 locations".
"""

from __future__ import annotations

from dataclasses import dataclass

from minewatch.config._base import check_fields, setting


@dataclass(frozen=True)
class SiteConfig:
    """Every threshold of grouping pools and clearings into sites and of tracking sites over
    dates (:func:`minewatch.sites.track_sites`). Units in names.

    Examples
    --------
    >>> SiteConfig().linking_distance_m
    150.0
    >>> SiteConfig().min_persistence_dates, SiteConfig().expanded_ratio
    (2, 1.25)
    >>> SiteConfig(linking_distance_m=-1.0)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    minewatch.errors.ConfigError: SiteConfig.linking_distance_m = -1.0 is out of range: ...
    """

    linking_distance_m: float = setting(
        150.0, low=0.0, high=10000.0,
        doc="objects closer than this (edge to edge, m) belong to one site")
    """Edge-to-edge distance (m) at or under which two objects (pools or clearings) are linked;
    sites are the connected groups of links, so chains link transitively."""
    hull_buffer_m: float = setting(5.0, low=0.0, high=1000.0,
                                   doc="buffer around the convex hull of a site (m)")
    """Buffer (m) added around the convex hull of a site's members, so that a site of one
    point pool (or of points in a line) is still a polygon. 0 keeps the bare hull."""
    clearing_kinds: tuple[str, ...] = setting(
        ("mining", "unknown"), doc="clearing kinds that belong to sites")
    """Values of the clearings' ``kind`` column that take part in sites; other kinds (e.g.
    ``agriculture``) are ignored. Clearings without a ``kind`` column all take part."""

    min_persistence_dates: int = setting(
        2, low=1, high=1000, doc="dates a site must be seen on to be persistent (count)")
    """Dates (count) a tracked site must be seen on to be ``persistent``; a site seen on fewer
    is a likely false alarm (``persistent=False``), unless it is ``provisional``: it has not
    yet been observed on that many dates (first seen on the last date, or only cloud since).
    1 makes every site persistent."""
    expanded_ratio: float = setting(
        1.25, low=1.0, high=1000.0,
        doc="status 'expanded' when pools or area grow past this ratio (ratio, ≥ 1)")
    """Growth ratio (dimensionless) for the status ``expanded``: a site is expanded on a date
    when its pool count or its area (pool + cleared, m²) exceeds this ratio times the value on
    the last date it was seen (the sum over the sites merged into it that date). 1.25 = up
    more than 25 %."""
    min_observed_fraction: float = setting(
        0.5, low=0.0, high=1.0,
        doc="a site not seen is 'inactive' only if this fraction of it was observed (0–1)")
    """Fraction (0–1) of a site's last known polygon that must be observed (``valid`` True:
    no cloud, shadow or nodata) on a date for an absent site to be ``inactive``; below it the
    site is ``unobserved`` and never counted as gone. Pixels outside the grid are unobserved."""

    def __post_init__(self) -> None:
        check_fields(self)
