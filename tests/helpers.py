"""Helpers shared by the test modules (no tests, no fixtures: those are in conftest.py). Import them
with `from helpers import ...`; pytest puts tests/ on sys.path (rootdir-relative conftest)."""

from __future__ import annotations

import json
import os
import re
import pty
import shutil
import subprocess
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import typer
from typer.testing import CliRunner

from costlab.config import Config
from costlab.report import window
from costlab.schema import COLUMN_NAMES
from costlab.open import open_store
from costlab.store import Store

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
FEATURES = {
    "chat": ("claude-sonnet-5-5", "Explain item {i} of the release notes in two sentences."),
    "extract": ("claude-haiku-5-5", "Reply with JSON: extract the order number from message {i}."),
    "triage": ("claude-haiku-5-5", "Classify the sentiment of ticket {i}: positive or negative."),
}
SECRET = "sk-ant-test-SECRET-cli-777"  # the API key the replay CLI tests set (conftest's `env`)


def write_log(path: Path, n: int = 30) -> Path:
    """n logged requests (Anthropic envelope format), features chat/extract/triage in turn."""
    lines = []
    for i in range(n):
        feature = list(FEATURES)[i % 3]
        model, prompt = FEATURES[feature]
        text = prompt.format(i=i)
        answer = {"chat": f"Item {i} of the release notes, explained in two sentences. detail detail", "extract": json.dumps({"order": i}),
                  "triage": "positive"}[feature]
        request = {"model": model, "max_tokens": 64, "messages": [{"role": "user", "content": text}],
                   "temperature": 0.2}
        lines.append(json.dumps({
            "timestamp": f"2026-11-1{i % 5}T10:{i % 60:02d}:00Z", "request_id": f"req_{i:04d}", "platform": "anthropic",
            "request": request,
            "response": {"id": f"msg_{i:04d}", "type": "message", "role": "assistant", "model": model,
                         "content": [{"type": "text", "text": answer}], "stop_reason": "end_turn",
                         "usage": {"input_tokens": 30, "output_tokens": 12}},
            "error": None, "status_code": 200, "latency_ms": 500.0,
            "metadata": {"feature": feature, "user_id": f"u{i}"},
        }))
    path.write_text("\n".join(lines) + "\n")
    return path


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


def inject(store: Store, n: int, start: datetime, end: datetime, **columns: str) -> None:
    """Insert `n` requests spread evenly over [start, end); each keyword is a SQL expression in `i`
    (the row number, 0..n-1) for that canonical column. Unset columns get an ordinary ok request."""
    defaults = {
        "request_id": "'inj_' || i",
        "ts": "$start + to_microseconds(((i + 0.5) * $span / $n)::BIGINT)",
        "platform": "'anthropic'", "model": "'claude-sonnet-5-5'", "service_tier": "'standard'",
        "speed": "'standard'", "inference_geo": "'global'",
        "input_tokens": "1000", "output_tokens": "100", "cache_read_tokens": "0",
        "cache_write_5m_tokens": "0", "cache_write_1h_tokens": "0",
        "web_search_requests": "0", "web_fetch_requests": "0", "latency_ms": "1500.0", "ttft_ms": "400.0",
        "status": "'ok'", "error_type": "null", "http_status": "200", "stop_reason": "'end_turn'",
        "feature": "'injected'", "user_id": "'inj_user_' || (i % 50)", "customer_id": "'inj-customer'",
        "session_id": "'inj_s_' || (i // 5)", "trace_id": "'inj_t_' || i", "parent_request_id": "null",
        "attempt": "1", "feedback_score": "null", "reported_cost_usd": "null", "source": "'scenario'",
        "ingest_id": "null", "attributes": "null",
    }
    unknown = set(columns) - set(defaults)
    assert not unknown, unknown
    defaults.update(columns)
    select = ", ".join(f"{defaults[c]} as {c}" for c in COLUMN_NAMES)
    span_us = int((end - start).total_seconds() * 1e6)
    store.execute(f"insert into requests by name select {select} from range({n}) t(i)",
                  {"start": start, "span": span_us, "n": n})


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

REQUEST_COLUMNS = ("request_id", "ts", "source", "platform", "model", "service_tier", "inference_geo", "speed",
                   "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens",
                   "status", "feature")


def insert_request(store, request_id: str, model: str, ts: str = "2026-11-10 12:00:00", **cols: Any) -> None:
    """One ok request row (1,000 input and 200 output tokens, feature f) into `requests`; keywords set other
    values of REQUEST_COLUMNS."""
    row = {"request_id": request_id, "ts": ts, "source": "test", "platform": "anthropic", "model": model,
           "service_tier": "standard", "inference_geo": None, "speed": "standard", "input_tokens": 1000,
           "output_tokens": 200, "cache_read_tokens": 0, "cache_write_5m_tokens": 0, "cache_write_1h_tokens": 0,
           "status": "ok", "feature": "f", **cols}
    store.execute(f"insert into requests ({', '.join(REQUEST_COLUMNS)}) values ({', '.join('?' for _ in REQUEST_COLUMNS)})",
                  [row[c] for c in REQUEST_COLUMNS])


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
