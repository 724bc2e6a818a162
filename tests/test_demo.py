"""The README's commands and example run as documented on the shipped sample archive."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pandas as pd

from minewatch.demo import main

ROOT = Path(__file__).resolve().parents[1]


def test_demo_writes_the_layout_maps_report_and_quicklooks(tmp_path):
    import geopandas as gpd

    out = tmp_path / "out"
    assert main([str(ROOT / "sample_tiles"), str(out)]) == 0
    # the main sensor (most dates: Sentinel-2) in out/, the other in out/planetscope/
    for folder, sensor, n_dates in ((out, "sentinel2", 5), (out / "planetscope",
                                                             "planetscope", 4)):
        for name in ("scenes.csv", "pools.gpkg", "clearings.gpkg", "sites.gpkg",
                     "site_history.csv", "events.csv", "timeseries.csv", "manifest.json",
                     "report.html", "webmap.html", "figures/timeseries.png",
                     "figures/site_map.png", "figures/overview.png"):
            assert (folder / name).is_file(), f"{folder}/{name}"
        scenes = pd.read_csv(folder / "scenes.csv")
        assert len(scenes) == 9
        assert set(scenes.loc[scenes["status"] == "used", "sensor"]) == {sensor}
        series = pd.read_csv(folder / "timeseries.csv")
        assert len(series) == n_dates and (series["sites"] > 0).all()
        assert len(list((folder / "change").glob("*.tif"))) >= 1
        sites = gpd.read_file(folder / "sites.gpkg")
        assert len(sites) > 0 and sites.crs.to_epsg() == 32647
    pngs = sorted((out / "quicklooks").glob("*.png"))
    assert len(pngs) == 18  # 9 dates × (true colour, NDVI)
    for png in [*pngs, *sorted((out / "figures").glob("*.png"))]:
        image = mpimg.imread(png)
        assert image.shape[0] > 300 and image[..., :3].std() > 0.05, png.name  # not blank
    # no temporary files left behind by the atomic writes
    assert not [p for p in out.rglob(".*") if p.is_file()]


def test_demo_reports_a_bad_archive_in_one_line(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main([str(empty), str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("minewatch: error:") and "no usable scene" in err
    assert "Traceback" not in err


def test_readme_python_example_runs(monkeypatch):
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```python\n(.*?)```", text, re.S)
    assert block is not None
    monkeypatch.chdir(ROOT)
    namespace: dict = {}
    exec(compile(block.group(1), "README.md", "exec"), namespace)
    stack, greenness, tile = namespace["stack"], namespace["greenness"], namespace["tile"]
    assert stack.dims == ("time", "band", "y", "x") and stack.sizes["time"] == 5
    assert np.isfinite(greenness.values).all() and (greenness.values > 0.2).all()
    assert tile.attrs["sensor"] == "sentinel2" and tile.dims == ("band", "y", "x")
    assert namespace["pools"].crs == tile.rio.crs
    assert len(namespace["clearings"]) > 0


def test_detection_docs_example_runs():
    text = (ROOT / "docs" / "detection.md").read_text()
    block = re.search(r"```python\n(.*?)```", text, re.S)
    assert block is not None
    namespace: dict = {}
    exec(compile(block.group(1), "docs/detection.md", "exec"), namespace)
    assert len(namespace["pools"]) > 0 and len(namespace["clearings"]) > 0
