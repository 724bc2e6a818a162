"""Per-pixel pool evidence: sub-pixel unmixing against the local background.

Pure numpy/scipy on one block of a reflectance cube ``(band, y, x)``; :mod:`.pools` runs it
eagerly or per dask block with an overlap of one background window.

How it works. For every pixel ``x`` the local background ``b`` is the mean of the valid pixels
in a window of ``background_window_m`` around it, pool-like pixels left out (two passes). A
pixel covered to a fraction ``f`` by a pool of spectrum ``p`` reads ``x ≈ b + f (p − b)``; for
each pool material of :data:`POOL_LIBRARY` the least-squares ``f`` and the angle between
``x − b`` and ``p − b`` are computed. Evidence is ``f`` times a spectral-angle weight, best
over the materials, so a 10 m pixel one third covered by a pool scores about 1/3 and a clean
3 m pool pixel about 1. Liner-only (empty) pools are a material of their own.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

#: Band roles the unmixing can use, in library order.
LIBRARY_BANDS: tuple[str, ...] = ("blue", "green", "red", "nir", "swir1", "swir2")

#: Pool materials (surface reflectance 0–1 in :data:`LIBRARY_BANDS`): leachate colours and the
#: empty blue liner. Typical values of turbid/algal water, milky precipitate and blue
#: polyethylene; what matters is their direction from the soil/vegetation background.
POOL_LIBRARY: dict[str, tuple[float, ...]] = {
    "turquoise": (0.11, 0.19, 0.10, 0.05, 0.02, 0.01),
    "blue": (0.13, 0.12, 0.06, 0.03, 0.01, 0.01),
    "milky": (0.28, 0.31, 0.29, 0.17, 0.06, 0.04),
    "dark": (0.03, 0.04, 0.03, 0.02, 0.01, 0.005),
    "brown": (0.07, 0.10, 0.12, 0.08, 0.03, 0.02),
    "liner": (0.25, 0.19, 0.09, 0.27, 0.14, 0.09),
}

#: Names of the per-pixel layers returned by :func:`pixel_layers`, in order.
LAYERS: tuple[str, ...] = ("evidence", "material", "background_green", "evidence_density")


def odd_window(metres: float, resolution_m: float, minimum: int = 3) -> int:
    """Window side in pixels (odd, ≥ ``minimum``) for a length in metres."""
    n = max(minimum, round(metres / resolution_m))
    return n + 1 - n % 2


def _mean_filter(values: np.ndarray, weight: np.ndarray, size: int) -> tuple[np.ndarray,
                                                                             np.ndarray]:
    """Weighted local mean of each band (normalised convolution) and the weight mean."""
    wmean = ndimage.uniform_filter(weight, size, mode="nearest")
    out = np.empty_like(values)
    for i in range(values.shape[0]):
        ndimage.uniform_filter(values[i] * weight, size, output=out[i], mode="nearest")
    out /= np.maximum(wmean, 1e-6)
    return out, wmean


def _unmix(x: np.ndarray, bg: np.ndarray, library: np.ndarray, fit_tolerance: float,
           gain_range: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Best pool fraction × fit weight over the library materials, and which material (1-based).

    Per pixel and material ``p``, least squares ``x ≈ α b + γ p`` (``b`` the local background,
    already lit like the pixel): the pool fraction is ``f = 1 − α`` and ``γ / f`` the
    illumination of the pool relative to the library (hillshade, calibration), which must lie
    in ``gain_range``. The weight falls linearly from 1 (exact fit) to 0 at a residual of
    ``fit_tolerance`` × ``|x|``.
    """
    bb = (bg * bg).sum(0)
    xb = (x * bg).sum(0)
    xx = (x * x).sum(0)
    best = np.zeros(x.shape[1:], np.float32)
    which = np.zeros(x.shape[1:], np.float32)
    lo, hi = gain_range
    for k in range(library.shape[0]):
        p = library[k][:, None, None]
        pp = float((library[k] ** 2).sum())
        bp = (bg * p).sum(0)
        xp = (x * p).sum(0)
        det = bb * pp - bp * bp
        det = np.where(np.abs(det) < 1e-9, np.float32(1e-9), det)
        alpha = (xb * pp - xp * bp) / det
        gamma = (bb * xp - bp * xb) / det
        frac = np.clip(1.0 - alpha, 0.0, 1.0)
        # squared residual of the fit, from the normal equations
        res2 = np.maximum(xx - alpha * xb - gamma * xp, 0.0)
        weight = np.clip(1.0 - np.sqrt(res2 / np.maximum(xx, 1e-9)) / fit_tolerance, 0.0, 1.0)
        gain = gamma / np.maximum(frac, 1e-3)
        ok = (gain >= lo) & (gain <= hi)
        score = np.where(ok, frac * weight, 0.0).astype(np.float32)
        better = score > best
        best = np.where(better, score, best)
        which = np.where(better, np.float32(k + 1), which)
    return best, which


def pixel_layers(cube: np.ndarray, roles: tuple[str, ...], *, resolution_m: float,
                 background_window_m: float, background_exclude: float, fit_tolerance: float,
                 gain_range: tuple[float, float],
                 nodata_buffer_m: float, density_window_m: float, density_evidence: float,
                 water_ndwi_min: float,
                 materials: tuple[str, ...],
                 unmixing: tuple[str, ...] | None = None) -> np.ndarray:
    """Evidence and context layers of one block, ``(len(LAYERS), y, x)`` float32.

    ``cube`` is ``(band, y, x)`` reflectance with the bands ``roles`` (a subset of
    :data:`LIBRARY_BANDS`); NaN is nodata and gets evidence 0. ``unmixing`` (a subset of
    ``roles``; default all) are the bands the unmixing uses — bands delivered coarser than
    the grid (Sentinel-2 SWIR) are left out of it.
    """
    cube = np.asarray(cube, dtype=np.float32)
    valid = np.isfinite(cube).all(0)
    x = np.where(valid[None], cube, np.float32(0))
    use = [i for i, r in enumerate(roles) if unmixing is None or r in unmixing]
    idx = [LIBRARY_BANDS.index(roles[i]) for i in use]
    library = np.array([[POOL_LIBRARY[m][i] for i in idx] for m in materials], np.float32)
    size = odd_window(background_window_m, resolution_m)
    w = valid.astype(np.float32)
    bg, _ = _mean_filter(x, w, size)
    ev, _ = _unmix(x[use], bg[use], library, fit_tolerance, gain_range)
    # second pass: the background without pool-like pixels (and their mixed rims)
    keep = valid & ~ndimage.binary_dilation(ev > background_exclude)
    bg2, wmean = _mean_filter(x, keep.astype(np.float32), size)
    bg = np.where(wmean[None] > 0.05, bg2, bg)
    del bg2
    ev, which = _unmix(x[use], bg[use], library, fit_tolerance, gain_range)
    bad = ~valid
    buffer_px = round(nodata_buffer_m / resolution_m)
    if buffer_px > 0 and bad.any():
        bad = ndimage.binary_dilation(bad, iterations=buffer_px)
    ev[bad] = 0.0
    r, g = bg[roles.index("red")], bg[roles.index("green")]
    if "nir" in roles:
        n = bg[roles.index("nir")]
        green = (n - r) / np.maximum(n + r, 1e-6)
    else:
        green = (g - r) / np.maximum(g + r, 1e-6)
    dsize = odd_window(density_window_m, resolution_m)
    wet = ev > density_evidence
    if "nir" in roles:  # open water by itself (NDWI), which a river's interior is
        gr, nr = x[roles.index("green")], x[roles.index("nir")]
        wet |= valid & ((gr - nr) > water_ndwi_min * (gr + nr))
    density = ndimage.uniform_filter(wet.astype(np.float32), dsize, mode="nearest")
    out = np.stack([ev, which, green.astype(np.float32), density]).astype(np.float32)
    out[:, ~valid] = np.nan
    out[0, ~valid] = 0.0
    return out


def split_mask(evidence: np.ndarray, threshold: float, radius_px: int, min_peak: float
               ) -> np.ndarray:
    """Pool mask ``evidence ≥ threshold`` with touching pools cut apart.

    Every local maximum of the evidence (within ``radius_px``, at least ``min_peak``) seeds a
    watershed of the inverted evidence inside the mask; the one-pixel watershed lines are
    left out, so 4-connected labelling then gives one object per peak. ``radius_px`` 0 only
    thresholds.
    """
    evidence = np.asarray(evidence, dtype=np.float32)
    mask = evidence >= threshold
    if radius_px <= 0 or not mask.any():
        return mask
    from skimage.segmentation import watershed

    size = 2 * radius_px + 1
    peaks = (evidence == ndimage.maximum_filter(evidence, size=size, mode="nearest")) & (
        evidence >= max(min_peak, threshold))
    markers, n = ndimage.label(peaks, structure=np.ones((3, 3), bool))
    if n < 2:
        return mask
    regions = watershed(-evidence, markers, mask=mask, connectivity=1, watershed_line=True)
    # components without a peak (below min_peak) keep their pixels
    return (regions > 0) | (mask & ~ndimage.binary_dilation(regions > 0, iterations=2)
                            & (markers == 0))
