"""DetectionConfig: presets, validation with clear messages, exact TOML round trip."""

from __future__ import annotations

import pytest

from minewatch.config import PRESETS, DetectionConfig
from minewatch.errors import ConfigError


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_round_trips_through_toml(tmp_path, name):
    cfg = DetectionConfig.preset(name)
    assert cfg.resolution_m == PRESETS[name]
    path = cfg.to_toml(tmp_path / f"{name}.toml")
    assert DetectionConfig.from_toml(path) == cfg
    assert DetectionConfig.from_dict(cfg.to_dict()) == cfg


def test_sensor_names_map_to_presets():
    assert DetectionConfig.preset("rgb").preset_name == "rgb_highres"
    assert DetectionConfig.preset("sentinel2_gee").resolution_m == 10.0
    with pytest.raises(ConfigError, match=r"Unknown preset 'modis'.*planetscope"):
        DetectionConfig.preset("modis")


def test_out_of_range_wrong_type_and_unknown_keys(tmp_path):
    cfg = DetectionConfig()
    with pytest.raises(ConfigError, match=r"PoolConfig.min_area_m2 = -1.0 is out of range: "
                                          r"allowed 0.0 ≤ value"):
        cfg.replace(pools={"min_area_m2": -1.0})
    with pytest.raises(ConfigError, match=r"resolution_m = 'ten' has the wrong type"):
        DetectionConfig(resolution_m="ten")
    with pytest.raises(ConfigError, match=r"unknown setting\(s\) \['min_aera_m2'\]"):
        cfg.replace(pools={"min_aera_m2": 3.0})
    bad = tmp_path / "bad.toml"
    bad.write_text('preset_name = "sentinel2"\nthreshold = 3\n')
    with pytest.raises(ConfigError, match=r"bad.toml: .*unknown setting\(s\) \['threshold'\]"):
        DetectionConfig.from_toml(bad)
    broken = tmp_path / "broken.toml"
    broken.write_text("resolution_m = = 3")
    with pytest.raises(ConfigError, match=r"broken.toml: cannot read"):
        DetectionConfig.from_toml(broken)
    with pytest.raises(ConfigError, match="allowed values"):
        DetectionConfig(preset_name="modis")


def test_configs_are_frozen_and_hashable():
    cfg = DetectionConfig.preset("sentinel2")
    with pytest.raises(AttributeError):
        cfg.resolution_m = 3.0  # type: ignore[misc]
    assert hash(cfg) == hash(DetectionConfig.preset("sentinel2"))
