"""Land-cover classes and their surface reflectance (0–1) in six bands.

Values are plausible dry-season surface reflectance for the Kachin hills, compiled from typical
library spectra (tropical evergreen canopy, lateritic soil, turbid and algal water, blue
polyethylene, painted and galvanised metal). They are not measurements; what matters for
detector tests is their *contrast*: turquoise/blue leachate pools have high blue/green and low
NIR; milky precipitate pools are bright in the visible with moderate NIR but dark in SWIR
(clouds stay bright in SWIR); blue liners and tarps share one material; roofs and fish ponds
look like pools in some bands.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np
import pandas as pd

#: Band roles rendered by the generator, in order.
BANDS: tuple[str, ...] = ("blue", "green", "red", "nir", "swir1", "swir2")


class Cover(IntEnum):
    """Land-cover classes of the fine class map (uint8 codes)."""

    FOREST = 0
    SHRUB = 1
    CROP = 2
    BARE = 3  # laterite soil of mining clearings
    ROAD = 4
    BURNT = 5
    SAND = 6
    RIVER = 7
    FISH_POND = 8
    ROOF_BLUE = 9
    ROOF_GREY = 10
    TARP = 11
    LANDSLIDE = 12
    SETTLEMENT = 13
    GRASS = 14


class PoolLook(IntEnum):
    """What a pool shows on one date (0 means the pool is not there)."""

    ABSENT = 0
    TURQUOISE = 1
    BLUE = 2
    MILKY = 3
    DARK = 4
    BROWN = 5
    LINER = 6  # empty, showing its blue plastic liner
    DRAINED = 7  # drained for good: damp mud, no longer a pool


#: Pool colours (names used in the truth tables) and their :class:`PoolLook`.
POOL_COLOURS: dict[str, PoolLook] = {
    "turquoise": PoolLook.TURQUOISE,
    "blue": PoolLook.BLUE,
    "milky": PoolLook.MILKY,
    "dark": PoolLook.DARK,
    "brown": PoolLook.BROWN,
}

_COVER = {
    #                     blue   green  red    nir    swir1  swir2
    Cover.FOREST:        (0.020, 0.045, 0.025, 0.320, 0.150, 0.060),
    Cover.SHRUB:         (0.030, 0.060, 0.040, 0.300, 0.200, 0.100),
    Cover.CROP:          (0.040, 0.085, 0.060, 0.300, 0.230, 0.120),
    Cover.BARE:          (0.080, 0.130, 0.220, 0.280, 0.380, 0.300),
    Cover.ROAD:          (0.100, 0.150, 0.220, 0.270, 0.360, 0.290),
    Cover.BURNT:         (0.030, 0.035, 0.040, 0.080, 0.120, 0.100),
    Cover.SAND:          (0.140, 0.180, 0.210, 0.250, 0.320, 0.270),
    Cover.RIVER:         (0.050, 0.070, 0.060, 0.030, 0.010, 0.005),
    Cover.FISH_POND:     (0.030, 0.060, 0.040, 0.040, 0.010, 0.005),
    Cover.ROOF_BLUE:     (0.220, 0.200, 0.120, 0.180, 0.150, 0.120),
    Cover.ROOF_GREY:     (0.250, 0.260, 0.260, 0.270, 0.240, 0.200),
    Cover.TARP:          (0.280, 0.200, 0.080, 0.300, 0.150, 0.090),
    Cover.LANDSLIDE:     (0.120, 0.150, 0.190, 0.250, 0.330, 0.280),
    Cover.SETTLEMENT:    (0.070, 0.100, 0.120, 0.220, 0.260, 0.180),
    Cover.GRASS:         (0.040, 0.080, 0.070, 0.260, 0.260, 0.150),
}

_POOL = {
    PoolLook.TURQUOISE:  (0.120, 0.200, 0.100, 0.040, 0.010, 0.005),
    PoolLook.BLUE:       (0.140, 0.120, 0.060, 0.030, 0.010, 0.005),
    PoolLook.MILKY:      (0.300, 0.330, 0.310, 0.180, 0.050, 0.030),
    PoolLook.DARK:       (0.030, 0.040, 0.030, 0.020, 0.010, 0.005),
    PoolLook.BROWN:      (0.070, 0.100, 0.120, 0.080, 0.030, 0.020),
    PoolLook.LINER:      (0.260, 0.190, 0.080, 0.280, 0.140, 0.090),
    PoolLook.DRAINED:    (0.060, 0.080, 0.110, 0.160, 0.220, 0.180),
}

#: Thick cloud top: bright in every band, SWIR included.
CLOUD = np.array([0.55, 0.55, 0.56, 0.58, 0.45, 0.35], dtype=np.float32)
#: Additive path radiance of haze per unit haze depth (strongest in blue).
HAZE = np.array([0.060, 0.045, 0.030, 0.015, 0.004, 0.002], dtype=np.float32)
#: Fraction of light kept in a full cloud shadow (diffuse sky light is bluer).
SHADOW_KEEP = np.array([0.55, 0.45, 0.40, 0.35, 0.32, 0.30], dtype=np.float32)

#: Vegetated classes that change with the season.
VEGETATION: tuple[Cover, ...] = (Cover.FOREST, Cover.SHRUB, Cover.CROP, Cover.GRASS)
#: Water classes (Sentinel-2 SCL 6).
WATER: tuple[Cover, ...] = (Cover.RIVER, Cover.FISH_POND)


def cover_spectra() -> np.ndarray:
    """(n_cover, 6) float32 reflectance of each :class:`Cover`, in :data:`BANDS` order."""
    return np.array([_COVER[c] for c in Cover], dtype=np.float32)


def pool_spectra() -> np.ndarray:
    """(8, 6) float32 reflectance of each :class:`PoolLook` (row 0, absent, is zeros)."""
    table = np.zeros((len(PoolLook), len(BANDS)), dtype=np.float32)
    for look, values in _POOL.items():
        table[look] = values
    return table


def greenness(date: pd.Timestamp) -> float:
    """Seasonal greenness 0 (late dry season, March–April) … 1 (monsoon, July–September)."""
    doy = date.day_of_year
    return float(0.5 + 0.5 * np.cos(2 * np.pi * (doy - 232) / 365.25))


def seasonal_spectra(date: pd.Timestamp) -> np.ndarray:
    """:func:`cover_spectra` with vegetation adjusted for the season of ``date``.

    Dry-season vegetation has less NIR and more red and SWIR; crops and grass dry out more than
    evergreen forest.

    Examples
    --------
    >>> dry = seasonal_spectra(pd.Timestamp("2022-03-15"))
    >>> wet = seasonal_spectra(pd.Timestamp("2022-08-15"))
    >>> bool(dry[Cover.FOREST, 3] < wet[Cover.FOREST, 3])
    True
    """
    table = cover_spectra()
    g = greenness(date)
    for cover in VEGETATION:
        strength = 1.0 if cover == Cover.FOREST else 2.0
        dry = (1.0 - g) * strength
        table[cover] *= np.array(
            [1 + 0.15 * dry, 1 + 0.05 * dry, 1 + 0.35 * dry, 1 - 0.12 * dry,
             1 + 0.15 * dry, 1 + 0.25 * dry],
            dtype=np.float32,
        )
    return table
