"""Helpers shared by the test modules (no tests, no fixtures: those are in conftest.py). Import them
with `from helpers import ...`; pytest puts tests/ on sys.path (rootdir-relative conftest)."""

from __future__ import annotations

import os
import re
import pty
import shutil
import subprocess
import sys
import threading
from datetime import datetime, timezone
from pathlib import Path

import typer
from typer.testing import CliRunner

from costlab import memory
from costlab.config import Config
from costlab.report import window
from costlab.open import open_store
from costlab.store import Store
# Request factories live in costlab.testing (re-exported here for the tests that import them from helpers).
from costlab.testing.factories import FEATURES, REQUEST_COLUMNS, insert_request, write_log  # noqa: F401
from costlab.testing.factories import insert_requests as inject  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
EXAMPLES = ROOT / "examples"


# -- stores ------------------------------------------------------------------------------------------
def build_template(path: Path) -> Path:
    """A migrated, priced store with the default Config() and no requests, checkpointed into one file
    (no .wal) so that a plain file copy of it is a complete store."""
    with open_store(path, Config()) as s:
        s.execute("checkpoint")
    assert not Path(str(path) + ".wal").exists()
    return path


def copy_store(template: Path, path: Path | str) -> Store:
    """A fresh store at `path` opened read-write with the default Config(): a copy of `template`
    (conftest's session `store_template`). Opening it migrates and refreshes as any open does, which on
    an up-to-date store finds nothing to load: the catalogue is not re-imported, the card not rebuilt."""
    shutil.copyfile(template, path)
    return open_store(path, Config())


# -- a terminal --------------------------------------------------------------------------------------
def run_on_terminal(cmd: list[str], *, cwd: Path | str | None = None, env: dict[str, str] | None = None,
                    timeout: float = 120) -> tuple[int, bytes, str]:
    """Run cmd with stderr on a pseudo-terminal (where progress bars draw) and stdout piped:
    (exit code, stdout, what the terminal got). The terminal is drained while the command runs, so a
    chatty bar never blocks on a full pty."""
    master, slave = pty.openpty()
    chunks: list[bytes] = []

    def read() -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:
                return
            if not data:
                return
            chunks.append(data)

    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=slave,
                            env={**os.environ, "TERM": "xterm", "COLUMNS": "100", **(env or {})})
    os.close(slave)
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    out, _ = proc.communicate(timeout=timeout)
    reader.join(timeout=10)
    os.close(master)
    return proc.returncode, out, b"".join(chunks).decode(errors="replace")


# -- replay: a small logged traffic with request bodies, and the replay command ----------------------
SECRET = "sk-ant-test-SECRET-cli-777"  # the API key the replay CLI tests set (conftest's `env`)


def ingest_log(store, tmp_path: Path, n: int = 30) -> None:
    from costlab.ingest import ingest_paths

    summary = ingest_paths(store, [str(write_log(tmp_path / "log.jsonl", n))])
    assert summary.total("rows_added") == n


def make_replay_app() -> typer.Typer:
    """A fresh app holding only `costlab replay` (cli.replay.register)."""
    from costlab.cli.replay import register

    app = typer.Typer(rich_markup_mode=None, pretty_exceptions_enable=False)

    @app.callback()
    def main() -> None:
        """costlab (test app)"""

    register(app)
    return app


def invoke(*args: str):
    """`costlab replay ARGS` through CliRunner on make_replay_app()."""
    return CliRunner().invoke(make_replay_app(), ["replay", *args])


# The same app as make_replay_app, as a script for a subprocess that a test kills.
KILL_SCRIPT = """
import sys, typer
from costlab.cli.replay import register
app = typer.Typer(rich_markup_mode=None, pretty_exceptions_enable=False)
@app.callback()
def main() -> None:
    pass
register(app)
app(sys.argv[1:])
"""


# -- signals: the scenario window and builder (test_signals.py) -----------------------------------
START = datetime(2026, 11, 2, tzinfo=timezone.utc)
END = datetime(2026, 11, 16, tzinfo=timezone.utc)  # the window's end: the day after the last request


# -- what-if: tiers, the replay tables, one request row (test_whatif*.py) -----------------------------
TIERS = {"haiku": "claude-haiku-5-5", "sonnet": "claude-sonnet-5-5", "opus": "claude-opus-5-5"}

# The m003_replay contract (owned by the replay migration); tests create the tables themselves.
REPLAY_DDL = """
create table if not exists replays(run VARCHAR, source VARCHAR, request_id VARCHAR, tier VARCHAR, model VARCHAR,
    status VARCHAR, started_at TIMESTAMPTZ, finished_at TIMESTAMPTZ, latency_ms DOUBLE, input_tokens BIGINT,
    output_tokens BIGINT, cache_read_tokens BIGINT, cache_write_5m_tokens BIGINT, cache_write_1h_tokens BIGINT,
    cost_usd DECIMAL(18,9), stop_reason VARCHAR, response_text VARCHAR, error_type VARCHAR, error_message VARCHAR,
    not_carried JSON, provider_request_id VARCHAR);
create table if not exists judgements(run VARCHAR, source VARCHAR, request_id VARCHAR, tier VARCHAR, judge VARCHAR,
    verdict VARCHAR, score DOUBLE, good BOOLEAN, order_consistent BOOLEAN, judge_cost_usd DECIMAL(18,9), details JSON);
"""

# -- reports --------------------------------------------------------------------------------------
W46 = window.resolve(week_label="2026-W46")


def judge_every_tier(store, n: int = 300) -> None:
    """Replay judgements for n requests of the week on every tier (haiku worst, opus best)."""
    store.execute(
        """insert into judgements (run, source, request_id, tier, judge, score, good)
           select 'r1', source, request_id, t.tier, 'rubric', t.q + (hash(request_id) % 10) / 100.0, t.q > 0.7
           from (select source, request_id from requests where ts >= $s and ts < $u order by request_id limit $n) r
           cross join (values ('haiku', 0.6), ('sonnet', 0.8), ('opus', 0.9)) t(tier, q)""",
        {"s": W46.since, "u": W46.until, "n": n})


# -- docs/schema.md against the live schema (test_docs_schema.py, test_replay_schema_doc.py) --------
DOC = Path(__file__).resolve().parent.parent / "docs" / "schema.md"
# DuckDB reports some types by their long name; the page uses the spelling people type.
TYPE_SPELLING = {"TIMESTAMP WITH TIME ZONE": "TIMESTAMPTZ", "TIMESTAMP WITHOUT TIME ZONE": "TIMESTAMP"}


def doc_sections() -> dict[str, list[tuple[str, str, str]]]:
    """{table: [(column, type, meaning), ...]} from each `## `name`` heading's Markdown table."""
    sections: dict[str, list[tuple[str, str, str]]] = {}
    current = None
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            m = re.match(r"## `(\w+)`", line)
            current = m.group(1) if m else None
            if current:
                sections[current] = []
        elif current and line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if cells[0] in ("column", "---") or set(cells[0]) <= {"-", ":"}:
                continue
            assert len(cells) == 3, f"docs/schema.md, {current}: expected | column | type | meaning |, got {line!r}"
            sections[current].append((cells[0], cells[1], cells[2]))
    return sections


def live_columns(store, name: str) -> list[tuple[str, str]]:
    """[(column, 'TYPE' or 'TYPE NOT NULL'), ...] as a fresh store has them."""
    rows = store.rows(
        "select column_name, data_type, is_nullable from duckdb_columns() "
        "where database_name = current_database() and schema_name = 'main' and table_name = ? order by column_index",
        [name],
    )
    return [(col, TYPE_SPELLING.get(t, t) + ("" if nullable else " NOT NULL")) for col, t, nullable in rows]


def documented(name: str) -> list[tuple[str, str]]:
    return [(col, typ) for col, typ, _ in doc_sections()[name]]


def one_command_app(register) -> "typer.Typer":
    """A typer app holding only the commands one costlab.cli module registers (its `register`)."""
    import typer

    app = typer.Typer(rich_markup_mode=None, pretty_exceptions_enable=False)
    register(app)

    @app.callback()
    def _root() -> None:
        pass

    return app


def costlab_on_store(root: Path, args: list[str], config: str = "", limit: str | None = None) -> subprocess.CompletedProcess:
    """`costlab ARGS --db ROOT/store.duckdb --config ROOT/costlab.toml` in its own process, with CONFIG as
    that costlab.toml and COSTLAB_MEMORY_LIMIT set to LIMIT (or unset); asserts it exits 0."""
    (root / "costlab.toml").write_text(config)
    env = {k: v for k, v in os.environ.items() if k != memory.ENV}
    if limit:
        env[memory.ENV] = limit
    result = subprocess.run([sys.executable, "-m", "costlab", *args, "--db", str(root / "store.duckdb"),
                             "--config", str(root / "costlab.toml")], capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    return result
