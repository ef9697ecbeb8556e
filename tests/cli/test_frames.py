"""frames.py: every format writes what it claims, data formats parse back to the same values with
money exact, parquet needs a file, the table fits 100 columns, and nothing goes to stderr."""

from __future__ import annotations

import io
import json
from datetime import date, datetime, timezone
from decimal import Decimal

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from costlab import frames
from costlab.errors import ConfigError
from costlab.frames import Format

UTC = timezone.utc
SCHEMA = {
    "model": pl.String,
    "day": pl.Date,
    "ts": pl.Datetime("us", "UTC"),
    "requests": pl.Int64,
    "cost_usd": pl.Decimal(18, 6),
    "error_rate": pl.Float64,
    "priced": pl.Boolean,
}


@pytest.fixture
def df() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "model": ["claude-sonnet-5-5", "odd | name", None],
            "day": [date(2026, 11, 16), None, date(2026, 11, 18)],
            "ts": [datetime(2026, 11, 16, 9, tzinfo=UTC), datetime(2026, 11, 17, 9, 30, 0, 123, tzinfo=UTC), None],
            "requests": [1234567, 3, None],
            # the largest DECIMAL(18,6) magnitude and the smallest step: neither survives a float
            "cost_usd": [Decimal("123456789012.123456"), Decimal("0.000001"), None],
            "error_rate": [0.25, None, 1 / 3],
            "priced": [True, False, None],
        },
        schema=SCHEMA,
    )


def wide_frame(rows: int = 4) -> pl.DataFrame:
    data: dict[str, list] = {
        "day": [date(2026, 11, 16 + i % 3) for i in range(rows)],
        "model": ["claude-3-7-sonnet-20250219"] * rows,
    }
    for name in ("requests", "errors", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens"):
        data[name] = [1_234_567_890 + i for i in range(rows)]
    for name in ("cost_usd", "cache_read_usd", "cache_read_at_input_usd", "read_savings_usd", "net_savings_usd"):
        data[name] = [Decimal("98765.432101") + i for i in range(rows)]
    data["unpriced_requests"] = [0] * rows
    return pl.DataFrame(data, schema_overrides={n: pl.Decimal(18, 6) for n in data if n.endswith("_usd")})


# -- data formats round-trip ---------------------------------------------------------------------
def test_csv_round_trips_with_money_exact(df):
    text = frames.to_text(df, Format.csv)
    assert "123456789012.123456" in text and "0.000001" in text
    back = pl.read_csv(io.StringIO(text), schema=SCHEMA)
    assert back.schema == df.schema
    assert_frame_equal(back, df)


def test_json_is_records_with_decimals_as_exact_strings(df):
    records = json.loads(frames.to_text(df, Format.json))
    assert isinstance(records, list) and len(records) == 3
    assert list(records[0]) == df.columns
    assert records[0]["cost_usd"] == "123456789012.123456"
    assert records[1]["cost_usd"] == "0.000001"
    assert records[2]["cost_usd"] is None
    assert records[0]["requests"] == 1234567 and records[0]["error_rate"] == 0.25
    assert records[0]["ts"] == "2026-11-16T09:00:00.000000+00:00" and records[0]["day"] == "2026-11-16"
    assert [Decimal(r["cost_usd"]) if r["cost_usd"] else None for r in records] == df["cost_usd"].to_list()


@pytest.mark.parametrize("fmt", [Format.json, Format.jsonl])
def test_json_formats_parse_back_to_the_same_frame(df, fmt):
    text = frames.to_text(df, fmt)
    reader = pl.read_json if fmt is Format.json else pl.read_ndjson
    back = reader(io.StringIO(text), schema={**SCHEMA, "cost_usd": pl.String})
    back = back.with_columns(pl.col("cost_usd").cast(pl.Decimal(18, 6)))
    assert back.schema == df.schema
    assert_frame_equal(back, df)


def test_jsonl_is_one_object_per_line(df):
    lines = frames.to_text(df, Format.jsonl).splitlines()
    assert len(lines) == 3
    assert [json.loads(line)["model"] for line in lines] == ["claude-sonnet-5-5", "odd | name", None]


def test_parquet_round_trips_exactly(df, tmp_path):
    out = tmp_path / "nested" / "frame.parquet"
    frames.write(df, Format.parquet, out=out)
    back = pl.read_parquet(out)
    assert back.schema == df.schema
    assert_frame_equal(back, df)


@pytest.mark.parametrize("out", [None, "-"])
def test_parquet_without_a_file_is_a_config_error(df, out, capsys):
    with pytest.raises(ConfigError, match="--out"):
        frames.write(df, Format.parquet, out=out)
    assert capsys.readouterr() == ("", "")


def test_parquet_is_not_text(df):
    with pytest.raises(ConfigError):
        frames.to_text(df, Format.parquet)


def test_empty_frames(df):
    empty = df.clear()
    assert json.loads(frames.to_text(empty, Format.json)) == []
    assert frames.to_text(empty, Format.jsonl) == ""
    assert frames.to_text(empty, Format.csv).strip() == ",".join(df.columns)
    assert "(no rows)" in frames.to_text(empty, Format.table)


# -- stdout, files, stderr ------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", [f for f in Format if f is not Format.parquet])
def test_stdout_gets_the_data_and_stderr_nothing(df, fmt, capsys):
    frames.write(df, fmt, title="Cost")
    captured = capsys.readouterr()
    assert captured.err == ""
    assert captured.out == frames.to_text(df, fmt, "Cost", width=100)


@pytest.mark.parametrize("fmt", [f for f in Format if f is not Format.parquet])
def test_out_writes_the_same_text_to_a_file(df, fmt, tmp_path, capsys):
    out = tmp_path / f"frame.{fmt.value}"
    frames.write(df, fmt, out=out, title="Cost")
    assert out.read_text(encoding="utf-8") == frames.to_text(df, fmt, "Cost", width=100)
    assert capsys.readouterr() == ("", "")


def test_title_never_enters_data_formats(df):
    for fmt in (Format.csv, Format.json, Format.jsonl):
        assert "My title" not in frames.to_text(df, fmt, "My title")
    assert "My title" in frames.to_text(df, Format.table, "My title")
    assert frames.to_text(df, Format.markdown, "My title").startswith("### My title\n")


def test_format_names_are_accepted_and_misspellings_suggested(df):
    assert frames.as_format("CSV") is Format.csv
    with pytest.raises(ConfigError, match="Did you mean 'json'"):
        frames.to_text(df, "jsno")


# -- reading formats ------------------------------------------------------------------------------
def test_table_shows_values_for_reading(df):
    text = frames.to_text(df, Format.table, width=100)
    assert "$123,456,789,012.12" in text and "$0.000001" in text  # cost_usd is money: never a nonzero as $0.00
    assert "1,234,567" in text
    assert "2026-11-16 09:00:00" in text
    assert "—" in text  # NULL is visible, not an empty cell or a zero
    assert "odd | name" in text


def test_table_decimals_that_are_not_money_use_the_fewest_decimals_that_stay_exact():
    frame = pl.DataFrame(
        {"a": [Decimal("12.5"), Decimal("3")], "b": [Decimal("0.000375"), Decimal("1")], "c": [Decimal("0.123456789"), None]},
        schema={"a": pl.Decimal(18, 6), "b": pl.Decimal(18, 6), "c": pl.Decimal(18, 9)},
    )
    cells = frames.display_columns(frame)
    assert cells["a"] == ["12.50", "3.00"]
    assert cells["b"] == ["0.000375", "1.000000"]
    assert cells["c"] == ["0.123457", "—"]  # nine places are rounded to 6 for reading


def test_table_money_shows_dollars_cents_and_three_significant_digits_below_a_dollar():
    values = ["1234.5", "7.41", "0.0821", "0.000125", "0.5", "0.000000001", "0", "-3.5", "12.345"]
    frame = pl.DataFrame({"cost_usd": [Decimal(v) for v in values] + [None]}, schema={"cost_usd": pl.Decimal(18, 9)})
    assert frames.display_columns(frame)["cost_usd"] == [
        "$1,234.50", "$7.41", "$0.0821", "$0.000125", "$0.50", "$0.000000001", "$0.00", "-$3.50", "$12.35", "—"]
    # money by name (usd, cost, spend, price), or because the caller says so; a multiplier is not money
    frame = pl.DataFrame({"spend": [Decimal("2")], "price_multiplier": [Decimal("2")], "x": [Decimal("2")]},
                         schema={n: pl.Decimal(18, 6) for n in ("spend", "price_multiplier", "x")})
    assert frames.display_columns(frame) == {"spend": ["$2.00"], "price_multiplier": ["2.00"], "x": ["2.00"]}
    assert frames.display_columns(frame, money={"x"})["x"] == ["$2.00"]
    # the data formats keep every digit
    assert frames.to_text(frame, Format.csv).splitlines()[1] == "2.000000,2.000000,2.000000"


@pytest.mark.parametrize("width", [100, 80])
def test_wide_table_fits_the_width_and_keeps_every_column(width):
    frame = wide_frame()
    text = frames.to_text(frame, Format.table, "Wide", width=width)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= width
    for name in frame.columns:
        assert name in text
    # too many columns for a few labelled blocks: one record per block, each with its labels
    records = text.split("-[ record ")[1:]
    assert len(records) == 4
    assert all("model                   | claude-3-7-sonnet-20250219" in r for r in records)
    assert "$98,765.43" in text


def test_table_on_stdout_fits_the_terminal_width(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    frames.write(wide_frame(), Format.table)
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= 100


def test_long_text_is_cut_not_wrapped():
    frame = pl.DataFrame({"reason": ["x" * 300], "n": [1]})
    lines = frames.to_text(frame, Format.table, width=100).splitlines()
    assert max(len(line) for line in lines) <= 100
    assert len(lines) == 3 and "…" in lines[2]


def test_markdown_is_a_pipe_table(df):
    lines = frames.to_text(df, Format.markdown).splitlines()
    # headers escaped as every Markdown value is (costlab.display.markdown_text): cost\_usd renders as cost_usd
    assert lines[0] == "| model | day | ts | requests | cost\\_usd | error\\_rate | priced |"
    assert lines[1] == "|---|---|---|---:|---:|---:|---|"
    assert len(lines) == 2 + df.height
    assert "odd \\| name" in lines[3]
    cells = [c.strip() for c in lines[2].strip("|").split(" | ")]
    assert cells[3] == "1,234,567" and cells[4] == "$123,456,789,012.12"


# -- one vocabulary --------------------------------------------------------------------------------
def test_every_command_option_that_lists_table_formats_names_the_registry():
    """--format/--output help is written out (the CLI does not import polars to start), so this keeps
    it equal to frames.FORMATS: options with a --out name every format, the others every text format."""
    import re

    import typer

    from costlab.cli import app

    checked = []

    def walk(command, path):
        for param in command.params:
            text = getattr(param, "help", None) or ""
            listed = re.search(r"\btable(?:, [a-z]+)+(?:,? or [a-z]+)?", text)
            if listed:
                names = re.split(r", or |, | or ", listed.group(0))
                expected = list(frames.FORMATS) if "parquet" in text else frames.text_formats()
                assert sorted(names) == sorted(expected), (path, param.opts, text)
                checked.append(path)
        for name, sub in (getattr(command, "commands", None) or {}).items():
            walk(sub, f"{path} {name}")

    walk(typer.main.get_command(app), "costlab")
    assert {"costlab sql", "costlab summary", "costlab signals", "costlab replay import"} <= set(checked)


def test_the_registry_is_the_one_list_of_formats():
    assert [f.value for f in Format] == list(frames.FORMATS)
    assert frames.text_formats() == [name for name in frames.FORMATS if name != "parquet"]
    for name, writer in frames.FORMATS.items():
        assert callable(writer.write), name
    with pytest.raises(ConfigError, match="Choose one of: table, csv, json, jsonl, parquet, markdown"):
        frames.as_format("xml")


def test_sections_are_titled_tables_for_people_and_one_long_frame_for_programs(df):
    sections = {"a": df.head(1), "b": df.tail(1)}
    long = pl.concat([df.head(1), df.tail(1)])
    text = frames.sections_to_text(sections, "table", long=long, titles={"a": "First"}, width=100)
    assert text == frames.to_text(df.head(1), "table", "First", width=100) + "\n" + frames.to_text(df.tail(1), "table", "b", width=100)
    assert frames.sections_to_text(sections, "csv", long=long) == frames.to_text(long, "csv")
