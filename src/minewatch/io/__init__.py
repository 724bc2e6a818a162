"""Ingest: read sensor files as reflectance, scan archives, stack scenes on one grid."""

from __future__ import annotations

from minewatch.io._scene import BandSource, MaskSource, Scene
from minewatch.io.archive import scan_archive
from minewatch.io.stack import load_stack
from minewatch.io.tiles import open_tile, resolve_scene

__all__ = [
    "BandSource",
    "MaskSource",
    "Scene",
    "load_stack",
    "open_tile",
    "resolve_scene",
    "scan_archive",
]
