"""Thresholds of pool detection (``minewatch.detect.pools``), with per-sensor presets.

Every number the pool detector uses is a field here (units in the names and docstrings), so a
published count can be reproduced from its TOML file. The presets were tuned on generated
scenes (``minewatch.synth``, seeds 0–9) by ``benchmarks/accuracy_pools.py``; the confidence
coefficients are a logistic model fitted there.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from minewatch.config._base import check_fields, setting
from minewatch.errors import ConfigError

#: Band roles the pool unmixing knows (the library bands of ``minewatch.detect``).
UNMIXING_BANDS: tuple[str, ...] = ("blue", "green", "red", "nir", "swir1", "swir2")

#: Object features the confidence model reads, in coefficient order (after the intercept).
CONFIDENCE_FEATURES: tuple[str, ...] = (
    "peak_evidence",     # highest pixel evidence of the object, 0–1
    "mean_evidence",     # mean pixel evidence, 0–1
    "log_area",          # natural log of the evidence-weighted area in m²
    "elongation",        # sqrt of the ratio of the principal second moments, ≥ 1
    "background_green",  # greenness (NDVI, or (g − r)/(g + r) without NIR) of the background
    "density",           # fraction of pool-like pixels within density_window_m
    "liner",             # 1 when the best-fitting material is the blue liner, else 0
    "neighbours",        # log(1 + other candidates within neighbour_radius_m)
    "fill",              # pixels / area of the moment ellipse (~1 compact, low ragged)
)


@dataclass(frozen=True)
class PoolConfig:
    """Every threshold of pool detection. Units in the names (m, m², reflectance 0–1).

    Examples
    --------
    >>> PoolConfig().min_area_m2
    4.0
    >>> PoolConfig(min_area_m2=-1.0)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    minewatch.errors.ConfigError: PoolConfig.min_area_m2 = -1.0 is out of range: ...
    """

    method: str = setting("auto", choices=("auto", "multispectral", "rgb"),
                          doc="bands used: multispectral needs NIR; rgb needs only R, G, B")
    """Which bands the evidence uses: ``multispectral`` (blue, green, red, nir, plus swir1 and
    swir2 when present), ``rgb`` (blue, green, red only) or ``auto`` (multispectral when the
    image has NIR)."""
    unmixing_bands: tuple[str, ...] = setting(
        (), doc="bands the sub-pixel unmixing uses; empty = every band of the method")
    """Band roles the per-pixel unmixing uses (a subset of blue, green, red, nir, swir1,
    swir2); empty: every band the method uses. Bands delivered coarser than the analysis grid
    belong out of it: Sentinel-2 L2A has SWIR (B11, B12) at 20 m, and resampled to 10 m a
    pool's SWIR dip is spread over 4–9 pixels, which no 10 m pool pixel fits. The
    ``sentinel2`` preset therefore unmixes with the four 10 m bands. Listed bands the image
    or the method lacks are skipped; fewer than three left raises ``BandError``."""
    report_indices: tuple[str, ...] = setting(
        (), doc="index means reported per pool; empty = every index the image supports")
    """Indices whose object means are columns of the result (``ndwi``, ``mndwi``, ``ndvi``,
    ``bare_soil``, ``blueness``, ``brightness``, ``hue``, ``saturation``). Empty: all that the
    image's bands allow. Naming one the image cannot compute raises ``BandError``."""
    background_window_m: float = setting(60.0, low=1.0, high=2000.0,
                                         doc="side of the local background window (m)")
    """Side (m) of the window whose mean (pool-like pixels left out) is the local background
    a pixel is unmixed against."""
    background_exclude: float = setting(0.2, low=0.0, high=1.0,
                                        doc="evidence above which a pixel is not background")
    """First-pass evidence (0–1) above which a pixel (and its 8 neighbours) is left out of the
    background mean."""
    fit_tolerance: float = setting(0.2, low=0.01, high=1.0,
                                   doc="relative unmixing residual at which evidence is 0")
    """Residual of the two-member unmixing, relative to the pixel's reflectance norm, at which a
    material's weight reaches 0 (linear from 1 at a perfect fit)."""
    gain_range: tuple[float, float] = setting((0.25, 2.5), low=0.0, high=20.0,
                                              doc="allowed pool brightness vs library (ratio)")
    """Allowed ratio (min, max) of the pool's brightness to the library material (hillshade,
    turbidity, calibration)."""
    nodata_buffer_m: float = setting(10.0, low=0.0, high=1000.0,
                                     doc="evidence zeroed this close to nodata/cloud (m)")
    """Evidence is set to 0 within this distance (m) of NaN pixels (cloud, shadow and swath
    edges): mixed cloud-edge pixels are never pools."""
    density_window_m: float = setting(150.0, low=1.0, high=5000.0,
                                      doc="window of the pool-pixel density (m)")
    """Side (m) of the window in which the fraction of pool-like pixels (and, with NIR, of
    open water) is measured; rivers and lakes fill it, pool chains only partly."""
    density_evidence: float = setting(0.3, low=0.0, high=1.0,
                                      doc="evidence counted as pool-like in the density")
    """Pixel evidence (0–1) from which a pixel counts towards the density."""
    water_ndwi_min: float = setting(0.2, low=-1.0, high=1.0,
                                    doc="NDWI from which a pixel counts as open water")
    """NDWI (green − nir)/(green + nir) from which a pixel counts as open water in the density
    (with NIR only): the interior of a river scores no pool evidence against its own
    background, but it is water."""
    max_edge_green: float = setting(1.0, low=-1.0, high=1.0,
                                    doc="max greenness of the ground a pool touches")
    """Candidates whose rim touches ground greener than this are dropped: the mean
    greenness (NDVI, or (g − r)/(g + r) without NIR) of the non-pool pixels next to the
    object's pixels (3 × 3). Leaching pools are dug into bare cleared ground; streams under
    canopy and fish ponds with grassy banks touch vegetation. 1 = off."""
    water_evidence: bool = setting(False, doc="open water (NDWI) is pool evidence too")
    """With NIR: a pixel's evidence is at least its NDWI scaled to 0–1 by
    ``water_evidence_ndwi``, besides the unmixing. Dark pools on dim ground are far from
    every library colour relative to their faint reflectance, so the unmixing scores them
    ~0, but they are water (NDWI > 0.1 on ~80 % of their pixels at 3 m; bare ground and
    tarps < −0.1, blue metal roofs ≈ 0.05). Rivers and fish ponds gain evidence too; the
    density, shape and confidence tests handle them. On in ``planetscope`` only: at 10 m a
    pool's pixel is mostly soil and its NDWI stays low (no change on the tuning seeds)."""
    water_evidence_ndwi: tuple[float, float] = setting(
        (0.1, 0.3), low=-1.0, high=1.0, doc="NDWI at which water evidence is 0 and 1")
    """NDWI (green − nir)/(green + nir) at which the open-water evidence of
    ``water_evidence`` is 0 and 1 (linear between)."""
    evidence_threshold: float = setting(0.3, low=0.0, high=1.0,
                                        doc="pixel evidence for the pool mask")
    """Pixel evidence (0–1) from which a pixel joins the pool mask (object extent)."""
    pixel_min_evidence: float = setting(0.3, low=0.0, high=1.0,
                                        doc="evidence from which a pool's pixel is pool, "
                                            "not its mixed rim (change maps)")
    """Pixel evidence (≈ the pixel's pool fraction, 0–1) from which a pixel of a detected
    pool counts as pool in a change map (class ``new pools``); the object's other pixels, its
    mixed rim, count as mining ground. At 10 m a 40 m² pool leaves most of its pixels mostly
    soil; at 3 m and finer the pool fills its pixels and this changes little. Chosen on
    generated seeds 0–4 by ``benchmarks/accuracy_change.py`` (docs/change.md)."""
    peak_evidence_min: float = setting(0.45, low=0.0, high=1.0,
                                       doc="an object's highest evidence must reach this")
    """An object is kept only if its highest pixel evidence (0–1) reaches this (hysteresis)."""
    split_distance_m: float = setting(0.0, low=0.0, high=1000.0,
                                      doc="split touching pools at peaks this far apart (m)")
    """Touching pools are cut apart (watershed between evidence peaks) when their peaks are
    local maxima within this radius (m); 0 = no splitting. Needed at 3–10 m, where pools of a
    chain share mixed pixels."""
    opening_radius_px: int = setting(0, low=0, high=10,
                                     doc="radius of the morphological opening (pixels)")
    """Radius (pixels) of a binary opening of the mask (0 = none; useful at sub-metre
    resolution to drop speckle and thin links)."""
    connectivity: int = setting(1, low=1, high=2, doc="pixel connectivity (1 = 4, 2 = 8)")
    """Connectivity of the pool mask: 1 (edges only, keeps touching pools apart) or 2."""
    min_area_m2: float = setting(4.0, low=0.0, doc="smallest pool kept (m²)")
    """Smallest pool kept (m², evidence-weighted area: sum of pixel evidence × pixel area)."""
    max_area_m2: float = setting(2500.0, low=0.0, doc="largest pool kept (m²)")
    """Largest pool kept (m², evidence-weighted); bigger water is a river, lake or fish-pond
    complex."""
    max_elongation: float = setting(4.0, low=1.0, high=1000.0,
                                    doc="longest/shortest principal axis ratio kept")
    """Largest ratio of principal axes (from second moments) kept; streams, rivers and roads
    are longer."""
    max_background_green: float = setting(0.6, low=-1.0, high=1.0,
                                          doc="greenest background a pool can sit in")
    """Objects whose background greenness (NDVI, or (g − r)/(g + r) without NIR) exceeds this
    sit in forest or fields, not on a cleared plot."""
    max_density: float = setting(0.35, low=0.0, high=1.0,
                                 doc="largest pool-pixel density kept")
    """Objects where more than this fraction of the density window is pool-like lie in a river
    channel or lake."""
    neighbour_radius_m: float = setting(60.0, low=0.0, high=5000.0,
                                        doc="radius for counting neighbouring candidates (m)")
    """Radius (m) within which other candidate objects are counted (pools come in chains)."""
    pool_area_m2: float = setting(0.0, low=0.0, high=10000.0,
                                  doc="evidence-weighted area of one pool, for counting (m²)")
    """Evidence-weighted area (m²) one pool contributes, used to estimate how many pools a
    merged object holds (``n_pools`` = area_m2 / pool_area_m2, at least 1). 0: every object
    is one pool (resolutions that separate pools)."""
    confidence_coefficients: tuple[float, ...] = setting(
        (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0),
        doc="logistic model: intercept, then one per CONFIDENCE_FEATURES")
    """Logistic confidence model: intercept then one coefficient per feature of
    ``CONFIDENCE_FEATURES`` (peak and mean evidence, log area, elongation, background
    greenness, density, liner flag, neighbours, fill). All zeros gives confidence 0.5."""
    min_confidence: float = setting(0.5, low=0.0, high=1.0,
                                    doc="calibrated confidence below which a pool is dropped")
    """Detections with a calibrated confidence (0–1) below this are dropped."""

    def __post_init__(self) -> None:
        check_fields(self)
        lo, hi = self.water_evidence_ndwi
        if not lo < hi:
            raise ConfigError(f"PoolConfig.water_evidence_ndwi = {self.water_evidence_ndwi!r}: "
                              "the first value (NDWI of evidence 0) must be below the second "
                              "(evidence 1), both in -1…1.")
        unknown = [b for b in self.unmixing_bands if b not in UNMIXING_BANDS]
        if unknown:
            raise ConfigError(f"PoolConfig.unmixing_bands = {self.unmixing_bands!r} names "
                              f"{unknown}; allowed band roles: {list(UNMIXING_BANDS)} (empty = "
                              "every band of the method).")


_BASE = PoolConfig()

#: Presets per sensor/resolution, tuned on synth seeds 0–9 (PlanetScope: 0–29), never on the
#: held-out seeds 100–109 (benchmarks/accuracy_pools.py).
POOL_PRESETS: dict[str, PoolConfig] = {
    "sentinel2": replace(_BASE, unmixing_bands=("blue", "green", "red", "nir"),
                         background_window_m=40.0, fit_tolerance=0.1, nodata_buffer_m=10.0,
                         evidence_threshold=0.16, peak_evidence_min=0.2, min_area_m2=10.0,
                         max_area_m2=600.0, max_elongation=5.0, max_background_green=0.4,
                         max_density=0.15, pool_area_m2=38.8, max_edge_green=0.2,
                         confidence_coefficients=(1.627, 3.484, 4.246, 0.1431, -0.1406, -16.62,
                                                  -8.446, -1.489, 1.441, -0.2135),
                         min_confidence=0.50),
    # Landsat: pools are far below a 30 m pixel; on seeds 0-9 and 100-109 it finds < 1 % of
    # them, 2 % even with loose candidate settings (docs/detection.md). Confidence fitted on
    # seeds 0-9 (benchmarks/accuracy_clearings.py --landsat-pools --seeds 0-9 --fit), so the
    # few pools kept at 0.5 are nearly all real (92 % false with no model); not a pool count.
    "landsat": replace(_BASE, nodata_buffer_m=30.0, background_window_m=150.0,
                       density_window_m=300.0, evidence_threshold=0.05,
                       peak_evidence_min=0.08, min_area_m2=50.0, max_area_m2=900.0,
                       max_elongation=3.0, max_background_green=0.4, max_density=0.15,
                       pool_area_m2=24.1,
                       confidence_coefficients=(1.572, -0.2441, 4.849, -0.6272, -0.442, -20.92,
                                                -17.03, -1.033, -1.15, 5.21),
                       min_confidence=0.5),
    # PlanetScope: density window and cap, confidence model and cut chosen on seeds 0-29
    # (10-29 added 2026-11-25: 0-9 hold no dense pool chain beside a river, which the former
    # 150 m window / 0.15 cap dropped whole; docs/detection.md)
    "planetscope": replace(_BASE, nodata_buffer_m=6.0, min_area_m2=8.0, max_area_m2=600.0,
                           max_elongation=3.0, max_background_green=0.35,
                           density_window_m=90.0, max_density=0.30, water_evidence=True,
                           max_edge_green=0.22,
                           confidence_coefficients=(-3.424, 3.48, 1.956, 0.689, -1.244,
                                                    -7.618, -6.444, -2.61, 1.066, 1.85),
                           min_confidence=0.55),
    "rgb_highres": replace(_BASE, method="rgb", nodata_buffer_m=2.0, opening_radius_px=1,
                           min_area_m2=6.0, max_area_m2=1000.0, max_elongation=2.5,
                           max_background_green=-0.1, max_density=0.7,
                           confidence_coefficients=(-11.33, 0.8569, 5.019, 0.4252, -2.084,
                                                    -12.94, -1.475, -1.221, -0.1672, 6.564),
                           min_confidence=0.40),
}
