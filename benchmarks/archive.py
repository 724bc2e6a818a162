"""Archive benchmark: a full ``analyze`` run over a generated archive, 3 dates vs 12 dates.

Builds (once, cached under ``--cache``) a generated Sentinel-2 archive of 12 dates over a
``--size`` × ``--size`` px AOI at 10 m (default 4000 × 4000 px = 16 MP, 40 km a side), then
runs ``minewatch.analyze`` on its first 3 dates and
on all 12, each in a fresh child process (its own peak memory), with an empty output folder
(no cache reuse). Prints seconds per date, per megapixel-date, peak memory, and the growth
ratio time(12) / time(3) (target ≤ 4.5: linear in the number of dates).

    python benchmarks/archive.py                 # 4000 x 4000 (first run generates ~1 GB)
    python benchmarks/archive.py --size 1000     # quick look
    python benchmarks/archive.py --part build    # only generate the archive (JSON: s, peak MB)

Generating the 4000 x 4000 x 12-date archive takes about 4 min and 2.5 GB peak memory on two
cores (one date in memory at a time); 2000 x 2000 about 1 min and 1 GB.
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

DATES = ("2019-02-10", "2019-11-20", "2020-02-14", "2020-11-25", "2021-02-28", "2021-12-01",
         "2022-02-27", "2022-11-30", "2023-03-04", "2023-12-05", "2024-02-18", "2024-11-28")


def build_archive(root: Path, size: int, seed: int = 11) -> Path:
    """Generate the 12-date archive once (make_archive renders and writes date by date, so
    memory holds one date of ``size`` × ``size`` px, not all twelve)."""
    from minewatch.synth import make_archive, make_world

    archive = root / f"archive_{size}"
    done = archive / ".complete"
    if done.exists():
        return archive
    side = size * 10.0 + 400.0  # the grid plus a 200 m margin, as generate_scenes does
    world = make_world(seed=seed, extent_m=(side, side), dates=DATES)
    make_archive(archive, world=world, seed=seed, shape=(size, size), overwrite=True)
    done.write_text("ok\n")
    return archive


def part_analyze(archive: Path, n_dates: int) -> dict:
    import minewatch

    with tempfile.TemporaryDirectory() as tmp:
        subset = Path(tmp) / "archive"
        subset.mkdir()
        wanted = {d.replace("-", "") for d in DATES[:n_dates]}
        for scene in sorted((archive).iterdir()):
            if scene.is_dir() and any(w in scene.name for w in wanted):
                # hard links: no copy, and scans see plain files (not symlinked folders)
                shutil.copytree(scene, subset / scene.name, copy_function=os.link)
        out = Path(tmp) / "out"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m = measured(lambda: minewatch.analyze(subset, out_dir=out))
        result = m.pop("result")
        m["dates"] = len(result.dates)
        m["sites"] = len(result.sites)
        m["megapixels"] = result.valid.sizes["y"] * result.valid.sizes["x"] / 1e6
        m["timings"] = json.loads((out / "manifest.json").read_text())["timings_s"]
    return m


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=4000)
    parser.add_argument("--cache", type=Path,
                        default=Path(tempfile.gettempdir()) / "minewatch-bench")
    parser.add_argument("--part", choices=("build", "analyze3", "analyze12"))
    parser.add_argument("--fresh", action="store_true", help="regenerate the archive")
    args = parser.parse_args()
    if args.part == "build":
        m = measured(lambda: build_archive(args.cache, args.size))
        m.pop("result")
        print(json.dumps(m))
        return
    if args.part:
        archive = args.cache / f"archive_{args.size}"
        n = 3 if args.part == "analyze3" else 12
        print(json.dumps(part_analyze(archive, n)))
        return
    if args.fresh:
        shutil.rmtree(args.cache / f"archive_{args.size}", ignore_errors=True)
    args.cache.mkdir(parents=True, exist_ok=True)
    # generated in a child too: Linux keeps max RSS across exec, so a parent that generated
    # the archive would pass its peak on to every part it starts
    gen = run_part(__file__, "build", "--size", str(args.size), "--cache", str(args.cache))
    print(f"archive: {args.size} x {args.size} px at 10 m, 12 dates "
          f"(generated or reused in {gen['seconds']:.0f} s)")
    rows = {}
    for part in ("analyze3", "analyze12"):
        rows[part] = run_part(__file__, part, "--size", str(args.size), "--cache",
                              str(args.cache))
    print(f"{'run':<10} {'dates':>5} {'seconds':>8} {'s/date':>7} {'s/MP-date':>9} "
          f"{'peak GB':>8} {'sites':>6}")
    for part, r in rows.items():
        per_date = r["seconds"] / r["dates"]
        print(f"{part:<10} {r['dates']:>5} {r['seconds']:>8.1f} {per_date:>7.2f} "
              f"{per_date / r['megapixels']:>9.3f} {r['peak_mb'] / 1024:>8.2f} {r['sites']:>6}")
        print("           stages: " + ", ".join(f"{k} {v:.1f}" for k, v in r["timings"].items()))
    growth = rows["analyze12"]["seconds"] / rows["analyze3"]["seconds"]
    print(f"growth time(12)/time(3) = {growth:.2f} (linear would be 4.0; target <= 4.5)")


if __name__ == "__main__":
    main()
