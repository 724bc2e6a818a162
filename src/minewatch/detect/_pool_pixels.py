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

Cost. This is the pipeline's hottest code, so it is written for speed and memory: float32
throughout, the unmixing strip by strip of rows with in-place operations (temporaries stay in
the CPU cache), background means only for the bands read, and the first pass scores only the
pixels that can exceed ``background_exclude``. Every shortcut keeps the bits of the plain
whole-array formulas (same float32 operations in the same order per pixel).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

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
LAYERS: tuple[str, ...] = ("evidence", "material", "background_green", "evidence_density",
                           "edge_green")

#: Pixels per strip of the unmixing: its dozen float32 temporaries (256 KiB each) stay in the
#: CPU cache instead of streaming through memory (2^15-2^17 measured best, 1000² at 10 m).
_STRIP_PIXELS = 1 << 16


def odd_window(metres: float, resolution_m: float, minimum: int = 3) -> int:
    """Window side in pixels (odd, ≥ ``minimum``) for a length in metres."""
    n = max(minimum, round(metres / resolution_m))
    return n + 1 - n % 2


def _mean_filter(planes: Sequence[np.ndarray], weight: np.ndarray, size: int, *,
                 weighted: bool = False, into: Sequence[np.ndarray] | None = None,
                 min_weight: float = 0.05) -> list[np.ndarray]:
    """Weighted local mean of each plane (normalised convolution), float32.

    ``weighted``: the planes are already multiplied by ``weight`` (zero where it is 0, one
    elsewhere), which saves a product per band. With ``into`` (arrays like the planes) the
    means overwrite them in place where the window's mean weight exceeds ``min_weight``, one
    band at a time, and ``into`` is returned.
    """
    wmean = ndimage.uniform_filter(weight, size, mode="nearest")
    den = np.clip(wmean, np.float32(1e-6), np.inf)
    fill = None if into is None else wmean > min_weight
    fill_all = fill is not None and bool(fill.all())
    del wmean
    buf = None if weighted else np.empty_like(weight)
    mean = None if fill is None or fill_all else np.empty_like(weight)
    out = [] if into is None else list(into)
    for i, plane in enumerate(planes):
        if not weighted:
            plane = np.multiply(plane, weight, out=buf)
        if fill is None:
            out.append(np.empty_like(weight))
        # (filling everywhere is the usual case, and a masked copy is slow)
        dest = out[i] if mean is None else mean
        ndimage.uniform_filter(plane, size, output=dest, mode="nearest")
        dest /= den
        if mean is not None:
            np.copyto(out[i], mean, where=fill)
    return out


def _dilate(mask: np.ndarray, iterations: int = 1) -> np.ndarray:
    """``ndimage.binary_dilation(mask, iterations=iterations)`` (its 4-connected cross, border
    off), by shifted ORs: the same mask, several times faster."""
    for _ in range(iterations):
        src, mask = mask, mask.copy()
        mask[1:] |= src[:-1]
        mask[:-1] |= src[1:]
        mask[:, 1:] |= src[:, :-1]
        mask[:, :-1] |= src[:, 1:]
    return mask


def _dot(a: Sequence[np.ndarray], b: Sequence[np.ndarray | np.floating], out: np.ndarray,
         tmp: np.ndarray) -> np.ndarray:
    """``Σ a[i] b[i]`` over the bands, summed in band order like ``(a * b).sum(0)``."""
    np.multiply(a[0], b[0], out=out)
    for i in range(1, len(a)):
        out += np.multiply(a[i], b[i], out=tmp)
    return out


def _strip_rows(shape: tuple[int, ...]) -> int:
    """Rows per strip of :func:`_fits` for planes of ``shape``."""
    return max(1, _STRIP_PIXELS // max(1, shape[1]))


def _fits(x: Sequence[np.ndarray], bg: Sequence[np.ndarray], library: np.ndarray
          ) -> Iterator[tuple[slice, int, tuple[np.ndarray, ...]]]:
    """The least-squares fits of :func:`_unmix`, strip of rows by strip, material by material.

    Yields the strip's rows, the material's index and the flat arrays ``(f, α, bb, xb, xx,
    max(xx, 1e-9), bp, xp, det)`` (pool fraction, background coefficient and the normal
    equations' terms); they are buffers, overwritten by the next step.

    float32 throughout, in strips so that the temporaries stay in the CPU cache (every
    operation is element-wise, so the strips do not change a bit of the result).
    """
    shape = x[0].shape
    if x[0].size == 0:
        return
    lib = [[library[k, i] for i in range(len(x))] for k in range(library.shape[0])]
    pps = [float((library[k] ** 2).sum()) for k in range(library.shape[0])]
    rows = _strip_rows(shape)
    n = min(rows, shape[0]) * shape[1]
    buffers = np.empty((10, n), np.float32)
    small = np.empty(n, bool)
    for r0 in range(0, shape[0], rows):
        r1 = min(r0 + rows, shape[0])
        m = (r1 - r0) * shape[1]
        xs = [a[r0:r1].reshape(m) for a in x]
        bs = [a[r0:r1].reshape(m) for a in bg]
        fr, al, bb, xb, xx, mxx, bp, xp, det, t = buffers[:, :m]
        _dot(bs, bs, bb, t)
        _dot(xs, bs, xb, t)
        _dot(xs, xs, xx, t)
        np.clip(xx, 1e-9, np.inf, out=mxx)
        for k, (p, pp) in enumerate(zip(lib, pps, strict=True)):
            _dot(bs, p, bp, t)
            _dot(xs, p, xp, t)
            # det = bb pp − bp², kept away from 0
            np.multiply(bb, pp, out=det)
            det -= np.multiply(bp, bp, out=t)
            if not det.min() >= 1e-9:  # (only near nodata; a masked copy is slow)
                near0 = np.less(np.abs(det, out=t), 1e-9, out=small[:m])
                np.copyto(det, np.float32(1e-9), where=near0)
            # α = (xb pp − xp bp) / det, f = 1 − α in [0, 1]
            np.multiply(xb, pp, out=al)
            al -= np.multiply(xp, bp, out=t)
            al /= det
            np.subtract(1.0, al, out=fr)
            np.clip(fr, 0.0, 1.0, out=fr)
            yield slice(r0, r1), k, (fr, al, bb, xb, xx, mxx, bp, xp, det)


def _score(fit: tuple[np.ndarray, ...], fit_tolerance: float, gain_range: tuple[float, float],
           scratch: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Score ``f`` × fit weight (in place of ``f``) and whether the gain is plausible.

    ``fit`` as yielded by :func:`_fits`, or a subset of its pixels; ``scratch`` ``(3, n)``
    float32 buffers of the fit's length, if at hand.
    """
    fr, al, bb, xb, xx, mxx, bp, xp, det = fit
    ga, rs, t = np.empty((3, fr.size), np.float32) if scratch is None else scratch
    # γ = (bb xp − bp xb) / det
    np.multiply(bb, xp, out=ga)
    ga -= np.multiply(bp, xb, out=t)
    ga /= det
    # squared residual of the fit, from the normal equations, then the fit weight (the
    # clips are maxima: np.maximum with a scalar is several times slower)
    np.multiply(al, xb, out=rs)
    np.subtract(xx, rs, out=rs)
    rs -= np.multiply(ga, xp, out=t)
    np.clip(rs, 0.0, np.inf, out=rs)
    rs /= mxx
    np.sqrt(rs, out=rs)
    rs /= fit_tolerance
    np.subtract(1.0, rs, out=rs)
    np.clip(rs, 0.0, 1.0, out=rs)
    # gain γ / f within gain_range
    ga /= np.clip(fr, np.float32(1e-3), np.inf, out=t)
    lo, hi = gain_range
    ok = ga >= lo
    ok &= ga <= hi
    fr *= rs
    return fr, ok


def _unmix(x: Sequence[np.ndarray], bg: Sequence[np.ndarray], library: np.ndarray,
           fit_tolerance: float, gain_range: tuple[float, float]
           ) -> tuple[np.ndarray, np.ndarray]:
    """Best pool fraction × fit weight over the library materials, and which material (1-based).

    ``x`` and ``bg`` are the bands' ``(y, x)`` planes (or ``(band, y, x)`` arrays). Per pixel
    and material ``p``, least squares ``x ≈ α b + γ p`` (``b`` the local background, already
    lit like the pixel): the pool fraction is ``f = 1 − α`` and ``γ / f`` the illumination of
    the pool relative to the library (hillshade, calibration), which must lie in
    ``gain_range``. The weight falls linearly from 1 (exact fit) to 0 at a residual of
    ``fit_tolerance`` × ``|x|``.
    """
    shape = x[0].shape
    best = np.zeros(shape, np.float32)
    which = np.zeros(shape, np.float32)
    scratch = np.empty((4, min(_strip_rows(shape), shape[0]) * shape[1]), np.float32)
    for rows, k, fit in _fits(x, bg, library):
        m = fit[0].size
        score, ok = _score(fit, fit_tolerance, gain_range, scratch[:3, :m])
        # best = where(ok & (score > best), score, best), and which alike, without masked
        # copies (slow): best is ≥ 0 and the score is ≥ 0 or NaN, so a score zeroed for its
        # gain never wins, nor does a NaN in fmax
        bst, wch, t = best[rows].reshape(m), which[rows].reshape(m), scratch[3, :m]
        score *= ok
        better = np.greater(score, bst, out=ok)
        np.fmax(bst, score, out=bst)
        np.subtract(np.float32(k + 1), wch, out=t)
        t *= better
        wch += t
    return best, which


def _pool_like(x: Sequence[np.ndarray], bg: Sequence[np.ndarray], library: np.ndarray,
               fit_tolerance: float, gain_range: tuple[float, float], threshold: float
               ) -> np.ndarray:
    """``_unmix(...)[0] > threshold``, scoring only the pixels that can pass.

    A score is ``f`` times a weight ≤ 1, so only pixels whose ``f`` exceeds ``threshold`` (a
    few percent) need the rest of the fit.
    """
    out = np.zeros(x[0].shape, bool)
    for rows, _, fit in _fits(x, bg, library):
        m = fit[0].size
        idx = np.flatnonzero(fit[0] > threshold)
        if idx.size == 0:
            continue
        score, ok = _score(tuple(a[idx] for a in fit), fit_tolerance, gain_range)
        ok &= score > threshold
        out[rows].reshape(m)[idx[ok]] = True
    return out


def pixel_layers(cube: np.ndarray, roles: tuple[str, ...], *, resolution_m: float,
                 background_window_m: float, background_exclude: float, fit_tolerance: float,
                 gain_range: tuple[float, float],
                 nodata_buffer_m: float, density_window_m: float, density_evidence: float,
                 water_ndwi_min: float,
                 materials: tuple[str, ...],
                 unmixing: tuple[str, ...] | None = None,
                 water_evidence: bool = False,
                 water_evidence_ndwi: tuple[float, float] = (0.1, 0.3),
                 edge_exclude: float = 0.3, edge: bool = True) -> np.ndarray:
    """Evidence and context layers of one block, ``(len(LAYERS), y, x)`` float32.

    ``cube`` is ``(band, y, x)`` reflectance with the bands ``roles`` (a subset of
    :data:`LIBRARY_BANDS`); NaN is nodata and gets evidence 0. ``unmixing`` (a subset of
    ``roles``; default all) are the bands the unmixing uses — bands delivered coarser than
    the grid (Sentinel-2 SWIR) are left out of it. ``water_evidence`` (with NIR): evidence is
    at least the pixel's NDWI scaled from 0 at ``water_evidence_ndwi[0]`` to 1 at
    ``water_evidence_ndwi[1]`` (open water, dark pools included). ``edge_green``: the mean
    greenness of the pixel's 3 × 3 neighbours whose evidence is under ``edge_exclude`` (not
    pool), NaN where there are none: what a pool's rim touches (bare ground, or the forest and
    grass banks of streams and fish ponds), computed only at pixels whose evidence reaches
    ``edge_exclude``; all NaN with ``edge=False`` (a config that does not use it).
    """
    cube = np.asarray(cube, dtype=np.float32)
    valid = np.isfinite(cube).all(0)
    invalid = ~valid
    use = [i for i, r in enumerate(roles) if unmixing is None or r in unmixing]
    idx = [LIBRARY_BANDS.index(roles[i]) for i in use]
    library = np.array([[POOL_LIBRARY[m][i] for i in idx] for m in materials], np.float32)
    ir, ig = roles.index("red"), roles.index("green")
    i_n = roles.index("nir") if "nir" in roles else None
    # only the bands read below: the unmixing's and those of the greenness and water tests
    need = sorted({*use, ir, ig} | ({i_n} if i_n is not None else set()))
    x = {}
    for i in need:
        plane = cube[i].copy()
        plane[invalid] = 0.0
        x[i] = plane
    size = odd_window(background_window_m, resolution_m)
    # first pass: x is 0 where invalid, so it is its own product with the weight
    means = _mean_filter([x[i] for i in need], valid.astype(np.float32), size, weighted=True)
    bg = dict(zip(need, means, strict=True))
    del means
    pool_like = _pool_like([x[i] for i in use], [bg[i] for i in use], library,
                           fit_tolerance, gain_range, background_exclude)
    # second pass: the background without pool-like pixels (and their mixed rims), where
    # enough of the window is left
    keep = _dilate(pool_like)
    del pool_like
    np.logical_not(keep, out=keep)
    keep &= valid
    _mean_filter([x[i] for i in need], keep.astype(np.float32), size,
                 into=[bg[i] for i in need], min_weight=0.05)
    del keep
    out = np.empty((len(LAYERS), *cube.shape[1:]), np.float32)
    ev, which = _unmix([x[i] for i in use], [bg[i] for i in use], library, fit_tolerance,
                       gain_range)
    if water_evidence and i_n is not None:
        # open water is pool evidence too: NDWI from w0 (0) to w1 (1); invalid pixels get
        # evidence 0 below, with the nodata buffer
        gr, nr = x[ig], x[i_n]
        w0, w1 = water_evidence_ndwi
        water = np.subtract(gr, nr)
        water /= np.clip(gr + nr, np.float32(1e-6), np.inf)
        water -= np.float32(w0)
        water /= np.float32(w1 - w0)
        np.clip(water, 0.0, 1.0, out=water)
        np.fmax(ev, water, out=ev)
        del water
    bad = invalid
    buffer_px = round(nodata_buffer_m / resolution_m)
    if buffer_px > 0 and bad.any():
        bad = _dilate(bad, buffer_px)
    ev[bad] = 0.0
    del bad
    out[0], out[1] = ev, which
    del which
    if edge:
        _edge_green(out[4], ev, valid, x[i_n] if i_n is not None else x[ig], x[ir],
                    edge_exclude)
    else:
        out[4] = np.nan
    # background greenness: NDVI, else (g − r)/(g + r)
    r, g = bg[ir], bg[i_n if i_n is not None else ig]
    num, den = out[2], np.empty_like(r)
    np.subtract(g, r, out=num)
    num /= np.clip(np.add(g, r, out=den), 1e-6, np.inf, out=den)
    del bg, den
    dsize = odd_window(density_window_m, resolution_m)
    wet = ev > density_evidence
    del ev
    if i_n is not None:  # open water by itself (NDWI), which a river's interior is
        gr, nr = x[ig], x[i_n]
        wet |= valid & ((gr - nr) > water_ndwi_min * (gr + nr))
    ndimage.uniform_filter(wet.astype(np.float32), dsize, output=out[3], mode="nearest")
    out[:, invalid] = np.nan
    out[0, invalid] = 0.0
    return out


def _edge_green(out: np.ndarray, ev: np.ndarray, valid: np.ndarray, gp: np.ndarray,
                rp: np.ndarray, exclude: float) -> None:
    """Into ``out``: at the pixels whose evidence reaches ``exclude`` (the only ones an object
    holds), the mean greenness ``(gp − rp)/(gp + rp)`` of their 3 × 3 neighbours whose
    evidence is under it (and valid), NaN where there are none and everywhere else.

    Gathered at those pixels (~1 % of a block), not filtered over the block: a 3 × 3
    ``uniform_filter`` of both planes cost ~30 % of :func:`pixel_layers` at 10 m.
    """
    out[:] = np.nan
    ys, xs = np.nonzero(ev >= np.float32(exclude))
    if ys.size == 0:
        return
    h, w = ev.shape
    total = np.zeros(ys.size, np.float32)
    count = np.zeros(ys.size, np.float32)
    for dy in (-1, 0, 1):
        yy = np.clip(ys + dy, 0, h - 1)  # the border repeats, as mode="nearest" would
        for dx in (-1, 0, 1):
            xx = np.clip(xs + dx, 0, w - 1)
            ground = (ev[yy, xx] < np.float32(exclude)) & valid[yy, xx]
            g, r = gp[yy, xx], rp[yy, xx]
            green = (g - r) / np.clip(g + r, np.float32(1e-6), np.inf)
            total += np.where(ground, green, np.float32(0))
            count += ground
    some = count > 0
    out[ys[some], xs[some]] = total[some] / count[some]


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
