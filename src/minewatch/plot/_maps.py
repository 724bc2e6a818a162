"""Publication maps: site map, before/after with change map, overview by first-seen year.

Every map is drawn in a projected CRS (the sites' UTM zone; a geographic input is moved to its
UTM zone) with equal aspect, and carries a scale bar, a north arrow (true north), a lon/lat
graticule, a legend, a title with the dates, the data-credit line and, optionally, an inset
locator of the area within Myanmar and its neighbours.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.patheffects import withStroke
from pyproj import CRS

from minewatch.errors import InputError
from minewatch.plot._furniture import (
    NATURAL_EARTH_CREDIT,
    add_credit,
    add_graticule,
    add_inset_locator,
    add_north_arrow,
    add_scale_bar,
    scale_bar_extent,
)
from minewatch.plot._inputs import (
    Bounds,
    Raster,
    _data_bounds,
    _draw_background,
    _frame,
    _map_crs,
    _raster_bounds,
    _read_raster,
)
from minewatch.plot._labels import label_sites
from minewatch.plot._style import (
    CHANGE_STYLE,
    CLEARING,
    MM,
    OTHER_CLEARING,
    POOL_EDGE,
    POOL_FACE,
    SITE,
    SITE_HALO,
    SMALL_PT,
    TEXT_PT,
    TITLE_PT,
    _date_in,
    data_credit,
    year_colours,
)

__all__ = ["plot_before_after", "plot_overview", "plot_site_map"]


# ---------------------------------------------------------------------------- axes
def _new_axes(ax: Axes | None, width_mm: float, height_mm: float) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(width_mm * MM, height_mm * MM), layout="constrained")
    return fig.add_subplot()


def _fit_height(ax: Axes, bounds: Bounds | None, *, side_mm: float, extra_mm: float,
                panels: int = 1, max_mm: float = 200.0) -> None:
    """Set the height of a figure made here so that its equal-aspect maps fill its width."""
    if bounds is None:
        return
    fig = ax.figure
    aspect = (bounds[3] - bounds[1]) / max(bounds[2] - bounds[0], 1e-9)
    map_w = (fig.get_figwidth() / MM - side_mm - 9.0 * panels) / panels
    height = min(max(map_w * aspect + extra_mm, 40.0), max_mm)
    fig.set_size_inches(fig.get_figwidth(), height * MM)


def _titles(ax: Axes, title: str, subtitle: str) -> None:
    if subtitle:
        ax.annotate(subtitle, xy=(0, 1), xycoords="axes fraction", xytext=(0, 3),
                    textcoords="offset points", ha="left", va="bottom", fontsize=SMALL_PT,
                    color="#333333", annotation_clip=False)
    ax.set_title(title, loc="left", fontsize=TITLE_PT, fontweight="bold",
                 pad=(SMALL_PT + 5) if subtitle else 4)


def _credit_text(credit: str | None, sensor: str | None, dates: Sequence, inset: bool,
                 width_mm: float) -> str:
    parts = [credit if credit is not None else data_credit(sensor, dates)]
    if inset:
        parts.append(NATURAL_EARTH_CREDIT)
    parts = [p for p in parts if p]
    line = " · ".join(parts)
    if len(line) * TINY_CHAR_MM > width_mm:
        line = "\n".join(parts)
    return line


TINY_CHAR_MM = 5 * 0.55 / 72 * 25.4  # width of one 5 pt character, mm


def _axes_width_mm(ax: Axes) -> float:
    fig = ax.figure
    return fig.get_figwidth() / MM * ax.get_position().width


def _finish_map(ax: Axes, crs: CRS, bounds: Bounds, *, legend_handles: list, title: str,
                subtitle: str, credit: str, inset: bool, legend_title: str | None = None,
                left_labels: bool = True, arrow: bool = True, scale: bool = True,
                arrow_pt: float = 20.0, grid_colour: str = "white") -> dict[str, object]:
    """Limits, aspect, graticule, scale bar, north arrow, legend (right), inset, titles, credit.
    Returns the furniture artists (obstacles for labels)."""
    left, bottom, right, top = bounds
    ax.set_xlim(left, right)
    ax.set_ylim(bottom, top)
    ax.set_aspect("equal", adjustable="box")
    for spine in ax.spines.values():
        spine.set_linewidth(0.6)
    furniture: dict[str, object] = {}
    add_graticule(ax, crs, left_labels=left_labels, colour=grid_colour)
    if scale:
        furniture["scale"] = add_scale_bar(ax, crs)
    if arrow:
        furniture["arrow"] = add_north_arrow(ax, crs, size_pt=arrow_pt)
    if legend_handles:
        furniture["legend"] = ax.legend(
            handles=legend_handles,
            labels=[(h[0] if isinstance(h, tuple) else h).get_label() for h in legend_handles],
            loc="upper left", bbox_to_anchor=(1.03, 1.0),
            borderaxespad=0.0, fontsize=SMALL_PT, title=legend_title,
            title_fontsize=SMALL_PT, frameon=False, handlelength=1.6, handleheight=1.0,
            alignment="left")
    if inset:
        furniture["inset"] = add_inset_locator(ax, crs, where="outside", height=0.36)
    _titles(ax, title, subtitle)
    furniture["credit"] = add_credit(ax, credit)
    return furniture


def _empty_message(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center",
            fontsize=TEXT_PT + 1, zorder=10,
            bbox={"boxstyle": "round,pad=0.5", "facecolor": "white", "alpha": 0.85,
                  "edgecolor": "#555555", "linewidth": 0.5})


def _site_style() -> dict:
    return {"facecolor": "none", "edgecolor": SITE, "linewidth": 1.1,
            "path_effects": [withStroke(linewidth=2.2, foreground=SITE_HALO)]}


def _site_handle(label: str) -> Line2D:
    return Line2D([], [], color=SITE, linewidth=1.1, label=label,
                  path_effects=[withStroke(linewidth=2.2, foreground=SITE_HALO)])


def _hectares(area_m2: float) -> str:
    ha = area_m2 / 1e4
    return f"{ha:,.0f} ha" if ha >= 100 else f"{ha:,.1f} ha"


def _in_view(frame: gpd.GeoDataFrame | None, bounds: Bounds | None
             ) -> gpd.GeoDataFrame | None:
    """The rows that show within ``bounds`` (counts in legends are of what is on the map)."""
    if frame is None or bounds is None or not len(frame):
        return frame
    import shapely

    return frame[frame.intersects(shapely.box(*bounds))]


def _label_frame(ax: Axes, sites: gpd.GeoDataFrame, furniture: dict,
                 pools: gpd.GeoDataFrame | None = None) -> None:
    order = sites.sort_values("site_id") if "site_id" in sites.columns else sites
    x0, x1 = sorted(ax.get_xlim())
    y0, y1 = sorted(ax.get_ylim())
    inside = order.geometry.representative_point()
    order = order[inside.x.between(x0, x1).to_numpy() & inside.y.between(y0, y1).to_numpy()]
    names = (order["site_id"].astype(str).tolist() if "site_id" in order.columns
             else [str(i) for i in order.index])
    points = order.geometry.representative_point()
    anchors = np.column_stack([points.x, points.y])
    bounds = order.geometry.bounds.to_numpy()
    obstacles: list = [furniture[k] for k in ("arrow",) if furniture.get(k) is not None]
    if furniture.get("scale") is not None:
        obstacles.append(lambda renderer, bar=furniture["scale"]: scale_bar_extent(bar, renderer))
    avoid = pools.geometry.bounds.to_numpy() if pools is not None and len(pools) else None
    label_sites(ax, names, anchors, bounds, fontsize=SMALL_PT, obstacles=obstacles,
                avoid=avoid)


def _pick_date(frames: Sequence[gpd.GeoDataFrame | None], date) -> pd.Timestamp | None:
    if date is not None:
        return pd.Timestamp(date).normalize()
    dates = [f["date"].max() for f in frames if f is not None and "date" in f.columns and len(f)]
    return max(dates) if dates else None


def _on_date(frame: gpd.GeoDataFrame | None, date: pd.Timestamp | None
             ) -> gpd.GeoDataFrame | None:
    if frame is None or date is None or "date" not in frame.columns:
        return frame
    return frame[frame["date"] == date]


def _pool_layer(ax: Axes, pools: gpd.GeoDataFrame, bounds: Bounds, width_mm: float) -> None:
    """Pools as polygons when they show at this scale, else as small squares."""
    span = max(bounds[2] - bounds[0], 1.0)
    size_mm = float(np.sqrt(pools.geometry.area.median())) / span * width_mm
    if size_mm >= 0.5:
        pools.plot(ax=ax, facecolor=POOL_FACE, edgecolor=POOL_EDGE, linewidth=0.3, zorder=4)
    else:
        points = pools.geometry.representative_point()
        ax.plot(points.x, points.y, linestyle="none", marker="s", markersize=1.8,
                markerfacecolor=POOL_FACE, markeredgecolor=POOL_EDGE, markeredgewidth=0.25,
                zorder=4)


# ---------------------------------------------------------------------------- site map
def plot_site_map(sites: gpd.GeoDataFrame | None, pools: gpd.GeoDataFrame | None = None,
                  clearings: gpd.GeoDataFrame | None = None, background: Raster | None = None,
                  ax: Axes | None = None, *, date=None, title: str | None = None,
                  credit: str | None = None, sensor: str | None = None,
                  bounds: Bounds | None = None, labels: bool | None = None,
                  inset: bool = True, background_kind: str = "auto") -> Axes:
    """Map of mining sites on one date over a true-colour or NDVI background.

    Leaching pools (filled, sky blue), mining clearings (orange; other kinds such as
    landslides as white dashed outlines) and site outlines (yellow with a black halo) are
    drawn over the background; site IDs are labelled without overlaps (see
    ``minewatch.plot.site_labels``). The map has a scale bar, a north arrow, a lon/lat
    graticule, a legend with counts, a title with the date, the data-credit line and, when
    ``inset``, a locator of the area within Myanmar.

    Parameters
    ----------
    sites
        Sites (``sites.gpkg``: ``site_id``, ``first_seen``, ``geometry``...); may be empty or
        None ("No sites detected" is written on the map).
    pools, clearings
        Detections (``pools.gpkg``, ``clearings.gpkg``); with a ``date`` column only the rows
        of ``date`` are drawn.
    background
        A GeoTIFF path or DataArray: 3 bands (uint8 RGB, or reflectance with ``red``,
        ``green``, ``blue`` band names) for true colour, one band (NDVI) or a scene with
        ``red`` and ``nir`` for NDVI (viridis, −0.2…0.9).
    ax
        Axes to draw on; None: a new 183 × 120 mm figure.
    date
        Date of the detections to draw; None: the latest in ``pools``/``clearings``. Sites
        first seen after it are left out.
    title
        Main title (default "Rare-earth leaching sites"); the date and counts go under it.
    credit
        Data-credit line; None: from ``sensor`` and the date (``minewatch.plot.data_credit``).
    sensor
        Sensor of the imagery (for the credit line).
    bounds
        (left, bottom, right, top) in the map CRS; None: the background's, else the data's
        with a margin.
    labels
        Label sites with their IDs; None: when at most 60 sites are on the map (more make a
        cloud of labels: zoom in with ``bounds``, or force with True).
    inset
        Add the locator map (right of the map, under the legend).
    background_kind
        ``"auto"``, ``"rgb"`` or ``"ndvi"``.

    Returns
    -------
    matplotlib.axes.Axes
        The map (in the sites' projected CRS, metres).

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> sites = gpd.GeoDataFrame({"site_id": ["S0001", "S0002"]},
    ...     geometry=[shapely.box(427_000, 2_858_000, 427_300, 2_858_300),
    ...               shapely.box(427_500, 2_858_200, 427_700, 2_858_400)], crs="EPSG:32647")
    >>> ax = plot_site_map(sites, inset=False)
    >>> ax.get_legend() is not None
    True
    >>> import matplotlib.pyplot as plt; plt.close(ax.figure)
    """
    sites, pools, clearings = (_frame(sites, "sites"), _frame(pools, "pools"),
                               _frame(clearings, "clearings"))
    crs = _map_crs([sites, pools, clearings], [background])
    if crs is None:
        raise InputError("plot_site_map: nothing to map (no sites, detections or background "
                         "with a CRS)")
    sites, pools, clearings = (f.to_crs(crs) if f is not None and len(f) else f
                               for f in (sites, pools, clearings))
    when = _pick_date([pools, clearings], date)
    pools, clearings = _on_date(pools, when), _on_date(clearings, when)
    if sites is not None and when is not None and "first_seen" in sites.columns:
        sites = sites[sites["first_seen"].isna() | (sites["first_seen"] <= when)]
    made = ax is None
    ax = _new_axes(ax, 183, 120)
    if bounds is None:
        bounds = (_raster_bounds(background, crs) if background is not None
                  else _data_bounds([sites, pools, clearings]))
    if made:
        _fit_height(ax, bounds, side_mm=42, extra_mm=24)
    sites, pools, clearings = (_in_view(f, bounds) for f in (sites, pools, clearings))
    width_mm = _axes_width_mm(ax)
    colourbar_image = None
    if background is not None:
        _, kind, image = _draw_background(ax, background, crs, bounds, background_kind)
        if kind == "ndvi":
            colourbar_image = image
    else:
        ax.set_facecolor("#F4F4F4")
    handles: list = []
    if clearings is not None and len(clearings):
        handles += _clearing_layers(ax, clearings)
    n_pools = 0 if pools is None else len(pools)
    if n_pools:
        _pool_layer(ax, pools, bounds or (0, 0, 1, 1), width_mm)
        handles.append(Patch(facecolor=POOL_FACE, edgecolor=POOL_EDGE, linewidth=0.4,
                             label=f"leaching pools ({n_pools})"))
    n_sites = 0 if sites is None else len(sites)
    if n_sites:
        sites.plot(ax=ax, zorder=5, **_site_style())
        handles.append(_site_handle(f"sites ({n_sites})"))
    if bounds is None:
        bounds = (0.0, 0.0, 1000.0, 1000.0)
    subtitle = " · ".join(p for p in (f"{when:%Y-%m-%d}" if when is not None else "",
                                       f"{n_sites} sites, {n_pools} pools") if p)
    furniture = _finish_map(
        ax, crs, bounds, legend_handles=handles, title=title or "Rare-earth leaching sites",
        subtitle=subtitle, inset=inset,
        grid_colour="white" if background is not None else "#AAAAAA",
        credit=_credit_text(credit, sensor, [when] if when is not None else [], inset,
                            width_mm))
    if colourbar_image is not None:
        _ndvi_colourbar(ax, colourbar_image)
    if not n_sites:
        _empty_message(ax, "No sites detected")
    elif labels or (labels is None and n_sites <= 60):
        _label_frame(ax, sites, furniture, pools)
    return ax


def _clearing_layers(ax: Axes, clearings: gpd.GeoDataFrame) -> list:
    """Mining clearings in orange; other kinds (landslides, fields...) as grey dashed outlines,
    so that no reader takes them for mines. Returns the legend handles."""
    from minewatch.detect.pools import POOL_CLEARING_KINDS

    if "kind" in clearings.columns:
        mining = clearings["kind"].isin(POOL_CLEARING_KINDS).to_numpy()
    else:
        mining = np.ones(len(clearings), dtype=bool)
    handles = []
    if mining.any():
        chosen = clearings[mining]
        chosen.plot(ax=ax, facecolor=(*_rgb(CLEARING), 0.35), edgecolor=CLEARING,
                    linewidth=0.7, zorder=3)
        handles.append(Patch(facecolor=(*_rgb(CLEARING), 0.35), edgecolor=CLEARING,
                             linewidth=0.7, label=f"mining clearings "
                             f"({_hectares(chosen.geometry.area.sum())})"))
    if (~mining).any():
        other = clearings[~mining]
        other.plot(ax=ax, facecolor="none", edgecolor=OTHER_CLEARING, linewidth=0.7,
                   linestyle=(0, (2, 1.5)), zorder=3)
        kinds = ", ".join(sorted(other["kind"].astype(str).unique()))
        handles.append(Patch(facecolor="#7F7F7F", edgecolor=OTHER_CLEARING, linewidth=0.7,
                             linestyle=(0, (2, 1.5)),  # white dashes, as over the imagery
                             label=f"other clearings ({kinds})"))
    return handles


def _rgb(colour: str) -> tuple[float, float, float]:
    from matplotlib.colors import to_rgb

    return to_rgb(colour)


def _ndvi_colourbar(ax: Axes, image) -> None:
    cax = ax.inset_axes([1.03, 0.45, 0.22, 0.025])
    bar = ax.figure.colorbar(image, cax=cax, orientation="horizontal")
    bar.set_label("NDVI (background)", fontsize=SMALL_PT, labelpad=1)
    bar.ax.tick_params(labelsize=SMALL_PT - 1, length=2, width=0.4, pad=1)
    bar.outline.set_linewidth(0.4)


# ---------------------------------------------------------------------------- overview
def plot_overview(sites: gpd.GeoDataFrame | None, ax: Axes | None = None, *,
                  background: Raster | None = None, title: str | None = None,
                  credit: str | None = None, sensor: str | None = None,
                  dates: Sequence | None = None, bounds: Bounds | None = None,
                  labels: bool | None = None, inset: bool = True,
                  background_kind: str = "auto") -> Axes:
    """Regional overview: every site, coloured by the year it was first seen.

    Sites are drawn as their outline filled in their year's colour (viridis, dark = early)
    and a marker at their centre, so small sites stay visible at regional scale; provisional
    sites (seen once, too recent to confirm) have hollow markers.

    Parameters
    ----------
    sites
        ``sites.gpkg`` (``site_id``, ``first_seen``, optional ``provisional``, geometry).
    ax
        Axes to draw on; None: a new 89 × 95 mm figure.
    background
        Optional raster under the sites (as in ``plot_site_map``); else light grey.
    title
        Default "Mining sites by year first seen".
    credit, sensor, dates
        Data-credit line, or the sensor and imagery dates it is made from.
    bounds
        (left, bottom, right, top) in the map CRS; None: the sites' with a margin.
    labels
        Label site IDs; None: only when there are at most 25 sites.
    inset
        Add the locator map.
    background_kind
        ``"auto"``, ``"rgb"`` or ``"ndvi"``.

    Returns
    -------
    matplotlib.axes.Axes
        The map.

    Examples
    --------
    >>> import geopandas as gpd, pandas as pd, shapely
    >>> sites = gpd.GeoDataFrame(
    ...     {"site_id": ["S0001", "S0002"],
    ...      "first_seen": pd.to_datetime(["2021-01-15", "2023-02-01"])},
    ...     geometry=[shapely.box(427_000, 2_858_000, 427_300, 2_858_300),
    ...               shapely.box(428_500, 2_859_200, 428_700, 2_859_400)], crs="EPSG:32647")
    >>> ax = plot_overview(sites, inset=False)
    >>> [t.get_text() for t in ax.get_legend().get_texts()]
    ['2021 (1)', '2023 (1)']
    >>> import matplotlib.pyplot as plt; plt.close(ax.figure)
    """
    sites = _frame(sites, "sites")
    crs = _map_crs([sites], [background])
    if crs is None:
        raise InputError("plot_overview: no sites with a CRS and no background to map")
    if sites is not None and len(sites):
        sites = sites.to_crs(crs)
    made = ax is None
    ax = _new_axes(ax, 89, 95)
    if bounds is None:
        bounds = (_raster_bounds(background, crs) if background is not None
                  else _data_bounds([sites], pad_fraction=0.08, min_pad=300.0))
    if made:
        _fit_height(ax, bounds, side_mm=26, extra_mm=26)
    sites = _in_view(sites, bounds)
    width_mm = _axes_width_mm(ax)
    if background is not None:
        _draw_background(ax, background, crs, bounds, background_kind)
    else:
        ax.set_facecolor("#F4F4F4")
    n = 0 if sites is None else len(sites)
    handles: list = []
    if n:
        if "first_seen" not in sites.columns:
            raise InputError("plot_overview: sites have no 'first_seen' column (sites.gpkg "
                             "from minewatch.analyze has it)")
        years = sites["first_seen"].dt.year
        colours = year_colours(years.dropna().astype(int))
        provisional = (sites["provisional"].astype(bool) if "provisional" in sites.columns
                       else pd.Series(False, index=sites.index))
        points = sites.geometry.representative_point()
        for year, colour in colours.items():
            chosen = (years == year).to_numpy()
            sites[chosen].plot(ax=ax, facecolor=colour, edgecolor="black", linewidth=0.3,
                               alpha=0.85, zorder=3)
            ax.plot(points.x[chosen], points.y[chosen], linestyle="none", marker="o",
                    markersize=4.5, markeredgewidth=0.4, markerfacecolor=colour,
                    markeredgecolor="black", zorder=4)
            ring = chosen & provisional.to_numpy()
            if ring.any():  # provisional: a ring in the year's colour
                ax.plot(points.x[ring], points.y[ring], linestyle="none", marker="o",
                        markersize=2.0, markeredgewidth=0, markerfacecolor="white", zorder=4.1)
            handles.append(Line2D([], [], linestyle="none", marker="o", markersize=5,
                                  markerfacecolor=colour, markeredgecolor="black",
                                  markeredgewidth=0.4, label=f"{year} ({int(chosen.sum())})"))
        if provisional.any():
            handles.append((Line2D([], [], linestyle="none", marker="o", markersize=5,
                                   markerfacecolor="#999999", markeredgecolor="black",
                                   markeredgewidth=0.4, label="provisional\n(seen once)"),
                            Line2D([], [], linestyle="none", marker="o", markersize=2.2,
                                   markerfacecolor="white", markeredgewidth=0)))
    if bounds is None:
        bounds = (0.0, 0.0, 1000.0, 1000.0)
    dates = list(dates) if dates is not None else (
        [*sites["first_seen"].dropna(), *sites.get("last_seen", pd.Series()).dropna()]
        if n else [])
    stamps = pd.to_datetime(pd.Series(dates)).dropna() if dates else pd.Series(dtype=object)
    period = (f"{stamps.min():%Y-%m-%d} – {stamps.max():%Y-%m-%d}" if len(stamps) else "")
    subtitle = " · ".join(p for p in (period, f"{n} sites") if p)
    furniture = _finish_map(
        ax, crs, bounds, legend_handles=handles, legend_title="first seen" if handles else None,
        title=title or "Mining sites by year first seen", subtitle=subtitle, inset=inset,
        grid_colour="white" if background is not None else "#AAAAAA",
        credit=_credit_text(credit, sensor, list(stamps), inset, width_mm))
    if not n:
        _empty_message(ax, "No sites detected")
    elif labels or (labels is None and n <= 25):
        _label_frame(ax, sites, furniture)
    return ax


# ---------------------------------------------------------------------------- before/after
def _dates_of_change(change: Raster) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    import re

    if isinstance(change, xr.DataArray):
        attrs = change.attrs
        found = [attrs.get("before"), attrs.get("after")]
        if all(found):
            return pd.Timestamp(found[0]), pd.Timestamp(found[1])
        return None, None
    found = re.findall(r"\d{4}-\d{2}-\d{2}", Path(change).name)
    if len(found) >= 2:
        return pd.Timestamp(found[0]), pd.Timestamp(found[1])
    return None, None


def plot_before_after(before: Raster, after: Raster, change: Raster | None = None,
                      ax: Sequence[Axes] | None = None, *,
                      sites: gpd.GeoDataFrame | None = None, dates: Sequence | None = None,
                      title: str | None = None, credit: str | None = None,
                      sensor: str | None = None, bounds: Bounds | None = None,
                      inset: bool = False) -> np.ndarray:
    """Before and after images side by side, with the change map between them.

    The change map uses the classes of ``minewatch.change.CHANGE_CLASSES``, in colour-blind
    safe colours (``minewatch.plot.CHANGE_STYLE``); its legend gives each class's area.
    "no data" (unobserved on either date) is hatched, never shown as "no mining".

    Parameters
    ----------
    before, after
        True-colour images (GeoTIFF paths or DataArrays, as in ``plot_site_map``).
    change
        Change map (uint8 classes, ``change/<d1>_<d2>.tif``) or None for just the pair.
    ax
        Two or three Axes (before, after[, change]); None: a new 183 mm wide figure.
    sites
        Site outlines drawn on every panel (optional).
    dates
        (before, after) dates; None: read from the file names / ``time`` coordinates.
    title
        Figure title (default "Before and after").
    credit, sensor
        Data-credit line, or the sensor it is made from.
    bounds
        (left, bottom, right, top); None: the after image's.
    inset
        Add the locator map beside the last panel.

    Returns
    -------
    numpy.ndarray of matplotlib.axes.Axes
        The panels (before, after[, change]).

    Examples
    --------
    >>> import numpy as np, xarray as xr, rioxarray  # noqa: F401
    >>> def image(value):
    ...     da = xr.DataArray(np.full((3, 20, 20), value, "uint8"), dims=("band", "y", "x"),
    ...                       coords={"band": [1, 2, 3], "y": 2_858_995.0 - 10 * np.arange(20),
    ...                               "x": 427_005.0 + 10 * np.arange(20)})
    ...     return da.rio.write_crs("EPSG:32647")
    >>> change = image(1).isel(band=0).astype("uint8")
    >>> axes = plot_before_after(image(90), image(150), change,
    ...                          dates=("2021-01-15", "2024-01-22"))
    >>> [a.get_title(loc="left") for a in axes]
    ['Before', 'After', 'Change']
    >>> import matplotlib.pyplot as plt; plt.close(axes[0].figure)
    """
    sites = _frame(sites, "sites")
    crs = _map_crs([sites], [after, before, change])
    if dates is not None:
        d_before, d_after = (pd.Timestamp(d) for d in dates)
    else:
        d_before, d_after = _date_in(before), _date_in(after)
        if change is not None and (d_before is None or d_after is None):
            c_before, c_after = _dates_of_change(change)
            d_before, d_after = d_before or c_before, d_after or c_after
    n_panels = 3 if change is not None else 2
    if ax is None:
        import matplotlib.pyplot as plt

        _, axes = plt.subplots(1, n_panels, figsize=(183 * MM, 80 * MM),
                                 layout="constrained", sharex=True, sharey=True)
        axes = np.atleast_1d(axes)
    else:
        axes = np.asarray(ax, dtype=object).ravel()
        if len(axes) != n_panels:
            raise InputError(f"plot_before_after: ax has {len(axes)} Axes; give {n_panels} "
                             "(before, after" + (", change)" if change is not None else ")"))
    if sites is not None and len(sites):
        sites = sites.to_crs(crs)
    if bounds is None:
        bounds = _raster_bounds(after, crs)
    if ax is None:
        _fit_height(axes[0], bounds, side_mm=40, extra_mm=30, panels=n_panels)
    width_mm = sum(_axes_width_mm(a) for a in axes)
    labels = ("Before", "After", "Change")
    subtitles = (f"{d_before:%Y-%m-%d}" if d_before is not None else "",
                 f"{d_after:%Y-%m-%d}" if d_after is not None else "",
                 (f"{d_before:%Y-%m-%d} → {d_after:%Y-%m-%d}"
                  if d_before is not None and d_after is not None else ""))
    for panel, source in zip(axes, (before, after), strict=False):
        _draw_background(panel, source, crs, bounds, "rgb")
    handles: list = []
    if change is not None:
        handles = _draw_change(axes[2], change, crs, bounds)
    if sites is not None and len(sites):
        for panel in axes:
            sites.plot(ax=panel, zorder=5, **_site_style())
        handles.append(_site_handle(f"sites ({len(sites)})"))
    credit_line = _credit_text(credit, sensor, [d for d in (d_before, d_after) if d is not None],
                               inset, width_mm)
    for i, panel in enumerate(axes):
        last = i == len(axes) - 1
        _finish_map(panel, crs, bounds, legend_handles=handles if last else [],
                    legend_title="change" if last and change is not None else None,
                    title=labels[i], subtitle=subtitles[i],
                    credit=credit_line if i == 0 else "", inset=inset and last,
                    left_labels=i == 0, arrow=i == 0, scale=i == 0, arrow_pt=14.0)
    if title is not False:
        axes[0].figure.suptitle(title or "Before and after", x=0.01, ha="left",
                                fontsize=TITLE_PT + 1, fontweight="bold")
    return axes


def _draw_change(ax: Axes, change: Raster, crs: CRS, bounds: Bounds) -> list:
    data, (left, bottom, right, top), _ = _read_raster(change, crs, bounds, nearest=True)
    classes = np.asarray(data[0].filled(0), dtype="int64")
    n_classes = max(CHANGE_STYLE) + 1
    unknown = np.unique(classes[(classes < 0) | (classes >= n_classes)])
    if unknown.size:
        raise InputError(f"change map has values {unknown.tolist()} outside the change "
                         f"classes {sorted(CHANGE_STYLE)}")
    ax.add_patch(Rectangle((left, bottom), right - left, top - bottom, facecolor="white",
                           edgecolor="#9A9A9A", hatch="////", linewidth=0, zorder=0))
    colours = [CHANGE_STYLE[k][1] for k in range(n_classes)]
    colours[0] = (1, 1, 1, 0)  # no data: transparent over the hatching
    cmap = ListedColormap(colours)
    norm = BoundaryNorm(np.arange(-0.5, n_classes), n_classes)
    ax.imshow(classes, extent=(left, right, bottom, top), cmap=cmap, norm=norm,
              interpolation="nearest", zorder=1)
    pixel_m2 = abs((right - left) / classes.shape[1] * (top - bottom) / classes.shape[0])
    counts = np.bincount(classes.ravel(), minlength=n_classes)
    handles = []
    for k in range(1, n_classes):
        if counts[k] or k == 1:
            name, colour = CHANGE_STYLE[k]
            label = name if k == 1 else f"{name} ({_hectares(counts[k] * pixel_m2)})"
            handles.append(Patch(facecolor=colour, edgecolor="#555555", linewidth=0.3,
                                 label=label))
    if counts[0]:
        handles.append(Patch(facecolor="white", edgecolor="#9A9A9A", hatch="////",
                             linewidth=0.3, label="no data (not observed)"))
    return handles
