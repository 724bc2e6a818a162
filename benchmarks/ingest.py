"""Ingest benchmark: plain rasterio read vs ``open_tile`` vs a 6-date ``load_stack``.

Builds (once, cached) a full-size Sentinel-2-like tile: 10980 × 10980 px, 4 bands (B02, B03,
B04, B08) uint16, 512-px tiles, deflate, EPSG:32647, then times in one run:

(a) a plain rasterio read of all bands (the baseline),
(b) ``minewatch.open_tile`` to float32 reflectance (target ≤ 1.5 × (a)),
(c) ``minewatch.load_stack`` of 6 dates of that tile, dask-chunked, reduced to a per-date mean
    (target: peak memory ≤ 3 GB although the stack is ~11.6 GB as float32).

Each part runs in a fresh child process so its peak memory (max RSS) is its own; times are
wall-clock inside the child after its imports, and ratios are against (a) measured in the same
run. (a) and (b) are the median of ``--repeat`` runs.

    python benchmarks/ingest.py                 # full size (first run writes ~1 GB of tiles)
    python benchmarks/ingest.py --size 2048     # quick look
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

import numpy as np
from _harness import measured, run_part

BANDS = ("B02", "B03", "B04", "B08")
N_DATES = 6


def make_tile(path: Path, size: int, seed: int = 0) -> None:
    """Write the benchmark tile block-row by block-row (bounded memory), seeded."""
    import rasterio
    from rasterio.transform import from_origin
    from rasterio.windows import Window

    rng = np.random.default_rng(seed)
    profile = dict(
        driver="GTiff", width=size, height=size, count=len(BANDS), dtype="uint16",
        crs="EPSG:32647", transform=from_origin(300000.0, 2900040.0, 10.0, 10.0), nodata=0,
        tiled=True, blockxsize=512, blockysize=512, compress="deflate", interleave="band",
        BIGTIFF="IF_SAFER", num_threads="ALL_CPUS",
    )
    tmp = path.with_suffix(".tmp.tif")
    base = np.array([600, 900, 800, 3000], dtype=np.float32)
    with rasterio.open(tmp, "w", **profile) as dst:
        for i, name in enumerate(BANDS, start=1):
            dst.set_band_description(i, name)
        for row in range(0, size, 512):
            h = min(512, size - row)
            # smooth-ish land surface + sensor noise: compresses like real reflectance
            trend = np.linspace(0.8, 1.2, size, dtype=np.float32)[None, :]
            for i in range(len(BANDS)):
                noise = rng.normal(0, 60, (h, size)).astype(np.float32)
                block = np.clip(base[i] * trend + noise, 1, 10000).astype(np.uint16)
                dst.write(block, i + 1, window=Window(0, row, size, h))
    tmp.replace(path)


def _child(part: str, folder: Path) -> dict:
    # Import first, then time: each figure is the work itself, not the interpreter start-up
    # or the import of minewatch's dependencies (odc-stac, geopandas: ~1 s, paid once).
    import rasterio

    import minewatch

    def read() -> float:
        with rasterio.open(folder / "T47QMB_20210201.tif") as src:
            data = src.read()
        return float(data[0, ::97, ::97].mean())

    def open_tile() -> float:
        tile = minewatch.open_tile(folder / "T47QMB_20210201.tif")
        return float(tile.values[0, ::97, ::97].mean())

    def load_stack() -> list[float]:
        paths = sorted(folder.glob("T47QMB_*.tif"))
        stack = minewatch.load_stack(paths, chunks=2048, skip_empty=False)
        return [float(v) for v in stack.mean(["band", "y", "x"]).compute().values]

    return measured({"read": read, "open_tile": open_tile, "load_stack": load_stack}[part])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10980, help="tile side in pixels")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "mw-bench")
    parser.add_argument("--repeat", type=int, default=3, help="runs of (a) and (b); median kept")
    parser.add_argument("--part", help=argparse.SUPPRESS)
    args = parser.parse_args()
    folder = args.workdir / f"ingest_{args.size}"

    if args.part:
        print(json.dumps(_child(args.part, folder)))
        return

    folder.mkdir(parents=True, exist_ok=True)
    first = folder / "T47QMB_20210201.tif"
    if not first.exists():
        print(f"writing {args.size}² × {len(BANDS)}-band tile to {first} ...", flush=True)
        make_tile(first, args.size)
    # 6 dates of the same pixels (hard links): same bytes, distinct scenes by file-name date.
    for k in range(1, N_DATES):
        other = folder / f"T47QMB_2021{2 + k:02d}01.tif"
        if not other.exists():
            os.link(first, other)

    def run(part: str) -> dict:
        return run_part(__file__, part, "--size", str(args.size), "--workdir", str(args.workdir))

    def median_of(part: str) -> dict:
        runs = sorted((run(part) for _ in range(args.repeat)), key=lambda r: r["seconds"])
        return runs[len(runs) // 2]

    run("read")  # warm the page cache so (a) and (b) both read from memory
    a, b, c = median_of("read"), median_of("open_tile"), run("load_stack")
    mpx = args.size * args.size / 1e6
    stack_gb = N_DATES * len(BANDS) * args.size * args.size * 4 / 1e9
    print(f"\nIngest benchmark: {args.size} x {args.size} px, {len(BANDS)} bands uint16 "
          f"({mpx:.0f} MP per band), {os.cpu_count()} cores")
    print(f"{'step':<44}{'seconds':>9}{'MP/s':>9}{'ratio':>8}{'peak MB':>10}")
    rows = [
        ("(a) rasterio read, all bands [baseline]", a, mpx * len(BANDS), 1.0),
        ("(b) open_tile -> float32 reflectance", b, mpx * len(BANDS), b["seconds"] / a["seconds"]),
        (f"(c) load_stack {N_DATES} dates, per-date mean", c, mpx * len(BANDS) * N_DATES,
         c["seconds"] / a["seconds"]),
    ]
    for name, r, work, ratio in rows:
        print(f"{name:<44}{r['seconds']:>9.2f}{work / r['seconds']:>9.1f}{ratio:>8.2f}"
              f"{r['peak_mb']:>10.0f}")
    print(f"\n(b)/(a) = {b['seconds'] / a['seconds']:.2f}  (target <= 1.5)")
    print(f"(c) per date / (a) = {c['seconds'] / N_DATES / a['seconds']:.2f}")
    print(f"(c) peak memory = {c['peak_mb'] / 1024:.2f} GB for a {stack_gb:.1f} GB float32 stack "
          "(target <= 3 GB)")
    print(f"(c) per-date means: {[round(v, 4) for v in c['result']]}")


if __name__ == "__main__":
    main()
