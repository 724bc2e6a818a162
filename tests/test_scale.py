"""Scale and reliability: dask.distributed runs give the same outputs; a killed run resumes."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from dask.distributed import Client, LocalCluster, get_task_stream

from minewatch.pipeline import analyze
from minewatch.synth import make_archive

DATES = ("2020-02-14", "2021-02-28", "2022-02-27", "2023-03-04")


def _digests(folder: Path) -> dict[str, str]:
    """sha256 of the outputs; the manifest and report carry the run's time, the cache is
    internal."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()
            and p.name not in ("manifest.json", "report.html") and "cache" not in p.parts}


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("scale") / "archive"
    make_archive(root, seed=4, shape=(160, 160), dates=DATES, clouds=[0.0, 0.1, 0.5, 0.0])
    return root


@pytest.fixture(scope="module")
def reference(archive: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An uninterrupted run on dask's local threads (no cluster)."""
    out = tmp_path_factory.mktemp("reference") / "out"
    analyze(archive, out_dir=out, report=False)
    return out


def test_local_cluster_gives_identical_outputs(archive: Path, reference: Path,
                                               tmp_path: Path) -> None:
    out = tmp_path / "out"
    analyze(archive, out_dir=out, workers=2, report=False)
    assert _digests(out) == _digests(reference)


def test_existing_scheduler_gives_identical_outputs(archive: Path, reference: Path,
                                                   tmp_path: Path) -> None:
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client, \
            get_task_stream(client) as stream:
        out = tmp_path / "out"
        analyze(archive, out_dir=out, scheduler=cluster.scheduler_address, report=False)
    assert _digests(out) == _digests(reference)
    # every stage's per-date work ran on the cluster's worker, the output rasters included
    ran = " ".join(str(task["key"]) for task in stream.data)
    for task in ("_pools_and_valid", "_clearings_task", "_change_task", "_rgb_task"):
        assert task in ran, task


def test_a_killed_run_resumes_to_identical_outputs(archive: Path, reference: Path,
                                                  tmp_path: Path) -> None:
    """SIGKILL the CLI once its first dates are cached, rerun, compare with the reference."""
    out = tmp_path / "out"
    cli = Path(sys.executable).with_name("minewatch")  # the installed console script
    command = [str(cli), "run", str(archive), "--out", str(out), "--no-report", "-q"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if len(list((out / "cache").glob("*/pools-*.parquet"))) >= 2:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be killed; make it bigger"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert not (out / "manifest.json").exists()  # it really stopped mid-run

    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert _digests(out) == _digests(reference)
    # temporary files the killed run left (atomic writes) are cleaned up by the rerun
    assert not [p for p in out.rglob(".*") if p.is_file()]
