"""Maps and plots: rendered to real files, checked as images and by artist inspection.

Every figure is written through ``save_figure`` and reopened: a valid PNG of the pixel size its
journal size and dpi imply, not blank; maps carry a legend, a scale bar, a north arrow, degree
labels that agree with pyproj and a credit line; site labels never overlap; partly unobserved
dates never appear as drops.
"""

from __future__ import annotations

import itertools
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import geopandas as gpd
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pyproj
import pytest
import rasterio
import rasterio.warp
import rioxarray  # noqa: F401  (the .rio accessor)
import shapely
import xarray as xr
from matplotlib.offsetbox import AnchoredOffsetbox
from matplotlib.transforms import Bbox
from matplotlib_scalebar.scalebar import ScaleBar
from PIL import Image
from pyproj import Proj, Transformer

from layout_fixture import CRS, DATES, make_out_dir
from minewatch.errors import InputError
from minewatch.plot import (
    FIGURE_SIZES_MM,
    countries,
    plot_before_after,
    plot_ndvi,
    plot_overview,
    plot_site_growth,
    plot_site_map,
    plot_timeseries,
    plot_true_colour,
    save_figure,
    scale_bar_extent,
    site_labels,
    write_figures,
)

matplotlib.use("Agg")

KIO = ("2024-10-01", "KIO takes control of the mining area")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory) -> Path:
    return make_out_dir(tmp_path_factory.mktemp("analysis"))


@pytest.fixture(scope="module")
def layers(out_dir):
    return {name: gpd.read_file(out_dir / f"{name}.gpkg")
            for name in ("sites", "pools", "clearings")}


def _expected_px(size: str, dpi: int) -> tuple[int, int | None]:
    width_mm, height_mm = FIGURE_SIZES_MM[size]
    return (int(width_mm / 25.4 * dpi),
            None if height_mm is None else int(height_mm / 25.4 * dpi))


def _check_png(path: Path, width: int, height: int | None = None, min_std: float = 0.04
               ) -> np.ndarray:
    """A real PNG of that size whose pixels are not all alike; returns its grey values."""
    with Image.open(path) as image:
        assert image.format == "PNG"
        image.verify()
    with Image.open(path) as image:
        assert image.size[0] == width, (path, image.size)
        if height is not None:
            assert image.size[1] == height
        grey = np.asarray(image.convert("L"), dtype=float) / 255
    assert grey.std() > min_std, f"{path} looks blank (std {grey.std():.3f})"
    return grey


def _xnum(line) -> np.ndarray:
    """A line's x data as matplotlib date numbers (series hold datetime64, axvline floats)."""
    x = np.asarray(line.get_xdata())
    return matplotlib.dates.date2num(x) if x.dtype.kind == "M" else x.astype(float)


def _boxes_overlap(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def _no_overlaps(texts) -> None:
    renderer = texts[0].figure.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in texts]
    for (i, a), (j, b) in itertools.combinations(enumerate(boxes), 2):
        assert not _boxes_overlap(a, b), (texts[i].get_text(), texts[j].get_text())


# ---------------------------------------------------------------------------- site map
def test_site_map_is_a_full_map_at_300_dpi(out_dir, layers, tmp_path):
    ax = plot_site_map(layers["sites"], layers["pools"], layers["clearings"],
                       background=out_dir / "imagery" / "2024-01-22_rgb.tif", sensor="sentinel2")
    path = save_figure(ax.figure, tmp_path / "site_map.png", size="single", dpi=300)
    grey = _check_png(path, _expected_px("single", 300)[0])
    assert grey.shape[0] > 600  # aspect kept: a square map plus its furniture

    legend = ax.get_legend()
    assert legend is not None
    labels = [t.get_text() for t in legend.get_texts()]
    assert labels == ["mining clearings (26.8 ha)", "leaching pools (19)", "sites (3)"]
    assert any(isinstance(a, ScaleBar) for a in ax.artists)
    arrows = [a for a in ax.artists if isinstance(a, AnchoredOffsetbox)]
    assert arrows, "no north arrow"
    assert ax.get_title(loc="left") == "Rare-earth leaching sites"
    texts = [t.get_text() for t in ax.texts]
    assert "2024-01-22 · 3 sites, 19 pools" in texts
    assert any("Contains modified Copernicus Sentinel data 2024" in t for t in texts)
    assert any("Natural Earth" in t for t in texts)  # the inset's credit
    assert len(ax.child_axes) == 1  # the inset locator
    assert ax.get_aspect() == 1.0
    # all three sites labelled, none overlapping, all inside the map
    labels = site_labels(ax)
    assert sorted(t.get_text() for t in labels) == ["S0001", "S0002", "S0003"]
    _no_overlaps(labels)
    frame = ax.get_window_extent()
    for text in labels:
        box = text.get_window_extent()
        assert frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0
    # ... and keep off the pools they would hide
    pools = layers["pools"][layers["pools"]["date"] == pd.Timestamp("2024-01-22")]
    for (x0, y0, x1, y1), text in itertools.product(pools.geometry.bounds.to_numpy(), labels):
        corners = ax.transData.transform([(x0, y0), (x1, y1)])
        assert not _boxes_overlap(text.get_window_extent(), Bbox(corners))


def test_graticule_labels_are_the_degrees_pyproj_gives(out_dir, layers, tmp_path):
    ax = plot_site_map(layers["sites"], layers["pools"], layers["clearings"],
                       background=out_dir / "imagery" / "2024-01-22_rgb.tif", inset=False)
    save_figure(ax.figure, tmp_path / "map.png", size="single", dpi=100)
    to_geo = Transformer.from_crs(CRS, 4326, always_xy=True)
    bottom, left = ax.get_ylim()[0], ax.get_xlim()[0]
    xticks = [(x, t.get_text()) for x, t in zip(ax.get_xticks(), ax.get_xticklabels(),
                                                strict=True)]
    yticks = [(y, t.get_text()) for y, t in zip(ax.get_yticks(), ax.get_yticklabels(),
                                                strict=True)]
    assert len(xticks) >= 2 and len(yticks) >= 2
    for x, label in xticks:
        assert label.endswith("°E")
        lon, _ = to_geo.transform(x, bottom)
        assert lon == pytest.approx(float(label[:-2]), abs=1e-6)
    for y, label in yticks:
        assert label.endswith("°N")
        _, lat = to_geo.transform(left, y)
        assert lat == pytest.approx(float(label[:-2]), abs=1e-6)
    # degree labels do not collide, along either edge
    _no_overlaps([t for t in ax.get_xticklabels() if t.get_text()])
    _no_overlaps([t for t in ax.get_yticklabels() if t.get_text()])


def test_north_arrow_points_to_true_north():
    from minewatch.plot._furniture import _true_north_deg

    x, y = Transformer.from_crs(4326, CRS, always_xy=True).transform(96.0, 26.0)
    _, ax = plt.subplots()
    ax.set(xlim=(x - 1000, x + 1000), ylim=(y - 1000, y + 1000))
    convergence = Proj(CRS).get_factors(96.0, 26.0).meridian_convergence  # 3° off the CM
    assert abs(convergence) > 1
    assert _true_north_deg(ax, pyproj.CRS(CRS)) == pytest.approx(-convergence, abs=0.01)


def test_lonlat_background_is_warped_to_the_map(out_dir, layers, tmp_path):
    source = out_dir / "imagery" / "2024-01-22_rgb.tif"
    lonlat = tmp_path / "lonlat_rgb.tif"
    with rasterio.open(source) as src:
        transform, width, height = rasterio.warp.calculate_default_transform(
            src.crs, "EPSG:4326", src.width, src.height, *src.bounds)
        profile = src.profile | {"crs": "EPSG:4326", "transform": transform, "width": width,
                                 "height": height}
        with rasterio.open(lonlat, "w", **profile) as dst:
            for band in (1, 2, 3):
                rasterio.warp.reproject(rasterio.band(src, band), rasterio.band(dst, band))
    ax = plot_site_map(layers["sites"], background=lonlat, inset=False)
    left, right, bottom, top = ax.get_images()[0].get_extent()
    assert 426_500 < left < right < 429_500 and 2_857_500 < bottom < top < 2_860_500
    assert ax.get_xlim()[0] == pytest.approx(left)


def _crowded_sites(n: int = 36) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(7)
    centres = rng.uniform(0, 1500, size=(n, 2)) + np.array([427_000, 2_858_000])
    return gpd.GeoDataFrame({"site_id": [f"S{i + 1:04d}" for i in range(n)],
                             "first_seen": pd.Timestamp("2022-01-20")},
                            geometry=[shapely.box(x - 20, y - 20, x + 20, y + 20)
                                      for x, y in centres], crs=CRS)


@pytest.mark.parametrize("size", ["single", "double"])
def test_crowded_labels_never_overlap_and_avoid_the_furniture(size, tmp_path):
    sites = _crowded_sites()
    ax = plot_site_map(sites, inset=False)
    save_figure(ax.figure, tmp_path / "crowded.png", size=size, dpi=100)
    labels = site_labels(ax)
    assert len(labels) >= 0.75 * len(sites)  # most find room; the rest are hidden, not stacked
    _no_overlaps(labels)
    renderer = ax.figure.canvas.get_renderer()
    bar = next(a for a in ax.artists if isinstance(a, ScaleBar))
    arrow = next(a for a in ax.artists if isinstance(a, AnchoredOffsetbox))
    furniture = [bar.info.window_extent, arrow.get_window_extent(renderer)]  # as drawn
    assert min(b.width for b in furniture) > 10
    for text, box in itertools.product(labels, furniture):
        assert not _boxes_overlap(text.get_window_extent(renderer), box), text.get_text()
    # the bound that labels are kept out of holds the scale bar as drawn
    bound, drawn = scale_bar_extent(bar, renderer), bar.info.window_extent
    assert bound.x0 <= drawn.x0 and bound.y0 <= drawn.y0
    assert drawn.x1 <= bound.x1 and drawn.y1 <= bound.y1


def test_label_placement_is_deterministic_and_follows_resizes(tmp_path):
    positions = []
    for k in range(2):
        ax = plot_site_map(_crowded_sites(), inset=False)
        save_figure(ax.figure, tmp_path / f"a{k}.png", size="double", dpi=80)
        positions.append({t.get_text(): t.get_position() for t in site_labels(ax)})
        if k == 1:  # the same figure saved narrower: labels are placed again
            save_figure(ax.figure, tmp_path / "narrow.png", size="single", dpi=80)
            _no_overlaps(site_labels(ax))
    assert positions[0] == positions[1]


def test_a_large_site_is_labelled_inside(tmp_path):
    big = shapely.box(427_000, 2_858_000, 428_500, 2_859_500)
    small = shapely.box(428_600, 2_858_000, 428_640, 2_858_040)
    sites = gpd.GeoDataFrame({"site_id": ["S0001", "S0002"]}, geometry=[big, small], crs=CRS)
    ax = plot_site_map(sites, inset=False)
    save_figure(ax.figure, tmp_path / "big.png", size="single", dpi=100)
    labels = {t.get_text(): t for t in site_labels(ax)}
    inside = labels["S0001"].get_window_extent()
    frame = ax.transData.transform([(427_000, 2_858_000), (428_500, 2_859_500)])
    assert frame[0, 0] < inside.x0 and inside.x1 < frame[1, 0]
    assert frame[0, 1] < inside.y0 and inside.y1 < frame[1, 1]
    outside = labels["S0002"].get_window_extent()  # a small site: beside it, not on it
    corner = ax.transData.transform([(428_600, 2_858_000), (428_640, 2_858_040)])
    assert not _boxes_overlap(outside, Bbox(corner))


def test_clearings_that_are_not_mining_are_not_drawn_as_mining(layers):
    clearings = layers["clearings"].copy()
    last = clearings["date"] == clearings["date"].max()
    slide = clearings[last].iloc[:1].assign(kind="landslide", site_id=None)
    slide["geometry"] = slide.geometry.translate(0, -600)
    both = pd.concat([clearings, slide], ignore_index=True)
    ax = plot_site_map(layers["sites"], clearings=both, inset=False)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    mining = clearings[last].geometry.area.sum() / 1e4
    assert labels[:2] == [f"mining clearings ({mining:.1f} ha)", "other clearings (landslide)"]


def test_site_map_without_sites_says_so(out_dir):
    empty = gpd.GeoDataFrame({"site_id": []}, geometry=[], crs=CRS)
    ax = plot_site_map(empty, background=out_dir / "imagery" / "2024-01-22_rgb.tif",
                       date="2024-01-22", sensor="sentinel2")
    ax.figure.canvas.draw()
    texts = [t.get_text() for t in ax.texts]
    assert "No sites detected" in texts
    assert "2024-01-22 · 0 sites, 0 pools" in texts
    assert site_labels(ax) == []


def test_site_map_of_lonlat_sites_is_drawn_in_utm(layers):
    sites = layers["sites"].to_crs(4326)
    ax = plot_site_map(sites, inset=False)
    x0, x1 = ax.get_xlim()
    assert 426_000 < x0 < x1 < 430_000  # metres of UTM 47N, not degrees


def test_site_map_over_ndvi_has_a_colour_bar(layers):
    x = 427_005.0 + 10 * np.arange(200)
    y = 2_859_995.0 - 10 * np.arange(200)
    ndvi = xr.DataArray(np.tile(np.linspace(-0.1, 0.8, 200, dtype="float32"), (200, 1)),
                        dims=("y", "x"), coords={"y": y, "x": x}).rio.write_crs(CRS)
    ax = plot_site_map(layers["sites"], layers["pools"], background=ndvi, inset=False)
    bars = [c for c in ax.child_axes if c.get_xlabel().startswith("NDVI")]
    assert len(bars) == 1
    image = ax.get_images()[0]
    assert image.get_cmap().name == "ndvi_greys"


def test_site_map_rejects_frames_without_crs():
    sites = gpd.GeoDataFrame({"site_id": ["S0001"]}, geometry=[shapely.box(0, 0, 1, 1)])
    with pytest.raises(InputError, match="sites has no CRS"):
        plot_site_map(sites)


# ---------------------------------------------------------------------------- overview
def test_overview_colours_sites_by_first_seen_year(layers, tmp_path):
    ax = plot_overview(layers["sites"], sensor="sentinel2", dates=DATES)
    path = save_figure(ax.figure, tmp_path / "overview.png", size="single", dpi=150)
    _check_png(path, _expected_px("single", 150)[0])
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["2021 (1)", "2022 (1)", "2024 (1)", "provisional\n(seen once)"]
    colours = [tuple(h.get_markerfacecolor()) for h in ax.get_legend().legend_handles[:3]]
    assert len(set(colours)) == 3
    assert any(isinstance(a, ScaleBar) for a in ax.artists)
    assert any("2021–2024" in t.get_text() for t in ax.texts)


# ---------------------------------------------------------------------------- before/after
def test_before_after_pair_and_change_map(out_dir, layers, tmp_path):
    change = out_dir / "change" / "2021-01-15_2024-01-22.tif"
    axes = plot_before_after(out_dir / "imagery" / "2021-01-15_rgb.tif",
                             out_dir / "imagery" / "2024-01-22_rgb.tif", change,
                             sites=layers["sites"], sensor="sentinel2")
    path = save_figure(axes[0].figure, tmp_path / "before_after.png", size="double", dpi=100)
    _check_png(path, _expected_px("double", 100)[0])
    assert [a.get_title(loc="left") for a in axes] == ["Before", "After", "Change"]
    subtitles = [t.get_text() for a in axes for t in a.texts]
    assert "2021-01-15 → 2024-01-22" in subtitles
    labels = [t.get_text() for t in axes[2].get_legend().get_texts()]
    with rasterio.open(change) as src:
        pixels = np.bincount(src.read(1).ravel(), minlength=6)
    assert labels == ["no mining", f"new clearing ({pixels[2] * 100 / 1e4:.1f} ha)",
                      f"persistent mining ({pixels[4] * 100 / 1e4:.1f} ha)", "sites (3)"]
    assert any(isinstance(a, ScaleBar) for a in axes[0].artists)


def test_graticule_labels_clear_the_corner_where_a_parallel_meets_the_edge():
    # a parallel and a meridian just inside the lower-left corner (as in the demo's
    # before/after panels): the latitude label, centred on its tick, ran into the longitude
    # label below it
    from minewatch.plot._furniture import add_graticule

    to_map = Transformer.from_crs(4326, CRS, always_xy=True)
    x, y = to_map.transform(98.34, 25.66)
    fig, ax = plt.subplots(figsize=(2.4, 2.4), dpi=100)
    ax.set(xlim=(x - 40, x + 3500), ylim=(y - 15, y + 3500), aspect="equal")
    add_graticule(ax, pyproj.CRS(CRS))
    fig.canvas.draw()
    labels = [t for t in (*ax.get_xticklabels(), *ax.get_yticklabels()) if t.get_text()]
    assert sum(t.get_text().endswith("°N") for t in labels) >= 2
    _no_overlaps(labels)
    plt.close(fig)


def test_change_map_no_data_is_hatched_not_no_mining(out_dir, tmp_path):
    source = out_dir / "change" / "2021-01-15_2024-01-22.tif"
    cloudy = tmp_path / "2021-01-15_2024-01-22.tif"
    with rasterio.open(source) as src:
        profile, data = src.profile, src.read(1)
    data[:, 100:] = 0  # east half unobserved
    with rasterio.open(cloudy, "w", **profile) as dst:
        dst.write(data, 1)
    axes = plot_before_after(out_dir / "imagery" / "2021-01-15_rgb.tif",
                             out_dir / "imagery" / "2024-01-22_rgb.tif", cloudy)
    handles = axes[2].get_legend().legend_handles
    hatched = [h for h in handles if h.get_hatch()]
    assert [h.get_label() for h in hatched] == ["no data (not observed)"]


def test_change_map_with_unknown_classes_is_refused(out_dir, tmp_path):
    source = out_dir / "change" / "2021-01-15_2024-01-22.tif"
    bad = tmp_path / "bad.tif"
    with rasterio.open(source) as src:
        profile, data = src.profile, src.read(1)
    data[0, 0] = 9
    with rasterio.open(bad, "w", **profile) as dst:
        dst.write(data, 1)
    with pytest.raises(InputError, match=r"values \[9\] outside the change classes"):
        plot_before_after(out_dir / "imagery" / "2021-01-15_rgb.tif",
                          out_dir / "imagery" / "2024-01-22_rgb.tif", bad)


# ---------------------------------------------------------------------------- time series
def test_timeseries_never_draws_a_partly_unobserved_date_as_a_drop(out_dir, tmp_path):
    table = pd.read_csv(out_dir / "timeseries.csv", parse_dates=["date"])
    table.loc[2, ["pools", "cleared_area_m2"]] = [1, 1000.0]  # a cloudy-date undercount
    axes = plot_timeseries(table, events=[KIO])
    path = save_figure(axes[0].figure, tmp_path / "ts.png", size="single", dpi=150)
    _check_png(path, _expected_px("single", 150)[0])
    cloudy = pd.Timestamp(DATES[2])
    for ax in axes:
        line = ax.get_lines()[0]  # the series line, drawn first
        assert len(line.get_xdata()) == 3
        assert matplotlib.dates.date2num(cloudy) not in set(_xnum(line)), \
            "the line runs through the cloudy date"
        hollow = [ln for ln in ax.get_lines() if ln.get_markerfacecolor() == "white"]
        assert len(hollow) == 1 and len(hollow[0].get_xdata()) == 1
        assert ax.get_ylim()[0] == 0
        band = ax.collections[0]  # the band: over the three fully observed dates only
        assert len(np.unique(band.get_paths()[0].vertices[:, 0])) == 3
        assert len(ax.collections) == 2  # and the cloudy date's range as an error bar
        event_x = matplotlib.dates.date2num(pd.Timestamp(KIO[0]))
        assert any(np.allclose(_xnum(ln), event_x) for ln in ax.get_lines())
        assert ax.get_xlim()[1] > event_x
    notes = " ".join(t.get_text() for t in axes[-1].texts)
    assert "2024-10-01  KIO takes control of the mining area" in notes
    assert "partly hidden by cloud" in notes and "carried" in notes
    assert [t.get_text() for t in axes[0].texts if t.get_text() == "1"] == ["1"]
    assert axes[-1].get_legend() is not None
    assert [a.get_ylabel() for a in axes] == ["sites", "pools", "cleared area (ha)"]


def test_area_no_scene_covers_does_not_make_every_date_partial():
    table = pd.DataFrame({"date": pd.to_datetime(["2021-01-15", "2022-01-20", "2023-01-18"]),
                          "sites": [2, 3, 3], "valid_fraction": [0.91, 0.91, 0.62]})
    (ax,) = plot_timeseries(table, metrics=("sites",))
    assert len(ax.get_lines()[0].get_xdata()) == 2  # only the cloudy date is off the line
    (ax,) = plot_timeseries(table, metrics=("sites",), full_fraction=0.95)
    assert len(ax.get_lines()[0].get_xdata()) == 0


def test_timeseries_per_region(out_dir):
    table = pd.read_csv(out_dir / "timeseries.csv", parse_dates=["date"])
    both = pd.concat([table.assign(region="Pang War"), table.assign(region="Chipwi")])
    axes = plot_timeseries(both, metrics=("sites",))
    labels = [t.get_text() for t in axes[0].get_legend().get_texts()]
    assert labels[:2] == ["Chipwi", "Pang War"]


def test_timeseries_rejects_missing_columns():
    with pytest.raises(InputError, match=r"no column\(s\) \['pools'\]"):
        plot_timeseries(pd.DataFrame({"date": ["2024-01-01"], "sites": [1]}),
                        metrics=("sites", "pools"))


def test_events_must_be_dated():
    table = pd.DataFrame({"date": ["2024-01-01"], "sites": [1]})
    with pytest.raises(InputError, match="not a date"):
        plot_timeseries(table, metrics=("sites",), events=[("soon", "something")])


# ---------------------------------------------------------------------------- site growth
def test_site_growth_small_multiples(out_dir, layers, tmp_path):
    history = pd.read_csv(out_dir / "site_history.csv", parse_dates=["date"])
    axes = plot_site_growth(history, layers["sites"])
    path = save_figure(axes[0].figure, tmp_path / "growth.png", size="double", dpi=100)
    _check_png(path, _expected_px("double", 100)[0])
    assert [a.get_title(loc="left") for a in axes] == ["S0001", "S0002", "S0003"]
    assert axes[2].get_title(loc="right") == "since 2024, provisional"
    s2 = axes[1]
    pools_line = next(ln for ln in s2.get_lines() if ln.get_marker() == "o")
    assert list(pools_line.get_ydata()) == [3, 5]  # the unobserved 2023 is no zero
    crosses = [ln for ln in s2.get_lines() if ln.get_marker() == "x"]
    assert len(crosses) == 1 and len(crosses[0].get_xdata()) == 1
    assert axes[0].get_shared_y_axes().joined(axes[0], axes[2])


# ---------------------------------------------------------------------------- save_figure
@pytest.mark.parametrize("size", ["single", "double", "a4"])
def test_save_figure_journal_sizes(size, tmp_path):
    fig, ax = plt.subplots(figsize=(4, 3), layout="constrained")
    ax.plot([0, 1, 2], [0, 2, 1])
    path = save_figure(fig, tmp_path / f"{size}.png", size=size, dpi=60)
    width, height = _expected_px(size, 60)
    if height is None:  # single and double keep the figure's aspect (4:3)
        height = int(FIGURE_SIZES_MM[size][0] * 3 / 4 / 25.4 * 60)
    _check_png(path, width, height, min_std=0.01)


def test_save_figure_pdf_and_svg_are_parseable_with_editable_text(layers, tmp_path):
    ax = plot_site_map(layers["sites"], layers["pools"], layers["clearings"], inset=False)
    pdf = save_figure(ax.figure, tmp_path / "map.pdf", size="single")
    svg = save_figure(ax.figure, tmp_path / "map.svg", size="single")
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    assert data.count(b"/Type /Page\n") + data.count(b"/Type /Page ") >= 1
    assert b"/FontFile2" in data  # TrueType (Type 42), not Type 3
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg")
    texts = "".join(el.text or "" for el in root.iter() if el.tag.endswith("text"))
    assert "leaching pools" in texts and "200 m" in texts
    ids = {el.get("id") for el in root.iter()}
    assert {"site-label-S0001", "site-label-S0002", "site-label-S0003"} <= ids
    assert not list(tmp_path.glob(".*"))  # no temporary files left behind


@pytest.mark.parametrize("suffix", ["png", "pdf", "svg"])
def test_save_figure_gives_the_same_bytes_twice(suffix, tmp_path):
    data = []
    for k in range(2):
        fig, ax = plt.subplots()
        ax.plot([0, 1, 2], [0, 2, 1])
        ax.set_title("trend")
        data.append(save_figure(fig, tmp_path / f"{k}.{suffix}", dpi=50).read_bytes())
        plt.close(fig)
    assert data[0] == data[1]


def test_save_figure_refuses_unknown_suffix_and_size(tmp_path):
    fig, _ = plt.subplots()
    with pytest.raises(InputError, match=r"suffix '\.jpg'"):
        save_figure(fig, tmp_path / "map.jpg")
    with pytest.raises(InputError, match="size='poster'"):
        save_figure(fig, tmp_path / "map.png", size="poster")
    assert not (tmp_path / "map.png").exists()


# ---------------------------------------------------------------------------- write_figures
def test_write_figures_writes_every_figure(out_dir, tmp_path):
    out = tmp_path / "analysis"
    shutil.copytree(out_dir, out)
    files = write_figures(out, formats=("png", "svg"), events=[KIO], dpi=100)
    names = [p.name for p in files]
    assert names == ["site_map.png", "site_map.svg", "overview.png", "overview.svg",
                     "before_after.png", "before_after.svg", "timeseries.png",
                     "timeseries.svg", "site_growth.png", "site_growth.svg"]
    for path in files:
        assert path.parent == out / "figures" and path.stat().st_size > 1000
    widths = {"site_map": "double", "overview": "single", "before_after": "double",
              "timeseries": "single", "site_growth": "double"}
    for path in files:
        if path.suffix == ".png":
            _check_png(path, _expected_px(widths[path.stem], 100)[0])
        else:
            ET.parse(path)


def test_write_figures_per_region_when_analyze_had_regions(out_dir, tmp_path):
    out = tmp_path / "regions"
    shutil.copytree(out_dir, out)
    table = pd.read_csv(out / "timeseries.csv")
    pd.concat([table.assign(region="Pang War"), table.assign(region="Chipwi")]).to_csv(
        out / "timeseries_regions.csv", index=False)
    files = write_figures(out, dpi=50)
    assert [p.stem for p in files][3:5] == ["timeseries", "timeseries_regions"]
    _check_png(out / "figures" / "timeseries_regions.png", _expected_px("single", 50)[0])


def test_write_figures_with_one_date_has_no_change_map(out_dir, tmp_path):
    out = tmp_path / "one_date"
    shutil.copytree(out_dir, out)
    shutil.rmtree(out / "change")
    (out / "imagery" / "2021-01-15_rgb.tif").unlink()
    table = pd.read_csv(out / "timeseries.csv").iloc[-1:]
    table.to_csv(out / "timeseries.csv", index=False)
    files = write_figures(out, dpi=60)
    assert [p.name for p in files] == ["site_map.png", "overview.png", "timeseries.png",
                                       "site_growth.png"]
    for path in files:
        _check_png(path, Image.open(path).size[0], min_std=0.02)


def test_write_figures_with_no_sites(out_dir, tmp_path):
    out = tmp_path / "no_sites"
    shutil.copytree(out_dir, out)
    for name in ("sites", "pools", "clearings"):
        frame = gpd.read_file(out / f"{name}.gpkg")
        frame.iloc[:0].to_file(out / f"{name}.gpkg", layer=name)
    history = pd.read_csv(out / "site_history.csv")
    history.iloc[:0].to_csv(out / "site_history.csv", index=False)
    files = write_figures(out, dpi=60)
    assert {p.stem for p in files} == {"site_map", "overview", "before_after", "timeseries",
                                       "site_growth"}
    for path in files:
        _check_png(path, Image.open(path).size[0], min_std=0.02)


def test_write_figures_refuses_a_folder_that_is_no_output(tmp_path):
    with pytest.raises(InputError, match="not a minewatch output folder"):
        write_figures(tmp_path)


# ---------------------------------------------------------------------------- the rest
def test_natural_earth_ships_in_the_package():
    world = countries()
    assert {"Myanmar", "China", "India", "Thailand"} <= set(world["name"])
    assert world.crs.to_epsg() == 4326


def test_quicklooks_still_work(tmp_path):
    x = 427_005.0 + 10 * np.arange(30)
    y = 2_859_995.0 - 10 * np.arange(30)
    rng = np.random.default_rng(1)
    scene = xr.DataArray(rng.uniform(0.02, 0.3, (4, 30, 30)).astype("float32"),
                         dims=("band", "y", "x"),
                         coords={"band": ["blue", "green", "red", "nir"], "y": y, "x": x}
                         ).rio.write_crs(CRS)
    fig, axes = plt.subplots(1, 2, layout="constrained")
    plot_true_colour(scene, ax=axes[0])
    plot_ndvi(scene, ax=axes[1])
    path = save_figure(fig, tmp_path / "quick.png", dpi=60)
    _check_png(path, _expected_px("single", 60)[0])


def test_8bit_true_colour_background_is_v_over_255_with_alpha_where_observed():
    # made in the RGBA image a band at a time: the values of the whole-array formula
    from minewatch.plot._inputs import _background_image

    rng = np.random.default_rng(3)
    values = rng.integers(0, 256, (3, 30, 40), dtype=np.uint8)
    values[:, 5:9, 7:20] = 0  # no data
    values[1, 20, 30] = 0  # one band only: still no data
    image = xr.DataArray(values, dims=("band", "y", "x"),
                         coords={"band": ["blue", "green", "red"],
                                 "y": 2_858_995.0 - 10 * np.arange(30),
                                 "x": 427_005.0 + 10 * np.arange(40)}
                         ).rio.write_crs("EPSG:32647").rio.write_nodata(0)
    rgba, _, kind = _background_image(image, pyproj.CRS("EPSG:32647"), None, "rgb")
    assert kind == "rgb" and rgba.shape == (30, 40, 4) and rgba.dtype == np.float32
    mask = (values == 0).any(axis=0)
    expected = np.asarray(values[::-1], "float32") / 255.0  # red, green, blue
    np.testing.assert_array_equal(np.moveaxis(rgba[..., :3], -1, 0), expected)
    np.testing.assert_array_equal(rgba[..., 3], (~mask).astype("float32"))
