"""Pool detection accuracy on generated scenes with known truth, per resolution.

Tune only on seeds 0–9 (PlanetScope: 0–29), report on seeds 100–109 (every confounder the
generator draws is in every seed: river, sand bars, streams, a village with metal roofs and
fish ponds, tarp huts, swidden, landslides; clouds on the middle date, haze on the last, a
swath edge on the first).

Each seed is one generated world drawn at the preset's resolution, all four dates. Pixels the
truth marks invalid (cloud, shadow, swath edge) are set to NaN, as the product cloud masks do
in ``open_tile``/``load_stack``. A detection is matched one-to-one to the truth pool present on
that date it overlaps most (greedy by overlap area); precision = matched / detections, recall
= matched / truth pools, count error = (detections − truth) / truth. Unmatched detections are
charged to the confounder they touch, else to ``real_pool`` when they lie on a truth pool of
the date (a split pool's second part, or a pool whose centre pixel is invalid), else
``cloud_edge`` within two pixels of NaN, else ``other``; given per 10 km² of valid area, with
the total over the look-alikes the issue's target names (rivers, streams, fish ponds, roofs,
tarps, sand bars, cloud edges).

At 10 m the SWIR bands (swir1, swir2) are given as a Sentinel-2 L2A product delivers them and
``load_stack`` ingests them: B11/B12 at 20 m (2×2 means of the 10 m render, as
``minewatch.synth`` writes the L2A layout) resampled back to the 10 m grid with bilinear
interpolation (odc-stac's default; the result equals ``load_stack`` on a written L2A archive to
the uint16 quantisation). ``--swir-10m`` feeds the sharp 10 m render instead (a diagnostic: no
real product has it).

    python benchmarks/accuracy_pools.py                       # report, seeds 100–109
    python benchmarks/accuracy_pools.py --only sentinel2 --swir-10m   # diagnostic 10 m SWIR
    python benchmarks/accuracy_pools.py --sample-archive sample_tiles/sentinel2_10m
    python benchmarks/accuracy_pools.py --seeds 0-9 --fit     # fit the confidence model
    python benchmarks/accuracy_pools.py --only planetscope --seeds 0-2
"""

from __future__ import annotations

import argparse
import ast
import time
import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import ndimage, optimize

from minewatch.config import DetectionConfig
from minewatch.config._pools import CONFIDENCE_FEATURES
from minewatch.detect.pools import confidence_features, detect_pools
from minewatch.synth import generate_scenes

#: preset → (pixel size m, shape px, generator sensor, bands given to the detector)
RESOLUTIONS: dict[str, tuple[float, tuple[int, int], str, tuple[str, ...]]] = {
    "planetscope": (3.0, (300, 300), "planetscope", ("blue", "green", "red", "nir")),
    "sentinel2": (10.0, (300, 300), "sentinel2",
                  ("blue", "green", "red", "nir", "swir1", "swir2")),
    "rgb_highres": (0.5, (1400, 1400), "rgb", ("blue", "green", "red")),
}
SIZE_BINS = (0, 25, 50, 100, 200, np.inf)
FALSE_KINDS = ("river", "stream", "sand_bar", "fish_pond", "metal_roof", "tarp_hut",
               "swidden", "landslide", "real_pool", "cloud_edge", "other")
#: Kinds charged when no confounder is touched, in this order.
FALLBACK_KINDS = ("real_pool", "cloud_edge", "other")
#: The look-alikes the detection issue's false-pool target names (≤ 2 per 10 km²): rivers,
#: streams, fish ponds, roofs, tarps, sand bars and cloud edges.
LOOK_ALIKES = ("river", "stream", "sand_bar", "fish_pond", "metal_roof", "tarp_hut",
               "cloud_edge")


def _seeds(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        a, _, b = part.partition("-")
        out += list(range(int(a), int(b or a) + 1))
    return out


def _match(det: gpd.GeoDataFrame, ref: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    """One-to-one greedy matching by overlap area: matched flags of detections, of truth."""
    dm, rm = np.zeros(len(det), bool), np.zeros(len(ref), bool)
    if len(det) == 0 or len(ref) == 0:
        return dm, rm
    pairs = gpd.sjoin(det[["geometry"]].reset_index(names="d"),
                      ref[["geometry"]].reset_index(names="r"), predicate="intersects")
    if len(pairs) == 0:
        return dm, rm
    inter = det.geometry.values[pairs["d"].to_numpy()].intersection(
        ref.geometry.values[pairs["r"].to_numpy()]).area
    order = np.argsort(-np.asarray(inter))
    for k in order:
        d, r = int(pairs["d"].iloc[k]), int(pairs["r"].iloc[k])
        if not dm[d] and not rm[r]:
            dm[d], rm[r] = True, True
    return dm, rm


def _evaluate(det, s, t, valid, date_of, cuts):
    """minewatch.evaluate on one scene: kept detections vs the truth ``pools`` raster (pools
    covering ≥ 50 % of a pixel), IoU ≥ 0.3 or the ≤ 2-px centroid rule. Returns the counts per
    confidence cut in ``cuts``."""
    from minewatch.evaluate import evaluate

    out = {}
    ref = s.truth["pools"].isel(time=t)
    ok = ref.copy(data=valid)
    for cut in cuts:
        kept = det[det["confidence"] >= cut]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ev = evaluate(kept, ref, valid=ok, confounders=s.confounders, date=date_of)
        kinds = dict(zip(ev.false_by_kind["kind"], ev.false_by_kind["n_false"], strict=True))
        out[round(float(cut), 2)] = (ev.n_detected, ev.n_reference, ev.n_matched, ev.valid_area_km2,
                           kinds)
    return out


def l2a_swir(band: np.ndarray) -> np.ndarray:
    """A 10 m band as Sentinel-2 L2A delivers SWIR and ``load_stack`` reads it: 2×2 block
    means (20 m, as ``minewatch.synth`` writes B11/B12), then bilinear back to the 10 m grid
    (pixel centres at quarter positions of the 20 m pixels, edges clamped)."""
    h, w = band.shape
    a = np.pad(band.astype(np.float64), ((0, h % 2), (0, w % 2)), mode="edge")
    coarse = a.reshape(a.shape[0] // 2, 2, a.shape[1] // 2, 2).mean(axis=(1, 3))

    def axis(n: int, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        u = (np.arange(n) + 0.5) / 2 - 0.5
        i0 = np.floor(u).astype(int)
        frac = u - i0
        return np.clip(i0, 0, m - 1), np.clip(i0 + 1, 0, m - 1), frac

    y0, y1, fy = axis(h, coarse.shape[0])
    x0, x1, fx = axis(w, coarse.shape[1])
    top = coarse[y0][:, x0] * (1 - fx) + coarse[y0][:, x1] * fx
    bottom = coarse[y1][:, x0] * (1 - fx) + coarse[y1][:, x1] * fx
    return (top * (1 - fy)[:, None] + bottom * fy[:, None]).astype(band.dtype)


def _present(world, t: int) -> np.ndarray:
    looks = world.pool_looks[:, t]
    return (looks >= 1) & (looks <= 6)


def run_seed(preset: str, seed: int, cfg: DetectionConfig, cuts: tuple[float, ...] = (),
             *, swir_10m: bool = False) -> dict:
    res, shape, sensor, bands = RESOLUTIONS[preset]
    s = generate_scenes(seed=seed, resolution_m=res, shape=shape, sensor=sensor)
    if sensor == "sentinel2" and not swir_10m:  # SWIR as the L2A product has it (20 m)
        data = s.reflectance.values  # in place: the scenes are this seed's own
        names = [str(b) for b in s.reflectance["band"].values]
        for b in ("swir1", "swir2"):
            for t in range(data.shape[0]):
                data[t, names.index(b)] = l2a_swir(data[t, names.index(b)])
    tf = s.reflectance.rio.transform()
    rows = []
    out = {"det": [], "truth": [], "valid_km2": 0.0, "seconds": 0.0, "sites": []}
    for t in range(s.reflectance.sizes["time"]):
        valid = s.truth["valid"].isel(time=t).values == 1
        scene = s.reflectance.isel(time=t).sel(band=list(bands))
        scene = scene.where(valid)
        scene.attrs["sensor"] = sensor
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            det = detect_pools(scene, cfg)
        out["seconds"] += time.perf_counter() - t0
        out["valid_km2"] += valid.sum() * res * res / 1e6
        ref = s.pools[_present(s.world, t)].reset_index(drop=True)
        # truth pools observed: centre pixel valid
        c = ref.geometry.centroid
        col = np.floor((c.x - tf.c) / tf.a).astype(int).to_numpy()
        row = np.floor((c.y - tf.f) / tf.e).astype(int).to_numpy()
        inside = (col >= 0) & (col < shape[1]) & (row >= 0) & (row < shape[0])
        seen = np.zeros(len(ref), bool)
        seen[inside] = valid[row[inside], col[inside]]
        ref = ref[seen].reset_index(drop=True)
        if cuts:
            out.setdefault("eval", []).append(_evaluate(
                det, s, t, valid, s.reflectance["time"].values[t], cuts))
        dm, rm = _match(det, ref)
        det = det.assign(matched=dm, seed=seed, t=t)
        ref = ref.assign(matched=rm, seed=seed, t=t)
        # charge unmatched detections to a confounder
        near_nan = ndimage.binary_dilation(~valid, iterations=2)
        kinds = np.full(len(det), "", object)
        conf = s.confounders
        date = s.reflectance["time"].values[t]
        for kind in (k for k in FALSE_KINDS if k not in FALLBACK_KINDS):
            sub = conf[conf["kind"] == kind]
            if len(sub) == 0:
                continue
            first = pd.to_datetime(sub["first_date"]).fillna(pd.Timestamp.min)
            last = pd.to_datetime(sub["last_date"]).fillna(pd.Timestamp.max)
            sub = sub[(first <= date) & (last >= date)]
            hit = det.geometry.intersects(sub.geometry.union_all()) if len(sub) else None
            if hit is not None:
                kinds = np.where((kinds == "") & hit.to_numpy(), kind, kinds)
        # a second detection on a real pool of the date (a pool split in two, or a pool
        # whose centre pixel is invalid): a counting error, not a look-alike
        present = s.pools[_present(s.world, t)]
        if len(present) and len(det):
            on_pool = det.geometry.intersects(present.geometry.union_all()).to_numpy()
            kinds = np.where((kinds == "") & on_pool, "real_pool", kinds)
        dc = det.geometry.centroid
        dcol = np.clip(((dc.x - tf.c) / tf.a).astype(int), 0, shape[1] - 1)
        drow = np.clip(((dc.y - tf.f) / tf.e).astype(int), 0, shape[0] - 1)
        edge = near_nan[drow, dcol] if len(det) else np.zeros(0, bool)
        kinds = np.where((kinds == "") & edge, "cloud_edge", kinds)
        kinds = np.where(kinds == "", "other", kinds)
        det["false_kind"] = np.where(det["matched"], "", kinds)
        out["det"].append(det)
        out["truth"].append(ref)
        # pools per site: detections inside the site's clearing of that date vs truth
        day = f"{pd.Timestamp(date):%Y-%m-%d}"
        sc = s.site_clearings[s.site_clearings["date"] == day]
        det["in_site"] = 0
        for _, site in sc.iterrows():
            inside = det.geometry.centroid.within(site.geometry).to_numpy()
            det.loc[inside, "in_site"] = site["site_id"]
            n_true = int((ref["site_id"] == site["site_id"]).sum())
            if n_true:
                out["sites"].append((seed, t, site["site_id"], n_true, int(inside.sum())))
        rows.append(len(det))
    return out


def collect(preset: str, seeds: list[int], cfg: DetectionConfig,
            cuts: tuple[float, ...] = (), *, swir_10m: bool = False):
    det, truth, sites, evals = [], [], [], []
    km2 = seconds = 0.0
    t0 = time.perf_counter()
    for seed in seeds:
        r = run_seed(preset, seed, cfg, cuts, swir_10m=swir_10m)
        det += r["det"]
        truth += r["truth"]
        sites += r["sites"]
        evals += r.get("eval", [])
        km2 += r["valid_km2"]
        seconds += r["seconds"]
    det = pd.concat(det, ignore_index=True)
    truth = pd.concat(truth, ignore_index=True)
    sites = pd.DataFrame(sites, columns=["seed", "t", "site_id", "n_true", "n_det"])
    sites.attrs["evals"] = evals
    return det, truth, sites, km2, seconds, time.perf_counter() - t0


def report(preset: str, det, truth, sites, km2, seconds, wall, min_conf: float) -> None:
    kept = det[det["confidence"] >= min_conf]
    tp = int(kept["matched"].sum())
    # recall counts a truth pool found only if its matched detection is kept
    n_det, n_true = len(kept), len(truth)
    matched_truth = tp
    p = tp / n_det if n_det else float("nan")
    r = matched_truth / n_true if n_true else float("nan")
    f1 = 2 * p * r / (p + r) if p + r > 0 else 0.0
    res = RESOLUTIONS[preset][0]
    print(f"\n=== {preset} ({res:g} m, {RESOLUTIONS[preset][1][0]}² px × 4 dates × "
          f"{det['seed'].nunique() if len(det) else 0} seeds; {km2:.1f} km² valid) ===")
    print(f"polygon matching (truth polygons present, centre pixel valid; one-to-one by "
          f"overlap area): precision {p:.3f}  recall {r:.3f}  F1 {f1:.3f}  detections {n_det}  "
          f"truth {n_true}"
          f"  count error {(n_det - n_true) / max(n_true, 1):+.1%}")
    evals = sites.attrs.get("evals", [])
    if evals:
        cut = round(float(min_conf), 2)
    if evals and cut in evals[0]:
        nd = sum(e[cut][0] for e in evals)
        nr = sum(e[cut][1] for e in evals)
        nm = sum(e[cut][2] for e in evals)
        area = sum(e[cut][3] for e in evals)
        kinds: dict[str, int] = {}
        for e in evals:
            for k, v in e[cut][4].items():
                kinds[k] = kinds.get(k, 0) + v
        ep, er = nm / max(nd, 1), nm / max(nr, 1)
        print(f"minewatch.evaluate (truth raster: pools covering >= 50 % of a pixel; IoU >= "
              f"0.3 or centroid rule): precision {ep:.3f}  recall {er:.3f}  F1 "
              f"{2 * ep * er / max(ep + er, 1e-9):.3f}  detected {nd}  reference {nr}  "
              f"count error {(nd - nr) / max(nr, 1):+.1%}")
        print("  false per 10 km² by kind: " + ", ".join(
            f"{k} {v / area * 10:.2f}" for k, v in sorted(kinds.items(), key=lambda x: -x[1]))
            + f"  (total {sum(kinds.values()) / area * 10:.2f})")
    touched = _touched(kept, truth)
    print(f"pool recall (truth pool overlapped by any kept detection; merged pools count): "
          f"{touched.mean():.3f}   estimated pools (sum n_pools) {int(kept['n_pools'].sum())}"
          f" → count error {(kept['n_pools'].sum() - n_true) / max(n_true, 1):+.1%}")
    big = truth["area_m2"].to_numpy() >= 200
    print(f"pools >= 200 m²: n={int(big.sum())}, one-to-one recall "
          f"{_truth_found(det, truth, min_conf)[big].mean() if big.any() else float('nan'):.2f},"
          f" overlap recall {touched[big].mean() if big.any() else float('nan'):.2f}")
    falses = kept[~kept["matched"]]["false_kind"].value_counts()
    print("false detections per 10 km²: " + ", ".join(
        f"{k} {falses.get(k, 0) / km2 * 10:.2f}" for k in FALSE_KINDS)
        + f"  (total {len(kept) - tp} = {(len(kept) - tp) / km2 * 10:.2f})")
    n_look = int(sum(falses.get(k, 0) for k in LOOK_ALIKES))
    print(f"false pools on the look-alikes the target names ({', '.join(LOOK_ALIKES)}): "
          f"{n_look} = {n_look / km2 * 10:.2f} per 10 km² (target <= 2)")
    n_scenes = 4 * (det["seed"].nunique() if len(det) else 1)
    print(f"runtime: detect_pools {seconds:.1f} s total ({seconds / n_scenes:.2f} s per "
          f"scene); benchmark wall {wall:.0f} s")
    # recall by size (truth matched AND its detection kept: approximate with matched flag
    # of truth when min_conf == 0, else recompute)
    found = _truth_found(det, truth, min_conf)
    bins = pd.cut(truth["area_m2"], SIZE_BINS, right=False)
    tab = pd.DataFrame({"bin": bins, "found": found}).groupby("bin", observed=False)["found"]
    print("recall by pool area (m²): " + ", ".join(
        f"{iv.left:g}–{iv.right:g}: {m:.2f} (n={n})" for iv, m, n in
        zip(tab.mean().index, tab.mean().to_numpy(), tab.size().to_numpy(), strict=True)
        if n))
    if len(sites):
        n_det_site = _site_counts(det, sites, min_conf)
        rel = (n_det_site - sites["n_true"].to_numpy()) / sites["n_true"].to_numpy()
        print(f"pools per site: {len(sites)} site-dates, median |count error| "
              f"{np.median(np.abs(rel)):.0%}, within ±25 %: {np.mean(np.abs(rel) <= 0.25):.0%}"
              f", total detected/true in sites {n_det_site.sum()}/{sites['n_true'].sum()}")


def _truth_found(det, truth, min_conf):
    # A truth pool counts as found when some kept detection of the same seed/date matched it.
    # The matching was done before the confidence cut, so re-match with the kept set.
    found = np.zeros(len(truth), bool)
    kept = det[det["confidence"] >= min_conf]
    for (seed, t), ref in truth.groupby(["seed", "t"]):
        d = kept[(kept["seed"] == seed) & (kept["t"] == t)]
        _, rm = _match(gpd.GeoDataFrame(d, geometry="geometry").reset_index(drop=True),
                       gpd.GeoDataFrame(ref, geometry="geometry").reset_index(drop=True))
        found[ref.index.to_numpy()] = rm
    return found


def _touched(kept, truth):
    out = np.zeros(len(truth), bool)
    for (seed, t), ref in truth.groupby(["seed", "t"]):
        d = kept[(kept["seed"] == seed) & (kept["t"] == t)]
        if len(d):
            u = gpd.GeoSeries(d.geometry.values).union_all()
            out[ref.index.to_numpy()] = gpd.GeoSeries(ref.geometry.values).intersects(u)
    return out


def _site_counts(det, sites, min_conf):
    kept = det[(det["confidence"] >= min_conf) & (det["in_site"] > 0)]
    counts = kept.groupby(["seed", "t", "in_site"])["n_pools"].sum()
    keys = zip(sites["seed"], sites["t"], sites["site_id"], strict=True)
    return np.array([counts.get(k, 0) for k in keys])


def reliability(det: pd.DataFrame) -> None:
    edges = np.linspace(0, 1, 6)
    b = np.clip(np.digitize(det["confidence"], edges) - 1, 0, 4)
    print("reliability (all candidates before the confidence cut): "
          "bin | n | mean confidence | fraction real")
    for k in range(5):
        m = b == k
        if m.any():
            print(f"  {edges[k]:.1f}–{edges[k + 1]:.1f} | {m.sum():5d} | "
                  f"{det['confidence'][m].mean():.2f} | {det['matched'][m].mean():.2f}")


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-2) -> np.ndarray:
    """Intercept + coefficients of an L2-regularised logistic regression (scipy only)."""
    mu, sd = x.mean(0), x.std(0) + 1e-9
    z = (x - mu) / sd
    a = np.column_stack([np.ones(len(z)), z])

    def loss(w):
        s = a @ w
        ll = np.logaddexp(0, s) - y * s
        return ll.mean() + l2 * (w[1:] ** 2).sum()

    def grad(w):
        p = 1 / (1 + np.exp(-(a @ w)))
        g = a.T @ (p - y) / len(y)
        g[1:] += 2 * l2 * w[1:]
        return g

    w = optimize.minimize(loss, np.zeros(a.shape[1]), jac=grad, method="L-BFGS-B").x
    coef = w[1:] / sd
    return np.r_[w[0] - (coef * mu).sum(), coef]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="100-109")
    parser.add_argument("--only", nargs="*", default=list(RESOLUTIONS))
    parser.add_argument("--fit", action="store_true",
                        help="fit the confidence model and min_confidence (use seeds 0-9)")
    parser.add_argument("--swir-10m", action="store_true",
                        help="sentinel2: feed the 10 m SWIR render (diagnostic) instead of "
                             "20 m SWIR resampled to 10 m as an L2A product is ingested")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="override a PoolConfig field of the preset (Python literal), "
                             "e.g. --set 'unmixing_bands=()' for the earlier 6-band unmixing")
    parser.add_argument("--sample-archive", metavar="PATH",
                        help="only pools per date on this written archive with truth/ "
                             "(e.g. sample_tiles/sentinel2_10m)")
    args = parser.parse_args()
    if args.sample_archive:
        sample_archive(args.sample_archive)
        return
    seeds = _seeds(args.seeds)
    swir = "10 m render (diagnostic)" if args.swir_10m else "20 m, bilinear to 10 m (as L2A)"
    print(f"seeds {seeds[0]}–{seeds[-1]}; sentinel2 SWIR: {swir}")
    for preset in args.only:
        base = DetectionConfig.preset(preset)
        if args.set:
            changes = {k: ast.literal_eval(v) for k, v in (a.split("=", 1) for a in args.set)}
            base = base.replace(pools=changes)
            print(f"[{preset}] PoolConfig overrides: {changes}")
        cfg = base.replace(pools={"min_confidence": 0.0})
        cuts = () if args.fit else (base.pools.min_confidence,)
        det, truth, sites, km2, seconds, wall = collect(preset, seeds, cfg, cuts,
                                                        swir_10m=args.swir_10m)
        min_conf = base.pools.min_confidence
        if args.fit and len(det):
            coef = fit_logistic(confidence_features(det), det["matched"].to_numpy(float))
            conf = 1 / (1 + np.exp(-(coef[0] + confidence_features(det) @ coef[1:])))
            det = det.assign(confidence=conf)
            best = max(np.arange(0.05, 0.95, 0.05), key=lambda c: _f1(det, len(truth), c))
            print(f"\n[{preset}] fitted on {len(det)} candidates "
                  f"({int(det['matched'].sum())} real); features {CONFIDENCE_FEATURES}")
            print(f"  confidence_coefficients=({', '.join(f'{v:.4g}' for v in coef)}),")
            print(f"  min_confidence={best:.2f}  (train F1 {_f1(det, len(truth), best):.3f})")
            min_conf = float(best)
            if preset in ("sentinel2", "landsat") and len(sites):
                kept = det[(det["confidence"] >= min_conf) & (det["in_site"] > 0)]
                area = kept.groupby(["seed", "t", "in_site"])["area_m2"].sum()
                keys = zip(sites["seed"], sites["t"], sites["site_id"], strict=True)
                ratio = np.array([area.get(k, 0.0) for k in keys]) / sites["n_true"].to_numpy()
                pool_area = float(np.median(ratio[ratio > 0]))
                print(f"  pool_area_m2={pool_area:.1f}  (median evidence area per true pool "
                      "in a site)")
                det = det.assign(n_pools=np.maximum(1, np.round(det["area_m2"] / pool_area))
                                 .astype(int))
        report(preset, det, truth, sites, km2, seconds, wall, min_conf)
        reliability(det)


def sample_archive(root: str) -> None:
    """Pools per date on a written archive with a ``truth/truth.gpkg`` (e.g. the Sentinel-2
    L2A sample, ``sample_tiles/sentinel2_10m``: sites on real Pang War pool positions), read
    by ``load_stack`` as ``analyze`` reads it; preset of the sensor. Truth: pools present that
    day (``first_date`` ≤ day ≤ ``last_date``) with their centroid in the grid, clouded or
    not; "hit" = share of them overlapped by a detection."""
    import minewatch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stack = minewatch.load_stack(root, chunks=None)
    truth = gpd.read_file(f"{root}/truth/truth.gpkg", layer="pools").to_crs(stack.rio.crs)
    first = pd.to_datetime(truth["first_date"], errors="coerce")
    last = pd.to_datetime(truth["last_date"], errors="coerce")
    grid = shapely.box(*stack.rio.bounds())
    print(f"\n=== {root}: pools per date (detect_pools, preset of the sensor) ===")
    for t in range(stack.sizes["time"]):
        scene = stack.isel(time=t)
        scene.attrs["sensor"] = str(np.atleast_1d(stack["sensor"].values)[t])
        day = pd.Timestamp(stack["time"].values[t]).normalize()
        present = truth[(first.isna() | (first <= day)) & (last.isna() | (last >= day))
                        & truth.centroid.within(grid).to_numpy()]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            det = detect_pools(scene)
        hit = (present.intersects(det.union_all()).mean() if len(det) and len(present)
               else 0.0)
        valid = float(scene.notnull().all("band").mean())
        print(f"{day:%Y-%m-%d}  valid {valid:.0%}  truth {len(present)}  objects {len(det)}  "
              f"n_pools {int(det['n_pools'].sum()) if len(det) else 0}  truth hit {hit:.2f}")


def _f1(det, n_true, c):
    kept = det[det["confidence"] >= c]
    tp = kept["matched"].sum()
    p = tp / max(len(kept), 1)
    r = tp / max(n_true, 1)
    return 2 * p * r / max(p + r, 1e-9)


if __name__ == "__main__":
    main()
