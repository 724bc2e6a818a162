"""Thresholds of clearing detection (``minewatch.detect.clearings``), with per-sensor presets.

Every number the clearing detector uses is a field here, with its unit. "Vegetation index" is
NDVI (−1…1) when the image has NIR, else (``method="rgb"``) the green–red index
GRVI = (green − red) / (green + red). "Bare index" is the bare soil index BSI (−1…1) when the
image has SWIR, else the redness (red − green) / (red + green) of laterite. The presets were
tuned on generated scenes (``minewatch.synth`` seeds 0–9) by
``benchmarks/accuracy_clearings.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from minewatch.config._base import check_fields, setting


@dataclass(frozen=True)
class ClearingConfig:
    """Every threshold of clearing detection. Units in the names and docstrings.

    Examples
    --------
    >>> ClearingConfig().min_area_m2
    2500.0
    >>> ClearingConfig(min_ndvi_drop=2.5)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    minewatch.errors.ConfigError: ClearingConfig.min_ndvi_drop = 2.5 is out of range: ...
    """

    method: str = setting("auto", choices=("auto", "multispectral", "rgb"),
                          doc="bands used: multispectral needs NIR; rgb needs R, G, B only")
    """``multispectral``: NDVI and BSI (or redness without SWIR); ``rgb``: GRVI and redness
    from red, green, blue only (weaker, see docs/detection.md); ``auto``: multispectral when
    the image has NIR, else a ``BandError`` (RGB must be asked for explicitly)."""
    baseline_veg_quantile: float = setting(0.9, low=0.0, high=1.0,
                                           doc="quantile of earlier vegetation index (0–1)")
    """Quantile (0–1) over the earlier clear dates of a pixel's vegetation index that is its
    baseline; high, so "vegetated on most earlier dates" counts as vegetated."""
    baseline_bare_quantile: float = setting(0.1, low=0.0, high=1.0,
                                            doc="quantile of earlier bare index (0–1)")
    """Quantile (0–1) over the earlier clear dates of a pixel's bare index that is its
    baseline; low, the matching "least bare" value."""
    min_baseline_obs: int = setting(1, low=1, high=100,
                                    doc="clear earlier dates a pixel needs (count)")
    """Clear earlier observations a pixel needs to have a baseline; fewer → no detection."""
    normalize_dates: bool = setting(True, doc="shift each date by its stable-forest median")
    """Subtract, per date, the scene-wide median change of the vegetation and bare index over
    stable vegetation (pixels with vegetation index ≥ ``veg_min``), so season, haze and
    calibration differences between dates do not look like clearing."""
    normalization_stride_px: int = setting(4, low=1, high=64,
                                           doc="subsampling step of the date medians (px)")
    """Every n-th row and column is used for the per-date medians (speed on big tiles)."""
    normalize_redness: bool = setting(True, doc="shift each date's redness likewise")
    """Shift redness (red − green)/(red + green), the laterite test, by the date's
    stable-vegetation median too (with ``normalize_dates``): a scene that reads less red as a
    whole (haze, light) keeps the laterite of its established mines."""
    veg_min: float = setting(0.5, low=-1.0, high=1.0,
                             doc="vegetation index of vegetated land (index units)")
    """Baseline vegetation index (NDVI, or GRVI for ``rgb``) from which land was vegetated;
    also the stable-vegetation threshold of the date normalisation."""
    min_ndvi_drop: float = setting(0.3, low=0.0, high=2.0,
                                   doc="vegetation index drop from the baseline (index units)")
    """Drop of the (normalised) vegetation index from the baseline that counts as clearing."""
    min_bare_rise: float = setting(0.15, low=0.0, high=2.0,
                                   doc="bare index rise from the baseline (index units)")
    """Rise of the (normalised) bare index from the baseline that counts as clearing."""
    bare_veg_max: float = setting(0.25, low=-1.0, high=1.0,
                                  doc="vegetation index of bare land (index units)")
    """Vegetation index at or below which a pixel is bare now."""
    bare_min: float = setting(0.12, low=-1.0, high=1.0,
                              doc="bare index of bare land (index units)")
    """Bare index (BSI, or redness without SWIR) at or above which a pixel is bare now."""
    laterite_redness_min: float = setting(0.1, low=-1.0, high=1.0,
                                          doc="redness of laterite (index units)")
    """Land bare already in the baseline counts only where its redness (red − green) /
    (red + green) is at least this: laterite (≈ 0.25) yes, dry grass, sand and grey scars
    (≈ 0.05–0.09) no."""
    max_blue: float = setting(0.14, low=0.0, high=1.0,
                              doc="blue reflectance above stable vegetation (0–1)")
    """Pixels brighter in blue than this (reflectance 0–1) above the date's median blue of
    stable vegetation are never clearing: thin cloud the product mask missed (cloud ≈ 0.5),
    bright roofs. Laterite is ≈ 0.06 above forest; haze lifts both alike."""
    established_veg_max: float = setting(0.22, low=-1.0, high=1.0,
                                         doc="vegetation index of long-bare land")
    """Land not vegetated in the baseline counts only where its vegetation index now is at
    most this (stricter than ``bare_veg_max``: dry grass sits at NDVI ≈ 0.2–0.25)."""
    include_established: bool = setting(True, doc="keep land bare in the baseline too")
    """Also map land that is bare now *and* already bare on the earlier dates (cleared before
    the series began); their ``first_seen`` is the first clear date (i.e. "on or before")."""
    opening_radius_m: float = setting(10.0, low=0.0, high=500.0,
                                      doc="radius of the binary opening (m)")
    """Radius (m) of a binary opening that removes roads and thin edges (0 = none)."""
    closing_radius_m: float = setting(10.0, low=0.0, high=500.0,
                                      doc="radius of the binary closing (m)")
    """Radius (m) of a binary closing that joins a clearing across its pools (0 = none)."""
    split_radius_m: float = setting(20.0, low=0.0, high=500.0,
                                    doc="radius of the core of non-laterite change (m)")
    """Changed land that is not red laterite (swidden fields, grey landslide scars) and is
    wide enough to hold a disk of this radius (m) is labelled apart from touching laterite,
    so a mine next to a field or a scar stays its own object."""
    max_hole_area_m2: float = setting(3000.0, low=0.0, doc="holes filled up to (m²)")
    """Holes inside a clearing up to this area (m²) are filled: pools, huts, spoil heaps."""
    min_area_m2: float = setting(2500.0, low=0.0, doc="minimum mapping unit (m²)")
    """Minimum mapping unit (m²): smaller changes are not clearings."""
    pool_water_min: float = setting(-0.1, low=-1.0, high=1.0,
                                    doc="water index of a pool-like pixel (index units)")
    """NDWI (or blueness (blue − red)/(blue + red) for ``rgb``) above which a pixel inside a
    clearing is pool-like."""
    pool_edge_margin_m: float = setting(10.0, low=0.0, high=200.0,
                                        doc="pool-like pixels this far inside count (m)")
    """Pool-like pixels count only this far (m) inside the clearing, so river water along a
    sand bar's edge is not a pool."""
    min_pool_area_m2: float = setting(100.0, low=0.0, doc="pool-like area of a mine (m²)")
    """Pool-like area (m²) inside a clearing that is evidence of leaching pools."""
    pool_buffer_m: float = setting(10.0, low=0.0, high=1000.0,
                                   doc="distance of a given pool to its clearing (m)")
    """With ``pools=`` given, a pool within this distance (m) of a clearing belongs to it."""
    swidden_veg_min: float = setting(0.3, low=-1.0, high=1.0,
                                     doc="mean vegetation index of a cropped field")
    """A changed object without pools whose mean vegetation index now is at least this is a
    swidden field (cropped or regrowing, not bare)."""
    burnt_nir_max: float = setting(0.14, low=0.0, high=1.0,
                                   doc="mean NIR reflectance of a burnt field (0–1)")
    """A changed object without pools whose mean NIR reflectance (0–1) is at most this and
    that is grey (mean redness < ``laterite_redness_min`` + 0.04) is a burnt swidden field
    (laterite keeps NIR ≈ 0.28, less on shaded slopes, and is red). For ``rgb`` the mean
    of R, G, B is used instead, against half this value."""
    recovery_veg_gain: float = setting(0.25, low=0.0, high=2.0,
                                       doc="vegetation index regained on a later date")
    """A pixel regrows when on a later clear date its vegetation index is this much above the
    reported date's."""
    swidden_recovered_fraction: float = setting(0.5, low=0.0, high=1.0,
                                                doc="share of pixels regrowing (0–1)")
    """An object without pools where at least this share of pixels regrows later is swidden."""
    landslide_min_elongation: float = setting(1.8, low=1.0, high=100.0,
                                              doc="long/short side of a landslide scar")
    """A bare, grey (mean redness < ``laterite_redness_min`` + 0.04) object without pools at
    least this elongated (long/short side of the minimum rotated rectangle) is a landslide
    scar."""
    established_max_changed: float = setting(0.25, low=0.0, high=1.0,
                                             doc="changed share below which land was bare")
    """An object without pools of which less than this share (0–1) changed against the
    baseline (the rest was bare already: dry grass, sand bars, old scars) is ``unknown``."""
    landslide_grey_only: bool = setting(True, doc="landslides must be grey, not laterite-red")
    """``True``: an elongated object must also be grey to be a landslide (red ones stay
    mining); ``False``: elongation alone (where redness separates rock from laterite poorly,
    as without SWIR)."""
    unknown_without_pools: bool = setting(False,
                                          doc="compact bare objects without pools → unknown")
    """``False``: compact, bare, non-swidden objects without pool evidence are ``mining``
    (pools drain, fill with brown water or are too small to resolve); ``True``: ``unknown``."""
    first_seen_min_fraction: float = setting(0.1, low=0.0, high=1.0,
                                             doc="share of a clearing bare at first_seen")
    """``first_seen`` of an object is the first date at which at least this share (0–1) of
    its pixels was already cleared."""
    window_dates: int = setting(6, low=0, high=1000,
                                doc="dates on each side of the mapped date that are used")
    """:func:`~minewatch.detect_clearings` uses at most this many dates before the mapped date
    (the baseline) and after it (regrowth), so the work per date stays constant and a long
    archive costs time linear in its dates; 0 uses every date. Forest cleared more than this
    many dates ago is bare in the baseline too and is mapped as established clearing."""

    def __post_init__(self) -> None:
        check_fields(self)


_BASE = ClearingConfig()

#: Presets per sensor/resolution, tuned on synth seeds 0–9 (benchmarks/accuracy_clearings.py).
CLEARING_PRESETS: dict[str, ClearingConfig] = {
    # dry-season grass reads as long-bare laterite at 10 m (NDVI 0.21-0.25, redness 0.11-0.15);
    # mines' long-bare pixels have NDVI 0.06-0.17. Chosen on seeds 0-9 (docs/detection.md)
    "sentinel2": replace(_BASE, established_veg_max=0.19),
    "landsat": replace(_BASE, opening_radius_m=0.0, split_radius_m=30.0, closing_radius_m=30.0,
                       min_area_m2=3600.0,
                       pool_edge_margin_m=0.0, min_pool_area_m2=900.0, pool_buffer_m=30.0,
                       max_hole_area_m2=5000.0,
                       # pools are sub-pixel at 30 m, so "no pools seen" is no evidence: long-
                       # bare laterite is mining, not unknown; dry grass (NDVI ≈ 0.2 in the
                       # dry season) is kept out by a lower NDVI of long-bare land instead
                       established_max_changed=0.0, established_veg_max=0.19),
    "planetscope": replace(_BASE, opening_radius_m=6.0, closing_radius_m=6.0,
                           # chosen on seeds 0-4 of benchmarks/accuracy.py (site counts)
                           normalize_redness=False,
                           landslide_grey_only=False,
                           split_radius_m=9.0,
                           pool_edge_margin_m=6.0, min_pool_area_m2=30.0, pool_buffer_m=6.0),
    "rgb_highres": replace(_BASE, method="rgb", normalize_redness=False, veg_min=0.1,
                           min_ndvi_drop=0.2,
                           min_bare_rise=0.2, bare_veg_max=-0.1, bare_min=0.1,
                           swidden_veg_min=0.0, opening_radius_m=3.0, closing_radius_m=3.0,
                           split_radius_m=3.0,
                           pool_water_min=0.1, pool_edge_margin_m=3.0, min_pool_area_m2=10.0,
                           pool_buffer_m=3.0, recovery_veg_gain=0.15),
}
