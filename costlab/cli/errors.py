"""The one place errors become exit codes and stderr lines.

Library code raises CostlabError subclasses; `handle_errors` (around every command) turns each into
`Error: ...` on stderr and its exit code (costlab.errors.ExitCode). Set COSTLAB_DEBUG=1 for tracebacks.
Every error message and traceback printed here goes through costlab.keys.redact first: an exception
text can carry an HTTP header, and so a key.
"""

from __future__ import annotations

import functools
import os
from typing import Callable

import typer

from costlab.display import visible  # imported now, as memory's: the error path must not import under memory pressure
from costlab.errors import CostlabError, ExitCode
from costlab.keys import redact
from costlab.memory import as_out_of_memory  # imported now: under memory pressure a late import can fail

INTERRUPTED = "Interrupted: nothing from the unfinished step was written."


def say_error(text: str) -> None:
    """An error line on stderr, with anything that looks like a key redacted and no control character
    from data (a traceback can quote a log's bytes)."""
    typer.echo(visible(redact(text)), err=True)


def handle_errors(fn: Callable) -> Callable:
    """Wrap a command: CostlabError -> `Error: ...` and its exit code; Ctrl-C -> exit 130; running out
    of memory anywhere (DuckDB, numpy, pyarrow, a thread) -> one OutOfMemoryError; anything else is
    re-raised (main() prints its redacted traceback, exit 1)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except CostlabError as ex:
            if os.environ.get("COSTLAB_DEBUG"):
                raise
            _fail(ex)
        except KeyboardInterrupt:
            typer.echo(INTERRUPTED, err=True)
            raise typer.Exit(int(ExitCode.INTERRUPT))
        except BaseException as ex:  # polars' PanicException is no Exception
            # DuckDB turns Ctrl-C during a query into RuntimeError("Query interrupted").
            if isinstance(ex, RuntimeError) and "interrupted" in str(ex).lower():
                typer.echo(INTERRUPTED, err=True)
                raise typer.Exit(int(ExitCode.INTERRUPT))
            oom = as_out_of_memory(ex)  # DuckDB, numpy, pyarrow, a thread: one error naming memory_limit
            if oom is None:
                raise
            _fail(oom, ex)

    return wrapper


def _fail(ex: CostlabError, cause: BaseException | None = None) -> None:
    if cause is not None and os.environ.get("COSTLAB_DEBUG"):
        raise ex from cause
    say_error(f"Error: {ex}")
    raise typer.Exit(int(ex.exit_code)) from (cause or ex)
