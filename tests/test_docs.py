"""The documentation site builds with warnings as errors, has every page, an API reference
generated from the docstrings, and its code examples run."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import yaml
from rasterio.transform import from_origin
from shapely.geometry import box

import minewatch

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
#: Seconds the strict build may take.
BUILD_BUDGET_S = 30


def _nav_pages(nav) -> list[str]:
    pages = []
    for entry in nav:
        value = next(iter(entry.values())) if isinstance(entry, dict) else entry
        pages.extend(_nav_pages(value) if isinstance(value, list) else [value])
    return pages


def _config() -> dict:
    return yaml.safe_load((ROOT / "mkdocs.yml").read_text())


def _python_blocks(page: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", (DOCS / page).read_text(), flags=re.S)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    elapsed = time.perf_counter() - started
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"mkdocs build --strict failed:\n{log}"
    assert "WARNING" not in log, log
    assert elapsed < BUILD_BUDGET_S, f"docs build took {elapsed:.0f} s"
    return out


def test_strict_build_has_every_page(site):
    for page in ["index.html", "getting-started/index.html", "dataflow/index.html",
                 "sensors/index.html", "api/index.html", "cli/index.html",
                 "detection/index.html", "ingest/index.html", "sites/index.html",
                 "change/index.html", "timeseries/index.html", "maps/index.html",
                 "report/index.html", "search/search_index.json"]:
        assert (site / page).is_file(), page
    home = (site / "index.html").read_text()
    assert "rare-earth" in home and 'href="getting-started/' in home


def test_api_reference_is_generated_from_docstrings(site):
    api = (site / "api" / "index.html").read_text()
    # one anchor per documented object: the public functions of every stage
    for name in ["minewatch.pipeline.analyze", "minewatch.pipeline.verify",
                 "minewatch.io.open_tile", "minewatch.io.scan_archive",
                 "minewatch.io.load_stack", "minewatch.detect.detect_pools",
                 "minewatch.detect.detect_clearings", "minewatch.evaluate.evaluate",
                 "minewatch.sites.track_sites", "minewatch.change.change_map",
                 "minewatch.timeseries.site_timeseries", "minewatch.plot.plot_site_map",
                 "minewatch.plot.write_figures", "minewatch.report.report",
                 "minewatch.webmap.web_map", "minewatch.acquire.search",
                 "minewatch.config.DetectionConfig", "minewatch.errors.MinewatchError",
                 "minewatch.synth.generate_scenes"]:
        assert f'id="{name}"' in api, name
    # numpy sections are parsed into tables, not shown as raw text
    assert "Parameters:" in api or "<b>Parameters" in api or "Parameters</span>" in api
    assert "----------" not in api
    # Sphinx roles in docstrings (:func:`~x`) are stripped by tools/mkdocs_hooks.py
    assert ":func:" not in api and ":class:" not in api
    # the docstring text itself is there (analyze's summary line)
    assert "Run the whole analysis of an archive" in api


def test_every_page_is_in_the_nav():
    config = _config()
    assert config["theme"]["name"] in ("mkdocs", "readthedocs")  # no extra theme package
    nav = _nav_pages(config["nav"])
    pages = sorted(p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md"))
    missing = [p for p in pages if p not in nav]
    assert not missing, f"docs pages not in mkdocs.yml nav: {missing}"
    assert len(nav) == len(set(nav))


def test_getting_started_example_runs(monkeypatch):
    """The ten lines of Python on the getting-started page, as written, from the repo root."""
    block = _python_blocks("getting-started.md")[0]
    assert len(block.strip().splitlines()) <= 12
    monkeypatch.chdir(ROOT)
    namespace: dict = {}
    exec(compile(block, "getting-started.md", "exec"), namespace)
    assert namespace["greenness"].sizes["time"] == len(namespace["s2"])
    assert {"area_m2", "confidence", "geometry"} <= set(namespace["pools"].columns)
    assert "kind" in namespace["clearings"].columns


def test_bring_your_own_imagery_example_runs(tmp_path, monkeypatch):
    """sensors.md's `bands=` example on two 4-band uint16 GeoTIFFs no profile recognises."""
    folder = tmp_path / "myimg"
    folder.mkdir()
    rng = np.random.default_rng(0)
    transform = from_origin(435000, 2840000, 3, 3)  # UTM 47N, 3 m
    for day in ("20230301", "20240301"):
        with rasterio.open(folder / f"drone_{day}.tif", "w", driver="GTiff", width=80,
                           height=80, count=4, dtype="uint16", crs="EPSG:32647",
                           transform=transform, nodata=0) as dst:
            dst.write(rng.integers(300, 3000, (4, 80, 80), dtype="uint16"))
    with rasterio.open(folder / "drone_20230301.tif") as src:
        left, bottom, right, top = src.bounds
    gpd.GeoDataFrame(geometry=[box(left + 30, bottom + 30, right - 30, top - 30)],
                     crs="EPSG:32647").to_file(tmp_path / "aoi.geojson")
    block = next(b for b in _python_blocks("sensors.md") if "bands=" in b)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"minewatch": minewatch}
    exec(compile(block, "sensors.md", "exec"), namespace)
    assert namespace["tile"].attrs["sensor"] == "custom"
    assert list(namespace["tile"]["band"].values) == ["blue", "green", "red", "nir"]
    assert namespace["stack"].sizes["time"] == 2
    assert len(namespace["result"].timeseries) == 2
    assert (tmp_path / "results" / "timeseries.csv").is_file()
