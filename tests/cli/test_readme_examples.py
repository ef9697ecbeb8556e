"""README.md's command examples run as written (issue 16): a document that cannot go stale.

Every `costlab ...` line (or `$ costlab ...`, continued with a trailing backslash) in a ```console,
```bash or ```sh block of README.md runs through bash in its own working directory holding what the
README's reader has after `make demo`: ./costlab.duckdb ingested from examples/ (built once per
module), examples/costlab.toml as ./costlab.toml, the repository's queries/, and the few input files
the examples name (a logs/ folder, exports/*.jsonl.gz, LiteLLM's price map, a RouteLLM CSV).
`costlab` is this tree's CLI (`python -m costlab`).

What README.md says about a line is honoured:
* `# needs ...` in its comment (an API key, a network service): skipped, saying why. These are the
  only examples not run.
* `# exit N when ...` / `, N when ...`: exit N is as good as 0 (reconcile with nothing to compare
  exits 6; `--fail-on high` exits 5 when a high finding exists). Any other code fails the test.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from helpers import EXAMPLES, FIXTURES, ROOT

pytestmark = pytest.mark.slow  # every example is a CLI process (a few seconds each on a quiet machine)

_BLOCK = re.compile(r"^```(?:console|bash|sh)\n(.*?)^```", re.M | re.S)
_NEEDS = re.compile(r"#.*\bneeds\b\s*(.+)$")
_EXIT = re.compile(r"(?:\bexit|,|\bor) (\d+) (?:when|while)\b")

# The input files the examples name, from the repository's own fixtures.
PROPS = {
    "logs/api-2026-11-16.jsonl": FIXTURES / "ingest" / "envelope.jsonl",
    "exports/2026-11-15.jsonl.gz": EXAMPLES / "anthropic_messages.jsonl.gz",
    "model_prices_and_context_window.json": FIXTURES / "litellm_prices.json",
    "mmlu.csv": FIXTURES / "routellm" / "mmlu" / "mmlu_abstract_algebra.csv",
    "mmlu_responses/mmlu_abstract_algebra.csv": FIXTURES / "routellm" / "mmlu" / "mmlu_abstract_algebra.csv",
    "fitted_policy.json": FIXTURES / "route_policy.json",  # a `route fit` file (RouteLLM GSM8K: haiku / opus)
}


@dataclass(frozen=True)
class Example:
    line: int
    command: str  # as bash runs it (the comment stays: bash ignores it)
    needs: str | None  # what a skipped example needs
    exits: frozenset[int]  # the exit codes README.md says are fine

    @property
    def id(self) -> str:
        return f"L{self.line}:" + re.sub(r"\s+", " ", self.command.split(" #")[0])[:70]


def readme_examples(text: str | None = None) -> list[Example]:
    text = (ROOT / "README.md").read_text(encoding="utf-8") if text is None else text
    found = []
    for block in _BLOCK.finditer(text):
        first_line = text.count("\n", 0, block.start(1)) + 1
        lines = block.group(1).splitlines()
        i = 0
        while i < len(lines):
            start, command = i, lines[i].strip().removeprefix("$ ")
            while command.endswith("\\") and i + 1 < len(lines):
                i += 1
                command = command[:-1].rstrip() + " " + lines[i].strip()
            i += 1
            if not command.startswith("costlab "):
                continue
            needs = _NEEDS.search(command)
            comment = command.partition(" #")[2]
            found.append(Example(first_line + start, command, needs.group(1).strip().rstrip(")") if needs else None,
                                 frozenset({0, *(int(n) for n in _EXIT.findall(comment))})))
    return found


EXAMPLES_RUN = readme_examples()


def test_the_readme_has_examples_to_run_and_the_markers_are_read():
    assert len(EXAMPLES_RUN) >= 25
    assert any(e.needs and "ANTHROPIC_API_KEY" in e.needs for e in EXAMPLES_RUN)
    parsed = readme_examples("```console\n$ costlab reconcile  # exit 5 when off, 6 when nothing to compare\n"
                             "$ costlab x \\\n    --y  # needs a key\n```\n")
    assert [(e.command.split(" #")[0].strip(), e.needs, e.exits) for e in parsed] == [
        ("costlab reconcile", None, frozenset({0, 5, 6})), ("costlab x --y", "a key", frozenset({0}))]


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Path, Path]:
    """(the store `make demo` builds, a bin folder whose `costlab` is this tree's CLI)."""
    root = tmp_path_factory.mktemp("readme")
    bin_dir = root / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "costlab"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m costlab "$@"\n', encoding="utf-8")
    shim.chmod(0o755)
    store = root / "costlab.duckdb"
    built = subprocess.run([str(shim), "ingest", "--db", str(store), "--config", str(EXAMPLES / "costlab.toml"), str(EXAMPLES)],
                           env=_env(bin_dir), capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr
    return store, bin_dir


def _env(bin_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COSTLAB_", "ANTHROPIC_"))}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return env


@pytest.mark.parametrize("example", EXAMPLES_RUN, ids=lambda e: e.id)
def test_the_readme_example_runs_as_written(example, demo, tmp_path):
    if example.needs:
        pytest.skip(f"README.md marks it: needs {example.needs}")
    store, bin_dir = demo
    work = tmp_path / "work"
    work.mkdir()
    shutil.copyfile(store, work / "costlab.duckdb")
    shutil.copyfile(EXAMPLES / "costlab.toml", work / "costlab.toml")
    (work / "queries").symlink_to(ROOT / "queries")
    for name, source in PROPS.items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, work / name)
    result = subprocess.run(["bash", "-c", example.command], cwd=work, env=_env(bin_dir),
                            capture_output=True, text=True, timeout=600)
    assert result.returncode in example.exits, (
        f"README.md line {example.line}: `{example.command}` exited {result.returncode} "
        f"(README allows {sorted(example.exits)}):\n{result.stderr[-2000:]}")
