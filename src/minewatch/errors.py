"""Every exception and warning minewatch raises, under one root.

Each exception also inherits the matching builtin, so ``except ValueError`` or
``except OSError`` in user code keeps working (the rasterio habit).
Messages name the file (or scene, date), the problem, and the fix.
"""

from __future__ import annotations

__all__ = [
    "BandError",
    "ConfigError",
    "DateError",
    "EmptyArchiveError",
    "EmptySceneWarning",
    "InputError",
    "MinewatchError",
    "MinewatchWarning",
    "MissingCRSError",
    "NoOverlapError",
    "TileReadError",
    "UnknownSensorError",
]


class MinewatchError(Exception):
    """Root of every minewatch exception."""


class InputError(MinewatchError, ValueError):
    """An input is present but unusable (wrong content, wrong values)."""


class TileReadError(MinewatchError, OSError):
    """A file could not be read as a raster (not a raster, truncated, corrupt, missing)."""


class MissingCRSError(InputError):
    """A raster has no coordinate reference system."""


class UnknownSensorError(InputError):
    """The sensor of a file could not be recognised and no ``sensor=`` was given."""


class BandError(InputError):
    """A required band is missing, or a band mapping is invalid."""


class NoOverlapError(InputError):
    """A tile or archive does not overlap the area of interest."""


class DateError(InputError):
    """An acquisition date could not be parsed or is missing."""


class EmptyArchiveError(InputError):
    """A folder, catalog or list holds no usable scene."""


class ConfigError(InputError):
    """A configuration value is out of range, of the wrong type, or unknown."""


class MinewatchWarning(UserWarning):
    """Root of every minewatch warning."""


class EmptySceneWarning(MinewatchWarning):
    """A scene has no valid pixel (all nodata or fully clouded) and was skipped."""
