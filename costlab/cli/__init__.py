"""The costlab command line: parse options, call the library, render. Nothing else lives here.

    __init__     the typer app and main(); imports every command module below and registers it
    options      the options several commands share (--db, --config, --format, --out, ...)
    errors       handle_errors: the one place errors become `Error: ...` on stderr and exit codes
    helptext     Group (command lists in --help, never cut) and the shell completion options
    context      the store from --db/--config, days from flags, frames written in --format
    ingest, summary, sql, export, generate, prices, report, signals, budget, alert, reconcile, compare, pull_usage, whatif, replay,
    route
                 one module per command or command group, each with `register(app)`

Imports run one way: this module imports the command modules; they import options, errors and
context, never this module (and nothing else in costlab imports costlab.cli).

Library imports (costlab's own modules, polars, DuckDB) sit inside the command functions on purpose:
`costlab --help` stays fast, and main() runs memory.prepare_process() before numpy, polars or DuckDB
load (tests/test_memory.py).
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from costlab.cli import (
    alert, budget, compare, export, generate, ingest, prices, pull_usage, reconcile, replay, report, route, signals, sql, summary,
    whatif,
)
from costlab.cli.errors import say_error
from costlab.cli import helptext
from costlab.cli.helptext import Group
from costlab.errors import ExitCode

app = typer.Typer(
    help="What your Claude traffic costs, what it would cost routed differently, and whether each "
    "request is on the right model.",
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    add_completion=False,  # costlab's own --show-completion/--install-completion take a shell (cli/helptext.py)
    cls=Group,
)

def _version(value: bool) -> None:
    if value:
        from costlab import __version__

        typer.echo(f"costlab {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[Optional[bool], typer.Option(
        "--version", help="Print costlab's version and exit.", callback=_version, is_eager=True)] = None,
    show_completion: Annotated[Optional[str], typer.Option(
        "--show-completion", metavar="SHELL", expose_value=False, show_default=False,
        is_eager=True, callback=helptext.show_completion, help=helptext.HELP_SHOW)] = None,
    install_completion: Annotated[Optional[str], typer.Option(
        "--install-completion", metavar="SHELL", expose_value=False, show_default=False,
        is_eager=True, callback=helptext.install_completion, help=helptext.HELP_INSTALL)] = None,
) -> None:
    """What your Claude traffic costs, what it would cost routed differently, and whether each request
    is on the right model."""


# The order of `costlab --help` (typer lists single commands first, then the groups: prices, whatif, replay).
COMMANDS = (ingest, summary, sql, export, generate, prices, report, signals, budget, alert, reconcile, compare, pull_usage, whatif, replay,
            route)
for command in COMMANDS:
    command.register(app)


def main() -> None:
    from costlab.memory import prepare_process

    prepare_process()  # before numpy loads or a thread starts (OpenBLAS threads, malloc arenas)
    helptext.completion_init()  # answers the completion script's requests (cli/helptext.py)
    try:
        app()
    except Exception as ex:  # a bug, or an error no costlab code expected: its traceback, redacted
        from costlab.memory import as_out_of_memory

        oom = as_out_of_memory(ex)  # out of memory before a command ran (parsing its options): one clear error
        if oom is not None:
            say_error(f"Error: {oom}")
            raise SystemExit(int(oom.exit_code)) from None
        import traceback

        say_error("".join(traceback.format_exception(ex)).rstrip())
        raise SystemExit(int(ExitCode.ERROR)) from None


if __name__ == "__main__":
    main()
