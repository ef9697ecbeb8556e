"""Open a store for use: connect, migrate, bring prices up to date.

`costlab.store.Store` is only a connection; this is the one place that puts the store and the
pricing tables together (so neither imports the other).
"""

from __future__ import annotations

from pathlib import Path

from costlab import pricing
from costlab.config import Config, load_config, resolve_db_path
from costlab.errors import ReadOnlyStoreError
from costlab.store import Store


def open_store(db: str | Path | None = None, config: Config | None = None, read_only: bool = False) -> Store:
    """Open the store the settings point at (--db, $COSTLAB_DB, costlab.toml's `db`, ./costlab.duckdb),
    or `db` itself; read-write opens create the file, migrate it and bring its prices up to date.
    Read-only opens write nothing: a store that still needs an upgrade (written by an older costlab)
    is a ReadOnlyStoreError saying how to upgrade it, not a query failing halfway."""
    config = config if config is not None else load_config()
    path = resolve_db_path(db, config) if str(db) != ":memory:" else ":memory:"
    store = Store(path, config, read_only=read_only)
    if read_only:
        needed = store.pending_migrations()
        if needed:
            store.close()
            raise ReadOnlyStoreError(
                f"the store {path} needs an upgrade to this costlab's schema ({len(needed)} step(s): "
                f"{', '.join(needed)}), which writes, and this command opens it read-only. Open it "
                f"read-write once (`costlab prices check`, or `costlab sql --write \"select 1\"`), then run "
                "this command again.")
    else:
        try:
            store.migrate()
            pricing.refresh(store)
        except BaseException:
            store.close()
            raise
    return store
