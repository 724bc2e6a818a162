"""Acquisition dates from metadata text and from file names."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from minewatch.errors import DateError
from minewatch.io._dates import date_from_name, parse_date


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2020-10-31", "2020-10-31"),
        ("2020-10-31T14:31:47.808Z", "2020-10-31T14:31:47.808"),
        ("2022-03-01T04:05:06+06:30", "2022-02-28T21:35:06"),
        ("2020:10:31 14:31:47", "2020-10-31T14:31:47"),
        ("20220301", "2022-03-01"),
        ("20220301T040539", "2022-03-01T04:05:39"),
        (dt.datetime(2021, 5, 6, tzinfo=dt.UTC), "2021-05-06"),
    ],
)
def test_parse_date_formats(text, expected):
    stamp = parse_date(text, source="test")
    assert stamp == pd.Timestamp(expected)
    assert stamp.tzinfo is None


@pytest.mark.parametrize("text", ["yesterday", "2022-13-45", "", "31/31/2020"])
def test_parse_date_errors_name_source_and_text(text):
    with pytest.raises(DateError, match=rf"B04.tif tag ACQUISITION_DATE.*{text!r}"):
        parse_date(text, source="B04.tif tag ACQUISITION_DATE")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("LC08_L2SP_001062_20201031_20201106_02_T2_SR_B4.TIF", "2020-10-31"),
        ("LC09_L2SP_131042_20220315_20220317_02_T1", "2022-03-15"),
        ("S2B_MSIL2A_20220305T040539_N0400_R047_T47RQL_20220305T072425.SAFE",
         "2022-03-05T04:05:39"),
        ("S2A_47RQL_20210110_0_L2A", "2021-01-10"),
        ("20220301_031512_1018_3B_AnalyticMS_SR_8b.tif", "2022-03-01T03:15:12"),
        ("kachin_2021-11-30.tif", "2021-11-30"),
        ("/some/folder/2019-02-03/B04.tif", None),  # only the last component
        ("tile_20221399_x.tif", None),  # month 13 is not a date
        ("run_12345678.tif", None),  # digits but not plausible
        ("B04.tif", None),
    ],
)
def test_date_from_name(name, expected):
    found = date_from_name(name)
    assert found == (pd.Timestamp(expected) if expected else None)


def test_date_from_name_skips_implausible_and_takes_the_next():
    assert date_from_name("v20221340_20220210.tif") == pd.Timestamp("2022-02-10")
    assert date_from_name("20220210_999999.tif") == pd.Timestamp("2022-02-10")  # bad time
