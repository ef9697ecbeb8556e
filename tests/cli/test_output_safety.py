"""Data never becomes markup or control sequences in anything costlab writes for a person.

A log is untrusted: its model, feature, user, error message and CSV header can carry rich markup
(`[/red]`, `[bold]x[/bold]`), emoji codes (`:x:`), terminal escape sequences (ANSI colours, an OSC-8
hyperlink, a BEL, C1 controls, a bidi override) and HTML (`<script>`). Every command that prints for a
person must show such text literally (control characters in their escaped form, `\\x1b`), never crash
on it, and never let it become a tag in Markdown or HTML. CSV and JSON keep the data as it is.
"""

from __future__ import annotations

import json
import re
from datetime import date, timedelta

import polars as pl
import pytest
from typer.testing import CliRunner

from costlab.cli import app
from costlab.errors import ConfigError

runner = CliRunner()

SCRIPT = "<script>alert(1)</script>"
ANSI = "\x1b[31mred\x1b[0m"
OSC8 = "\x1b]8;;http://e.x/\x07ln\x1b]8;;\x07"
# Short enough to survive the table's 40-character cut, in their visible form.
MODEL = "m" + SCRIPT + ":x:\x1b[1m"       # unknown to the catalogue: an unpriced finding names it
FEATURE = "[bold]x[/bold][/red]\u202e"
USER = "u" + ANSI + "\x07"
CUSTOMER = OSC8
ERROR_TYPE = "[/red]\x9b2J_error"
ERROR_MESSAGE = SCRIPT + " :x: " + ANSI + " [/red]"
HEADER = "h[/red]:x:\x1b[31m<script>"
RAW = ("\x1b", "\x07", "\x9b", "\u202e")  # bytes that must never reach a terminal from data


def envelope(i: int, **over) -> dict:
    row = {
        "timestamp": f"2026-11-{10 + i % 5:02d}T09:{i % 60:02d}:00Z",
        "request_id": f"req_{i}",
        "request": {"model": "claude-haiku-4-5", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]},
        "response": {"id": f"msg_{i}", "type": "message", "model": "claude-haiku-4-5", "content": [],
                     "stop_reason": "end_turn", "usage": {"input_tokens": 1000, "output_tokens": 50}},
        "error": None, "status_code": 200, "latency_ms": 500,
        "metadata": {"feature": FEATURE, "user_id": USER, "customer_id": CUSTOMER},
    }
    row.update(over)
    return row


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """A store with hostile text in every person-facing field, and the files it came from (built
    once: the tests only read it)."""
    tmp_path = tmp_path_factory.mktemp("hostile")
    rows = [envelope(i) for i in range(30)]
    for i in range(30, 40):  # an unknown model: unpriced, so the data-quality signal names it
        r = envelope(i)
        r["request"]["model"] = r["response"]["model"] = MODEL
        rows.append(r)
    for i in range(40, 45):  # failed calls whose error type and message are hostile
        rows.append(envelope(i, response=None, status_code=400,
                             error={"type": "error", "error": {"type": ERROR_TYPE, "message": ERROR_MESSAGE}}))
    log = tmp_path / "hostile.jsonl"
    log.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    csv = tmp_path / "hostile.csv"
    csv.write_text(f"request_id,ts,model,input_tokens,output_tokens,feature,{HEADER}\n"
                   f"c1,2026-11-12 08:00:00,claude-haiku-4-5,10,1,{FEATURE},v\n"
                   f"c2,2026-11-12 08:00:00,claude-haiku-4-5,7{ANSI}[/red],1,{FEATURE},v\n", encoding="utf-8")
    db = tmp_path / "hostile.duckdb"
    result = run("ingest", "--db", db, log, csv)
    assert result.exit_code == 0, result.stderr
    return {"db": db, "log": log, "csv": csv, "ingest": result}


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def assert_shown_literally(text: str) -> None:
    """No raw control byte from the data, and each control character shown in its escaped form."""
    for ch in RAW:
        assert ch not in text, f"raw {ch!r} reached the output: {text!r}"


def assert_no_raw_html(text: str) -> None:
    assert "<script>" not in text and "</script>" not in text


# -- the helpers -----------------------------------------------------------------------------------
def test_visible_escapes_every_terminal_control_and_keeps_text():
    from costlab import display

    assert display.visible("a\x1b[31mb\x07c\x9bd\u202ee\x00f\x7fg") == "a\\x1b[31mb\\x07c\\x9bd\\u202ee\\x00f\\x7fg"
    assert display.visible("line one\n\tline two") == "line one\n\tline two"
    assert display.visible("plain [/red] :x: <b> é 日本") == "plain [/red] :x: <b> é 日本"
    assert display.visible("\r") == "\\r"


def test_the_console_prints_markup_and_emoji_codes_literally_and_no_control_bytes():
    import io

    from costlab import display

    out = io.StringIO()
    console = display.console(file=out, width=200)
    console.print("add a [mappings.NAME] section [/red] :x: " + ANSI, markup=True, emoji=True)
    text = out.getvalue()
    assert "add a [mappings.NAME] section [/red] :x: \\x1b[31mred\\x1b[0m" in text
    assert_shown_literally(text)


def test_the_console_keeps_costlab_styling_while_data_stays_plain():
    import io

    from costlab import display

    out = io.StringIO()
    console = display.console(file=out, width=200, force_terminal=True, color_system="standard")
    console.print(display.styled("✗", "red"), "[/red]" + ANSI)
    text = out.getvalue()
    assert "\x1b[31m✗" in text  # costlab's own red: the one escape sequence here is rich's
    assert "[/red]\\x1b[31mred\\x1b[0m" in text
    assert text.count("\x1b") == 2  # the colour on and off around ✗, nothing from the data


def test_markdown_escaping_is_one_function_for_every_writer():
    from costlab import display

    from costlab import frames
    from costlab.report.formats import markdown as report_markdown

    md = display.markdown_text(SCRIPT + " | *x* [l](http://e.x) `c` " + ANSI)
    assert "\\<script\\>alert(1)\\</script\\>" in md and "\\|" in md and "\\[l\\]" in md and "\\`c\\`" in md
    assert_no_raw_html(md)
    assert_shown_literally(md)
    assert report_markdown._md is display.markdown_text
    frame = pl.DataFrame({"model": [SCRIPT], SCRIPT: [1]})
    text = frames.to_text(frame, "markdown")
    assert_no_raw_html(text)
    assert "\\<script\\>alert(1)\\</script\\>" in text


def test_code_spans_are_never_closed_by_the_data():
    from costlab import display

    assert display.markdown_code("a`b") == "``a`b``"
    assert display.markdown_code("plain") == "`plain`"


def test_chart_json_cannot_close_a_script_element():
    from costlab import display

    text = json.dumps({"label": "</script><script>alert(1)</script>\u2028"}, cls=display.ScriptSafeJSON)
    assert "<" not in text and ">" not in text and "\u2028" not in text
    assert json.loads(text)["label"] == "</script><script>alert(1)</script>\u2028"


# -- ingest ----------------------------------------------------------------------------------------
def test_an_unreadable_first_line_with_markup_is_reported_not_a_crash(tmp_path):
    bad = tmp_path / "notes.txt"
    bad.write_text("note [/red] :x: " + ANSI + " [bold]x[/bold]\nmore\n", encoding="utf-8")
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps(envelope(1)) + "\n", encoding="utf-8")
    result = run("ingest", "--db", tmp_path / "s.duckdb", good, bad)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 1
    # The first line is quoted as a short excerpt (files.excerpt), escaped, never as markup.
    assert "note [/red] :x: \\x1b[31mred\\x1b[0m [bold]x[/bo" in result.stderr
    assert_shown_literally(result.stderr)
    assert "1 row added" in result.stderr


def test_the_mappings_hint_survives_in_the_message_a_user_sees(tmp_path):
    bad = tmp_path / "own.csv"
    bad.write_text("when,tokens\n2026-11-12,3\n", encoding="utf-8")
    result = run("ingest", "--db", tmp_path / "s.duckdb", bad)
    assert result.exit_code == 1
    assert "add a [mappings.NAME] section to costlab.toml" in result.stderr
    assert "through a [mappings.NAME] column mapping" in result.stderr


def test_an_unknown_mapping_name_with_brackets_and_escapes_is_shown_literally(tmp_path, hostile):
    result = run("ingest", "--db", tmp_path / "s.duckdb", "--format", "mapping:a[x]" + ANSI, hostile["log"])
    assert result.exit_code == 2
    assert "no [mappings.a[x]\\x1b[31mred\\x1b[0m] in costlab.toml" in result.stderr
    assert_shown_literally(result.stderr)


def test_ingest_summary_shows_a_hostile_file_name_literally(tmp_path, hostile):
    named = tmp_path / "h\x1b]8;;e.x\x07:x:.jsonl"
    named.write_bytes(hostile["log"].read_bytes())
    for again in (False, True):
        result = run("ingest", "--db", tmp_path / "s.duckdb", named)
        assert result.exit_code == 0, result.stderr
        assert_shown_literally(result.stderr)
        assert "h\\x1b]8;;e.x\\x07:x:.jsonl" in result.stderr
        assert ("already ingested" in result.stderr) == again
    assert_shown_literally(hostile["ingest"].stderr)


def test_an_error_message_from_duckdb_carrying_data_is_shown_literally(hostile):
    result = run("sql", "--db", hostile["db"], f"select '{ANSI}[/red]'::INTEGER")
    assert result.exit_code == 1
    assert "\\x1b[31mred\\x1b[0m[/red]" in result.stderr
    assert_shown_literally(result.stderr)


def test_config_errors_raised_by_the_library_are_shown_literally():
    ex = ConfigError("no [mappings." + ANSI + "]")
    assert str(ex) == "no [mappings.\\x1b[31mred\\x1b[0m]"


# -- reading formats -------------------------------------------------------------------------------
def test_summary_table_and_markdown_are_literal(hostile):
    table = run("summary", "--db", hostile["db"])
    assert table.exit_code == 0, table.stderr
    assert_shown_literally(table.stdout + table.stderr)
    assert "[bold]x[/bold][/red]\\u202e" in table.stdout and "m<script>alert(1)</script>:x:\\x1b[1m" in table.stdout
    md = run("summary", "--db", hostile["db"], "--format", "markdown")
    assert md.exit_code == 0, md.stderr
    assert_shown_literally(md.stdout)
    assert_no_raw_html(md.stdout)
    assert "m\\<script\\>alert(1)\\</script\\>:x:\\\\x1b\\[1m" in md.stdout


def test_data_formats_keep_the_data_as_it_is(hostile):
    result = run("sql", "--db", hostile["db"], "select distinct model, feature, user_id from requests order by all",
                 "--format", "json")
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert {r["model"] for r in rows} >= {MODEL} and {r["feature"] for r in rows} == {FEATURE}
    assert {r["user_id"] for r in rows} >= {USER}
    csv = run("sql", "--db", hostile["db"], "select distinct user_id from requests where user_id is not null",
              "--format", "csv")
    assert USER in csv.stdout


def test_sql_table_output_shows_a_hostile_csv_header_and_values_literally(hostile):
    path = str(hostile["csv"]).replace("'", "''")
    result = run("sql", "--db", hostile["db"], f"select * from read_csv('{path}', all_varchar=true)")
    assert result.exit_code == 0, result.stderr
    assert_shown_literally(result.stdout + result.stderr)
    assert "h[/red]:x:\\x1b[31m<script>" in result.stdout
    assert "7\\x1b[31mred\\x1b[0m[/red]" in result.stdout
    md = run("sql", "--db", hostile["db"], f"select * from read_csv('{path}', all_varchar=true)", "--format", "markdown")
    assert_no_raw_html(md.stdout)
    assert_shown_literally(md.stdout)


def test_signals_text_and_markdown_are_literal(hostile):
    # until after today, so the window holds the ingest that rejected the hostile CSV row
    until = (date.today() + timedelta(days=2)).isoformat()
    text = run("signals", "--db", hostile["db"], "--since", "2026-11-01", "--until", until)
    assert text.exit_code == 0, text.stderr
    out = text.stdout + text.stderr
    assert_shown_literally(out)
    assert "add a price for m<script>alert(1)</script>:x:\\x1b[1m" in text.stdout
    md = run("signals", "--db", hostile["db"], "--since", "2026-11-01", "--until", until, "--format", "markdown")
    assert md.exit_code == 0, md.stderr
    assert_shown_literally(md.stdout)
    assert_no_raw_html(md.stdout)
    assert "m\\<script\\>alert(1)\\</script\\>:x:\\\\x1b\\[1m" in md.stdout
    # the evidence of the rejected CSV row carries its bad value
    assert "7\\\\x1b\\[31mred\\\\x1b\\[0m\\[/red\\]" in md.stdout


def test_report_terminal_and_markdown_are_literal(hostile):
    args = ("report", "--db", hostile["db"], "--since", "2026-11-10", "--until", "2026-11-17")
    term = run(*args)
    assert term.exit_code == 0, term.stderr
    assert_shown_literally(term.stdout + term.stderr)
    assert "[bold]x[/bold][/red]" in term.stdout
    md = run(*args, "--format", "markdown")
    assert md.exit_code == 0, md.stderr
    assert_shown_literally(md.stdout)
    assert_no_raw_html(md.stdout)


def test_whatif_with_hostile_tier_and_feature_names_is_literal(hostile, tmp_path):
    tiers = "h" + ANSI + "[/red]=claude-haiku-4-5,s:x:=claude-sonnet-4-5"
    result = run("whatif", "--db", hostile["db"], "--split", "current", "--resamples", "0",
                 "--tiers", tiers, "--batch", FEATURE, "--chart", tmp_path / "c.html")
    assert result.exit_code == 0, result.stderr
    assert_shown_literally(result.stdout + result.stderr)
    assert "h\\x1b[31mred\\x1b[0m[/red]_share" in result.stdout
    page = (tmp_path / "c.html").read_text(encoding="utf-8")
    assert "</script><script>" not in page


def test_whatif_chart_html_cannot_be_closed_by_a_scenario_label(hostile, tmp_path):
    tier = "x</script><script>alert(1)</script>"
    chart = tmp_path / "c.html"
    result = run("whatif", "--db", hostile["db"], "--split", "current", "--split", f"{tier}=100", "--resamples", "0",
                 "--tiers", f"{tier}=claude-haiku-4-5", "--chart", chart)
    assert result.exit_code == 0, result.stderr
    page = chart.read_text(encoding="utf-8")
    assert "alert(1)" in page and "<script>alert(1)" not in page
    # the label is still the same value for the chart: only its JSON spelling changed
    assert "x\\u003c/script\\u003e\\u003cscript\\u003ealert(1)" in page
    frontier = tmp_path / "f.html"
    result = run("whatif", "frontier", "--db", hostile["db"], "--step", "50", "--policy", "proportional",
                 "--tiers", f"{tier}=claude-haiku-4-5,s=claude-sonnet-4-5", "--chart", frontier)
    assert result.exit_code == 0, result.stderr
    page = frontier.read_text(encoding="utf-8")
    assert "alert(1)" in page and "<script>alert(1)" not in page


def test_progress_descriptions_are_shown_literally(monkeypatch):
    import io

    from costlab import display, progress

    out = io.StringIO()
    monkeypatch.setattr(progress, "stderr", display.console(file=out, force_terminal=True, width=100))
    with progress.rows_bar(10, "replay [/red]" + ANSI, enabled=True) as advance:
        advance(5)
    text = out.getvalue()
    assert "replay [/red]\\x1b[31m" in text
    assert "\x1b[31mred" not in text
