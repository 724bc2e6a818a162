"""Reading back the output folder that :func:`minewatch.analyze` writes.

One reader for the maps (:mod:`minewatch.plot`), the report and the web map, so that every
consumer parses the layout's tables the same way: ids as text, dates as datetimes.
"""

from __future__ import annotations

from collections.abc import Sequence
from os import PathLike
from pathlib import Path

import geopandas as gpd
import pandas as pd

__all__ = ["read_layer", "read_table"]

#: Columns holding ids: read as text (``S0001``, comma-separated lists), never as numbers.
_TEXT = {"site_id": str, "other_ids": str}
_LAYER_DATES = ("date", "first_seen", "last_seen")


def read_table(path: str | PathLike[str], dates: Sequence[str] = ("date",)
               ) -> pd.DataFrame | None:
    """A CSV of the layout (``timeseries.csv``, ``site_history.csv``...); ``None`` if absent.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = path.write_text("site_id,date\\n0001,2024-02-18\\n")
    >>> frame = read_table(path)
    >>> frame["site_id"].iloc[0], frame["date"].iloc[0].date().isoformat()
    ('0001', '2024-02-18')
    >>> read_table(path.with_name("missing.csv")) is None
    True
    """
    path = Path(path)
    if not path.is_file():
        return None
    frame = pd.read_csv(path, dtype=_TEXT)
    for column in dates:
        if column in frame.columns:
            frame[column] = pd.to_datetime(frame[column], errors="coerce")
    return frame


def read_layer(path: str | PathLike[str]) -> gpd.GeoDataFrame | None:
    """A GeoPackage of the layout (``sites.gpkg``, ``pools.gpkg``...); ``None`` if absent."""
    path = Path(path)
    if not path.is_file():
        return None
    frame = gpd.read_file(path)
    for column in _TEXT:
        if column in frame.columns:
            frame[column] = frame[column].astype(str)
    for column in _LAYER_DATES:
        if column in frame.columns:
            frame[column] = pd.to_datetime(frame[column], errors="coerce")
    return frame
