"""minewatch: satellite evidence of rare-earth leaching mines in Kachin State, Myanmar.

The public API, grouped by stage of the data flow (io → indices → detect → sites → change →
timeseries → plot/report). Everything not listed in ``__all__`` is private.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from minewatch.config import DetectionConfig
from minewatch.detect import detect_clearings, detect_pools, train_pool_model
from minewatch.errors import MinewatchError, MinewatchWarning
from minewatch.evaluate import evaluate
from minewatch.io import load_stack, open_tile, scan_archive
from minewatch.change import change_areas, change_map, change_polygons, write_change
from minewatch.pipeline import Analysis, analyze, verify
from minewatch.sites import group_sites
from minewatch.timeseries import site_timeseries

try:
    __version__ = version("minewatch")
except PackageNotFoundError:  # pragma: no cover - source tree without install
    __version__ = "0.0.0"

__all__ = [
    # errors
    "MinewatchError",
    "MinewatchWarning",
    # ingest
    "load_stack",
    "open_tile",
    "scan_archive",
    # detect
    "DetectionConfig",
    "detect_clearings",
    "detect_pools",
    "evaluate",
    "train_pool_model",
    # sites
    "group_sites",
    # change
    "change_map",
    "change_polygons",
    "change_areas",
    "write_change",
    # time series
    "site_timeseries",
    # the whole job
    "Analysis",
    "analyze",
    "verify",
    # meta
    "__version__",
]
