"""Does the learned pool model beat the rules? Held-out accuracy of both, at 3 m.

The model is trained as an investigator would: polygons of pools and of look-alikes (river,
sand bars, streams, fish ponds, roofs, tarps, swidden, landslides) "drawn" on generated scenes
of seeds 0–9 (the truth tables stand in for the drawing); both detectors are then scored with
``minewatch.evaluate`` against the truth pool raster of seeds 100–109, never seen in training.

    python benchmarks/accuracy_model.py
"""

from __future__ import annotations

import time
import warnings

import geopandas as gpd
import numpy as np
import pandas as pd

from minewatch.detect import detect_pools, train_pool_model
from minewatch.evaluate import evaluate
from minewatch.synth import generate_scenes

DAY = "2023-02-14"
BANDS = ["blue", "green", "red", "nir"]  # PlanetScope 4-band


def scene(seed: int):
    s = generate_scenes(seed=seed, resolution_m=3.0, shape=(300, 300), dates=(DAY,),
                        sensor="planetscope", clouds=False, nodata_edges=False)
    day = pd.Timestamp(DAY)
    pools = s.pools[(pd.to_datetime(s.pools.first_date) <= day)
                    & (pd.to_datetime(s.pools.last_date) >= day)]
    drawn = gpd.GeoDataFrame(
        {"class": ["pool"] * len(pools) + ["other"] * len(s.confounders)},
        geometry=[*pools.geometry, *s.confounders.geometry], crs=s.pools.crs)
    return s.reflectance.isel(time=0).sel(band=BANDS), s.truth["pools"].isel(time=0), drawn


def main() -> None:
    warnings.simplefilter("ignore")
    t0 = time.perf_counter()
    train = [scene(seed) for seed in range(10)]
    model = train_pool_model([img for img, _, _ in train], [d for _, _, d in train])
    print(f"trained on seeds 0-9: {model.n_pool_pixels} pool px, {model.n_other_pixels} other "
          f"px, {len(model.coef)} terms ({time.perf_counter() - t0:.1f} s)")
    totals = {"rules": np.zeros(3), "model": np.zeros(3)}
    for seed in range(100, 110):
        img, truth, _ = scene(seed)
        for name, found in (("rules", detect_pools(img)),
                            ("model", detect_pools(img, model=model))):
            result = evaluate(found, truth)
            totals[name] += (result.n_matched, result.n_detected, result.n_reference)
    print("\nheld-out seeds 100-109, PlanetScope-like 3 m, objects (IoU >= 0.3):")
    print(f"{'detector':<10}{'precision':>10}{'recall':>8}{'F1':>7}{'detected':>10}{'truth':>7}")
    for name, (matched, detected, reference) in totals.items():
        p, r = matched / max(detected, 1), matched / max(reference, 1)
        f1 = 2 * matched / max(detected + reference, 1)
        print(f"{name:<10}{p:>10.3f}{r:>8.3f}{f1:>7.3f}{int(detected):>10}{int(reference):>7}")


if __name__ == "__main__":
    main()
