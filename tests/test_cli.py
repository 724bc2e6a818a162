"""The ``minewatch`` command, run as a user runs it: the installed script in a subprocess,
on the sample archive and on an archive fetched from the local servers (tests/servers.py)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import rasterio

from servers import SERVED, serve_archive

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_tiles"
COMMANDS = ["search", "fetch", "scan", "run", "verify", "report", "demo", "synth"]


def minewatch(*args: object, cwd: Path | None = None, timeout: float = 600
              ) -> subprocess.CompletedProcess[str]:
    """Run the installed ``minewatch`` script (the venv's bin) and capture its output."""
    script = Path(sys.executable).parent / "minewatch"
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([str(script), *map(str, args)], capture_output=True, text=True,
                          cwd=cwd or ROOT, timeout=timeout, env=env)


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    """The stderr of a failed command: exactly one line, 'minewatch: error: ...'."""
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("minewatch: error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    with serve_archive(tmp_path_factory.mktemp("served")) as served:
        yield served


@pytest.fixture(scope="module")
def fetched(served, tmp_path_factory):
    """An archive fetched from the local servers by `minewatch search` + `minewatch fetch`."""
    work = tmp_path_factory.mktemp("fetched")
    items = work / "items.json"
    found = minewatch("search", "--api", served.api, "--aoi", served.aoi, "--start",
                      "2020-01-01", "--end", "2024-12-31", "-o", items)
    assert found.returncode == 0, found.stderr
    done = minewatch("fetch", work / "archive", "--aoi", served.aoi, "--items", items)
    assert done.returncode == 0, done.stderr
    return work / "archive"


# --- help, version -----------------------------------------------------------------------------

@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_every_help_is_complete_with_an_example(command):
    args = ([command] if command else []) + ["--help"]
    proc = minewatch(*args)
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert "Example" in text
    example = text[text.index("Example"):]
    assert f"minewatch {command or ''}".strip() in example
    for option in ("--quiet", "--verbose", "--debug", "--help"):
        assert option in text
    if command is None:
        assert "Exit codes" in text and all(c in text for c in COMMANDS)


def test_version_and_show_versions():
    proc = minewatch("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("minewatch ")
    proc = minewatch("--show-versions")
    assert proc.returncode == 0
    names = {line.split()[0] for line in proc.stdout.splitlines()}
    assert {"minewatch", "GDAL", "rasterio", "numpy", "xarray", "geopandas", "PROJ"} <= names


# --- errors ------------------------------------------------------------------------------------

def test_errors_are_one_line_with_exit_1_and_tracebacks_only_with_debug(tmp_path):
    missing = tmp_path / "no_such_archive"
    proc = minewatch("scan", missing)
    assert proc.returncode == 1
    assert str(missing) in one_line_error(proc)
    debug = minewatch("--debug", "scan", missing)
    assert debug.returncode == 1 and "Traceback" in debug.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = minewatch("scan", empty)
    assert proc.returncode == 1 and "no usable scene" in one_line_error(proc)


def test_usage_errors_exit_2_in_one_line():
    proc = minewatch("run", "sample_tiles")
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "--out" in proc.stderr
    proc = minewatch("run", "sample_tiles", "--out", "x", "--event", "soon=something")
    assert proc.returncode == 2 and "DATE=TEXT" in proc.stderr
    proc = minewatch("run", "sample_tiles", "--aoi", "a.gpkg", "--out", "x", "--workers", "2",
                     "--scheduler", "tcp://127.0.0.1:1")
    assert proc.returncode == 2 and "not both" in proc.stderr
    assert minewatch("frobnicate").returncode == 2


# --- scan --------------------------------------------------------------------------------------

def test_scan_sample_archive_writes_a_table_and_never_overwrites(tmp_path):
    table = tmp_path / "scenes.csv"
    proc = minewatch("scan", "sample_tiles", "-o", table)
    assert proc.returncode == 0, proc.stderr
    assert "9 scene(s) in sample_tiles: 4 planetscope, 5 sentinel2" in proc.stdout
    frame = pd.read_csv(table)
    assert len(frame) == 9 and set(frame["sensor"]) == {"sentinel2", "planetscope"}
    again = minewatch("scan", "sample_tiles", "-o", table)
    assert again.returncode == 1
    assert str(table) in one_line_error(again) and "--overwrite" in again.stderr
    footprints = tmp_path / "scenes.gpkg"
    assert minewatch("scan", "sample_tiles", "-o", footprints, "--quiet").stdout == ""
    assert len(gpd.read_file(footprints)) == 9
    assert minewatch("scan", "sample_tiles", "-o", table, "--overwrite").returncode == 0


# --- synth, demo ------------------------------------------------------------------------------

def test_synth_writes_an_archive_scan_reads(tmp_path):
    out = tmp_path / "synth"
    proc = minewatch("synth", out, "--layout", "planetscope", "--resolution", "3", "--size",
                     "40", "40", "--dates", "2021-01-05,2022-01-05")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("wrote ") and str(out) in proc.stdout
    scanned = minewatch("scan", out)
    assert scanned.returncode == 0 and "2 scene(s)" in scanned.stdout
    again = minewatch("synth", out, "--size", "40", "40")
    assert again.returncode == 1 and "already holds files" in one_line_error(again)
    # python -m minewatch.synth delegates to the same command (old --dates A B spelling too)
    old = subprocess.run([sys.executable, "-m", "minewatch.synth", str(tmp_path / "old"),
                          "--size", "30", "30", "--layout", "rgb", "--resolution", "3",
                          "--dates", "2021-01-05", "2023-01-05"],
                         capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert old.returncode == 0, old.stderr
    assert len(list((tmp_path / "old").glob("*2021*"))) >= 1
    assert len(list((tmp_path / "old").glob("*2023*"))) >= 1


def test_demo_errors_are_one_line(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = minewatch("demo", empty, tmp_path / "out")
    assert proc.returncode == 1 and "no usable scene" in one_line_error(proc)
    full = tmp_path / "full"
    full.mkdir()
    (full / "x.txt").write_text("mine")
    proc = minewatch("demo", "sample_tiles", full)
    assert proc.returncode == 1
    assert str(full) in one_line_error(proc) and "--overwrite" in proc.stderr
    assert (full / "x.txt").read_text() == "mine"


# --- search / fetch against the local servers --------------------------------------------------

def test_search_prints_and_saves_items(served, tmp_path):
    out = tmp_path / "items.json"
    proc = minewatch("search", "--api", served.api, "--aoi", served.aoi, "--start",
                     "2020-01-01", "--end", "2024-12-31", "--max-cloud", "20", "-o", out)
    assert proc.returncode == 0, proc.stderr
    assert "2 scene(s) of sentinel-2-l2a" in proc.stdout
    saved = json.loads(out.read_text())
    assert saved["type"] == "FeatureCollection"
    assert [f["properties"]["eo:cloud_cover"] for f in saved["features"]] == [5.0, 15.0]
    again = minewatch("search", "--api", served.api, "--aoi", served.aoi, "--start",
                      "2020-01-01", "--end", "2024-12-31", "-o", out)
    assert again.returncode == 1 and "--overwrite" in one_line_error(again)
    bad = minewatch("search", "--api", "http://127.0.0.1:9", "--aoi", served.aoi, "--start",
                    "2020-01-01", "--end", "2020-12-31")
    assert bad.returncode == 1 and "http://127.0.0.1:9" in one_line_error(bad)


def test_fetch_writes_the_archive_then_resumes(served, fetched, tmp_path):
    files = sorted(fetched.glob("sentinel-2-l2a/*.tif"))
    assert sorted(p.stem for p in files) == sorted(served.ids)
    assert (fetched / "catalog.json").is_file()
    # a rerun (searching itself this time) reads nothing: every scene is complete
    served.files.reset()
    proc = minewatch("fetch", fetched, "--aoi", served.aoi, "--api", served.api, "--start",
                     "2020-01-01", "--end", "2024-12-31")
    assert proc.returncode == 0, proc.stderr
    assert "0 fetched, 3 already there, 0 failed" in proc.stdout
    assert served.files.total_bytes() == 0


def test_fetch_with_a_404_exits_4_and_lists_it(served, tmp_path):
    target = served.ids[0]
    served.files.reset()
    served.files.missing.add(served.url_path(target, "B03"))
    try:
        proc = minewatch("fetch", tmp_path / "archive", "--aoi", served.aoi, "--api",
                         served.api, "--start", "2020-01-01", "--end", "2024-12-31")
    finally:
        served.files.reset()
    assert proc.returncode == 4, proc.stderr
    assert "2 fetched, 0 already there, 1 failed" in proc.stdout
    failed = [line for line in proc.stderr.splitlines() if line.startswith("minewatch: failed:")]
    assert len(failed) == 1 and target in failed[0] and "404" in failed[0]
    assert "B03" in failed[0]


def test_verbose_shows_the_retries_quiet_shows_nothing(served, tmp_path):
    served.files.reset()
    served.files.drops[served.url_path(served.ids[1], "B11")] = 4  # GDAL retries 2 itself
    try:
        proc = minewatch("fetch", tmp_path / "a", "--aoi", served.aoi, "--api", served.api,
                         "--start", "2020-01-01", "--end", "2024-12-31", "-v")
    finally:
        served.files.reset()
    assert proc.returncode == 0, proc.stderr
    assert "retry 1/3" in proc.stderr and served.ids[1] not in proc.stdout
    quiet = minewatch("fetch", tmp_path / "a", "--aoi", served.aoi, "--api", served.api,
                      "--start", "2020-01-01", "--end", "2024-12-31", "--quiet")
    assert quiet.returncode == 0 and quiet.stdout == "" and quiet.stderr == ""


def test_scan_of_fetched_archive(served, fetched):
    proc = minewatch("scan", fetched / "catalog.json")
    assert proc.returncode == 0, proc.stderr
    assert f"{len(SERVED)} scene(s)" in proc.stdout and "3 sentinel2" in proc.stdout
    for scene_id in served.ids:
        assert scene_id in proc.stdout
    with rasterio.open(next(fetched.glob("sentinel-2-l2a/*.tif"))) as src:
        assert src.width < 200 and src.height < 200  # the AOI window, not the 1024-px tile


# --- run / verify / report (minewatch.pipeline, minewatch.report) ------------------------------

CONTRACT = {
    "scenes.csv": ["status", "reason"],
    "site_history.csv": ["site_id", "date", "status", "n_pools", "cleared_area_m2",
                         "pool_area_m2", "observed_fraction"],
    "events.csv": ["date", "kind", "site_id", "other_ids"],
    "timeseries.csv": ["date", "sites", "pools", "cleared_area_m2", "new_sites",
                       "valid_fraction"],
}
LAYERS = {
    "pools.gpkg": ["date", "site_id", "area_m2", "confidence"],
    "clearings.gpkg": ["date", "area_m2", "kind", "site_id"],
    "sites.gpkg": ["site_id", "first_seen", "last_seen", "n_pools_max", "area_m2_max",
                   "persistent", "provisional", "status_last"],
}


def _check_layout(out: Path) -> dict:
    for name, columns in CONTRACT.items():
        frame = pd.read_csv(out / name)
        assert set(columns) <= set(frame.columns), (name, list(frame.columns))
    for name, columns in LAYERS.items():
        frame = gpd.read_file(out / name)
        assert set(columns) <= set(frame.columns), (name, list(frame.columns))
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["inputs"] and all(len(i["sha256"]) == 64 for i in manifest["inputs"])
    assert list((out / "change").glob("*_*.tif"))
    return manifest


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    """`minewatch run` over a copy of the sample archive's Sentinel-2 scenes."""
    work = tmp_path_factory.mktemp("run")
    archive = work / "archive"
    shutil.copytree(SAMPLE / "sentinel2_10m", archive / "sentinel2_10m",
                    ignore=shutil.ignore_patterns("truth"))
    out = work / "results"
    proc = minewatch("run", archive, "--aoi", SAMPLE / "aoi.geojson", "--out", out)
    return archive, out, proc


def test_run_writes_the_output_layout(sample_run):
    archive, out, proc = sample_run
    assert proc.returncode == 0, proc.stderr
    manifest = _check_layout(out)
    assert manifest["scenes"]["used"] == 5
    assert len(pd.read_csv(out / "timeseries.csv")["date"].unique()) == 5
    assert "sites:" in proc.stdout and f"under {out}" in proc.stdout
    # no overwriting a finished analysis without --overwrite
    again = minewatch("run", archive, "--aoi", SAMPLE / "aoi.geojson", "--out", out)
    assert again.returncode == 1
    line = one_line_error(again)
    assert str(out) in line and "--overwrite" in line


def test_verify_passes_then_finds_a_changed_input(sample_run, tmp_path):
    _, out, proc = sample_run
    assert proc.returncode == 0, proc.stderr
    ok = minewatch("verify", out)
    assert ok.returncode == 0 and "ok" in ok.stdout
    copy = tmp_path / "results"
    shutil.copytree(out, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["inputs"][0]["sha256"] = "0" * 64  # as if the input had changed since
    (copy / "manifest.json").write_text(json.dumps(manifest))
    bad = minewatch("verify", copy)
    assert bad.returncode == 3
    assert Path(manifest["inputs"][0]["path"]).name in bad.stdout
    not_out = minewatch("verify", tmp_path)
    assert not_out.returncode == 1 and "manifest.json" in one_line_error(not_out)


def test_report_writes_html_and_never_overwrites(sample_run, tmp_path):
    _, out, proc = sample_run
    assert proc.returncode == 0, proc.stderr
    target = tmp_path / "report.html"
    made = minewatch("report", out, "-o", target, "--title", "Sample")
    assert made.returncode == 0, made.stderr
    assert target.read_text().lstrip().lower().startswith("<!doctype html")
    again = minewatch("report", out, "-o", target)
    assert again.returncode == 1 and "--overwrite" in one_line_error(again)


def test_run_on_the_fetched_archive(served, fetched, tmp_path):
    out = tmp_path / "results"
    proc = minewatch("run", fetched, "--aoi", served.aoi, "--out", out, "--quiet",
                     "--drop-layers")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    # --drop-layers: the per-date results stay in the cache, the layer files are gone
    assert list((out / "cache").rglob("pools-*.parquet"))
    assert not list((out / "cache").rglob("layers-*.npy"))
    manifest = _check_layout(out)
    assert manifest["scenes"]["used"] == len(SERVED)
    assert manifest["sensor"] == "sentinel2"
    assert minewatch("verify", out).returncode == 0


def test_the_batch_example_runs_against_the_local_servers(served, tmp_path):
    example = ROOT / "examples" / "search_fetch_analyze.py"
    proc = subprocess.run(
        [sys.executable, str(example), "--api", served.api, "--aoi", str(served.aoi),
         "--start", "2020-01-01", "--end", "2024-12-31", "--max-cloud", "100",
         "--archive", str(tmp_path / "archive"), "--out", str(tmp_path / "results")],
        capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "3 scenes found, 3 fetched" in proc.stdout
    _check_layout(tmp_path / "results")


def test_run_with_an_added_date_processes_only_the_new_one(tmp_path):
    scenes = sorted((SAMPLE / "sentinel2_10m").glob("S2*"), key=lambda p: p.name.split("_")[2])
    archive = tmp_path / "archive"
    for scene in scenes[:-1]:
        shutil.copytree(scene, archive / scene.name)
    out = tmp_path / "results"
    first = minewatch("run", archive, "--aoi", SAMPLE / "aoi.geojson", "--out", out)
    assert first.returncode == 0, first.stderr
    cached = {p: p.stat().st_mtime_ns for p in (out / "cache").glob("????-??-??/*")}
    assert len({p.parent.name for p in cached}) == 4
    shutil.copytree(scenes[-1], archive / scenes[-1].name)  # a new, later date arrives
    second = minewatch("run", archive, "--aoi", SAMPLE / "aoi.geojson", "--out", out,
                       "--overwrite")
    assert second.returncode == 0, second.stderr
    assert "dates: 5" in second.stdout
    after = {p: p.stat().st_mtime_ns for p in (out / "cache").glob("????-??-??/*")}
    assert {p: after[p] for p in cached} == cached  # the four old dates were not redone
    # per-scene results (pools, valid masks) are computed for the new date only; clearings,
    # which depend on the whole series, are recomputed for every date
    new = {p.parent.name for p in set(after) - set(cached)
           if p.name.startswith(("pools-", "valid-"))}
    assert new == {pd.Timestamp(scenes[-1].name.split("_")[2]).strftime("%Y-%m-%d")}
    assert json.loads((out / "manifest.json").read_text())["scenes"]["used"] == 5
