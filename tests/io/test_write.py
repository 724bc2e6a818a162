"""Atomic writes: a failure inside the block leaves neither the target nor a temporary file."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point

from minewatch.io.write import atomic_path, write_table


def test_atomic_path_renames_on_success(tmp_path):
    target = tmp_path / "sub" / "out.txt"
    with atomic_path(target) as tmp:
        assert tmp.parent == target.parent and tmp != target
        tmp.write_text("done")
        assert not target.exists()
    assert target.read_text() == "done"
    assert [p.name for p in target.parent.iterdir()] == ["out.txt"]


def test_atomic_path_leaves_nothing_on_failure_and_keeps_old_file(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("previous result")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash mid-write")
    assert target.read_text() == "previous result"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_write_table_drops_objects_and_writes_wkt(tmp_path, suffix):
    frame = gpd.GeoDataFrame(
        {"scene_id": ["a", "b"], "cloud_fraction": [0.1, 0.5], "scene": [object(), object()]},
        geometry=[Point(98.3, 25.7), Point(98.4, 25.8)], crs=4326,
    )
    path = write_table(frame, tmp_path / f"scenes{suffix}")
    back = pd.read_csv(path) if suffix == ".csv" else pd.read_parquet(path)
    assert list(back.columns) == ["scene_id", "cloud_fraction", "geometry"]
    assert back["geometry"][0] == "POINT (98.3 25.7)"


def test_outputs_get_the_usual_permissions(tmp_path) -> None:
    import os
    import stat

    from minewatch.io.write import atomic_path

    target = tmp_path / "table.csv"
    with atomic_path(target) as tmp:
        tmp.write_text("a\n1\n")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask
