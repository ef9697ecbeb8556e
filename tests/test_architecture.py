"""The house rules of docs/architecture.md, checked: imports run one way (the import-linter contracts
in pyproject.toml), only the store speaks DuckDB, and no costlab module imports another inside a
function to dodge a cycle (the CLI's command bodies excepted: they load the library after the
process is set up, see costlab/cli/__init__.py)."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

from helpers import ROOT

PACKAGE = ROOT / "costlab"


def test_imports_keep_the_layer_contracts_in_pyproject():
    lint = Path(sys.executable).with_name("lint-imports")
    proc = subprocess.run([str(lint), "--no-cache", "--config", str(ROOT / "pyproject.toml")], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "5 kept, 0 broken" in proc.stdout, proc.stdout[-2000:]


def _late_imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every costlab import inside a function or method of `path`."""
    found = []
    for fn in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in ast.walk(fn):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").split(".")[0] == "costlab"):
                found.append((node.lineno, node.module or "."))
            elif isinstance(node, ast.Import):
                found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "costlab"]
    return found


def test_no_library_module_imports_another_costlab_module_inside_a_function():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith("costlab/cli/") or rel == "costlab/__init__.py":
            continue  # command bodies load the library on use; the package root resolves its names lazily
        offenders += [f"{rel}:{line}: {module}" for line, module in sorted(set(_late_imports(path)))]
    assert offenders == [], "\n".join(offenders)


def test_the_scan_for_late_imports_finds_one(tmp_path):
    sample = tmp_path / "m.py"
    sample.write_text("import os\n\ndef f():\n    from costlab import pricing\n    import json\n    return pricing\n")
    assert _late_imports(sample) == [(4, "costlab")]


# Files the worked examples in docs/architecture.md write (and NAME placeholders): not in the tree.
EXAMPLE_FILES = {"queries/report/cache_writes.sql", "costlab/report/sections/cache_writes.py",
                 "costlab/report/formats/jsonl.py", "queries/signals/truncated_answers.sql",
                 "costlab/ingest/formats/acme.py", "tests/test_sources_acme.py"}


def test_every_source_file_the_docs_name_exists():
    missing = []
    for doc in [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md", ROOT / "benchmarks" / "README.md"]:
        for number, line in enumerate(doc.read_text(encoding="utf-8").splitlines(), start=1):
            for name in re.findall(r"(?:costlab|queries|tests|benchmarks)/[\w/]+\.(?:py|sql)", line):
                if name not in EXAMPLE_FILES and "NAME" not in name and not (ROOT / name).exists():
                    missing.append(f"{doc.relative_to(ROOT)}:{number}: {name}")
    assert missing == [], "\n".join(missing)
