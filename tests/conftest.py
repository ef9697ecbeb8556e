"""Shared fixtures. Every test runs in its own empty working directory with no costlab settings
from the developer's environment, so no test reads or writes a real ./costlab.duckdb or costlab.toml."""

from __future__ import annotations

import os
import pty
import subprocess
import threading
from pathlib import Path

import pytest

from costlab.config import Config
from costlab.store import Store

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
EXAMPLES = ROOT / "examples"


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    for var in ("COSTLAB_DB", "COSTLAB_CONFIG", "COSTLAB_DEBUG", "ANTHROPIC_API_KEY", "ANTHROPIC_ADMIN_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("TZ", "UTC")
    monkeypatch.setenv("COLUMNS", "100")


@pytest.fixture
def store(tmp_path):
    """A fresh, migrated store file with the built-in catalogue and no requests."""
    s = Store(tmp_path / "test.duckdb", Config())
    yield s
    s.close()


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
