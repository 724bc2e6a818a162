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
from minewatch.sites import group_sites

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
    # meta
    "__version__",
]
