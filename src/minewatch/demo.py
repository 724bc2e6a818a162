"""The demo behind ``make demo``: the whole pipeline on the sample archive.

    minewatch demo sample_tiles out          (or: python -m minewatch.demo sample_tiles out)

Writes, with :func:`minewatch.analyze`:

* ``out/``: the output layout for the sensor with the most dates (Sentinel-2 in the sample
  archive: 5 dates 2020–2024 over its 3.6 km footprint) — ``scenes.csv``, ``pools.gpkg``,
  ``clearings.gpkg``, ``sites.gpkg``, ``site_history.csv``, ``events.csv``, ``timeseries.csv``,
  ``change/``, ``imagery/``, ``figures/``, ``report.html``, ``webmap.html``, ``manifest.json``;
* ``out/<sensor>/``: the same for each other sensor (PlanetScope 3 m over ``aoi.geojson``);
* ``out/quicklooks/<sensor>_<YYYY-MM-DD>_truecolour.png`` (detected pools and clearings
  outlined) and ``..._ndvi.png`` for every date.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib


def _quicklooks(analysis, archive: Path, aoi, out: Path) -> list[Path]:
    """True-colour (with the detections) and NDVI quick-looks of every date of an analysis."""
    import matplotlib.pyplot as plt
    import pandas as pd

    from minewatch.io import load_stack
    from minewatch.io.write import atomic_path
    from minewatch.plot import plot_ndvi, plot_true_colour

    used = analysis.scenes[analysis.scenes["status"] == "used"]
    sensor = str(used["sensor"].iloc[0])
    from minewatch.io import scan_archive

    scenes = scan_archive(archive)
    stack = load_stack(scenes[scenes["scene_id"].isin(used["scene_id"])], aoi).compute()
    resolution = abs(stack.rio.resolution()[0])
    written = []
    for t in range(stack.sizes["time"]):
        scene = stack.isel(time=t)
        day = pd.Timestamp(scene["time"].values).normalize()
        pools = analysis.pools[analysis.pools["date"] == day]
        clearings = analysis.clearings[analysis.clearings["date"] == day]
        label = f"{sensor} {day.date()} ({resolution:g} m)"
        panels = [("truecolour", plot_true_colour)]
        if "nir" in stack["band"].values:
            panels.append(("ndvi", plot_ndvi))
        for kind, draw in panels:
            fig, ax = plt.subplots(figsize=(6, 5.5), layout="constrained")
            extra = ({"pools": pools, "clearings": clearings if len(clearings) else None}
                     if kind == "truecolour" else {})
            draw(scene, ax=ax, title=f"{'True colour' if kind == 'truecolour' else 'NDVI'}"
                 f" — {label}", **extra)
            target = out / "quicklooks" / f"{sensor}_{day.date()}_{kind}.png"
            with atomic_path(target) as tmp:
                fig.savefig(tmp, dpi=100, format="png")
            plt.close(fig)
            written.append(target)
    return written


def run_demo(archive: Path, out: Path) -> list[Path]:
    """Run the demo; return the files written."""
    matplotlib.use("Agg")
    from minewatch.io import scan_archive
    from minewatch.pipeline import analyze

    archive, out = Path(archive), Path(out)
    written: list[Path] = []
    sensors = scan_archive(archive).groupby("sensor")["date"].nunique()
    order = sorted(sensors.index, key=lambda s: (-sensors[s], s))
    aoi_file = archive / "aoi.geojson"
    for i, sensor in enumerate(order):
        target = out if i == 0 else out / sensor
        # the main sensor over its whole footprint; the others over the archive's AOI
        aoi = aoi_file if i > 0 and aoi_file.exists() else None
        print(f"analysing {sensor} ({sensors[sensor]} dates) -> {target}/")
        analysis = analyze(archive, aoi=aoi, out_dir=target, sensor=sensor, overwrite=True)
        series = analysis.timeseries
        print(series[["date", "sites", "sites_low", "sites_high", "pools", "cleared_area_m2",
                      "valid_fraction"]].to_string(index=False))
        written += list(analysis.files)
        written += _quicklooks(analysis, archive, aoi, out)
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
