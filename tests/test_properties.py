"""Property tests (hypothesis, derandomized): indices, reading, atomic writes, config, dates.

Each property states what must hold for every input of a family: spectral indices stay in
range or NaN whatever NaN/inf the bands hold; ``open_tile`` returns exactly what was written;
an atomic write either fully succeeds or leaves the old file; a config survives its TOML file;
dates survive their written forms. ``derandomize=True`` makes every run draw the same examples.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import errno
import tempfile
import typing
from pathlib import Path

import dask.array as da
import numpy as np
import pandas as pd
import pytest
import rasterio
import xarray as xr
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from rasterio.transform import from_origin

from minewatch.config import PRESETS, DetectionConfig
from minewatch.errors import ConfigError, DateError, OutputError
from minewatch.indices import (
    bare_soil,
    blueness,
    brightness,
    hue,
    mndwi,
    ndvi,
    ndwi,
    saturation,
)
from minewatch.io import open_tile
from minewatch.io._dates import date_from_name, parse_date
from minewatch.io.write import atomic_path

pytestmark = pytest.mark.filterwarnings(
    "ignore:invalid value encountered:RuntimeWarning")  # NaN arithmetic inside dask tasks

SETTINGS = settings(derandomize=True, deadline=None, max_examples=40,
                    suppress_health_check=[HealthCheck.too_slow])
FEW = settings(SETTINGS, max_examples=15)

# --- indices ------------------------------------------------------------------------------------

ROLES = ["blue", "green", "red", "nir", "swir1"]
#: index → (function, bands it reads, allowed range for non-negative reflectance)
INDICES = {
    "ndvi": (ndvi, ("red", "nir"), (-1, 1)),
    "ndwi": (ndwi, ("green", "nir"), (-1, 1)),
    "mndwi": (mndwi, ("green", "swir1"), (-1, 1)),
    "bare_soil": (bare_soil, ("blue", "red", "nir", "swir1"), (-1, 1)),
    "blueness": (blueness, ("blue", "red"), (-1, 1)),
    "hue": (hue, ("red", "green", "blue"), (0, 1)),
    "saturation": (saturation, ("red", "green", "blue"), (0, 1)),
    "brightness": (brightness, ("red", "green", "blue"), (0, 1.6)),
}

reflectance = st.one_of(
    st.floats(0, 1.5, width=32),
    st.sampled_from([0.0, np.nan, np.inf, -np.inf]),
)
cubes = arrays(np.float32, st.tuples(st.just(len(ROLES)), st.integers(1, 6), st.integers(1, 6)),
               elements=reflectance)


def _cube(values: np.ndarray) -> xr.DataArray:
    return xr.DataArray(values, dims=("band", "y", "x"), coords={"band": ROLES})


@pytest.mark.parametrize("name", INDICES)
@SETTINGS
@given(values=cubes)
def test_index_in_range_or_nan_and_nan_where_a_band_is_not_finite(name, values):
    func, needs, (low, high) = INDICES[name]
    out = func(_cube(values)).values
    assert out.dtype == np.float32
    assert not np.isinf(out).any()
    finite = out[np.isfinite(out)]
    assert ((finite >= low - 1e-6) & (finite <= high + 1e-6)).all()
    bad = ~np.isfinite(values[[ROLES.index(b) for b in needs]]).all(axis=0)
    assert np.isnan(out[bad]).all()  # NaN or ±inf in any band read: NaN, never a value


@pytest.mark.parametrize("name", ["ndvi", "hue", "saturation"])
@FEW
@given(values=cubes)
def test_index_on_dask_equals_numpy(name, values):
    func = INDICES[name][0]
    eager = func(_cube(values)).values
    lazy = func(_cube(da.from_array(values, chunks=(5, 2, 3))))
    assert isinstance(lazy.data, da.Array)
    np.testing.assert_array_equal(lazy.values, eager)


# --- reading ------------------------------------------------------------------------------------

def _write(path: Path, data: np.ndarray, nodata) -> Path:
    with rasterio.open(path, "w", driver="GTiff", width=data.shape[2], height=data.shape[1],
                       count=data.shape[0], dtype=data.dtype, crs="EPSG:32647",
                       transform=from_origin(300000, 2850000, 10, 10), nodata=nodata) as dst:
        dst.write(data)
    return path


shapes = st.tuples(st.integers(1, 4), st.integers(1, 9), st.integers(1, 9))


@SETTINGS
@given(data=arrays(np.float32, shapes,
                   elements=st.one_of(st.floats(0, 1, width=32), st.just(np.nan))),
       chunks=st.sampled_from([None, 2, 5]))
def test_open_tile_round_trips_float_reflectance(data, chunks):
    roles = {i + 1: r for i, r in enumerate(ROLES[: data.shape[0]])}
    with tempfile.TemporaryDirectory() as folder:
        tile = open_tile(_write(Path(folder) / "r.tif", data, None), bands=roles,
                         chunks=chunks).compute()
    assert tile.dtype == np.float32 and tile.shape == data.shape
    np.testing.assert_array_equal(tile.values, data)  # NaN where NaN, bit-equal elsewhere
    assert tile["band"].values.tolist() == ROLES[: data.shape[0]]


@SETTINGS
@given(dn=arrays(np.uint16, shapes, elements=st.integers(0, 10000)))
def test_open_tile_scales_uint16_and_masks_nodata(dn):
    roles = {i + 1: r for i, r in enumerate(ROLES[: dn.shape[0]])}
    with tempfile.TemporaryDirectory() as folder:
        tile = open_tile(_write(Path(folder) / "r.tif", dn, 0), bands=roles)
        # x, y: pixel centres of the written grid
        assert tile["x"].values.tolist() == [300005 + 10 * i for i in range(dn.shape[2])]
        assert tile["y"].values.tolist() == [2849995 - 10 * i for i in range(dn.shape[1])]
    expected = np.where(dn == 0, np.float32(np.nan), dn * np.float32(1e-4))
    np.testing.assert_array_equal(tile.values, expected.astype(np.float32))


# --- atomic writes ------------------------------------------------------------------------------

failures = st.sampled_from([None, "enospc", "crash"])


@SETTINGS
@given(old=st.one_of(st.none(), st.binary(max_size=200)), new=st.binary(max_size=2000),
       cut=st.integers(0, 2000), failure=failures)
def test_atomic_write_is_all_or_nothing(old, new, cut, failure):
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "out.bin"
        if old is not None:
            target.write_bytes(old)
        raised = None
        try:
            with atomic_path(target) as tmp:
                with open(tmp, "wb") as f:
                    f.write(new[:cut] if failure else new)
                if failure == "enospc":
                    raise OSError(errno.ENOSPC, "No space left on device")
                if failure == "crash":
                    raise KeyboardInterrupt  # a kill mid-write
        except (OutputError, KeyboardInterrupt) as err:
            raised = err
        if failure is None:
            assert raised is None and target.read_bytes() == new
        else:
            assert (target.read_bytes() if target.exists() else None) == old
            assert isinstance(raised, OutputError if failure == "enospc" else KeyboardInterrupt)
        assert [p.name for p in Path(folder).iterdir()] == ([] if not target.exists()
                                                            else ["out.bin"])


# --- config -------------------------------------------------------------------------------------

def _value(field: dataclasses.Field, annotation) -> st.SearchStrategy:
    """Valid values of one scalar config field (within its range / choices)."""
    meta = field.metadata
    if meta.get("choices"):
        return st.sampled_from(meta["choices"])
    if annotation is bool:
        return st.booleans()
    low = meta.get("low")
    high = meta.get("high")
    if annotation is int:
        return st.integers(int(low or 0), int(high if high is not None else 10**6))
    return st.floats(low if low is not None else -1e6, high if high is not None else 1e12,
                     allow_nan=False, allow_infinity=False)


def _scalar_fields(cls) -> list[tuple[dataclasses.Field, typing.Any]]:
    hints = typing.get_type_hints(cls)
    return [(f, hints[f.name]) for f in dataclasses.fields(cls)
            if hints[f.name] in (float, int, bool, str)]


@st.composite
def configs(draw) -> DetectionConfig:
    cfg = DetectionConfig.preset(draw(st.sampled_from(sorted(PRESETS))))
    changes: dict[str, typing.Any] = {}
    for table in ("pools", "clearings"):
        current = getattr(cfg, table)
        fields = _scalar_fields(type(current))
        chosen = draw(st.lists(st.sampled_from(range(len(fields))), max_size=3, unique=True))
        changes[table] = {fields[i][0].name: draw(_value(*fields[i])) for i in chosen}
    changes["resolution_m"] = draw(st.floats(0.1, 1000.0))
    try:
        return cfg.replace(**changes)
    except ConfigError:
        reject()  # a cross-field rule (e.g. min < max) the random change broke


@SETTINGS
@given(cfg=configs())
def test_config_round_trips_through_toml(cfg):
    with tempfile.TemporaryDirectory() as folder:
        path = cfg.to_toml(Path(folder) / "detection.toml")
        back = DetectionConfig.from_toml(path)
    assert back == cfg
    assert DetectionConfig.from_dict(cfg.to_dict()) == cfg


@FEW
@given(cfg=configs(), key=st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=20))
def test_config_rejects_any_unknown_key_listing_the_known_ones(cfg, key):
    data = cfg.to_dict()
    if key in data["pools"]:
        reject()
    data["pools"][key] = 1.0
    with pytest.raises(ConfigError, match=rf"unknown setting\(s\) \['{key}'\]; known: \["):
        DetectionConfig.from_dict(data)


# --- dates --------------------------------------------------------------------------------------

past = st.datetimes(min_value=dt.datetime(1972, 7, 23),
                    max_value=dt.datetime(2026, 1, 1)).map(lambda d: d.replace(microsecond=0))


@SETTINGS
@given(when=past, offset_min=st.integers(-12 * 60, 14 * 60))
def test_parse_date_reads_every_written_form(when, offset_min):
    stamp = pd.Timestamp(when)
    assert parse_date(f"{when:%Y-%m-%dT%H:%M:%S}Z", source="t") == stamp
    assert parse_date(f"{when:%Y:%m:%d %H:%M:%S}", source="t") == stamp
    assert parse_date(f"{when:%Y%m%dT%H%M%S}", source="t") == stamp
    assert parse_date(f"{when:%Y-%m-%d}", source="t") == stamp.normalize()
    zone = dt.timezone(dt.timedelta(minutes=offset_min))
    local = when.replace(tzinfo=dt.UTC).astimezone(zone)
    assert parse_date(local.isoformat(), source="t") == stamp  # any UTC offset → UTC


@SETTINGS
@given(when=past, prefix=st.sampled_from(["S2_", "kachin_", "LC08_L2SP_131042_", ""]),
       dashed=st.booleans())
def test_date_from_name_finds_the_written_date(when, prefix, dashed):
    day = f"{when:%Y-%m-%d}" if dashed else f"{when:%Y%m%d}"
    assert date_from_name(f"{prefix}{day}_B04.tif") == pd.Timestamp(when).normalize()


@SETTINGS
@given(days=st.integers(2, 400 * 365))
def test_future_dates_are_refused_or_passed_over(days):
    when = pd.Timestamp.now(tz="UTC").tz_localize(None).normalize() + pd.Timedelta(days=days)
    with pytest.raises(DateError, match=r"source.tif tag DATE: .* is in the future"):
        parse_date(f"{when:%Y-%m-%d}", source="source.tif tag DATE")
    assert date_from_name(f"S2_{when:%Y%m%d}.tif") is None
