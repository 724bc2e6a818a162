"""Detection speed: full Sentinel-2-size tile, reflectance → pool and clearing polygons.

Builds (once, cached) a 10980 × 10980 px, 6-band (B02 B03 B04 B08 B11 B12) uint16 tile per
date from a generated 1098² px scene (``minewatch.synth``, seed 7) repeated 10 × 10, so its
content (forest, clearings, pools, rivers, roofs, clouds) is realistic and its size is real.
Then, each in a fresh child process (own peak memory), timed after imports:

(a) a plain rasterio read of all bands of the last date (the baseline),
(a6) the same read of all six dates (what (c) reads; printed with (c) only),
(b) ``detect_pools`` on the last date read with ``open_tile`` (chunked),
(c) ``detect_clearings`` on the 6-date ``load_stack`` (chunked).

Two layouts of the same pixels (``--layout``):

* ``bands`` (default; the issue's reference, "10980 × 10980, 4 bands"): per date a folder of
  four single-band GeoTIFFs, ``B02.tif B03.tif B04.tif B08.tif`` (the 10 m bands, one file
  per band as Sentinel-2 L2A delivers them; written from the ``stack`` files, cached);
* ``stack``: one 6-band, pixel-interleaved GeoTIFF per date (GDAL's default for a multi-band
  file). ``load_stack`` reads band by band (odc-stac), and each band's read decodes all six
  bands of the file, so (c) pays six decodes of every date there.

Targets (issue 4): detection ≤ 3 × (a), peak memory ≤ 4 GB.

    python benchmarks/detect.py               # full size (first run writes ~6 × 0.9 GB)
    python benchmarks/detect.py --repeat 4    # smaller: a 4 × 4 mosaic of the scene
    python benchmarks/detect.py --steps clearings   # (a) and (c) only: the read is the unit
    python benchmarks/detect.py --layout stack      # the 6-band multi-band files
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

import numpy as np
from _harness import measured, run_part

DATES = ("2020-02-14", "2020-12-10", "2021-02-20", "2022-01-05", "2023-02-01", "2024-02-10")
BASE = 1098
NAMES = ("B02", "B03", "B04", "B08", "B11", "B12")


def build(folder: Path, repeat: int) -> list[Path]:
    """Write one multi-band Sentinel-2-style GeoTIFF per date (cached)."""
    import rasterio
    from rasterio.windows import Window

    from minewatch.synth import generate_scenes, s2_dn

    paths = [folder / f"S2B_47RMJ_{d.replace('-', '')}_L2A_stack.tif" for d in DATES]
    if all(p.exists() for p in paths):
        return paths
    folder.mkdir(parents=True, exist_ok=True)
    scenes = generate_scenes(seed=7, resolution_m=10.0, shape=(BASE, BASE), dates=DATES)
    refl = scenes.reflectance
    transform = refl.rio.transform()
    size = BASE * repeat
    for t, path in enumerate(paths):
        date = refl["time"].values[t]
        dn = np.asarray(s2_dn(refl.isel(time=t).values, date))
        profile = dict(driver="GTiff", width=size, height=size, count=len(NAMES),
                       dtype="uint16", crs=refl.rio.crs, transform=transform, nodata=0,
                       tiled=True, blockxsize=512, blockysize=512, compress="deflate",
                       BIGTIFF="IF_SAFER", num_threads="ALL_CPUS")
        tmp = path.with_suffix(".tmp.tif")
        with rasterio.open(tmp, "w", **profile) as dst:
            for i, name in enumerate(NAMES, start=1):
                dst.set_band_description(i, name)
            day = str(np.datetime_as_string(date, unit="D"))
            dst.update_tags(ACQUISITION_DATE=day)
            for row in range(repeat):
                block = np.tile(dn, (1, 1, repeat))
                dst.write(block, window=Window(0, row * BASE, size, BASE))
        tmp.replace(path)
    return paths


BAND_FILES = ("B02", "B03", "B04", "B08")


def build_bands(stacks: list[Path], folder: Path) -> list[Path]:
    """One folder per date of single-band GeoTIFFs of the 10 m bands, copied from the
    ``stack`` files (same pixels, profile and date tag; cached)."""
    import rasterio
    from rasterio.windows import Window

    dates = [folder / p.name.replace("_stack.tif", "") for p in stacks]
    if all((d / f"{b}.tif").exists() for d in dates for b in BAND_FILES):
        return dates
    for stack, date in zip(stacks, dates, strict=True):
        date.mkdir(parents=True, exist_ok=True)
        with rasterio.open(stack) as src:
            profile = src.profile | {"count": 1, "BIGTIFF": "IF_SAFER"}
            for band in BAND_FILES:
                index = src.descriptions.index(band) + 1
                path = date / f"{band}.tif"
                tmp = path.with_suffix(".tmp.tif")
                with rasterio.open(tmp, "w", **profile) as dst:
                    dst.set_band_description(1, band)
                    dst.update_tags(**src.tags())
                    for row in range(0, src.height, 2048):
                        window = Window(0, row, src.width, min(2048, src.height - row))
                        dst.write(src.read(index, window=window), 1, window=window)
                tmp.replace(path)
    return dates


def _child(part: str, paths: list[Path]) -> dict:
    import rasterio

    import minewatch
    from minewatch.detect import detect_clearings, detect_pools

    def read(dates: list[Path]) -> int:
        files = [f for d in dates
                 for f in ([d / f"{b}.tif" for b in BAND_FILES] if d.is_dir() else [d])]
        seen = 0
        for file in files:
            with rasterio.open(file) as src:
                seen += int(src.read()[0, ::101, ::101].sum() > 0)
        return seen

    steps = {
        "read": lambda: read(paths[-1:]),
        "read_all": lambda: read(paths),
        "pools": lambda: len(detect_pools(minewatch.open_tile(paths[-1], chunks=2048))),
        "clearings": lambda: len(detect_clearings(
            minewatch.load_stack(paths, chunks=2048, skip_empty=False))),
    }
    return measured(steps[part])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10, help="mosaic factor (10 → 10980 px)")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "mw-bench")
    parser.add_argument("--steps", default="pools,clearings",
                        help="comma-separated steps to run besides the read (a): pools, "
                             "clearings (default both)")
    parser.add_argument("--layout", choices=("bands", "stack"), default="bands",
                        help="bands: a folder of 4 single-band files per date (default); "
                             "stack: one 6-band file per date")
    parser.add_argument("--part", help=argparse.SUPPRESS)
    args = parser.parse_args()
    folder = args.workdir / f"detect_{args.repeat}"
    bands_folder = args.workdir / f"detect_{args.repeat}_bands"
    if args.part == "build":  # in a child: Linux passes a parent's max RSS on to its children
        stacks = build(folder, args.repeat)
        if args.layout == "bands":
            build_bands(stacks, bands_folder)
        print(json.dumps({}))
        return
    if args.part:
        if args.layout == "bands":
            paths = sorted(p for p in bands_folder.iterdir() if p.is_dir())
        else:
            paths = sorted(folder.glob("*_stack.tif"))
        print(json.dumps(_child(args.part, paths)))
        return
    print(f"building {len(DATES)} dates of {BASE * args.repeat}² px in {folder} (cached) ...",
          flush=True)
    if args.layout == "bands":
        print(f"single-band files of {', '.join(BAND_FILES)} in {bands_folder} (cached) ...",
              flush=True)

    def run(part: str) -> dict:
        return run_part(__file__, part, "--repeat", str(args.repeat), "--workdir",
                        str(args.workdir), "--layout", args.layout)

    run("build")

    steps = [s.strip() for s in args.steps.split(",") if s.strip()]
    unknown = sorted(set(steps) - {"pools", "clearings"})
    if unknown:
        parser.error(f"unknown step(s) {unknown}; choose from pools, clearings")
    run("read")  # warm the page cache
    a = run("read")
    # each step's own process; (a) is always measured: the ratios are to it, from this run
    rows = [("(a) rasterio read, last date [baseline]", a, a)]
    if "pools" in steps:
        rows.append(("(b) detect_pools, last date", run("pools"), a))
    if "clearings" in steps:
        # (c) reads six dates: its ratio to a plain read of those six is printed beside
        run("read_all")  # warm the page cache for the six dates, as for (a)
        a6 = run("read_all")
        rows.append((f"(a6) rasterio read, all {len(DATES)} dates", a6, a6))
        rows.append((f"(c) detect_clearings, {len(DATES)}-date stack", run("clearings"), a6))
    size = BASE * args.repeat
    mpx = size * size / 1e6
    layout = (f"{len(BAND_FILES)} bands, one file per band" if args.layout == "bands"
              else f"{len(NAMES)} bands in one pixel-interleaved file")
    print(f"\nDetection benchmark: {size} x {size} px ({mpx:.0f} MP), {layout}, "
          f"{len(DATES)} dates, {os.cpu_count()} cores")
    print(f"{'step':<46}{'seconds':>9}{'MP/s':>8}{'ratio':>8}{'x own':>7}{'peak MB':>9}"
          f"{'objects':>9}")
    for name, r, own in rows:
        print(f"{name:<46}{r['seconds']:>9.2f}{mpx / r['seconds']:>8.1f}"
              f"{r['seconds'] / a['seconds']:>8.2f}{r['seconds'] / own['seconds']:>7.2f}"
              f"{r['peak_mb']:>9.0f}{r['result']:>9}")
    print("\nratio: to (a), the target's unit; x own: to a plain read of the dates the step "
          "reads\n(one for pools, six for clearings: (a6)). objects: for the reads, bands "
          "files with data")
    print("targets: ratio <= 3, peak memory <= 4096 MB")


if __name__ == "__main__":
    main()
