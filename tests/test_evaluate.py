"""evaluate / match_objects: hand-computed IoU cases, the small-object centroid rule, confounder
breakdown on a generated scene, raster = vector = file inputs, grid errors."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
import xarray as xr
from rasterio.transform import from_origin

from minewatch.detect.vectorize import vectorize
from minewatch.errors import InputError, MissingCRSError
from minewatch.evaluate import Evaluation, evaluate, match_objects
from minewatch.synth import generate_scenes

CRS = "EPSG:32647"
RES = 10.0
ORIGIN = (300000.0, 2850000.0)


def on_grid(array: np.ndarray, *, origin=ORIGIN, crs=CRS, res=RES) -> xr.DataArray:
    ny, nx = array.shape
    out = xr.DataArray(array, dims=("y", "x"),
                       coords={"y": origin[1] - res * (np.arange(ny) + 0.5),
                               "x": origin[0] + res * (np.arange(nx) + 0.5)})
    return out.rio.write_crs(crs).rio.write_transform(from_origin(*origin, res, res))


def blank(shape=(20, 20)) -> np.ndarray:
    return np.zeros(shape, "int32")


def numbers(ev: Evaluation) -> dict[str, float]:
    return dict(zip(ev.table()["metric"], ev.table()["value"], strict=True))


# --------------------------------------------------------------------------------------------
# hand-computed cases
# --------------------------------------------------------------------------------------------

def test_perfect_detection_scores_one():
    ref = blank()
    ref[2:6, 2:6] = 1
    ref[10:12, 14:17] = 2
    ref[17, 3] = 3
    ev = evaluate(on_grid(ref), on_grid(ref))
    for m in ("pixel_iou", "pixel_precision", "pixel_recall", "pixel_f1", "object_precision",
              "object_recall", "object_f1"):
        assert getattr(ev, m) == 1.0, m
    assert (ev.n_detected, ev.n_reference, ev.n_matched, ev.count_error, ev.n_false) == (
        3, 3, 3, 0, 0)
    assert ev.matches["iou"].tolist() == [1.0, 1.0, 1.0]
    assert ev.valid_area_km2 == pytest.approx(400 * 100 / 1e6)
    assert ev.false_by_kind.to_dict("list") == {"kind": ["unknown"], "n_false": [0],
                                                "per_10km2": [0.0]}


def test_shifted_square_hand_computed():
    ref, det = blank(), blank()
    ref[2:6, 2:6] = 1              # 16 px
    det[2:6, 3:7] = 1              # shifted one column: 12 shared, union 20
    ev = evaluate(on_grid(det), on_grid(ref))
    assert ev.pixel_iou == pytest.approx(12 / 20)
    assert ev.pixel_precision == pytest.approx(12 / 16)
    assert ev.pixel_recall == pytest.approx(12 / 16)
    assert ev.pixel_f1 == pytest.approx(0.75)
    assert ev.n_matched == 1
    assert ev.matches.loc[0, "iou"] == pytest.approx(0.6)
    assert ev.matches.loc[0, "intersection_m2"] == pytest.approx(1200.0)
    assert ev.matches.loc[0, "distance_m"] == pytest.approx(10.0)


def test_partial_detection_and_threshold():
    ref, det = blank(), blank()
    ref[2:6, 2:6] = 1
    det[2:4, 2:6] = 1              # half the pool: IoU 8/16
    ev = evaluate(on_grid(det), on_grid(ref))
    assert (ev.pixel_iou, ev.pixel_precision, ev.pixel_recall) == (0.5, 1.0, 0.5)
    assert ev.n_matched == 1
    det2 = blank()
    det2[2:6, 5:9] = 1             # overlaps one column: IoU 4/28
    ev2 = evaluate(on_grid(det2), on_grid(ref))
    assert ev2.n_matched == 0 and ev2.n_false == 1 and ev2.n_missed == 1
    assert ev2.object_f1 == 0.0
    assert ev2.pixel_iou == pytest.approx(4 / 28)
    ev3 = evaluate(on_grid(det2), on_grid(ref), iou_threshold=0.1)
    assert ev3.n_matched == 1
    assert ev3.matches.loc[0, "iou"] == pytest.approx(1 / 7)


def test_greedy_one_to_one_by_iou():
    ref, det = blank(), blank()
    ref[2:6, 2:10] = 1             # one 4 × 8 reference
    det[2:6, 2:7] = 1              # IoU 20/32
    det[2:6, 7:10] = 2             # IoU 12/32 (passes 0.3 but the reference is taken)
    ev = evaluate(on_grid(det), on_grid(ref))
    assert ev.matches[["detected", "reference"]].values.tolist() == [[1, 1]]
    assert ev.n_false == 1 and ev.count_error == 1 and ev.count_error_relative == 1.0
    assert ev.pixel_iou == 1.0     # pixels agree; objects do not


def test_small_objects_match_by_centroid_within_one_pixel():
    ref, det = blank(), blank()
    ref[10, 10] = 1                # 1 px
    det[11, 11] = 1                # diagonal neighbour: IoU 0, centroid 1 px away in x and y
    ref[3, 3:5] = 2                # 2 px
    det[4, 4] = 2                  # centroid (4, 4) vs (3, 3.5): within one pixel
    ref[15:17, 15:17] = 3          # 4 px: centroid rule does not apply
    det[17, 17] = 3
    ref[3, 15] = 4                 # 1 px, detection two pixels away: no match
    det[5, 15] = 4
    ev = evaluate(on_grid(det), on_grid(ref))
    m = ev.matches.set_index("reference")
    assert sorted(m.index) == [1, 2]
    assert (m["rule"] == "centroid").all()
    assert m.loc[1, "iou"] == 0.0
    assert m.loc[1, "distance_m"] == pytest.approx(math.sqrt(2) * RES)
    assert ev.n_false == 2 and ev.n_missed == 2


def test_two_detections_near_one_small_reference_match_once():
    ref, det = blank(), blank()
    ref[10, 10] = 1
    det[10, 11] = 1                # 1 px right
    det[9, 9] = 2                  # diagonal, farther
    ev = evaluate(on_grid(det), on_grid(ref))
    assert ev.matches[["detected", "reference"]].values.tolist() == [[1, 1]]
    assert ev.n_false == 1


def test_valid_mask_leaves_pixels_and_objects_out():
    ref, det = blank(), blank()
    ref[2:6, 2:6] = 1
    det[2:6, 2:6] = 1
    det[12:15, 12:15] = 2          # false, but under cloud
    ref[16:18, 2:4] = 2            # missed, but under cloud
    valid = np.ones((20, 20), bool)
    valid[10:20, :] = False
    ev = evaluate(on_grid(det), on_grid(ref), valid=on_grid(valid))
    assert (ev.n_detected, ev.n_reference, ev.n_matched) == (1, 1, 1)
    assert ev.pixel_iou == 1.0
    assert ev.valid_area_km2 == pytest.approx(200 * 100 / 1e6)
    ev_all = evaluate(on_grid(det), on_grid(ref))
    assert ev_all.n_false == 1 and ev_all.n_missed == 1
    assert ev_all.false_per_10km2 == pytest.approx(1 / (0.04 / 10))


def test_empty_reference_defines_metrics():
    det = blank()
    det[2:4, 2:4] = 1
    ev = evaluate(on_grid(det), on_grid(blank()))
    assert math.isnan(ev.object_recall) and math.isnan(ev.pixel_recall)
    assert math.isnan(ev.count_error_relative)
    assert ev.object_precision == 0.0 and ev.object_f1 == 0.0
    assert ev.n_false == 1 and ev.count_error == 1
    assert "recall n/a" in ev.report()
    both = evaluate(on_grid(blank()), on_grid(blank()))
    assert math.isnan(both.pixel_iou) and math.isnan(both.object_precision)
    assert both.n_false == 0 and len(both.matches) == 0
    assert "0 detected, 0 in reference" in both.report()


def test_clearings_read_codes_as_connected_objects():
    ref = blank().astype("uint8")
    ref[2:8, 2:8] = 1              # mining clearing (code 1)
    ref[2:8, 8:12] = 5             # a road touching it: same object when read as a mask
    det = blank().astype(bool)
    det[2:8, 2:12] = True
    ev = evaluate(on_grid(det), on_grid(ref != 0), kind="clearings")
    assert ev.n_reference == 1 and ev.object_recall == 1.0
    ev_codes = evaluate(on_grid(det), on_grid(ref), kind="clearings")
    assert ev_codes.n_reference == 1
    ev_ids = evaluate(on_grid(det), on_grid(ref), kind="pools")    # ids: two objects
    assert ev_ids.n_reference == 2
    assert ev.report().startswith("clearings:")


# --------------------------------------------------------------------------------------------
# confounders on a generated scene
# --------------------------------------------------------------------------------------------

def test_false_detections_by_confounder_kind_on_a_synth_scene():
    scenes = generate_scenes(seed=5, shape=(120, 120), clouds=False)
    t = scenes.truth.sizes["time"] - 1
    truth = scenes.truth.isel(time=t)
    pools = truth["pools"].values.astype("int32")
    conf = scenes.confounders
    transform = truth.rio.transform()
    near_pool = np.zeros_like(pools, bool)
    for dy in range(-3, 4):
        for dx in range(-3, 4):
            near_pool |= np.roll(np.roll(pools > 0, dy, 0), dx, 1)
    det = pools.copy()
    next_id = int(pools.max()) + 1
    expected: dict[str, int] = {}
    objects = conf[~conf["kind"].isin(["haze", "swath_edge"])]
    for kind in ("metal_roof", "fish_pond", "sand_bar", "tarp_hut", "stream", "swidden"):
        for geom in objects[objects["kind"] == kind].geometry.head(3):
            col, row = (int(v) for v in ~transform * shapely.get_coordinates(
                geom.representative_point())[0])
            if not (0 <= row < 120 and 0 <= col < 120) or near_pool[row, col]:
                continue
            x0, y0 = transform * (col, row)
            pixel = shapely.box(x0, y0 - RES, x0 + RES, y0)
            hit = objects[objects.intersects(pixel)
                          & (objects.intersection(pixel).area > 0)]["kind"]
            if set(hit) - {kind, "village", "river"} or det[row, col]:
                continue           # ambiguous pixel: leave it out of the test
            det[row, col] = next_id
            next_id += 1
            expected[kind] = expected.get(kind, 0) + 1
    # one detection on open ground, away from every confounder and pool
    union = shapely.union_all(objects.geometry.values)
    for row in range(120):
        x0, y0 = transform * (60, row)
        if not shapely.intersects(union, shapely.box(x0 - RES, y0 - 2 * RES, x0 + 2 * RES,
                                                     y0 + RES)) and not near_pool[row, 60]:
            det[row, 60] = next_id
            expected["other"] = 1
            break
    assert sum(expected.values()) >= 4 and len(expected) >= 3   # the scene has what we need
    ev = evaluate(on_grid_like(det, truth), truth["pools"], valid=truth["valid"],
                  confounders=conf)
    assert ev.n_reference == len(np.unique(pools)) - 1
    assert ev.n_matched == ev.n_reference
    assert ev.n_false == sum(expected.values())
    got = dict(zip(ev.false_by_kind["kind"], ev.false_by_kind["n_false"], strict=True))
    assert got == expected, (got, expected)
    assert ev.false_by_kind["n_false"].is_monotonic_decreasing
    valid_km2 = float(truth["valid"].sum()) * RES**2 / 1e6
    assert ev.false_per_10km2 == pytest.approx(ev.n_false / (valid_km2 / 10))
    assert ev.false_by_kind["per_10km2"].sum() == pytest.approx(ev.false_per_10km2)
    assert set(ev.detected.loc[~ev.detected["matched"], "false_kind"]) == set(expected)
    assert "false on" in ev.report()
    # haze covers the whole scene: counted only when asked for
    ev_haze = evaluate(on_grid_like(det, truth), truth["pools"], valid=truth["valid"],
                       confounders=conf, ignore_kinds=())
    assert "other" not in set(ev_haze.false_by_kind["kind"])


def on_grid_like(values: np.ndarray, like: xr.Dataset | xr.DataArray) -> xr.DataArray:
    out = xr.DataArray(values, dims=("y", "x"), coords={"y": like["y"], "x": like["x"]})
    return out.rio.write_crs(like.rio.crs).rio.write_transform(like.rio.transform())


# --------------------------------------------------------------------------------------------
# raster, vector and file inputs
# --------------------------------------------------------------------------------------------

def _case() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    ref, det = blank((40, 40)), blank((40, 40))
    for k in range(1, 15):
        r, c = rng.integers(0, 36, 2)
        h, w = rng.integers(1, 4, 2)
        ref[r:r + h, c:c + w] = k
        dr, dc = rng.integers(-1, 2, 2)
        det[max(r + dr, 0):r + dr + h, max(c + dc, 0):c + dc + w] = k
    det[30:33, 2:5] = 20
    valid = np.ones((40, 40), bool)
    valid[:, 35:] = False
    return det, ref, valid


def test_vector_and_raster_inputs_give_the_same_numbers(tmp_path, write_tif):
    det, ref, valid = _case()
    det_r, ref_r, valid_r = on_grid(det), on_grid(ref), on_grid(valid)
    base = numbers(evaluate(det_r, ref_r, valid=valid_r))
    det_v, ref_v = vectorize(det_r), vectorize(ref_r)
    assert numbers(evaluate(det_v, ref_r, valid=valid_r)) == base
    assert numbers(evaluate(det_r, ref_v, valid=valid_r)) == base
    assert numbers(evaluate(det_v, ref_v, valid=valid_r)) == base
    # vectors in another CRS are reprojected onto the raster grid
    assert numbers(evaluate(det_v.to_crs(4326), ref_r, valid=valid_r)) == pytest.approx(base)
    # files: a GeoTIFF written with rasterio and a GeoPackage
    tif = write_tif(tmp_path / "detected.tif", det, transform=from_origin(*ORIGIN, RES, RES),
                    nodata=None)
    gpkg = tmp_path / "reference.gpkg"
    ref_v.to_file(gpkg, driver="GPKG")
    assert numbers(evaluate(tif, gpkg, valid=valid_r)) == base
    assert numbers(evaluate(str(tif), ref_r, valid=valid_r)) == base


def test_mismatched_grids_raise_and_say_reproject():
    det, ref, _ = _case()
    shifted = on_grid(ref, origin=(ORIGIN[0] + 5.0, ORIGIN[1]))
    with pytest.raises(InputError, match=r"different grids.*detected: 40×40 px.*reproject"):
        evaluate(on_grid(det), shifted)
    with pytest.raises(InputError, match=r"EPSG:32647.*EPSG:32646.*reproject_match"):
        evaluate(on_grid(det), on_grid(ref, crs="EPSG:32646"))
    with pytest.raises(InputError, match=r"detected and valid .*different grids"):
        evaluate(on_grid(det), on_grid(ref), valid=on_grid(np.ones((30, 40), bool)))
    with pytest.raises(InputError, match=r"both polygons; pass valid="):
        evaluate(vectorize(on_grid(det)), vectorize(on_grid(ref)))
    with pytest.raises(MissingCRSError, match=r"no CRS; set one"):
        evaluate(vectorize(on_grid(det)).set_crs(None, allow_override=True), on_grid(ref))
    with pytest.raises(InputError, match=r"kind='sites'"):
        evaluate(on_grid(det), on_grid(ref), kind="sites")


def test_match_objects_frames_and_errors():
    ref = gpd.GeoDataFrame({"label": [7]}, geometry=[shapely.box(0, 0, 30, 30)], crs=CRS)
    det = gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 30, 20), shapely.box(50, 50, 60, 60)],
                           crs=CRS)
    m = match_objects(det, ref)
    assert m.to_dict("list") == {"detected": [1], "reference": [7],
                                 "iou": [pytest.approx(2 / 3)],
                                 "intersection_m2": [pytest.approx(600.0)],
                                 "distance_m": [pytest.approx(5.0)], "rule": ["iou"]}
    assert match_objects(det.iloc[:0], ref).empty
    assert list(match_objects(det.iloc[:0], ref).columns) == list(m.columns)
    with pytest.raises(InputError, match=r"differs from reference CRS.*to_crs"):
        match_objects(det.to_crs(4326), ref)


def test_evaluation_table_is_tidy():
    det, ref, valid = _case()
    ev = evaluate(on_grid(det), on_grid(ref), valid=on_grid(valid))
    table = ev.table()
    assert list(table.columns) == ["metric", "value"]
    assert table["metric"].is_unique
    assert pd.api.types.is_float_dtype(table["value"])
    assert numbers(ev)["n_matched"] == ev.n_matched
    assert len(ev.report().splitlines()) >= 4
    with pytest.raises(AttributeError):
        ev.n_matched = 0  # frozen


def test_false_kind_prefers_the_closest_confounder_and_respects_dates():
    det = blank()
    det[5, 5] = 1                  # on a roof inside a village
    det[15, 15] = 2                # in the village only
    x0, y0 = ORIGIN

    def cell_box(r0, c0, r1, c1):
        return shapely.box(x0 + c0 * RES, y0 - r1 * RES, x0 + c1 * RES, y0 - r0 * RES)

    conf = gpd.GeoDataFrame(
        {"kind": ["haze", "village", "metal_roof"],
         "first_date": pd.to_datetime(["2020-01-01", "2020-01-01", "2022-01-01"]),
         "last_date": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-01-01"])},
        geometry=[cell_box(0, 0, 20, 20), cell_box(0, 0, 18, 18),
                  cell_box(5.2, 5.1, 5.9, 5.8)], crs=CRS)
    ev = evaluate(on_grid(det), on_grid(blank()), confounders=conf)
    assert ev.detected.set_index("label")["false_kind"].to_dict() == {1: "metal_roof",
                                                                     2: "village"}
    before = evaluate(on_grid(det), on_grid(blank()), confounders=conf, date="2021-06-01")
    assert before.false_by_kind.to_dict("list")["kind"] == ["village"]
    with pytest.raises(InputError, match="need a 'kind' column"):
        evaluate(on_grid(det), on_grid(blank()), confounders=conf.drop(columns="kind"))


def test_polygon_ids_follow_their_label_column():
    ref = blank()
    ref[2:6, 2:6] = 1
    det = blank()
    det[2:6, 2:6] = 1
    frame = vectorize(on_grid(det))
    frame["label"] = [42]
    assert evaluate(frame, on_grid(ref)).matches["detected"].tolist() == [42]
    frame["label"] = [-1]          # not usable as an id: row position + 1
    assert evaluate(frame, on_grid(ref)).matches["detected"].tolist() == [1]


def test_nodata_of_a_raster_file_is_not_valid(tmp_path, write_tif):
    ref = blank().astype("uint16")
    ref[2:6, 2:6] = 1
    ref[12:14, 12:14] = 2
    det = ref.copy()
    det[15:18, 2:5] = 3            # a false detection ...
    ref_file = ref.copy()
    ref_file[10:20, :] = 999       # ... where the reference file has no data
    tif = write_tif(tmp_path / "reference.tif", ref_file,
                    transform=from_origin(*ORIGIN, RES, RES), nodata=999)
    ev = evaluate(on_grid(det), tif)
    assert (ev.n_detected, ev.n_reference, ev.n_false) == (1, 1, 0)
    assert ev.valid_area_km2 == pytest.approx(200 * RES**2 / 1e6)
