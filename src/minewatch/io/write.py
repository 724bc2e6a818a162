"""Writing outputs safely: every file goes to a temporary name first, then is renamed."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from os import PathLike
from pathlib import Path

import pandas as pd

__all__ = ["atomic_path", "write_table"]


@contextlib.contextmanager
def atomic_path(path: str | PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only on success.

    A crash or exception inside the block leaves no half-written ``path`` (and removes the
    temporary file). The rename is atomic on POSIX file systems.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "table.csv"
    >>> with atomic_path(target) as tmp:
    ...     _ = tmp.write_text("a,b\\n1,2\\n")
    >>> target.read_text()
    'a,b\\n1,2\\n'
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=target.suffix,
                                dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        tmp.replace(target)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_table(frame: pd.DataFrame, path: str | PathLike[str]) -> Path:
    """Write a table as CSV (or Parquet for ``.parquet``) atomically; geometry as WKT.

    Columns holding Python objects that are not plain values (e.g. ``scene`` records) are
    dropped.
    """
    out = pd.DataFrame(frame).copy()
    if "geometry" in out.columns:
        out["geometry"] = [g.wkt if g is not None else "" for g in out["geometry"]]
    for column in list(out.columns):
        if out[column].dtype == object and any(
            not isinstance(v, str | int | float | bool | type(None)) for v in out[column]
        ):
            out = out.drop(columns=column)
    target = Path(path)
    with atomic_path(target) as tmp:
        if target.suffix == ".parquet":
            out.to_parquet(tmp, index=False)
        else:
            out.to_csv(tmp, index=False)
    return target
