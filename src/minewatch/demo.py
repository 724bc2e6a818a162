"""The demo behind ``make demo``: scan an archive, stack it over its AOI, write quick-looks.

    minewatch demo sample_tiles out          (or: python -m minewatch.demo sample_tiles out)

Writes ``out/scenes.csv`` (one row per scene) and, per sensor and date,
``out/quicklooks/<sensor>_<YYYY-MM-DD>_truecolour.png`` (with detected pools and clearings
outlined) and ``..._ndvi.png``, ``out/detections/<sensor>_<YYYY-MM-DD>_pools.gpkg`` and
``..._clearings.gpkg`` (from the second date on: clearings need earlier dates as a baseline).
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib


def _write_layer(frame, path: Path) -> Path:
    """Write a GeoDataFrame as a one-layer GeoPackage, atomically (layer named by the file)."""
    from minewatch.io.write import atomic_path

    with atomic_path(path) as tmp:
        frame.to_file(tmp, driver="GPKG", layer=path.stem)
    return path


def run_demo(archive: Path, out: Path) -> list[Path]:
    """Run the demo; return the files written."""
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    from minewatch.config import DetectionConfig
    from minewatch.detect import detect_clearings, detect_pools
    from minewatch.io import load_stack, scan_archive
    from minewatch.io.write import atomic_path, write_table
    from minewatch.plot import plot_ndvi, plot_true_colour

    written: list[Path] = []
    scenes = scan_archive(archive)
    written.append(write_table(scenes, out / "scenes.csv"))
    print(f"{len(scenes)} scenes in {archive}:")
    print(scenes[["scene_id", "date", "sensor", "resolution_m", "cloud_fraction"]]
          .to_string(index=False))
    aoi_file = archive / "aoi.geojson"
    aoi = aoi_file if aoi_file.exists() else None  # None: each sensor over its own footprint
    for sensor, group in scenes.groupby("sensor", sort=True):
        stack = load_stack(group, aoi).compute()
        config = DetectionConfig.preset(str(sensor))
        for t in range(stack.sizes["time"]):
            scene = stack.isel(time=t)
            day = pd.Timestamp(scene["time"].values).date()
            stem = f"{sensor}_{day}"
            resolution = abs(stack.rio.resolution()[0])
            label = f"{sensor} {day} ({resolution:g} m)"
            pools = detect_pools(scene, config)
            written.append(_write_layer(pools, out / "detections" / f"{stem}_pools.gpkg"))
            clearings = None
            if t > 0:
                clearings = detect_clearings(stack, config.clearings, date=t, pools=pools)
                written.append(
                    _write_layer(clearings, out / "detections" / f"{stem}_clearings.gpkg"))
            print(f"  {stem}: {len(pools)} pools"
                  + (f", {len(clearings)} clearings" if clearings is not None else ""))
            panels = [("truecolour", plot_true_colour)]
            if "nir" in stack["band"].values:
                panels.append(("ndvi", plot_ndvi))
            for kind, draw in panels:
                fig, ax = plt.subplots(figsize=(6, 5.5), layout="constrained")
                extra = {"pools": pools, "clearings": clearings} if kind == "truecolour" else {}
                draw(scene, ax=ax, title=f"{'True colour' if kind == 'truecolour' else 'NDVI'}"
                     f" — {label}", **extra)
                target = out / "quicklooks" / f"{stem}_{kind}.png"
                with atomic_path(target) as tmp:
                    fig.savefig(tmp, dpi=100, format="png")
                plt.close(fig)
                written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    """``python -m minewatch.demo [ARCHIVE] [OUT]``: the ``minewatch demo`` command.

    Kept for ``make demo``; like before, it writes into an existing OUT (``--overwrite``).
    Returns the exit status (0 ok, 1 minewatch error; see :mod:`minewatch.cli`).
    """
    from minewatch.cli import main as cli_main

    args = list(sys.argv[1:] if argv is None else argv)
    if "--overwrite" not in args:
        args.append("--overwrite")
    return cli_main(["demo", *args], prog_name="python -m minewatch.demo")


if __name__ == "__main__":
    raise SystemExit(main())
