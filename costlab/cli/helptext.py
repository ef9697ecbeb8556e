"""How costlab's command line presents itself: the command lists in --help, and shell completion.

click shortens each command's first sentence to what fits beside the name at the terminal's width and
ends it with "..." ("Read log files (or s3:// prefixes) into the store;..."). `Group` lists every
command's `short_help` or else its whole first sentence, and lets the formatter wrap it onto the next
lines instead of cutting it. Every typer app and group in costlab.cli is built with `cls=Group`
(tests/cli/test_help_text.py checks it).

`--show-completion SHELL` and `--install-completion SHELL` (root options) print or install typer's
completion script for the shell named. typer's own options of the same names take no shell when they
can detect one (a `--show-completion zsh` run in bash printed the bash script), so these replace them,
built on typer's completion functions; `completion_init()` registers typer's completion classes, which
answer the script's requests (`_COSTLAB_COMPLETE=complete_bash ...`).
"""

from __future__ import annotations

from typing import Any

import typer
import typer.core

UNLIMITED = 10_000  # click's limit for a command's short help: high enough that it never shortens
SHELLS = ("bash", "zsh", "fish", "powershell", "pwsh")


class Group(typer.core.TyperGroup):
    """A typer group whose command list shows each command's short help whole (wrapped, never cut)."""

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is None or command.hidden:
                continue
            rows.append((name, command.get_short_help_str(limit=UNLIMITED)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def _shell(value: str) -> str:
    """The shell named; a usage error for one typer cannot complete."""
    shell = value.strip().lower()
    if shell not in SHELLS:
        raise typer.BadParameter(f"expected one of {', '.join(SHELLS)}, got {value!r}")
    return shell


def completion_init() -> None:
    """Register typer's completion classes (bash, zsh, fish, powershell), which typer does only when it
    adds its own completion options."""
    from typer.completion import completion_init as register

    register()


def _names(ctx: Any) -> tuple[str, str]:
    prog = ctx.find_root().info_name or "costlab"
    return prog, "_{}_COMPLETE".format(prog.replace("-", "_").upper())


def show_completion(ctx: Any, param: Any, value: str | None) -> None:
    """--show-completion [SHELL]: print the completion script and exit."""
    if value is None or ctx.resilient_parsing:
        return
    from typer.completion import get_completion_script

    prog, var = _names(ctx)
    typer.echo(get_completion_script(prog_name=prog, complete_var=var, shell=_shell(value)))
    raise typer.Exit()


def install_completion(ctx: Any, param: Any, value: str | None) -> None:
    """--install-completion [SHELL]: add the completion script to the shell's start-up files and exit."""
    if value is None or ctx.resilient_parsing:
        return
    from typer.completion import install

    prog, var = _names(ctx)
    shell, path = install(shell=_shell(value), prog_name=prog, complete_var=var)
    typer.echo(f"{shell} completion installed in {path}; it takes effect in a new shell.", err=True)
    raise typer.Exit()


HELP_SHOW = "Print the shell completion script for SHELL (bash, zsh, fish or powershell) and exit."
HELP_INSTALL = "Install shell completion for SHELL in its start-up file (~/.bashrc, ...) and exit."
