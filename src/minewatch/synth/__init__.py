"""Synthetic multi-date scenes of Kachin hills with rare-earth leaching mines, and their truth.

The ground truth of every later test: sites of 5–40 pools (layouts sampled from 2,497 real pool
positions near Pang War) on growing bare clearings linked by roads, among confounders (rivers,
sand bars, streams, villages with metal roofs and fish ponds, tarp huts, swidden fields,
landslides), with terrain shading, haze, clouds and their shadows, swath edges, seasonal and
radiometric differences between dates. Written as real GeoTIFFs in the sensor layouts the
ingest reads (:mod:`minewatch.synth.write`), or kept in memory as xarray objects.

    python -m minewatch.synth --sample-archive sample_tiles
"""

from __future__ import annotations

from minewatch.synth._api import SynthArchive, SynthScenes, generate_scenes, make_archive
from minewatch.synth.layout import (
    CLEARING_CODES,
    CONFOUNDER_KINDS,
    DEFAULT_DATES,
    SynthWorld,
    make_world,
)
from minewatch.synth.render import Grid, make_grid
from minewatch.synth.spectra import BANDS, Cover, PoolLook
from minewatch.synth.write import LAYOUTS, landsat_dn, s2_dn

__all__ = [
    # generate
    "generate_scenes",
    "make_archive",
    "make_world",
    "make_grid",
    # records
    "SynthArchive",
    "SynthScenes",
    "SynthWorld",
    "Grid",
    # vocabulary
    "BANDS",
    "CLEARING_CODES",
    "CONFOUNDER_KINDS",
    "Cover",
    "DEFAULT_DATES",
    "LAYOUTS",
    "PoolLook",
    # DN rules
    "landsat_dn",
    "s2_dn",
]
