"""Thresholds of pool detection (``minewatch.detect.pools``), with per-sensor presets."""

from __future__ import annotations

from dataclasses import dataclass

from minewatch.config._base import check_fields, setting


@dataclass(frozen=True)
class PoolConfig:
    """Every threshold of pool detection. Units in the names (m, m², reflectance 0–1)."""

    min_area_m2: float = setting(4.0, low=0.0, doc="smallest pool kept (m²)")
    """Smallest pool kept (m²)."""
    max_area_m2: float = setting(2500.0, low=0.0, doc="largest pool kept (m²)")
    """Largest pool kept (m²); bigger water is a river, lake or fish-pond complex."""

    def __post_init__(self) -> None:
        check_fields(self)


#: Presets per sensor/resolution (filled in by the pool detector's tuning).
POOL_PRESETS: dict[str, PoolConfig] = {
    "sentinel2": PoolConfig(),
    "landsat": PoolConfig(),
    "planetscope": PoolConfig(),
    "rgb_highres": PoolConfig(),
}
