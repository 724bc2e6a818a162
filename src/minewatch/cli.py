"""The ``minewatch`` command: search, fetch, scan, run, verify, report, demo, synth (click).

A thin layer over the public API: each command parses options, calls one minewatch function
and prints what it did. The analysis libraries are imported inside the commands that need
them. The reference, with a transcript, is docs/cli.md.

Exit codes
----------
0
    Success.
1
    A minewatch error: unreadable input, empty archive, bad configuration, an output that
    exists without ``--overwrite``... One line on stderr names the file and the problem.
2
    Usage error: unknown option, missing argument, bad value.
3
    ``verify`` found problems (changed or missing inputs/outputs).
4
    ``fetch`` finished but some scenes failed (listed); the others were written.
70
    Internal error (a bug): one line, and the traceback with ``--debug``.
130
    Interrupted (Ctrl-C).
"""

from __future__ import annotations

import logging
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

__all__ = ["EXIT_CODES", "cli", "main"]

#: Exit status → meaning (documented in ``minewatch --help`` and docs/cli.md).
EXIT_CODES: dict[int, str] = {
    0: "success",
    1: "minewatch error (input, configuration, existing output...); one line on stderr",
    2: "usage error (unknown option, missing argument, bad value)",
    3: "verify found problems",
    4: "fetch: some scenes failed (the others were written)",
    70: "internal error (a bug; rerun with --debug for the traceback)",
    130: "interrupted",
}

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_VERIFY, EXIT_PARTIAL, EXIT_BUG, EXIT_INTERRUPT = (
    0, 1, 2, 3, 4, 70, 130)

#: click >= 8.2 raises this for a bare `minewatch` (older click prints the help itself).
_NO_ARGS_IS_HELP: Any = getattr(click.exceptions, "NoArgsIsHelpError", ())

_STATE: dict[str, Any] = {"debug": False, "quiet": False, "verbose": 0}


class CommandError(click.ClickException):
    """A one-line error with an exit code (raised by the commands themselves)."""

    def __init__(self, message: str, exit_code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.exit_code = exit_code


# --- output helpers ----------------------------------------------------------------------------

def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def _say(message: str = "") -> None:
    """Print a result line unless --quiet."""
    if not _STATE["quiet"]:
        click.echo(message)


def _progress() -> bool:
    """Progress bars: on an interactive terminal, not with --quiet."""
    return not _STATE["quiet"] and sys.stderr.isatty()


def _show_warning(message: Any, category: Any, filename: str, lineno: int, file: Any = None,
                  line: str | None = None) -> None:
    if _STATE["quiet"]:
        return
    click.echo(f"minewatch: warning: {_one_line(message)}", err=True)


def _configure(quiet: bool, verbose: int, debug: bool) -> None:
    _STATE["quiet"] = _STATE["quiet"] or quiet
    _STATE["verbose"] = max(_STATE["verbose"], verbose)
    _STATE["debug"] = _STATE["debug"] or debug
    level = logging.WARNING
    if _STATE["verbose"] >= 1:
        level = logging.INFO
    if _STATE["debug"] or _STATE["verbose"] >= 2:
        level = logging.DEBUG
    if _STATE["quiet"]:
        level = logging.ERROR
    logging.basicConfig(level=level, format="minewatch: %(levelname)s: %(message)s",
                        stream=sys.stderr, force=True)
    logging.getLogger("minewatch").setLevel(level)
    for noisy in ("rasterio", "urllib3", "distributed", "fiona", "pyogrio", "pystac_client"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if _STATE["debug"] else logging.ERROR)
    warnings.showwarning = _show_warning
    # harmless: odc-geo's in-memory reprojection of ungeoreferenced arrays
    warnings.filterwarnings("ignore", message="Dataset has no geotransform")


def _verbosity(func: Callable[..., Any]) -> Callable[..., Any]:
    """--quiet / --verbose / --debug, accepted before or after the command name."""

    def set_quiet(ctx: click.Context, param: click.Parameter, value: bool) -> None:
        if value:
            _configure(True, 0, False)

    def set_verbose(ctx: click.Context, param: click.Parameter, value: int) -> None:
        if value:
            _configure(False, value, False)

    def set_debug(ctx: click.Context, param: click.Parameter, value: bool) -> None:
        if value:
            _configure(False, 0, True)

    func = click.option("--debug", is_flag=True, expose_value=False, callback=set_debug,
                        is_eager=True, help="Show full tracebacks and debug logging.")(func)
    func = click.option("-v", "--verbose", count=True, expose_value=False, callback=set_verbose,
                        is_eager=True, help="More messages (-vv: debug).")(func)
    func = click.option("-q", "--quiet", is_flag=True, expose_value=False, callback=set_quiet,
                        is_eager=True, help="Only errors; no progress bars.")(func)
    return func


def _refuse_overwrite(path: Path, overwrite: bool, what: str = "") -> None:
    """Stop when ``path`` exists (a non-empty folder, or a file) and --overwrite is not given."""
    exists = path.is_file() or (path.is_dir() and any(path.iterdir()))
    if exists and not overwrite:
        raise CommandError(
            f"{path}: {what or 'the output'} already exists; pass --overwrite to replace it, or "
            "choose another path."
        )


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"minewatch": _minewatch_version(), "python": sys.version.split()[0]}
    for name in ("numpy", "pandas", "xarray", "dask", "distributed", "rasterio", "rioxarray",
                 "geopandas", "shapely", "pyogrio", "pyproj", "odc-stac", "odc-geo", "pystac",
                 "pystac-client", "scikit-image", "scipy", "scikit-learn", "matplotlib",
                 "click", "tqdm", "planetary-computer"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    try:
        import rasterio

        out["GDAL"] = rasterio.__gdal_version__
    except ImportError:  # pragma: no cover - rasterio is a dependency
        out["GDAL"] = "unknown"
    try:
        import pyproj

        out["PROJ"] = pyproj.proj_version_str
    except ImportError:  # pragma: no cover
        pass
    try:
        import shapely

        out["GEOS"] = shapely.geos_version_string
    except ImportError:  # pragma: no cover
        pass
    import platform

    out["platform"] = platform.platform()
    return out


def _minewatch_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("minewatch")
    except PackageNotFoundError:  # pragma: no cover - source tree without install
        return "0.0.0"


def _show_versions(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    for name, text in _versions().items():
        click.echo(f"{name:<18} {text}")
    ctx.exit(0)


_EXIT_HELP = "\n".join(f"  {code:<4} {meaning}" for code, meaning in EXIT_CODES.items())


# --- the group ---------------------------------------------------------------------------------

@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog="\b\nExit codes:\n" + _EXIT_HELP + "\n\n\b\nExamples:\n"
    "  minewatch search --aoi aoi.geojson --start 2019-01-01 --end 2025-12-31 "
    "--max-cloud 30 -o items.json\n"
    "  minewatch fetch archive --aoi aoi.geojson --items items.json\n"
    "  minewatch run archive --aoi aoi.geojson --out results\n"
    "  minewatch report results\n\n"
    "Run 'minewatch COMMAND --help' for the options and an example of each command.",
)
@click.version_option(_minewatch_version(), "--version", prog_name="minewatch",
                      message="%(prog)s %(version)s")
@click.option("--show-versions", is_flag=True, expose_value=False, is_eager=True,
              callback=_show_versions,
              help="Show the versions of minewatch, its key libraries and GDAL, and exit.")
@_verbosity
def cli() -> None:
    """Find rare-earth leaching pools and mining clearings in satellite imagery.

    From an area and a period to maps and counts: search a STAC catalogue, fetch only the
    pixels of the area, run the analysis over the local archive, check and report it.
    """
    _configure(False, 0, False)


# --- search / fetch ----------------------------------------------------------------------------

def _search_options(func: Callable[..., Any]) -> Callable[..., Any]:
    # Names spelled out here (not imported from minewatch.acquire) to keep --help fast.
    opts = [
        click.option("--api", default="earth-search", show_default=True, metavar="NAME|URL",
                     help="STAC API: a preset (earth-search, planetary-computer) or any STAC "
                          "API URL."),
        click.option("--collection", default="sentinel-2-l2a", show_default=True,
                     help="Collection id (sentinel-2-l2a, landsat-c2-l2 on both presets)."),
        click.option("--start", metavar="YYYY-MM-DD", help="First day (inclusive, UTC)."),
        click.option("--end", metavar="YYYY-MM-DD", help="Last day (inclusive, UTC)."),
        click.option("--max-cloud", type=click.FloatRange(0, 100), metavar="PERCENT",
                     help="Keep scenes with eo:cloud_cover at most PERCENT (0–100)."),
        click.option("--limit", type=click.IntRange(1), metavar="N",
                     help="At most N scenes (the earliest)."),
    ]
    for opt in reversed(opts):
        func = opt(func)
    return func


def _do_search(api: str, collection: str, aoi: str, start: str | None, end: str | None,
               max_cloud: float | None, limit: int | None) -> Any:
    from minewatch.acquire import search

    if not start or not end:
        raise click.UsageError("give --start and --end (YYYY-MM-DD) to search.")
    return search(api, collection, aoi, start, end, max_cloud=max_cloud, limit=limit)


def _item_table(items: Sequence[Any]) -> str:
    import pandas as pd

    rows = [{
        "id": item.id,
        "date": (item.datetime.strftime("%Y-%m-%d %H:%M") if item.datetime else ""),
        "cloud_%": item.properties.get("eo:cloud_cover"),
        "platform": item.properties.get("platform", ""),
        "bands": len(item.assets),
    } for item in items]
    frame = pd.DataFrame(rows, columns=["id", "date", "cloud_%", "platform", "bands"])
    frame = frame.rename(columns={"bands": "assets"})
    return frame.to_string(index=False, float_format=lambda v: f"{v:.1f}")


@cli.command()
@click.option("--aoi", required=True, metavar="FILE",
              help="Area of interest: any vector file (GeoJSON, GeoPackage...), any CRS.")
@_search_options
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              metavar="FILE", help="Save the items found as a STAC ItemCollection JSON.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --output file.")
@_verbosity
def search(aoi: str, api: str, collection: str, start: str | None, end: str | None,
           max_cloud: float | None, limit: int | None, output: Path | None,
           overwrite: bool) -> None:
    """Search a STAC API for the scenes over an area and period.

    Prints one line per scene (id, date, cloud cover, platform); with -o, saves them as a
    STAC ItemCollection that 'minewatch fetch --items' reads. --start and --end are required.

    \b
    Example:
      minewatch search --aoi aoi.geojson --start 2019-01-01 --end 2025-12-31 \\
          --max-cloud 30 --api earth-search --collection sentinel-2-l2a -o items.json
    """
    if output is not None:
        _refuse_overwrite(output, overwrite, "the items file")
    items = _do_search(api, collection, aoi, start, end, max_cloud, limit)
    if len(items) == 0:
        _say(f"no scene of {collection} over {aoi} between {start} and {end}"
             + (f" with at most {max_cloud:g} % cloud" if max_cloud is not None else ""))
    else:
        _say(_item_table(list(items)))
        _say(f"{len(items)} scene(s) of {collection}")
    if output is not None:
        import json

        from minewatch.io.write import atomic_path

        with atomic_path(output) as tmp:
            tmp.write_text(json.dumps(items.to_dict(transform_hrefs=False)))
        _say(f"wrote {output}")


@cli.command()
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--aoi", required=True, metavar="FILE",
              help="Area of interest (vector file, any CRS): only its window is read.")
@click.option("--items", "items_file", type=click.Path(dir_okay=False, path_type=Path),
              metavar="FILE", help="Items from 'minewatch search -o' (else search now).")
@_search_options
@click.option("--bands", metavar="LIST",
              help="Comma-separated band roles or names (default: blue,green,red,nir,swir1,"
                   "swir2); the cloud mask is always added.")
@click.option("--workers", type=click.IntRange(1), default=4, show_default=True, metavar="N",
              help="Scenes downloaded at once.")
@click.option("--retries", type=click.IntRange(0), default=3, show_default=True, metavar="N",
              help="Retries of a failed read (back-off 0.5, 1, 2... s).")
@_verbosity
def fetch(out_dir: Path, aoi: str, items_file: Path | None, api: str, collection: str,
          start: str | None, end: str | None, max_cloud: float | None, limit: int | None,
          bands: str | None, workers: int, retries: int) -> None:
    """Download only the AOI window of each scene into OUT_DIR (resumable).

    Reads the band COGs over HTTP with range requests (no whole-file download) and writes one
    GeoTIFF per scene (OUT_DIR/<collection>/<id>.tif) plus a STAC catalog
    (OUT_DIR/catalog.json). Scenes already complete are skipped, so an interrupted fetch is
    resumed by running it again. Give --items from 'minewatch search -o', or the search
    options. Exit status 4 when some scenes failed (each is listed with its reason).

    \b
    Examples:
      minewatch fetch archive --aoi aoi.geojson --items items.json
      minewatch fetch archive --aoi aoi.geojson --start 2024-01-01 --end 2024-03-31 \\
          --max-cloud 30 --bands red,green,blue,nir --workers 8
    """
    from minewatch.acquire import fetch as do_fetch

    if items_file is not None:
        items = _read_items(items_file)
    else:
        items = _do_search(api, collection, aoi, start, end, max_cloud, limit)
    if len(items) == 0:
        raise CommandError(f"{items_file or api}: no scene to fetch (the search found none).")
    result = do_fetch(items, aoi, out_dir, bands=bands, workers=workers, retries=retries,
                      progress=_progress())
    _say(f"{len(result.fetched)} fetched, {len(result.skipped)} already there, "
         f"{len(result.failed)} failed ({result.seconds:.1f} s)")
    for failure in result.failed:
        where = f" [{failure.asset}: {failure.href}]" if failure.asset else ""
        click.echo(f"minewatch: failed: {failure.item_id}{where}: {_one_line(failure.reason)}",
                   err=True)
    if result.catalog is not None:
        _say(f"archive: {out_dir}  catalog: {out_dir / result.catalog.name}")
    if result.failed and not result.paths:
        raise CommandError(f"{out_dir}: no scene could be fetched "
                           f"({len(result.failed)} failed, see above).")
    if result.failed:
        raise click.exceptions.Exit(EXIT_PARTIAL)


def _read_items(path: Path) -> Any:
    import pystac

    from minewatch.errors import InputError
    from minewatch.io.stac import read_items

    if not path.is_file():
        raise InputError(f"{path}: no such items file; write one with 'minewatch search -o'.")
    return pystac.ItemCollection(read_items(path))


# --- scan --------------------------------------------------------------------------------------

@cli.command()
@click.argument("archive", type=click.Path(path_type=Path))
@click.option("--sensor", metavar="NAME",
              help="Force a sensor profile (sentinel2, sentinel2_gee, landsat, planetscope, rgb).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="Also write the table: .csv, .parquet, or a vector file (.gpkg, .geojson) "
                   "with the footprints.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --output file.")
@_verbosity
def scan(archive: Path, sensor: str | None, output: Path | None, overwrite: bool) -> None:
    """List the scenes of an archive folder or STAC catalog.

    One line per scene: id, date, sensor, resolution, bands, cloud and nodata fractions
    (estimated on a decimated read). Files that are not usable scenes are reported as one
    warning.

    \b
    Examples:
      minewatch scan sample_tiles
      minewatch scan archive/catalog.json -o scenes.csv
    """
    from minewatch.io import scan_archive
    from minewatch.io.write import atomic_path, write_table

    if output is not None:
        _refuse_overwrite(output, overwrite, "the table")
    frame = scan_archive(archive, sensor=sensor)
    table = frame.drop(columns=["scene", "geometry", "paths", "crs"])
    _say(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    sensors = ", ".join(f"{n} {s}" for s, n in frame["sensor"].value_counts().sort_index()
                        .items())
    _say(f"{len(frame)} scene(s) in {archive}: {sensors}")
    if output is not None:
        if output.suffix.lower() in (".csv", ".parquet"):
            write_table(frame, output)
        else:
            vector = frame.drop(columns=["scene"])
            with atomic_path(output) as tmp:
                vector.to_file(tmp, layer=output.stem)
        _say(f"wrote {output}")


# --- run / verify / report ---------------------------------------------------------------------

@cli.command()
@click.argument("archive", type=click.Path(path_type=Path))
@click.option("--aoi", metavar="FILE",
              help="Area of interest (vector file, any CRS); default: the scenes' footprints.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              metavar="DIR", help="Output folder (the layout is in docs/cli.md).")
@click.option("--config", "config", type=click.Path(dir_okay=False, path_type=Path),
              metavar="FILE", help="Detection/site settings (TOML); default: sensor presets.")
@click.option("--regions", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="Polygons (vector file) to count sites and areas per region.")
@click.option("--sensor", metavar="NAME",
              help="Analyse this sensor's scenes (sentinel2, landsat, planetscope...); "
                   "default: the sensor with the most dates.")
@click.option("--workers", type=click.IntRange(1), metavar="N",
              help="Run on a local dask.distributed cluster of N worker processes "
                   "(default: no cluster; dask threads in this process).")
@click.option("--scheduler", metavar="ADDRESS",
              help="A running dask scheduler, e.g. tcp://10.0.0.5:8786 (not with --workers).")
@click.option("--overwrite", is_flag=True,
              help="Replace a finished analysis in --out (the per-scene cache is reused).")
@click.option("--no-report", is_flag=True,
              help="Skip figures/, report.html and webmap.html (tables and maps only).")
@click.option("--event", "events", multiple=True, metavar="DATE=TEXT",
              help="A dated event for the plots and report; repeat for several.")
@click.option("--drop-layers", is_flag=True,
              help="Delete the per-date layer files from --out/cache once the outputs are "
                   "written (~4 GB per full Sentinel-2 tile and date); a later run with new "
                   "dates then re-reads the imagery around them.")
@_verbosity
def run(archive: Path, aoi: str | None, out_dir: Path, config: Path | None,
        regions: Path | None, sensor: str | None, workers: int | None, scheduler: str | None,
        overwrite: bool, no_report: bool, events: tuple[str, ...], drop_layers: bool) -> None:
    """Analyse an archive: pools, clearings, sites, change, counts, figures, report.

    Writes the output layout (scenes.csv, pools.gpkg, clearings.gpkg, sites.gpkg,
    site_history.csv, events.csv, timeseries.csv, change/, figures/, report.html,
    manifest.json) into --out. Resumable: per-scene results are cached in --out, so a rerun
    after a crash, or with new dates in the archive, processes only what is new. A finished
    analysis (manifest.json) is not replaced without --overwrite.

    \b
    Examples:
      minewatch run sample_tiles --aoi sample_tiles/aoi.geojson --out results
      minewatch run archive --aoi aoi.gpkg --out results --regions townships.gpkg \\
          --config settings.toml --scheduler tcp://10.0.0.5:8786 \\
          --event "2024-10-01=KIO takes control of the mining area"
    """
    if workers is not None and scheduler is not None:
        raise click.UsageError("give --workers or --scheduler, not both.")
    if (out_dir / "manifest.json").exists() and not overwrite:
        raise CommandError(
            f"{out_dir}: holds a finished analysis (manifest.json); pass --overwrite to replace "
            "it, or choose another --out."
        )
    from minewatch.pipeline import analyze

    analysis = analyze(archive, aoi=aoi, out_dir=out_dir,
                       config=str(config) if config is not None else None,
                       regions=str(regions) if regions is not None else None,
                       sensor=sensor, workers=workers, scheduler=scheduler, overwrite=overwrite,
                       progress=_progress(), report=not no_report,
                       events=_events(events) or None, keep_layers=not drop_layers)
    _say(_summary(analysis, out_dir))


def _events(given: tuple[str, ...]) -> list[tuple[str, str]]:
    """``DATE=TEXT`` options as (date, text) pairs; a bad one is a usage error."""
    import pandas as pd

    out = []
    for item in given:
        when, sep, text = item.partition("=")
        try:
            day = pd.Timestamp(when.strip())
        except ValueError:
            day = None
        if not sep or not text.strip() or day is None or pd.isna(day):
            raise click.BadParameter(f"{item!r}: expected DATE=TEXT, e.g. "
                                     "'2024-10-01=KIO takes control'", param_hint="--event")
        out.append((f"{day:%Y-%m-%d}", text.strip()))
    return out


def _summary(analysis: Any, out_dir: Path) -> str:
    """A few lines on what an analysis found (robust to missing attributes)."""
    lines = []
    timeseries = getattr(analysis, "timeseries", None)
    scenes = getattr(analysis, "scenes", None)
    if scenes is not None and len(scenes) and "status" in getattr(scenes, "columns", ()):
        used = int((scenes["status"] == "used").sum())
        lines.append(f"scenes: {used} used, {len(scenes) - used} skipped")
    if timeseries is not None and len(timeseries) and "date" in timeseries:
        dates = sorted({str(d)[:10] for d in timeseries["date"]})
        lines.append(f"dates: {len(dates)} ({dates[0]} … {dates[-1]})")
    sites = getattr(analysis, "sites", None)
    if sites is not None:
        persistent = int(sites["persistent"].sum()) if "persistent" in sites else None
        lines.append(f"sites: {len(sites)}"
                     + (f" ({persistent} persistent)" if persistent is not None else ""))
    pools = getattr(analysis, "pools", None)
    if pools is not None:
        lines.append(f"pool detections: {len(pools)}")
    files = getattr(analysis, "files", None) or []
    lines.append(f"wrote {len(files)} files under {getattr(analysis, 'out_dir', out_dir)}/")
    return "\n".join(lines)


@cli.command()
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@_verbosity
def verify(out_dir: Path) -> None:
    """Check that an analysis' inputs still match the sha256 in its manifest.

    Prints each problem (a changed, missing or extra file) and exits with status 3 when there
    is any; prints one 'ok' line and exits 0 otherwise.

    \b
    Example:
      minewatch verify results && echo "inputs unchanged"
    """
    from minewatch.errors import InputError
    from minewatch.pipeline import verify as do_verify

    if not (out_dir / "manifest.json").is_file():
        raise InputError(f"{out_dir}: no manifest.json; is this the --out of 'minewatch run'?")
    problems = do_verify(out_dir)
    if problems:
        for problem in problems:
            click.echo(f"{out_dir}: {_one_line(problem)}")
        click.echo(f"minewatch: verify: {len(problems)} problem(s) in {out_dir}", err=True)
        raise click.exceptions.Exit(EXIT_VERIFY)
    _say(f"{out_dir}: ok, every input matches its sha256 in manifest.json")


@cli.command()
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="The HTML file (default: OUT_DIR/report.html).")
@click.option("--title", help="Report title.")
@click.option("--overwrite", is_flag=True, help="Replace an existing report.")
@click.option("--pdf", is_flag=True, help="Also print it to PDF (next to the HTML) with Chromium.")
@click.option("--event", "events", multiple=True, metavar="DATE=TEXT",
              help="A dated event to list in the report; repeat for several.")
@_verbosity
def report(out_dir: Path, output: Path | None, title: str | None, overwrite: bool, pdf: bool,
           events: tuple[str, ...]) -> None:
    """Write the self-contained HTML report of an analysis folder.

    \b
    Example:
      minewatch report results --title "Pang War 2019–2025" -o pangwar.html --pdf \\
          --event "2024-10-01=KIO takes control of the mining area"
    """
    from minewatch.errors import InputError

    if not (out_dir / "manifest.json").is_file():
        raise InputError(f"{out_dir}: no manifest.json; is this the --out of 'minewatch run'?")
    target = output if output is not None else out_dir / "report.html"
    _refuse_overwrite(target, overwrite, "the report")
    from minewatch.report import report as do_report

    path = do_report(out_dir, path=output, title=title, events=_events(events) or None,
                     pdf=pdf)
    _say(f"wrote {path}" + (f" and {Path(path).with_suffix('.pdf')}" if pdf else ""))


@cli.command()
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="The HTML file (default: OUT_DIR/webmap.html).")
@click.option("--basemap", metavar="URL",
              help="XYZ tile URL for a background (default: none, works offline).")
@click.option("--attribution", metavar="TEXT", help="Credit line of the basemap tiles.")
@click.option("--overwrite", is_flag=True, help="Replace an existing web map.")
@_verbosity
def webmap(out_dir: Path, output: Path | None, basemap: str | None, attribution: str | None,
           overwrite: bool) -> None:
    """Write the interactive web map of an analysis folder (one HTML file).

    \b
    Example:
      minewatch webmap results -o sites.html --overwrite
    """
    from minewatch.errors import InputError

    if not (out_dir / "sites.gpkg").is_file():
        raise InputError(f"{out_dir}: no sites.gpkg; is this the --out of 'minewatch run'?")
    target = output if output is not None else out_dir / "webmap.html"
    _refuse_overwrite(target, overwrite, "the web map")
    from minewatch.webmap import web_map

    path = web_map(out_dir, path=output, basemap=basemap, attribution=attribution)
    _say(f"wrote {path}")


# --- demo / synth ------------------------------------------------------------------------------

@cli.command()
@click.argument("archive", type=click.Path(path_type=Path), default="sample_tiles")
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path), default="out")
@click.option("--overwrite", is_flag=True, help="Write into a non-empty OUT_DIR.")
@_verbosity
def demo(archive: Path, out_dir: Path, overwrite: bool) -> None:
    """Run the whole pipeline on an archive: the output layout, maps, report, quick-looks.

    Writes the layout of 'minewatch run' for the sensor with the most dates into OUT_DIR
    (tables, GeoPackages, change maps, figures/, report.html, webmap.html, manifest.json),
    the same for every other sensor into OUT_DIR/<sensor>/, and quick-looks of every date
    into OUT_DIR/quicklooks/. ARCHIVE defaults to sample_tiles, OUT_DIR to out.

    \b
    Example:
      minewatch demo sample_tiles out --overwrite
    """
    from rasterio.errors import NotGeoreferencedWarning

    from minewatch.demo import run_demo
    from minewatch.errors import MinewatchWarning

    _refuse_overwrite(out_dir, overwrite, "the demo output folder")
    with warnings.catch_warnings():
        warnings.simplefilter("always", MinewatchWarning)
        # odc-geo's in-memory reprojection triggers this harmless rasterio warning
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        written = run_demo(archive, out_dir)
    _say(f"wrote {len(written)} files under {out_dir}/")


@cli.command()
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path), required=False)
@click.option("--sample-archive", type=click.Path(file_okay=False, path_type=Path),
              metavar="DIR", help="Regenerate the shipped sample archive in DIR.")
@click.option("--layout", default="sentinel2", show_default=True,
              help="sentinel2, sentinel2_multiband, sentinel2_gee, landsat, planetscope, rgb.")
@click.option("--resolution", type=float, default=10.0, show_default=True, help="Pixel size, m.")
@click.option("--size", type=(int, int), default=(400, 400), show_default=True,
              metavar="ROWS COLS", help="Scene size in pixels.")
@click.option("--seed", type=int, default=0, show_default=True, metavar="N",
              help="Random seed (same seed, same files).")
@click.option("--dates", metavar="LIST", help="Comma-separated YYYY-MM-DD dates.")
@click.option("--lonlat", type=(float, float), default=(98.33, 25.72), show_default=True,
              metavar="LON LAT", help="Where the generated ground lies (degrees).")
@click.option("--crs", default="EPSG:32647", show_default=True, metavar="CRS",
              help="CRS of the files (a UTM zone).")
@click.option("--overwrite", is_flag=True, help="Write into a folder that holds files.")
@_verbosity
def synth(out_dir: Path | None, sample_archive: Path | None, layout: str, resolution: float,
          size: tuple[int, int], seed: int, dates: str | None, lonlat: tuple[float, float],
          crs: str, overwrite: bool) -> None:
    """Generate synthetic scenes (with ground truth) in a sensor layout.

    \b
    Examples:
      minewatch synth --sample-archive sample_tiles --overwrite
      minewatch synth archive --layout landsat --resolution 30 --seed 3 \\
          --dates 2021-02-01,2022-02-01
    """
    import time

    start = time.perf_counter()
    if sample_archive is not None:
        from minewatch.synth.sample import make_sample_archive

        archives = make_sample_archive(sample_archive, overwrite=overwrite)
        n_files = sum(len(a.files()) for a in archives)
        where = sample_archive
    elif out_dir is not None:
        from minewatch.synth import DEFAULT_DATES, make_archive

        chosen = tuple(d for d in (dates or "").replace(" ", ",").split(",") if d)
        archive = make_archive(
            out_dir, seed=seed, resolution_m=resolution, layout=layout,
            dates=chosen or tuple(DEFAULT_DATES), shape=size, origin_lonlat=lonlat, crs=crs,
            overwrite=overwrite)
        n_files, where = len(archive.files()), out_dir
    else:
        raise click.UsageError("give an output folder or --sample-archive DIR.")
    _say(f"wrote {n_files} files under {where}/ in {time.perf_counter() - start:.1f} s")


# --- entry point -------------------------------------------------------------------------------

def _error(message: str) -> None:
    click.echo(f"minewatch: error: {_one_line(message)}", err=True)


def main(argv: Sequence[str] | None = None, *, prog_name: str = "minewatch") -> int:
    """Run the ``minewatch`` command with ``argv`` (default: ``sys.argv[1:]``); return the
    exit status (see :data:`EXIT_CODES`)."""
    import traceback

    args = list(sys.argv[1:] if argv is None else argv)
    _STATE.update(debug="--debug" in args, quiet=False, verbose=0)
    previous = warnings.showwarning
    try:
        result = cli.main(args=args, prog_name=prog_name, standalone_mode=False)
        return int(result) if isinstance(result, int) else EXIT_OK
    except click.exceptions.Exit as done:
        return int(done.exit_code)
    except _NO_ARGS_IS_HELP as err:  # bare `minewatch`: the help
        click.echo(err.format_message(), err=True)
        return EXIT_USAGE
    except click.UsageError as err:
        where = f"{err.ctx.command_path}" if err.ctx is not None else prog_name
        click.echo(f"{where}: usage error: {_one_line(err.format_message())} "
                   f"(see '{where} --help')", err=True)
        return EXIT_USAGE
    except click.ClickException as err:
        _error(err.format_message())
        return int(err.exit_code)
    except (click.Abort, KeyboardInterrupt):
        click.echo("minewatch: interrupted", err=True)
        return EXIT_INTERRUPT
    except Exception as err:
        from minewatch.errors import MinewatchError

        if _STATE["debug"]:
            traceback.print_exc()
        if isinstance(err, MinewatchError):
            _error(str(err))
            return EXIT_ERROR
        if isinstance(err, OSError) and err.filename is not None:
            _error(f"{err.filename}: {err.strerror or err}")
            return EXIT_ERROR
        if isinstance(err, ModuleNotFoundError) and (err.name or "").startswith("minewatch"):
            _error(f"this minewatch install lacks {err.name}; update minewatch.")
            return EXIT_ERROR
        _error(f"internal error: {type(err).__name__}: {err}"
               + ("" if _STATE["debug"] else " (rerun with --debug for the traceback; please "
                  "report it)"))
        return EXIT_BUG
    finally:
        warnings.showwarning = previous
        sys.stdout.flush()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
