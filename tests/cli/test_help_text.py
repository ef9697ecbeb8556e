"""--help as a person reads it: no command's summary cut with an ellipsis, and shell completion on offer."""

from __future__ import annotations

import subprocess
import sys

import os

import pytest
import typer
from typer.testing import CliRunner

from costlab.cli import app
from costlab.cli.helptext import Group

runner = CliRunner()


def groups(command, path: tuple[str, ...] = ()) -> list:
    """Every command group under the root (the root included), with the words that reach it."""
    found = []
    if hasattr(command, "commands"):
        found.append((path, command))
        for name, sub in command.commands.items():
            found.extend(groups(sub, (*path, name)))
    return found


GROUPS = groups(typer.main.get_command(app))


def command_listing(text: str) -> list[str]:
    """The lines of the 'Commands:' section of a --help."""
    lines = text.split("Commands:\n", 1)[1].splitlines()
    return [line for line in lines if line.strip()]


def test_every_group_is_built_with_the_group_class_that_does_not_cut():
    assert {path for path, _ in GROUPS} >= {(), ("whatif",), ("replay",), ("prices",)}
    for path, group in GROUPS:
        assert isinstance(group, Group), f"costlab {' '.join(path)} is not built with cls=costlab.cli.helptext.Group"


@pytest.mark.parametrize("width", [80, 120])
@pytest.mark.parametrize("path", [path for path, _ in GROUPS], ids=lambda p: " ".join(("costlab", *p)))
def test_no_command_summary_in_a_help_listing_ends_in_an_ellipsis(path, width):
    r = runner.invoke(app, [*path, "--help"], terminal_width=width)
    assert r.exit_code == 0, r.output
    listing = command_listing(r.stdout)
    group = dict(GROUPS)[path]
    for name in group.commands:  # every command is listed, its summary whole
        assert any(line.split()[0] == name for line in listing if not line.startswith("    ")), (name, listing)
    for line in listing:
        assert not line.rstrip().endswith(("...", "…")), f"cut at width {width}: {line!r}"
        assert len(line) <= width, line


def test_the_root_help_lists_every_command_with_its_first_sentence():
    r = runner.invoke(app, ["--help"], terminal_width=200)
    listing = {line.split()[0]: " ".join(line.split()[1:]) for line in command_listing(r.stdout)}
    assert listing["ingest"] == "Read log files (or s3:// prefixes) into the store; re-running adds nothing twice."
    assert listing["whatif"].endswith("with intervals.")


def costlab(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    # as the installed `costlab` script runs: main(), with the program name the completion script uses
    code = "import sys; sys.argv[0] = 'costlab'; from costlab.cli import main; main()"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


@pytest.mark.parametrize("shell, marker", [("bash", "complete -o default -F _costlab_completion costlab"),
                                           ("zsh", "compdef _costlab_completion costlab"),
                                           ("fish", "complete --command costlab"),
                                           ("powershell", "Register-ArgumentCompleter")])
def test_show_completion_prints_the_script_for_the_shell_given(shell, marker):
    r = costlab("--show-completion", shell)
    assert r.returncode == 0, r.stderr
    assert marker in r.stdout and "_COSTLAB_COMPLETE" in r.stdout and r.stderr == ""


def test_show_completion_refuses_a_shell_it_cannot_complete():
    r = costlab("--show-completion", "tcsh")
    assert r.returncode == 2 and "expected one of bash, zsh, fish, powershell" in r.stderr and r.stdout == ""


def test_the_completion_script_s_requests_are_answered_with_commands_and_options():
    # what the installed bash script asks the program: the words so far and the index of the one completed
    r = costlab(env={"_COSTLAB_COMPLETE": "complete_bash", "COMP_WORDS": "costlab whatif fr", "COMP_CWORD": "2"})
    assert r.returncode == 0 and r.stdout.split() == ["frontier"], r.stdout + r.stderr
    r = costlab(env={"_COSTLAB_COMPLETE": "complete_bash", "COMP_WORDS": "costlab summary --fo", "COMP_CWORD": "2"})
    assert r.stdout.split() == ["--format"], r.stdout + r.stderr


def test_the_root_help_offers_completion():
    r = runner.invoke(app, ["--help"])
    assert "--install-completion SHELL" in r.stdout and "--show-completion SHELL" in r.stdout
