"""analyze / verify end to end: the output layout on the sample archive and generated archives."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio

import minewatch
from minewatch.errors import EmptyArchiveError, InputError
from minewatch.pipeline import analyze, verify
from minewatch.synth import make_archive

SAMPLE = Path(__file__).resolve().parents[1] / "sample_tiles"
LAYOUT = ["scenes.csv", "pools.gpkg", "clearings.gpkg", "sites.gpkg", "site_history.csv",
          "events.csv", "timeseries.csv", "manifest.json", "report.html", "webmap.html",
          "figures/timeseries.png", "figures/site_map.png"]


def _digests(folder: Path) -> dict[str, str]:
    """sha256 of every output file except the manifest and the report, which carry the run's
    time (and timings)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()
            and p.name not in ("manifest.json", "report.html") and "cache" not in p.parts}


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory: pytest.TempPathFactory) -> minewatch.pipeline.Analysis:
    out = tmp_path_factory.mktemp("sample") / "out"
    return analyze(SAMPLE, out_dir=out, sensor="sentinel2")


def test_layout_on_the_sample_archive(sample_run) -> None:
    out = sample_run.out_dir
    for name in LAYOUT:
        assert (out / name).is_file(), name
    dates = sample_run.dates
    assert len(dates) == 5
    first, last = f"{dates[0]:%Y-%m-%d}", f"{dates[-1]:%Y-%m-%d}"
    change = out / "change" / f"{first}_{last}.tif"
    assert change.is_file() and change.with_suffix(".gpkg").is_file()
    with rasterio.open(change) as src:
        assert src.crs.to_epsg() == 32647
        assert set(np.unique(src.read(1))) <= {0, 1, 2, 3, 4, 5}
    for day in (first, last):
        with rasterio.open(out / "imagery" / f"{day}_rgb.tif") as src:
            assert src.count == 3 and src.dtypes[0] == "uint8"

    pools = gpd.read_file(out / "pools.gpkg")
    assert {"date", "site_id", "area_m2", "confidence", "geometry"} <= set(pools.columns)
    clearings = gpd.read_file(out / "clearings.gpkg")
    assert {"date", "area_m2", "kind", "geometry"} <= set(clearings.columns)
    sites = gpd.read_file(out / "sites.gpkg")
    assert {"site_id", "first_seen", "last_seen", "n_pools_max", "area_m2_max",
            "geometry"} <= set(sites.columns)
    assert len(sites) > 0 and sites["site_id"].is_unique
    history = pd.read_csv(out / "site_history.csv")
    assert {"site_id", "date", "status", "n_pools", "cleared_area_m2"} <= set(history.columns)
    assert set(history["site_id"]) <= set(sites["site_id"])
    assert set(history["status"]) <= {"new", "active", "expanded", "inactive", "unobserved"}
    series = pd.read_csv(out / "timeseries.csv")
    assert list(series.columns[:6]) == ["date", "sites", "pools", "cleared_area_m2",
                                        "new_sites", "valid_fraction"]
    assert list(series["date"]) == [f"{d:%Y-%m-%d}" for d in dates]
    # the tables agree with each other and with the in-memory result
    assert len(sample_run.sites) == len(sites)
    # a site counts when persistent or provisional (the persistence rule holds back the rest)
    kept = set(sites.loc[sites["persistent"] | sites["provisional"], "site_id"])
    counted = history[history["status"].isin(["new", "active", "expanded", "unobserved"])
                      & history["site_id"].isin(kept)]
    per_date = counted.groupby("date").size().reindex(series["date"]).fillna(0)
    assert series["sites"].tolist() == per_date.astype(int).tolist()
    assert (series["sites_low"] <= series["sites"]).all()
    assert (series["sites"] <= series["sites_high"]).all()


def test_scenes_table_says_what_was_used_and_why_not(sample_run) -> None:
    scenes = pd.read_csv(sample_run.out_dir / "scenes.csv")
    used = scenes[scenes["status"] == "used"]
    skipped = scenes[scenes["status"] == "skipped"]
    assert set(used["sensor"]) == {"sentinel2"} and len(used) == 5
    assert set(skipped["sensor"]) == {"planetscope"} and len(skipped) == 4
    assert skipped["reason"].str.contains("sensor=").all()


def test_manifest_and_verify(sample_run, tmp_path: Path) -> None:
    out = sample_run.out_dir
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["sensor"] == "sentinel2" and manifest["crs"] == "EPSG:32647"
    assert manifest["scenes"]["used"] == 5 and manifest["scenes"]["skipped"] == 4
    assert all("sensor planetscope" in why
               for why in manifest["scenes"]["skipped_reasons"].values())
    assert len(manifest["inputs"]) == 5 * 7  # 6 bands + SCL per scene
    entry = manifest["inputs"][0]
    digest = hashlib.sha256((Path(manifest["archive"]) / entry["path"]).read_bytes()).hexdigest()
    assert entry["sha256"] == digest
    assert manifest["config"]["preset_name"] == "sentinel2"
    assert {"detect_s", "total_s"} <= set(manifest["timings_s"])
    assert verify(out) == []

    # a copy of the archive with one band changed: verify names it
    archive = tmp_path / "archive"
    shutil.copytree(SAMPLE, archive)
    victim = archive / entry["path"]
    victim.write_bytes(victim.read_bytes() + b"\0")
    problems = verify(out, archive=archive)
    assert len(problems) == 1 and "input changed" in problems[0] and victim.name in problems[0]
    # an output edited after the run
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    (copy / "timeseries.csv").write_text("date,sites\n2024-01-01,999\n")
    assert any("output changed" in p and "timeseries.csv" in p for p in verify(copy))
    with pytest.raises(InputError, match=r"no manifest\.json"):
        verify(tmp_path)


def test_rerun_uses_the_cache_and_writes_identical_files(sample_run) -> None:
    out = sample_run.out_dir
    before = _digests(out)
    again = analyze(SAMPLE, out_dir=out, sensor="sentinel2")
    assert any("0 of 5 dates detected" in n for n in again.notes)
    assert _digests(out) == before


def test_a_new_date_is_the_only_one_detected(tmp_path: Path) -> None:
    dates = ("2020-02-14", "2021-02-28", "2022-02-27")
    make_archive(tmp_path / "a", seed=5, shape=(80, 80), dates=dates[:2], clouds=False)
    out = tmp_path / "out"
    first = analyze(tmp_path / "a", out_dir=out)
    assert len(first.dates) == 2
    make_archive(tmp_path / "a", seed=5, shape=(80, 80), dates=dates, clouds=False,
                 overwrite=True)
    second = analyze(tmp_path / "a", out_dir=out)
    assert len(second.dates) == 3
    assert any("1 of 3 dates detected" in n for n in second.notes)


def test_one_date_gives_sites_but_no_change_map(tmp_path: Path) -> None:
    make_archive(tmp_path / "a", seed=6, shape=(60, 60), dates=("2022-02-27",), clouds=False)
    result = analyze(tmp_path / "a", out_dir=tmp_path / "out")
    assert len(result.timeseries) == 1
    assert not (tmp_path / "out" / "change").exists()
    assert any("no change map" in n for n in result.notes)


def test_in_memory_run_writes_nothing(tmp_path: Path) -> None:
    make_archive(tmp_path / "a", seed=7, shape=(60, 60), dates=("2021-02-28", "2022-02-27"),
                 clouds=False)
    result = analyze(tmp_path / "a", report=False)
    assert result.out_dir is None and result.files == ()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a"]
    assert result.valid.dims == ("time", "y", "x") and result.valid.rio.crs is not None


def test_errors(tmp_path: Path) -> None:
    with pytest.raises(EmptyArchiveError):
        analyze(tmp_path)
    with pytest.raises(InputError, match=r"sensor='landsat'.*sentinel2"):
        analyze(SAMPLE, sensor="landsat")
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="not empty"):
        analyze(SAMPLE, out_dir=busy, sensor="sentinel2")
    # the same scene twice (a copy in a second folder) is rejected by name
    archive = tmp_path / "dup"
    src = next((SAMPLE / "sentinel2_10m").iterdir())
    shutil.copytree(src, archive / "one" / src.name)
    shutil.copytree(src, archive / "two" / src.name)
    with pytest.raises(InputError, match=f"occur twice \\({src.name}\\)"):
        analyze(archive)


def test_regions_get_their_own_table(tmp_path: Path) -> None:
    import shapely

    make_archive(tmp_path / "a", seed=8, shape=(100, 100), dates=("2021-02-28", "2022-02-27"),
                 clouds=False)
    probe = analyze(tmp_path / "a")
    x0, y0, x1, y1 = probe.valid.rio.bounds()
    xm = (x0 + x1) / 2
    halves = gpd.GeoDataFrame({"name": ["west", "east"]},
                              geometry=[shapely.box(x0, y0, xm, y1), shapely.box(xm, y0, x1, y1)],
                              crs=probe.valid.rio.crs).to_crs(4326)  # another CRS: reprojected
    regions = tmp_path / "regions.gpkg"
    halves.to_file(regions)
    result = analyze(tmp_path / "a", out_dir=tmp_path / "out", regions=regions)
    whole = pd.read_csv(tmp_path / "out" / "timeseries.csv")
    per_region = pd.read_csv(tmp_path / "out" / "timeseries_regions.csv")
    assert "region" not in whole.columns and len(whole) == 2
    assert set(per_region["region"]) == {"west", "east"}
    summed = per_region.groupby("date")["sites"].sum()
    assert summed.tolist() == whole["sites"].tolist()
    assert result.timeseries_regions is not None


def test_a_corrupt_scene_is_skipped_with_its_reason(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    shutil.copytree(SAMPLE / "sentinel2_10m", archive)
    victim_scene = sorted(p for p in archive.iterdir() if p.is_dir())[2]
    band = victim_scene / "B04.tif"
    band.write_bytes(band.read_bytes()[: band.stat().st_size // 3])  # pixels cut off
    result = analyze(archive, out_dir=tmp_path / "out")
    scenes = pd.read_csv(tmp_path / "out" / "scenes.csv")
    row = scenes[scenes["scene_id"] == victim_scene.name].iloc[0]
    assert row["status"] == "skipped" and "unreadable" in row["reason"]
    assert "B04.tif" in row["reason"]
    assert len(result.dates) == 4
    assert any("unreadable scene" in n for n in result.notes)
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert "B04.tif" in manifest["scenes"]["skipped_reasons"][victim_scene.name]


def test_first_date_clearings_are_inferred_from_later_ones(tmp_path: Path) -> None:
    dates = ("2020-02-14", "2021-02-28", "2022-02-27")
    arch = make_archive(tmp_path / "a", seed=3, shape=(150, 150), dates=dates, clouds=False)
    result = analyze(tmp_path / "a", report=False)
    first = pd.Timestamp(dates[0])
    inferred = result.clearings[result.clearings["date"] == first]
    assert len(inferred) > 0 and inferred["inferred"].fillna(False).all()
    later = result.clearings[result.clearings["date"] > first].union_all()
    assert inferred.geometry.difference(later).area.sum() < 1.0  # inside later clearings
    # and they are real: most of their area lies on sites the generator had cleared by then
    truth = gpd.read_file(arch.truth_vectors, layer="site_clearings").to_crs(result.clearings.crs)
    truth_then = truth[pd.to_datetime(truth["date"]) == first].union_all()
    on_truth = inferred.geometry.intersection(truth_then).area.sum()
    assert on_truth / inferred.geometry.area.sum() > 0.6
    assert result.timeseries["sites"].iloc[0] > 0


def test_site_settings_change_the_sites_not_the_detections(sample_run, tmp_path: Path) -> None:
    out = tmp_path / "out"
    shutil.copytree(sample_run.out_dir, out)
    wide = minewatch.DetectionConfig.preset("sentinel2").replace(
        sites={"linking_distance_m": 600.0})
    again = analyze(SAMPLE, out_dir=out, sensor="sentinel2", config=wide, report=False)
    assert any("0 of 5 dates detected" in n for n in again.notes)  # detections from the cache
    assert len(again.sites) < len(sample_run.sites)  # wider linking: fewer, larger sites
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["sites"]["linking_distance_m"] == 600.0


def test_imagery_of_an_unknown_sensor_gets_the_preset_of_its_pixel_size() -> None:
    from minewatch.pipeline import _resolve_config

    frame = pd.DataFrame({"resolution_m": [3.0, 3.0], "has_nir": [True, True]})
    assert _resolve_config(None, "custom", frame).preset_name == "planetscope"
    frame = pd.DataFrame({"resolution_m": [0.5], "has_nir": [False]})
    assert _resolve_config(None, "custom", frame).preset_name == "rgb_highres"
    frame = pd.DataFrame({"resolution_m": [10.0], "has_nir": [True]})
    assert _resolve_config(None, "custom", frame).preset_name == "sentinel2"


def test_change_maps_call_only_the_mostly_pool_pixels_new_pools(sample_run) -> None:
    """At 10 m a pool's outline holds mixed pixels: the change map's "new pools" are the
    pixels of the date's cached pool-pixel mask (evidence ≥ pixel_min_evidence), the rest of
    a new pool's outline is mining ground."""
    from rasterio import features

    out = sample_run.out_dir
    first, last = (f"{d:%Y-%m-%d}" for d in (sample_run.dates[0], sample_run.dates[-1]))
    (mask_file,) = (out / "cache" / last).glob("poolpx-*.tif")
    with rasterio.open(mask_file) as src:
        mostly = src.read(1).astype(bool)
    with rasterio.open(out / "change" / f"{first}_{last}.tif") as src:
        change, transform = src.read(1), src.transform
    pools = gpd.read_file(out / "pools.gpkg")
    pools = pools[pd.to_datetime(pools["date"]).dt.strftime("%Y-%m-%d") == last]
    outline = features.rasterize(((g, 1) for g in pools.geometry), out_shape=change.shape,
                                 transform=transform).astype(bool)
    assert (change == 3).any()
    assert not ((change == 3) & ~mostly).any()  # new pools only where mostly pool
    rim = outline & ~mostly & (change > 0)
    assert rim.any() and not (change[rim] == 3).any()
    assert set(np.unique(change[rim])) <= {2, 4}  # the rim is mining ground


def test_pool_steps_one_at_a_time_on_large_grids_give_the_same_outputs(
        sample_run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """From _POOL_STEP_SERIAL_PIXELS on, a process runs one pool step at a time (memory);
    with the threshold lowered to the sample's grid every date takes the lock, no two pool
    steps overlap, and the outputs are the same files as the threaded run's."""
    import threading

    import minewatch.pipeline as pipeline

    state = {"inside": 0, "most": 0, "taken": 0}
    guard = threading.Lock()

    class Counting:
        def __enter__(self):
            lock.acquire()
            with guard:
                state["inside"] += 1
                state["taken"] += 1
                state["most"] = max(state["most"], state["inside"])

        def __exit__(self, *exc):
            with guard:
                state["inside"] -= 1
            lock.release()

    lock = threading.Lock()
    monkeypatch.setattr(pipeline, "_POOL_STEP_SERIAL_PIXELS", 1)
    monkeypatch.setattr(pipeline, "_POOL_STEP_LOCK", Counting())
    out = tmp_path / "out"
    analyze(SAMPLE, out_dir=out, sensor="sentinel2")
    assert state["taken"] == len(sample_run.dates) and state["most"] == 1
    assert _digests(out) == _digests(sample_run.out_dir)
