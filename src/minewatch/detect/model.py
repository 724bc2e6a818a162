"""A learned pool detector that investigators train from a few dozen drawn polygons.

Draw pools and non-pools (rivers, roofs, tarps, fish ponds, bare soil...) as polygons in QGIS,
with a column saying which is which, then::

    model = train_pool_model([scene], [drawn_polygons])
    model.save("pools_model.json")
    pools = detect_pools(scene, model=PoolModel.load("pools_model.json"))

The classifier is scikit-learn's logistic regression on per-pixel spectral indices and local
contrast/texture features, with degree-2 interactions (``PolynomialFeatures``). It is saved as a
plain JSON file (feature names, scaler, polynomial powers, coefficients): readable, diffable,
and loaded without pickle (so a shared model file cannot run code). The rule-based detector
stays the default and needs no training.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import rioxarray  # noqa: F401  (registers .rio)
import xarray as xr
from rasterio import features
from scipy import ndimage

from minewatch import indices
from minewatch.errors import BandError, InputError

__all__ = ["PoolModel", "pixel_features", "train_pool_model"]

#: Index features used when the image has the bands they need (RGB-only images use the last 4).
_INDEX_FEATURES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("ndwi", ("green", "nir")),
    ("ndvi", ("red", "nir")),
    ("mndwi", ("green", "swir1")),
    ("bare_soil", ("blue", "red", "nir", "swir1")),
    ("blueness", ("red", "blue")),
    ("saturation", ("red", "green", "blue")),
    ("brightness", ("red", "green", "blue")),
)
#: Local window (m) for contrast and texture features.
WINDOW_M = 30.0


def _scene_2d(scene: xr.DataArray) -> xr.DataArray:
    if "time" in scene.dims:
        if scene.sizes["time"] != 1:
            raise InputError("Pass one date: scene.isel(time=i), not a whole stack.")
        scene = scene.isel(time=0)
    if set(scene.dims) != {"band", "y", "x"}:
        raise InputError(f"Expected a (band, y, x) reflectance image, got dims {scene.dims}.")
    return scene


def pixel_features(scene: xr.DataArray, names: Sequence[str] | None = None) -> xr.DataArray:
    """Per-pixel features of a reflectance image: indices + local contrast and texture.

    Parameters
    ----------
    scene
        Reflectance (band, y, x), roles as band names.
    names
        Features to compute (a trained model's ``feature_names``); default all the image allows.

    Returns
    -------
    xarray.DataArray
        float32 (feature, y, x); NaN where the image is NaN.

    Raises
    ------
    BandError
        ``names`` asks for a feature whose bands the image lacks.
    """
    scene = _scene_2d(scene)
    there = {str(b) for b in scene["band"].values}
    window = max(3, round(WINDOW_M / abs(float(scene.rio.resolution()[0]))) | 1)
    layers: dict[str, np.ndarray] = {}
    for name, needs in _INDEX_FEATURES:
        if set(needs) <= there:
            value = np.asarray(getattr(indices, name)(scene), dtype=np.float32)
            layers[name] = value
            # local contrast: the pixel against its neighbourhood (pools are small and differ
            # from the clearing around them; large water bodies and roofs fields less so)
            filled = np.nan_to_num(value, nan=float(np.nanmean(value)) if np.isfinite(
                value).any() else 0.0)
            local = ndimage.uniform_filter(filled, size=window, mode="nearest")
            layers[f"{name}_contrast"] = value - local
    if "brightness" in layers:
        b = np.nan_to_num(layers["brightness"], nan=0.0)
        mean = ndimage.uniform_filter(b, size=window, mode="nearest")
        sq = ndimage.uniform_filter(b * b, size=window, mode="nearest")
        layers["brightness_texture"] = np.sqrt(np.maximum(sq - mean * mean, 0)).astype(
            np.float32)
    wanted = list(names) if names is not None else list(layers)
    missing = [n for n in wanted if n not in layers]
    if missing:
        raise BandError(
            f"The model needs feature(s) {missing} that this image's bands {sorted(there)} "
            f"cannot give; it can give {list(layers)}. Train the model on imagery of this sensor."
        )
    invalid = ~np.isfinite(np.asarray(scene, dtype=np.float32)).all(axis=0)
    stack = np.stack([layers[n] for n in wanted]).astype(np.float32)
    stack[:, invalid] = np.nan
    return xr.DataArray(stack, dims=("feature", "y", "x"),
                        coords={"feature": wanted, "y": scene["y"], "x": scene["x"]})


@dataclass(frozen=True)
class PoolModel:
    """A trained per-pixel pool classifier (logistic regression on degree-2 features)."""

    feature_names: tuple[str, ...]
    """Names of the input features, in order."""
    mean: tuple[float, ...]
    """Feature means for standardisation."""
    scale: tuple[float, ...]
    """Feature standard deviations for standardisation."""
    powers: tuple[tuple[int, ...], ...]
    """Exponents of each polynomial term over the standardised features."""
    coef: tuple[float, ...]
    """Logistic-regression coefficient of each polynomial term."""
    intercept: float
    """Logistic-regression intercept."""
    resolution_m: float
    """Pixel size (m) of the training imagery."""
    n_pool_pixels: int
    """Pool pixels it was trained on."""
    n_other_pixels: int
    """Non-pool pixels it was trained on."""

    def predict_proba(self, scene: xr.DataArray) -> xr.DataArray:
        """Probability (0–1) that each pixel is pool, as a float32 (y, x) DataArray with CRS."""
        scene = _scene_2d(scene)
        feats = pixel_features(scene, self.feature_names)
        x = np.asarray(feats).reshape(len(self.feature_names), -1).T
        valid = np.isfinite(x).all(axis=1)
        z = (x[valid] - np.asarray(self.mean)) / np.asarray(self.scale)
        powers = np.asarray(self.powers)
        terms = np.prod(z[:, None, :] ** powers[None, :, :], axis=2)
        logit = terms @ np.asarray(self.coef) + self.intercept
        prob = np.full(x.shape[0], np.nan, np.float32)
        prob[valid] = 1.0 / (1.0 + np.exp(-logit))
        out = xr.DataArray(prob.reshape(feats.shape[1:]), dims=("y", "x"),
                           coords={"y": scene["y"], "x": scene["x"]}, name="pool_probability")
        if scene.rio.crs is not None:
            out = out.rio.write_crs(scene.rio.crs)
        return out.rio.write_nodata(np.nan, encoded=False)

    def detect(self, scene: xr.DataArray, config: Any = None, *, threshold: float = 0.5,
               clearings: gpd.GeoDataFrame | None = None) -> gpd.GeoDataFrame:
        """Pools where the model's probability ≥ ``threshold``, as polygons.

        Objects outside the config's ``min_area_m2``…``max_area_m2`` are dropped; with
        ``clearings`` only pools inside one are kept. ``confidence`` is the object's mean
        probability (not recalibrated).
        """
        from minewatch.config import DetectionConfig, PoolConfig
        from minewatch.detect.vectorize import label_objects, vectorize

        if not 0 < threshold < 1:
            raise InputError(f"threshold = {threshold} must be between 0 and 1 (exclusive).")
        scene = _scene_2d(scene)
        if isinstance(config, DetectionConfig):
            config = config.pools
        cfg = config if isinstance(config, PoolConfig) else PoolConfig()
        prob = self.predict_proba(scene)
        labels = label_objects(prob >= threshold)
        frame = vectorize(labels, values={"probability": prob})
        frame = frame[(frame["area_m2"] >= cfg.min_area_m2)
                      & (frame["area_m2"] <= cfg.max_area_m2)]
        if clearings is not None and len(frame):
            inside = frame.sjoin(clearings.to_crs(frame.crs)[["geometry"]], how="inner",
                                 predicate="intersects").index.unique()
            frame = frame.loc[inside]
        frame = frame.rename(columns={"mean_probability": "confidence"})
        time = scene.coords.get("time")
        frame.insert(1, "date", pd.Timestamp(time.values) if time is not None else pd.NaT)
        return frame.reset_index(drop=True)

    def save(self, path: str | PathLike[str]) -> Path:
        """Write the model as plain JSON (atomically)."""
        from minewatch.io.write import atomic_path

        target = Path(path)
        data = {"minewatch_pool_model": 1, **{k: getattr(self, k) for k in
                                                self.__dataclass_fields__}}
        with atomic_path(target) as tmp:
            tmp.write_text(json.dumps(data, indent=1))
        return target

    @classmethod
    def load(cls, path: str | PathLike[str]) -> PoolModel:
        """Read a model written by :meth:`save`.

        Raises
        ------
        InputError
            The file is not a minewatch pool model (the message names it).
        """
        source = Path(path)
        try:
            data = json.loads(source.read_text())
            if data.pop("minewatch_pool_model", None) != 1:
                raise ValueError("not a minewatch pool model file")
            return cls(
                feature_names=tuple(data["feature_names"]), mean=tuple(data["mean"]),
                scale=tuple(data["scale"]), powers=tuple(tuple(p) for p in data["powers"]),
                coef=tuple(data["coef"]), intercept=float(data["intercept"]),
                resolution_m=float(data["resolution_m"]),
                n_pool_pixels=int(data["n_pool_pixels"]),
                n_other_pixels=int(data["n_other_pixels"]),
            )
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise InputError(f"{source}: cannot read a pool model ({err}).") from err


def _as_frame(labels: Any) -> gpd.GeoDataFrame:
    if isinstance(labels, gpd.GeoDataFrame):
        return labels
    try:
        return gpd.read_file(labels)
    except Exception as err:  # pyogrio raises several types for unreadable files
        raise InputError(f"{labels}: cannot read the training polygons ({err}).") from err


def train_pool_model(
    images: Sequence[xr.DataArray],
    labels: Sequence[Any],
    *,
    class_column: str = "class",
    pool_value: Any = "pool",
    max_pixels: int = 200_000,
    regularization_c: float = 0.1,
    seed: int = 0,
) -> PoolModel:
    """Fit a pool/non-pool pixel classifier from drawn polygons.

    Parameters
    ----------
    images
        Reflectance images (band, y, x), one per labelled scene, all of one sensor.
    labels
        For each image, polygons (GeoDataFrame or vector file, any CRS) with ``class_column``:
        ``pool_value`` marks pools, anything else non-pools. Unlabelled pixels are not used.
    class_column, pool_value
        Where the class is and which value means "pool".
    max_pixels
        At most this many labelled pixels are sampled (seeded) per class.
    regularization_c
        Inverse L2 regularisation strength of the logistic regression; the default 0.1 suits a
        few dozen drawn pools (measured on generated scenes: it generalises better than 1.0
        when the training set has < 100 pool pixels).
    seed
        Seed of the pixel sampling and the solver.

    Returns
    -------
    PoolModel

    Raises
    ------
    InputError
        Different numbers of images and label sets, a missing class column, or no pixel of
        one of the two classes.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import PolynomialFeatures, StandardScaler

    if len(images) != len(labels) or not images:
        raise InputError(f"Pass one label set per image: got {len(images)} images and "
                         f"{len(labels)} label sets.")
    rng = np.random.default_rng(seed)
    names: list[str] | None = None
    xs, ys = [], []
    for image, polygons in zip(images, labels, strict=True):
        scene = _scene_2d(image)
        frame = _as_frame(polygons)
        if class_column not in frame.columns:
            raise InputError(f"The training polygons have no {class_column!r} column "
                             f"(columns: {list(frame.columns)}); pass class_column=.")
        frame = frame.to_crs(scene.rio.crs)
        feats = pixel_features(scene, names)
        names = [str(f) for f in feats["feature"].values]
        shape = (scene.sizes["y"], scene.sizes["x"])
        codes = np.zeros(shape, np.uint8)
        others = frame[frame[class_column] != pool_value]
        pools = frame[frame[class_column] == pool_value]
        # non-pools first, pools burnt last so a pool drawn inside a non-pool area wins
        for value, part in ((2, others), (1, pools)):
            if len(part):
                features.rasterize(((g, value) for g in part.geometry), out=codes,
                                   transform=scene.rio.transform())
        table = np.asarray(feats).reshape(len(names), -1).T
        flat = codes.ravel()
        ok = np.isfinite(table).all(axis=1)
        xs.append(table[ok & (flat > 0)])
        ys.append(flat[ok & (flat > 0)] == 1)
    x, y = np.concatenate(xs), np.concatenate(ys)
    if y.sum() == 0 or (~y).sum() == 0:
        raise InputError(f"Training needs pixels of both classes; got {int(y.sum())} pool and "
                         f"{int((~y).sum())} non-pool pixels under the polygons.")
    keep = np.concatenate([
        rng.permutation(np.flatnonzero(y))[:max_pixels],
        rng.permutation(np.flatnonzero(~y))[:max_pixels],
    ])
    x, y = x[keep], y[keep]
    scaler = StandardScaler().fit(x)
    poly = PolynomialFeatures(degree=2, include_bias=False).fit(scaler.transform(x))
    terms = poly.transform(scaler.transform(x))
    clf = LogisticRegression(C=regularization_c, max_iter=2000, class_weight="balanced",
                             random_state=seed)
    clf.fit(terms, y)
    res = abs(float(_scene_2d(images[0]).rio.resolution()[0]))
    return PoolModel(
        feature_names=tuple(names or ()),
        mean=tuple(float(v) for v in scaler.mean_),
        scale=tuple(float(v) if v > 0 else 1.0 for v in scaler.scale_),
        powers=tuple(tuple(int(p) for p in row) for row in poly.powers_),
        coef=tuple(float(v) for v in clf.coef_[0]),
        intercept=float(clf.intercept_[0]),
        resolution_m=res,
        n_pool_pixels=int(y.sum()),
        n_other_pixels=int((~y).sum()),
    )
