"""Real servers on 127.0.0.1 for the acquisition tests: a file server with HTTP range requests
and a STAC API (``rustac serve``).

Nothing here reaches the internet: both servers bind to 127.0.0.1 on a free port, and the
items they serve point at the file server.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class RangeFileServer:
    """A threaded HTTP file server that honours ``Range`` requests, counts bytes, injects faults.

    Why not ``python -m http.server``: the standard library's ``SimpleHTTPRequestHandler``
    ignores ``Range`` and always sends the whole file, so GDAL's ``/vsicurl/`` windowed reads
    would download entire COGs and nothing about "only the window was read" could be shown.

    Attributes
    ----------
    bytes_served : collections.Counter
        Body bytes sent per URL path (``/s2/x/B04.tif``).
    requests : list of (method, path, range header or "")
        Every request, in arrival order.
    missing : set of str
        URL paths answered with 404 although the file may exist.
    drops : collections.Counter
        URL path → how many of its next GETs are answered by closing the connection without a
        response (a reset mid-download, as flaky networks do).
    dropped : list of str
        The paths whose connection was dropped.
    user_agents : set of str
        The ``User-Agent`` headers seen.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()
        self.bytes_served: Counter[str] = Counter()
        self.requests: list[tuple[str, str, str]] = []
        self.missing: set[str] = set()
        self.drops: Counter[str] = Counter()
        self.dropped: list[str] = []
        self.user_agents: set[str] = set()
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as GDAL/curl expect from S3/Azure

            def log_message(self, *args: object) -> None:  # keep test output quiet
                pass

            def do_HEAD(self) -> None:
                self._serve(body=False)

            def do_GET(self) -> None:
                self._serve(body=True)

            def _serve(self, body: bool) -> None:
                path = self.path.split("?", 1)[0]
                # "/~token/x.tif" is "/x.tif": a fresh token per test defeats GDAL's
                # process-wide /vsicurl/ cache, so every test's bytes are really served.
                path = re.sub(r"^/~[^/]*/", "/", path)
                header = self.headers.get("Range", "")
                with server._lock:
                    server.requests.append((self.command, path, header))
                    server.user_agents.add(self.headers.get("User-Agent", ""))
                    drop = body and server.drops[path] > 0
                    if drop:
                        server.drops[path] -= 1
                        server.dropped.append(path)
                if drop:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                file = (server.root / path.lstrip("/")).resolve()
                if path in server.missing or not file.is_file() or \
                        server.root not in file.parents:
                    self._reply(404, b"not found", body)
                    return
                size = file.stat().st_size
                start, end = 0, size - 1
                status = 200
                found = _RANGE.match(header.strip())
                if found and (found.group(1) or found.group(2)):
                    # Single ranges only (GDAL sends one range per request); a multi-range
                    # request falls through to a full 200 reply, which RFC 9110 allows.
                    if found.group(1):
                        start = int(found.group(1))
                        end = min(int(found.group(2)), size - 1) if found.group(2) else size - 1
                    else:  # suffix range: the last N bytes
                        start = max(0, size - int(found.group(2)))
                    if start >= size or start > end:
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{size}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    status = 206
                length = end - start + 1
                self.send_response(status)
                self.send_header("Content-Type", "image/tiff")
                self.send_header("Accept-Ranges", "bytes")
                self.send_header("Content-Length", str(length))
                if status == 206:
                    self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
                self.end_headers()
                if not body:
                    return
                with file.open("rb") as fh:
                    fh.seek(start)
                    data = fh.read(length)
                self.wfile.write(data)
                with server._lock:
                    server.bytes_served[path] += len(data)

            def _reply(self, status: int, text: bytes, body: bool) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                if body:
                    self.wfile.write(text)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self) -> RangeFileServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def reset(self) -> None:
        """Forget counts, requests and faults."""
        with self._lock:
            self.bytes_served.clear()
            self.requests.clear()
            self.missing.clear()
            self.drops.clear()
            self.dropped.clear()
            self.user_agents.clear()

    def total_bytes(self) -> int:
        return sum(self.bytes_served.values())


@contextmanager
def file_server(root: str | os.PathLike[str]) -> Iterator[RangeFileServer]:
    """Serve ``root`` on 127.0.0.1 (a free port) for the duration of the block."""
    server = RangeFileServer(root).start()
    try:
        yield server
    finally:
        server.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rustac_executable() -> str:
    """``rustac`` beside the running Python (the venv's bin), else on PATH."""
    here = Path(sys.executable).parent / "rustac"
    if here.exists():
        return str(here)
    found = shutil.which("rustac")
    if found is None:
        raise RuntimeError(
            "rustac is not installed; `pip install -e .[test]` (make test) installs it."
        )
    return found


@contextmanager
def stac_api(items_file: str | os.PathLike[str], timeout_s: float = 30.0) -> Iterator[str]:
    """Run ``rustac serve ITEMS --addr 127.0.0.1:PORT``; yield its root URL; stop it after.

    Collections named by the items are created (``--create-collections``), so a search by
    collection works as on Earth Search.
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [rustac_executable(), "serve", str(items_file), "--addr", f"127.0.0.1:{port}",
         "--create-collections"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if proc.poll() is not None:
                err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                raise RuntimeError(f"rustac serve exited with {proc.returncode}: {err[-2000:]}")
            try:
                with urllib.request.urlopen(f"{url}/collections", timeout=2) as reply:
                    if reply.status == 200 and json.loads(reply.read()).get("collections"):
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"rustac serve did not answer on {url} in {timeout_s} s")
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- items: Earth Search v1-like Sentinel-2 L2A items whose assets live on the file server ----

#: Earth Search v1 asset key → (Sentinel-2 band name, STAC common name), per-band COGs.
S2_ASSETS = {
    "blue": ("B02", "blue"),
    "green": ("B03", "green"),
    "red": ("B04", "red"),
    "nir": ("B08", "nir"),
    "swir16": ("B11", "swir16"),
    "swir22": ("B12", "swir22"),
}


def s2_item(scene_dir: Path, files_root: Path, base_url: str, *, item_id: str,
            collection: str = "sentinel-2-l2a", cloud_cover: float = 5.0,
            extra_assets: dict[str, str] | None = None) -> dict:
    """An Earth Search v1-like STAC item (dict) for a per-band COG folder served at base_url.

    Asset hrefs are ``base_url`` + the file's path relative to ``files_root``; projection,
    ``eo:bands`` and ``raster:bands`` (scale 1e-4, offset −0.1 from baseline 04.00) follow what
    Earth Search publishes.
    """
    import rasterio
    from rasterio.warp import transform_geom
    from shapely.geometry import box, mapping, shape

    with rasterio.open(scene_dir / "B04.tif") as src:
        tags = src.tags()
        crs, bounds = src.crs, src.bounds
    baseline = tags.get("PROCESSING_BASELINE", "04.00")
    offset = float(tags.get("BOA_ADD_OFFSET", 0)) / 1e4
    footprint = shape(transform_geom(crs, "EPSG:4326", mapping(box(*bounds))))
    when = tags["ACQUISITION_DATE"]

    def href(name: str) -> str:
        return f"{base_url}/{(scene_dir / name).relative_to(files_root).as_posix()}"

    assets: dict[str, dict] = {}
    for key, (band, common) in S2_ASSETS.items():
        res = 20 if band in ("B11", "B12") else 10
        assets[key] = {
            "href": href(f"{band}.tif"),
            "type": "image/tiff; application=geotiff; profile=cloud-optimized",
            "roles": ["data", "reflectance"],
            "eo:bands": [{"name": band, "common_name": common}],
            "raster:bands": [{"nodata": 0, "data_type": "uint16", "scale": 0.0001,
                              "offset": offset, "spatial_resolution": res}],
        }
    assets["scl"] = {
        "href": href("SCL.tif"),
        "type": "image/tiff; application=geotiff; profile=cloud-optimized",
        "roles": ["data"],
        "raster:bands": [{"nodata": 0, "data_type": "uint8", "spatial_resolution": 20}],
    }
    assets["thumbnail"] = {"href": href("thumbnail.jpg"), "type": "image/jpeg",
                           "roles": ["thumbnail"]}
    for key, value in (extra_assets or {}).items():
        assets[key]["href"] = value
    return {
        "type": "Feature",
        "stac_version": "1.0.0",
        "stac_extensions": [
            "https://stac-extensions.github.io/eo/v1.1.0/schema.json",
            "https://stac-extensions.github.io/projection/v1.1.0/schema.json",
            "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
        ],
        "id": item_id,
        "collection": collection,
        "geometry": mapping(footprint),
        "bbox": list(footprint.bounds),
        "properties": {
            "datetime": when,
            "platform": tags.get("SPACECRAFT_NAME", "Sentinel-2A").lower(),
            "constellation": "sentinel-2",
            "instruments": ["msi"],
            "eo:cloud_cover": cloud_cover,
            "proj:epsg": crs.to_epsg(),
            "s2:processing_baseline": baseline,
            "earthsearch:boa_offset_applied": False,
        },
        "links": [],
        "assets": assets,
    }


def write_items(items: Sequence[dict], path: Path) -> Path:
    """Write items as one FeatureCollection JSON (what ``rustac serve`` loads)."""
    path.write_text(json.dumps({"type": "FeatureCollection", "features": list(items)}))
    return path


# --- the served archive (pytest fixtures) ------------------------------------------------------

#: Scene dates served, with their cloud cover (%) in the items.
SERVED = {"2021-02-10": 5.0, "2022-03-01": 35.0, "2023-02-20": 15.0}
#: COG size: 1024 × 1024 px at 10 m (4 × 4 tiles of 256 px), 512 × 512 at 20 m.
SERVED_SHAPE = (1024, 1024)
_CACHE: dict[str, Path] = {}
_TOKENS = itertools.count()


def served_cogs() -> Path:
    """Per-band Sentinel-2 L2A COG folders (minewatch.synth, seeded), made once per process."""
    if "root" not in _CACHE:
        import atexit
        import tempfile

        from minewatch.synth import make_archive

        root = Path(tempfile.mkdtemp(prefix="minewatch-cogs-"))
        atexit.register(shutil.rmtree, root, True)
        make_archive(root / "cogs", seed=3, shape=SERVED_SHAPE, dates=tuple(SERVED),
                     layout="sentinel2")
        _CACHE["root"] = root / "cogs"
    return _CACHE["root"]


class Served:
    """The STAC API and file server of one test module, and what they serve."""

    def __init__(self, api: str, files: RangeFileServer, root: Path, items: list[dict],
                 aoi: Path, aoi_bounds: tuple[float, float, float, float]) -> None:
        self.api, self.files, self.root, self.items = api, files, root, items
        self.aoi, self.aoi_bounds = aoi, aoi_bounds

    @property
    def ids(self) -> list[str]:
        return [item["id"] for item in self.items]

    def url_path(self, item_id: str, band: str) -> str:
        """The URL path of one band file (``/S2A_.../B08.tif``) as the server counts it."""
        return f"/{item_id}/{band}.tif"

    def file(self, item_id: str, band: str) -> Path:
        return self.root / item_id / f"{band}.tif"

    def fresh(self, items: Iterable[Any]) -> Any:
        """Copies of pystac ``items`` whose asset URLs carry a new ``/~token/`` prefix (the
        server ignores it), so GDAL's process-wide HTTP cache can't answer for the server."""
        import pystac

        token = f"~{next(_TOKENS)}"
        out = []
        for item in items:
            copy = item.clone()
            for asset in copy.assets.values():
                asset.href = asset.href.replace(self.files.url, f"{self.files.url}/{token}", 1)
            out.append(copy)
        return pystac.ItemCollection(out)


@contextmanager
def serve_archive(workdir: Path) -> Iterator[Served]:
    """Start the file server and a rustac STAC API over :func:`served_cogs`; yield them.

    The AOI (``workdir/aoi.gpkg``, in EPSG:32647, not lon/lat) is a 1.5 km square lying
    inside one 256-px tile of every band, so a windowed read needs the header and one tile.
    """
    import geopandas as gpd
    import rasterio
    from shapely.geometry import box

    root = served_cogs()
    scenes = sorted(p for p in root.iterdir() if p.is_dir() and p.name != "truth")
    with rasterio.open(scenes[0] / "B04.tif") as src:
        left, top = src.transform.c, src.transform.f
    bounds = (left + 3000.0, top - 4500.0, left + 4500.0, top - 3000.0)  # px 300–450
    aoi = workdir / "aoi.gpkg"
    gpd.GeoDataFrame({"name": ["test aoi"]}, geometry=[box(*bounds)],
                     crs="EPSG:32647").to_file(aoi, layer="aoi")
    with file_server(root) as files:
        by_date = {}
        for scene in scenes:
            with rasterio.open(scene / "B04.tif") as src:
                by_date[src.tags()["ACQUISITION_DATE"][:10]] = scene
        items = [s2_item(by_date[day], root, files.url, item_id=by_date[day].name,
                         cloud_cover=cloud) for day, cloud in SERVED.items()]
        items_file = write_items(items, workdir / "stac_api_items.json")
        with stac_api(items_file) as api:
            yield Served(api, files, root, items, aoi, bounds)
