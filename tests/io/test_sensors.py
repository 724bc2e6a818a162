"""Sensor profiles and quality-mask decoding (numpy and dask alike)."""

from __future__ import annotations

import dask
import dask.array as da
import numpy as np
import pytest

from minewatch.errors import BandError, UnknownSensorError
from minewatch.io._scene import ROLE_ORDER
from minewatch.io.sensors import PROFILES, get_profile, invalid_mask


def test_profiles_map_to_known_roles_and_have_the_core_bands():
    assert set(PROFILES) == {"sentinel2", "sentinel2_gee", "landsat", "planetscope", "rgb"}
    for profile in PROFILES.values():
        assert set(profile.bands.values()) <= set(ROLE_ORDER), profile.name
        assert {"blue", "green", "red"} <= set(profile.bands.values())
    assert PROFILES["rgb"].mask_kind is None and "nir" not in PROFILES["rgb"].bands.values()
    s2 = get_profile("sentinel2")
    assert (s2.bands["B08"], s2.bands["B8A"], s2.bands["B11"], s2.bands["B12"]) == (
        "nir", "nir08", "swir1", "swir2")
    assert get_profile("sentinel2_gee").bands["B8"] == "nir"
    landsat = get_profile("landsat")
    assert [landsat.bands[f"SR_B{i}"] for i in range(1, 8)] == [
        "coastal", "blue", "green", "red", "nir", "swir1", "swir2"]
    assert (landsat.scale, landsat.offset, landsat.nodata) == (2.75e-5, -0.2, 0)
    planet = get_profile("planetscope")
    assert [planet.bands[n] for n in planet.layouts[8]] == [
        "coastal", "blue", "green_i", "green", "yellow", "red", "rededge1", "nir"]
    assert [planet.bands[n] for n in planet.layouts[4]] == ["blue", "green", "red", "nir"]
    assert get_profile("rgb").scale == pytest.approx(1 / 255)


def test_profiles_are_frozen():
    with pytest.raises(AttributeError):
        PROFILES["landsat"].scale = 1.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        PROFILES["landsat"].bands["SR_B4"] = "nir"  # type: ignore[index]


def test_unknown_profile_lists_the_known_ones():
    with pytest.raises(UnknownSensorError, match=r"'modis'.*landsat, planetscope, rgb"):
        get_profile("modis")
    assert get_profile("Sentinel-2").name == "sentinel2"


@pytest.mark.parametrize("use_dask", [False, True])
def test_scl_masks_clouds_shadow_cirrus_snow_but_keeps_water_and_bare_soil(use_dask):
    classes = np.arange(12, dtype=np.uint8).reshape(3, 4)
    data = da.from_array(classes, chunks=2) if use_dask else classes
    out = invalid_mask("scl", data)
    if use_dask:
        assert isinstance(out, da.Array)
        out = out.compute()
    masked = set(np.flatnonzero(out.ravel()))
    assert masked == {0, 1, 3, 8, 9, 10, 11}  # 2 dark, 4 veg, 5 bare, 6 water, 7 unclass. kept


@pytest.mark.parametrize("use_dask", [False, True])
def test_qa_pixel_bits(use_dask):
    values = np.array([21824, 21952, 1, 1 << 1, 1 << 2, 1 << 3, 1 << 4, 1 << 5, 1 << 6, 1 << 7,
                       22280, 55052, 23888], dtype=np.uint16)
    expected = [False, False, True, True, True, True, True, True, False, False, True, True, True]
    data = da.from_array(values, chunks=4) if use_dask else values
    out = invalid_mask("qa_pixel", data)
    np.testing.assert_array_equal(np.asarray(out), expected)


@pytest.mark.parametrize("use_dask", [False, True])
def test_udm2_takes_the_8_bands_first_and_masks_snow_shadow_heavy_haze_cloud_unusable(use_dask):
    udm = np.zeros((8, 3, 3), np.uint8)
    udm[0] = 1  # clear everywhere
    for band, (r, c) in {1: (0, 0), 2: (0, 1), 4: (0, 2), 5: (1, 0), 7: (1, 1)}.items():
        udm[band, r, c] = 1
    udm[3, 2, 0] = 1  # light haze: kept
    udm[6, 2, 1] = 80  # confidence: ignored
    data = da.from_array(udm, chunks=(8, 2, 2)) if use_dask else udm
    out = np.asarray(invalid_mask("udm2", data))
    assert out.shape == (3, 3)
    np.testing.assert_array_equal(out, [[1, 1, 1], [1, 1, 0], [0, 0, 0]])


def test_float_masks_with_nan_count_as_invalid_and_dask_stays_lazy():
    scl = da.from_array(np.array([4.0, np.nan, 9.0, 6.0]), chunks=2)
    calls = []

    class Count(dask.callbacks.Callback):
        def _start(self, dsk):
            calls.append(1)

    with Count():
        out = invalid_mask("scl", scl)
    assert calls == []
    np.testing.assert_array_equal(out.compute(), [False, True, True, False])


def test_mask_errors():
    with pytest.raises(BandError, match=r"8 UDM2 bands on the first axis.*\(3, 3\)"):
        invalid_mask("udm2", np.zeros((3, 3)))
    with pytest.raises(BandError, match="Unknown mask kind 'fmask'"):
        invalid_mask("fmask", np.zeros(3))
