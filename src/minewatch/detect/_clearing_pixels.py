"""Pixel layer of clearing detection: indices, date normalisation, baseline, change rules,
morphological cleaning. Private; the public functions live in :mod:`minewatch.detect.clearings`.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import math
import os
import tempfile
import threading
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import dask
import dask.array as da
import numpy as np
import pandas as pd
import xarray as xr
from scipy import ndimage

from minewatch.config import ClearingConfig, DetectionConfig
from minewatch.config._clearings import CLEARING_PRESETS
from minewatch.errors import BandError, ConfigError, InputError
from minewatch.indices import bare_soil, blueness, brightness, ndvi, ndwi, normalized_difference

#: Preset names by the pixel size (m) they suit, finest first.
_PRESET_BY_RESOLUTION = ((1.5, "rgb_highres"), (6.0, "planetscope"), (20.0, "sentinel2"),
                         (math.inf, "landsat"))


# --------------------------------------------------------------------------------------------
# inputs
# --------------------------------------------------------------------------------------------

def check_stack(stack: Any, where: str) -> xr.DataArray:
    """A (time, band, y, x) DataArray with ≥ 2 dates, or an InputError saying what to pass."""
    if not isinstance(stack, xr.DataArray):
        raise InputError(f"{where}: stack must be an xarray DataArray (time, band, y, x) as "
                         f"returned by minewatch.load_stack, got {type(stack).__name__}.")
    missing = [d for d in ("time", "band", "y", "x") if d not in stack.dims]
    if missing or stack.ndim != 4:
        raise InputError(f"{where}: stack has dims {stack.dims}; expected (time, band, y, x) "
                         "as returned by minewatch.load_stack.")
    if stack.sizes["time"] < 2:
        when = (str(pd.Timestamp(stack["time"].values[0]).date()) if stack.sizes["time"]
                else "no date")
        raise InputError(
            f"{where}: the stack has {stack.sizes['time']} date(s) ({when}); clearing "
            "detection compares a date with a baseline of earlier dates, so it needs at least "
            "two dates. Load more scenes of the area (minewatch.load_stack).")
    return stack.transpose("time", "band", "y", "x")


def resolution_m(stack: xr.DataArray) -> float:
    """Pixel size (m) from the x coordinate (or the transform)."""
    x = stack["x"].values
    if x.size > 1:
        return float(abs(x[1] - x[0]))
    return float(abs(stack.rio.transform().a))


def resolve_config(config: Any, stack: xr.DataArray) -> ClearingConfig:
    """ClearingConfig from None (preset by pixel size and bands), a DetectionConfig or itself."""
    if config is None:
        res = resolution_m(stack)
        name = next(n for limit, n in _PRESET_BY_RESOLUTION if res <= limit)
        if "nir" not in stack["band"].values:
            name = "rgb_highres"
        return CLEARING_PRESETS[name]
    if isinstance(config, DetectionConfig):
        return config.clearings
    if isinstance(config, ClearingConfig):
        return config
    raise ConfigError(f"config must be a ClearingConfig, a DetectionConfig or None, got "
                      f"{type(config).__name__}.")


def date_index(stack: xr.DataArray, date: Any, where: str) -> int:
    """Index along ``time`` of ``date`` (None → the last); InputError naming the dates."""
    times = pd.DatetimeIndex(stack["time"].values)
    if date is None:
        return len(times) - 1
    if isinstance(date, int | np.integer) and not isinstance(date, bool):
        if not -len(times) <= int(date) < len(times):
            raise InputError(f"{where}: date index {date} is outside the stack's "
                             f"{len(times)} dates.")
        return int(date) % len(times)
    try:
        stamp = pd.Timestamp(date)
    except (TypeError, ValueError) as err:
        raise InputError(f"{where}: date {date!r} is not a date; use 'YYYY-MM-DD'.") from err
    hits = np.flatnonzero(times.normalize() == stamp.normalize())
    if hits.size == 0:
        listed = ", ".join(str(t.date()) for t in times)
        raise InputError(f"{where}: date {stamp.date()} is not in the stack; its dates are "
                         f"{listed}.")
    return int(hits[0])


# --------------------------------------------------------------------------------------------
# indices
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Indices:
    """Per-date vegetation and bare index cubes (time, y, x), normalised between dates where
    the config says; the other layers are computed for one date on demand (speed)."""

    veg: xr.DataArray
    """Vegetation index: NDVI, or GRVI (green − red)/(green + red) for ``rgb``."""
    bare: xr.DataArray
    """Bare index: BSI, or redness (red − green)/(red + green) without SWIR."""
    veg_raw: xr.DataArray
    """Vegetation index before normalisation (reported)."""
    bare_raw: xr.DataArray
    """Bare index before normalisation (reported)."""
    names: tuple[str, str, str]
    """Names of veg, bare, water indices (``ndvi``, ``bare_soil``, ``ndwi`` or RGB names)."""
    method: str
    """``multispectral`` or ``rgb``."""
    veg_shift: np.ndarray
    """Per-date shift added to ``veg`` (index units)."""
    bare_shift: np.ndarray
    """Per-date shift added to ``bare`` (index units)."""
    blue_shift: np.ndarray
    """Per-date shift added to blue: minus the date's stable-vegetation median blue."""
    stack: xr.DataArray | None
    """The reflectance the layers come from (None when built by :func:`indices_from_layers`
    from per-date layers: then only ``one``, the mapped date, is at hand)."""
    one: xr.DataArray | None = None
    """Reflectance (band, y, x) of date ``one_t`` when ``stack`` is None."""
    one_t: int = -1
    """Index of ``one`` along ``time``."""
    red_shift: np.ndarray | None = None
    """Per-date shift added to redness (index units), like ``bare_shift``: a date whose whole
    scene reads less red (haze, light) keeps its laterite."""

    def _date(self, t: int) -> xr.DataArray:
        if self.stack is not None:
            one = self.stack.isel(time=t)
        elif t == self.one_t and self.one is not None:
            one = self.one
        else:  # a programming error, not an input error
            raise ValueError(f"these indices hold the reflectance of date {self.one_t} only, "
                             f"not {t}")
        return one.where(one.notnull().all("band"))

    def water(self, t: int) -> xr.DataArray:
        """Water index of pools on date ``t``: NDWI, or blueness for ``rgb``."""
        one = self._date(t)
        return ndwi(one) if self.method == "multispectral" else blueness(one)

    def dark(self, t: int) -> xr.DataArray:
        """NIR reflectance (0–1) on date ``t``, or 2 × brightness for ``rgb``."""
        one = self._date(t)
        if self.method == "multispectral":
            return one.sel(band="nir").drop_vars("band", errors="ignore").astype(np.float32)
        return brightness(one) * 2  # burnt_nir_max is halved for RGB brightness

    def redness(self, t: int) -> xr.DataArray:
        """(red − green) / (red + green) on date ``t``, shifted like the bare index: laterite
        is red."""
        red = normalized_difference(self._date(t), "red", "green")
        if self.red_shift is None:
            return red
        return (red + float(self.red_shift[t])).astype(np.float32)

    def blue(self, t: int) -> xr.DataArray:
        """Blue reflectance (0–1) above the date's stable-vegetation median (haze lifts
        both): thin cloud is bright in blue."""
        one = self._date(t).sel(band="blue").drop_vars("band", errors="ignore")
        return (one + float(self.blue_shift[t])).astype(np.float32)


def method_for(stack: xr.DataArray, cfg: ClearingConfig) -> str:
    """``multispectral`` or ``rgb``; BandError when the bands don't allow the method."""
    bands = [str(b) for b in stack["band"].values]
    if cfg.method in ("auto", "multispectral"):
        if "nir" not in bands or "red" not in bands:
            raise BandError(
                f"Clearing detection ({cfg.method}) needs red and nir bands, the image has "
                f"{bands}. RGB-only imagery: use the 'rgb_highres' preset or "
                "ClearingConfig(method='rgb') (green–red vegetation index and laterite "
                "redness; weaker, see docs/detection.md).")
        if "blue" not in bands:
            raise BandError(f"Clearing detection needs a blue band (thin-cloud guard), the "
                            f"image has {bands}.")
        return "multispectral"
    missing = [b for b in ("red", "green", "blue") if b not in bands]
    if missing:
        raise BandError(f"Clearing detection (rgb) needs red, green and blue; {missing} "
                        f"missing from {bands}.")
    return "rgb"


def _strided_median(values: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Median per date of ``values`` (time, n) where ``keep``; NaN when none is kept."""
    out = np.full(values.shape[0], np.nan, np.float64)
    for t in range(values.shape[0]):
        v = values[t][keep[t]]
        v = v[np.isfinite(v)]
        if v.size:
            out[t] = float(np.median(v))
    return out


def date_index_layers(stack: xr.DataArray, cfg: ClearingConfig
                      ) -> tuple[xr.DataArray, xr.DataArray, tuple[str, str, str], str]:
    """Un-normalised vegetation and bare index cubes (time, y, x) of ``stack``, their names
    and the method. Per pixel and date: the same values whichever dates are stacked together,
    so they can be computed once per date and cached (:func:`indices_from_layers`)."""
    method = method_for(stack, cfg)
    bands = [str(b) for b in stack["band"].values]
    if method == "multispectral":
        veg = ndvi(stack)
        bare = bare_soil(stack) if "swir1" in bands else normalized_difference(stack, "red",
                                                                                "green")
    else:
        veg = normalized_difference(stack, "green", "red")
        bare = normalized_difference(stack, "red", "green")
    # NaN in any band propagates to both ratios: a pixel is observed only when every band is
    return veg, bare, index_names(method, bands), method


def index_names(method: str, bands: list[str]) -> tuple[str, str, str]:
    """Names of the vegetation, bare and water indices of ``method`` with these bands."""
    if method == "multispectral":
        return ("ndvi", "bare_soil" if "swir1" in bands else "redness", "ndwi")
    return ("grvi", "redness", "blueness")


def date_shifts(sample: np.ndarray, cfg: ClearingConfig) -> tuple[np.ndarray, ...]:
    """Per-date shifts of vegetation, bare index, blue and redness (float32, one per date)
    from a strided ``sample`` (4, time, ...) of the raw vegetation index, bare index, blue
    band and redness: each date is moved to the median over the dates of its
    stable-vegetation medians (blue: to 0)."""
    return shifts_from_medians(sample_medians(sample, cfg), cfg)


def sample_medians(sample: np.ndarray, cfg: ClearingConfig) -> np.ndarray:
    """(4, time) float64 stable-vegetation medians of a strided ``sample`` (4, time, ...),
    each date's from its own pixels alone: those of several dates are the medians of each,
    side by side (so a window's are made a date at a time, not from its whole sample)."""
    n_t = sample.shape[1]
    vals = np.asarray(sample, np.float32)
    stable = (vals[0] >= cfg.veg_min).reshape(n_t, -1)
    return np.stack([_strided_median(vals[k].reshape(n_t, -1), stable) for k in range(4)])


def shifts_from_medians(medians: np.ndarray, cfg: ClearingConfig) -> tuple[np.ndarray, ...]:
    """:func:`date_shifts` from the (4, time) medians of :func:`sample_medians`."""
    n_t = medians.shape[1]
    shifts = [np.zeros(n_t, np.float32) for _ in range(4)]
    med_veg, med_bare, med_blue, med_red = medians
    if np.isfinite(med_veg).any():
        shifts = [np.nan_to_num(np.nanmedian(med) - med).astype(np.float32)
                  for med in (med_veg, med_bare)]
        shifts.append(-np.nan_to_num(med_blue).astype(np.float32))
        shifts.append(np.nan_to_num(np.nanmedian(med_red) - med_red).astype(np.float32))
    return tuple(shifts)


def _assemble(veg: xr.DataArray, bare: xr.DataArray, names: tuple[str, str, str], method: str,
              shifts: tuple[np.ndarray | None, ...], stack: xr.DataArray | None,
              one: xr.DataArray | None = None, one_t: int = -1) -> Indices:
    veg_shift, bare_shift, blue_shift, red_shift = shifts
    time = veg["time"]
    veg_n = veg + xr.DataArray(veg_shift, dims="time", coords={"time": time})
    bare_n = bare + xr.DataArray(bare_shift, dims="time", coords={"time": time})
    return Indices(veg=veg_n.astype(np.float32, copy=False),
                   bare=bare_n.astype(np.float32, copy=False), veg_raw=veg,
                   bare_raw=bare, names=names, method=method, veg_shift=veg_shift,
                   bare_shift=bare_shift, blue_shift=blue_shift, red_shift=red_shift,
                   stack=stack, one=one, one_t=one_t)


def shift_sample(stack: xr.DataArray, veg: xr.DataArray, bare: xr.DataArray, stride: int
                 ) -> np.ndarray:
    """The strided sample :func:`date_shifts` takes: (4, time, ...) raw vegetation index, bare
    index, blue and redness every ``stride`` pixels (computed, on dask input)."""
    s = stride
    blue = stack.sel(band="blue").drop_vars("band", errors="ignore")
    red = normalized_difference(stack[:, :, ::s, ::s], "red", "green")
    parts = [veg[:, ::s, ::s], bare[:, ::s, ::s], blue[:, ::s, ::s], red]
    if isinstance(stack.data, da.Array):  # one computation of the four samples
        parts = dask.compute(*parts)
    return np.stack([np.asarray(getattr(p, "values", p), np.float32) for p in parts])


def compute_indices(stack: xr.DataArray, cfg: ClearingConfig) -> Indices:
    """Index cubes of every date; per-date shifts from stable vegetation (computed once on a
    strided sample: the only early computation on dask input)."""
    veg, bare, names, method = date_index_layers(stack, cfg)
    n_t = stack.sizes["time"]
    shifts = (np.zeros(n_t, np.float32),) * 4
    if cfg.normalize_dates:
        shifts = date_shifts(shift_sample(stack, veg, bare, cfg.normalization_stride_px), cfg)
    if not cfg.normalize_redness:
        shifts = (*shifts[:3], None)
    return _assemble(veg, bare, names, method, shifts, stack)


def indices_from_layers(veg: xr.DataArray, bare: xr.DataArray, medians: np.ndarray | None,
                        one: xr.DataArray, t: int, cfg: ClearingConfig) -> Indices:
    """:class:`Indices` from cached per-date layers: the same values as
    :func:`compute_indices` on the stack they come from, without its reflectance.

    ``veg``/``bare`` are the raw cubes of :func:`date_index_layers` (time, y, x): numpy-backed
    and owned by the caller, they are **shifted in place** (memory: one copy of each cube, not
    two); dask-backed (blocks read from files), the shift is added lazily;
    ``medians`` the (4, time) :func:`sample_medians` of the dates' strided samples (the
    shifts :func:`date_shifts` gives from the joined sample; None when
    ``cfg.normalize_dates`` is off); ``one`` the
    reflectance (band, y, x) of date ``t``, the only date whose other layers (water,
    redness, blue, NIR) are asked for. ``veg_raw``/``bare_raw`` hold date ``t`` only
    (broadcast along ``time``): the raw values are reported for the mapped date alone.
    """
    method = method_for(one, cfg)
    names = index_names(method, [str(b) for b in one["band"].values])
    n_t = veg.sizes["time"]
    shifts = (np.zeros(n_t, np.float32),) * 4
    if cfg.normalize_dates and medians is not None:
        shifts = shifts_from_medians(medians, cfg)
    if not cfg.normalize_redness:
        shifts = (*shifts[:3], None)
    raw, shifted = [], []
    for cube, shift in ((veg, shifts[0]), (bare, shifts[1])):
        step = shift.astype(np.float32)[:, None, None]
        if isinstance(cube.data, da.Array):
            raw.append(cube)
            shifted.append(cube.copy(data=cube.data + step))
            continue
        date_t = np.array(cube.values[t])
        raw.append(cube.copy(data=np.broadcast_to(date_t, cube.shape)))
        data = cube.values  # the caller's array: shifted in place, as `cube + shift` would be
        data += step
        shifted.append(cube)
    veg, bare = shifted
    return Indices(veg=veg, bare=bare, veg_raw=raw[0], bare_raw=raw[1], names=names,
                   method=method, veg_shift=shifts[0], bare_shift=shifts[1],
                   blue_shift=shifts[2], red_shift=shifts[3], stack=None, one=one, one_t=t)


# --------------------------------------------------------------------------------------------
# a dask-backed stack read once: per-date layers in a temporary file (detect_clearings)
# --------------------------------------------------------------------------------------------

#: Most rows of a block of the layers :func:`indices_once` reads back: a clearing task holds
#: the dates of its block of both index cubes, the mapped date's bands, the masks and the
#: values of the object table, so its memory is of such a block (the pipeline's blocks are
#: (512, 2048) px for the same reason).
LAYER_ROWS = 512


class TileFile:
    """Layers (layer, y, x) of one dtype in an unnamed temporary file, stored tile by tile
    (the tiles of ``row_edges`` × ``col_edges``): each layer of a tile contiguous in C order,
    so a run of whole rows of a tile is one read. Sliceable like an array (dask's
    ``from_array``: ints and increasing slices); positional reads and writes, so threads may
    share it. Deleted when closed (or when the process ends: the file has no name).

    Why not a library: a chunked on-disk store is zarr's job, but zarr is not a dependency of
    minewatch; ``np.memmap`` (as the pipeline's ``_LayerRows`` uses, a map per block) would
    count the pages it touches in the process's resident memory while mapped, and these
    files hold ~8.7 GB for six dates of a full tile. Plain positional reads and writes keep
    them in the page cache only."""

    def __init__(self, n_layers: int, row_edges: np.ndarray, col_edges: np.ndarray,
                 dtype: Any) -> None:
        self._file = tempfile.TemporaryFile(prefix="minewatch-layers-")
        self.fd = self._file.fileno()
        # where positional reads/writes are missing (Windows), seek and read under a lock
        self._positional = hasattr(os, "preadv") and hasattr(os, "pwrite")
        self._lock = threading.Lock()
        self.dtype = np.dtype(dtype)
        self.rows, self.cols = np.asarray(row_edges), np.asarray(col_edges)
        self.shape = (n_layers, int(self.rows[-1]), int(self.cols[-1]))
        self.ndim = 3
        tile_bytes = (np.diff(self.rows)[:, None] * np.diff(self.cols)[None, :]
                      * n_layers * self.dtype.itemsize)
        self.start = np.concatenate([[0], np.cumsum(tile_bytes.ravel())])[:-1].reshape(
            tile_bytes.shape)

    def close(self) -> None:
        """Delete the file."""
        self._file.close()

    def _offset(self, k: int, i: int, j: int, row: int) -> int:
        height = int(self.rows[i + 1] - self.rows[i])
        width = int(self.cols[j + 1] - self.cols[j])
        return int(self.start[i, j]) + (k * height + row) * width * self.dtype.itemsize

    def write(self, k: int, i: int, j: int, block: np.ndarray) -> None:
        """Write layer ``k`` of tile (``i``, ``j``) (the whole tile)."""
        data = np.ascontiguousarray(block, self.dtype)
        view = memoryview(data).cast("B")
        offset, done = self._offset(k, i, j, 0), 0
        if not self._positional:
            with self._lock:
                self._file.seek(offset)
                self._file.write(view)
            return
        while done < len(view):  # pwrite may write less than asked
            done += os.pwrite(self.fd, view[done:], offset + done)

    def _read_into(self, dest: np.ndarray, offset: int) -> None:
        view = memoryview(dest).cast("B")
        done = 0
        if not self._positional:
            with self._lock:
                self._file.seek(offset)
                done = self._file.readinto(view)  # buffered: all of it, unless at the end
            if done < len(view):
                raise OSError("temporary layer file is shorter than written")
            return
        while done < len(view):
            got = os.preadv(self.fd, [view[done:]], offset + done)
            if got == 0:
                raise OSError("temporary layer file is shorter than written")
            done += got

    def __getitem__(self, key: Any) -> np.ndarray:
        key = tuple(key) if isinstance(key, tuple) else (key,)
        key += (slice(None),) * (3 - len(key))
        spans, picks = [], []
        for idx, n in zip(key, self.shape, strict=True):
            if isinstance(idx, int | np.integer):
                i = int(idx) % n
                spans.append((i, i + 1))
                picks.append(0)
                continue
            if not isinstance(idx, slice):
                raise TypeError(f"TileFile takes ints and slices, not {type(idx).__name__}")
            lo, hi, step = idx.indices(n)
            if step < 0:
                raise TypeError("TileFile takes increasing slices")
            hi = max(lo, hi)
            spans.append((lo, hi))
            picks.append(slice(0, hi - lo, step))
        return self._read(*spans)[tuple(picks)]

    def _read(self, layers: tuple[int, int], rows: tuple[int, int], cols: tuple[int, int]
              ) -> np.ndarray:
        (k0, k1), (r0, r1), (c0, c1) = layers, rows, cols
        out = np.empty((k1 - k0, r1 - r0, c1 - c0), self.dtype)
        if out.size == 0:
            return out
        for i in range(int(np.searchsorted(self.rows, r0, "right")) - 1, len(self.rows) - 1):
            t0, t1 = int(self.rows[i]), int(self.rows[i + 1])
            if t0 >= r1:
                break
            rr0, rr1 = max(r0, t0), min(r1, t1)
            for j in range(int(np.searchsorted(self.cols, c0, "right")) - 1,
                           len(self.cols) - 1):
                u0, u1 = int(self.cols[j]), int(self.cols[j + 1])
                if u0 >= c1:
                    break
                cc0, cc1 = max(c0, u0), min(c1, u1)
                for k in range(k0, k1):
                    dest = out[k - k0, rr0 - r0:rr1 - r0, cc0 - c0:cc1 - c0]
                    offset = self._offset(k, i, j, rr0 - t0)
                    if (cc0, cc1) == (u0, u1) and dest.flags.c_contiguous:
                        self._read_into(dest, offset)  # whole rows of the tile: in place
                    else:
                        rows_of_tile = np.empty((rr1 - rr0, u1 - u0), self.dtype)
                        self._read_into(rows_of_tile, offset)
                        dest[...] = rows_of_tile[:, cc0 - u0:cc1 - u0]
        return out

    def dask(self, rows_per_block: int | None = None) -> da.Array:
        """The layers as a dask array: blocks of all layers, whole tile columns and at most
        ``rows_per_block`` (default :data:`LAYER_ROWS`) rows of a tile (one read per
        layer)."""
        rows_per_block = LAYER_ROWS if rows_per_block is None else rows_per_block
        row_chunks = tuple(min(rows_per_block, h - r) for h in np.diff(self.rows).tolist()
                           for r in range(0, h, rows_per_block))
        chunks = ((self.shape[0],), row_chunks, tuple(np.diff(self.cols).tolist()))
        return da.from_array(self, chunks=chunks, lock=False, asarray=False,
                             name=f"clearing-layers-{uuid.uuid4().hex}",
                             meta=np.empty((0, 0, 0), self.dtype))


def chunk_layers(part: xr.DataArray, r0: int, c0: int, cfg: ClearingConfig
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """What clearing detection keeps of one chunk ``part`` (band, y, x) of a date, at rows and
    columns ``r0``, ``c0`` of the grid: its raw vegetation and bare index (y, x), and its part
    of the strided sample of the date shifts (the grid's rows and columns 0, s, 2s, …; see
    :func:`shift_sample`), or None when ``cfg.normalize_dates`` is off. The pipeline's layer
    files and :func:`indices_once` are both made of it."""
    veg, bare, _, _ = date_index_layers(part.expand_dims("time"), cfg)
    sample = None
    if cfg.normalize_dates:
        s = cfg.normalization_stride_px
        rows = dict(y=slice((-r0) % s, None, s), x=slice((-c0) % s, None, s))
        sample = shift_sample(part.isel(**rows).expand_dims("time"), veg.isel(**rows),
                              bare.isel(**rows), 1)
    return veg.values[0], bare.values[0], sample


def empty_sample(height: int, width: int, cfg: ClearingConfig) -> np.ndarray:
    """The grid's strided sample of one date (:func:`shift_sample`: 4 layers, rows and
    columns 0, s, 2s, …), to be filled chunk by chunk with :func:`put_sample`."""
    s = cfg.normalization_stride_px
    return np.empty((4, 1, -(-height // s), -(-width // s)), np.float32)


def put_sample(sample: np.ndarray, part: np.ndarray, r0: int, c0: int,
               cfg: ClearingConfig) -> None:
    """Place a chunk's part of the strided sample (from :func:`chunk_layers` of the chunk at
    rows and columns ``r0``, ``c0``) into the grid's ``sample``."""
    s = cfg.normalization_stride_px
    sy, sx = -(-r0 // s), -(-c0 // s)  # the first sampled row and column in the chunk
    sample[:, :, sy:sy + part.shape[2], sx:sx + part.shape[3]] = part


def _reduce_tile(block: np.ndarray, d: int, i: int, j: int, r0: int, c0: int,
                 coords: dict[str, np.ndarray], t: int, cfg: ClearingConfig,
                 files: tuple[TileFile, TileFile, TileFile]) -> np.ndarray | None:
    """One date's tile of the stack (1, band, y, x) reduced by :func:`chunk_layers`: its raw
    vegetation and bare index written to ``files``, its bands too on the mapped date ``t``,
    and its part of the strided sample of the date shifts returned.
    ``coords``: the stack's band, y and x coordinates as numpy arrays (not the stack: dask
    would take a DataArray argument for its graph and compute it)."""
    veg_file, bare_file, one_file = files
    h, w = block.shape[-2:]
    part = xr.DataArray(block[0], dims=("band", "y", "x"),
                        coords={"band": coords["band"], "y": coords["y"][r0:r0 + h],
                                "x": coords["x"][c0:c0 + w]})
    veg, bare, sample = chunk_layers(part, r0, c0, cfg)
    veg_file.write(d, i, j, veg)
    bare_file.write(d, i, j, bare)
    if d == t:
        for b in range(block.shape[1]):
            one_file.write(b, i, j, block[0, b])
    return sample


def _n_workers() -> int:
    """The threads dask computes with here: one under its synchronous scheduler (e.g. inside
    a pipeline task), else its ``num_workers`` setting or the CPU count."""
    import dask.local
    from dask.base import get_scheduler
    from dask.system import CPU_COUNT

    if get_scheduler() is dask.local.get_sync:
        return 1
    return max(1, int(dask.config.get("num_workers", None) or CPU_COUNT))


@contextlib.contextmanager
def indices_once(stack: xr.DataArray, t: int, cfg: ClearingConfig) -> Iterator[Indices]:
    """:class:`Indices` of a dask-backed ``stack`` (time, band, y, x) for mapping date ``t``,
    the same values as :func:`compute_indices` gives, with the stack read once.

    :func:`compute_indices` hangs every layer (both index cubes, the mapped date's water,
    redness, blue, NIR) off the stack, so each computation of the clearing graph (the
    strided sample of the shifts, the masks, the values of the object table) reads and
    reprojects the stack again, and a task holds a tile of all its dates and bands. Here each
    date's tile is read once and reduced at once to its raw vegetation and bare index and, on
    date ``t``, its bands, written to unnamed temporary files (they hold 8 bytes per pixel and
    date, more than memory should), and the strided sample's medians are taken a date at a
    time; the layers are then read back in blocks of :data:`LAYER_ROWS` rows, as the pipeline
    reads its layer files (:func:`indices_from_layers`). The files are deleted on exit."""
    method_for(stack, cfg)  # a BandError before anything is read
    data = stack.data.rechunk({0: 1, 1: -1})  # a task: one date, all bands, one tile
    row_edges = np.cumsum((0, *data.chunks[2]))
    col_edges = np.cumsum((0, *data.chunks[3]))
    n_t, n_b = stack.sizes["time"], stack.sizes["band"]
    files: list[TileFile] = []
    try:
        for n, dtype in ((n_t, np.float32), (n_t, np.float32), (n_b, stack.dtype)):
            files.append(TileFile(n, row_edges, col_edges, dtype))
        grid = {k: stack[k].values for k in ("band", "y", "x")}
        tiles = [(d, i, j) for d in range(n_t) for i in range(len(row_edges) - 1)
                 for j in range(len(col_edges) - 1)]

        def reduce(tile: tuple[int, int, int]) -> np.ndarray | None:
            d, i, j = tile
            # a tile's graph computed in this thread: at most one tile per worker in memory
            # (one dask.compute of a date's tiles read every band of the date ahead of the
            # reductions: 3.7 GB for one date of a full Sentinel-2 tile)
            block = data.blocks[d, :, i, j].compute(scheduler="synchronous")
            return _reduce_tile(block, d, i, j, int(row_edges[i]), int(col_edges[j]), grid,
                                t, cfg, tuple(files))

        medians, sample = [], None
        pool = concurrent.futures.ThreadPoolExecutor(_n_workers())
        try:
            # in date order, so a date's sample is complete (and let go) before the next's
            for (_, i, j), part in zip(tiles, pool.map(reduce, tiles), strict=True):
                if part is None:  # dates not normalised: no sample
                    continue
                if sample is None:
                    sample = empty_sample(stack.sizes["y"], stack.sizes["x"], cfg)
                put_sample(sample, part, int(row_edges[i]), int(col_edges[j]), cfg)
                if (i, j) == (len(row_edges) - 2, len(col_edges) - 2):  # the date's last
                    medians.append(sample_medians(sample, cfg))
                    sample = None
        finally:  # after an error, the tiles not started are not read
            pool.shutdown(wait=True, cancel_futures=True)
        coords = {"y": grid["y"], "x": grid["x"]}

        def georef(out: xr.DataArray) -> xr.DataArray:
            if stack.rio.crs is not None:  # inplace: rioxarray otherwise copies
                out.rio.write_crs(stack.rio.crs, inplace=True)
            return out

        veg, bare = (georef(xr.DataArray(f.dask(), dims=("time", "y", "x"),
                                         coords={"time": stack["time"].values, **coords}))
                     for f in files[:2])
        one = georef(xr.DataArray(files[2].dask(), dims=("band", "y", "x"),
                                  coords={"band": grid["band"], **coords}))
        yield indices_from_layers(veg, bare, np.concatenate(medians, axis=1) if medians
                                  else None, one, t, cfg)
    finally:
        for f in files:
            f.close()


# --------------------------------------------------------------------------------------------
# reductions over time (core dim in one chunk, NaN-aware, quiet on all-NaN pixels)
# --------------------------------------------------------------------------------------------

def nanquantile_last(a: np.ndarray, q: float) -> np.ndarray:
    """Quantile ``q`` over the last axis ignoring NaN (linear interpolation, as
    ``np.nanquantile``), vectorised: ``np.nanquantile`` loops per pixel when NaN are present.

    Only the two order statistics the interpolation needs are selected, by a few bubble passes
    over the dates from the nearer end (q = 0.9 of 6 dates: 2 passes, not a sort), on chunks
    of pixels with time first (contiguous rows of the (time, y, x) cube)."""
    a = np.asarray(a, np.float32)
    if a.ndim == 0 or a.size == 0:
        return _nanquantile_sorted(a, q)  # its errors and empty results
    n_t = a.shape[-1]
    lanes = np.moveaxis(a, -1, 0).reshape(n_t, -1)  # a view when time is the cube's first axis
    n_px = lanes.shape[1]
    tables = _rank_tables(n_t, q)
    work = np.empty((n_t + 1, min(_CHUNK_PX, n_px)), np.float32)
    out = np.empty(n_px, np.float32)
    for p0 in range(0, n_px, _CHUNK_PX):
        _quantile_chunk(lanes[:, p0:p0 + _CHUNK_PX], tables, work, out[p0:p0 + _CHUNK_PX])
    return out.reshape(a.shape[:-1])


def _nanquantile_sorted(a: np.ndarray, q: float) -> np.ndarray:
    """:func:`nanquantile_last` by a full sort (any shape; the reference)."""
    a = np.asarray(a, np.float32)
    n = np.isfinite(a).sum(axis=-1)
    ordered = np.sort(a, axis=-1)  # NaN sort last
    pos = q * np.clip(n - 1, 0, None)
    lo = np.floor(pos).astype(np.intp)
    hi = np.minimum(lo + 1, np.clip(n - 1, 0, None))
    frac = (pos - lo).astype(np.float32)
    v_lo = np.take_along_axis(ordered, lo[..., None], axis=-1)[..., 0]
    v_hi = np.take_along_axis(ordered, hi[..., None], axis=-1)[..., 0]
    out = v_lo + (v_hi - v_lo) * frac
    return np.where(n > 0, out, np.nan).astype(np.float32)


#: Pixels per chunk of :func:`nanquantile_last` (its work rows stay in the CPU cache).
_CHUNK_PX = 1 << 15

#: Bubble passes cost up to this many compare-exchanges per date before a sort is cheaper.
_MAX_EXCHANGES_PER_DATE = 12


def _rank_tables(n_t: int, q: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lower and upper rank and interpolation weight of quantile ``q`` by the number of clear
    dates 0…n_t (the arithmetic of :func:`_nanquantile_sorted`, once per count)."""
    n = np.arange(n_t + 1)
    pos = q * np.clip(n - 1, 0, None)
    lo = np.floor(pos).astype(np.intp)
    hi = np.minimum(lo + 1, np.clip(n - 1, 0, None))
    frac = (pos - lo).astype(np.float32)
    return lo, hi, frac


def _quantile_chunk(lanes: np.ndarray, tables: tuple[np.ndarray, ...], work: np.ndarray,
                    out: np.ndarray) -> None:
    """Quantile of each column of ``lanes`` (time, pixels) into ``out``; ``work`` (time + 1,
    ≥ pixels) is scratch."""
    n_t, n_px = lanes.shape
    lo_tab, hi_tab, frac_tab = tables
    count = np.int8 if n_t < 128 else np.intp  # a narrow sum is faster
    n = np.isfinite(lanes).view(np.int8).sum(axis=0, dtype=count)  # clear dates
    if int(n.min()) == n_t and _quantile_all_clear(lanes, tables, work, out):
        return
    n = n.astype(np.intp)
    lo, hi = lo_tab[n], hi_tab[n]
    # rank from the top among the non-NaN values (±inf, if any, count there but not in n)
    m = n_t - np.isnan(lanes).view(np.int8).sum(axis=0, dtype=count).astype(np.intp)
    top_lo = np.maximum(m - 1 - lo, 0)
    from_bottom, from_top = int(hi.max()) + 1, int(top_lo.max()) + 1
    passes = min(from_bottom, from_top)
    empty = n == 0
    if passes * (n_t - (passes + 1) / 2) > _MAX_EXCHANGES_PER_DATE * n_t:
        ordered = np.sort(lanes, axis=0)  # NaN sort last
        v_lo = np.take_along_axis(ordered, lo[None], axis=0)[0]
        v_hi = np.take_along_axis(ordered, hi[None], axis=0)[0]
    else:
        # NaN as +inf (sorting last, as in a sort) and the smallest first; or from the top:
        # NaN as −inf and the largest first
        buf = work[:, :n_px]
        rows = [buf[t] for t in range(n_t)]
        if from_bottom <= from_top:
            np.fmin(lanes, np.float32(np.inf), out=buf[:n_t])
            _bubble(rows, buf[n_t], passes, np.minimum, np.maximum)
            v_lo, v_hi = _pick(rows[:passes], lo), _pick(rows[:passes], hi)
        else:
            np.fmax(lanes, np.float32(-np.inf), out=buf[:n_t])
            _bubble(rows, buf[n_t], passes, np.maximum, np.minimum)
            v_lo = _pick(rows[:passes], top_lo)
            v_hi = _pick(rows[:passes], np.maximum(m - 1 - hi, 0))
        if empty.any():  # no clear date: a sort's first value (NaN, or ±inf), not a stand-in
            v_lo, v_hi = v_lo.copy(), v_hi.copy()
            v_lo[empty] = v_hi[empty] = np.fmin.reduce(lanes[:, empty], axis=0)
    # v_lo + (v_hi − v_lo) × frac, as _nanquantile_sorted (float32, the same rounding)
    np.subtract(v_hi, v_lo, out=out)
    np.multiply(out, frac_tab[n], out=out)
    np.add(out, v_lo, out=out)
    if empty.any():
        out[empty] = np.nan


def _quantile_all_clear(lanes: np.ndarray, tables: tuple[np.ndarray, ...], work: np.ndarray,
                        out: np.ndarray) -> bool:
    """:func:`_quantile_chunk` where every date is clear: the same two ranks everywhere, no
    per-pixel pick. False (nothing done) where a sort would be cheaper."""
    n_t, n_px = lanes.shape
    lo, hi = int(tables[0][n_t]), int(tables[1][n_t])
    from_top = n_t - 1 - lo < hi
    passes = n_t - lo if from_top else hi + 1
    if passes * (n_t - (passes + 1) / 2) > _MAX_EXCHANGES_PER_DATE * n_t:
        return False
    buf = work[:, :n_px]
    rows = [buf[t] for t in range(n_t)]
    np.copyto(buf[:n_t], lanes)
    if from_top:
        _bubble(rows, buf[n_t], passes, np.maximum, np.minimum)
        v_lo, v_hi = rows[n_t - 1 - lo], rows[n_t - 1 - hi]
    else:
        _bubble(rows, buf[n_t], passes, np.minimum, np.maximum)
        v_lo, v_hi = rows[lo], rows[hi]
    np.subtract(v_hi, v_lo, out=out)
    np.multiply(out, tables[2][n_t], out=out)
    np.add(out, v_lo, out=out)
    return True


def _bubble(rows: list[np.ndarray], spare: np.ndarray, passes: int, first, second) -> None:
    """Bubble passes over ``rows`` (1-d, no NaN): ``rows[:passes]`` become the ``first``-most
    (np.minimum: smallest; np.maximum: largest) values of each pixel in order. Rows are
    exchanged as references; ``spare`` is scratch."""
    n_t = len(rows)
    for i in range(min(passes, n_t - 1)):
        for j in range(n_t - 1, i, -1):
            low, high = rows[j - 1], rows[j]
            first(low, high, out=spare)
            second(low, high, out=high)
            rows[j - 1], spare = spare, low


def _pick(rows: list[np.ndarray], rank: np.ndarray) -> np.ndarray:
    """``rows[rank]`` per pixel."""
    out = rows[0]
    for k in range(1, min(len(rows), int(rank.max()) + 1)):
        out = np.where(rank == k, rows[k], out)
    return out


#: Rows per block of the per-pixel reductions over time (memory: their work copies and
#: running maxima are of one block, not of the whole grid).
_ROWS = 256


def _by_rows(func, arrays: tuple[np.ndarray, ...], *args: Any) -> np.ndarray:
    """``func(*arrays, *args)`` of per-pixel arrays (y, x, time) computed on blocks of rows:
    the same values, with the temporaries of one block at a time."""
    n = arrays[0].shape[0] if arrays[0].ndim >= 3 else 0
    if n <= _ROWS:
        return func(*arrays, *args)
    out = None
    for r0 in range(0, n, _ROWS):
        part = func(*(a[r0:r0 + _ROWS] for a in arrays), *args)
        if out is None:
            out = np.empty((n, *part.shape[1:]), part.dtype)
        out[r0:r0 + _ROWS] = part
    return out


def _nanquantile_time(a: np.ndarray, q: float) -> np.ndarray:
    return _by_rows(nanquantile_last, (a,), q)


def _nanmax_rows(a: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmax(a, axis=-1).astype(np.float32)


def _nanmax_time(a: np.ndarray) -> np.ndarray:
    return _by_rows(_nanmax_rows, (a,))


def over_time(cube: xr.DataArray, func, *args) -> xr.DataArray:
    """Apply ``func(array[..., time], *args)`` per pixel; dask: time rechunked to one chunk."""
    if isinstance(cube.data, da.Array):
        cube = cube.chunk({"time": -1})
    return xr.apply_ufunc(func, cube, *args, input_core_dims=[["time"]] + [[]] * len(args),
                          dask="parallelized", output_dtypes=[np.float32])


def quantile_time(cube: xr.DataArray, q: float) -> xr.DataArray:
    """NaN-aware quantile over ``time`` per pixel (NaN where no clear date)."""
    return over_time(cube, _nanquantile_time, q)


def max_time(cube: xr.DataArray) -> xr.DataArray:
    """NaN-aware maximum over ``time`` per pixel."""
    return over_time(cube, _nanmax_time)


def _first_cleared(veg: np.ndarray, bare: np.ndarray, veg_min: float, drop: float,
                   rise: float, bare_veg_max: float, bare_min: float) -> np.ndarray:
    """Index of the first date a pixel is cleared (−1 never); time is the last axis (blocks
    of rows: :func:`_first_cleared_rows`)."""
    return _by_rows(_first_cleared_rows, (veg, bare), veg_min, drop, rise, bare_veg_max,
                    bare_min)


def _first_cleared_rows(veg: np.ndarray, bare: np.ndarray, veg_min: float, drop: float,
                        rise: float, bare_veg_max: float, bare_min: float) -> np.ndarray:
    """Index of the first date a pixel is cleared (−1 never); time is the last axis.

    Cleared: bare, or changed against the running maximum NDVI / minimum BSI of the earlier
    clear dates (NaN skipped), an O(dates) stand-in for the quantile baseline. One date at a
    time (contiguous rows of the (time, y, x) cube), the running extremes updated in place and
    the first date counted as the dates before it (no masked writes)."""
    veg = np.asarray(veg, np.float32)
    bare = np.asarray(bare, np.float32)
    veg_t, bare_t = np.moveaxis(veg, -1, 0), np.moveaxis(bare, -1, 0)
    n_t = veg_t.shape[0]
    shape = veg.shape[:-1]
    if n_t == 0:
        return np.full(shape, -1, np.float32)
    todo = np.ones(shape, bool)  # not cleared yet
    dates_before = np.zeros(shape, np.int16)  # dates before the first cleared one
    cleared, test, changed = (np.empty(shape, bool) for _ in range(3))
    diff = np.empty(shape, np.float32)
    run_veg, run_bare = np.array(veg_t[0]), np.array(bare_t[0])  # of dates before t (≥ 1)
    with np.errstate(invalid="ignore"):
        for t in range(n_t):
            v, b = veg_t[t], bare_t[t]
            np.less_equal(v, bare_veg_max, out=cleared)
            cleared &= np.greater_equal(b, bare_min, out=test)
            if t > 0:
                np.greater_equal(run_veg, veg_min, out=changed)
                changed &= np.greater_equal(np.subtract(run_veg, v, out=diff), drop, out=test)
                changed &= np.greater_equal(np.subtract(b, run_bare, out=diff), rise,
                                            out=test)
                cleared |= changed
                np.fmax(run_veg, v, out=run_veg)
                np.fmin(run_bare, b, out=run_bare)
            cleared &= todo
            todo ^= cleared  # cleared ⊆ todo: todo &= ~cleared
            if t < n_t - 1:
                dates_before += todo
    dates_before -= todo * np.int16(n_t)  # never cleared: n_t − 1 − n_t = −1
    return dates_before.astype(np.float32)


def first_cleared_index(ix: Indices, cfg: ClearingConfig, upto: int | None = None
                        ) -> xr.DataArray:
    """(y, x) float32 index of the first cleared date, −1 where never (see ``_first_cleared``);
    with ``upto``, over the dates up to that index only (−1 where not cleared by then)."""
    veg, bare = ix.veg, ix.bare
    if upto is not None:
        veg, bare = veg.isel(time=slice(0, upto + 1)), bare.isel(time=slice(0, upto + 1))
    if isinstance(veg.data, da.Array):
        veg, bare = veg.chunk({"time": -1}), bare.chunk({"time": -1})
    return xr.apply_ufunc(
        _first_cleared, veg, bare, cfg.veg_min, cfg.min_ndvi_drop, cfg.min_bare_rise,
        cfg.bare_veg_max, cfg.bare_min,
        input_core_dims=[["time"], ["time"], [], [], [], [], []],
        dask="parallelized", output_dtypes=[np.float32])


# --------------------------------------------------------------------------------------------
# morphology (same function on numpy and, with overlap, on dask blocks)
# --------------------------------------------------------------------------------------------

def _disk(radius: int) -> np.ndarray:
    r = np.arange(-radius, radius + 1)
    return (r[:, None] ** 2 + r[None, :] ** 2) <= radius * radius


@functools.cache
def _disk_rows(radius: int) -> tuple[tuple[int, tuple[int, ...]], ...]:
    """The disk of :func:`_disk` as (half-width, row offsets of that half-width) pairs,
    narrowest first."""
    half = _disk(radius).sum(axis=1) // 2
    rows: dict[int, list[int]] = {}
    for dy, w in zip(range(-radius, radius + 1), half.tolist(), strict=True):
        rows.setdefault(int(w), []).append(dy)
    return tuple((w, tuple(dys)) for w, dys in sorted(rows.items()))


def _disk_filter(mask: np.ndarray, radius: int, border: bool, op) -> np.ndarray:
    """``op`` (logical and: erosion, or: dilation) of ``mask`` (2-d bool) over the disk of
    ``radius`` px around each pixel, outside the array counting as ``border``: row runs of
    growing half-width, each combined with the rows of the disk that have that half-width
    (as scipy.ndimage's binary erosion / dilation by the disk, a few array passes)."""
    h, w = mask.shape
    r = radius
    padded = np.pad(mask, r, constant_values=border)
    run = padded[:, r:r + w].copy()  # op over the row run [x − k, x + k] of padded rows
    out = None
    done = 0
    for width, offsets in _disk_rows(radius):
        for k in range(done + 1, width + 1):
            op(run, padded[:, r - k:r - k + w], out=run)
            op(run, padded[:, r + k:r + k + w], out=run)
        done = width
        for dy in offsets:
            part = run[r + dy:r + dy + h]
            if out is None:
                out = part.copy()
            else:
                op(out, part, out=out)
    return out


def _erode(mask: np.ndarray, radius: int, border: bool = False) -> np.ndarray:
    """``ndimage.binary_erosion(mask, structure=_disk(radius), border_value=border)``."""
    return _disk_filter(mask, radius, border, np.logical_and)


def _dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """``ndimage.binary_dilation(mask, structure=_disk(radius))``."""
    return _disk_filter(mask, radius, False, np.logical_or)


def _fill_small_holes(mask: np.ndarray, max_px: int) -> np.ndarray:
    """Fill background components of ≤ ``max_px`` pixels that don't touch the array border."""
    if max_px <= 0:
        return mask
    holes, n = ndimage.label(~mask)
    if n == 0:
        return mask
    sizes = np.bincount(holes.ravel(), minlength=n + 1)
    fill = sizes <= max_px
    fill[0] = False
    for edge in (holes[0], holes[-1], holes[:, 0], holes[:, -1]):
        fill[edge] = False
    if not fill.any():
        return mask.copy()
    return mask | fill[holes]


def clean_block(mask: np.ndarray, open_px: int, close_px: int, hole_px: int) -> np.ndarray:
    """Opening, closing, then small holes filled: the morphological cleaning of a mask."""
    out = np.asarray(mask, bool)
    if out.ndim != 2:  # the disk decomposition is 2-d
        return _clean_block_scipy(out, open_px, close_px, hole_px)
    if open_px > 0:
        out = _dilate(_erode(out, open_px), open_px)
    if close_px > 0:
        # pad so the closing does not erode at the array border
        padded = np.pad(out, close_px, mode="edge")
        out = _erode(_dilate(padded, close_px), close_px)[close_px:-close_px,
                                                           close_px:-close_px]
    return _fill_small_holes(out, hole_px)


def _clean_block_scipy(out: np.ndarray, open_px: int, close_px: int, hole_px: int
                       ) -> np.ndarray:
    if open_px > 0:
        out = ndimage.binary_opening(out, structure=_disk(open_px))
    if close_px > 0:
        padded = np.pad(out, close_px, mode="edge")
        out = ndimage.binary_closing(padded, structure=_disk(close_px))[close_px:-close_px,
                                                                         close_px:-close_px]
    return _fill_small_holes(out, hole_px)


def erode_block(mask: np.ndarray, radius: int) -> np.ndarray:
    """Binary erosion by a disk of ``radius`` px (outside the array counts as set)."""
    mask = np.asarray(mask, bool)
    if radius <= 0:
        return mask
    if mask.ndim != 2:
        return ndimage.binary_erosion(mask, structure=_disk(radius), border_value=1)
    return _erode(mask, radius, border=True)


def _call(func, args, block):
    return func(block, *args)


def local(func, array: xr.DataArray, depth: int, *args) -> xr.DataArray:
    """Apply a neighbourhood function of reach ``depth`` px to numpy or dask (overlap)."""
    if isinstance(array.data, da.Array):
        data = array.data.map_overlap(func if not args else
                                      functools.partial(_call, func, args), depth=depth,
                                      boundary="none", dtype=bool,
                                      meta=np.empty((0, 0), bool))
    else:
        data = func(np.asarray(array.values), *args)
    return array.copy(data=data)


def pixels(res: float, metres: float) -> int:
    """A distance in m as whole pixels (rounded)."""
    return round(metres / res)
