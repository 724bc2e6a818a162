"""Command line: ``python -m minewatch.synth``.

    python -m minewatch.synth --sample-archive sample_tiles [--overwrite]
    python -m minewatch.synth OUT --layout landsat --resolution 30 --seed 3 [--overwrite]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m minewatch.synth",
                                     description="Generate synthetic scenes with ground truth.")
    parser.add_argument("out", type=Path, nargs="?", help="archive folder to write")
    parser.add_argument("--sample-archive", type=Path, metavar="DIR",
                        help="regenerate the shipped sample archive in DIR")
    parser.add_argument("--layout", default="sentinel2")
    parser.add_argument("--resolution", type=float, default=10.0, help="pixel size, m")
    parser.add_argument("--size", type=int, nargs=2, default=(400, 400), metavar=("ROWS", "COLS"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dates", nargs="+", default=None, help="YYYY-MM-DD ...")
    parser.add_argument("--lonlat", type=float, nargs=2, default=(98.33, 25.72))
    parser.add_argument("--crs", default="EPSG:32647")
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args(argv)

    from minewatch.errors import MinewatchError

    start = time.perf_counter()
    try:
        if args.sample_archive is not None:
            from minewatch.synth.sample import make_sample_archive

            archives = make_sample_archive(args.sample_archive, overwrite=args.overwrite)
            n_files = sum(len(a.files()) for a in archives)
            where = args.sample_archive
        elif args.out is not None:
            from minewatch.synth import DEFAULT_DATES, make_archive

            archive = make_archive(
                args.out, seed=args.seed, resolution_m=args.resolution, layout=args.layout,
                dates=tuple(args.dates or DEFAULT_DATES), shape=tuple(args.size),
                origin_lonlat=tuple(args.lonlat), crs=args.crs, overwrite=args.overwrite)
            n_files, where = len(archive.files()), args.out
        else:
            parser.error("give an output folder or --sample-archive DIR")
    except MinewatchError as err:
        print(f"minewatch.synth: error: {err}", file=sys.stderr)
        return 1
    print(f"wrote {n_files} files under {where}/ in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
