"""Palettes, font sizes, journal figure sizes, the data-credit line and ``save_figure``.

All colours are colour-blind safe: the Okabe–Ito set for categories, viridis for ordered
values (years, NDVI).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from os import PathLike
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from minewatch.errors import InputError

__all__ = ["CHANGE_STYLE", "FIGURE_SIZES_MM", "OKABE_ITO", "data_credit", "save_figure",
           "year_colours"]

#: The Okabe–Ito palette (Okabe & Ito 2008), distinguishable with every common colour-vision
#: deficiency.
OKABE_ITO: dict[str, str] = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
}

#: Colours of the map layers.
POOL_FACE = OKABE_ITO["sky_blue"]
POOL_EDGE = "#003A5C"
CLEARING = OKABE_ITO["orange"]
OTHER_CLEARING = "#FFFFFF"  # landslides, fields...: outlined, not coloured as mining
SITE = OKABE_ITO["yellow"]
SITE_HALO = "#000000"

#: Lines of series in plots (regions), in order.
SERIES = [OKABE_ITO[k] for k in ("blue", "orange", "bluish_green", "vermillion",
                                  "reddish_purple", "sky_blue", "black")]

#: Change classes of ``minewatch.change.CHANGE_CLASSES``: class -> (name, colour).
CHANGE_STYLE: dict[int, tuple[str, str]] = {
    0: ("no data", "#FFFFFF"),
    1: ("no mining", "#E8E8E8"),
    2: ("new clearing", OKABE_ITO["orange"]),
    3: ("new pools", OKABE_ITO["blue"]),
    4: ("persistent mining", OKABE_ITO["vermillion"]),
    5: ("regrowth", OKABE_ITO["bluish_green"]),
}

#: Journal figure sizes (width, height) in mm; ``None`` height: keep the figure's aspect.
FIGURE_SIZES_MM: dict[str, tuple[float, float | None]] = {
    "single": (89.0, None),
    "double": (183.0, None),
    "a4": (210.0, 297.0),
}

# Font sizes (pt) for print at journal widths.
TITLE_PT = 8.0
TEXT_PT = 7.0
SMALL_PT = 6.0
TINY_PT = 5.0

MM = 1 / 25.4


def year_colours(years: Iterable[int]) -> dict[int, tuple[float, float, float, float]]:
    """Colour per year, from dark (first) to light (last), viridis without its palest end.

    Parameters
    ----------
    years
        Calendar years (any order, repeats allowed).

    Returns
    -------
    dict
        Year -> RGBA colour (floats 0–1), in ascending year order.

    Examples
    --------
    >>> colours = year_colours([2023, 2021, 2021])
    >>> list(colours)
    [2021, 2023]
    """
    import matplotlib as mpl

    unique = sorted({int(y) for y in years})
    cmap = mpl.colormaps["viridis"]
    if len(unique) == 1:
        return {unique[0]: cmap(0.35)}
    return {y: cmap(0.9 * i / (len(unique) - 1)) for i, y in enumerate(unique)}


def _years(dates: Iterable) -> str:
    stamps = pd.to_datetime(pd.Series(list(dates)), errors="coerce").dropna()
    if stamps.empty:
        return ""
    first, last = int(stamps.min().year), int(stamps.max().year)
    return str(first) if first == last else f"{first}–{last}"


def data_credit(sensor: str | None, dates: Iterable = ()) -> str:
    """The data-credit line the imagery's licence asks for.

    Parameters
    ----------
    sensor
        Sensor name as in the manifest (``"sentinel2"``, ``"sentinel2_gee"``, ``"landsat"``,
        ``"planetscope"``, ``"rgb"``...), or None.
    dates
        Dates of the imagery (anything ``pandas.to_datetime`` reads); their years go in the line.

    Returns
    -------
    str
        E.g. ``"Contains modified Copernicus Sentinel data 2021–2024"``; ``""`` when neither is
        known.

    Examples
    --------
    >>> data_credit("sentinel2", ["2021-01-15", "2024-01-22"])
    'Contains modified Copernicus Sentinel data 2021–2024'
    >>> data_credit("landsat", ["2023-03-01"])
    'Landsat imagery courtesy of the U.S. Geological Survey, 2023'
    """
    years = _years(dates)
    name = (sensor or "").lower()
    if name.startswith("sentinel"):
        return f"Contains modified Copernicus Sentinel data {years}".strip()
    if name.startswith("landsat"):
        return "Landsat imagery courtesy of the U.S. Geological Survey" + (
            f", {years}" if years else "")
    if name.startswith("planet"):
        return f"Imagery © Planet Labs PBC {years}".strip()
    if name:
        return f"Imagery: {sensor} {years}".strip()
    return f"Imagery {years}".strip() if years else ""


def _size_inches(fig: Figure, size: str | Sequence[float], height_mm: float | None
                 ) -> tuple[float, float]:
    if isinstance(size, str):
        if size not in FIGURE_SIZES_MM:
            raise InputError(f"save_figure: size={size!r} is not one of "
                             f"{sorted(FIGURE_SIZES_MM)}; or give (width_mm, height_mm)")
        width_mm, fixed_height = FIGURE_SIZES_MM[size]
    else:
        values = list(size)
        if len(values) != 2 or min(values) <= 0:
            raise InputError(f"save_figure: size={size!r} must be a name or two positive "
                             "numbers (width_mm, height_mm)")
        width_mm, fixed_height = float(values[0]), float(values[1])
    if height_mm is not None:
        fixed_height = float(height_mm)
    if fixed_height is None:
        w, h = fig.get_size_inches()
        fixed_height = width_mm * h / w
    return width_mm * MM, fixed_height * MM


_FORMATS = {".png": "png", ".pdf": "pdf", ".svg": "svg"}


def save_figure(fig: Figure, path: str | PathLike[str], size: str | Sequence[float] = "single",
                dpi: int = 300, *, height_mm: float | None = None) -> Path:
    """Write ``fig`` at a journal size as PNG, PDF or SVG (by the suffix), atomically.

    Parameters
    ----------
    fig
        The figure; it is resized in place.
    path
        Target file; ``.png``, ``.pdf`` or ``.svg``. Folders are made. The file appears only
        once complete (``minewatch.io.write.atomic_path``).
    size
        ``"single"`` (89 mm wide), ``"double"`` (183 mm) or ``"a4"`` (210 × 297 mm), or
        ``(width_mm, height_mm)``. Single and double keep the figure's aspect ratio.
    dpi
        Resolution of PNGs (pixels per inch); a 300 dpi single-column PNG is 1051 px wide.
    height_mm
        Height (mm) instead of the one the size implies.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    minewatch.errors.InputError
        Unknown suffix or size.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> _ = ax.plot([0, 1], [0, 1])
    >>> out = pathlib.Path(tempfile.mkdtemp())
    >>> save_figure(fig, out / "line.svg", size="single").name
    'line.svg'
    >>> plt.close(fig)
    """
    from minewatch.io.write import atomic_path

    target = Path(path)
    fmt = _FORMATS.get(target.suffix.lower())
    if fmt is None:
        raise InputError(f"save_figure: {target} has suffix {target.suffix!r}; use one of "
                         f"{', '.join(_FORMATS)}")
    fig.set_size_inches(*_size_inches(fig, size, height_mm))
    engine = fig.get_layout_engine()
    if engine is not None:
        # Maps have a fixed aspect and furniture beside them: the constrained layout needs a
        # few passes to settle (one pass leaves titles and credits cut at the edges).
        for _ in range(3):
            engine.execute(fig)
    metadata = {"png": {"Software": "minewatch"}, "pdf": {"Creator": "minewatch",
                                                         "CreationDate": None},
                "svg": {"Creator": "minewatch", "Date": None}}[fmt]
    import matplotlib as mpl

    # Text stays text: TrueType (Type 42) fonts in PDFs, <text> elements in SVGs, so that
    # designers can edit labels and journals accept the fonts; a fixed salt makes SVG ids, and
    # so the file, the same from run to run.
    rc = {"pdf.fonttype": 42, "svg.fonttype": "none", "svg.hashsalt": "minewatch"}
    with mpl.rc_context(rc), atomic_path(target) as tmp:
        fig.savefig(tmp, format=fmt, dpi=dpi, metadata=metadata)
    return target


def _date_in(value: object) -> pd.Timestamp | None:
    """The first YYYY-MM-DD in a file name, or the time of a DataArray; else None."""
    time = getattr(value, "coords", {}).get("time") if hasattr(value, "coords") else None
    if time is not None and np.size(time.values) == 1:
        return pd.Timestamp(np.asarray(time.values).ravel()[0]).normalize()
    if isinstance(value, str | PathLike):
        found = re.findall(r"\d{4}-\d{2}-\d{2}", Path(value).name)
        if found:
            return pd.Timestamp(found[0])
    return None
