"""load_stack: one grid over an AOI, UTM zones, mosaics, clouds, laziness, errors."""

from __future__ import annotations

import dask
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from pyproj import Transformer
from rasterio.transform import from_origin
from shapely.geometry import box

from minewatch.errors import EmptySceneWarning, MinewatchWarning, NoOverlapError
from minewatch.io import BandSource, MaskSource, Scene, load_stack
from minewatch.io.stack import read_aoi

LAT = 25.70


def _tile(tmp_path, write_tif, *, epsg, lon, date, red, nir, cloud_box=None, name=None,
          offset=0.0, nodata_rows=0, size=300):
    """A 2-band 10 m Sentinel-2-like scene (+ 20 m SCL) centred on (lon, LAT)."""
    x, y = Transformer.from_crs(4326, epsg, always_xy=True).transform(lon, LAT)
    x0, y0 = round(x / 20) * 20 - size * 5, round(y / 20) * 20 + size * 5
    name = name or f"S2_{epsg}_{date:%Y%m%d}"
    bands = []
    for role, value in (("red", red), ("nir", nir)):
        dn = np.full((size, size), round((value - offset) * 10000), np.uint16)
        dn[:nodata_rows] = 0
        path = write_tif(tmp_path / name / f"{role}.tif", dn, crs=f"EPSG:{epsg}",
                         transform=from_origin(x0, y0, 10, 10))
        bands.append(BandSource(role=role, href=str(path), scale=1e-4, offset=offset, nodata=0))
    scl = np.full((size // 2, size // 2), 4, np.uint8)
    scl[-20:, -20:] = 6  # water: must stay valid
    if cloud_box is not None:
        r0, r1, c0, c1 = cloud_box
        scl[r0:r1, c0:c1] = 9
    mpath = write_tif(tmp_path / name / "SCL.tif", scl, crs=f"EPSG:{epsg}",
                      transform=from_origin(x0, y0, 20, 20))
    return Scene(id=name, sensor="sentinel2", bands=tuple(bands), time=pd.Timestamp(date),
                 mask=MaskSource("scl", str(mpath)))


def _value_at(stack, lon, lat, band="red", t=0):
    x, y = Transformer.from_crs(4326, stack.rio.crs, always_xy=True).transform(lon, lat)
    return float(stack.isel(time=t).sel(band=band).sel(x=x, y=y, method="nearest"))


def test_two_utm_zones_mosaic_on_one_grid(tmp_path, write_tif):
    day = pd.Timestamp("2022-03-01T04:05")
    west = _tile(tmp_path, write_tif, epsg=32646, lon=95.985, date=day, red=0.15, nir=0.30)
    east = _tile(tmp_path, write_tif, epsg=32647, lon=96.015, date=day + pd.Timedelta("30s"),
                 red=0.25, nir=0.40)
    aoi = box(95.975, 25.69, 96.025, 25.71)  # straddles the 96°E zone border
    stack = load_stack([west, east], aoi, crs="EPSG:32647")
    assert stack.dims == ("time", "band", "y", "x")
    assert stack.sizes["time"] == 1  # same solar day → one mosaic
    assert stack.rio.crs.to_epsg() == 32647
    assert stack.dtype == np.float32
    values = stack.compute()
    assert _value_at(values, 95.98, LAT) == pytest.approx(0.15, abs=1e-6)
    assert _value_at(values, 96.02, LAT) == pytest.approx(0.25, abs=1e-6)
    assert set(values["scene_id"].item().split(",")) == {west.id, east.id}
    # no gap along the zone border: every pixel of the centre row is valid
    row = values.isel(time=0).sel(band="red").sel(y=values["y"][values.sizes["y"] // 2])
    assert np.isfinite(row.values).all()
    assert float(values["valid_fraction"][0]) > 0.99


def test_default_crs_follows_the_aoi_centre_on_a_tie(tmp_path, write_tif):
    day = pd.Timestamp("2022-03-01")
    west = _tile(tmp_path, write_tif, epsg=32646, lon=95.985, date=day, red=0.1, nir=0.2)
    east = _tile(tmp_path, write_tif, epsg=32647, lon=96.015, date=day, red=0.1, nir=0.2)
    # both AOIs overlap both tiles (one scene per zone: a tie); the AOI centre decides
    assert load_stack([west, east], box(95.975, 25.69, 96.005, 25.71)).rio.crs.to_epsg() == 32646
    assert load_stack([west, east], box(95.995, 25.69, 96.025, 25.71)).rio.crs.to_epsg() == 32647


def test_clouds_masked_water_kept_and_nodata_nan(tmp_path, write_tif):
    scene = _tile(tmp_path, write_tif, epsg=32647, lon=98.3, date=pd.Timestamp("2021-02-01"),
                  red=0.2, nir=0.3, cloud_box=(0, 50, 0, 50), nodata_rows=0)
    stack = load_stack([scene], chunks=128).compute()
    red = stack.sel(band="red").isel(time=0).values
    # SCL 9 over the top-left 50×50 px at 20 m = 100×100 px at 10 m
    assert np.isnan(red[:100, :100]).all()
    assert np.isfinite(red[-40:, -40:]).all()  # water (SCL 6) is not masked
    assert np.isfinite(red[150:, 150:]).all()
    assert float(stack["valid_fraction"][0]) == pytest.approx(1 - (100 * 100) / 300**2, rel=1e-3)


def test_time_sorted_offsets_applied_and_empty_dates_skipped(tmp_path, write_tif):
    before = _tile(tmp_path, write_tif, epsg=32647, lon=98.3, date=pd.Timestamp("2021-12-01"),
                   red=0.12, nir=0.3)
    after = _tile(tmp_path, write_tif, epsg=32647, lon=98.3, date=pd.Timestamp("2022-12-01"),
                  red=0.12, nir=0.3, offset=-0.1)  # baseline ≥ 04.00: DN = refl·1e4 + 1000
    cloudy = _tile(tmp_path, write_tif, epsg=32647, lon=98.3, date=pd.Timestamp("2022-06-01"),
                   red=0.12, nir=0.3, cloud_box=(0, 150, 0, 150))
    # dask's worker threads enter warnings.catch_warnings(), which is not thread-safe and can
    # swallow warnings raised while pytest records them; the synchronous scheduler avoids that.
    with dask.config.set(scheduler="synchronous"), pytest.warns(EmptySceneWarning,
                                                                match=cloudy.id):
        stack = load_stack([after, cloudy, before], chunks=128)
    assert stack.attrs["skipped_empty"] == [f"{cloudy.id} (2022-06-01)"]
    assert list(pd.DatetimeIndex(stack["time"].values).year) == [2021, 2022]
    red = stack.sel(band="red").mean(["y", "x"]).compute().values
    np.testing.assert_allclose(red, [0.12, 0.12], atol=1e-6)


def test_stays_lazy_until_computed(tmp_path, write_tif):
    scene = _tile(tmp_path, write_tif, epsg=32647, lon=98.3, date=pd.Timestamp("2021-02-01"),
                  red=0.2, nir=0.3)
    calls = []

    class Count(dask.callbacks.Callback):
        def _start(self, dsk):
            calls.append(1)

    with Count():
        stack = load_stack([scene], chunks=64, skip_empty=False)
    assert calls == []
    assert stack.chunks is not None and max(stack.chunks[-1]) == 64
    assert float(stack.sel(band="nir").mean()) == pytest.approx(0.3)


def test_aoi_in_another_crs_and_as_a_file(tmp_path, write_tif):
    scene = _tile(tmp_path, write_tif, epsg=32647, lon=98.3, date=pd.Timestamp("2021-02-01"),
                  red=0.2, nir=0.3)
    x, y = Transformer.from_crs(4326, 32647, always_xy=True).transform(98.3, LAT)
    x, y = round(x / 20) * 20, round(y / 20) * 20  # on the 10 m and 20 m pixel grids
    frame = gpd.GeoDataFrame(geometry=[box(x - 500, y - 300, x + 500, y + 300)], crs=32647)
    stack = load_stack([scene], frame)
    assert (stack.sizes["y"], stack.sizes["x"]) == (60, 100)
    path = tmp_path / "aoi.gpkg"
    frame.to_crs(4326).to_file(path)
    from_file = load_stack([scene], path, resolution=20)
    assert abs(from_file.sizes["x"] - 50) <= 1 and abs(from_file.sizes["y"] - 30) <= 1


def test_multiband_file_bands_are_addressed_by_index(tmp_path, write_tif):
    dn = np.stack([np.full((100, 100), v, np.uint16) for v in (500, 1000, 2000, 4000)])
    path = str(write_tif(tmp_path / "ps.tif", dn, transform=from_origin(300000, 2850000, 3, 3)))
    scene = Scene(
        id="ps", sensor="planetscope", time=pd.Timestamp("2022-01-01"),
        bands=tuple(BandSource(role=r, href=path, index=i, scale=1e-4, nodata=0)
                    for i, r in enumerate(("blue", "green", "red", "nir"), start=1)),
    )
    stack = load_stack([scene]).compute()
    assert list(stack["band"].values) == ["blue", "green", "red", "nir"]
    np.testing.assert_allclose(stack.mean(["time", "y", "x"]).values, [0.05, 0.1, 0.2, 0.4],
                               atol=1e-6)
    assert stack.rio.resolution() == (3.0, -3.0)


def test_no_overlap_is_a_clear_error(tmp_path, write_tif):
    scene = _tile(tmp_path, write_tif, epsg=32647, lon=98.3, date=pd.Timestamp("2021-02-01"),
                  red=0.2, nir=0.3)
    with pytest.raises(NoOverlapError, match=r"No scene overlaps the AOI.*S2_32647_20210201"):
        load_stack([scene], box(97.0, 26.5, 97.1, 26.6))


def test_scene_outside_the_aoi_is_skipped_with_a_warning(tmp_path, write_tif):
    near = _tile(tmp_path, write_tif, epsg=32647, lon=98.3, date=pd.Timestamp("2021-02-01"),
                 red=0.2, nir=0.3)
    far = _tile(tmp_path, write_tif, epsg=32647, lon=99.3, date=pd.Timestamp("2021-03-01"),
                red=0.2, nir=0.3)
    with pytest.warns(MinewatchWarning, match=far.id):
        stack = load_stack([near, far], box(98.29, 25.69, 98.31, 25.71))
    assert stack.sizes["time"] == 1


@pytest.mark.parametrize(
    ("aoi", "message"),
    [
        (box(0, 0, 0, 0), "empty|no area"),
        (box(300000, 2840000, 301000, 2841000), "not lon/lat"),
        (gpd.GeoDataFrame(geometry=[box(0, 0, 1, 1)]), "no CRS"),
    ],
)
def test_bad_aoi_errors(aoi, message):
    from minewatch.errors import InputError

    with pytest.raises(InputError, match=message):
        read_aoi(aoi)


def test_all_nodata_scene_is_skipped_with_a_warning(tmp_path, write_tif):
    good = _tile(tmp_path, write_tif, epsg=32647, lon=98.3, date=pd.Timestamp("2021-01-01"),
                 red=0.2, nir=0.3)
    blank = _tile(tmp_path, write_tif, epsg=32647, lon=98.3, date=pd.Timestamp("2021-02-01"),
                  red=0.2, nir=0.3, nodata_rows=300)  # every DN is 0 = nodata
    with dask.config.set(scheduler="synchronous"), pytest.warns(EmptySceneWarning,
                                                                match=blank.id):
        stack = load_stack([good, blank])
    assert list(stack["scene_id"].values) == [good.id]
    assert stack.attrs["skipped_empty"] == [f"{blank.id} (2021-02-01)"]
