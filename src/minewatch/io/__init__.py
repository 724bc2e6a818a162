"""Ingest: read sensor files as reflectance, scan archives, stack scenes on one grid."""

from __future__ import annotations

from minewatch.io._scene import BandSource, MaskSource, Scene
from minewatch.io.archive import scan_archive
from minewatch.io.stac import item_to_scene, scene_to_item, write_catalog
from minewatch.io.stack import load_stack, read_aoi
from minewatch.io.tiles import discover_scenes, open_tile, read_scene, resolve_scene

__all__ = [
    # scene records
    "BandSource",
    "MaskSource",
    "Scene",
    # one scene
    "open_tile",
    "read_scene",
    "resolve_scene",
    # archives
    "discover_scenes",
    "scan_archive",
    # STAC
    "item_to_scene",
    "scene_to_item",
    "write_catalog",
    # stacks
    "load_stack",
    "read_aoi",
]
