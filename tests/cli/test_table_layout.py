"""Tables for people (costlab.tables through costlab.frames and the report's terminal format): a
terminal gets a bounded number of rows and is told the total, a pipe gets every row, numbers are never
cut, cut labels stay distinct, wide results keep their labels on every block, money reads as money,
counts agree with their nouns."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from costlab import frames, tables
from costlab.display import markdown_text, plural
from costlab.report.formats import terminal

ROOT = Path(__file__).resolve().parents[2]
ARN = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-{}-v1:0"


def big_frame(rows: int = 100_000) -> pl.DataFrame:
    return pl.DataFrame({
        "request_id": [f"req_{i:07d}" for i in range(rows)],
        "input_tokens": list(range(rows)),
        "cost_usd": [Decimal(i) / 1000 for i in range(rows)],
    }, schema_overrides={"cost_usd": pl.Decimal(18, 9)})


def data_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("req_")]


# -- how many rows ---------------------------------------------------------------------------------
def test_a_table_on_a_terminal_shows_fifty_rows_of_100k_and_says_how_to_see_all(capsys):
    frames.write(big_frame(), "table", width=100, interactive=True)
    out, err = capsys.readouterr()
    assert len(data_lines(out)) == frames.DEFAULT_ROWS == 50
    assert out.rstrip().endswith("showing 50 of 100,000 rows; --limit N for more, --limit 0 or --format csv for all")
    assert err == ""


def test_limit_chooses_how_many_rows_and_zero_means_all(capsys):
    frames.write(big_frame(1000), "table", width=100, interactive=True, limit=7)
    out = capsys.readouterr().out
    assert len(data_lines(out)) == 7 and "showing 7 of 1,000 rows" in out
    frames.write(big_frame(1000), "table", width=100, interactive=True, limit=0)
    out = capsys.readouterr().out
    assert len(data_lines(out)) == 1000 and "showing" not in out
    # an explicit limit applies to the data formats too, without a note in the data
    frames.write(big_frame(1000), "csv", limit=3)
    assert capsys.readouterr().out.count("\n") == 4


def test_a_table_to_a_pipe_or_file_writes_all_100k_rows(capsys, tmp_path):
    df = big_frame()
    frames.write(df, "table", width=100, interactive=False)
    lines = data_lines(capsys.readouterr().out)
    assert len(lines) == 100_000
    assert lines[-1].split() == ["req_0099999", "99,999", "$100.00"]  # $99.999: cents at a dollar and above
    out = tmp_path / "t.txt"
    frames.write(df, "table", out=out)
    assert len(data_lines(out.read_text(encoding="utf-8"))) == 100_000


def new_store(db) -> None:
    """An empty store at `db`, created (and migrated) by a read-write open."""
    from costlab.open import open_store

    open_store(db).close()


def run_sql_on(tmp_path: Path, sql: str, *, terminal: bool) -> str:
    """`costlab sql` in a child process, its stdout a pseudo-terminal or a pipe: what it wrote."""
    new_store(tmp_path / "s.duckdb")  # `costlab sql` opens read-only: the store must exist
    cmd = [sys.executable, "-m", "costlab", "sql", "--db", str(tmp_path / "s.duckdb"), sql]
    env = {**os.environ, "COLUMNS": "100", "PYTHONPATH": str(ROOT)}
    if not terminal:
        return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, check=True).stdout
    master, slave = pty.openpty()
    proc = subprocess.Popen(cmd, stdout=slave, stderr=subprocess.PIPE, env=env)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    assert proc.wait(timeout=300) == 0, proc.stderr.read()
    os.close(master)
    return b"".join(chunks).decode().replace("\r\n", "\n")


def test_costlab_sql_on_a_terminal_is_bounded_and_through_a_pipe_complete(tmp_path):
    sql = "select 'req_' || lpad(range::varchar, 7, '0') request_id, range n from range(100000)"
    shown = run_sql_on(tmp_path, sql, terminal=True)
    assert len(data_lines(shown)) == 50 and "showing 50 of 100,000 rows" in shown
    piped = run_sql_on(tmp_path, sql, terminal=False)
    assert len(data_lines(piped)) == 100_000 and "showing" not in piped


def test_sql_limit_option_bounds_any_format(tmp_path):
    from typer.testing import CliRunner

    from costlab.cli import app

    db = str(tmp_path / "s.duckdb")
    new_store(db)
    result = CliRunner().invoke(app, ["sql", "--db", db, "--limit", "2", "--format", "csv", "select range n from range(10)"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["n", "0", "1"]
    result = CliRunner().invoke(app, ["sql", "--db", db, "--limit", "3", "select range n from range(10)"])
    assert result.exit_code == 0 and "showing 3 of 10 rows" in result.stdout


# -- never cut a number, never make two labels alike -----------------------------------------------
@pytest.mark.parametrize("width", [40, 80])
def test_numbers_are_never_cut_at_any_width(width):
    df = pl.DataFrame({
        "model": [ARN.format("3-7-sonnet-20250219"), ARN.format("3-5-haiku-20241022")],
        "requests": [123_456_789_012, 7],
        "cost_usd": [Decimal("1234567.41"), Decimal("0.0821")],
        "spend_share": [0.123456, 0.5],
    }, schema_overrides={"cost_usd": pl.Decimal(18, 9)})
    text = frames.to_text(df, "table", width=width)
    for number in ("123,456,789,012", "$1,234,567.41", "$0.0821", "0.1235", "0.5"):
        assert re.search(rf"(^|\s){re.escape(number)}(\s|$)", text, re.M), (number, text)
    assert not re.search(r"\d…|…\d", text)


def test_labels_are_cut_in_the_middle_keeping_their_distinctive_tail():
    arns = [ARN.format("3-7-sonnet-20250219"), ARN.format("3-5-haiku-20241022")]
    assert arns[0][:40] == arns[1][:40]  # a cut at 40 keeping the head would make them one
    shown = tables.cut(pl.Series(arns), 40).to_list()
    assert all(len(s) <= 40 and "…" in s for s in shown)
    assert shown[0] != shown[1] and shown[0].endswith("sonnet-20250219-v1:0")


def test_labels_alike_at_both_ends_are_widened_until_they_differ():
    values = ["a" * 30 + mid + "z" * 30 for mid in ("one", "two", "six")] + ["short"]
    shown = tables.cut(pl.Series(values), 20)
    assert shown.n_unique() == 4
    assert shown[-1] == "short"
    assert all("…" in s for s in shown.to_list()[:3])


def test_a_table_that_fits_cuts_nothing():
    df = pl.DataFrame({"scenario": ["haiku=70,sonnet=25,opus=5" * 3], "cost_usd": [Decimal("7.41")]})
    text = frames.to_text(df, "table", width=220)
    assert "haiku=70,sonnet=25,opus=5" * 3 in text and "…" not in text


# -- wide results ------------------------------------------------------------------------------------
def test_a_wide_frame_repeats_its_labels_on_every_block():
    df = pl.DataFrame({"scenario": ["proportional haiku=70,sonnet=25,opus=5", "current"]}
                      | {f"figure_{i}": [1_000_000 + i, 2] for i in range(6)})
    text = frames.to_text(df, "table", width=90)
    blocks = text.strip().split("\n\n")
    assert 1 < len(blocks) <= tables.MAX_BLOCKS
    for block in blocks:
        assert block.splitlines()[0].startswith("scenario")
        assert "proportional haiku=70,sonnet=25,opus=5" in block and "current" in block
    assert max(len(line) for line in text.splitlines()) <= 90


def test_a_frame_too_wide_for_a_few_blocks_is_one_record_per_block():
    df = pl.DataFrame({"n": [1, 2]} | {f"a_rather_long_column_name_{i}": [i, i] for i in range(12)})
    text = frames.to_text(df, "table", "Wide", width=80)
    records = text.split("-[ record ")
    assert text.startswith("Wide\n") and len(records) == 3
    for record in records[1:]:  # each record is whole: every column with its name
        assert all(f"a_rather_long_column_name_{i} " in record for i in range(12))
    assert max(len(line) for line in text.splitlines()) <= 80


# -- money, markdown, words ------------------------------------------------------------------------
def test_summary_style_money_reads_as_dollars_and_never_as_zero():
    assert tables.money_text("278.890247") == "$278.89"
    assert tables.money_text("0.000125") == "$0.000125"
    assert tables.money_text("0.000000001") == "$0.000000001"
    assert tables.money_text("-1234.5") == "-$1,234.50"


def test_the_report_shows_tiny_amounts_as_digits_not_scientific_notation():
    from costlab.report.formats.cells import fmt

    assert fmt("0.000012345", "usd") == "$0.0000123"
    assert fmt("7.41", "usd") == "$7.41" and fmt("0.0821", "usd") == "$0.0821"


def test_markdown_cells_are_escaped_as_every_markdown_writer_escapes():
    hostile = ["a|b", "<script>x</script>", "*x* _y_ `z` [l](u)", "back\\slash", "\x1b[31mred", "é 日本"]
    df = pl.DataFrame({"name": hostile})
    rows = frames.to_text(df, "markdown").splitlines()[2:]
    assert rows == [f"| {markdown_text(v)} |" for v in hostile]


def test_the_report_terminal_never_cuts_a_number_and_keeps_labels_whole_when_there_is_room():
    columns = [{"label": "Scenario", "kind": "text"}, {"label": "Cost", "kind": "usd"},
               {"label": "Low", "kind": "usd"}, {"label": "High", "kind": "usd"}]
    rows = [["haiku=70,sonnet=25,opus=5, a long scenario name", "$7.41", "$0.0821", "$1,234,567.89"]]
    wide = terminal.table_text(columns, rows, 220)
    assert "haiku=70,sonnet=25,opus=5, a long scenario name" in wide
    for width in (40, 80):
        text = terminal.table_text(columns, rows, width)
        for number in ("$7.41", "$0.0821", "$1,234,567.89"):
            assert re.search(rf"(^|\s){re.escape(number)}(\s|$)", text, re.M), (width, number, text)


def test_ingest_counts_one_file_and_one_row_in_the_singular(tmp_path):
    from typer.testing import CliRunner

    from costlab.cli import app
    from costlab.testing.factories import write_log

    log = write_log(tmp_path / "log.jsonl", 1)
    result = CliRunner().invoke(app, ["ingest", "--db", str(tmp_path / "s.duckdb"), str(log)])
    assert result.exit_code == 0, result.output
    assert "1 file: 1 row added, 0 already present, 0 rejected" in result.stderr


def test_counts_agree_with_their_nouns():
    assert plural(1, "file") == "1 file"
    assert plural(0, "file") == "0 files"
    assert plural(48_213, "row") == "48,213 rows"
    assert plural(2, "query", "queries") == "2 queries"
