"""The README's commands and example run as documented on the shipped sample archive."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pandas as pd

from minewatch.demo import main

ROOT = Path(__file__).resolve().parents[1]


def test_demo_writes_scenes_table_and_quicklooks(tmp_path):
    out = tmp_path / "out"
    assert main([str(ROOT / "sample_tiles"), str(out)]) == 0
    scenes = pd.read_csv(out / "scenes.csv")
    assert len(scenes) == 9
    assert set(scenes["sensor"]) == {"sentinel2", "planetscope"}
    pngs = sorted((out / "quicklooks").glob("*.png"))
    assert len(pngs) == 18  # 9 dates × (true colour, NDVI)
    for png in pngs:
        image = mpimg.imread(png)
        assert image.shape[0] > 300 and image[..., :3].std() > 0.05, png.name  # not blank
    # pools per date, clearings from the second date on (they need a baseline)
    import geopandas as gpd

    pools = sorted((out / "detections").glob("*_pools.gpkg"))
    clearings = sorted((out / "detections").glob("*_clearings.gpkg"))
    assert len(pools) == 9 and len(clearings) == 7
    found = gpd.read_file(next(p for p in pools if "planetscope_2024" in p.name))
    assert len(found) > 5 and found.crs.to_epsg() == 32647
    assert {"area_m2", "confidence"} <= set(found.columns)
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
