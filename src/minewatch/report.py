"""The report of an analysis folder: ONE self-contained HTML file an advocate can send.

Everything is inside the file: figures as base64 ``data:`` PNGs, the CSS and a small
JavaScript (sortable site table) inline, system fonts only. A Content-Security-Policy in the
page allows its own script (by hash), inline styles and ``data:`` images and nothing else, so
the browser itself refuses any network request. All text from the analysis (site IDs, paths,
config values, events) is HTML-escaped. Optionally the same page is printed to PDF with
headless Chromium. See docs/report.md.

Sections: key figures on the last date with their uncertainty band, the time series, maps,
sites (sortable table), events, methods, configuration, data sources and credits,
limitations (what each resolution can and cannot see, measured figures from
docs/detection.md), provenance (inputs with sha256, versions, dates).
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
import math
import os
import shutil
import struct
import subprocess
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from importlib import resources
from os import PathLike
from pathlib import Path

import pandas as pd

from minewatch._callable import make_callable
from minewatch.errors import InputError, MinewatchError, MinewatchWarning
from minewatch.io.layout import read_layer, read_table
from minewatch.io.write import atomic_path

__all__ = ["print_pdf", "report"]

Events = Sequence[tuple[object, str]] | Mapping[object, str] | pd.DataFrame | None

#: Figures written by ``minewatch.plot.write_figures``, in report order, with captions.
_FIGURES = {
    "timeseries": ("timeseries", "Sites, pools and cleared area per date. The shaded band is "
                   "the uncertainty band of timeseries.csv; dates only partly observed (cloud, "
                   "no data) are marked, and sites not seen on them are carried, not dropped."),
    "site_map": ("maps", "Sites, pools and clearings on the last date over its true-colour "
                 "image."),
    "overview": ("maps", "All sites, coloured by the year they were first seen."),
    "before_after": ("maps", "First and last date with the change map between them."),
    "site_growth": ("sites", "Growth of the largest sites: pools and cleared area per date."),
    "timeseries_regions": ("timeseries", "Sites, pools and cleared area per date and region "
                           "(regions given to the analysis)."),
}
_FIGURE_ZOOM = 1.5  # figures on screen at 1.5 x their print size (CSS px = 1/96 inch)
_CHROMIUM = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

_SENSOR_CREDITS = {
    "sentinel": ("Copernicus Sentinel-2 (European Union / ESA)",
                 "Contains modified Copernicus Sentinel data {years}. Free and open licence: "
                 "the credit line is required."),
    "planet": ("PlanetScope (Planet Labs PBC)",
               "Imagery © {years} Planet Labs PBC. Redistribution is subject to your Planet "
               "licence (e.g. NICFI or Education and Research): check it before publishing "
               "derived images."),
    "landsat": ("Landsat (U.S. Geological Survey / NASA)",
                "Landsat imagery courtesy of the U.S. Geological Survey{years_comma}. Public "
                "domain."),
    "rgb": ("Very-high-resolution RGB imagery (provider of the input files)",
            "Credit the provider of the imagery as their licence asks."),
}

# What each resolution can and cannot see: measured on generated scenes, held-out seeds
# 100–109 (docs/detection.md, 2026-11-24).
_LIMITS = [
    (0.5, "0.5 m RGB (very high resolution)",
     "Individual pools of every generated size (≥ 9 m²): recall 0.90 below 25 m², 0.92–0.97 "
     "above; pool F1 0.87.",
     "No NIR/SWIR bands. Tarp huts look like the blue pool liner: about 40 false pools per "
     "10 km² (tarp huts 17, metal roofs 2.4). Clearings not measured at this resolution."),
    (3.0, "3 m PlanetScope",
     "Individual pools from about 25 m²: recall 0.86 (25–50 m²), 0.94 (50–100 m²), 0.91 "
     "(100–200 m²); pool F1 0.91; pools per site within ±25 % on 87 % of site-dates. "
     "Clearings: pixel IoU 0.85.",
     "Pools under 25 m² are often missed (recall 0.70). About 9 false pools per 10 km² "
     "(mostly pieces of streams)."),
    (10.0, "10 m Sentinel-2",
     "Pools from about 100 m² (one pixel): recall 0.84 (100–200 m²) and 1.00 for pools "
     "≥ 200 m² on L2A input (SWIR at 20 m); smaller pools as part of a cluster (0.41 at "
     "25–50 m², 0.59 at 50–100 m²). Pool count from area within +5 % overall. Mining "
     "clearings: pixel IoU 0.81; swidden fields never called mining.",
     "Pools under 25 m² are mostly missed (recall 0.08); a chain of pools merges into one "
     "object, so pools are counted from area: pools per site within ±25 % on only 56 % of "
     "site-dates (median error 22 %). About 2 false pools per 10 km² (rivers, fish ponds). "
     "On the sample archive's real Pang War positions it finds 36–182 pools per date "
     "against 47–165 placed: treat 10 m pool counts as approximate."),
    (30.0, "30 m Landsat",
     "Clearings: pixel IoU 0.79 on held-out scenes; swidden fields never called "
     "mining.",
     "Pools: recall under 1 % in every size class — no pool counts from Landsat."),
]


# --- small helpers ------------------------------------------------------------------------------

def _e(value: object) -> str:
    """HTML-escaped text of any value (quotes too); None -> ''."""
    return html.escape("" if value is None else str(value), quote=True)


def _data_text(name: str) -> str:
    return resources.files("minewatch").joinpath("data", name).read_text(encoding="utf-8")


def _missing(value: object) -> bool:
    try:
        return value is None or bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _int(value: object) -> str:
    return "–" if _missing(value) else f"{round(float(value)):,}"


def _ha(value_m2: object, digits: int = 1) -> str:
    return "–" if _missing(value_m2) else f"{float(value_m2) / 1e4:,.{digits}f}"


def _num(value: object) -> str:
    """Numbers for data attributes: plain, full precision."""
    if _missing(value):
        return ""
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)


def _date(value: object) -> str:
    stamp = pd.to_datetime(value, errors="coerce")
    return "" if pd.isna(stamp) else f"{stamp:%Y-%m-%d}"


def _place(manifest: Mapping, out: Path) -> str:
    """A short name of the analysed archive (its folder name), or the output folder's."""
    archive = manifest.get("archive")
    if isinstance(archive, str) and archive.strip():
        return Path(archive.rstrip("/\\")).name or archive
    return out.resolve().name


def _png_size(data: bytes) -> tuple[int, int, float | None] | None:
    """Width and height (px) of a PNG and its resolution (dots per inch, from pHYs)."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or len(data) < 24:
        return None
    width, height = struct.unpack(">II", data[16:24])
    dpi = None
    offset = 8
    while offset + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[offset:offset + 8])
        if kind == b"pHYs" and length == 9:
            ppu, _, unit = struct.unpack(">IIB", data[offset + 8:offset + 17])
            dpi = ppu * 0.0254 if unit == 1 and ppu else None
            break
        if kind in (b"IDAT", b"IEND"):
            break
        offset += 12 + length
    return width, height, dpi


def _img(data: bytes, alt: str, caption: str, name: str) -> str:
    size = _png_size(data)
    dims = ""
    if size:
        width, height, dpi = size
        if dpi:  # shown at 1.5 x its print size (a 89 mm column -> ~500 CSS px), max 100 %
            scale = min(1.0, _FIGURE_ZOOM * 96.0 / dpi)
            width, height = round(width * scale), round(height * scale)
        dims = f' width="{width}" height="{height}"'
    uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
    return (f'<figure data-figure="{_e(name)}"><img src="{uri}" alt="{_e(alt)}"{dims}>'
            f"<figcaption>{_e(caption)}</figcaption></figure>")


def _table(header: Sequence[tuple[str, str]], rows: Sequence[str], cls: str = "",
           sortable: bool = False, ident: str = "") -> str:
    """``header``: (label, kind) with kind "text" | "number"; ``rows``: ready ``<tr>`` HTML."""
    heads = []
    for label, kind in header:
        num = ' class="num"' if kind == "number" else ""
        if sortable:
            heads.append(f'<th{num} data-type="{kind}"><button type="button">{_e(label)}'
                         "</button></th>")
        else:
            heads.append(f"<th{num}>{_e(label)}</th>")
    classes = " ".join(c for c in (cls, "sortable" if sortable else "") if c)
    attrs = (f' class="{classes}"' if classes else "") + (f' id="{ident}"' if ident else "")
    return (f'<div class="tablewrap"><table{attrs}><thead><tr>{"".join(heads)}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table></div>")


def _kv(pairs: Sequence[tuple[str, object]]) -> str:
    rows = [f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in pairs]
    return f'<div class="tablewrap"><table class="kv"><tbody>{"".join(rows)}</tbody></table></div>'


def _flatten(value: object, prefix: str = "") -> list[tuple[str, object]]:
    if isinstance(value, Mapping):
        out: list[tuple[str, object]] = []
        for key, item in value.items():
            out += _flatten(item, f"{prefix}.{key}" if prefix else str(key))
        return out
    if isinstance(value, list | tuple):
        return [(prefix, ", ".join(str(v) for v in value))]
    return [(prefix, value)]


# --- reading the output folder -----------------------------------------------------------------

def _read_sites(out: Path) -> pd.DataFrame | None:
    import geopandas as gpd

    sites = read_layer(out / "sites.gpkg")
    if sites is None:
        return None
    if ({"lon", "lat"} - set(sites.columns)) and len(sites) and sites.crs is not None:
        centres = sites.geometry.centroid if sites.crs.is_projected else sites.geometry
        centres = gpd.GeoSeries(centres, crs=sites.crs).to_crs(4326)
        if not sites.crs.is_projected:
            centres = centres.centroid
        sites["lon"], sites["lat"] = centres.x, centres.y
    return pd.DataFrame(sites.drop(columns="geometry", errors="ignore"))


def _events_list(events: Events) -> list[tuple[str, str]]:
    """User events as (YYYY-MM-DD, text), sorted by date."""
    if events is None:
        return []
    if isinstance(events, pd.DataFrame):
        date_col = next((c for c in ("date", "when") if c in events.columns), None)
        text_col = next((c for c in ("label", "text", "event", "name", "description")
                         if c in events.columns), None)
        if date_col is None or text_col is None:
            raise InputError(f"events: a DataFrame needs a 'date' and a 'label' (or 'text') "
                             f"column; got {list(events.columns)}")
        pairs = list(zip(events[date_col], events[text_col], strict=True))
    elif isinstance(events, Mapping):
        pairs = list(events.items())
    else:
        pairs = []
        for item in events:
            if not isinstance(item, Sequence) or isinstance(item, str) or len(item) != 2:
                raise InputError(f"events: each event is a (date, text) pair, e.g. "
                                 f"('2024-10-01', 'KIO takes control'); got {item!r}")
            pairs.append(tuple(item))
    out = []
    for when, text in pairs:
        stamp = pd.to_datetime(when, errors="coerce")
        if pd.isna(stamp):
            raise InputError(f"events: {when!r} is not a date; use YYYY-MM-DD")
        out.append((f"{stamp:%Y-%m-%d}", str(text)))
    return sorted(out)


def _figures(out: Path, events: Events,
             table: pd.DataFrame | None) -> list[tuple[str, bytes, str, str]]:
    """(name, png bytes, section, caption) of every figure, making them when there are none."""
    folder = out / "figures"
    if not any(folder.glob("*.png")):
        try:
            from minewatch.plot import write_figures
        except ImportError:
            write_figures = None
        if write_figures is not None:
            try:
                write_figures(out, formats=("png",), events=events)
            except Exception as error:  # a report without maps beats no report
                warnings.warn(f"{out}: the figures could not be drawn ({error}); the report "
                              "has a plain time-series plot instead", MinewatchWarning,
                              stacklevel=3)
    found = []
    pngs = sorted(folder.glob("*.png")) if folder.is_dir() else []
    known = [p for name in _FIGURES for p in pngs if p.stem == name]
    others = [p for p in pngs if p.stem not in _FIGURES]
    for path in known + others:
        section, caption = _FIGURES.get(path.stem, ("maps", path.stem.replace("_", " ")))
        found.append((path.stem, path.read_bytes(), section, caption))
    if not any(name == "timeseries" for name, *_ in found) and table is not None and len(table):
        found.insert(0, ("timeseries", _fallback_timeseries(table), "timeseries",
                         "Sites, pools and cleared area per date (band: low–high of "
                         "timeseries.csv; open markers: dates only partly observed)."))
    return found


def _fallback_timeseries(table: pd.DataFrame) -> bytes:
    """A plain time-series PNG (used when minewatch.plot cannot draw one)."""
    from matplotlib.figure import Figure  # no pyplot: no backend or global state touched

    frame = table.groupby("date", as_index=False).sum(numeric_only=True) \
        if "region" in table.columns else table
    fig = Figure(figsize=(7.2, 5.4), dpi=150, layout="constrained")
    axes = fig.subplots(3, 1, sharex=True)
    partly = _partly_mask(frame)
    for ax, (column, label, scale) in zip(axes, (("sites", "sites", 1.0),
                                                 ("pools", "pools", 1.0),
                                                 ("cleared_area_m2", "cleared area (ha)", 1e-4)),
                                          strict=True):
        if column not in frame.columns:
            continue
        y = frame[column] * scale
        if f"{column}_low" in frame.columns and f"{column}_high" in frame.columns:
            ax.fill_between(frame["date"], frame[f"{column}_low"] * scale,
                            frame[f"{column}_high"] * scale, color="#56b4e9", alpha=0.3,
                            linewidth=0, label="uncertainty band")
        ax.plot(frame["date"], y, color="#0072b2", marker="o", label=label)
        if partly.any():
            ax.plot(frame["date"][partly], y[partly], linestyle="none", marker="o",
                    markerfacecolor="white", markeredgecolor="#d55e00", markersize=8,
                    label="partly unobserved")
        ax.set_ylabel(label)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    axes[0].legend(loc="upper left", fontsize=8)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def _partly_mask(frame: pd.DataFrame) -> pd.Series:
    mask = pd.Series(False, index=frame.index)
    if "valid_fraction" in frame.columns:
        mask |= frame["valid_fraction"].fillna(1.0) < 0.999
    if "sites_unobserved" in frame.columns:
        mask |= frame["sites_unobserved"].fillna(0) > 0
    return mask


# --- sections ----------------------------------------------------------------------------------

def _last(table: pd.DataFrame) -> tuple[pd.Series, bool]:
    """The last date's row (summed over regions when the table has them)."""
    last_date = table["date"].max()
    rows = table[table["date"] == last_date]
    if "region" in table.columns and len(rows) > 1:
        row = rows.sum(numeric_only=True).astype(object)
        row["valid_fraction"] = rows["valid_fraction"].mean() \
            if "valid_fraction" in rows.columns else float("nan")
        row["date"] = last_date
        return row, True
    return rows.iloc[-1], False


def _keyfigures(table: pd.DataFrame | None) -> str:
    if table is None or not len(table):
        return ("<p>No time series (timeseries.csv) in this folder: no key figures.</p>")
    row, summed = _last(table)
    partly = bool(_partly_mask(pd.DataFrame([row])).iloc[0])
    valid = row.get("valid_fraction")
    cards = []

    def card(key: str, label: str, value: str, unit: str, low: object, high: object,
             note: str = "") -> None:
        raw = row.get(key)
        lo_txt = hi_txt = ""
        if not _missing(low) and not _missing(high):
            fmt = _ha if key == "cleared_area_m2" else _int
            lo_txt, hi_txt = fmt(low), fmt(high)
        rng = (f'<div class="range">range {_e(lo_txt)}–{_e(hi_txt)}{_e(unit)}</div>'
               if lo_txt else '<div class="range">no uncertainty band</div>')
        cls = "keyfigure partly" if note else "keyfigure"
        cards.append(
            f'<div class="{cls}" data-key="{_e(key)}" data-value="{_e(_num(raw))}" '
            f'data-low="{_e(_num(low))}" data-high="{_e(_num(high))}">'
            f'<div class="label">{_e(label)}</div><div class="value">{_e(value)}'
            f'<span class="range">{_e(unit)}</span></div>{rng}'
            + (f'<div class="note">{_e(note)}</div>' if note else "") + "</div>")

    unobserved = row.get("sites_unobserved")
    site_note = ""
    if not _missing(unobserved) and float(unobserved) > 0:
        site_note = (f"partly unobserved: {_int(unobserved)} not seen on this date (cloud or no "
                     "data), carried from their last observation")
    area_note = ""
    if partly and not _missing(valid) and float(valid) < 0.999:
        area_note = (f"partly unobserved: {100 * (1 - float(valid)):.0f} % of the area not "
                     "seen; what is there is not counted")
    elif partly:
        area_note = "partly unobserved date"
    card("sites", "Sites", _int(row.get("sites")), "", row.get("sites_low"),
         row.get("sites_high"), site_note)
    card("pools", "Pools", _int(row.get("pools")), "", row.get("pools_low"),
         row.get("pools_high"), area_note)
    card("cleared_area_m2", "Cleared area", _ha(row.get("cleared_area_m2")), " ha",
         row.get("cleared_area_m2_low"), row.get("cleared_area_m2_high"), area_note)
    if "new_sites" in row.index:
        cards.append(f'<div class="keyfigure" data-key="new_sites" '
                     f'data-value="{_e(_num(row.get("new_sites")))}"><div class="label">New '
                     f'sites</div><div class="value">{_e(_int(row.get("new_sites")))}</div>'
                     '<div class="range">first seen on this date</div></div>')
    if not _missing(valid):
        cls = "keyfigure partly" if partly else "keyfigure"
        cards.append(f'<div class="{cls}" data-key="valid_fraction" '
                     f'data-value="{_e(_num(valid))}"><div class="label">Area observed</div>'
                     f'<div class="value">{_e(f"{100 * float(valid):.0f}")}'
                     '<span class="range"> %</span></div><div class="range">of the area of '
                     "interest (not cloud, shadow or no data)</div>"
                     + ('<div class="note">partly unobserved</div>' if partly else "")
                     + "</div>")
    asof = (f'<p class="asof">On the last date, <b>{_e(_date(row["date"]))}</b>'
            + (", summed over the regions of timeseries.csv" if summed else "")
            + ". Ranges are the uncertainty band of timeseries.csv (detection confidence; "
            "it does not cover pools that were missed: see Limitations).</p>")
    flag = ""
    if partly:
        flag = ('<p class="callout" id="partly-unobserved"><b>Partly unobserved.</b> Part of '
                "the area was not seen on the last date (cloud, shadow or no data). Sites and "
                "pools not seen are carried from their last observation, so the counts do not "
                "drop; what is new under the cloud is not counted until a later date shows "
                "it.</p>")
    return asof + f'<div class="keyfigures">{"".join(cards)}</div>' + flag


def _timeseries_table(table: pd.DataFrame | None) -> str:
    if table is None or not len(table):
        return ""
    partly = _partly_mask(table)
    has_region = "region" in table.columns

    def band(row: pd.Series, column: str, fmt) -> str:
        low, high = row.get(f"{column}_low"), row.get(f"{column}_high")
        if _missing(low) or _missing(high):
            return ""
        return f' <span class="small">({_e(fmt(low))}–{_e(fmt(high))})</span>'

    rows = []
    for index, row in table.iterrows():
        note = ('<span class="flag">partly unobserved</span>' if partly.loc[index] else "")
        region = f"<td>{_e(row.get('region'))}</td>" if has_region else ""
        valid = row.get("valid_fraction")
        rows.append(
            f'<tr class="{"partly" if partly.loc[index] else "full"}">'
            f'<td class="date">{_e(_date(row["date"]))}</td>{region}'
            f'<td class="num">{_e(_int(row.get("sites")))}{band(row, "sites", _int)}</td>'
            f'<td class="num">{_e(_int(row.get("pools")))}{band(row, "pools", _int)}</td>'
            f'<td class="num">{_e(_ha(row.get("cleared_area_m2")))}'
            f'{band(row, "cleared_area_m2", _ha)}</td>'
            f'<td class="num">{_e(_int(row.get("new_sites")))}</td>'
            f'<td class="num">{_e("–" if _missing(valid) else f"{100 * float(valid):.0f} %")}'
            f"</td><td>{note}</td></tr>")
    header = [("Date", "text")] + ([("Region", "text")] if has_region else []) + [
        ("Sites (low–high)", "number"), ("Pools (low–high)", "number"),
        ("Cleared area, ha (low–high)", "number"), ("New sites", "number"),
        ("Observed", "number"), ("", "text")]
    return _table(header, rows, ident="timeseries-table")


def _sites_table(sites: pd.DataFrame | None) -> str:
    if sites is None:
        return "<p>No sites.gpkg in this folder.</p>"
    if not len(sites):
        return "<p>No sites were detected.</p>"
    order = sites.sort_values("site_id") if "site_id" in sites.columns else sites
    rows = []
    for _, site in order.iterrows():
        tags = []
        if bool(site.get("provisional", False)):
            tags.append('<span class="flag">provisional</span>')
        status = _e(site.get("status_last", ""))
        lon, lat = site.get("lon"), site.get("lat")
        rows.append(
            f'<tr data-site="{_e(site.get("site_id"))}"><td>{_e(site.get("site_id"))}</td>'
            f'<td class="date">{_e(_date(site.get("first_seen")))}</td>'
            f'<td class="date">{_e(_date(site.get("last_seen")))}</td>'
            f'<td class="num" data-sort="{_e(_num(site.get("n_pools_max")))}">'
            f"{_e(_int(site.get('n_pools_max')))}</td>"
            f'<td class="num" data-sort="{_e(_num(site.get("area_m2_max")))}">'
            f"{_e(_int(site.get('area_m2_max')))}</td>"
            f"<td>{status} {' '.join(tags)}</td>"
            f'<td class="num" data-sort="{_e(_num(lon))}">'
            f"{_e('' if _missing(lon) else f'{float(lon):.5f}')}</td>"
            f'<td class="num" data-sort="{_e(_num(lat))}">'
            f"{_e('' if _missing(lat) else f'{float(lat):.5f}')}</td></tr>")
    header = [("site_id", "text"), ("first_seen", "text"), ("last_seen", "text"),
              ("n_pools_max", "number"), ("area_m2_max (m²)", "number"),
              ("status_last", "text"), ("lon (°E)", "number"), ("lat (°N)", "number")]
    return (f"<p>{len(sites)} site{'s' if len(sites) != 1 else ''}. Click a column header to "
            "sort. <span class=\"small\">n_pools_max: most pools on one date; area_m2_max: "
            "largest cleared + pool area; lon/lat: centre, WGS 84. Provisional: seen on one "
            "date only, too recent to have been seen twice.</span></p>"
            + _table(header, rows, sortable=True, ident="sites-table"))


def _events_section(user: list[tuple[str, str]], tracked: pd.DataFrame | None) -> str:
    parts = []
    if user:
        rows = [f'<tr><td class="date">{_e(d)}</td><td>{_e(t)}</td></tr>' for d, t in user]
        parts.append("<h3>Context</h3>" + _table([("Date", "text"), ("Event", "text")], rows,
                                                 ident="events-table"))
    if tracked is not None and len(tracked):
        rows = [f'<tr><td class="date">{_e(_date(r.get("date")))}</td><td>{_e(r.get("kind"))}</td>'
                f"<td>{_e(r.get('site_id'))}</td><td>{_e(r.get('other_ids'))}</td></tr>"
                for _, r in tracked.iterrows()]
        parts.append("<h3>Merges and splits of sites</h3><p class=\"small\">When sites grow "
                     "together they merge (the oldest ID is kept); when one falls apart it "
                     "splits (events.csv).</p>"
                     + _table([("Date", "text"), ("Kind", "text"), ("Site", "text"),
                               ("Other sites", "text")], rows))
    return "".join(parts)


def _methods(manifest: dict, scenes: pd.DataFrame | None) -> str:
    config = manifest.get("config") or {}
    flat = dict(_flatten(config))
    flat.update(_flatten(manifest.get("site_config") or {}, "site_config"))
    sensor = manifest.get("sensor") or flat.get("preset_name") or "unknown sensor"
    resolution = manifest.get("resolution_m") or flat.get("resolution_m")
    res_txt = f"{float(resolution):g} m" if not _missing(resolution) else "the archive's"
    used = skipped = None
    if isinstance(manifest.get("scenes"), Mapping):
        used, skipped = manifest["scenes"].get("used"), manifest["scenes"].get("skipped")
    if scenes is not None and "status" in scenes.columns:
        used = int((scenes["status"] == "used").sum())
        skipped = int((scenes["status"] != "used").sum())
    linking = next((v for k, v in flat.items() if k.endswith("linking_distance_m")), None)
    linking_txt = (f"within {float(linking):g} m of each other" if linking is not None else
                   "within the linking distance of each other (default 150 m; not recorded "
                   "in manifest.json)")
    steps = [
        ("Imagery",
         f"Scenes of {sensor} at {res_txt} pixels"
         + (f" ({used} used, {skipped} skipped; reasons in scenes.csv)"
            if used is not None else "")
         + " are put on one grid. Cloud, cloud shadow and no-data pixels are masked on each "
         "date: what was not seen is recorded as unobserved, never as 'no mining'."),
        ("Pools",
         "Each pixel is compared with its local background and unmixed against a small library "
         "of leachate colours (turquoise, blue, milky, dark, brown) and the empty blue liner, "
         "which gives the pool fraction of the pixel. Objects are filtered by area, shape, "
         "green surroundings and water density (rivers, streams), and each gets a confidence "
         "(probability of being a real pool) from a logistic model. At 10 m a chain of pools "
         "merges into one object, and pools are counted from its area."),
        ("Clearings",
         "Vegetation loss and bare laterite soil against a per-pixel baseline of the earlier "
         "dates (NDVI, bare-soil index), after normalising each date on its stable forest. "
         "Each clearing is classed: mining (pools on it, or newly bare laterite), swidden "
         "(regrowing or burnt fields), landslide (grey, elongated) or unknown."),
        ("Sites",
         f"Pools and mining clearings {linking_txt} (edge to edge) form a "
         "site. Sites are tracked across dates with stable IDs (S0001, ... by first date), "
         "merges and splits recorded. A known site not seen on a date (cloud) is carried, "
         "not dropped, and one first seen after a cloudy spell counts on the hidden dates by "
         "the chance that it was there already; a site seen on one date only is "
         "'provisional' while it is too recent to have been seen twice."),
        ("Counts and uncertainty",
         "Per date: sites, pools, cleared area, new sites and the observed fraction "
         "(timeseries.csv). The band (low–high) comes from Monte Carlo draws in which each "
         "pool is real with probability equal to its confidence; it does not cover pools "
         "that were missed."),
        ("Change",
         "A change map between the first and the last date: new clearing, new pools, "
         "persistent mining, regrowth (change/)."),
    ]
    rows = [f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in steps]
    return ('<div class="tablewrap"><table class="kv" id="methods"><tbody>'
            f"{''.join(rows)}</tbody></table></div>"
            '<p class="small">Details and measured accuracy: docs/detection.md, docs/sites.md, '
            "docs/timeseries.md of minewatch.</p>")


def _config(manifest: dict) -> str:
    top = [(k, manifest.get(k)) for k in ("sensor", "resolution_m", "crs", "archive", "aoi")
           if manifest.get(k) not in (None, "")]
    config = manifest.get("config") or {}
    parts = []
    if top:
        parts.append(_kv(top))
    plain = [(k, v) for k, v in config.items() if not isinstance(v, Mapping)]
    groups = [(k, _flatten(v)) for k, v in config.items() if isinstance(v, Mapping)]
    for key, name in (("site_config", "sites"), ("grid", "grid")):
        if isinstance(manifest.get(key), Mapping) and manifest[key]:
            groups.append((name, _flatten(manifest[key])))
    if plain or groups:
        blocks = []
        if plain:
            blocks.append(("settings", plain))
        blocks += groups
        cells = "".join(
            f'<div class="configgroup"><h4>{_e(name)}</h4><table class="kv compact"><tbody>'
            + "".join(f'<tr><th class="mono">{_e(k)}</th><td>{_e(v)}</td></tr>'
                      for k, v in items)
            + "</tbody></table></div>" for name, items in blocks)
        parts.append("<h3>Detection and tracking settings (manifest.json: config, "
                     "site_config, grid)</h3>"
                     f'<div class="configgrid" id="config">{cells}</div>')
    if not parts:
        return "<p>No configuration recorded (manifest.json missing or without config).</p>"
    return "".join(parts)


def _credits(manifest: dict) -> str:
    sensor = str(manifest.get("sensor") or "").lower()
    dates = manifest.get("dates") or []
    years = sorted({str(d)[:4] for d in dates if str(d)[:4].isdigit()})
    span = "" if not years else (years[0] if len(years) == 1 else f"{years[0]}–{years[-1]}")
    rows = []
    matched = False
    for key, (name, text) in _SENSOR_CREDITS.items():
        used = sensor.startswith(key) or (key == "planet" and "planet" in sensor)
        matched |= used
        line = text.format(years=span or "YYYY", years_comma=f", {span}" if span else "")
        rows.append((used, name, line))
    out = ["<p>Imagery used by this analysis"
           + (f": <b>{_e(manifest.get('sensor'))}</b>." if sensor else " (sensor not recorded).")
           + " Credit it as below when you publish figures from this report.</p>"]
    body = []
    for used, name, line in rows:
        if used or not matched:
            body.append(f'<tr class="{"current" if used else ""}"><td>{_e(name)}</td>'
                        f"<td>{_e(line)}</td></tr>")
    body.append("<tr><td>Natural Earth</td><td>Country borders in the map insets and the web "
                "map: Made with Natural Earth (naturalearthdata.com), public domain.</td></tr>")
    body.append("<tr><td>minewatch</td><td>Detection, tracking, counts, maps and this report "
                f"(minewatch {_e(manifest.get('minewatch_version', ''))}, MIT licence).</td></tr>")
    out.append(_table([("Source", "text"), ("Credit", "text")], body, ident="credits"))
    return "".join(out)


def _limitations(manifest: dict) -> str:
    resolution = manifest.get("resolution_m")
    current = None
    if not _missing(resolution):
        current = min(_LIMITS, key=lambda r: abs(math.log(r[0] / float(resolution))))[0]
    rows = []
    for res, name, sees, misses in _LIMITS:
        mark = " (this analysis)" if res == current else ""
        rows.append(f'<tr class="{"current" if res == current else ""}" data-res="{res:g}">'
                    f"<td>{_e(name + mark)}</td><td>{_e(sees)}</td><td>{_e(misses)}</td></tr>")
    general = [
        "Accuracy figures are measured on generated scenes (held-out seeds, docs/detection.md, "
        "2026-11-24); on real imagery they will be lower until the detectors are calibrated "
        "on labelled real pools. Check important sites on the imagery itself.",
        "The uncertainty band covers doubt about what was detected (pool confidence), not pools "
        "or sites that were missed, not area errors of clearings, and not the assumption that "
        "a site hidden by cloud is still there.",
        "A date that is partly unobserved (cloud, shadow, no data) cannot show what happened "
        "under the cloud: known sites and pools are carried from their last observation, and "
        "those first seen on a later date count by the chance that they were already there "
        "(sites_backfilled, pools_backfilled); a cloudy date's counts are revised when later "
        "dates are added.",
        "Look-alikes: tarp huts and metal roofs (blue liner colour), fish ponds and river "
        "channels can be taken for pools; landslides and swidden fields for clearings.",
        "A clearing is not proof of rare-earth mining: the label 'mining' means pools on it "
        "or newly bare laterite; field knowledge decides.",
    ]
    return (_table([("Resolution", "text"), ("Can see", "text"), ("Cannot see / caveats",
                                                                    "text")],
                   rows, cls="limits", ident="limitations-table")
            + "<ul>" + "".join(f"<li>{_e(g)}</li>" for g in general) + "</ul>")


def _provenance(manifest: dict) -> str:
    if not manifest:
        return "<p>No manifest.json in this folder: no provenance recorded.</p>"
    top = [(k, manifest.get(k)) for k in ("minewatch_version", "created", "archive", "aoi",
                                          "sensor", "resolution_m", "crs")
           if manifest.get(k) not in (None, "")]
    scenes = manifest.get("scenes")
    if isinstance(scenes, Mapping):
        top.append(("scenes", ", ".join(f"{k}: {v}" for k, v in scenes.items())))
    dates = manifest.get("dates") or []
    if dates:
        top.append(("dates", ", ".join(str(d) for d in dates)))
    parts = [_kv(top)]
    inputs = manifest.get("inputs") or []
    rows = [f'<tr><td class="mono">{_e(i.get("path"))}</td>'
            f'<td class="num">{_e(_int(i.get("bytes")))}</td>'
            f'<td class="mono hash">{_e(i.get("sha256"))}</td></tr>' for i in inputs]
    parts.append(f"<h3>Input files ({len(inputs)})</h3><p class=\"small\">Check that the inputs "
                 "are unchanged with <code>minewatch verify OUT_DIR</code> (or "
                 "<code>sha256sum</code>).</p>"
                 + _table([("Path", "text"), ("Bytes", "number"), ("SHA-256", "text")], rows,
                          ident="inputs-table"))
    versions = manifest.get("versions") or {}
    if versions:
        parts.append("<h3>Software versions</h3>" + _kv(sorted(versions.items())))
    timings = manifest.get("timings_s") or {}
    if timings:
        parts.append("<h3>Timings (s)</h3>" + _kv(list(timings.items())))
    notes = manifest.get("notes") or []
    if notes:
        parts.append("<h3>Notes from the analysis</h3><ul>"
                     + "".join(f"<li>{_e(n)}</li>" for n in notes) + "</ul>")
    outputs = manifest.get("outputs") or []
    if outputs and all(isinstance(o, Mapping) for o in outputs):
        rows = [f'<tr><td class="mono">{_e(o.get("path"))}</td>'
                f'<td class="num">{_e(_int(o.get("bytes")))}</td>'
                f'<td class="mono hash small">{_e(o.get("sha256"))}</td></tr>' for o in outputs]
        parts.append(f"<h3>Output files ({len(outputs)})</h3>"
                     + _table([("Path", "text"), ("Bytes", "number"), ("SHA-256", "text")],
                              rows, ident="outputs-table"))
    elif outputs:
        parts.append(f"<h3>Output files ({len(outputs)})</h3><p class=\"mono small\">"
                     + ", ".join(_e(o.get("path") if isinstance(o, Mapping) else o)
                                 for o in outputs) + "</p>")
    return "".join(parts)


# --- the page -------------------------------------------------------------------------------

def _page(title: str, subtitle: str, sections: list[tuple[str, str, str]], footer: str) -> str:
    css = _data_text("report_style.css")
    script = _data_text("report_table.js")
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode()
    csp = (f"default-src 'none'; script-src 'sha256-{digest}'; style-src 'unsafe-inline'; "
           "img-src data:; base-uri 'none'; form-action 'none'")
    toc = "".join(f'<a href="#{ident}">{_e(name)}</a>' for ident, name, _ in sections)
    body = "".join(f'<section id="{ident}"><h2>{_e(name)}</h2>{content}</section>'
                   for ident, name, content in sections)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="generator" content="minewatch">\n'
        f"<title>{_e(title)}</title>\n<style>\n{css}</style>\n</head>\n<body>\n"
        f'<header><h1>{_e(title)}</h1><p class="subtitle">{_e(subtitle)}</p>'
        f'<nav class="toc">{toc}</nav></header>\n{body}\n'
        f"<footer>{footer}</footer>\n<script>{script}</script>\n</body>\n</html>\n")


def report(out_dir: str | PathLike[str], path: str | PathLike[str] | None = None,
           title: str | None = None, events: Events = None, pdf: bool = False) -> Path:
    """Write the self-contained HTML report of an analysis folder.

    Reads the layout ``minewatch.analyze`` writes (``manifest.json``, ``timeseries.csv``,
    ``sites.gpkg``, ``site_history.csv``, ``events.csv``, ``scenes.csv``, ``figures/*.png``).
    When ``figures/`` holds no PNG, ``minewatch.plot.write_figures`` draws them first (into
    ``out_dir/figures``); if that is not possible, a plain time-series plot is embedded instead
    (with a ``MinewatchWarning`` when drawing failed).

    The file holds everything: PNGs as base64 ``data:`` URIs, inline CSS and JavaScript, no
    web fonts, and a Content-Security-Policy that forbids any request; it opens offline and can
    be e-mailed as it is. Sections: key figures on the last date (sites, pools, cleared area in
    ha with their low–high band; partly unobserved dates flagged), time series, maps, the
    sortable site table, events, methods, configuration, data sources and credits,
    limitations per resolution, provenance (inputs with sha256, versions).

    Parameters
    ----------
    out_dir
        The analysis output folder.
    path
        The HTML file to write (default ``out_dir/report.html``); written atomically.
    title
        Report title (default: from the manifest's archive and dates).
    events
        Context events listed in the report and drawn on the time series when the figures
        are made here: ``[("2024-10-01", "KIO takes control of the mining area")]``, a
        mapping date -> text, or a DataFrame with ``date`` and ``label`` columns.
    pdf
        Also print the page to PDF (same path, ``.pdf``) with headless Chromium.

    Returns
    -------
    pathlib.Path
        The HTML file written.

    Raises
    ------
    minewatch.errors.InputError
        ``out_dir`` is not an analysis folder (neither ``manifest.json`` nor ``sites.gpkg``
        nor ``timeseries.csv``), or ``events`` is malformed.
    minewatch.errors.MinewatchError
        ``pdf=True`` and no Chromium was found, or it failed.

    Examples
    --------
    An analysis folder written by :func:`minewatch.analyze` (not run as a doctest: it needs
    one; ``tests/test_report.py`` runs it)::

        report("out/analysis", title="Pang War 2019–2025")   # -> out/analysis/report.html
        report("out/analysis", events=[("2024-10-01", "KIO takes control")], pdf=True)
    """
    out = Path(out_dir)
    if not out.is_dir():
        raise InputError(f"{out}: no such folder; give the output folder of minewatch.analyze "
                         "(minewatch run)")
    if not any((out / name).is_file() for name in ("manifest.json", "sites.gpkg",
                                                   "timeseries.csv")):
        raise InputError(f"{out}: not a minewatch output folder (no manifest.json, sites.gpkg "
                         "or timeseries.csv); run minewatch.analyze first")
    target = Path(path) if path is not None else out / "report.html"
    user_events = _events_list(events)
    manifest_path = out / "manifest.json"
    try:
        manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    except json.JSONDecodeError as error:
        raise InputError(f"{manifest_path}: not valid JSON ({error}); re-run minewatch.analyze"
                         ) from error
    table = read_table(out / "timeseries.csv")
    if table is not None and "date" not in table.columns:
        raise InputError(f"{out / 'timeseries.csv'}: no 'date' column; re-run minewatch.analyze")
    if table is not None:
        table = table.sort_values("date", kind="stable").reset_index(drop=True)
    sites = _read_sites(out)
    tracked = read_table(out / "events.csv")
    scenes = read_table(out / "scenes.csv")
    figures = _figures(out, events, table)

    dates = manifest.get("dates") or ([_date(d) for d in table["date"].unique()]
                                      if table is not None else [])
    place = _place(manifest, out)
    if title is None:
        title = f"Rare-earth mining sites: {place}"
    subtitle = " · ".join(x for x in (
        f"{dates[0]} – {dates[-1]}" if len(dates) > 1 else (dates[0] if dates else ""),
        f"{len(dates)} date{'s' if len(dates) != 1 else ''}" if dates else "",
        str(manifest.get("sensor") or ""),
        f"{float(manifest['resolution_m']):g} m pixels" if manifest.get("resolution_m") else "",
        f"analysis of {manifest.get('created', '')[:10]}" if manifest.get("created") else "",
    ) if x)

    def figs(section: str) -> str:
        return "".join(_img(data, f"{name.replace('_', ' ')} figure", caption, name)
                       for name, data, sec, caption in figures if sec == section)

    partly_dates = []
    if table is not None and len(table):
        mask = _partly_mask(table)
        partly_dates = sorted({_date(d) for d in table.loc[mask, "date"]})
    ts_note = ("<p>Partly unobserved dates: " + ", ".join(_e(d) for d in partly_dates)
               + ". Sites not seen on them are carried; read dips in pools and area on these "
                 "dates as missing observations, not as change.</p>") if partly_dates else ""
    webmap_note = ""
    if (out / "webmap.html").is_file():
        webmap_note = ('<p class="small">An interactive map of the sites with the history of '
                       "each is in <code>webmap.html</code> in the analysis folder (not inside "
                       "this file).</p>")
    sections = [
        ("key-figures", "Key figures", _keyfigures(table)),
        ("timeseries", "Time series", figs("timeseries") + ts_note + _timeseries_table(table)),
        ("maps", "Maps", (figs("maps") or "<p>No maps in figures/.</p>") + webmap_note),
        ("sites", "Sites", _sites_table(sites) + figs("sites")),
    ]
    event_html = _events_section(user_events, tracked)
    if event_html:
        sections.append(("events", "Events", event_html))
    sections += [
        ("methods", "Methods", _methods(manifest, scenes)),
        ("configuration", "Configuration", _config(manifest)),
        ("sources", "Data sources and credits", _credits(manifest)),
        ("limitations", "Limitations", _limitations(manifest)),
        ("provenance", "Provenance", _provenance(manifest)),
    ]
    footer = (f"Generated by minewatch {_e(manifest.get('minewatch_version', ''))} from "
              f"<span class=\"mono\">{_e(out.resolve().name)}</span>"
              + (f", analysis created {_e(manifest.get('created'))}" if manifest.get("created")
                 else "") + ". This file is self-contained: it loads nothing from the network.")
    page = _page(title, subtitle, sections, footer)
    with atomic_path(target) as tmp:
        tmp.write_text(page, encoding="utf-8")
        tmp.chmod(0o644)
    if pdf:
        print_pdf(target, target.with_suffix(".pdf"))
    return target


def _chromium() -> str:
    explicit = os.environ.get("MINEWATCH_CHROMIUM")
    if explicit:
        return explicit
    for name in _CHROMIUM:
        found = shutil.which(name)
        if found:
            return found
    raise MinewatchError("PDF: no Chromium found (looked for " + ", ".join(_CHROMIUM)
                         + " on PATH); install Debian's 'chromium' package (make system-deps) "
                         "or set MINEWATCH_CHROMIUM to the browser binary")


def print_pdf(html_path: str | PathLike[str], pdf_path: str | PathLike[str],
              timeout_s: float = 120.0) -> Path:
    """Print an HTML file to PDF (A4) with headless Chromium; written atomically.

    Parameters
    ----------
    html_path
        The page (e.g. the report).
    pdf_path
        The PDF to write.
    timeout_s
        Give up after this many seconds.

    Returns
    -------
    pathlib.Path
        ``pdf_path``.

    Raises
    ------
    minewatch.errors.MinewatchError
        No Chromium, or it failed or wrote no PDF.

    Examples
    --------
    Needs Chromium (not run as a doctest; ``tests/test_report.py`` runs it)::

        print_pdf("out/analysis/report.html", "out/analysis/report.pdf")
    """
    source = Path(html_path).resolve()
    target = Path(pdf_path)
    binary = _chromium()
    with tempfile.TemporaryDirectory(prefix="minewatch-pdf-") as profile, \
            atomic_path(target) as tmp:
        args = [binary, "--headless=new", "--disable-gpu", "--no-first-run",
                "--disable-extensions", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                f"--user-data-dir={profile}", "--no-pdf-header-footer",
                f"--print-to-pdf={tmp}", source.as_uri()]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            args.insert(1, "--no-sandbox")  # Chromium refuses root with the sandbox on
        try:
            done = subprocess.run(args, capture_output=True, text=True, timeout=timeout_s,
                                  check=False, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as error:
            raise MinewatchError(f"PDF: Chromium did not finish {source} within {timeout_s} s"
                                 ) from error
        if done.returncode != 0 or tmp.stat().st_size == 0:
            tail = (done.stderr or "").strip().splitlines()[-3:]
            raise MinewatchError(f"PDF: Chromium ({binary}) failed on {source} (exit "
                                 f"{done.returncode}): {' / '.join(tail)}")
        tmp.chmod(0o644)
    return target


# ``minewatch.report`` works as the function whichever was imported first (see _callable)
make_callable(__name__, report)
