"""Acquisition dates from metadata text and from file or folder names."""

from __future__ import annotations

import datetime as dt
import re
from os import PathLike

import pandas as pd

from minewatch.errors import DateError

__all__ = ["check_not_future", "date_from_name", "parse_date"]

_TIFF_DATETIME = re.compile(r"^\s*(\d{4}):(\d{2}):(\d{2})([ T].*)?$")
_COMPACT = re.compile(r"^\s*(\d{8})(?:[T_ ]?(\d{6}))?(?:\.\d+)?Z?\s*$")

# A date in a name: YYYYMMDD or YYYY-MM-DD (same separator twice), optionally followed by a
# time THHMMSS / _HHMMSS (Planet) / THH:MM:SS. Not part of a longer digit run.
_NAME_DATE = re.compile(
    r"(?<![0-9])(?P<y>(?:19|20)\d{2})(?P<sep>-?)(?P<m>\d{2})(?P=sep)(?P<d>\d{2})"
    r"(?:(?:T|_)(?P<H>\d{2}):?(?P<M>\d{2}):?(?P<S>\d{2})(?![0-9]))?(?![0-9])"
)
# Oldest date a satellite image in this project can have (Landsat 1).
_EARLIEST = pd.Timestamp("1972-07-23")
#: How far past "now" (UTC) an acquisition may lie: time zones and clock skew, nothing more.
FUTURE_SLACK = pd.Timedelta(days=1)


def parse_date(text: object, *, source: str) -> pd.Timestamp:
    """Parse an acquisition date from metadata, as a tz-naive UTC timestamp.

    Parameters
    ----------
    text
        ISO-8601 (``2022-03-01``, ``2022-03-01T04:05:06.5Z``, with any UTC offset), TIFF
        ``YYYY:MM:DD HH:MM:SS``, compact ``YYYYMMDD`` / ``YYYYMMDDTHHMMSS``, or a
        ``datetime``/``Timestamp``.
    source
        Where the text came from (file and tag), named in the error message.

    Returns
    -------
    pandas.Timestamp
        UTC, without time zone.

    Raises
    ------
    DateError
        The text is not a date, or the date is more than a day in the future (the message
        names ``source`` and the text).

    Examples
    --------
    >>> parse_date("2020:10:31 14:31:47", source="B04.tif TIFFTAG_DATETIME")
    Timestamp('2020-10-31 14:31:47')
    >>> parse_date("2022-03-01T04:05:06+06:30", source="item.json")
    Timestamp('2022-02-28 21:35:06')
    """
    if isinstance(text, dt.datetime | pd.Timestamp):
        stamp = pd.Timestamp(text)
    else:
        raw = str(text).strip().strip('"')
        value = raw
        tiff = _TIFF_DATETIME.match(raw)
        compact = _COMPACT.match(raw)
        if tiff:
            value = f"{tiff.group(1)}-{tiff.group(2)}-{tiff.group(3)}{tiff.group(4) or ''}"
        elif compact:
            value = compact.group(1) + (f"T{compact.group(2)}" if compact.group(2) else "")
        try:
            stamp = pd.Timestamp(value)
        except (ValueError, TypeError, OverflowError) as err:
            raise DateError(
                f"{source}: cannot read the date {raw!r}; write it as ISO-8601 "
                "(YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ) or TIFF 'YYYY:MM:DD HH:MM:SS'."
            ) from err
        if stamp is pd.NaT or pd.isna(stamp):
            raise DateError(f"{source}: the date {raw!r} is empty; write it as YYYY-MM-DD.")
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return check_not_future(stamp, source=source)



def check_not_future(stamp: pd.Timestamp, *, source: str) -> pd.Timestamp:
    """Return ``stamp`` (tz-naive UTC), or raise :class:`DateError` when it is in the future.

    An image cannot be acquired after today: a future date means wrong metadata or a wrong
    clock, and it would put a scene at the end of every time series.

    Examples
    --------
    >>> check_not_future(pd.Timestamp("2021-01-01"), source="item.json")
    Timestamp('2021-01-01 00:00:00')
    >>> check_not_future(pd.Timestamp("2999-01-01"), source="item.json")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    minewatch.errors.DateError: item.json: the acquisition date 2999-01-01 is in the future ...
    """
    now = pd.Timestamp.now(tz="UTC").tz_localize(None)
    if stamp > now + FUTURE_SLACK:
        raise DateError(
            f"{source}: the acquisition date {stamp.isoformat().replace('T00:00:00', '')} is "
            f"in the future (now is {now:%Y-%m-%d %H:%M} UTC); fix the metadata or the "
            "computer's clock."
        )
    return stamp


def date_from_name(name: str | PathLike[str]) -> pd.Timestamp | None:
    """The first plausible acquisition date written in a file or folder name.

    Finds ``YYYYMMDD``, ``YYYY-MM-DD`` and ``YYYYMMDDTHHMMSS`` (also Planet's
    ``YYYYMMDD_HHMMSS``), checks month and day, and returns the first valid one (dates before
    1972-07-23 or after tomorrow are not acquisition dates and are passed over): in Landsat
    names (``LC08_L2SP_PPPRRR_<acquired>_<processed>_02_T1``) and ``.SAFE`` names
    (``S2A_MSIL2A_<sensing>_N0400_R..._<generated>``) the acquisition date comes first.
    Only the last path component is searched.

    Parameters
    ----------
    name
        A file or folder name (or path).

    Returns
    -------
    pandas.Timestamp or None
        The date (with time when the name has one), ``None`` when no plausible date is found.

    Examples
    --------
    >>> date_from_name("LC08_L2SP_001062_20201031_20201106_02_T2_SR_B4.TIF")
    Timestamp('2020-10-31 00:00:00')
    >>> date_from_name("20220301_031512_1018_3B_AnalyticMS_SR.tif")
    Timestamp('2022-03-01 03:15:12')
    >>> date_from_name("notes.tif") is None
    True
    """
    text = str(name).replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
    for found in _NAME_DATE.finditer(text):
        try:
            day = pd.Timestamp(int(found["y"]), int(found["m"]), int(found["d"]))
        except ValueError:
            continue
        if day < _EARLIEST or day > pd.Timestamp.now(tz="UTC").tz_localize(None) + FUTURE_SLACK:
            continue
        if found["H"] is not None:
            h, m, s = int(found["H"]), int(found["M"]), int(found["S"])
            if h < 24 and m < 60 and s < 60:
                return day + pd.Timedelta(hours=h, minutes=m, seconds=s)
        return day
    return None
