"""README.md's command list cannot drift from the app: every command and subcommand of `costlab`
has a `### \\`costlab ...\\`` heading under "## Commands", and every heading names a real command."""

from __future__ import annotations

import re

import typer

from costlab.cli import app

from helpers import ROOT


def app_commands() -> set[tuple[str, ...]]:
    """Every command path of the app: ("ingest",), ("prices",), ("prices", "list"), ..."""
    found: set[tuple[str, ...]] = set()

    def walk(group, prefix: tuple[str, ...]) -> None:
        for name, command in group.commands.items():
            found.add((*prefix, name))
            if getattr(command, "commands", None):  # a group (typer carries its own copy of click's classes)
                walk(command, (*prefix, name))

    walk(typer.main.get_command(app), ())
    return found


def readme_commands() -> set[tuple[str, ...]]:
    """The command paths README.md's command headings name: `costlab prices list | show MODEL | check`
    names prices and its list, show and check; `costlab ingest PATH...` names ingest."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Commands", 1)[1].split("\n## ", 1)[0]
    found: set[tuple[str, ...]] = set()
    for heading in re.findall(r"^### (.+)$", section, flags=re.M):
        for span in re.findall(r"`costlab ([^`]+)`", heading):
            top, _, rest = span.partition(" ")
            found.add((top,))
            for alternative in rest.split("|"):
                words = alternative.split()
                if words and re.fullmatch(r"[a-z][a-z-]*", words[0]):  # not a placeholder (PATH..., MODEL, OUT)
                    found.add((top, words[0]))
    return found


def test_every_command_and_subcommand_is_in_the_readme():
    missing = app_commands() - readme_commands()
    assert not missing, f"README.md's ## Commands has no heading for: {sorted(' '.join(p) for p in missing)}"


def test_every_command_the_readme_lists_exists():
    unknown = readme_commands() - app_commands()
    assert not unknown, f"README.md names commands costlab does not have: {sorted(' '.join(p) for p in unknown)}"
