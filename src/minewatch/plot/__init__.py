"""Publication maps and plots: site maps, before/after with the change map, the regional
overview, time series and site growth, at journal sizes (PNG, PDF, SVG).

Functions take ``ax=None`` and return the Axes (an array of Axes for multi-panel figures).
Maps are drawn in the sites' projected CRS (UTM, metres) with a scale bar, a north arrow, a
lon/lat graticule, a legend, a title with the dates, the data-credit line and an optional
inset locator (Natural Earth, shipped in the package). Palettes are colour-blind safe
(Okabe–Ito, viridis). See docs/maps.md.
"""

from __future__ import annotations

from minewatch.plot._charts import plot_site_growth, plot_timeseries
from minewatch.plot._figures import write_figures
from minewatch.plot._furniture import (
    add_graticule,
    add_inset_locator,
    add_north_arrow,
    add_scale_bar,
    countries,
    scale_bar_extent,
)
from minewatch.plot._labels import site_labels
from minewatch.plot._maps import plot_before_after, plot_overview, plot_site_map
from minewatch.plot._quicklook import plot_ndvi, plot_true_colour, true_colour_rgb
from minewatch.plot._style import (
    CHANGE_STYLE,
    FIGURE_SIZES_MM,
    OKABE_ITO,
    data_credit,
    save_figure,
    year_colours,
)

__all__ = [
    # quick-looks of one date
    "plot_ndvi",
    "plot_true_colour",
    "true_colour_rgb",
    # maps
    "plot_before_after",
    "plot_overview",
    "plot_site_map",
    "site_labels",
    # plots
    "plot_site_growth",
    "plot_timeseries",
    # output
    "FIGURE_SIZES_MM",
    "save_figure",
    "write_figures",
    # style and furniture
    "CHANGE_STYLE",
    "OKABE_ITO",
    "add_graticule",
    "add_inset_locator",
    "add_north_arrow",
    "add_scale_bar",
    "countries",
    "data_credit",
    "scale_bar_extent",
    "year_colours",
]
