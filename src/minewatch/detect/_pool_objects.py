"""Per-object measurements of labelled pool candidates, block by block (numpy or dask)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from minewatch.detect._pool_pixels import LAYERS

#: Sums accumulated per label in every block (merged by adding).
_SUMS = ("n_pixels", "evidence_sum", "green_sum", "density_sum", "edge_n", "sy", "sx", "syy",
         "sxx", "sxy")


def block_stats(labels: np.ndarray, layers: np.ndarray, cube: np.ndarray, y0: int,
                x0: int) -> pd.DataFrame:
    """Sums and maxima per label of one block.

    ``layers`` is ``(len(LAYERS), y, x)`` as from :func:`~._pool_pixels.pixel_layers`, ``cube`` the
    ``(band, y, x)`` reflectance; ``y0``/``x0`` the block's offset in the full grid.
    """
    labels = np.asarray(labels)
    on = labels > 0
    if not on.any():
        return pd.DataFrame()
    ys, xs = np.nonzero(on)
    values = np.concatenate([np.asarray(layers)[:, ys, xs], np.asarray(cube)[:, ys, xs]])
    return pixel_stats(labels[ys, xs], ys + y0, xs + x0, values)


def candidate_pixels(layers: np.ndarray, cube: np.ndarray, threshold: float, y0: int,
                     x0: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows, columns (in the full grid) and values (layers, then bands) of the pixels of one
    block whose evidence reaches ``threshold``: the only pixels a pool mask can hold, so the
    object table needs these and not the block (~1 % of its pixels)."""
    ys, xs = np.nonzero(np.asarray(layers[0]) >= threshold)
    values = np.concatenate([np.asarray(layers)[:, ys, xs], np.asarray(cube)[:, ys, xs]])
    return ys + y0, xs + x0, values


def pixel_stats(lab: np.ndarray, gy: np.ndarray, gx: np.ndarray, values: np.ndarray
                ) -> pd.DataFrame:
    """:func:`block_stats` from gathered pixels: labels (> 0), grid rows and columns, and
    ``values`` (the layers of :data:`~._pool_pixels.LAYERS`, then bands; one column per
    pixel), in the block's raster order."""
    if lab.size == 0:
        return pd.DataFrame()
    ids, inv = np.unique(lab, return_inverse=True)
    n = len(ids)

    def add(v: np.ndarray) -> np.ndarray:
        return np.bincount(inv, weights=v.astype(np.float64), minlength=n)

    ev = values[0]
    gy, gx = gy.astype(np.float64), gx.astype(np.float64)
    out = {
        "label": ids.astype(np.int64),
        "n_pixels": np.bincount(inv, minlength=n).astype(np.float64),
        "evidence_sum": add(ev),
        "green_sum": add(np.nan_to_num(values[2])),
        "density_sum": add(np.nan_to_num(values[3])),
        "sy": add(gy), "sx": add(gx), "syy": add(gy * gy), "sxx": add(gx * gx),
        "sxy": add(gx * gy),
    }
    peak = np.zeros(n)
    np.maximum.at(peak, inv, ev)
    out["peak_evidence"] = peak
    # material of the strongest pixel
    order = np.lexsort((ev, inv))
    last = np.r_[np.nonzero(np.diff(inv[order]))[0], len(order) - 1]
    out["material"] = values[1][order][last]
    edge = values[4]
    out["edge_sum"] = add(np.nan_to_num(edge))
    out["edge_n"] = add(np.isfinite(edge))
    n_layers = len(LAYERS)
    for b in range(values.shape[0] - n_layers):
        out[f"band{b}_sum"] = add(np.nan_to_num(values[n_layers + b]))
    return pd.DataFrame(out)


def merge_stats(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Combine per-block tables of :func:`block_stats` into one row per label."""
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame()
    table = pd.concat(parts, ignore_index=True)
    sums = [c for c in table.columns if c in _SUMS or c.endswith("_sum")]
    grouped = table.groupby("label")
    merged = grouped[sums].sum()
    merged["peak_evidence"] = grouped["peak_evidence"].max()
    idx = table.groupby("label")["peak_evidence"].idxmax()
    merged["material"] = table.loc[idx.to_numpy(), "material"].to_numpy()
    return merged.reset_index()


def shape_measures(table: pd.DataFrame) -> pd.DataFrame:
    """Centroid (row, col), elongation (sqrt of the principal-moment ratio) and fill (pixels
    over the moment-ellipse area) per object."""
    n = table["n_pixels"].to_numpy()
    cy, cx = table["sy"].to_numpy() / n, table["sx"].to_numpy() / n
    vyy = table["syy"].to_numpy() / n - cy * cy + 1 / 12
    vxx = table["sxx"].to_numpy() / n - cx * cx + 1 / 12
    vxy = table["sxy"].to_numpy() / n - cx * cy
    tr, det = vyy + vxx, vyy * vxx - vxy * vxy
    disc = np.sqrt(np.maximum(tr * tr / 4 - det, 0))
    big, small = tr / 2 + disc, np.maximum(tr / 2 - disc, 1e-6)
    out = table.copy()
    out["row"], out["col"] = cy, cx
    out["elongation"] = np.sqrt(big / small)
    # pixels over the area of the moment ellipse: ~1 for discs and squares, low for ragged
    # or spindly shapes (chunk-safe, unlike a polygon perimeter)
    out["fill"] = n / (4 * np.pi * np.sqrt(np.maximum(det, 1e-12)))
    return out
