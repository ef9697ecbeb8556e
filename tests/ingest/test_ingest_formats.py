"""The ingest format registry (costlab/ingest/formats/__init__.py) is the one list of formats:
every module in formats/ is registered, every registered format is documented, and detection,
`--format` and its help list exactly the registry."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from costlab.cli import app
from costlab.config import Config
from costlab.errors import ConfigError, InputError
from costlab.ingest import detect, formats
from costlab.ingest.formats import base

from helpers import FIXTURES, ROOT

DOCS = (ROOT / "docs" / "formats.md").read_text(encoding="utf-8")
FORMATS_DIR = ROOT / "costlab" / "ingest" / "formats"


def _ids(fmt: base.Format) -> str:
    return fmt.flag


def test_every_module_in_the_formats_folder_is_registered_once():
    modules = sorted({p.stem for p in FORMATS_DIR.glob("*.py")} - {"__init__", "base"})
    built = [importlib.import_module(f"costlab.ingest.formats.{m}").FORMAT for m in modules]
    assert sorted(map(id, built)) == sorted(map(id, formats.FORMATS))
    assert len(set(map(id, formats.FORMATS))) == len(formats.FORMATS)


def test_flags_and_names_belong_to_one_format_each():
    flags = formats.flags()
    names = [n for f in formats.FORMATS for n in f.names]
    assert len(set(flags)) == len(flags) and len(set(names)) == len(names)
    for f in formats.FORMATS:
        assert set(f.kinds) == set(f.names) and set(f.kinds.values()) <= set(base.KINDS)
        assert (f.adapter is None) != (f.load is None), f"{f.flag}: an adapter (rows are requests) or a load, not both"
        for name in f.names:
            assert formats.owner(name) is f and formats.named(name) is f
        assert formats.named(f.flag) is f


@pytest.mark.parametrize("fmt", formats.FORMATS, ids=_ids)
def test_every_registered_format_is_documented_in_formats_md(fmt):
    headings = [line.lstrip("#").strip() for line in DOCS.splitlines() if line.startswith("#")]
    assert any(h.startswith(fmt.docs + ":") for h in headings), (
        f"docs/formats.md has no heading for {fmt.flag} (one starting {fmt.docs}: ...)")


def test_the_format_flag_help_lists_exactly_the_registry():
    result = CliRunner().invoke(app, ["ingest", "--help"])
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    assert formats.flag_help() in text
    listed = re.search(r"--format <str> (.*?) \(default: detected\)", text).group(1)
    assert re.split(r", | or ", listed) == formats.flags()


def test_a_bad_format_flag_lists_exactly_the_registry():
    path = FIXTURES / "ingest" / "envelope.jsonl"
    with pytest.raises(ConfigError) as err:
        detect.normalise_format("nope", path, Config())
    assert str(err.value) == f"--format 'nope': expected one of {', '.join(formats.flags())}"


def test_detection_asks_exactly_the_registry_and_its_error_names_every_format(tmp_path):
    assert sorted(map(id, detect._ASKED)) == sorted(map(id, formats.FORMATS))
    unknown = tmp_path / "x.csv"
    unknown.write_text("a,b\n1,2\n")
    with pytest.raises(InputError) as err:
        detect.detect(unknown, Config())
    for f in formats.FORMATS:
        assert f.describes in str(err.value)


def test_detection_prefers_the_more_specific_format():
    # LiteLLM's JSON rows carry `response` like Anthropic envelopes; its signature (startTime + spend) wins.
    record = {"startTime": "2026-11-16T09:00:00Z", "spend": 0.1, "response": {}, "request": {}}
    asked = [f for f in detect._ASKED if f.sniff_record(record)]
    assert [f.flag for f in asked] == ["litellm", "anthropic"]
    assert detect._first("sniff_record", record) == "litellm-jsonl"


@pytest.mark.parametrize("path", sorted((FIXTURES / "sources").glob("*.*")) + sorted((FIXTURES / "ingest").glob("*.json*")),
                         ids=lambda p: p.name)
def test_what_detection_finds_is_a_registered_name_and_the_flag_of_its_format_reads_it_alike(path):
    try:
        name = detect.detect(path, Config())
    except Exception:  # noqa: BLE001 - files that are no log on purpose
        return
    fmt = formats.owner(name)
    assert fmt is not None and name in fmt.names
    assert detect.normalise_format(name, path, Config()) == name


def test_importing_the_cli_imports_no_registry_and_no_duckdb():
    # --format's help is read from the registry when typer builds the command, after the process is set up.
    probe = "import sys, costlab.cli; print(sorted(m for m in ('duckdb', 'polars', 'costlab.ingest.formats') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], check=False, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stderr
