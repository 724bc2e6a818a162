"""analyze() detects clearings from per-date layer files written once per date: the same
clearings as detect_clearings on the stack, and each scene read once."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from geopandas.testing import assert_geodataframe_equal

import minewatch
from minewatch import pipeline
from minewatch.config import DetectionConfig
from minewatch.detect import detect_clearings, first_bare_date
from minewatch.io import load_stack, scan_archive
from minewatch.synth import make_archive

DATES = ("2020-02-14", "2021-03-05", "2022-02-27", "2023-03-14", "2024-02-20")


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    root = tmp_path_factory.mktemp("layers")
    make_archive(root / "archive", seed=3, shape=(120, 120), dates=DATES,
                 clouds=(0.0, 0.2, 0.5, 0.0, 0.1))
    return load_stack(scan_archive(root / "archive")).compute()


@pytest.mark.parametrize("window", [0, 2])
def test_clearings_from_layer_files_equal_detect_clearings(stack, tmp_path, window):
    base = DetectionConfig.preset("sentinel2")
    cfg = dataclasses.replace(base, clearings=dataclasses.replace(base.clearings,
                                                                  window_dates=window))
    files = []
    for t in range(stack.sizes["time"]):
        path = tmp_path / f"layers-{t}.npy"
        pipeline._write_layers(stack.isel(time=t), cfg, path)
        files.append(path)
    info = {"bands": [str(b) for b in stack["band"].values], "y": stack["y"].values,
            "x": stack["x"].values, "crs": stack.rio.crs, "transform": stack.rio.transform()}
    n = stack.sizes["time"]
    found_any = False
    for t in range(1, n):
        lo, hi = (0, n) if window == 0 else (max(0, t - window), min(n, t + window + 1))
        got = pipeline._clearings_from_files(files[lo:hi], t - lo,
                                             {**info, "window": stack["time"].values[lo:hi]},
                                             cfg, None)
        want = detect_clearings(stack, cfg.clearings, date=t)
        assert_geodataframe_equal(got, want, check_like=False)
        found_any |= len(want) > 0
    assert found_any  # the comparison is not between empty frames
    # the first date's per-pixel first-seen index, as first_bare_date gives it
    first = pipeline._first_seen(stack, cfg, None, files)
    np.testing.assert_array_equal(first.values, first_bare_date(stack, cfg.clearings).values)


def test_analyze_reads_each_scene_once_for_detection(tmp_path, monkeypatch):
    """The layers are written by the pool task of each date, and nothing else computes the
    dask stack for detection: one compute of each date (the pools + layers task)."""
    make_archive(tmp_path / "a", seed=4, shape=(80, 80), dates=DATES[:4], clouds=False)
    calls = []
    real = pipeline._write_layers

    def counting(scene, cfg, path):
        calls.append(str(scene["time"].values))
        return real(scene, cfg, path)

    monkeypatch.setattr(pipeline, "_write_layers", counting)
    result = minewatch.analyze(tmp_path / "a", out_dir=tmp_path / "out", report=False)
    assert len(calls) == 4 and len(set(calls)) == 4
    assert len(result.clearings) > 0
    layers = sorted((tmp_path / "out" / "cache").rglob("layers-*.npy"))
    assert len(layers) == 4
    # a rerun reuses them (and every other cached product): nothing is recomputed
    calls.clear()
    minewatch.analyze(tmp_path / "a", out_dir=tmp_path / "out", report=False, overwrite=True)
    assert calls == []


def test_deleted_layers_are_rewritten_only_for_an_uncached_clearing(tmp_path, monkeypatch):
    make_archive(tmp_path / "a", seed=4, shape=(80, 80), dates=DATES, clouds=False)
    first = minewatch.analyze(tmp_path / "a", out_dir=tmp_path / "out", report=False)
    cache = tmp_path / "out" / "cache"
    for path in cache.rglob("layers-*.npy"):
        path.unlink()
    calls = []
    real = pipeline._write_layers
    monkeypatch.setattr(pipeline, "_write_layers",
                        lambda scene, cfg, path: (calls.append(path.parent.name),
                                                  real(scene, cfg, path)))
    # every clearing cached: nothing is re-detected
    minewatch.analyze(tmp_path / "a", out_dir=tmp_path / "out", report=False, overwrite=True)
    assert calls == []
    # one clearing gone: only the dates of its window are re-detected (window_dates=1 here)
    base = DetectionConfig.preset("sentinel2")
    cfg = dataclasses.replace(base, clearings=dataclasses.replace(base.clearings,
                                                                  window_dates=1))
    minewatch.analyze(tmp_path / "a", out_dir=tmp_path / "w1", report=False, config=cfg)
    for path in (tmp_path / "w1" / "cache").rglob("layers-*.npy"):
        path.unlink()
    (clearing,) = (tmp_path / "w1" / "cache" / DATES[2]).glob("clearings-*.parquet")
    clearing.unlink()
    calls.clear()
    again = minewatch.analyze(tmp_path / "a", out_dir=tmp_path / "w1", report=False,
                              config=cfg, overwrite=True)
    assert sorted(calls) == sorted(DATES[1:4])
    assert len(again.clearings) > 0 and len(first.clearings) > 0


@pytest.fixture
def small_blocks(monkeypatch):
    """The block path of large grids, on the small test grids: blocks of 48 × 56 px."""
    monkeypatch.setattr(pipeline, "_BLOCK_MIN_PIXELS", 1000)
    monkeypatch.setattr(pipeline, "_BLOCK", (48, 56))


def test_clearings_in_blocks_equal_detect_clearings(stack, tmp_path, small_blocks):
    """Large grids: layers written in bands of rows from the lazy stack, clearings and the
    first-seen index computed block by block from the files: the same as on the stack."""
    cfg = DetectionConfig.preset("sentinel2")
    lazy = stack.chunk({"time": 1, "band": -1, "y": 40, "x": 50})
    files = []
    for t in range(stack.sizes["time"]):
        path = tmp_path / f"layers-{t}.npy"
        pipeline._write_layers(lazy.isel(time=t), cfg, path)
        files.append(path)
        # written in bands of rows: the same file as from the date in memory
        whole = tmp_path / "whole" / f"layers-{t}.npy"
        whole.parent.mkdir(exist_ok=True)
        pipeline._write_layers(stack.isel(time=t), cfg, whole)
        np.testing.assert_array_equal(np.load(path), np.load(whole))
        np.testing.assert_array_equal(np.load(pipeline._sample_path(path)),
                                      np.load(pipeline._sample_path(whole)))
    info = pipeline._grid_info(stack, stack["time"].values)
    ix, _ = pipeline._indices_from_files(files, 1, info, cfg)
    assert ix.veg.chunks is not None  # really the block path
    found_any = False
    for t in range(1, stack.sizes["time"]):
        got = pipeline._clearings_from_files(files, t, info, cfg, None)
        want = detect_clearings(stack, cfg.clearings, date=t)
        assert_geodataframe_equal(got, want, check_like=False)
        found_any |= len(want) > 0
    assert found_any
    first = pipeline._first_seen(stack, cfg, None, files)
    np.testing.assert_array_equal(first.values, first_bare_date(stack, cfg.clearings).values)


def test_analyze_in_blocks_gives_the_same_outputs(tmp_path, monkeypatch):
    """A whole run on the block path writes the same tables as the in-memory path."""
    make_archive(tmp_path / "a", seed=4, shape=(100, 110), dates=DATES[:4],
                 clouds=(0.0, 0.3, 0.0, 0.1))
    whole = minewatch.analyze(tmp_path / "a", out_dir=tmp_path / "whole", report=False)
    monkeypatch.setattr(pipeline, "_BLOCK_MIN_PIXELS", 1000)
    monkeypatch.setattr(pipeline, "_BLOCK", (40, 64))
    blocks = minewatch.analyze(tmp_path / "a", out_dir=tmp_path / "blocks", report=False)
    assert len(whole.pools) > 0 and len(whole.clearings) > 0
    for name in ("pools.gpkg", "clearings.gpkg", "sites.gpkg", "site_history.csv",
                 "timeseries.csv"):
        assert ((tmp_path / "whole" / name).read_bytes()
                == (tmp_path / "blocks" / name).read_bytes()), name
    assert len(blocks.pools) == len(whole.pools)


def test_window_medians_give_the_shifts_of_the_joined_samples(stack, tmp_path):
    """The per-date shifts from each date's sample in turn equal those of the window's
    samples joined (what the clearing tasks took before: 1 byte per pixel and date)."""
    from minewatch.detect._clearing_pixels import date_shifts, shifts_from_medians

    cfg = DetectionConfig.preset("sentinel2")
    files = []
    for t in range(stack.sizes["time"]):
        path = tmp_path / f"layers-{t}.npy"
        pipeline._write_layers(stack.isel(time=t), cfg, path)
        files.append(path)
    joined = np.concatenate([np.load(pipeline._sample_path(f)) for f in files], axis=1)
    want = date_shifts(joined, cfg.clearings)
    got = shifts_from_medians(pipeline._window_medians(files, cfg), cfg.clearings)
    for a, b in zip(got, want, strict=True):
        np.testing.assert_array_equal(a, b)


def test_dask_view_does_not_copy():
    """In-memory grids handed to dask are not copied (dask.array.from_array copies)."""
    from minewatch.detect.vectorize import dask_view

    data = np.arange(24, dtype=np.int32).reshape(4, 6)
    view = dask_view(data, (2, 3))
    assert view.chunks == ((2, 2), (3, 3))
    np.testing.assert_array_equal(view.compute(), data)
    data[3, 5] = -1  # a view of the array, not of a copy made when the view was
    assert int(view[3, 5].compute()) == -1


def _outputs(folder) -> dict[str, str]:
    """sha256 of every output file but the cache, the manifest and the report (timings)."""
    import hashlib

    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()
            and p.name not in ("manifest.json", "report.html") and "cache" not in p.parts}


def test_keep_layers_false_drops_the_layer_files_and_a_new_date_ends_as_a_fresh_run(
        tmp_path):
    import shutil

    make_archive(tmp_path / "full", seed=4, shape=(80, 80), dates=DATES[:4], clouds=False)
    scenes = sorted((p for p in (tmp_path / "full").iterdir() if p.name != "truth"),
                    key=lambda p: p.name.split("_")[2])  # by date
    for scene in scenes[:3]:
        shutil.copytree(scene, tmp_path / "a" / scene.name)
    minewatch.analyze(tmp_path / "a", out_dir=tmp_path / "kept", report=False)
    assert len(list((tmp_path / "kept" / "cache").rglob("layers-*.npy"))) == 3
    minewatch.analyze(tmp_path / "a", out_dir=tmp_path / "dropped", report=False,
                      keep_layers=False)
    cache = tmp_path / "dropped" / "cache"
    assert not list(cache.rglob("layers-*.npy")) and not list(cache.rglob("sample-*.npy"))
    assert list(cache.rglob("clearings-*.parquet")) and list(cache.rglob("pools-*.parquet"))
    assert _outputs(tmp_path / "dropped") == _outputs(tmp_path / "kept")
    # a rerun of the same archive: all from the cache, same files
    again = minewatch.analyze(tmp_path / "a", out_dir=tmp_path / "dropped", report=False,
                              overwrite=True, keep_layers=False)
    assert any("0 of 3 dates detected" in n for n in again.notes)
    assert _outputs(tmp_path / "dropped") == _outputs(tmp_path / "kept")
    # a new date: the layers of the dates around it are written again from the imagery;
    # the same outputs as the run that kept its layers and reads only the new date
    shutil.copytree(scenes[3], tmp_path / "a" / scenes[3].name)
    notes = {}
    for out, keep in (("kept", True), ("dropped", False)):
        notes[out] = minewatch.analyze(tmp_path / "a", out_dir=tmp_path / out, report=False,
                                       overwrite=True, keep_layers=keep).notes
    assert any("1 of 4 dates detected" in n for n in notes["kept"])
    assert any("4 of 4 dates detected" in n for n in notes["dropped"])
    assert _outputs(tmp_path / "dropped") == _outputs(tmp_path / "kept")
    assert not list(cache.rglob("layers-*.npy"))
    # and both equal a fresh run of the four dates, file for file: nothing stale is left
    # (the change map and true colour of the former last date are removed)
    minewatch.analyze(tmp_path / "a", out_dir=tmp_path / "fresh", report=False)
    assert _outputs(tmp_path / "kept") == _outputs(tmp_path / "fresh")
    last3 = scenes[2].name.split("_")[2]
    assert not list((tmp_path / "kept").rglob(f"*{last3[:4]}-{last3[4:6]}-{last3[6:]}_rgb*"))
