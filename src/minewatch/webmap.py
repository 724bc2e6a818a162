"""The interactive web map of an analysis folder: one self-contained HTML file (Leaflet).

Sites are drawn as polygons (EPSG:4326) with a marker at each centre, one layer per year first
seen (a layer control switches them), and a popup per site with its history: first and last
seen, and a small table of status, pools and cleared area per date. Basemap tiles are optional;
with ``basemap=None`` the map loads nothing from the network: Leaflet 1.9.3's JavaScript and CSS
are inlined from the package (``minewatch/data/report_leaflet.*``, BSD-2-Clause), folium's
CDN links (jQuery, Bootstrap, Font Awesome) are dropped, and a Content-Security-Policy in the
page forbids every other request. See docs/report.md.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from importlib import resources
from os import PathLike
from pathlib import Path

import geopandas as gpd
import pandas as pd

from minewatch.errors import InputError
from minewatch.io.layout import read_layer, read_table
from minewatch.io.write import atomic_path

__all__ = ["web_map"]

#: Where the map opens when there is nothing to fit (Pang War, Kachin State).
_DEFAULT_CENTRE = (25.86, 98.28)
_NATURAL_EARTH = "naturalearth_110m_region.gpkg"

_POPUP_CSS = """
.mw-popup { font: 13px/1.35 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
.mw-popup h4 { margin: 0 0 4px; font-size: 15px; }
.mw-popup p { margin: 0 0 6px; }
.mw-popup table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
.mw-popup th, .mw-popup td { padding: 1px 6px; border-bottom: 1px solid #ddd; text-align: right; }
.mw-popup th:first-child, .mw-popup td:first-child,
.mw-popup th:nth-child(2), .mw-popup td:nth-child(2) { text-align: left; }
.mw-popup tr.unobserved td { color: #777; font-style: italic; }
.mw-popup td:first-child { white-space: nowrap; }
.mw-swatch { display: inline-block; width: 12px; height: 12px; margin-right: 4px;
             vertical-align: -1px; border: 1px solid #333; }
.mw-title { position: absolute; top: 10px; left: 54px; z-index: 1000; max-width: 60%;
            background: rgba(255,255,255,0.92); padding: 6px 10px; border-radius: 4px;
            box-shadow: 0 1px 4px rgba(0,0,0,0.3);
            font: 14px/1.3 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
.mw-title b { font-size: 15px; }
.leaflet-container { background: #f4f1ea; }
.leaflet-control-scale-line { font-size: 11px; line-height: 1.3; }
"""

_ON_EACH_FEATURE = """function(feature, layer) {
    layer.bindPopup(feature.properties.popup, {maxWidth: 420});
    layer.bindTooltip(feature.properties.tooltip, {sticky: true});
}"""


def _e(value: object) -> str:
    """HTML-escaped text of a value (quotes too)."""
    return html.escape("" if value is None else str(value), quote=True)


def _date(value: object) -> str:
    stamp = pd.to_datetime(value, errors="coerce")
    return "" if pd.isna(stamp) else f"{stamp:%Y-%m-%d}"


def _hex(rgba: tuple[float, ...]) -> str:
    return "#" + "".join(f"{round(255 * c):02x}" for c in rgba[:3])


def _year_colours(years: list[int]) -> dict[int, str]:
    try:
        from minewatch.plot import year_colours
    except ImportError:  # the plot stage is optional for the map
        palette = ["#440154", "#3b528b", "#21918c", "#5ec962", "#fde725", "#e69f00"]
        return {y: palette[i % len(palette)] for i, y in enumerate(sorted(set(years)))}
    return {y: _hex(c) for y, c in year_colours(years).items()}


def _data_file(name: str) -> str:
    return resources.files("minewatch").joinpath("data", name).read_text(encoding="utf-8")


def _popup(site: pd.Series, history: pd.DataFrame | None) -> str:
    """The popup HTML of one site (every value escaped)."""
    area = site.get("area_m2_max")
    area_txt = f"{float(area) / 1e4:,.1f} ha" if pd.notna(area) else "–"
    pools_max = site.get("n_pools_max")
    pools_txt = f"{int(pools_max)}" if pd.notna(pools_max) else "–"
    parts = [
        '<div class="mw-popup">',
        f"<h4>Site {_e(site['site_id'])}</h4>",
        f"<p>First seen <b>{_e(_date(site.get('first_seen')))}</b>, last seen "
        f"{_e(_date(site.get('last_seen')))}<br>",
        f"Status on the last date: {_e(site.get('status_last', '–'))}<br>",
        f"Most pools on one date: {_e(pools_txt)}; largest area: {_e(area_txt)}",
    ]
    if bool(site.get("provisional", False)):
        parts.append("<br><i>Provisional: seen on one date only so far.</i>")
    parts.append("</p>")
    if history is not None and not history.empty:
        parts.append("<table><thead><tr><th>Date</th><th>Status</th><th>Pools</th>"
                     "<th>Cleared (ha)</th></tr></thead><tbody>")
        for _, row in history.sort_values("date").iterrows():
            status = str(row.get("status", ""))
            unobserved = status == "unobserved"
            pools = "–" if unobserved else f"{int(row.get('n_pools', 0))}"
            cleared = row.get("cleared_area_m2")
            cleared_txt = ("–" if unobserved or pd.isna(cleared)
                           else f"{float(cleared) / 1e4:,.2f}")
            label = "not observed (cloud / no data)" if unobserved else status
            parts.append(f'<tr class="{"unobserved" if unobserved else "seen"}">'
                         f"<td>{_e(_date(row['date']))}</td><td>{_e(label)}</td>"
                         f"<td>{_e(pools)}</td><td>{_e(cleared_txt)}</td></tr>")
        parts.append("</tbody></table>")
    parts.append("</div>")
    return "".join(parts)


def _read_sites(out: Path) -> gpd.GeoDataFrame:
    path = out / "sites.gpkg"
    sites = read_layer(path)
    if sites is None:
        raise InputError(f"{out}: no sites.gpkg; is this an output folder of "
                         "minewatch.analyze (minewatch run)?")
    if "site_id" not in sites.columns:
        raise InputError(f"{path}: no site_id column; write it with minewatch.analyze")
    if sites.crs is None:
        raise InputError(f"{path}: no CRS on the site geometries; the output folder is damaged, "
                         "re-run minewatch.analyze")
    return sites.to_crs(4326)


def _read_history(out: Path) -> pd.DataFrame | None:
    return read_table(out / "site_history.csv")


def _csp(page: str, basemap: bool) -> str:
    """A Content-Security-Policy that allows this page's own inline scripts and nothing else."""
    hashes = []
    for body in re.findall(r"<script>(.*?)</script>", page, flags=re.S):
        digest = base64.b64encode(hashlib.sha256(body.encode("utf-8")).digest()).decode()
        hashes.append(f"'sha256-{digest}'")
    images = "data: http: https:" if basemap else "data:"
    return (f"default-src 'none'; script-src {' '.join(sorted(set(hashes)))}; "
            f"style-src 'unsafe-inline'; img-src {images}; base-uri 'none'; form-action 'none'")


def web_map(out_dir: str | PathLike[str], path: str | PathLike[str] | None = None,
            basemap: str | None = None, *, attribution: str | None = None,
            title: str | None = None) -> Path:
    """Write the interactive web map of an analysis folder as one HTML file.

    Reads ``sites.gpkg`` (and ``site_history.csv``, ``manifest.json`` when present) from the
    layout ``minewatch.analyze`` writes. Each site is a polygon in EPSG:4326 plus a marker at
    its centre (so that small sites stay clickable when zoomed out), coloured by the year it
    was first seen; each year is one layer in the layer control. A site's popup shows its
    first and last dates, its status on the last date, its largest pool count and area, and
    its history per date (status, pools, cleared area in hectares; dates when it was not
    observed are marked as such, not as zero). All text is HTML-escaped.

    Parameters
    ----------
    out_dir
        The analysis output folder.
    path
        The HTML file to write (default ``out_dir/webmap.html``); written atomically.
    basemap
        ``None`` (default): no tiles, no network request at all (the map works offline; a
        layer of Natural Earth 1:110m country borders can be switched on for context).
        Otherwise a folium tile name such as ``"OpenStreetMap"`` or ``"CartoDB positron"``, or
        a URL template
        (``"https://.../{z}/{x}/{y}.png"``, then give ``attribution``); the tiles are loaded
        from their server when the map is viewed.
    attribution
        Attribution of a URL-template basemap (required for one; folium names carry theirs).
    title
        A title shown over the map (default: from the manifest's archive and dates).

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    minewatch.errors.InputError
        ``out_dir`` has no ``sites.gpkg`` (not an analysis folder), the sites have no CRS, or a
        URL-template basemap has no ``attribution``.

    Examples
    --------
    An analysis folder written by :func:`minewatch.analyze` (not run as a doctest: it needs
    one; ``tests/test_webmap.py`` runs it)::

        web_map("out/analysis")                              # offline, no basemap
        web_map("out/analysis", basemap="OpenStreetMap")     # with background tiles
    """
    import folium
    from folium.utilities import JsCode

    out = Path(out_dir)
    if not out.is_dir():
        raise InputError(f"{out}: no such folder; give the output folder of minewatch.analyze")
    target = Path(path) if path is not None else out / "webmap.html"
    if basemap is not None and "{" in basemap and not attribution:
        raise InputError(f"basemap={basemap!r}: a tile URL template needs attribution= "
                         "(the credit line its provider asks for)")
    sites = _read_sites(out)
    history = _read_history(out)
    manifest_path = out / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}

    fmap = folium.Map(location=list(_DEFAULT_CENTRE), zoom_start=11, tiles=None,
                      control_scale=True, prefer_canvas=False)
    # Offline: no CDN links (folium's defaults pull Leaflet, jQuery, Bootstrap, Font Awesome);
    # Leaflet is inlined below, the rest is not needed by what this map uses.
    fmap.default_js = []
    fmap.default_css = []
    root = fmap.get_root()
    root.header.add_child(folium.Element(f"<style>{_data_file('report_leaflet.css')}</style>"),
                          name="leaflet_css_inline")
    root.header.add_child(folium.Element(f"<script>{_data_file('report_leaflet.js')}</script>"),
                          name="leaflet_js_inline")
    root.header.add_child(folium.Element(f"<style>{_POPUP_CSS}</style>"), name="minewatch_css")

    if basemap is not None:
        if "{" in basemap:
            folium.TileLayer(basemap, attr=_e(attribution), name="Basemap").add_to(fmap)
        else:
            folium.TileLayer(basemap, name=_e(basemap)).add_to(fmap)

    borders = gpd.read_file(resources.files("minewatch").joinpath("data", _NATURAL_EARTH))
    folium.GeoJson(
        json.loads(borders[["name", "geometry"]].to_json()),
        name="Country borders (Natural Earth 1:110m: off by km, for zoomed-out context)",
        style_function=lambda _: {"color": "#666666", "weight": 1.5, "fill": False,
                                  "dashArray": "4 3"},
        interactive=False, show=False,  # a 1:110m line drawn over sites would mislead
    ).add_to(fmap)

    years = sorted({int(d.year) for d in sites.get("first_seen", pd.Series(dtype="datetime64[ns]"))
                    .dropna()})
    colours = _year_colours(years) if years else {}
    by_site = ({sid: h for sid, h in history.groupby("site_id")} if history is not None else {})
    for year in years:
        group = sites[sites["first_seen"].dt.year == year]
        features = []
        for _, site in group.iterrows():
            props = {
                "site_id": str(site["site_id"]),
                "popup": _popup(site, by_site.get(str(site["site_id"]))),
                "tooltip": (f"Site {_e(site['site_id'])} "
                            f"(first seen {_e(_date(site['first_seen']))})"),
            }
            geom = site.geometry
            if geom is not None and not geom.is_empty:
                features.append({"type": "Feature", "properties": props,
                                 "geometry": geom.__geo_interface__})
                centre = geom.representative_point()
                features.append({"type": "Feature", "properties": props,
                                 "geometry": centre.__geo_interface__})
        colour = colours[year]
        label = (f'<span class="mw-swatch" style="background:{colour}"></span>'
                 f"First seen {year} ({len(group)} site{'s' if len(group) != 1 else ''})")
        layer = folium.FeatureGroup(name=label, show=True)
        folium.GeoJson(
            {"type": "FeatureCollection", "features": features},
            style_function=lambda _, c=colour: {"color": c, "weight": 2, "fillColor": c,
                                                "fillOpacity": 0.35},
            highlight_function=lambda _: {"weight": 4, "fillOpacity": 0.6},
            marker=folium.CircleMarker(radius=5),
            on_each_feature=JsCode(_ON_EACH_FEATURE),
        ).add_to(layer)
        layer.add_to(fmap)

    if len(sites) and not sites.geometry.is_empty.all():
        west, south, east, north = sites.total_bounds
        pad = max(0.005, 0.1 * max(east - west, north - south))
        fmap.fit_bounds([[south - pad, west - pad], [north + pad, east + pad]])
    folium.LayerControl(collapsed=False).add_to(fmap)

    dates = manifest.get("dates") or []
    if title is None:
        archive = manifest.get("archive")
        place = (Path(archive.rstrip("/\\")).name if isinstance(archive, str) and archive
                 else out.resolve().name)
        span = f", {dates[0]} – {dates[-1]}" if dates else ""
        title = f"Mining sites: {place}{span}"
    summary = f"{len(sites)} site{'s' if len(sites) != 1 else ''}"
    if not len(sites):
        summary = "No sites detected"
    fmap.get_root().html.add_child(folium.Element(
        f'<div class="mw-title"><b>{_e(title)}</b><br>{_e(summary)}; click a site for its '
        "history</div>"))
    credit = _credit(manifest.get("sensor"), dates)
    attr = " | ".join(x for x in (credit, "Borders: Natural Earth", "minewatch") if x)
    _attribution(_e(attr)).add_to(fmap)

    page = _stable_ids(fmap.get_root().render())
    csp = _csp(page, basemap is not None)
    meta = f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
    charset = re.search(r"<meta[^>]*charset[^>]*>", page)
    if charset:
        page = page[:charset.end()] + "\n" + meta + page[charset.end():]
    else:
        page = page.replace("<head>", f"<head>\n{meta}", 1)
    with atomic_path(target) as tmp:
        tmp.write_text(page, encoding="utf-8")
        tmp.chmod(0o644)
    return target


def _stable_ids(page: str) -> str:
    """Replace folium's random element ids (uuid4 hex) by sequential ones, so the same
    analysis gives a byte-identical web map."""
    seen: dict[str, str] = {}

    def number(match: re.Match[str]) -> str:
        return seen.setdefault(match.group(0), f"{len(seen) + 1:032x}")

    return re.sub(r"(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])", number, page)


def _attribution(text: str):
    """A map child adding ``text`` (already escaped) to the attribution control."""
    from branca.element import MacroElement
    from folium.template import Template

    class _Attribution(MacroElement):
        _template = Template(
            "{% macro script(this, kwargs) %}"
            "{{ this._parent.get_name() }}.attributionControl.addAttribution("
            "{{ this.text|tojson }});"
            "{% endmacro %}")

        def __init__(self, text: str) -> None:
            super().__init__()
            self._name = "Attribution"
            self.text = text

    return _Attribution(text)


def _credit(sensor: str | None, dates: list) -> str:
    try:
        from minewatch.plot import data_credit
    except ImportError:
        return ""
    return data_credit(sensor, dates)
