"""The whole-pipeline benchmark table: one command, every figure of the scale issue.

    python benchmarks/run.py                  # 2000 x 2000 px, 3 and 12 dates (~15 min)
    python benchmarks/run.py --size 600       # quick look (~2 min)

On a generated Sentinel-2 archive of 12 dates (``benchmarks/archive.py`` builds and caches it),
each part in a fresh child process (its own peak memory, max RSS), wall-clock after imports:

* ``read``: a plain rasterio read of every band of the first 3 dates (the baseline);
* ``analyze 3 dates`` / ``analyze 12 dates``: ``minewatch.analyze`` (ingest, detection, sites,
  change maps, time series, written outputs; no figures/report), dask's threads;
* ``analyze 3 dates, 1 worker`` / ``2 workers`` and the same with 12 dates: on a
  ``dask.distributed`` LocalCluster of 1 and 2 single-threaded worker processes (the
  speed-up, of the whole run — cluster start-up included — and of the detection stage).
  Peak memory of these rows is the client process only; workers are separate processes.

Printed: seconds, megapixel-dates per second, ratio to the plain read of the same dates,
peak memory, and the derived speed-up (2 workers vs 1) and growth (12 dates vs 3 dates).
Targets (issue 8, this 2-core machine): pipeline ≤ 3 × read, peak ≤ 4 GB for 12 dates
full-tile, 2 workers ≥ 1.6 × 1 worker, growth linear (time(12)/time(3) ≤ 4.5).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path

from _harness import measured, run_part
from archive import DATES, build_archive


def _subset(archive: Path, n_dates: int, where: Path) -> Path:
    """A folder of hard links to the first ``n_dates`` scenes of the archive."""
    subset = where / f"archive_{n_dates}"
    subset.mkdir(parents=True, exist_ok=True)
    wanted = {d.replace("-", "") for d in DATES[:n_dates]}
    for scene in sorted(archive.iterdir()):
        if scene.is_dir() and any(w in scene.name for w in wanted):
            link = subset / scene.name
            if not link.exists():  # hard links: no copy, and scans see plain files
                shutil.copytree(scene, link, copy_function=os.link)
    return subset


def part_read(archive: Path, n_dates: int) -> dict:
    import rasterio

    with tempfile.TemporaryDirectory() as tmp:
        subset = _subset(archive, n_dates, Path(tmp))
        files = sorted(p for p in subset.rglob("*.tif") if "truth" not in p.parts)

        def read_all() -> int:
            total = 0
            for path in files:
                with rasterio.open(path) as src:
                    total += src.read().size
            return total

        m = measured(read_all)
    m["pixels"] = m.pop("result")
    return m


def part_analyze(archive: Path, n_dates: int, workers: int | None) -> dict:
    import minewatch

    with tempfile.TemporaryDirectory() as tmp:
        subset = _subset(archive, n_dates, Path(tmp))
        out = Path(tmp) / "out"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m = measured(lambda: minewatch.analyze(subset, out_dir=out, workers=workers,
                                                   report=False))
        result = m.pop("result")
        m["dates"] = len(result.dates)
        m["megapixels"] = result.valid.sizes["y"] * result.valid.sizes["x"] / 1e6
        m["sites"] = len(result.sites)
        m["stages"] = json.loads((out / "manifest.json").read_text())["timings_s"]
    return m


def part_build(archive: Path) -> dict:
    """Generate the archive (in a child too: Linux keeps max RSS across exec, so a parent that
    generated 2 GB would pass that figure on to every part it starts)."""
    m = measured(lambda: build_archive(archive.parent, int(archive.name.split("_")[-1])))
    m.pop("result")
    return m


PARTS = {
    "read3": ("plain rasterio read, 3 dates", lambda a: part_read(a, 3)),
    "read12": ("plain rasterio read, 12 dates", lambda a: part_read(a, 12)),
    "analyze3": ("analyze, 3 dates", lambda a: part_analyze(a, 3, None)),
    "analyze12": ("analyze, 12 dates", lambda a: part_analyze(a, 12, None)),
    "workers1": ("analyze, 3 dates, 1 worker", lambda a: part_analyze(a, 3, 1)),
    "workers2": ("analyze, 3 dates, 2 workers", lambda a: part_analyze(a, 3, 2)),
    "workers1_12": ("analyze, 12 dates, 1 worker", lambda a: part_analyze(a, 12, 1)),
    "workers2_12": ("analyze, 12 dates, 2 workers", lambda a: part_analyze(a, 12, 2)),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=2000, help="AOI side, pixels (10 m)")
    parser.add_argument("--cache", type=Path,
                        default=Path(tempfile.gettempdir()) / "minewatch-bench")
    parser.add_argument("--part", choices=(*PARTS, "build"))
    args = parser.parse_args()
    archive = args.cache / f"archive_{args.size}"
    if args.part == "build":
        print(json.dumps(part_build(archive)))
        return
    if args.part:
        print(json.dumps(PARTS[args.part][1](archive)))
        return
    args.cache.mkdir(parents=True, exist_ok=True)
    gen = run_part(__file__, "build", "--size", str(args.size), "--cache", str(args.cache))
    print(f"archive: generated Sentinel-2, {args.size} x {args.size} px at 10 m "
          f"({args.size ** 2 / 1e6:.1f} MP), 12 dates; built or reused in "
          f"{gen['seconds']:.0f} s")
    rows = {name: run_part(__file__, name, "--size", str(args.size), "--cache",
                           str(args.cache)) for name in PARTS}
    mp = args.size ** 2 / 1e6
    print(f"\n{'part':<32} {'seconds':>8} {'MP-dates/s':>10} {'x read':>7} {'peak GB':>8}")
    for name, (label, _) in PARTS.items():
        r = rows[name]
        n = 12 if "12" in name else 3
        base = rows["read12" if n == 12 else "read3"]["seconds"]
        ratio = "" if name.startswith("read") else f"{r['seconds'] / base:.1f}"
        print(f"{label:<32} {r['seconds']:>8.1f} {mp * n / r['seconds']:>10.2f} {ratio:>7} "
              f"{r['peak_mb'] / 1024:>8.2f}")
    growth = rows["analyze12"]["seconds"] / rows["analyze3"]["seconds"]
    for suffix, n in (("", 3), ("_12", 12)):
        one, two = rows[f"workers1{suffix}"], rows[f"workers2{suffix}"]
        detect = one["stages"]["detect_s"] / two["stages"]["detect_s"]
        print(f"{'' if n == 12 else chr(10)}speed-up, 2 workers vs 1, {n} dates: "
              f"{one['seconds'] / two['seconds']:.2f} whole run (cluster start included), "
              f"{detect:.2f} detection stage (target >= 1.6)")
    print(f"growth, 12 dates vs 3: {growth:.2f} (linear: 4.0; target <= 4.5)")
    for name in ("analyze3", "analyze12", "workers1_12", "workers2_12"):
        stages = rows[name]["stages"]
        print(f"stages of '{PARTS[name][0]}': "
              + ", ".join(f"{k.removesuffix('_s')} {v:.1f} s" for k, v in stages.items()))


if __name__ == "__main__":
    main()
