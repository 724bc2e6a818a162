"""Clearing detection accuracy on generated scenes with known truth (``minewatch.synth``).

For each resolution — Sentinel-2 10 m (6 bands), Landsat 8/9 30 m (6 bands) and PlanetScope
3 m (4 bands, no SWIR) — and each seed, a 5-date scene is generated; clouds and cloud shadows
are masked with the truth (as the product's SCL / QA_PIXEL / UDM2 mask would in
``load_stack``), and ``detect_clearings`` maps the last date. At 30 m the scene is drawn
directly on the 30 m grid: the generator averages a 2 m ground map area-weighted into each
pixel and mixes pools in by their exact area fraction (what the coarser sensor sees), and the
truth clearing code of a pixel is the majority of its 2 m cells. Then, against the truth of
that date:

- IoU / precision / recall: pixels of ``kind == "mining"`` objects vs truth code 1 (mining
  clearing, its pools included), over clear pixels, pooled over seeds; also per seed from
  :func:`minewatch.evaluate.evaluate` (with object precision / recall, IoU ≥ 0.3). Swidden,
  landslide, road and village pixels called mining count against precision.
- swidden-not-mining: share of swidden fields (truth code 2, ≥ 10 clear pixels) of which less
  than half is called mining (target ≥ 80 %).
- first_seen: share of mining sites (truth) whose best-overlapping mining object has
  ``first_seen`` equal to the site's first date.
- false clearing, % of scene area, any kind, on land that is not cleared in the truth (code 0):
  ``cloud`` — under truth cloud/shadow with the clouds *left in* the reflectance (a missed
  mask; with the mask applied this is 0 by construction); ``haze`` — the reported date of every
  scene carries haze (the generator adds it to the last date), so this is all false clearing
  on clear code-0 land; ``season`` — the same with a baseline mixing monsoon and dry dates.
- runtime of ``detect_clearings`` per scene (numpy input, after generation).

Tune only on seeds 0–9; report on seeds 100–109 (the default)::

    python benchmarks/accuracy_clearings.py                  # seeds 100-109
    python benchmarks/accuracy_clearings.py --seeds 0-9      # tuning seeds
    python benchmarks/accuracy_clearings.py --only landsat   # one preset
    python benchmarks/accuracy_clearings.py --seeds 0-9 --only sentinel2 \
        --set established_veg_max=0.19                       # try a setting (tuning seeds)

What 30 m sees of pools: ``--landsat-pools`` runs ``benchmarks/accuracy_pools.py`` (same
matching, tables and ``--seeds`` / ``--fit`` / ``--set`` options) on Landsat-like scenes drawn
on the 30 m grid (200 × 200 px, 6 bands, the ``landsat`` preset), which that script does not
list itself::

    python benchmarks/accuracy_clearings.py --landsat-pools              # seeds 100-109
    python benchmarks/accuracy_clearings.py --landsat-pools --seeds 0-9 --fit
"""

from __future__ import annotations

import argparse
import ast
import sys
import time
import warnings

import numpy as np
import pandas as pd
from rasterio import features

from minewatch.config import DetectionConfig
from minewatch.detect.clearings import detect_clearings
from minewatch.evaluate import evaluate
from minewatch.synth import CLEARING_CODES, generate_scenes

DATES = ("2020-02-14", "2021-03-05", "2022-02-27", "2023-03-14", "2024-02-20")
#: Baseline across seasons (monsoon dates are greener) for the season check.
SEASON_DATES = ("2020-08-20", "2021-03-05", "2021-09-15", "2022-07-30", "2024-02-20")
RUNS = {
    # name: (resolution_m, sensor, bands, shape, preset)
    "sentinel2 10 m": (10.0, "sentinel2", None, (300, 300), "sentinel2"),
    "landsat 30 m": (30.0, "landsat", None, (200, 200), "landsat"),
    "planetscope 3 m": (3.0, "planetscope", ["blue", "green", "red", "nir"], (400, 400),
                        "planetscope"),
}


def _raster(frame, shape, transform) -> np.ndarray:
    if len(frame) == 0:
        return np.zeros(shape, bool)
    return features.rasterize([(g, 1) for g in frame.geometry], out_shape=shape,
                              transform=transform).astype(bool)


def _scene(seed, res, sensor, bands, shape, dates):
    scenes = generate_scenes(seed=seed, resolution_m=res, shape=shape, dates=dates,
                             sensor=sensor)
    refl = scenes.reflectance
    if bands is not None:
        refl = refl.sel(band=bands)
    return scenes, refl


def one_seed(seed: int, run: tuple, cfg=None) -> dict:
    """Scores of one seed (``cfg``: a ClearingConfig to try instead of the preset)."""
    res, sensor, bands, shape, preset = run
    cfg = cfg if cfg is not None else DetectionConfig.preset(preset).clearings
    scenes, refl = _scene(seed, res, sensor, bands, shape, DATES)
    truth = scenes.truth.isel(time=-1)
    valid = truth["valid"].values.astype(bool)
    codes = truth["clearings"].values
    masked = refl.where(scenes.truth["valid"].astype(bool))
    t0 = time.perf_counter()
    found = detect_clearings(masked, cfg)
    seconds = time.perf_counter() - t0
    transform = refl.rio.transform()
    mining = _raster(found[found["kind"] == "mining"], shape, transform)
    anything = _raster(found, shape, transform)
    ev = evaluate(found[found["kind"] == "mining"],
                  truth["clearings"] == CLEARING_CODES["mining"],
                  valid=truth["valid"].astype(bool), kind="clearings",
                  confounders=scenes.confounders, date=DATES[-1])
    ref = codes == 1
    inter = int((mining & ref & valid).sum())
    union = int(((mining | ref) & valid).sum())
    det = int((mining & valid).sum())
    tru = int((ref & valid).sum())
    area = shape[0] * shape[1]
    false_haze = int((anything & valid & (codes == 0)).sum())

    # swidden fields
    fields = scenes.confounders[scenes.confounders["kind"] == "swidden"]
    n_fields = n_not_mining = 0
    for geom in fields.geometry:
        field = _raster(pd.DataFrame({"geometry": [geom]}), shape, transform) & (codes == 2)
        field &= valid
        if field.sum() < 10:
            continue
        n_fields += 1
        n_not_mining += int((mining & field).sum() < 0.5 * field.sum())

    # first_seen of sites
    sites = scenes.site_clearings
    last = pd.Timestamp(DATES[-1])
    n_sites = n_first_ok = 0
    mining_rows = found[found["kind"] == "mining"]
    for _, rows in sites.groupby("site_id"):
        rows = rows.sort_values("date")
        if pd.Timestamp(rows["date"].iloc[-1]) != last:
            continue
        geom = rows.geometry.iloc[-1]
        if len(mining_rows) == 0:
            n_sites += 1
            continue
        overlap = mining_rows.geometry.intersection(geom).area
        if overlap.max() < 0.25 * geom.area:
            continue  # site not (clearly) seen on the reported date
        n_sites += 1
        best = mining_rows.iloc[int(np.argmax(overlap.to_numpy()))]
        n_first_ok += int(pd.Timestamp(best["first_seen"]) == pd.Timestamp(rows["date"].iloc[0]))

    # clouds left in: a missed cloud mask
    cloudy = (truth["cloud"].values | truth["shadow"].values)
    unmasked = refl.where(~scenes.truth["nodata"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raw = detect_clearings(unmasked, cfg)
    false_cloud = int((_raster(raw, shape, transform) & cloudy & (codes == 0)).sum())

    # season: baseline of monsoon and dry dates
    s_scenes, s_refl = _scene(seed, res, sensor, bands, shape, SEASON_DATES)
    s_truth = s_scenes.truth.isel(time=-1)
    s_found = detect_clearings(s_refl.where(s_scenes.truth["valid"].astype(bool)), cfg)
    s_valid = s_truth["valid"].values.astype(bool)
    false_season = int((_raster(s_found, shape, transform) & s_valid
                        & (s_truth["clearings"].values == 0)).sum())
    return dict(seed=seed, inter=inter, union=union, det=det, tru=tru,
                iou=inter / union if union else np.nan, ev_iou=ev.pixel_iou,
                ev_precision=ev.pixel_precision, ev_recall=ev.pixel_recall,
                object_precision=ev.object_precision, object_recall=ev.object_recall,
                fields=n_fields,
                fields_ok=n_not_mining, sites=n_sites, first_ok=n_first_ok,
                false_cloud=100 * false_cloud / area, false_haze=100 * false_haze / area,
                false_season=100 * false_season / area, seconds=seconds,
                cloud_cover=100 * float(cloudy.mean()))


def parse_seeds(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        if "-" in part:
            a, b = part.split("-")
            out += list(range(int(a), int(b) + 1))
        else:
            out.append(int(part))
    return out


#: Landsat-like pool scenes for accuracy_pools: (pixel size m, shape px, sensor, bands).
LANDSAT_POOLS = (30.0, (200, 200), "landsat", ("blue", "green", "red", "nir", "swir1", "swir2"))


def landsat_pools(argv: list[str]) -> None:
    """``benchmarks/accuracy_pools.py`` at 30 m (Landsat) with the options in ``argv``."""
    import accuracy_pools  # this folder is on sys.path when run as a script

    accuracy_pools.RESOLUTIONS["landsat"] = LANDSAT_POOLS
    saved = sys.argv
    sys.argv = ["accuracy_pools.py", "--only", "landsat", *argv]
    try:
        accuracy_pools.main()
    finally:
        sys.argv = saved


def main() -> None:
    if "--landsat-pools" in sys.argv[1:]:
        landsat_pools([a for a in sys.argv[1:] if a != "--landsat-pools"])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="100-109", help="e.g. 100-109 or 0-9 or 1,5,7")
    parser.add_argument("--per-seed", action="store_true", help="print every seed's row")
    parser.add_argument("--landsat-pools", action="store_true",
                        help="pools at 30 m via accuracy_pools.py (its options apply)")
    parser.add_argument("--only", nargs="*", default=[r[-1] for r in RUNS.values()],
                        help="presets to run (default: all): " + ", ".join(r[-1] for r in
                                                                            RUNS.values()))
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="override a ClearingConfig field of each preset run (Python "
                             "literal), e.g. --set established_veg_max=0.19")
    args = parser.parse_args()
    changes = {k: ast.literal_eval(v) for k, v in (a.split("=", 1) for a in args.set)}
    seeds = parse_seeds(args.seeds)
    print(f"seeds {args.seeds}; dates {', '.join(DATES)} (reported: the last); "
          f"season run: {', '.join(SEASON_DATES)}")
    for name, run in RUNS.items():
        if run[-1] not in args.only:
            continue
        cfg = None
        if changes:
            cfg = DetectionConfig.preset(run[-1]).replace(clearings=changes).clearings
            print(f"[{run[-1]}] ClearingConfig overrides: {changes}")
        rows = pd.DataFrame([one_seed(s, run, cfg) for s in seeds])
        if args.per_seed:
            print(rows.round(3).to_string(index=False))
        iou = rows["inter"].sum() / rows["union"].sum()
        precision = rows["inter"].sum() / max(rows["det"].sum(), 1)
        recall = rows["inter"].sum() / max(rows["tru"].sum(), 1)
        table = pd.Series({
            "pixel IoU (all seeds)": f"{iou:.3f}  (target ≥ 0.80)",
            "pixel IoU per seed min / median": f"{rows['iou'].min():.3f} / "
                                               f"{rows['iou'].median():.3f}",
            "precision": f"{precision:.3f}",
            "recall": f"{recall:.3f}",
            "evaluate(): pixel IoU / precision / recall, seed mean":
                f"{rows['ev_iou'].mean():.3f} / {rows['ev_precision'].mean():.3f} / "
                f"{rows['ev_recall'].mean():.3f}",
            "evaluate(): object precision / recall, seed mean":
                f"{rows['object_precision'].mean():.3f} / {rows['object_recall'].mean():.3f}",
            "swidden fields not mining": f"{100 * rows['fields_ok'].sum() / max(rows['fields'].sum(), 1):.0f} % "  # noqa: E501
                                         f"of {rows['fields'].sum()}  (target ≥ 80 %)",
            "first_seen = truth first date": f"{100 * rows['first_ok'].sum() / max(rows['sites'].sum(), 1):.0f} % "  # noqa: E501
                                             f"of {rows['sites'].sum()} sites",
            "false from cloud+shadow, unmasked, % area (max)":
                f"{rows['false_cloud'].mean():.3f} ({rows['false_cloud'].max():.3f})  "
                f"[cloud+shadow cover {rows['cloud_cover'].mean():.1f} %]",
            "false on uncleared land, hazy date, % area (max)":
                f"{rows['false_haze'].mean():.3f} ({rows['false_haze'].max():.3f})",
            "false, cross-season baseline, % area (max)":
                f"{rows['false_season'].mean():.3f} ({rows['false_season'].max():.3f})",
            "runtime per scene (s)": f"{rows['seconds'].mean():.2f}",
        })
        _, _, bands, shape, preset = run
        print(f"\n## {name} — {shape[0]}×{shape[1]} px, preset {preset!r}, "
              f"{len(bands) if bands else 6} bands, {len(seeds)} seeds")
        print(table.to_string())


if __name__ == "__main__":
    main()
