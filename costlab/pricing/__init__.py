"""Prices and models: the built-in catalogue, costlab.toml overrides, LiteLLM imports, checks.

- catalogue.py: the catalogue and costlab.toml's [[prices]], [[discounts]], [[models]] as table rows
- stored.py: the pricing tables in a store (`refresh` at each read-write open), price versions,
  re-pricing, stored prices
- questions.py: what a model string bills as, price lists, one model's history, what is unpriced
- litellm.py: import LiteLLM's price map
"""

from costlab.pricing.catalogue import (DISCOUNT_KEYS, MODEL_COLUMNS, MODEL_KEYS, PLATFORMS, PRICE_COLUMNS,
                                       PRICE_FIELDS, PRICE_KEYS, PRIORITY, Tables, build_tables, catalogue_text)
from costlab.pricing.litellm import import_litellm
from costlab.pricing.questions import list_prices, normalise, show_model, unpriced
from costlab.pricing.stored import (REPRICE_CHUNK_ROWS, define_version, keyed, drop_shadow, fingerprint, outdated, refresh, reprice,
                                    shadow_with_stored, stale_count, stale_keys, stored_prices, sync)

__all__ = [
    "DISCOUNT_KEYS", "MODEL_COLUMNS", "MODEL_KEYS", "PLATFORMS", "PRICE_COLUMNS", "PRICE_FIELDS", "PRICE_KEYS",
    "PRIORITY", "REPRICE_CHUNK_ROWS", "Tables", "build_tables", "catalogue_text", "define_version", "drop_shadow", "fingerprint",
    "import_litellm", "keyed", "list_prices", "normalise", "outdated", "refresh", "reprice", "shadow_with_stored",
    "show_model", "stale_count", "stale_keys", "stored_prices", "sync", "unpriced",
]
