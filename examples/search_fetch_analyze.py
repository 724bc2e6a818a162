"""From an area and a period to results, in three lines: search → fetch → analyze.

    python examples/search_fetch_analyze.py --aoi aoi.geojson --start 2019-01-01 \
        --end 2025-12-31 --max-cloud 30 --archive archive --out results

Searches a STAC API (default Earth Search; ``--api planetary-computer`` or any STAC API URL),
downloads only the AOI window of each Sentinel-2 L2A scene into ``--archive`` (resumable: run
it again after an interruption), and runs the whole analysis into ``--out``. The same from the
terminal: ``minewatch search`` / ``minewatch fetch`` / ``minewatch run`` (docs/cli.md).
"""

from __future__ import annotations

import argparse

from minewatch.acquire import fetch, search
from minewatch.pipeline import analyze


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api", default="earth-search", help="preset or STAC API URL")
    parser.add_argument("--collection", default="sentinel-2-l2a")
    parser.add_argument("--aoi", required=True, help="vector file of the area (any CRS)")
    parser.add_argument("--start", required=True, help="YYYY-MM-DD")
    parser.add_argument("--end", required=True, help="YYYY-MM-DD")
    parser.add_argument("--max-cloud", type=float, default=30.0, help="percent")
    parser.add_argument("--archive", default="archive", help="folder for the imagery")
    parser.add_argument("--out", default="results", help="folder for the results")
    args = parser.parse_args(argv)

    # --- the three lines ---
    items = search(args.api, args.collection, args.aoi, args.start, args.end,
                   max_cloud=args.max_cloud)
    fetched = fetch(items, args.aoi, args.archive)
    result = analyze(fetched.out_dir, aoi=args.aoi, out_dir=args.out)
    # -----------------------

    print(f"{len(items)} scenes found, {len(fetched.fetched)} fetched, "
          f"{len(fetched.skipped)} already there, {len(fetched.failed)} failed")
    for failure in fetched.failed:
        print(f"  not fetched: {failure.item_id} {failure.asset or ''}: {failure.reason}")
    print(f"{len(result.sites)} sites, {len(result.pools)} pool detections "
          f"on {len(result.timeseries['date'].unique())} dates; results in {args.out}/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
