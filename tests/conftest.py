"""Shared fixtures (helpers that are not fixtures are in helpers.py). Every test runs in its own empty
working directory with no costlab settings from the developer's environment, so no test reads or
writes a real ./costlab.duckdb or costlab.toml."""

from __future__ import annotations

import itertools
import socket
import textwrap
from pathlib import Path

import pytest

from helpers import SECRET, build_template, copy_store, write_log


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    for var in ("COSTLAB_DB", "COSTLAB_CONFIG", "COSTLAB_DEBUG", "ANTHROPIC_API_KEY", "ANTHROPIC_ADMIN_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("TZ", "UTC")
    monkeypatch.setenv("COLUMNS", "100")


# -- stores ------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def store_template(tmp_path_factory) -> Path:
    """One migrated, priced store file with the default Config() and no requests, built once per run;
    tests get copies of it (new_store, store) instead of migrating and pricing a store each."""
    return build_template(tmp_path_factory.mktemp("template") / "template.duckdb")


@pytest.fixture
def new_store(store_template):
    """new_store(path) -> a fresh store at path with the default Config() (a copy of the template).
    The test closes it (or uses it as a context manager)."""
    return lambda path: copy_store(store_template, path)


@pytest.fixture
def store(new_store, tmp_path):
    """A fresh, migrated store file with the built-in catalogue and no requests."""
    s = new_store(tmp_path / "test.duckdb")
    yield s
    s.close()


# -- replay ------------------------------------------------------------------------------------------
@pytest.fixture
def env(tmp_path, monkeypatch):
    """For the replay CLI tests: a store with 30 logged requests and a costlab.toml with tiers, in the
    working directory; ANTHROPIC_API_KEY is helpers.SECRET."""
    from costlab.config import load_config
    from costlab.ingest import ingest_paths
    from costlab.open import open_store

    (tmp_path / "costlab.toml").write_text(textwrap.dedent("""
        [tiers]
        haiku = "claude-haiku-5-5"
        sonnet = "claude-sonnet-5-5"
        opus = "claude-opus-5-5"
    """))
    with open_store(None, load_config()) as store:
        ingest_paths(store, [str(write_log(tmp_path / "log.jsonl", 30))])
    monkeypatch.setenv("ANTHROPIC_API_KEY", SECRET)
    return tmp_path


# -- S3 (moto's server on 127.0.0.1) -----------------------------------------------------------------
@pytest.fixture(scope="session")
def s3_endpoint():
    """moto's S3 server on a free port of 127.0.0.1, one for the run."""
    pytest.importorskip("moto")
    from moto.server import ThreadedMotoServer

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


_buckets = itertools.count()


@pytest.fixture
def bucket(s3_endpoint, monkeypatch):
    """(boto3 S3 client, the name of a new empty bucket) on s3_endpoint, with test credentials and no
    AWS settings from the developer's environment."""
    boto3 = pytest.importorskip("boto3")
    for var, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                       ("AWS_DEFAULT_REGION", "us-east-1")):
        monkeypatch.setenv(var, value)
    for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(var, raising=False)
    s3 = boto3.client("s3", endpoint_url=s3_endpoint)
    name = f"bucket-{next(_buckets)}"
    s3.create_bucket(Bucket=name)
    return s3, name
