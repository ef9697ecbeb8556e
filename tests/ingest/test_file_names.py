"""File names are data too. A file named on the command line is that file, even when its name has
glob characters (`export[2026].jsonl`, `a*.jsonl`), and DuckDB's readers read exactly it (plain,
gzip, Parquet, CSV); only a path that names no file is expanded as a glob. A symbolic link found
while walking a folder (or matching a glob) is not followed out of it, and an error about a file
never echoes more than a short, escaped excerpt of it."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from costlab.config import Config
from costlab.ingest import expand, ingest_paths
from costlab.open import open_store
from costlab.store import Store

SECRET = "costlab-canary-d41e"


def _row(rid: str) -> dict:
    return {"request_id": rid, "ts": "2026-11-16T09:00:00Z", "model": "claude-sonnet-5-5",
            "input_tokens": 10, "output_tokens": 20}


def write(path: Path, rid: str) -> Path:
    """One canonical request in the format the name says (.jsonl, .jsonl.gz, .csv, .parquet)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    row = _row(rid)
    if path.name.endswith(".parquet"):
        pq.write_table(pa.table({k: [v] for k, v in row.items()}), path)
    elif path.name.endswith(".csv"):
        path.write_text(",".join(row) + "\n" + ",".join(str(v) for v in row.values()) + "\n")
    elif path.name.endswith(".gz"):
        path.write_bytes(gzip.compress((json.dumps(row) + "\n").encode()))
    else:
        path.write_text(json.dumps(row) + "\n")
    return path


def ids(store: Store) -> list[str]:
    return sorted(r for (r,) in store.rows("select request_id from requests"))


# (the file named, files its name would match as a glob)
NAMES = [
    ("a*.jsonl", ["ab.jsonl", "ac.jsonl"]),
    ("export[2026].jsonl", ["export2.jsonl", "export0.jsonl"]),
    ("g?.jsonl.gz", ["gx.jsonl.gz"]),
    ("p[1].parquet", ["p1.parquet"]),
    ("c*.csv", ["cc.csv"]),
    ("~home.jsonl", []),
    ("it's [x]*?.jsonl", ["it's xy.jsonl"]),
    ("back\\slash*.jsonl.gz", ["back\\slashx.jsonl.gz"]),
    ("dir[1]/x.jsonl", ["dir1/x.jsonl"]),
]


@pytest.mark.parametrize("name, decoys", NAMES, ids=[n for n, _ in NAMES])
def test_a_file_whose_name_has_glob_characters_is_read_alone(store, tmp_path, name, decoys):
    named = write(tmp_path / "in" / name, "named")
    for i, decoy in enumerate(decoys):
        write(tmp_path / "in" / decoy, f"decoy{i}")
    summary = ingest_paths(store, [str(named)])
    assert [(f.file, f.error, f.rows_added) for f in summary.files] == [(str(named), None, 1)]
    assert ids(store) == ["named"]


def test_a_folder_of_such_names_reads_every_file_once(store, tmp_path):
    expected = []
    for i, (name, decoys) in enumerate(NAMES):
        for j, n in enumerate([name, *decoys]):
            write(tmp_path / "in" / n, f"r{i}_{j}")
            expected.append(f"r{i}_{j}")
    summary = ingest_paths(store, [str(tmp_path / "in")])
    assert [f.error for f in summary.files if f.error] == []
    assert ids(store) == sorted(expected)


def test_a_path_that_names_no_file_is_still_a_glob(store, tmp_path):
    write(tmp_path / "logs" / "a.jsonl", "a")
    write(tmp_path / "logs" / "b.jsonl", "b")
    assert [p.name for p in expand([str(tmp_path / "logs" / "*.jsonl")])] == ["a.jsonl", "b.jsonl"]
    ingest_paths(store, [str(tmp_path / "logs" / "*.jsonl")])
    assert ids(store) == ["a", "b"]


def test_the_cli_reads_a_star_named_file_alone(tmp_path):
    write(tmp_path / "a*.jsonl", "named")
    write(tmp_path / "ab.jsonl", "decoy")
    run = subprocess.run([sys.executable, "-m", "costlab", "ingest", "--db", str(tmp_path / "s.duckdb"),
                          str(tmp_path / "a*.jsonl")], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert run.returncode == 0, run.stderr
    with open_store(tmp_path / "s.duckdb", Config()) as store:
        assert ids(store) == ["named"]


# -- symbolic links ---------------------------------------------------------------------------------------------
@pytest.fixture
def secret(tmp_path) -> Path:
    path = tmp_path / "private" / "passwd.jsonl"
    path.parent.mkdir()
    path.write_text(f"root:x:0:0:{SECRET}:/root:/bin/bash\n")
    return path


def test_a_symlink_out_of_a_folder_is_not_followed_nor_echoed(store, tmp_path, secret):
    logs = tmp_path / "logs"
    write(logs / "good.jsonl", "good")
    os.symlink(secret, logs / "passwd.jsonl")
    links = [logs / "passwd.jsonl"]
    if Path("/etc/passwd").is_file():
        os.symlink("/etc/passwd", logs / "system.jsonl")
        links.append(logs / "system.jsonl")
    summary = ingest_paths(store, [str(logs)])
    by_file = {f.file: f for f in summary.files}
    assert by_file[str(logs / "good.jsonl")].rows_added == 1
    for link in links:
        assert "symbolic link to a file outside" in by_file[str(link)].error
    text = " ".join(f.error or "" for f in summary.files)
    assert SECRET not in text and "root:" not in text
    assert summary.failed and ids(store) == ["good"]
    assert store.scalar("select count(*) from rejects") == 0


def test_a_symlink_matched_by_a_glob_is_not_followed_out_of_its_folder(store, tmp_path, secret):
    logs = tmp_path / "logs"
    write(logs / "good.jsonl", "good")
    os.symlink(secret, logs / "passwd.jsonl")
    summary = ingest_paths(store, [str(logs / "*.jsonl")])
    assert [f.error is not None for f in summary.files] == [True, False]  # refused links first, then files
    assert SECRET not in summary.files[0].error and ids(store) == ["good"]


def test_a_symlink_inside_its_folder_or_named_on_the_command_line_is_followed(store, tmp_path):
    logs = tmp_path / "logs"
    write(logs / "2026" / "real.jsonl", "real")
    os.symlink(logs / "2026" / "real.jsonl", logs / "current.jsonl")
    outside = write(tmp_path / "elsewhere" / "other.jsonl", "other")
    os.symlink(outside, tmp_path / "named.jsonl")
    summary = ingest_paths(store, [str(logs), str(tmp_path / "named.jsonl")])
    assert [f.error for f in summary.files] == [None, None, None]
    assert ids(store) == ["other", "real"]


def test_an_unrecognised_file_is_named_with_a_short_escaped_excerpt_only(store, tmp_path):
    first = "\x1b]8;;http://evil.example\x1b\\click\x1b]8;;\x1b\\ " + "x" * 20 + SECRET + "y" * 50
    path = tmp_path / "odd.csv"
    path.write_text(first + "\nmore\n")
    error = ingest_paths(store, [str(path)]).files[0].error
    assert "not a format costlab recognises" in error
    assert "\x1b" not in error and "\\x1b" in error  # escaped, not sent to the terminal
    assert SECRET not in error and "x" * 20 not in error  # 40 characters at most
