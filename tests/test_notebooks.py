"""The notebooks run, top to bottom, in a fresh kernel of this interpreter, and are committed
without outputs."""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
NAMES = ["01_quickstart.ipynb", "02_detection_tuning.ipynb", "03_archive_run.ipynb"]
#: Seconds one notebook may take (each runs in well under a minute on 2 cores).
BUDGET_S = 60


@pytest.fixture
def kernel_here(tmp_path, monkeypatch):
    """A ``python3`` kernelspec that starts this interpreter (the project's venv), first on
    JUPYTER_PATH, so no kernel needs installing and no other Python is picked up."""
    spec_dir = tmp_path / "jupyter" / "kernels" / "python3"
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (minewatch tests)",
        "language": "python",
        "env": {"MPLBACKEND": "module://matplotlib_inline.backend_inline"},
    }))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    # connection files and the IPython profile in the temporary folder, not in $HOME
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    # the notebooks' tempfile.mkdtemp() folders land here and are cleaned up with it
    (tmp_path / "tmp").mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    monkeypatch.setenv("MINEWATCH_SAMPLE_TILES", str(ROOT / "sample_tiles"))
    return "python3"


def _run(name: str, workdir: Path, kernel: str) -> nbformat.NotebookNode:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = NotebookClient(nb, kernel_name=kernel, timeout=BUDGET_S,
                            resources={"metadata": {"path": str(workdir)}})
    started = time.perf_counter()
    client.execute()  # raises CellExecutionError on the first failing cell
    elapsed = time.perf_counter() - started
    assert elapsed < BUDGET_S, f"{name} took {elapsed:.0f} s (budget {BUDGET_S} s)"
    return nb


def _outputs(nb: nbformat.NotebookNode) -> list[dict]:
    return [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs]


def _text(nb: nbformat.NotebookNode) -> str:
    parts = []
    for out in _outputs(nb):
        if out.output_type == "stream":
            parts.append(out.text)
        elif "data" in out:
            parts.append(out.data.get("text/plain", ""))
            parts.append(out.data.get("text/html", ""))
    return "\n".join(parts)


def _n_images(nb: nbformat.NotebookNode) -> int:
    return sum("image/png" in out.get("data", {}) for out in _outputs(nb))


def _no_errors(nb: nbformat.NotebookNode) -> None:
    errors = [out for out in _outputs(nb) if out.output_type == "error"]
    assert not errors, [f"{e.ename}: {e.evalue}" for e in errors]


def test_quickstart(tmp_path, kernel_here):
    nb = _run("01_quickstart.ipynb", tmp_path, kernel_here)
    _no_errors(nb)
    text = _text(nb)
    assert "planetscope" in text and "sentinel2" in text  # the scan found both sensors
    counts = [out.text for out in _outputs(nb) if out.output_type == "stream"
              and " pools, " in out.text]
    assert counts, "no detection count printed"
    n_pools = int(counts[0].split(" pools")[0])
    assert n_pools > 0
    assert _n_images(nb) >= 2  # true colour and the site map


def test_detection_tuning(tmp_path, kernel_here):
    nb = _run("02_detection_tuning.ipynb", tmp_path, kernel_here)
    _no_errors(nb)
    text = _text(nb)
    assert "chosen on seeds [0, 1, 2, 3]" in text
    assert "held-out seeds [10, 11, 12, 13]: precision" in text
    # the held-out F1 is a number between 0 and 1
    line = next(s for s in text.splitlines() if s.startswith("held-out seeds"))
    f1 = float(line.rsplit("F1 ", 1)[1])
    assert 0.0 <= f1 <= 1.0
    assert _n_images(nb) >= 2


def test_archive_run(tmp_path, kernel_here):
    nb = _run("03_archive_run.ipynb", tmp_path, kernel_here)
    _no_errors(nb)
    text = _text(nb)
    assert "timeseries.csv" in text and "sites.gpkg" in text
    assert "site_map.png" in text and "timeseries.png" in text
    report = [s for s in text.splitlines() if s.split(" ")[0].endswith("report.html")]
    assert report, "report path not shown"
    # the time series table was displayed, one row per PlanetScope date (4), pools counted
    table = next(out.data["text/plain"] for out in _outputs(nb)
                 if "data" in out and "valid_fraction" in out.data.get("text/plain", ""))
    rows = [line.split() for line in table.splitlines() if re.match(r"\d \d{4}-", line)]
    assert [r[1] for r in rows] == ["2021-02-20", "2022-03-10", "2023-02-25", "2024-03-02"]
    header = table.splitlines()[0].split()
    assert sum(int(r[1 + header.index("pools")]) for r in rows) > 0
    assert _n_images(nb) >= 3  # time series, site map, before/after
    assert "[]" in text  # verify found no problems
    written = list((tmp_path / "tmp").glob("minewatch-*/out/report.html"))
    assert len(written) == 1 and written[0].stat().st_size > 10_000


@pytest.mark.parametrize("name", NAMES)
def test_committed_without_outputs(name):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{name}: a cell has outputs (strip them)"
            assert cell.execution_count is None, f"{name}: a cell has an execution count"


def test_every_notebook_is_tested():
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == NAMES
