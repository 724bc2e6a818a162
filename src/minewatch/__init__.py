"""minewatch: satellite evidence of rare-earth leaching mines in Kachin State, Myanmar.

The public API, grouped by stage of the data flow (io → indices → detect → sites → change →
timeseries → plot/report, with ``analyze`` running them all). Everything not listed in
``__all__`` is private.

Names are imported on first use (PEP 562), so ``import minewatch`` and the ``minewatch``
command start fast; ``from minewatch import analyze`` works as usual.
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    __version__ = version("minewatch")
except PackageNotFoundError:  # pragma: no cover - source tree without install
    __version__ = "0.0.0"

#: Public name -> module that defines it, in data-flow order.
_EXPORTS: dict[str, str] = {
    # errors
    "MinewatchError": "minewatch.errors",
    "MinewatchWarning": "minewatch.errors",
    # acquire
    "search": "minewatch.acquire",
    "fetch": "minewatch.acquire",
    # ingest
    "load_stack": "minewatch.io",
    "open_tile": "minewatch.io",
    "scan_archive": "minewatch.io",
    # detect
    "DetectionConfig": "minewatch.config",
    "SiteConfig": "minewatch.config",
    "detect_clearings": "minewatch.detect",
    "detect_pools": "minewatch.detect",
    "evaluate": "minewatch.evaluate",
    "train_pool_model": "minewatch.detect",
    # sites
    "group_sites": "minewatch.sites",
    "track_sites": "minewatch.sites",
    "SiteTracks": "minewatch.sites",
    # change
    "change_map": "minewatch.change",
    "change_polygons": "minewatch.change",
    "change_areas": "minewatch.change",
    "write_change": "minewatch.change",
    # time series
    "site_timeseries": "minewatch.timeseries",
    # outputs
    "write_figures": "minewatch.plot",
    "report": "minewatch.report",
    "web_map": "minewatch.webmap",
    # the whole job
    "Analysis": "minewatch.pipeline",
    "analyze": "minewatch.pipeline",
    "verify": "minewatch.pipeline",
}

__all__ = [  # literal, so linters and IDEs read it; tests check it matches _EXPORTS
    "MinewatchError",
    "MinewatchWarning",
    "search",
    "fetch",
    "load_stack",
    "open_tile",
    "scan_archive",
    "DetectionConfig",
    "SiteConfig",
    "detect_clearings",
    "detect_pools",
    "evaluate",
    "train_pool_model",
    "group_sites",
    "track_sites",
    "SiteTracks",
    "change_map",
    "change_polygons",
    "change_areas",
    "write_change",
    "site_timeseries",
    "write_figures",
    "report",
    "web_map",
    "Analysis",
    "analyze",
    "verify",
    "__version__",
]

def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'minewatch' has no attribute {name!r}")
    imported = import_module(module)
    # a submodule named like its function (report, evaluate) is itself callable as that
    # function (minewatch._callable): return the module, so both uses always work
    value = imported if module.rsplit(".", 1)[-1] == name else getattr(imported, name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if TYPE_CHECKING:  # static type checkers and IDEs see the real names
    from minewatch.acquire import fetch, search
    from minewatch.change import change_areas, change_map, change_polygons, write_change
    from minewatch.config import DetectionConfig, SiteConfig
    from minewatch.detect import detect_clearings, detect_pools, train_pool_model
    from minewatch.errors import MinewatchError, MinewatchWarning
    from minewatch.evaluate import evaluate
    from minewatch.io import load_stack, open_tile, scan_archive
    from minewatch.pipeline import Analysis, analyze, verify
    from minewatch.plot import write_figures
    from minewatch.report import report
    from minewatch.sites import SiteTracks, group_sites, track_sites
    from minewatch.timeseries import site_timeseries
    from minewatch.webmap import web_map
