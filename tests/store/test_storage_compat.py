"""A store costlab creates opens in the DuckDB 1.x command-line client (the `duckdb` the README tells
people to install: `pip install duckdb-cli`, 1.5.x on the package registry), as the README says.

The client comes from the package registry once and is kept under .venv/ (or the session's temp
folder when there is no .venv); without a registry (no network) the tests skip, saying so.
"""

from __future__ import annotations

import fcntl
import re
import subprocess
import sys
from pathlib import Path

import pytest

from costlab.config import Config
from costlab.open import open_store
from costlab.store import connection

from helpers import ROOT

CLI_REQUIREMENT = "duckdb-cli==1.5.*"
README = ROOT / "README.md"


def _cli_in(folder: Path) -> Path:
    return folder / "duckdb_cli" / "duckdb"


@pytest.fixture(scope="session")
def duckdb_1x_cli(tmp_path_factory) -> Path:
    """The DuckDB 1.5.x CLI binary (PyPI's duckdb-cli), installed once with `pip install --target`."""
    base = ROOT / ".venv" if (ROOT / ".venv").is_dir() else tmp_path_factory.getbasetemp().parent
    folder = base / "duckdb-cli-1.5"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as lock:  # pytest-xdist workers: one installs, the others wait
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _cli_in(folder).exists():
            proc = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                                   "--no-deps", "--upgrade", "--target", str(folder), CLI_REQUIREMENT],
                                  capture_output=True, text=True, timeout=600)
            if proc.returncode or not _cli_in(folder).exists():
                last = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
                pytest.skip(f"cannot install {CLI_REQUIREMENT} from the package registry (no network?): {last}")
    version = subprocess.run([str(_cli_in(folder)), "--version"], capture_output=True, text=True, timeout=60).stdout
    assert version.startswith("v1."), version
    return _cli_in(folder)


def duckdb_cli(cli: Path, db: Path, *sql: str) -> subprocess.CompletedProcess:
    args = [str(cli), "-readonly", "-csv", str(db)]
    for statement in sql:
        args += ["-c", statement]
    return subprocess.run(args, capture_output=True, text=True, timeout=120)


@pytest.mark.slow  # installs the DuckDB 1.x client the first time
def test_a_store_costlab_creates_opens_in_the_duckdb_1x_cli(duckdb_1x_cli, tmp_path):
    from costlab.generate import generate_sql

    db = tmp_path / "costlab.duckdb"
    with open_store(db, Config()) as store:  # a new file, created, migrated and priced by costlab
        store.execute("insert into requests by name " + generate_sql(2000, seed=5))
        store.execute("checkpoint")
        expected = store.rows("select count(*), sum(cost_usd)::VARCHAR from costed_requests")[0]
    proc = duckdb_cli(duckdb_1x_cli, db, "select count(*) as n, sum(cost_usd) as usd from costed_requests",
                      "select tags['storage_version'] as v from duckdb_databases() where database_name = current_database()")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[:2] == ["n,usd", f"{expected[0]},{expected[1]}"]
    assert lines[2:] == ["v", f"{connection.STORAGE_VERSION}+"]
    # The README's session as written: `duckdb costlab.duckdb`, then its query at the D prompt.
    block = re.search(r"\$ pip install duckdb-cli.*?\n\$ (duckdb costlab\.duckdb).*?\nD (.*?)\n", README.read_text(encoding="utf-8"), re.S)
    assert block, "README: the DuckDB CLI example is missing"
    proc = subprocess.run([str(duckdb_1x_cli), *block.group(1).split()[1:]], input=block.group(2), cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "Error" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    assert "cost_usd" in proc.stdout and "haiku" in proc.stdout


@pytest.mark.slow
def test_a_store_in_duckdb_2_format_is_refused_by_the_1x_cli_and_converts_as_the_readme_says(duckdb_1x_cli, tmp_path,
                                                                                             monkeypatch):
    old, new = tmp_path / "costlab.duckdb", tmp_path / "costlab-v1.duckdb"
    monkeypatch.setattr(connection, "STORAGE_VERSION", None)  # as costlab wrote stores before
    open_store(old, Config()).close()
    refused = duckdb_cli(duckdb_1x_cli, old, "select 1")
    assert refused.returncode != 0 and "version number" in refused.stderr
    # The README's conversion, word for word (run from the store's folder).
    readme = README.read_text(encoding="utf-8")
    command = re.search(r"```sh\n(python -c .*?copy from database old to new.*?)\n```", readme, re.S)
    assert command, "README: the conversion command is missing"
    venv_python = str(Path(sys.executable))
    proc = subprocess.run(command.group(1).replace("python -c", f"{venv_python!r} -c", 1), shell=True, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    converted = duckdb_cli(duckdb_1x_cli, new, "select count(*) as n from prices where origin = 'builtin'")
    assert converted.returncode == 0, converted.stderr
    with open_store(new, Config(), read_only=True) as store:
        assert converted.stdout.splitlines() == ["n", str(store.scalar("select count(*) from prices where origin = 'builtin'"))]


def test_new_stores_are_written_in_the_storage_format_duckdb_1x_reads(tmp_path):
    with open_store(tmp_path / "s.duckdb", Config()) as store:
        tag = store.scalar("select tags['storage_version'] from duckdb_databases() where database_name = current_database()")
    assert connection.STORAGE_VERSION.startswith("v1.")
    assert tag == f"{connection.STORAGE_VERSION}+"
