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
    "GridError",
    "InputError",
    "MinewatchError",
    "MinewatchWarning",
    "MissingCRSError",
    "NoOverlapError",
    "OutputError",
    "ReflectanceError",
    "SparseSceneWarning",
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


class GridError(InputError):
    """A raster's grid is unusable: rotated or skewed geotransform, no pixels, or the bands of
    one scene in different CRSs."""


class ReflectanceError(InputError):
    """A band cannot hold surface reflectance: complex, signed 8-bit or 1-bit data, or values
    far above 1 after scaling (digital numbers of another product, or the wrong scale)."""


class OutputError(MinewatchError, OSError):
    """An output could not be written (disk full, permission denied, read-only file system);
    the message names the file, and earlier outputs are left as they were.

    ``errno`` and ``filename`` are those of the ``OSError`` behind it (``filename``: the
    output's path).
    """

    def __init__(self, message: str, *, errno: int | None = None,
                 filename: str | None = None) -> None:
        super().__init__(message)
        self.errno, self.filename = errno, filename

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class MinewatchWarning(UserWarning):
    """Root of every minewatch warning."""


class EmptySceneWarning(MinewatchWarning):
    """A scene has no valid pixel (all nodata or fully clouded) and was skipped."""


class SparseSceneWarning(MinewatchWarning):
    """A scene is kept but almost all of it is nodata or cloud: sites there are unobserved."""
