"""costlab: what your Claude traffic costs, what it would cost routed differently, and whether
each request is on the right model. The CLI (costlab.cli) is a thin shell over these functions.

The names below load on first use: `import costlab.cli` (or any submodule) must not import polars,
DuckDB and the pricing tables before the CLI has set up the process (memory.prepare_process).
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from costlab.config import Config, load_config
    from costlab.errors import CostlabError
    from costlab.open import open_store

__all__ = ["Config", "CostlabError", "load_config", "open_store"]
__version__ = "0.1.0"

_HOMES = {"Config": "costlab.config", "load_config": "costlab.config", "CostlabError": "costlab.errors",
          "open_store": "costlab.open"}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        import importlib

        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'costlab' has no attribute {name!r}")
