"""Shared fixtures. Every test runs in its own empty working directory with no costlab settings
from the developer's environment, so no test reads or writes a real ./costlab.duckdb or costlab.toml."""

from __future__ import annotations

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
