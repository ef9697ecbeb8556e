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


# -- --format and --out on every command that prints rows ------------------------------------------
import re  # noqa: E402

import typer  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from costlab.cli import app  # noqa: E402
from costlab.report.tables import FORMATS as REPORT_TABLE_FORMATS  # noqa: E402

from helpers import FIXTURES  # noqa: E402

runner = CliRunner()

# Every command that prints rows, with the arguments that make it print them on the store below.
# `{fmt}` is the format's name (a run or import name that must be new each time).
PRINTS_ROWS: dict[tuple[str, ...], list[str]] = {
    ("summary",): [],
    ("sql",): ["select 1 as x, now() as ts"],
    ("signals",): [],
    ("budget",): ["--config", str(FIXTURES / "budget.toml")],
    ("reconcile",): [],
    ("compare",): ["--a", "model = 'claude-haiku-5-5'", "--b", "model = 'claude-opus-5-5'", "--since", "2026-11-16",
                   "--no-guardrails", "--resamples", "100"],
    ("report",): [],
    ("prices", "list"): [],
    ("prices", "show"): ["claude-sonnet-5-5"],
    ("prices", "check"): [],
    ("prices", "import"): [str(FIXTURES / "litellm_prices.json")],
    ("whatif",): ["--split", "current", "--resamples", "0"],
    ("whatif", "frontier"): ["--step", "50"],
    ("whatif", "backtest"): ["--train", "2026-11-16:2026-11-17", "--test", "2026-11-17:2026-12-31"],
    ("replay",): ["--sample", "1", "--tiers", "haiku", "--dry-run", "--run", "dry-{fmt}"],
    ("replay", "status"): [],
    ("replay", "results"): ["mmlu"],
    ("replay", "import"): [str(FIXTURES / "routellm" / "mmlu"), "--format", "routellm", "--map", "weak=haiku",
                           "--map", "strong=opus", "--name", "import-{fmt}"],
    ("route", "fit"): ["policy-{fmt}.json", "--eval", "mmlu", "--vocab", "0", "--folds", "2", "--resamples", "5"],
    ("route", "explain"): [str(FIXTURES / "route_policy.json")],
    ("route", "check"): [str(FIXTURES / "route_policy.json"), "--eval", "mmlu"],
}
# What prints rows but cannot run here: resume sends requests (to a server tests/cli/test_replay_cli.py starts).
PRINTS_ROWS_NOT_RUN = {("replay", "resume")}
# The commands that print no rows, and why.
NO_ROWS = {
    ("ingest",): "reads files; its --format names the input's format",
    ("generate",): "writes a log file; its --format names that file's format",
    ("export",): "writes the lake (Parquet files and a manifest) to DEST; its summary line goes to stderr",
    ("pull-usage",): "fetches reports into the store",
    ("alert",): "sends findings to the [[alerts]] destinations; what it writes is their messages (Slack, JSON, Markdown)",
    ("replay", "exclude"): "changes a run's standing",
    ("replay", "include"): "changes a run's standing",
    ("replay", "delete"): "deletes a run",
    ("route", "export"): "writes the policy file (JSON, a Python module or a LiteLLM config) to stdout or --out; --to names that",
}
# replay import's --format is the recorded outcomes' format (as ingest's); its output format is --output.
FORMAT_FLAG = {("replay", "import"): "--output"}


def commands(command=None, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], object]:
    """Every runnable command under the root: a group that runs by itself (whatif, replay) counts too."""
    command = command or typer.main.get_command(app)
    found = {}
    subs = getattr(command, "commands", None)
    if path and (subs is None or getattr(command, "invoke_without_command", False)):
        found[path] = command
    for name, sub in (subs or {}).items():
        found.update(commands(sub, (*path, name)))
    return found


def option(command, flag: str):
    return next((p for p in command.params if flag in getattr(p, "opts", ())), None)


def test_every_command_is_known_to_print_rows_or_not():
    known = set(PRINTS_ROWS) | PRINTS_ROWS_NOT_RUN | set(NO_ROWS)
    found = set(commands())
    assert found - known == set(), "a new command: add it to PRINTS_ROWS (with arguments) or NO_ROWS (with why)"
    assert known - found == set()


@pytest.mark.parametrize("path", sorted(set(PRINTS_ROWS) | PRINTS_ROWS_NOT_RUN), ids=" ".join)
def test_every_command_that_prints_rows_has_format_and_out_naming_every_format(path):
    command = commands()[path]
    fmt = option(command, FORMAT_FLAG.get(path, "--format"))
    out = option(command, "--out")
    assert fmt is not None and out is not None, f"costlab {' '.join(path)} lacks --format or --out"
    assert "-o" in out.opts
    listed = set(re.findall(r"[a-z]+", fmt.help or ""))
    assert set(frames.FORMATS) - {"table"} <= listed, (path, fmt.help)  # report says terminal (or table)
    assert "table" in listed


@pytest.fixture(scope="module")
def store_args(tmp_path_factory) -> list[str]:
    """A small store: logged requests with bodies, reported costs (langfuse), an imported judged run."""
    db = tmp_path_factory.mktemp("vocabulary") / "s.duckdb"
    args = ["--db", str(db)]
    r = runner.invoke(app, ["ingest", *args, str(FIXTURES / "ingest" / "envelope.jsonl"),
                            str(FIXTURES / "ingest" / "batch_results.jsonl"),
                            str(FIXTURES / "sources" / "langfuse_observations.jsonl")])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["replay", "import", str(FIXTURES / "routellm" / "mmlu"), "--format", "routellm",
                            "--map", "weak=haiku", "--map", "strong=opus", "--name", "mmlu", *args])
    assert r.exit_code == 0, r.output
    return args


def check_written(path, fmt: str) -> None:
    """`path` holds a readable answer in `fmt` (jsonl of no rows is empty: one line per row)."""
    assert path.exists() and (path.stat().st_size > 0 or fmt == "jsonl"), path
    if fmt == "parquet":
        pl.read_parquet(path)
    elif fmt == "csv":
        assert pl.read_csv(path).width > 0
    elif fmt == "json":
        json.loads(path.read_text(encoding="utf-8"))
    elif fmt == "jsonl":
        for line in path.read_text(encoding="utf-8").splitlines():
            json.loads(line)


@pytest.mark.parametrize("fmt", list(frames.FORMATS))
@pytest.mark.parametrize("path", list(PRINTS_ROWS), ids=" ".join)
def test_every_command_that_prints_rows_writes_every_format_to_out(path, fmt, store_args, tmp_path):
    tables_to_folder = path == ("report",) and fmt in REPORT_TABLE_FORMATS
    target = tmp_path / ("tables" if tables_to_folder else f"answer.{fmt}")
    args = [a.format(fmt=fmt) for a in PRINTS_ROWS[path]]
    r = runner.invoke(app, [*path, *args, FORMAT_FLAG.get(path, "--format"), fmt, "--out", str(target), *store_args])
    assert r.exit_code in (0, 5), r.output  # 5: reconcile flags a row, as it should here
    assert r.stdout == "", "with --out the data goes to the file, stdout stays empty"
    if tables_to_folder:
        check_written(target / f"tables.{fmt}", fmt)
        assert len(list(target.glob(f"*.{fmt}"))) > 5
    else:
        check_written(target, fmt)


@pytest.mark.parametrize("path", [p for p in PRINTS_ROWS if p != ("report",)], ids=" ".join)
def test_parquet_without_out_is_refused_before_any_work(path, store_args):
    args = [a.format(fmt="refused") for a in PRINTS_ROWS[path]]
    r = runner.invoke(app, [*path, *args, FORMAT_FLAG.get(path, "--format"), "parquet", *store_args])
    assert r.exit_code == 2 and "--out" in r.stderr and r.stdout == "", r.output
