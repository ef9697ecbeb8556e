"""Running out of memory (issue 12, should-fix): under DuckDB's memory_limit or an address-space limit
(ulimit -v) ingest, report and signals end with one `Error:` line that names memory_limit, exit 1,
no traceback, and the store opens afterwards with the same counts."""

from __future__ import annotations

import os
import resource
import subprocess
import sys

import duckdb
import pytest

from costlab import memory
from costlab.config import Config
from costlab.errors import ConfigError, OutOfMemoryError
from costlab.generate import generate, generate_sql
from costlab.report.build import memory_limit
from costlab.open import open_store

COMMANDS = {
    "ingest": ["ingest", "{log}"],
    "report": ["report", "--since", "2026-11-09", "--until", "2026-11-16"],
    "signals": ["signals"],
}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A store of 20,000 generated requests and a 5,000-request log not yet in it."""
    root = tmp_path_factory.mktemp("memory")
    with open_store(root / "store.duckdb", Config()) as s:
        s.execute("insert into requests by name " + generate_sql(20_000, seed=11, start="2026-11-02", days=14))
    generate(root / "more.jsonl", 5_000, seed=12, start="2026-11-02", days=14)
    return root


def counts(path) -> tuple:
    with open_store(path, Config()) as s:
        return s.rows("select (select count(*) from requests), (select count(*) from ingests), "
                      "(select count(*) from rejects), (select sum(cost_usd) from requests)")[0]


def costlab(args: list[str], env: dict[str, str] | None = None, address_space: int | None = None):
    def limit() -> None:
        if address_space:
            resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))

    clean = {k: v for k, v in os.environ.items() if k not in (memory.ENV, "OPENBLAS_NUM_THREADS", "COSTLAB_DEBUG")}
    return subprocess.run([sys.executable, "-m", "costlab", *args], capture_output=True, text=True, timeout=120,
                          env={**clean, **(env or {})}, preexec_fn=limit)


def assert_clear_out_of_memory(result) -> None:
    assert result.returncode == 1, (result.returncode, result.stderr[-2000:])
    assert "Traceback" not in result.stderr and "OpenBLAS" not in result.stderr, result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and "out of memory" in errors[0] and "memory_limit" in errors[0], result.stderr
    assert "Nothing from the unfinished step was written" in errors[0]


def store_and_command(files, tmp_path, command: str):
    """A copy of the shared store (its path and counts) and the command's arguments."""
    db = tmp_path / "s.duckdb"
    db.write_bytes((files / "store.duckdb").read_bytes())
    return db, counts(db), [a.replace("{log}", str(files / "more.jsonl")) for a in COMMANDS[command]]


@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_tight_duckdb_memory_limit_is_one_clear_error_and_leaves_the_store_as_it_was(files, tmp_path, command):
    db, before, args = store_and_command(files, tmp_path, command)
    result = costlab([*args, "--db", str(db)], env={memory.ENV: "12MB"})
    assert_clear_out_of_memory(result)
    assert f"{memory.ENV}=4GB" in result.stderr and "(now COSTLAB_MEMORY_LIMIT=12MB)" in result.stderr
    assert counts(db) == before
    assert costlab([*args, "--db", str(db)]).returncode in (0, 5)  # with room, the same command runs


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS as Linux enforces it")
@pytest.mark.parametrize("command", list(COMMANDS))
def test_an_address_space_limit_is_one_clear_error_and_leaves_the_store_as_it_was(files, tmp_path, command):
    # 300 MB of address space: too little for DuckDB to open the store. Before, a raw traceback.
    db, before, args = store_and_command(files, tmp_path, command)
    result = costlab([*args, "--db", str(db)], address_space=300 << 20)
    assert_clear_out_of_memory(result)
    assert "ulimit -v" in result.stderr
    assert counts(db) == before


def test_the_memory_limit_from_the_environment_applies_to_every_store_connection_and_wins_over_the_report(
        monkeypatch, tmp_path):
    monkeypatch.setenv(memory.ENV, "300MB")
    with open_store(tmp_path / "s.duckdb", Config()) as s:
        shown = s.scalar("select current_setting('memory_limit')")
        assert shown == "286.1 MiB"
        with memory_limit(s, "1.5GB"):  # [report] memory_limit: the environment wins
            assert s.scalar("select current_setting('memory_limit')") == shown
    monkeypatch.setenv(memory.ENV, "lots")
    with pytest.raises(ConfigError, match='COSTLAB_MEMORY_LIMIT: expected a size like "1.5GB"'):
        open_store(tmp_path / "t.duckdb", Config())


def test_out_of_memory_from_any_layer_becomes_one_costlab_error_and_nothing_else_does():
    oom = [duckdb.OutOfMemoryException("Out of Memory Error: could not allocate block"),
           MemoryError(), RuntimeError("can't start new thread"),
           ImportError("IMPORTANT: read this\n\nOriginal error was: libopenblas.so: failed to map segment from shared object"),
           OSError("Out of Memory Error: ArrowBuffer: failed to allocate 262144 bytes"),
           duckdb.FatalException('FATAL Error: database invalidated\nOriginal error: "Failed to allocate block (bad allocation)')]
    for ex in oom:
        got = memory.as_out_of_memory(ex)
        assert isinstance(got, OutOfMemoryError) and "memory_limit" in str(got), ex
    for ex in (RuntimeError("Query interrupted"), ValueError("out of memory"), OSError("no such file"),
               ImportError("No module named 'x'"), duckdb.CatalogException("no table")):
        assert memory.as_out_of_memory(ex) is None, ex


def test_the_cli_starts_openblas_with_one_thread_before_numpy_loads(monkeypatch):
    # OpenBLAS starts a thread per core, each with its own buffers, when numpy is imported; under
    # ulimit -v that printed "OpenBLAS error: Memory allocation still failed" and gave up.
    probe = ("import sys, costlab.cli\n"
             "assert 'numpy' not in sys.modules\n"
             "from costlab.memory import prepare_process\n"
             "prepare_process()\n"
             "import os; print(os.environ['OPENBLAS_NUM_THREADS'])")
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=60)
    assert out.stdout.strip() == "1", out.stderr
    env["OPENBLAS_NUM_THREADS"] = "4"  # a choice someone made is kept
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=60)
    assert out.stdout.strip() == "4", out.stderr
