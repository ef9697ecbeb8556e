"""Helpers shared by the test modules (no tests, no fixtures: those are in conftest.py). Import them
with `from helpers import ...`; pytest puts tests/ on sys.path (rootdir-relative conftest)."""

from __future__ import annotations

import json
import os
import pty
import shutil
import subprocess
import threading
from datetime import datetime, timezone
from pathlib import Path

import typer
from typer.testing import CliRunner

from costlab.config import Config
from costlab.store import Store

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
EXAMPLES = ROOT / "examples"


# -- stores ------------------------------------------------------------------------------------------
def build_template(path: Path) -> Path:
    """A migrated, priced store with the default Config() and no requests, checkpointed into one file
    (no .wal) so that a plain file copy of it is a complete store."""
    with Store(path, Config()) as s:
        s.execute("checkpoint")
    assert not Path(str(path) + ".wal").exists()
    return path


def copy_store(template: Path, path: Path | str) -> Store:
    """A fresh store at `path` opened read-write with the default Config(): a copy of `template`
    (conftest's session `store_template`). Opening it migrates and refreshes as any open does, which on
    an up-to-date store finds nothing to load: the catalogue is not re-imported, the card not rebuilt."""
    shutil.copyfile(template, path)
    return Store(path, Config())


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
    """A fresh app holding only `costlab replay` (commands.replay.register)."""
    from costlab.commands.replay import register

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
from costlab.commands.replay import register
app = typer.Typer(rich_markup_mode=None, pretty_exceptions_enable=False)
@app.callback()
def main() -> None:
    pass
register(app)
app(sys.argv[1:])
"""
