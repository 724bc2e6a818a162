"""minewatch.webmap: the interactive map, rendered offline in headless Chromium."""

from __future__ import annotations

import shutil

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from browser import Chromium
from layout_fixture import make_out_dir
from minewatch.errors import InputError
from minewatch.webmap import web_map

EVIL = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'

# The Leaflet map object and every site layer (polygon or centre marker) with a feature.
_LAYERS = """(() => {
  const map = Object.keys(window).filter(k => k.startsWith('map_'))
      .map(k => window[k]).find(v => v && typeof v.eachLayer === 'function');
  const found = [];
  map.eachLayer(l => { if (l.feature && l.feature.properties.site_id !== undefined
                           && l.getPopup && l.getPopup()) found.push(l); });
  window.__map = map; window.__sites = found;
  return found.length;
})()"""


@pytest.fixture(scope="module")
def browser():
    with Chromium() as chromium:
        yield chromium


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    out = make_out_dir(tmp_path_factory.mktemp("webmap") / "analysis")
    return out, web_map(out)


@pytest.fixture(scope="module")
def page(browser, made):
    page = browser.load(made[1])
    page.evaluate(_LAYERS)
    return page


def _popup_text(page, site_id: str) -> str:
    return page.evaluate(f"""(() => {{
      const layer = window.__sites.find(l => l.feature.properties.site_id === {site_id!r}
                                             && l.feature.geometry.type === 'Polygon');
      layer.openPopup();
      return layer.getPopup().getElement().querySelector('.leaflet-popup-content').innerText;
    }})()""")


def test_written_self_contained(made):
    out, path = made
    assert path == out / "webmap.html"
    text = path.read_text()
    assert "cdn.jsdelivr" not in text and "code.jquery" not in text  # folium's CDN links gone
    assert 'script src=' not in text.replace(" ", "") and "<link" not in text
    assert "Content-Security-Policy" in text and "img-src data:;" in text
    assert 't.version="1.9.3"' in text  # Leaflet inlined


def test_renders_offline_without_errors(page, tmp_path):
    assert page.errors() == []
    assert page.external_requests() == []
    assert page.evaluate("typeof L") == "object"
    # polygons and markers drawn as SVG paths, in the map's pane
    assert page.evaluate("document.querySelectorAll('path.leaflet-interactive').length") >= 6
    shot = np.asarray(Image.open(page.screenshot(tmp_path / "map.png")).convert("RGB"),
                      dtype=float)
    assert shot.std() > 5
    assert len(np.unique(shot[::2, ::2].reshape(-1, 3), axis=0)) > 20


def test_each_site_once_and_one_layer_per_year(page, made):
    out, _ = made
    sites = gpd.read_file(out / "sites.gpkg")
    ids = page.evaluate("window.__sites.map(l => l.feature.properties.site_id)")
    assert sorted(set(ids)) == sorted(sites["site_id"])
    assert len(ids) == 2 * len(sites)  # a polygon and a centre marker per site
    labels = page.evaluate("Array.from(document.querySelectorAll("
                           "'.leaflet-control-layers-overlays label')).map(l => l.innerText"
                           ".trim())")
    years = sorted({pd.Timestamp(d).year for d in sites["first_seen"]})
    per_year = [label for label in labels if label.startswith("First seen")]
    assert per_year == [f"First seen {y} (1 site)" for y in years]
    # switching a year off removes exactly that year's sites from the map
    page.evaluate("""(() => { const label = Array.from(document.querySelectorAll(
        '.leaflet-control-layers-overlays label')).find(l => l.innerText.includes('2022'));
        label.querySelector('input').click(); })()""")
    shown = page.evaluate("window.__sites.filter(l => window.__map.hasLayer(l))"
                          ".map(l => l.feature.properties.site_id)")
    assert sorted(set(shown)) == ["S0001", "S0003"]
    page.evaluate("""Array.from(document.querySelectorAll('.leaflet-control-layers-overlays'
        + ' label')).find(l => l.innerText.includes('2022')).querySelector('input').click()""")


def test_popups_hold_the_history(page, made):
    out, _ = made
    history = pd.read_csv(out / "site_history.csv", dtype={"site_id": str})
    for site_id, rows in history.groupby("site_id"):
        text = _popup_text(page, site_id)
        assert f"Site {site_id}" in text
        first = rows["date"].min()
        assert f"First seen {first}" in text
        lines = [line for line in text.splitlines() if line[:4].isdigit()]
        assert len(lines) == len(rows)  # one table row per date from first seen on
        for (_, row), line in zip(rows.sort_values("date").iterrows(), lines, strict=True):
            cells = line.split("\t")
            assert cells[0] == row["date"]
            if row["status"] == "unobserved":
                assert cells[1].startswith("not observed") and cells[2] == "–"
            else:
                assert cells[1] == row["status"] and cells[2] == str(row["n_pools"])
    assert page.errors() == []


def test_text_is_escaped(browser, made, tmp_path):
    out = tmp_path / "evil"
    shutil.copytree(made[0], out)
    sites = gpd.read_file(out / "sites.gpkg")
    sites.loc[sites["site_id"] == "S0002", "site_id"] = EVIL
    sites.to_file(out / "sites.gpkg", layer="sites")
    history = pd.read_csv(out / "site_history.csv")
    history.loc[history["site_id"] == "S0002", "site_id"] = EVIL
    history.to_csv(out / "site_history.csv", index=False)
    page = browser.load(web_map(out, title=EVIL))
    page.evaluate(_LAYERS)
    text = _popup_text(page, EVIL)
    assert f"Site {EVIL}" in text and "not observed" in text
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.errors() == [] and page.external_requests() == []
    assert EVIL in page.evaluate("document.querySelector('.mw-title').innerText")


def test_no_sites(browser, made, tmp_path):
    out = tmp_path / "empty"
    shutil.copytree(made[0], out)
    sites = gpd.read_file(out / "sites.gpkg")
    sites.iloc[:0].to_file(out / "sites.gpkg", layer="sites")
    page = browser.load(web_map(out))
    assert page.errors() == [] and page.external_requests() == []
    assert "No sites detected" in page.evaluate("document.querySelector('.mw-title').innerText")


def test_basemap(browser, made, tmp_path):
    text = web_map(made[0], path=tmp_path / "osm.html", basemap="OpenStreetMap").read_text()
    assert "tile.openstreetmap.org" in text and "img-src data: http: https:" in text
    # a tile server on a closed loopback port: the tiles are the only requests the map makes
    url = "http://127.0.0.1:9/{z}/{x}/{y}.png"
    page = browser.load(web_map(made[0], path=tmp_path / "own.html", basemap=url,
                                attribution="© Example <tiles>"), settle=0.5)
    requests = page.external_requests()
    assert requests and all(u.startswith("http://127.0.0.1:9/") for u in requests)
    assert "© Example <tiles>" in page.evaluate(
        "document.querySelector('.leaflet-control-attribution').innerText")
    assert not [e for e in page.errors() if "127.0.0.1:9" not in e]
    with pytest.raises(InputError, match="attribution"):
        web_map(made[0], path=tmp_path / "x.html", basemap=url)


def test_errors(tmp_path):
    with pytest.raises(InputError, match="no such folder"):
        web_map(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"no sites\.gpkg"):
        web_map(tmp_path / "empty")
