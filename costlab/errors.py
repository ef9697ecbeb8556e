"""The one error hierarchy of costlab, and the exit code each error maps to.

    CostlabError                 exit 1   the data or the store said no
    ├── ConfigError              exit 2   costlab.toml or a flag is wrong
    ├── InputError               exit 1   a file is no log costlab can read
    ├── QueryError               exit 1   DuckDB rejected a query
    │   └── ReadOnlyStoreError   exit 1   the store is open read-only and was asked to write (a write
    │                                     statement in `costlab sql` without --write, an old store
    │                                     that needs its upgrade)
    ├── StoreLockedError         exit 3   another process is writing the store
    ├── UnpricedError            exit 4   requests with no price (prices check)
    ├── UnknownModelError        exit 1   a model id with no catalogue entry
    ├── OutOfMemoryError         exit 1   DuckDB or the process ran out of memory (names memory_limit)
    ├── NothingCheckedError      exit 6   a check found nothing to check against (reconcile with no
    │                                     usage/cost report and no reported cost): not a pass
    └── AlertDeliveryError       exit 7   `costlab alert`: a destination could not be reached (after its
                                          retries); the others were still sent, and the message names
                                          each failed destination (never its URL)

    exit 5 (ExitCode.FINDINGS) is not an error: signals and report with --fail-on, and reconcile,
    exit 5 when they found what they were asked to flag.

The CLI turns these into `Error: ...` on stderr and the exit code, in one place (cli.handle_errors);
running out of memory anywhere (DuckDB, numpy, pyarrow, a thread that cannot start) becomes an
OutOfMemoryError there too (costlab.memory.as_out_of_memory).
"""

from __future__ import annotations

from difflib import get_close_matches
from enum import IntEnum
from typing import Iterable

# Imported now, not when an error is shown: under memory pressure a late import (and its regex
# compile) can itself fail with MemoryError in the middle of reporting out-of-memory.
from costlab.display import visible


class ExitCode(IntEnum):
    OK = 0
    ERROR = 1
    USAGE = 2
    LOCKED = 3
    UNPRICED = 4
    FINDINGS = 5  # signals/report --fail-on, reconcile: the run worked and found what it was asked to flag
    NOTHING_CHECKED = 6  # reconcile: nothing to compare against in the window, so nothing was checked
    ALERT_FAILED = 7  # alert: at least one destination failed (after its retries); the others were sent
    INTERRUPT = 130


class CostlabError(Exception):
    "Base of every error costlab raises on purpose."

    exit_code: ExitCode = ExitCode.ERROR

    def __str__(self) -> str:
        # Messages quote data (a file's first line, a column name, DuckDB's error about a value):
        # shown to a person, a control character from it appears escaped, never as a control.
        return visible(super().__str__())


class ConfigError(CostlabError):
    "costlab.toml, an environment variable or a flag has a value costlab cannot use."

    exit_code = ExitCode.USAGE


class InputError(CostlabError):
    "An input file cannot be read as any log format costlab knows."


class QueryError(CostlabError):
    "DuckDB rejected a query."


class ReadOnlyStoreError(QueryError):
    "The store is open read-only and the statement (or an upgrade the store needs) would write."


class StoreLockedError(CostlabError):
    "Another process holds the store open for writing."

    exit_code = ExitCode.LOCKED


class UnpricedError(CostlabError):
    "Some requests have no price in force; their cost is unknown, not zero."

    exit_code = ExitCode.UNPRICED


class UnknownModelError(CostlabError):
    "A model id has no entry in the catalogue."


class OutOfMemoryError(CostlabError):
    "DuckDB or the process ran out of memory; the message names the memory_limit settings to raise."


class NothingCheckedError(CostlabError):
    "A check had nothing to check against: it must not pass as if it had checked (a CI job would)."

    exit_code = ExitCode.NOTHING_CHECKED


class AlertDeliveryError(CostlabError):
    "An alert destination could not be reached or refused the message, after its retries."

    exit_code = ExitCode.ALERT_FAILED


def did_you_mean(word: str, among: Iterable[str]) -> str:
    """The nearest spelling to `word` as a sentence, or an empty string."""
    match = get_close_matches(word, list(among), n=1, cutoff=0.6)
    return f" Did you mean {match[0]!r}?" if match else ""
