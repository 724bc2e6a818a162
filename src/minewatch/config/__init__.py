"""One typed, frozen, validated configuration for detection, with per-sensor presets.

Every threshold minewatch uses lives here, so a published result can be reproduced exactly
from its TOML file::

    cfg = DetectionConfig.preset("sentinel2")
    cfg.to_toml("detection.toml")
    assert DetectionConfig.from_toml("detection.toml") == cfg
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

from minewatch.config._base import check_fields, from_mapping, setting, to_mapping, toml_dumps
from minewatch.config._clearings import CLEARING_PRESETS, ClearingConfig
from minewatch.config._pools import POOL_PRESETS, PoolConfig
from minewatch.config._sites import SiteConfig
from minewatch.errors import ConfigError

__all__ = ["PRESETS", "ClearingConfig", "DetectionConfig", "PoolConfig", "SiteConfig"]

#: Preset names and the pixel size (m) they are tuned for.
PRESETS: dict[str, float] = {
    "sentinel2": 10.0,
    "landsat": 30.0,
    "planetscope": 3.0,
    "rgb_highres": 0.5,
}

#: Sensor profile names (minewatch.io) → preset names.
SENSOR_PRESETS: dict[str, str] = {
    "sentinel2": "sentinel2",
    "sentinel2_gee": "sentinel2",
    "landsat": "landsat",
    "planetscope": "planetscope",
    "rgb": "rgb_highres",
}


@dataclass(frozen=True)
class DetectionConfig:
    """All settings of an analysis: which preset, the pixel size, pools, clearings, sites.

    Examples
    --------
    >>> cfg = DetectionConfig.preset("planetscope")
    >>> cfg.resolution_m
    3.0
    >>> cfg.replace(pools={"min_area_m2": 9.0}).pools.min_area_m2
    9.0
    >>> cfg.replace(sites={"linking_distance_m": 100.0}).sites.linking_distance_m
    100.0
    """

    preset_name: str = setting("sentinel2", choices=tuple(PRESETS), doc="preset it started from")
    """Name of the preset these settings started from."""
    resolution_m: float = setting(10.0, low=0.1, high=1000.0, doc="pixel size tuned for (m)")
    """Pixel size (m) the thresholds are tuned for."""
    pools: PoolConfig = field(default_factory=PoolConfig)
    """Pool detection thresholds."""
    clearings: ClearingConfig = field(default_factory=ClearingConfig)
    """Clearing detection thresholds."""
    sites: SiteConfig = field(default_factory=SiteConfig)
    """Site grouping and tracking thresholds (the same for every sensor)."""

    def __post_init__(self) -> None:
        check_fields(self)
        if (not isinstance(self.pools, PoolConfig)
                or not isinstance(self.clearings, ClearingConfig)
                or not isinstance(self.sites, SiteConfig)):
            raise ConfigError("DetectionConfig.pools / .clearings / .sites must be PoolConfig "
                              "/ ClearingConfig / SiteConfig objects (or tables in TOML).")

    @classmethod
    def preset(cls, name: str) -> DetectionConfig:
        """The preset for a sensor or resolution: ``sentinel2``, ``landsat``, ``planetscope``,
        ``rgb_highres`` (sensor profile names such as ``rgb`` are accepted too)."""
        key = SENSOR_PRESETS.get(name, name)
        if key not in PRESETS:
            raise ConfigError(f"Unknown preset {name!r}; choose one of {sorted(PRESETS)}.")
        return cls(preset_name=key, resolution_m=PRESETS[key], pools=POOL_PRESETS[key],
                   clearings=CLEARING_PRESETS[key])

    def replace(self, **changes: Any) -> DetectionConfig:
        """A copy with some settings changed; nested tables as dicts (validated)."""
        updates: dict[str, Any] = {}
        for key, value in changes.items():
            current = getattr(self, key, None)
            if dataclasses.is_dataclass(current) and isinstance(value, dict):
                merged = {**to_mapping(current), **value}
                updates[key] = from_mapping(type(current), merged, where=f"DetectionConfig.{key}")
            else:
                updates[key] = value
        try:
            return dataclasses.replace(self, **updates)
        except TypeError as err:
            raise ConfigError(f"DetectionConfig.replace: {err}") from err

    def to_dict(self) -> dict[str, Any]:
        """Nested plain dict (for JSON manifests and TOML)."""
        return to_mapping(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DetectionConfig:
        """Inverse of :meth:`to_dict`; unknown keys and bad values raise ``ConfigError``."""
        return from_mapping(cls, data)

    def to_toml(self, path: str | PathLike[str]) -> Path:
        """Write the settings as TOML (atomically)."""
        from minewatch.io.write import atomic_path

        target = Path(path)
        with atomic_path(target) as tmp:
            tmp.write_text("# minewatch detection settings\n" + toml_dumps(self.to_dict()))
        return target

    @classmethod
    def from_toml(cls, path: str | PathLike[str]) -> DetectionConfig:
        """Read settings written by :meth:`to_toml` (or by hand).

        Raises
        ------
        ConfigError
            The file can't be read or parsed (the message names it), or holds unknown keys or
            out-of-range values.
        """
        source = Path(path)
        try:
            data = tomllib.loads(source.read_text())
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
            raise ConfigError(f"{source}: cannot read the settings file ({err}); write it as "
                              "UTF-8 TOML (DetectionConfig.preset(...).to_toml(path) writes a "
                              "template).") from err
        try:
            return cls.from_dict(data)
        except ConfigError as err:
            raise ConfigError(f"{source}: {err}") from err
