"""Detection: leaching pools and mining clearings as labels and polygons.

- :func:`detect_pools` / :func:`segment_pools` / :func:`pool_evidence` — one date.
- :func:`detect_clearings` / :func:`segment_clearings` — one date against earlier dates.
- :func:`label_objects` / :func:`vectorize` — labels and polygons, dask chunk borders merged.
- :func:`train_pool_model` / :class:`PoolModel` — the optional learned pool detector.
"""

from __future__ import annotations

from minewatch.detect.clearings import (
    clearing_baseline,
    detect_clearings,
    first_bare_date,
    segment_clearings,
)
from minewatch.detect.model import PoolModel, pixel_features, train_pool_model
from minewatch.detect.pools import detect_pools, pool_evidence, segment_pools
from minewatch.detect.vectorize import label_objects

# the module, callable as the function (minewatch._callable): `import
# minewatch.detect.vectorize as m` and `minewatch.detect.vectorize(labels)` both work
from minewatch.detect import vectorize  # isort: skip

__all__ = [
    # pools
    "detect_pools",
    "pool_evidence",
    "segment_pools",
    # clearings
    "clearing_baseline",
    "detect_clearings",
    "first_bare_date",
    "segment_clearings",
    # objects
    "label_objects",
    "vectorize",
    # learned option
    "PoolModel",
    "pixel_features",
    "train_pool_model",
]
