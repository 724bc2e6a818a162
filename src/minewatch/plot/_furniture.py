"""Map furniture: scale bar, north arrow, lon/lat graticule, inset locator, credit line.

Maps are drawn in a projected CRS (UTM, metres). The graticule is computed with pyproj: tick
positions are where meridians cross the bottom edge and parallels the left edge, labelled in
degrees, and recomputed at every draw from the current limits and Axes size (a matplotlib
Locator), so labels never crowd whatever size the figure is saved at.
"""

from __future__ import annotations

import math
from functools import lru_cache
from importlib.resources import files

import geopandas as gpd
import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.offsetbox import AnchoredOffsetbox, DrawingArea
from matplotlib.patches import Polygon
from matplotlib.text import Text
from matplotlib.ticker import Formatter, Locator
from matplotlib.transforms import Affine2D, Bbox
from matplotlib_scalebar.scalebar import ScaleBar
from pyproj import CRS, Transformer

from minewatch.plot._style import OKABE_ITO, SMALL_PT, TINY_PT

__all__ = ["add_credit", "add_graticule", "add_inset_locator", "add_north_arrow",
           "add_scale_bar", "countries", "scale_bar_extent"]

NATURAL_EARTH_CREDIT = "Boundaries: Natural Earth"
_STEPS = (0.0005, 0.001, 0.002, 0.0025, 0.005, 0.01, 0.02, 0.025, 0.05, 0.1, 0.2, 0.25, 0.5,
          1.0, 2.0, 2.5, 5.0, 10.0, 20.0)


def _metres_per_unit(crs: CRS) -> float:
    unit = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
    return float(unit or 1.0)


def add_scale_bar(ax: Axes, crs: CRS, *, location: str = "lower left") -> ScaleBar:
    """Add a scale bar (matplotlib-scalebar) to a map in a projected CRS; return it.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from pyproj import CRS
    >>> fig, ax = plt.subplots()
    >>> bar = add_scale_bar(ax, CRS("EPSG:32647"))
    >>> bar in ax.artists
    True
    >>> plt.close(fig)
    """
    bar = ScaleBar(_metres_per_unit(crs), "m", location=location, length_fraction=0.25,
                   width_fraction=0.012, box_alpha=0.75, border_pad=0.6, pad=0.3, sep=2,
                   font_properties={"size": SMALL_PT}, color="black", box_color="white")
    ax.add_artist(bar)
    return bar


def scale_bar_extent(bar: ScaleBar, renderer) -> Bbox:
    """Display box the scale bar (as ``add_scale_bar`` makes it) will take, before it is drawn.

    matplotlib-scalebar builds its box only while drawing (its ``get_window_extent`` is
    empty), so labels placed earlier in the same draw need this bound: the bar is at most
    ``length_fraction`` of the Axes wide; pads are in the legend font size, as in
    ``AnchoredOffsetbox``.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from pyproj import CRS
    >>> fig, ax = plt.subplots()
    >>> _ = ax.set(xlim=(427_000, 429_000), ylim=(2_858_000, 2_860_000), aspect="equal")
    >>> bar = add_scale_bar(ax, CRS("EPSG:32647"))
    >>> fig.canvas.draw()
    >>> bound = scale_bar_extent(bar, fig.canvas.get_renderer())
    >>> bool(bound.contains(*bar.info.window_extent.get_points().mean(axis=0)))
    True
    >>> plt.close(fig)
    """
    import matplotlib as mpl
    from matplotlib.font_manager import FontProperties

    frame = bar.axes.get_window_extent(renderer)
    pt = renderer.points_to_pixels(1.0)
    box_font = FontProperties(size=mpl.rcParams["legend.fontsize"]).get_size_in_points() * pt
    text = SMALL_PT * pt
    pad, border = bar.pad * box_font, bar.border_pad * box_font
    length = bar.length_fraction * frame.width
    thickness = bar.width_fraction * frame.height
    width = max(length, 6 * 0.6 * text) + 2 * pad
    height = thickness + bar.sep * pt + 1.3 * text + 2 * pad
    x0, y0 = frame.x0 + border, frame.y0 + border
    return Bbox.from_extents(x0 - 1, y0 - 1, x0 + 1.1 * width, y0 + 1.1 * height)


def _true_north_deg(ax: Axes, crs: CRS) -> float:
    """Angle (degrees, clockwise from the map's up) of true north at the map centre."""
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    to_geo = Transformer.from_crs(crs, 4326, always_xy=True)
    to_map = Transformer.from_crs(4326, crs, always_xy=True)
    lon, lat = to_geo.transform((x0 + x1) / 2, (y0 + y1) / 2)
    (xa, xb), (ya, yb) = to_map.transform([lon, lon], [lat, min(lat + 0.01, 89.99)])
    angle = math.degrees(math.atan2(xb - xa, yb - ya))
    return angle if math.isfinite(angle) else 0.0


def add_north_arrow(ax: Axes, crs: CRS, *, loc: str = "upper right",
                    size_pt: float = 20.0) -> AnchoredOffsetbox:
    """Add a north arrow pointing to true north (grid convergence from pyproj); return it.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from pyproj import CRS
    >>> fig, ax = plt.subplots()
    >>> _ = ax.set(xlim=(427_000, 429_000), ylim=(2_858_000, 2_860_000))
    >>> arrow = add_north_arrow(ax, CRS("EPSG:32647"))
    >>> arrow in ax.artists
    True
    >>> plt.close(fig)
    """
    width, height = size_pt * 0.6, size_pt
    area = DrawingArea(width, height * 1.5, clip=False)
    angle = _true_north_deg(ax, crs) if crs.is_projected else 0.0
    cx, cy = width / 2, height / 2
    rotate = Affine2D().rotate_deg_around(cx, cy, -angle) + area.get_transform()
    tip, base_l, base_r, notch = (cx, height), (0, 0), (width, 0), (cx, height * 0.3)
    for points, face in (([tip, base_l, notch], "black"), ([tip, notch, base_r], "white")):
        patch = Polygon(points, closed=True, facecolor=face, edgecolor="black", linewidth=0.6,
                        transform=rotate)
        area.add_artist(patch)
    label = Text(cx, height * 1.08, "N", ha="center", va="bottom", fontsize=SMALL_PT + 1,
                 fontweight="bold", transform=rotate)
    area.add_artist(label)
    box = AnchoredOffsetbox(loc=loc, child=area, pad=0.4, borderpad=0.6, frameon=True)
    box.patch.set(facecolor="white", alpha=0.75, edgecolor="none")
    ax.add_artist(box)
    return box


# ---------------------------------------------------------------------------- graticule
def _decimals(step: float) -> int:
    text = f"{step:.6f}".rstrip("0").rstrip(".")
    return len(text.split(".")[1]) if "." in text else 0


def _degree_label(value: float, axis: str, decimals: int) -> str:
    hemisphere = ("E" if value >= 0 else "W") if axis == "x" else ("N" if value >= 0 else "S")
    return f"{abs(value):.{decimals}f}°{hemisphere}"


class _DegreeLocator(Locator):
    """Ticks where meridians (x) or parallels (y) cross the bottom or left map edge."""

    def __init__(self, crs: CRS, which: str, fontsize: float, max_ticks: int = 6) -> None:
        self.to_geo = Transformer.from_crs(crs, 4326, always_xy=True)
        self.which = which
        self.fontsize = fontsize
        self.max_ticks = max_ticks
        self.step = 1.0
        self.degrees = np.array([])

    def _profile(self) -> tuple[np.ndarray, np.ndarray]:
        ax = self.axis.axes
        (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
        if self.which == "x":
            pos = np.linspace(min(x0, x1), max(x0, x1), 257)
            deg, _ = self.to_geo.transform(pos, np.full_like(pos, min(y0, y1)))
        else:
            pos = np.linspace(min(y0, y1), max(y0, y1), 257)
            _, deg = self.to_geo.transform(np.full_like(pos, min(x0, x1)), pos)
        return pos, np.asarray(deg)

    def __call__(self) -> np.ndarray:
        ax = self.axis.axes
        pos, deg = self._profile()
        ok = np.isfinite(deg)
        if ok.sum() < 2:
            self.degrees = np.array([])
            return np.array([])
        pos, deg = pos[ok], deg[ok]
        box = ax.get_window_extent()
        length_pt = (box.width if self.which == "x" else box.height) * 72 / ax.figure.dpi
        label_pt = 9 * 0.6 * self.fontsize + 6  # "98.275°E" plus a gap
        room = max(2, min(self.max_ticks, int(length_pt // label_pt)))
        lo, hi = float(deg.min()), float(deg.max())
        if self.which == "y":
            # a latitude label is centred on its tick and runs along the edge: within half a
            # label of a corner it would reach past the map, into the longitude labels below
            # (or the title above), so ticks keep that far from both ends
            span = float(pos.max() - pos.min())
            margin = span * min(0.25, label_pt / 2 / max(length_pt, 1e-9))
            order = np.argsort(pos)
            lo, hi = sorted(np.interp([pos.min() + margin, pos.max() - margin],
                                      pos[order], deg[order]))
        step = next((s for s in _STEPS if (hi - lo) / s <= room), _STEPS[-1])
        ticks = np.arange(math.ceil(lo / step) * step, hi + 1e-12, step)
        ticks = ticks[(ticks >= lo) & (ticks <= hi)]
        self.step = step
        self.degrees = np.round(ticks, 9)
        order = np.argsort(deg)
        return np.interp(self.degrees, deg[order], pos[order])

    def tick_values(self, vmin: float, vmax: float) -> np.ndarray:
        return self()


class _DegreeFormatter(Formatter):
    def __init__(self, locator: _DegreeLocator) -> None:
        self.locator = locator

    def __call__(self, x: float, pos: int | None = None) -> str:
        loc = self.locator
        if not len(loc.degrees):
            return ""
        positions, degrees = loc._profile()
        value = float(np.interp(x, positions, degrees))
        nearest = loc.degrees[np.argmin(np.abs(loc.degrees - value))]
        return _degree_label(nearest, loc.which, _decimals(loc.step))


class _GraticuleLines(Artist):
    """Meridians and parallels at the tick degrees, drawn as (slightly curved) true lines."""

    def __init__(self, crs: CRS, x_locator: _DegreeLocator, y_locator: _DegreeLocator,
                 colour: str, linewidth: float) -> None:
        super().__init__()
        self.to_map = Transformer.from_crs(4326, crs, always_xy=True)
        self.to_geo = Transformer.from_crs(crs, 4326, always_xy=True)
        self.locators = (x_locator, y_locator)
        self.colour = colour
        self.linewidth = linewidth
        self.set_zorder(4.5)

    def get_tightbbox(self, renderer=None):
        return None

    def draw(self, renderer) -> None:
        ax = self.axes
        (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
        xs = np.array([x0, x1, x1, x0])
        ys = np.array([y0, y0, y1, y1])
        lon, lat = self.to_geo.transform(xs, ys)
        lon_lo, lon_hi = float(np.min(lon)), float(np.max(lon))
        lat_lo, lat_hi = float(np.min(lat)), float(np.max(lat))
        segments = []
        along = np.linspace(lat_lo - 0.1 * (lat_hi - lat_lo), lat_hi + 0.1 * (lat_hi - lat_lo),
                            33)
        self.locators[0]()  # updates its degrees for the current limits and size
        for value in self.locators[0].degrees:
            segments.append(np.column_stack(self.to_map.transform(np.full_like(along, value),
                                                                  along)))
        along = np.linspace(lon_lo - 0.1 * (lon_hi - lon_lo), lon_hi + 0.1 * (lon_hi - lon_lo),
                            33)
        self.locators[1]()
        for value in self.locators[1].degrees:
            segments.append(np.column_stack(self.to_map.transform(along,
                                                                  np.full_like(along, value))))
        if not segments:
            return
        lines = LineCollection(segments, colors=self.colour, linewidths=self.linewidth,
                               linestyles=(0, (4, 3)), transform=ax.transData)
        lines.set_clip_box(ax.bbox)
        lines.set_clip_on(True)
        lines.set_figure(ax.figure)
        lines.draw(renderer)


def add_graticule(ax: Axes, crs: CRS, *, fontsize: float = SMALL_PT, lines: bool = True,
                  left_labels: bool = True, colour: str = "white",
                  linewidth: float = 0.4) -> None:
    """Label a projected map's edges in degrees of longitude (bottom) and latitude (left).

    Tick positions and labels follow the current limits and Axes size at every draw; thin
    dashed meridians/parallels are drawn when ``lines``.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from pyproj import CRS
    >>> fig, ax = plt.subplots(figsize=(4, 4))
    >>> _ = ax.set(xlim=(427_000, 429_000), ylim=(2_858_000, 2_860_000))
    >>> add_graticule(ax, CRS("EPSG:32647"))
    >>> fig.canvas.draw()
    >>> [t.get_text() for t in ax.get_xticklabels()][:2]
    ['98.275°E', '98.280°E']
    >>> plt.close(fig)
    """
    x_loc = _DegreeLocator(crs, "x", fontsize)
    y_loc = _DegreeLocator(crs, "y", fontsize)
    ax.xaxis.set_major_locator(x_loc)
    ax.xaxis.set_major_formatter(_DegreeFormatter(x_loc))
    ax.yaxis.set_major_locator(y_loc)
    ax.yaxis.set_major_formatter(_DegreeFormatter(y_loc))
    ax.xaxis.set_minor_locator(_NoTicks())
    ax.yaxis.set_minor_locator(_NoTicks())
    ax.tick_params(labelsize=fontsize, length=2.5, width=0.5, pad=1.5, direction="out")
    ax.tick_params(axis="y", labelrotation=90, labelleft=left_labels)
    for label in ax.get_yticklabels():
        label.set_verticalalignment("center")
    ax.yaxis.set_tick_params(which="major")
    if lines:
        ax.add_artist(_GraticuleLines(crs, x_loc, y_loc, colour, linewidth))
    ax.set_xlabel("")
    ax.set_ylabel("")


class _NoTicks(Locator):
    def __call__(self) -> list:
        return []


# ---------------------------------------------------------------------------- inset
@lru_cache(maxsize=1)
def countries() -> gpd.GeoDataFrame:
    """Myanmar and its neighbours (Natural Earth 1:110m, public domain), EPSG:4326.

    Shipped in the package (``minewatch/data/naturalearth_110m_region.gpkg``); nothing is
    downloaded. Columns ``name``, ``iso_a3``, ``geometry``.

    Examples
    --------
    >>> "Myanmar" in set(countries()["name"])
    True
    """
    path = files("minewatch") / "data" / "naturalearth_110m_region.gpkg"
    return gpd.read_file(str(path))


def add_inset_locator(ax: Axes, crs: CRS, *, height: float = 0.42,
                      where: str = "outside") -> Axes:
    """Add a small locator map of the map's area within Myanmar and its neighbours.

    Parameters
    ----------
    ax
        The map (projected CRS ``crs``, limits set).
    crs
        The map's CRS.
    height
        Height of the inset as a fraction of the map's height.
    where
        ``"outside"``: right of the map, below its legend; ``"inside"``: its upper left corner.

    Returns
    -------
    matplotlib.axes.Axes
        The inset (lon/lat degrees).

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from pyproj import CRS
    >>> fig, ax = plt.subplots()
    >>> _ = ax.set(xlim=(427_000, 429_000), ylim=(2_858_000, 2_860_000), aspect="equal")
    >>> inset = add_inset_locator(ax, CRS("EPSG:32647"))
    >>> inset in ax.child_axes, bool(90 < inset.get_xlim()[0] < 93)
    (True, True)
    >>> plt.close(fig)
    """
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    to_geo = Transformer.from_crs(crs, 4326, always_xy=True)
    lon, lat = to_geo.transform([x0, x1, x1, x0], [y0, y0, y1, y1])
    world = countries()
    mmr = world[world["iso_a3"] == "MMR"]
    bx0, by0, bx1, by1 = mmr.total_bounds
    bx0, bx1 = min(bx0, min(lon)) - 1.0, max(bx1, max(lon)) + 1.0
    by0, by1 = min(by0, min(lat)) - 1.0, max(by1, max(lat)) + 1.0
    stretch = 1 / math.cos(math.radians((by0 + by1) / 2))
    map_aspect = abs((y1 - y0) / (x1 - x0)) if x1 != x0 else 1.0
    width = height * map_aspect * (bx1 - bx0) / ((by1 - by0) * stretch)
    bounds = [1.04, 0.0, width, height] if where == "outside" else [0.0, 1 - height, width,
                                                                     height]
    inset = ax.inset_axes(bounds, zorder=9)
    inset.set_facecolor("#DCEBF5")
    others = world[world["iso_a3"] != "MMR"]
    others.plot(ax=inset, facecolor="#F2F2F2", edgecolor="#9A9A9A", linewidth=0.3)
    mmr.plot(ax=inset, facecolor="#C8C8C8", edgecolor="black", linewidth=0.4)
    cx, cy = float(np.mean(lon)), float(np.mean(lat))
    inset.plot([cx], [cy], marker="s", markersize=4, markerfacecolor=OKABE_ITO["vermillion"],
               markeredgecolor="black", markeredgewidth=0.5)
    centre = mmr.to_crs(mmr.estimate_utm_crs()).geometry.iloc[0]
    centre = gpd.GeoSeries([centre.representative_point()], crs=mmr.estimate_utm_crs()
                           ).to_crs(4326).iloc[0]
    inset.text(centre.x, centre.y - 2.0, "Myanmar", fontsize=TINY_PT, ha="center",
               va="center", rotation=90, color="#333333")
    inset.set_xlim(bx0, bx1)
    inset.set_ylim(by0, by1)
    inset.set_aspect(stretch)
    inset.set_xticks([])
    inset.set_yticks([])
    inset.set_xlabel("")
    inset.set_ylabel("")
    for spine in inset.spines.values():
        spine.set_linewidth(0.5)
    return inset


# ---------------------------------------------------------------------------- credit
def add_credit(ax: Axes, credit: str, *, where: str = "below") -> Text | None:
    """Write the data-credit line under a map (left-aligned, below the degree labels) or
    inside its lower right corner (``where="inside"``); return the Text."""
    if not credit:
        return None
    if where == "below":
        return ax.annotate(credit, xy=(0.0, 0.0), xycoords="axes fraction",
                           xytext=(0, -(SMALL_PT + 7)), textcoords="offset points", ha="left",
                           va="top", fontsize=TINY_PT, color="#333333", annotation_clip=False)
    return ax.text(0.995, 0.005, credit, transform=ax.transAxes, ha="right", va="bottom",
                   fontsize=TINY_PT, color="#222222", zorder=9,
                   bbox={"boxstyle": "square,pad=0.2", "facecolor": "white", "alpha": 0.7,
                         "edgecolor": "none"})
