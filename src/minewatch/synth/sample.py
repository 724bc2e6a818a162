"""The sample archive shipped in ``sample_tiles/`` (``python -m minewatch.synth --sample-archive``).

Two generated archives placed on real pool clusters near Pang War (UTM 47N):
``planetscope_3m/`` (1.2 km × 1.2 km, 4 dates) and ``sentinel2_10m/`` (3.6 km × 3.6 km, 5 dry-season
dates 2020–2024, both sides of the 2022-01-25 offset change, 2022-02-27 partly cloudy).
"""

from __future__ import annotations

import shutil
from os import PathLike
from pathlib import Path

from minewatch.synth._api import SynthArchive, make_archive

#: Centre of the Sentinel-2 sample: the 4 km box holding most real pool clusters (24).
S2_ORIGIN = (98.3564, 25.6759)
#: Centre of the PlanetScope sample: a dense 1.5 km box inside the Sentinel-2 one.
PS_ORIGIN = (98.3564, 25.6641)
S2_DATES = ("2020-02-14", "2021-02-28", "2022-02-27", "2023-03-04", "2024-02-18")
PS_DATES = ("2021-02-20", "2022-03-10", "2023-02-25", "2024-03-02")
SEED = 2024


def make_sample_archive(root: str | PathLike[str], *,
                        overwrite: bool = False) -> list[SynthArchive]:
    """Regenerate the sample archive under ``root``; write its STAC catalog when possible.

    Existing ``planetscope_3m/``, ``sentinel2_10m/``, ``stac/`` and ``catalog.json`` are
    replaced only with ``overwrite=True``.
    """
    root = Path(root)
    parts = [root / "planetscope_3m", root / "sentinel2_10m"]
    if overwrite:
        for p in [*parts, root / "stac"]:
            if p.exists():
                shutil.rmtree(p)
        if (root / "catalog.json").exists():
            (root / "catalog.json").unlink()
    archives = [
        make_archive(parts[0], seed=SEED, resolution_m=3.0, layout="planetscope",
                     dates=PS_DATES, extent_m=(1200.0, 1200.0), origin_lonlat=PS_ORIGIN,
                     real_positions=True, n_sites=40, clouds=(0.0, 0.03, 0.25, 0.0)),
        make_archive(parts[1], seed=SEED + 1, resolution_m=10.0, layout="sentinel2",
                     dates=S2_DATES, extent_m=(3600.0, 3600.0), origin_lonlat=S2_ORIGIN,
                     real_positions=True, n_sites=40, clouds=(0.0, 0.04, 0.3, 0.0, 0.02)),
    ]
    write_sample_aoi(root / "aoi.geojson")
    try:
        from minewatch.io.stac import write_catalog
    except ImportError as err:  # pragma: no cover - depends on the ingest stage being present
        print(f"note: STAC catalog not written ({err}); run minewatch.io.stac.write_catalog later")
    else:
        write_catalog(root, title="minewatch sample archive (generated)")
    return archives


def write_sample_aoi(path: str | PathLike[str]) -> Path:
    """Write the sample AOI: the PlanetScope sample's 1.2 km square, in lon/lat (EPSG:4326).

    Both sample sensors cover it, so the demo compares them on the same ground.
    """
    import geopandas as gpd
    from pyproj import Transformer
    from shapely.geometry import box

    from minewatch.io.write import atomic_path

    x, y = Transformer.from_crs(4326, 32647, always_xy=True).transform(*PS_ORIGIN)
    square = box(x - 600.0, y - 600.0, x + 600.0, y + 600.0)
    frame = gpd.GeoDataFrame({"name": ["Pang War sample AOI"]}, geometry=[square], crs=32647)
    target = Path(path)
    with atomic_path(target) as tmp:
        frame.to_crs(4326).to_file(tmp, driver="GeoJSON", layer="aoi")
    return target
