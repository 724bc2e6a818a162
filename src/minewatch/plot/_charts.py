"""Plots over time: counts of sites, pools and cleared area per date; growth of each site.

Dates that were only partly observed (cloud, shadow, nodata) are drawn as hollow markers (with
their range as an error bar) and left out of the lines and bands: ``site_timeseries`` carries
unseen sites from their last observation, but a table that does not (or a site half under
cloud) would make a line through such a date show a drop that did not happen.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping, Sequence

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.transforms import ScaledTranslation, blended_transform_factory

from minewatch.errors import InputError
from minewatch.plot._style import (
    MM,
    OKABE_ITO,
    SERIES,
    SMALL_PT,
    TEXT_PT,
    TINY_PT,
    TITLE_PT,
)

__all__ = ["plot_site_growth", "plot_timeseries"]

_LABELS = {"sites": "sites", "pools": "pools", "cleared_area_m2": "cleared area (ha)",
           "new_sites": "new sites"}
_PER_HA = {"cleared_area_m2"}

Events = Sequence[tuple[object, str]] | Mapping[object, str] | pd.DataFrame | None


def _events(events: Events) -> list[tuple[pd.Timestamp, str]]:
    """User events as (date, text), sorted by date."""
    if events is None:
        return []
    if isinstance(events, pd.DataFrame):
        if not {"date", "text"} <= set(events.columns):
            raise InputError("events DataFrame needs columns 'date' and 'text'")
        pairs = list(zip(events["date"], events["text"], strict=True))
    elif isinstance(events, Mapping):
        pairs = list(events.items())
    else:
        pairs = []
        for item in events:
            if len(item) != 2:
                raise InputError(f"event {item!r}: give (date, text) pairs, e.g. "
                                 "('2024-10-01', 'KIO takes control of the mining area')")
            pairs.append(tuple(item))
    out = []
    for date, text in pairs:
        try:
            out.append((pd.Timestamp(date), str(text)))
        except (ValueError, TypeError) as err:
            raise InputError(f"event date {date!r} is not a date (YYYY-MM-DD)") from err
    return sorted(out, key=lambda e: e[0])


def _style_axes(ax: Axes) -> None:
    ax.tick_params(labelsize=SMALL_PT, length=2.5, width=0.5, pad=1.5)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_linewidth(0.6)
    ax.grid(axis="y", color="#DDDDDD", linewidth=0.4)
    ax.set_axisbelow(True)


def _date_axis(ax: Axes) -> None:
    locator = mdates.AutoDateLocator(minticks=3, maxticks=7)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.xaxis.get_offset_text().set_fontsize(SMALL_PT)


def _partial(frame: pd.DataFrame, full_fraction: float | None) -> np.ndarray:
    """Dates observed less than the best date (or with carried sites)."""
    partial = np.zeros(len(frame), dtype=bool)
    if "valid_fraction" in frame.columns:
        fraction = frame["valid_fraction"].fillna(0).to_numpy(dtype=float)
        if full_fraction is None:  # what no date ever sees (off the scenes) is not cloud;
            # a few % of haze or edge on a date whose sites were all seen is not "partly
            # unobserved" either (sites_unobserved flags the dates where it mattered)
            full_fraction = float(np.max(fraction, initial=0.0)) * 0.95
        partial |= fraction < full_fraction
    if "sites_unobserved" in frame.columns:
        partial |= frame["sites_unobserved"].fillna(0).to_numpy() > 0
    return partial


def _draw_events(axes: Sequence[Axes], events: list[tuple[pd.Timestamp, str]]) -> list[str]:
    """Dashed lines on every panel, numbered at the top of the first; return the legend lines
    ("1  2024-10-01  KIO takes control...")."""
    notes = []
    for i, (date, text) in enumerate(events, start=1):
        x = mdates.date2num(date)
        for ax in axes:
            ax.axvline(x, color="#333333", linewidth=0.7, linestyle=(0, (3, 2)), zorder=1)
        axes[0].annotate(str(i), xy=(x, 1.0), xycoords=("data", "axes fraction"),
                         xytext=(0, -1), textcoords="offset points", ha="center", va="top",
                         fontsize=TINY_PT + 0.5, fontweight="bold", zorder=6,
                         bbox={"boxstyle": "circle,pad=0.2", "facecolor": "white",
                               "edgecolor": "#333333", "linewidth": 0.5})
        wrapped = textwrap.wrap(f"{i}  {date:%Y-%m-%d}  {text}", 78,
                                subsequent_indent="    ")
        notes.extend(wrapped)
    return notes


def plot_timeseries(table: pd.DataFrame, ax: Axes | Sequence[Axes] | None = None, *,
                    metrics: Sequence[str] = ("sites", "pools", "cleared_area_m2"),
                    events: Events = None, title: str | None = None,
                    full_fraction: float | None = None) -> np.ndarray:
    """Sites, pools and cleared area per date (per region when there is a ``region`` column).

    One panel per metric, sharing the date axis, y from zero. The uncertainty band comes from
    the ``<metric>_low``/``<metric>_high`` columns. Dates only partly observed
    (``valid_fraction`` below ``full_fraction``, or ``sites_unobserved`` > 0) are hollow
    markers off the line and the band, their range an error bar, with a note saying so; they
    are never drawn as drops. ``events`` are dashed vertical
    lines, numbered in the top panel and listed under the plot.

    Parameters
    ----------
    table
        ``timeseries.csv`` (``minewatch.timeseries.site_timeseries``): ``date`` and the metric
        columns; optional ``region``, ``valid_fraction``, ``sites_unobserved``, ``*_low``,
        ``*_high``.
    ax
        One Axes per metric; None: a new 89 × 115 mm figure.
    metrics
        Columns to plot, in panel order; cleared area is shown in hectares.
    events
        ``[("2024-10-01", "KIO takes control of the mining area"), ...]``, a dict
        date -> text, or a DataFrame with ``date`` and ``text``.
    title
        Default "Mining activity over time".
    full_fraction
        ``valid_fraction`` from which a date counts as fully observed; None: 95 % of the best
        date's (per region), so that a part of the area no scene ever covers, or a thin haze,
        does not make every date "partly unobserved" (a date with any site unobserved is
        always partly unobserved).

    Returns
    -------
    numpy.ndarray of matplotlib.axes.Axes
        The panels, top to bottom.

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame({"date": pd.to_datetime(["2021-01-15", "2022-01-20", "2023-01-18"]),
    ...                       "sites": [1, 2, 2], "pools": [4, 9, 9],
    ...                       "cleared_area_m2": [2e4, 4e4, 4.5e4],
    ...                       "valid_fraction": [1.0, 1.0, 0.5]})
    >>> axes = plot_timeseries(table, events=[("2022-06-01", "road opened")])
    >>> [a.get_ylabel() for a in axes]
    ['sites', 'pools', 'cleared area (ha)']
    >>> import matplotlib.pyplot as plt; plt.close(axes[0].figure)
    """
    if not isinstance(table, pd.DataFrame):
        raise InputError(f"plot_timeseries: table must be a DataFrame (timeseries.csv), got "
                         f"{type(table).__name__}")
    missing = [c for c in ("date", *metrics) if c not in table.columns]
    if missing:
        raise InputError(f"plot_timeseries: table has no column(s) {missing}; "
                         f"it has {list(table.columns)}")
    table = table.assign(date=pd.to_datetime(table["date"])).sort_values("date")
    if ax is None:
        import matplotlib.pyplot as plt

        _, axes = plt.subplots(len(metrics), 1, figsize=(89 * MM, (30 + 28 * len(metrics)) * MM),
                                 sharex=True, layout="constrained", squeeze=False)
        axes = axes[:, 0]
    else:
        axes = np.atleast_1d(np.asarray(ax, dtype=object)).ravel()
        if len(axes) != len(metrics):
            raise InputError(f"plot_timeseries: {len(axes)} Axes for {len(metrics)} metrics")
    has_regions = "region" in table.columns and table["region"].nunique() > 1
    groups = (list(table.groupby("region", sort=True)) if has_regions else [(None, table)])
    any_partial = False
    for panel, metric in zip(axes, metrics, strict=True):
        _style_axes(panel)
        scale = 1e-4 if metric in _PER_HA else 1.0
        for g, (region, frame) in enumerate(groups):
            colour = SERIES[g % len(SERIES)]
            x = frame["date"].to_numpy()
            y = frame[metric].to_numpy(dtype=float) * scale
            partial = _partial(frame, full_fraction)
            any_partial |= bool(partial.any())
            low, high = f"{metric}_low", f"{metric}_high"
            seen = ~partial
            if low in frame.columns and high in frame.columns:
                lo = frame[low].to_numpy(dtype=float) * scale
                hi = frame[high].to_numpy(dtype=float) * scale
                # the band over fully observed dates; partly observed ones get an error bar
                panel.fill_between(x[seen], lo[seen], hi[seen], color=colour, alpha=0.18,
                                   linewidth=0, zorder=2)
                if partial.any():
                    panel.vlines(x[partial], lo[partial], hi[partial], color=colour,
                                 alpha=0.45, linewidth=1.6, zorder=3)
            panel.plot(x[seen], y[seen], color=colour, linewidth=1.2, marker="o",
                       markersize=3.5, markeredgecolor="white", markeredgewidth=0.4, zorder=4,
                       label=str(region) if region is not None else None)
            if partial.any():
                panel.plot(x[partial], y[partial], linestyle="none", marker="o",
                           markersize=4, markerfacecolor="white", markeredgecolor=colour,
                           markeredgewidth=1.0, zorder=5)
        panel.set_ylabel(_LABELS.get(metric, metric), fontsize=TEXT_PT)
        panel.set_ylim(bottom=0)
        top = panel.get_ylim()[1]
        if metric in ("sites", "pools", "new_sites"):
            top = max(top, 1.0)  # counts of zero: an axis of 0–1, not 0–0.06
        panel.set_ylim(0, top * 1.12 if top > 0 else 1)
        if metric in ("sites", "pools", "new_sites"):
            from matplotlib.ticker import MaxNLocator

            panel.yaxis.set_major_locator(MaxNLocator(nbins=4, integer=True))
    _date_axis(axes[-1])
    user_events = _events(events)
    dates = table["date"]
    span = [dates.min(), dates.max(), *[d for d, _ in user_events]]
    lo, hi = min(span), max(span)
    pad = max((hi - lo) * 0.04, pd.Timedelta(days=60))
    axes[0].set_xlim(mdates.date2num(lo - pad), mdates.date2num(hi + pad))
    notes = _draw_events(list(axes), user_events)
    handles = []
    if has_regions:
        handles += [Line2D([], [], color=SERIES[g % len(SERIES)], linewidth=1.2, marker="o",
                           markersize=3, label=str(region))
                    for g, (region, _) in enumerate(groups)]
    else:
        handles.append(Line2D([], [], color=SERIES[0], linewidth=1.2, marker="o",
                              markersize=3, markeredgecolor="white", markeredgewidth=0.4,
                              label="observed date"))
    if any(f"{m}_low" in table.columns for m in metrics):
        handles.append(Patch(facecolor="#888888", alpha=0.3, label="uncertainty range"))
    if any_partial:
        handles.append(Line2D([], [], linestyle="none", marker="o", markersize=4,
                              markerfacecolor="white", markeredgecolor="#333333",
                              markeredgewidth=1.0, label="partly unobserved date"))
    if user_events:
        handles.append(Line2D([], [], color="#333333", linewidth=0.7, linestyle=(0, (3, 2)),
                              label="event"))
    if any_partial:
        notes[:0] = textwrap.wrap(
            "Hollow markers: dates partly hidden by cloud or missing data. Sites not seen "
            "there are carried from their last observation, and those first seen later "
            "count by the chance they were there already; lines and bands skip these "
            "dates.", 78)
    fig = axes[-1].figure
    below = axes[-1].transAxes + ScaledTranslation(0, -(SMALL_PT + 8) / 72,
                                                   fig.dpi_scale_trans)
    legend = axes[-1].legend(handles=handles, loc="upper left", bbox_to_anchor=(0, 0),
                             bbox_transform=below, ncol=min(2, len(handles)),
                             fontsize=SMALL_PT, frameon=False, handlelength=1.8,
                             columnspacing=1.2, borderaxespad=0, borderpad=0)
    if notes:
        axes[-1].annotate("\n".join(notes), xy=(0, 0), xycoords=legend, xytext=(0, -3),
                          textcoords="offset points", ha="left", va="top", fontsize=TINY_PT,
                          color="#333333", annotation_clip=False)
    n_dates = dates.nunique()
    subtitle = (f"{dates.min():%Y-%m-%d} – {dates.max():%Y-%m-%d} · {n_dates} "
                f"date{'s' if n_dates != 1 else ''}"
                if n_dates else "no dates")
    axes[0].annotate(subtitle, xy=(0, 1), xycoords="axes fraction", xytext=(0, 3),
                     textcoords="offset points", ha="left", va="bottom", fontsize=SMALL_PT,
                     color="#333333", annotation_clip=False)
    axes[0].set_title(title or "Mining activity over time", loc="left", fontsize=TITLE_PT,
                      fontweight="bold", pad=SMALL_PT + 5)
    return axes


def plot_site_growth(history: pd.DataFrame, sites: pd.DataFrame | None = None,
                     ax: Sequence[Axes] | None = None, *, max_sites: int = 12, ncols: int = 4,
                     title: str | None = None) -> np.ndarray:
    """Small multiples: pools (left axis) and cleared area (right axis) of each site over time.

    All panels share their axes, so sites compare at a glance. Unobserved dates (status
    ``"unobserved"``) are crosses on the date axis, not zeros: the lines skip them.

    Parameters
    ----------
    history
        ``site_history.csv``: ``site_id``, ``date``, ``status``, ``n_pools``,
        ``cleared_area_m2``.
    sites
        ``sites.gpkg`` (optional): chooses the largest sites (``area_m2_max``) and marks
        provisional ones.
    ax
        Axes for the panels (at least as many as sites shown); None: a new 183 mm wide figure.
    max_sites
        At most this many sites (the largest), in site-ID order.
    ncols
        Panels per row.
    title
        Default "Growth of individual sites".

    Returns
    -------
    numpy.ndarray of matplotlib.axes.Axes
        One panel per site (pools axis; the area axis is its twin).

    Examples
    --------
    >>> import pandas as pd
    >>> history = pd.DataFrame({"site_id": ["S0001"] * 3,
    ...     "date": pd.to_datetime(["2021-01-15", "2022-01-20", "2023-01-18"]),
    ...     "status": ["new", "unobserved", "expanded"], "n_pools": [4, 0, 9],
    ...     "cleared_area_m2": [2e4, 0, 5e4]})
    >>> axes = plot_site_growth(history)
    >>> axes[0].get_title(loc="left")
    'S0001'
    >>> import matplotlib.pyplot as plt; plt.close(axes[0].figure)
    """
    need = ["site_id", "date", "n_pools", "cleared_area_m2"]
    missing = [c for c in need if c not in history.columns]
    if missing:
        raise InputError(f"plot_site_growth: history has no column(s) {missing} "
                         "(site_history.csv has them)")
    history = history.assign(date=pd.to_datetime(history["date"]),
                             site_id=history["site_id"].astype(str))
    chosen = _largest_sites(history, sites, max_sites)
    import matplotlib.pyplot as plt

    if not chosen:
        if ax is None:
            fig, axis = plt.subplots(figsize=(183 * MM, 40 * MM), layout="constrained")
        else:
            axis = np.asarray(ax, dtype=object).ravel()[0]
        axis.set_axis_off()
        axis.text(0.5, 0.5, "No sites detected", ha="center", va="center",
                  fontsize=TEXT_PT + 1, transform=axis.transAxes)
        axis.set_title(title or "Growth of individual sites", loc="left", fontsize=TITLE_PT,
                       fontweight="bold")
        return np.array([axis], dtype=object)
    ncols = max(1, min(ncols, len(chosen)))
    nrows = math.ceil(len(chosen) / ncols)
    if ax is None:
        fig, grid = plt.subplots(nrows, ncols, figsize=(183 * MM, (22 + 34 * nrows) * MM),
                                 sharex=True, sharey=True, layout="constrained", squeeze=False)
        panels = grid.ravel()
    else:
        panels = np.asarray(ax, dtype=object).ravel()
        if len(panels) < len(chosen):
            raise InputError(f"plot_site_growth: {len(panels)} Axes for {len(chosen)} sites")
        fig = panels[0].figure
    info = (sites.set_index(sites["site_id"].astype(str)) if sites is not None
            and "site_id" in sites.columns else None)
    pools_colour, area_colour = OKABE_ITO["blue"], OKABE_ITO["vermillion"]
    twins = []
    area_max = max(float(history.loc[history["site_id"].isin(chosen),
                                     "cleared_area_m2"].max()) / 1e4, 0.1)
    for i, site in enumerate(chosen):
        panel = panels[i]
        _style_axes(panel)
        panel.grid(False)
        rows = history[history["site_id"] == site].sort_values("date")
        unobserved = (rows["status"].eq("unobserved").to_numpy() if "status" in rows.columns
                      else np.zeros(len(rows), dtype=bool))
        seen = rows[~unobserved]
        twin = panel.twinx()
        if twins:
            twin.sharey(twins[0])
        twins.append(twin)
        twin.plot(seen["date"], seen["cleared_area_m2"] / 1e4, color=area_colour,
                  linewidth=1.0, linestyle=(0, (3, 1.5)), marker="s", markersize=2.5, zorder=3)
        panel.plot(seen["date"], seen["n_pools"], color=pools_colour, linewidth=1.2,
                   marker="o", markersize=3, zorder=4)
        panel.set_zorder(twin.get_zorder() + 1)
        panel.patch.set_visible(False)
        if unobserved.any():
            marks = blended_transform_factory(panel.transData, panel.transAxes)
            panel.plot(rows["date"][unobserved], np.full(unobserved.sum(), 0.04),
                       transform=marks, linestyle="none", marker="x", markersize=4,
                       color="#777777", markeredgewidth=0.9, clip_on=False, zorder=5)
        label = site
        if info is not None and site in info.index:
            row = info.loc[site]
            if "first_seen" in info.columns and pd.notna(row["first_seen"]):
                label_extra = f"since {pd.Timestamp(row['first_seen']):%Y}"
                if bool(row.get("provisional", False)):
                    label_extra += ", provisional"
                panel.set_title(label_extra, loc="right", fontsize=TINY_PT, color="#444444",
                                pad=2)
        panel.set_title(label, loc="left", fontsize=SMALL_PT, fontweight="bold", pad=2)
        twin.tick_params(labelsize=SMALL_PT, length=2, width=0.5, pad=1, colors=area_colour)
        twin.spines["right"].set_color(area_colour)
        for side in ("top", "left", "bottom"):
            twin.spines[side].set_visible(False)
        panel.tick_params(axis="y", colors=pools_colour)
        last_in_row = (i % ncols == ncols - 1) or i == len(chosen) - 1
        if not last_in_row:
            twin.tick_params(labelright=False)
        if i % ncols == 0:
            panel.set_ylabel("pools", fontsize=SMALL_PT, color=pools_colour, labelpad=1)
        if last_in_row:
            twin.set_ylabel("cleared (ha)", fontsize=SMALL_PT, color=area_colour, labelpad=1)
    panels[0].set_ylim(bottom=0, top=max(float(history["n_pools"].max()), 1) * 1.15)
    twins[0].set_ylim(0, area_max * 1.15)
    for extra in panels[len(chosen):]:
        extra.set_visible(False)
    first, last = history["date"].min(), history["date"].max()
    pad = max((last - first) * 0.04, pd.Timedelta(days=60))
    panels[0].set_xlim(mdates.date2num(first - pad), mdates.date2num(last + pad))
    _date_axis(panels[len(chosen) - 1])
    for panel in panels[:len(chosen)]:
        panel.xaxis.set_major_locator(mdates.YearLocator())
        panel.xaxis.set_major_formatter(mdates.DateFormatter("%Y"))
        panel.tick_params(axis="x", labelsize=SMALL_PT, rotation=0)
        panel.yaxis.set_major_locator(_integer_locator())
    handles = [Line2D([], [], color=pools_colour, linewidth=1.2, marker="o", markersize=3,
                      label="leaching pools"),
               Line2D([], [], color=area_colour, linewidth=1.0, linestyle=(0, (3, 1.5)),
                      marker="s", markersize=2.5, label="cleared area (ha)"),
               Line2D([], [], linestyle="none", marker="x", color="#777777", markersize=4,
                      label="unobserved date")]
    fig.legend(handles=handles, loc="outside upper right", ncol=3, fontsize=SMALL_PT,
               frameon=False)
    n_all = history["site_id"].nunique()
    fig.suptitle((title or "Growth of individual sites")
                 + (f" (largest {len(chosen)} of {n_all})" if n_all > len(chosen) else ""),
                 x=0.01, ha="left", fontsize=TITLE_PT, fontweight="bold")
    return panels[:len(chosen)]


def _integer_locator():
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(nbins=3, integer=True)


def _largest_sites(history: pd.DataFrame, sites: pd.DataFrame | None, max_sites: int
                   ) -> list[str]:
    if sites is not None and len(sites) and "area_m2_max" in sites.columns:
        size = sites.set_index(sites["site_id"].astype(str))["area_m2_max"]
    else:
        size = history.groupby("site_id")["cleared_area_m2"].max()
    size = size[size.index.isin(history["site_id"].unique())]
    top = size.sort_values(ascending=False, kind="stable").index[:max_sites]
    return sorted(str(s) for s in top)
