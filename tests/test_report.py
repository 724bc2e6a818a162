"""minewatch.report: the self-contained HTML report, opened in headless Chromium.

The page is loaded through the DevTools protocol (tests/browser.py): console messages,
exceptions, log entries and every network request are recorded by the browser itself, the
DOM is queried, and a full-page screenshot is checked for content.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import shutil
from html.parser import HTMLParser

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from PIL import Image

import minewatch.plot
from browser import Chromium
from layout_fixture import make_out_dir
from minewatch.errors import InputError, MinewatchWarning
from minewatch.report import report

EVIL = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'
EVENTS = [("2023-06-01", "KIO takes control of the mining area")]


def _distinct_hashes(out) -> list[str]:
    """Give every input of the fixture's manifest its own sha256 (the fixture uses zeros)."""
    manifest = json.loads((out / "manifest.json").read_text())
    for item in manifest["inputs"]:
        item["sha256"] = hashlib.sha256(item["path"].encode()).hexdigest()
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return [i["sha256"] for i in manifest["inputs"]]


@pytest.fixture(scope="module")
def browser():
    with Chromium() as chromium:
        yield chromium


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    out = make_out_dir(tmp_path_factory.mktemp("report") / "analysis")
    hashes = _distinct_hashes(out)
    path = report(out, events=EVENTS)
    return out, path, hashes


@pytest.fixture(scope="module")
def page(browser, made):
    return browser.load(made[1])


# --- the file ----------------------------------------------------------------------------------

class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def test_one_file_with_everything_inline(made):
    out, path, _ = made
    assert path == out / "report.html"
    text = path.read_text(encoding="utf-8")
    parser = _Tags()
    parser.feed(text)
    tags = parser.tags
    images = [a for t, a in tags if t == "img"]
    pngs = sorted((out / "figures").glob("*.png"))
    assert len(pngs) == 5  # write_figures was called: there was no figures/ folder
    assert len(images) == len(pngs)
    for attrs in images:
        assert attrs["src"].startswith("data:image/png;base64,")
        Image.open(io.BytesIO(base64.b64decode(attrs["src"].split(",", 1)[1]))).verify()
    assert not [a for t, a in tags if t == "link"]
    assert not [a for t, a in tags if t == "script" and "src" in a]
    csp = [a["content"] for t, a in tags if t == "meta"
           and a.get("http-equiv") == "Content-Security-Policy"]
    assert csp and "default-src 'none'" in csp[0] and "img-src data:" in csp[0]


# --- in the browser ----------------------------------------------------------------------------

def test_renders_without_errors_or_requests(page, made, tmp_path_factory):
    assert page.errors() == []
    assert page.external_requests() == []
    assert page.requests[0] == page.url
    images = page.evaluate("Array.from(document.images).map(i => [i.complete, i.naturalWidth,"
                           " i.getBoundingClientRect().width])")
    assert len(images) == 5
    assert all(done and natural > 0 and shown > 100 for done, natural, shown in images)
    assert page.evaluate("document.documentElement.classList.contains('js')")  # script ran

    shot = page.screenshot(tmp_path_factory.mktemp("shot") / "report.png")
    pixels = np.asarray(Image.open(shot).convert("RGB"), dtype=float)
    assert pixels.shape[1] == 1280 and pixels.shape[0] > 3000  # the whole page, not a viewport
    assert pixels.std() > 20  # not blank
    not_white = (pixels.min(axis=2) < 235).mean()
    assert 0.05 < not_white < 0.9
    # the figures are in the picture: many colours, not only text on white
    assert len(np.unique(pixels[::4, ::4].reshape(-1, 3), axis=0)) > 1000


def test_key_figures_equal_last_row(page, made):
    out, _, _ = made
    last = pd.read_csv(out / "timeseries.csv").iloc[-1]
    cards = page.evaluate(
        "Object.fromEntries(Array.from(document.querySelectorAll('.keyfigure')).map(c => "
        "[c.dataset.key, [c.dataset.value, c.dataset.low || null, c.dataset.high || null,"
        " c.innerText]]))")
    for key in ("sites", "pools", "cleared_area_m2"):
        value, low, high, _ = cards[key]
        assert float(value) == pytest.approx(last[key])
        assert float(low) == pytest.approx(last[f"{key}_low"])
        assert float(high) == pytest.approx(last[f"{key}_high"])
    assert "3" in cards["sites"][3] and "2–3" in cards["sites"][3]
    assert f"{last['cleared_area_m2'] / 1e4:.1f}" in cards["cleared_area_m2"][3]  # 26.8 ha
    assert f"{last['cleared_area_m2_low'] / 1e4:.1f}" in cards["cleared_area_m2"][3]
    assert float(cards["new_sites"][0]) == last["new_sites"]
    # the last date is fully observed: no flag there; the cloudy date is flagged in the table
    assert page.evaluate("document.getElementById('partly-unobserved')") is None
    rows = page.evaluate("Array.from(document.querySelectorAll('#timeseries-table tbody tr'))"
                         ".map(r => [r.className, r.cells[0].textContent])")
    assert [d for cls, d in rows if cls == "partly"] == ["2023-01-18"]


def test_site_table_one_row_per_site_and_sorts(page, made):
    out, _, _ = made
    sites = gpd.read_file(out / "sites.gpkg")
    rows = page.evaluate("Array.from(document.querySelectorAll('#sites-table tbody tr'))"
                         ".map(r => Array.from(r.cells).map(c => c.textContent.trim()))")
    assert sorted(r[0] for r in rows) == sorted(sites["site_id"])
    by_id = {r[0]: r for r in rows}
    for _, site in sites.iterrows():
        row = by_id[site["site_id"]]
        assert row[1] == f"{pd.Timestamp(site['first_seen']):%Y-%m-%d}"
        assert row[3] == str(site["n_pools_max"])
        assert row[4] == f"{round(site['area_m2_max']):,}"
        assert row[5].startswith(site["status_last"])
        assert float(row[6]) == pytest.approx(site["lon"], abs=1e-5)
        assert float(row[7]) == pytest.approx(site["lat"], abs=1e-5)
    order = ("Array.from(document.querySelectorAll('#sites-table tbody tr'))"
             ".map(r => Number(r.cells[3].textContent))")
    page.evaluate("document.querySelectorAll('#sites-table th button')[3].click()")
    assert page.evaluate(order) == sorted(sites["n_pools_max"])
    page.evaluate("document.querySelectorAll('#sites-table th button')[3].click()")
    assert page.evaluate(order) == sorted(sites["n_pools_max"], reverse=True)


def test_provenance_lists_every_input_hash(page, made):
    _, _, hashes = made
    text = page.evaluate("document.getElementById('inputs-table').innerText")
    for sha in hashes:
        assert sha in text
    body = page.evaluate("document.body.innerText")
    for words in ("Copernicus Sentinel data 2021–2024", "Natural Earth", "0.84 (100–200 m²)",
                  "KIO takes control of the mining area", "Methods", "preset_name"):
        assert words in body
    current = page.evaluate("document.querySelector('#limitations-table tr.current')"
                            ".dataset.res")
    assert current == "10"  # the fixture is 10 m Sentinel-2


def test_partly_unobserved_last_date_is_flagged(browser, made, tmp_path):
    out = tmp_path / "cloudy"
    shutil.copytree(made[0], out)
    table = pd.read_csv(out / "timeseries.csv")
    table.loc[table.index[-1], ["valid_fraction", "sites_unobserved"]] = [0.6, 1]
    table.to_csv(out / "timeseries.csv", index=False)
    page = browser.load(report(out))
    assert page.errors() == [] and page.external_requests() == []
    assert "Partly unobserved" in page.evaluate(
        "document.getElementById('partly-unobserved').innerText")
    sites_card = page.evaluate("document.querySelector('.keyfigure[data-key=sites]').className")
    assert "partly" in sites_card


def test_text_is_escaped_and_injected_markup_does_not_run(browser, made, tmp_path):
    out = tmp_path / "evil"
    shutil.copytree(made[0], out)
    sites = gpd.read_file(out / "sites.gpkg")
    sites.loc[sites["site_id"] == "S0001", "site_id"] = EVIL
    sites.to_file(out / "sites.gpkg", layer="sites")
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["archive"] = EVIL
    manifest["config"]["note"] = EVIL
    (out / "manifest.json").write_text(json.dumps(manifest))
    path = report(out, title=f"Title {EVIL}", events=[("2024-01-01", EVIL)])
    page = browser.load(path)
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.errors() == []  # an injected element would have hit the CSP: logged
    assert page.external_requests() == []  # an injected <img src=x> would have been fetched
    assert page.evaluate("document.title") == f"Title {EVIL}"
    cells = page.evaluate("Array.from(document.querySelectorAll('#sites-table tbody tr'))"
                          ".map(r => r.cells[0].textContent)")
    assert EVIL in cells
    assert page.evaluate("document.querySelectorAll('img:not([src^=\"data:\"])').length") == 0
    assert page.evaluate("document.querySelectorAll('script').length") == 1


def test_the_harness_sees_requests_and_console_errors(browser, tmp_path):
    # the checks above can fail: a page that fetches and logs is caught
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><html><body><img src="http://127.0.0.1:9/x.png">'
                   '<script>console.error("boom"); undefined_function();</script></body></html>')
    page = browser.load(bad, settle=0.5)
    assert "http://127.0.0.1:9/x.png" in page.external_requests()
    errors = "\n".join(page.errors())
    assert "boom" in errors and "undefined_function" in errors


# --- without the plot stage, PDF, errors --------------------------------------------------------

def test_falls_back_to_a_plain_time_series(made, tmp_path, monkeypatch):
    out = tmp_path / "noplot"
    shutil.copytree(made[0], out)
    shutil.rmtree(out / "figures")
    monkeypatch.delattr(minewatch.plot, "write_figures")
    text = report(out).read_text()
    assert not (out / "figures").exists()
    figures = re.findall(r'data-figure="([^"]+)"><img src="data:image/png;base64,([^"]+)"', text)
    assert [name for name, _ in figures] == ["timeseries"]
    image = Image.open(io.BytesIO(base64.b64decode(figures[0][1])))
    assert image.size[0] > 500 and np.asarray(image.convert("L")).std() > 10


def test_warns_and_falls_back_when_figures_fail(made, tmp_path, monkeypatch):
    out = tmp_path / "plotfails"
    shutil.copytree(made[0], out)
    shutil.rmtree(out / "figures")

    def broken(*args, **kwargs):
        raise RuntimeError("no fonts today")

    monkeypatch.setattr(minewatch.plot, "write_figures", broken)
    with pytest.warns(MinewatchWarning, match="no fonts today"):
        text = report(out, path=tmp_path / "elsewhere" / "r.html").read_text()
    assert text.count("<img ") == 1


def test_pdf(made, tmp_path):
    path = report(made[0], path=tmp_path / "report.html", pdf=True)
    pdf = path.with_suffix(".pdf").read_bytes()
    assert pdf.startswith(b"%PDF-")
    assert len(re.findall(rb"/Type\s*/Page\b", pdf)) >= 3  # A4 pages, figures included
    assert len(pdf) > 200_000


def test_errors(tmp_path, made):
    with pytest.raises(InputError, match="no such folder"):
        report(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="not a minewatch output folder"):
        report(tmp_path / "empty")
    with pytest.raises(InputError, match="not a date"):
        report(made[0], path=tmp_path / "r.html", events=[("someday", "x")])
    with pytest.raises(InputError, match=r"\(date, text\) pair"):
        report(made[0], path=tmp_path / "r.html", events=["2024-01-01"])
    assert not (tmp_path / "r.html").exists()


def test_key_figures_sum_regions(made, tmp_path):
    out = tmp_path / "regions"
    shutil.copytree(made[0], out)
    table = pd.read_csv(out / "timeseries.csv")
    east = table.copy()
    east["region"] = "Chipwi"
    west = table.copy()
    west["region"] = "Pang War"
    for column in ("sites", "pools", "cleared_area_m2", "sites_low", "sites_high"):
        west[column] = west[column] * 2
    pd.concat([east, west]).to_csv(out / "timeseries.csv", index=False)
    parser = _Tags()
    parser.feed(report(out).read_text())
    cards = {a["data-key"]: a for t, a in parser.tags if "data-key" in a}
    last = table.iloc[-1]
    assert float(cards["sites"]["data-value"]) == 3 * last["sites"]
    assert float(cards["sites"]["data-high"]) == 3 * last["sites_high"]
    assert float(cards["pools"]["data-value"]) == 3 * last["pools"]
    assert float(cards["cleared_area_m2"]["data-value"]) == pytest.approx(
        3 * last["cleared_area_m2"])


def test_no_sites(browser, made, tmp_path):
    out = tmp_path / "nosites"
    shutil.copytree(made[0], out)
    sites = gpd.read_file(out / "sites.gpkg")
    sites.iloc[:0].to_file(out / "sites.gpkg", layer="sites")
    page = browser.load(report(out))
    assert page.errors() == [] and page.external_requests() == []
    assert "No sites were detected." in page.evaluate(
        "document.getElementById('sites').innerText")


def test_manifest_as_analyze_writes_it(made, tmp_path):
    # analyze records outputs with their hashes, the tracking config and notes
    out = tmp_path / "full"
    shutil.copytree(made[0], out)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["outputs"] = [{"path": p, "sha256": hashlib.sha256(p.encode()).hexdigest(),
                            "bytes": 10} for p in manifest["outputs"]]
    manifest["site_config"] = {"linking_distance_m": 120.0, "min_persistence_dates": 2}
    manifest["grid"] = {"width": 200, "height": 200}
    manifest["notes"] = ["4 of 4 dates detected in this run."]
    (out / "manifest.json").write_text(json.dumps(manifest))
    text = report(out).read_text()
    for item in manifest["outputs"]:
        assert item["sha256"] in text and f">{item['path']}<" in text
    assert "within 120 m of each other" in text
    assert "min_persistence_dates" in text and "4 of 4 dates detected in this run." in text
    assert "{&#x27;path&#x27;" not in text  # no dict reprs
