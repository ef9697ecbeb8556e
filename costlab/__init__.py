"""costlab: what your Claude traffic costs, what it would cost routed differently, and whether
each request is on the right model. The CLI (costlab.cli) is a thin shell over these functions."""

from costlab.config import Config, load_config
from costlab.errors import CostlabError
from costlab.store import Store, open_store

__all__ = ["Config", "CostlabError", "Store", "load_config", "open_store"]
__version__ = "0.1.0"
