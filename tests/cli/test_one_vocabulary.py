"""Issue 16, "formats and options, one vocabulary": the same timestamps in every data format, and
--format/--out on every command that prints rows."""

from __future__ import annotations

import io
import json
from datetime import datetime, timedelta, timezone

import polars as pl
import pytest

from costlab import frames

UTC = timezone.utc


def stamps(*values: datetime, tz: str | None = "UTC") -> pl.DataFrame:
    return pl.DataFrame({"ts": list(values)}, schema={"ts": pl.Datetime("us", tz)})


def written(df: pl.DataFrame, fmt: str) -> list[str]:
    """The ts values as the format wrote them."""
    text = frames.to_text(df, fmt)
    if fmt == "csv":
        return pl.read_csv(io.StringIO(text), schema={"ts": pl.String})["ts"].to_list()
    if fmt == "json":
        return [r["ts"] for r in json.loads(text)]
    return [json.loads(line)["ts"] for line in text.splitlines()]


@pytest.mark.parametrize("fmt", ["csv", "json", "jsonl"])
def test_timestamps_are_iso_8601_with_a_colon_offset_in_every_data_format(fmt):
    whole = stamps(datetime(2026, 11, 16, 9, tzinfo=UTC), datetime(2026, 11, 17, 23, 30, tzinfo=UTC))
    assert written(whole, fmt) == ["2026-11-16T09:00:00+00:00", "2026-11-17T23:30:00+00:00"]
    # a fraction of a second anywhere in the column: microseconds on every value of it, not only that one
    fraction = stamps(datetime(2026, 11, 16, 9, tzinfo=UTC), datetime(2026, 11, 16, 9, 0, 0, 1500, tzinfo=UTC))
    assert written(fraction, fmt) == ["2026-11-16T09:00:00.000000+00:00", "2026-11-16T09:00:00.001500+00:00"]


def test_csv_json_and_jsonl_write_the_same_timestamp_text():
    df = stamps(datetime(2026, 11, 16, 9, 0, 0, 123, tzinfo=UTC), None)
    assert written(df, "csv") == written(df, "json") == written(df, "jsonl") == ["2026-11-16T09:00:00.000123+00:00", None]


def test_timestamps_in_another_zone_carry_that_zone_s_offset():
    df = stamps(datetime(2026, 11, 15, 23, 30, tzinfo=UTC)).with_columns(pl.col("ts").dt.convert_time_zone("Europe/Berlin"))
    assert written(df, "csv") == written(df, "json") == ["2026-11-16T00:30:00+01:00"]
    naive = stamps(datetime(2026, 11, 16, 9), tz=None)
    assert written(naive, "csv") == written(naive, "json") == ["2026-11-16T09:00:00"]


def test_iso_timestamps_read_back_as_the_same_instants():
    df = stamps(datetime(2026, 11, 16, 9, tzinfo=UTC), datetime(2026, 11, 16, 9, 0, 0, 5, tzinfo=UTC) + timedelta(days=1))
    back = pl.read_csv(io.StringIO(frames.to_text(df, "csv")), schema={"ts": pl.Datetime("us", "UTC")})
    assert back["ts"].to_list() == df["ts"].to_list()
