"""Writing outputs safely: every file goes to a temporary name first, then is renamed."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
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
        Creating the folder or temporary file, writing inside the block or the final rename
        failed: disk full, permission denied, read-only file system, a parent that is a file.
        The message names ``path`` and the fix; the previous ``path``, if any, is untouched.
        Writes inside the block: an ``OSError`` (unless it names another file — an input read
        in the block keeps its own error), or any error (GDAL, pyogrio) whose text says the
        disk is full or raised while less than 1 MiB is free. Minewatch errors pass unchanged.

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
        raise _output_error(target, err, err.errno) from err
    tmp = Path(name)
    try:
        try:
            yield tmp
        except Exception as err:
            cause = None if isinstance(err, MinewatchError) else _write_errno(err, tmp, target)
            if cause is None:  # not a failure to write (e.g. a bad input read in the block)
                raise
            raise _output_error(target, err, cause) from err
        try:
            # mkstemp makes the file private (0600); give it the permissions of a plain
            # open(): 0666 less the umask, so outputs are readable like any other file.
            with contextlib.suppress(OSError):
                tmp.chmod(0o666 & ~_umask())
            tmp.replace(target)
        except OSError as err:
            raise _output_error(target, err, err.errno) from err
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def _umask() -> int:
    """The process umask; read from /proc where possible (setting it to probe is racy)."""
    with contextlib.suppress(OSError, ValueError, StopIteration):
        status = Path("/proc/self/status").read_text().splitlines()
        return int(next(line for line in status if line.startswith("Umask:")).split()[1], 8)
    current = os.umask(0o022)
    os.umask(current)
    return current


#: Free bytes below which a failed write is taken for a full disk.
_FULL_BYTES = 1 << 20
_DISK_FULL_TEXT = re.compile(r"no space left on device|errno 28\b|disk quota exceeded",
                             re.IGNORECASE)


def _write_errno(err: Exception, tmp: Path, target: Path) -> int | None:
    """The errno of a failure to write ``tmp``, or ``None`` when ``err`` is about something else.

    ``OSError``s carry it (unless they name another file: an input read inside the block);
    GDAL and pyogrio raise their own types whose text may say "No space left on device", or
    only "Write failed", so a (nearly) full disk is also checked directly.
    """
    if isinstance(err, OSError) and err.errno is not None:
        if err.filename is not None and Path(str(err.filename)) not in (tmp, target):
            return None
        return err.errno
    chain: list[BaseException] = [err]
    while chain[-1].__cause__ is not None or chain[-1].__context__ is not None:
        nxt = chain[-1].__cause__ or chain[-1].__context__
        if nxt is None or nxt in chain or len(chain) > 8:
            break
        chain.append(nxt)
    if any(_DISK_FULL_TEXT.search(str(e)) for e in chain):
        return errno.ENOSPC
    try:
        if shutil.disk_usage(target.parent).free < _FULL_BYTES:
            return errno.ENOSPC
    except OSError:
        pass
    return None


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


def _output_error(target: Path, err: BaseException, code: int | None) -> OutputError:
    """An :class:`OutputError` naming ``target``, the cause and the fix."""
    text = str(err).strip()
    detail = getattr(err, "strerror", None) or (text.splitlines()[0][:200] if text else
                                                  type(err).__name__)
    why = _REMEDIES.get(code or 0, detail)
    return OutputError(f"{target}: cannot write ({why}); earlier outputs are left as they "
                       f"were [{type(err).__name__}: {detail}].",
                       errno=code, filename=str(target))


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
