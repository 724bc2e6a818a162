"""``write_figures``: every map and plot of an analysis output folder, at journal sizes."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from os import PathLike
from pathlib import Path

import pandas as pd

from minewatch.errors import InputError
from minewatch.io.layout import read_layer, read_table
from minewatch.plot._charts import Events, plot_site_growth, plot_timeseries
from minewatch.plot._maps import plot_before_after, plot_overview, plot_site_map
from minewatch.plot._style import save_figure

__all__ = ["write_figures"]

_DATE = re.compile(r"(\d{4}-\d{2}-\d{2})")
_FORMATS = ("png", "pdf", "svg")


def _imagery(out: Path) -> dict[pd.Timestamp, Path]:
    found = {}
    for path in sorted((out / "imagery").glob("*_rgb.tif")):
        match = _DATE.match(path.name)
        if match:
            found[pd.Timestamp(match.group(1))] = path
    return found


def _change(out: Path) -> tuple[Path, pd.Timestamp, pd.Timestamp] | None:
    """The change map spanning the most time (first -> last date)."""
    best = None
    for path in sorted((out / "change").glob("*.tif")):
        dates = _DATE.findall(path.stem)
        if len(dates) == 2:
            d1, d2 = pd.Timestamp(dates[0]), pd.Timestamp(dates[1])
            if best is None or d2 - d1 > best[2] - best[1]:
                best = (path, d1, d2)
    return best


def write_figures(out_dir: str | PathLike[str], formats: Sequence[str] = ("png",),
                  events: Events = None, *, dpi: int = 300) -> list[Path]:
    """Write the maps and plots of an analysis folder to ``out_dir/figures/``.

    Reads the layout ``minewatch.analyze`` writes (``sites.gpkg``, ``pools.gpkg``,
    ``clearings.gpkg``, ``site_history.csv``, ``timeseries.csv``, ``change/<d1>_<d2>.tif``,
    ``imagery/<date>_rgb.tif``, ``manifest.json``) and writes, per format:

    * ``site_map``: sites, pools and clearings of the last date over its true colour
      (183 mm);
    * ``overview``: all sites by year first seen (89 mm);
    * ``before_after``: first and last date with the change map (183 mm; only with a change
      map, i.e. two dates or more);
    * ``timeseries``: sites, pools and cleared area per date with ``events`` (89 mm);
    * ``timeseries_regions``: the same, one line per region (from ``timeseries_regions.csv``,
      when the analysis had regions);
    * ``site_growth``: small multiples of the largest sites (183 mm).

    Missing optional parts are skipped, not errors: no sites gives maps that say "No sites
    detected"; one date gives no ``before_after``.

    Parameters
    ----------
    out_dir
        The analysis output folder.
    formats
        Any of ``"png"``, ``"pdf"``, ``"svg"``.
    events
        User events for the time series, e.g.
        ``[("2024-10-01", "KIO takes control of the mining area")]``.
    dpi
        Resolution of the PNGs.

    Returns
    -------
    list of pathlib.Path
        The files written, in the order above.

    Raises
    ------
    minewatch.errors.InputError
        ``out_dir`` is not an output folder (no ``manifest.json`` and no ``sites.gpkg``), or a
        format is unknown.

    Examples
    --------
    A folder with only a manifest and a time series gets only the time series:

    >>> import json, pathlib, tempfile
    >>> import pandas as pd
    >>> out = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (out / "manifest.json").write_text(json.dumps({"sensor": "sentinel2"}))
    >>> pd.DataFrame({"date": ["2023-01-18", "2024-01-22"], "sites": [2, 3],
    ...               "pools": [9, 19], "cleared_area_m2": [1.0e5, 2.7e5]}
    ...              ).to_csv(out / "timeseries.csv", index=False)
    >>> [p.name for p in write_figures(out, formats=("png", "svg"), dpi=50)]
    ['timeseries.png', 'timeseries.svg']
    """
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    unknown = [f for f in formats if f not in _FORMATS]
    if unknown:
        raise InputError(f"write_figures: unknown format(s) {unknown}; use {list(_FORMATS)}")
    if not (out / "manifest.json").exists() and not (out / "sites.gpkg").exists():
        raise InputError(f"{out}: not a minewatch output folder (no manifest.json or "
                         "sites.gpkg); run minewatch.analyze first")
    manifest = (json.loads((out / "manifest.json").read_text())
                if (out / "manifest.json").exists() else {})
    sensor = manifest.get("sensor")
    sites = read_layer(out / "sites.gpkg")
    pools = read_layer(out / "pools.gpkg")
    clearings = read_layer(out / "clearings.gpkg")
    history = read_table(out / "site_history.csv")
    table = read_table(out / "timeseries.csv")
    imagery = _imagery(out)
    dates = [pd.Timestamp(d) for d in manifest.get("dates", [])] or sorted(imagery)
    last_image = imagery[max(imagery)] if imagery else None
    figures = out / "figures"
    written: list[Path] = []

    def save(fig, name: str, size: str) -> None:
        try:
            for fmt in formats:
                written.append(save_figure(fig, figures / f"{name}.{fmt}", size=size, dpi=dpi))
        finally:
            plt.close(fig)

    if sites is not None or pools is not None or last_image is not None:
        ax = plot_site_map(sites, pools, clearings, background=last_image, sensor=sensor,
                           date=max(dates) if dates else None)
        save(ax.figure, "site_map", "double")
        no_sites = sites is None or not len(sites)
        ax = plot_overview(sites, background=last_image if no_sites else None, sensor=sensor,
                           dates=dates)
        save(ax.figure, "overview", "single")
    change = _change(out)
    if change is not None and change[1] in imagery and change[2] in imagery:
        path, d1, d2 = change
        axes = plot_before_after(imagery[d1], imagery[d2], path, sites=sites, sensor=sensor)
        save(axes[0].figure, "before_after", "double")
    if table is not None and len(table):
        axes = plot_timeseries(table, events=events)
        save(axes[0].figure, "timeseries", "single")
    regions = read_table(out / "timeseries_regions.csv")
    if regions is not None and len(regions) and "region" in regions.columns:
        axes = plot_timeseries(regions, events=events,
                               title="Mining activity over time, per region")
        save(axes[0].figure, "timeseries_regions", "single")
    if history is not None:
        axes = plot_site_growth(history, sites)
        save(axes[0].figure, "site_growth", "double")
    return written

