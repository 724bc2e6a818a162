"""Thresholds of clearing detection (``minewatch.detect.clearings``), with per-sensor presets."""

from __future__ import annotations

from dataclasses import dataclass

from minewatch.config._base import check_fields, setting


@dataclass(frozen=True)
class ClearingConfig:
    """Every threshold of clearing detection. Units in the names (m, m², ha, NDVI units)."""

    min_area_m2: float = setting(2000.0, low=0.0, doc="minimum mapping unit (m²)")
    """Minimum mapping unit (m²): smaller changes are not clearings."""

    def __post_init__(self) -> None:
        check_fields(self)


#: Presets per sensor/resolution (filled in by the clearing detector's tuning).
CLEARING_PRESETS: dict[str, ClearingConfig] = {
    "sentinel2": ClearingConfig(),
    "landsat": ClearingConfig(),
    "planetscope": ClearingConfig(),
    "rgb_highres": ClearingConfig(),
}
