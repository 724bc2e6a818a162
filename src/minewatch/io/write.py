"""Writing outputs safely: every file goes to a temporary name first, then is renamed."""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from os import PathLike
from pathlib import Path

import pandas as pd

from minewatch.errors import MinewatchError, OutputError

__all__ = ["atomic_path", "write_table"]


@contextlib.contextmanager
def atomic_path(path: str | PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only on success.

    A crash or exception inside the block leaves no half-written ``path`` (and removes the
    temporary file). The rename is atomic on POSIX file systems.

    Raises
    ------
    OutputError
        Creating the folder or temporary file, writing inside the block (any ``OSError`` that
        is not a minewatch error) or the final rename failed: disk full, permission denied,
        read-only file system, a parent that is a file. The message names ``path`` and the fix;
        the previous ``path``, if any, is untouched.

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
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=target.suffix,
                                    dir=target.parent)
        os.close(fd)
    except OSError as err:
        raise _output_error(target, err) from err
    tmp = Path(name)
    try:
        yield tmp
        tmp.replace(target)
    except OSError as err:
        if isinstance(err, MinewatchError):  # e.g. TileReadError of an input read in the block
            raise
        raise _output_error(target, err) from err
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


_REMEDIES = {
    errno.ENOSPC: "no space left on the device — free some space or write elsewhere",
    errno.EDQUOT: "disk quota exceeded — free some space or write elsewhere",
    errno.EACCES: "permission denied — choose a folder you can write to",
    errno.EPERM: "operation not permitted — choose a folder you can write to",
    errno.EROFS: "read-only file system — choose a writable folder",
    errno.ENOTDIR: "a parent of the path is a file, not a folder — fix the output path",
    errno.EEXIST: "a parent of the path is a file, not a folder — fix the output path",
    errno.EISDIR: "the path is a folder — remove it or pick another file name",
}


def _output_error(target: Path, err: OSError) -> OutputError:
    """An :class:`OutputError` naming ``target``, the cause and the fix."""
    why = _REMEDIES.get(err.errno or 0, err.strerror or str(err) or type(err).__name__)
    return OutputError(f"{target}: cannot write ({why}); earlier outputs are left as they "
                       f"were [{type(err).__name__}: {err.strerror or err}].",
                       errno=err.errno, filename=str(target))


def write_table(frame: pd.DataFrame, path: str | PathLike[str]) -> Path:
    """Write a table as CSV (or Parquet for ``.parquet``) atomically; geometry as WKT.

    Columns holding Python objects that are not plain values (e.g. ``scene`` records) are
    dropped.

    Raises
    ------
    OutputError
        The file cannot be written (disk full, permission denied); an existing ``path`` is left
        as it was and no temporary file remains.
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
