"""costlab.toml overrides (private models, negotiated discounts, dated price rows), LiteLLM imports
and the unpriced list. Expected costs are worked out by hand from reference section 1 ($/MTok)."""

from __future__ import annotations

import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from costlab import pricing
from costlab.config import Config, load_config
from costlab.errors import ConfigError, InputError, UnknownModelError
from costlab.open import open_store as open_db
from costlab.store import Store

from helpers import FIXTURES

LITELLM = FIXTURES / "litellm_prices.json"
COLUMNS = ("request_id", "ts", "source", "platform", "model", "service_tier", "inference_geo",
           "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens")


def open_store(tmp_path: Path, **config: Any) -> Store:
    return open_db(tmp_path / "overrides.duckdb", Config(**config))


def insert(store: Store, request_id: str, model: str, ts: str, **usage: Any) -> None:
    row = {"request_id": request_id, "ts": ts, "source": "test", "platform": "anthropic", "model": model,
           "service_tier": "standard", "inference_geo": None, "input_tokens": 0, "output_tokens": 0,
           "cache_read_tokens": 0, "cache_write_5m_tokens": 0, "cache_write_1h_tokens": 0, **usage}
    store.execute(f"insert into requests ({', '.join(COLUMNS)}) values ({', '.join('?' for _ in COLUMNS)})",
                  [row[c] for c in COLUMNS])


def cost(store: Store, request_id: str) -> Decimal | None:
    rows = store.rows("select cost_usd from costed_requests where request_id = ?", [request_id])
    assert len(rows) == 1, f"{request_id}: {len(rows)} costed rows"
    return rows[0][0]


# --- private models ---------------------------------------------------------------------------------


def test_a_private_model_is_priced_at_its_own_rates_and_has_its_own_tier(tmp_path):
    store = open_store(
        tmp_path,
        models=[{"id": "acme-claude-ft-1", "tier": "sonnet", "aliases": ["acme-ft"], "context_window": 200000}],
        prices=[{"model": "acme-claude-ft-1", "valid_from": "2026-01-01", "input": 4, "output": 16,
                 "source": "contract 2026-01"}],
    )
    insert(store, "ft", store.scalar("select costlab_model('ACME-FT')"), "2026-11-02", input_tokens=10_000,
           cache_write_5m_tokens=1_000, output_tokens=1_000)
    row = store.frame("select model, tier, priced, cost_usd, cost_cache_write_usd from costed_requests").row(0, named=True)
    # 10,000 x 4 / 1e6 = 0.04; 5m write at 1.25 x 4 = 5: 1,000 x 5 / 1e6 = 0.005; 1,000 x 16 / 1e6 = 0.016.
    assert row == {"model": "acme-claude-ft-1", "tier": "sonnet", "priced": True,
                   "cost_usd": Decimal("0.061"), "cost_cache_write_usd": Decimal("0.005")}
    shown = pricing.show_model(store, "acme-ft")
    assert shown["model"]["tier"].to_list() == ["sonnet"]
    assert shown["prices"]["source"].to_list() == ["contract 2026-01"]
    listed = pricing.list_prices(store).filter(model="acme-claude-ft-1")
    assert listed["input"].to_list() == [Decimal("4")] and listed["tier"].to_list() == ["sonnet"]


def test_showing_an_unknown_model_raises_with_a_suggestion(tmp_path):
    store = open_store(tmp_path)
    with pytest.raises(UnknownModelError, match="claude-sonnet-5-5"):
        pricing.show_model(store, "claude-sonet-5-5")


# --- negotiated discounts ----------------------------------------------------------------------------


def test_a_model_discount_applies_from_its_date_and_not_before(tmp_path):
    store = open_store(tmp_path, discounts=[
        {"model": "claude-sonnet-5-5", "percent_off": 20, "valid_from": date(2026, 11, 1)}])
    usage = dict(input_tokens=100_000, output_tokens=10_000)
    insert(store, "before", "claude-sonnet-5-5", "2026-10-31 23:59:59+00", **usage)
    insert(store, "after", "claude-sonnet-5-5", "2026-11-01 00:00:00+00", **usage)
    insert(store, "after_batch", "claude-sonnet-5-5", "2026-11-02", service_tier="batch", **usage)
    insert(store, "other_model", "claude-opus-5-5", "2026-11-02", **usage)
    # List: 100,000 x 2 / 1e6 + 10,000 x 10 / 1e6 = 0.2 + 0.1 = 0.3.
    assert cost(store, "before") == Decimal("0.3")
    # 20% off: 0.3 x 0.8 = 0.24; with batch as well: 0.3 x 0.5 x 0.8 = 0.12.
    assert cost(store, "after") == Decimal("0.24")
    assert cost(store, "after_batch") == Decimal("0.12")
    # Opus 5.5 at list: 100,000 x 4 / 1e6 + 10,000 x 20 / 1e6 = 0.4 + 0.2 = 0.6.
    assert cost(store, "other_model") == Decimal("0.6")


def test_a_platform_discount_applies_to_every_model_on_that_platform_only(tmp_path):
    store = open_store(tmp_path, discounts=[{"platform": "bedrock", "factor": 0.9, "valid_from": "2026-11-01"}])
    usage = dict(input_tokens=10_000)
    insert(store, "bedrock_before", "claude-sonnet-4-5", "2026-10-15", platform="bedrock", inference_geo="global", **usage)
    insert(store, "bedrock_after", "claude-sonnet-4-5", "2026-11-15", platform="bedrock", inference_geo="global", **usage)
    insert(store, "bedrock_regional", "claude-sonnet-4-5", "2026-11-15", platform="bedrock", inference_geo="us-east-1", **usage)
    insert(store, "haiku_after", "claude-haiku-4-5", "2026-11-15", platform="bedrock", **usage)
    insert(store, "anthropic_after", "claude-sonnet-4-5", "2026-11-15", **usage)
    # Sonnet 4.5: 10,000 x 3 / 1e6 = 0.03 at list; x 0.9 = 0.027; regional x 1.1 x 0.9 = 0.0297.
    assert cost(store, "bedrock_before") == Decimal("0.03")
    assert cost(store, "bedrock_after") == Decimal("0.027")
    assert cost(store, "bedrock_regional") == Decimal("0.0297")
    # Haiku 4.5: 10,000 x 1 / 1e6 x 0.9 = 0.009.
    assert cost(store, "haiku_after") == Decimal("0.009")
    assert cost(store, "anthropic_after") == Decimal("0.03")


def test_the_most_specific_discount_wins_and_discounts_do_not_stack(tmp_path):
    store = open_store(tmp_path, discounts=[
        {"platform": "bedrock", "factor": 0.9, "valid_from": "2026-11-01"},
        {"model": "claude-sonnet-4-5", "platform": "bedrock", "factor": 0.8, "valid_from": "2026-11-01"},
    ])
    insert(store, "sonnet", "claude-sonnet-4-5", "2026-11-15", platform="bedrock", input_tokens=10_000)
    insert(store, "haiku", "claude-haiku-4-5", "2026-11-15", platform="bedrock", input_tokens=10_000)
    assert cost(store, "sonnet") == Decimal("0.024")   # 0.03 x 0.8, not 0.03 x 0.9 x 0.8 = 0.0216
    assert cost(store, "haiku") == Decimal("0.009")    # 0.01 x 0.9


def list_cost(store: Store, request_id: str) -> Decimal | None:
    return store.scalar("select cost_list_usd from costed_requests where request_id = ?", [request_id])


def test_the_list_price_is_the_cost_before_the_negotiated_discount_and_after_batch_and_residency(tmp_path):
    store = open_store(tmp_path, discounts=[
        {"model": "claude-sonnet-4-5", "percent_off": 20, "valid_from": date(2026, 11, 1)}])
    usage = dict(input_tokens=100_000, output_tokens=10_000, cache_read_tokens=50_000, cache_write_1h_tokens=1_000)
    insert(store, "before", "claude-sonnet-4-5", "2026-10-31", **usage)
    insert(store, "after", "claude-sonnet-4-5", "2026-11-02", **usage)
    insert(store, "batch_regional", "claude-sonnet-4-5", "2026-11-02", service_tier="batch",
           platform="bedrock", inference_geo="us-east-1", **usage)
    insert(store, "other_model", "claude-haiku-4-5", "2026-11-02", **usage)
    # Sonnet 4.5 at list: 100,000 x 3 + 10,000 x 15 + 50,000 x 0.3 + 1,000 x 6 = 0.3 + 0.15 + 0.015 + 0.006 = 0.471.
    assert (cost(store, "before"), list_cost(store, "before")) == (Decimal("0.471"), Decimal("0.471"))
    # 20% off: net 0.471 x 0.8 = 0.3768, gross the list price.
    assert (cost(store, "after"), list_cost(store, "after")) == (Decimal("0.3768"), Decimal("0.471"))
    # Batch (x0.5) and regional (x1.1) are list prices of those services: gross 0.471 x 0.55 = 0.25905.
    assert list_cost(store, "batch_regional") == Decimal("0.25905")
    assert cost(store, "batch_regional") == Decimal("0.20724")
    # No discount on Haiku: gross equals net.
    assert list_cost(store, "other_model") == cost(store, "other_model")


def test_stored_list_prices_are_filled_when_a_discount_is_added_later(tmp_path):
    path = tmp_path / "overrides.duckdb"
    store = open_db(path, Config())
    insert(store, "r", "claude-sonnet-4-5", "2026-11-02", input_tokens=10_000)
    pricing.reprice(store)
    assert store.scalar("select cost_list_usd from requests where request_id = 'r'") == Decimal("0.03")
    store.close()
    store = open_db(path, Config(discounts=[{"model": "claude-sonnet-4-5", "factor": 0.5, "valid_from": "2026-01-01"}]))
    # The read-write open re-priced the stored row: net halved, gross unchanged.
    assert store.rows("select cost_usd, cost_list_usd from requests where request_id = 'r'") == [
        (Decimal("0.015"), Decimal("0.03"))]


def test_a_discount_ends_at_its_valid_to(tmp_path):
    store = open_store(tmp_path, discounts=[
        {"model": "claude-haiku-4-5", "factor": 0.5, "valid_from": "2026-11-01", "valid_to": "2026-11-10"}])
    insert(store, "in", "claude-haiku-4-5", "2026-11-09 23:00:00+00", input_tokens=10_000)
    insert(store, "out", "claude-haiku-4-5", "2026-11-10 00:00:00+00", input_tokens=10_000)
    assert cost(store, "in") == Decimal("0.005")
    assert cost(store, "out") == Decimal("0.01")


def test_a_discount_written_with_a_dated_model_id_applies_to_the_model_requests_carry(tmp_path):
    # Requests are stored normalised ('claude-haiku-4-5'); a discount keyed by the snapshot id must match.
    store = open_store(tmp_path, discounts=[
        {"model": "claude-haiku-4-5-20251001", "factor": 0.5, "valid_from": "2026-11-01"}])
    insert(store, "r", "claude-haiku-4-5", "2026-11-02", input_tokens=10_000)
    assert cost(store, "r") == Decimal("0.005")


# --- dated price rows -----------------------------------------------------------------------------


def test_a_config_price_row_overrides_the_catalogue_only_from_its_date(tmp_path):
    store = open_store(tmp_path, prices=[
        {"model": "claude-haiku-4-5", "valid_from": "2026-11-01", "input": 0.8, "output": 4}])
    usage = dict(input_tokens=10_000, cache_read_tokens=100_000, output_tokens=1_000)
    insert(store, "before", "claude-haiku-4-5", "2026-10-31 23:59:59+00", **usage)
    insert(store, "after", "claude-haiku-4-5", "2026-11-01 00:00:00+00", **usage)
    # Catalogue: 10,000 x 1 + 100,000 x 0.10 + 1,000 x 5 = 0.01 + 0.01 + 0.005 = 0.025.
    assert cost(store, "before") == Decimal("0.025")
    # Config: 10,000 x 0.8 + 100,000 x 0.08 (0.1 x 0.8, derived) + 1,000 x 4 = 0.008 + 0.008 + 0.004 = 0.02.
    assert cost(store, "after") == Decimal("0.02")
    history = pricing.show_model(store, "claude-haiku-4-5")["prices"]
    assert history["origin"].to_list() == ["builtin", "config"]


def test_a_config_price_row_without_bands_replaces_the_catalogues_long_context_band_too(tmp_path):
    # The catalogue bills Haiku 5.5 prompts over 100K at $0.50/$2.50. A negotiated flat rate from a date
    # replaces the model's whole card; prompts over 100K must not stay at the catalogue's high band.
    store = open_store(tmp_path, prices=[
        {"model": "claude-haiku-5-5", "valid_from": "2026-11-01", "input": 0.08, "output": 0.40}])
    insert(store, "before", "claude-haiku-5-5", "2026-10-20", input_tokens=150_000, output_tokens=1_000)
    insert(store, "after", "claude-haiku-5-5", "2026-11-02", input_tokens=150_000, output_tokens=1_000)
    # Catalogue high band: 150,000 x 0.50 / 1e6 + 1,000 x 2.50 / 1e6 = 0.075 + 0.0025 = 0.0775.
    assert cost(store, "before") == Decimal("0.0775")
    # Config flat rate: 150,000 x 0.08 / 1e6 + 1,000 x 0.40 / 1e6 = 0.012 + 0.0004 = 0.0124.
    assert cost(store, "after") == Decimal("0.0124")


def test_a_config_price_row_can_carry_its_own_band(tmp_path):
    store = open_store(tmp_path, prices=[
        {"model": "claude-haiku-5-5", "valid_from": "2026-11-01", "input": 0.08, "output": 0.40},
        {"model": "claude-haiku-5-5", "valid_from": "2026-11-01", "band_min_tokens": 100_001, "input": 0.40,
         "output": 2}])
    insert(store, "low", "claude-haiku-5-5", "2026-11-02", input_tokens=100_000, output_tokens=1_000)
    insert(store, "high", "claude-haiku-5-5", "2026-11-02", input_tokens=100_001, output_tokens=1_000)
    assert cost(store, "low") == Decimal("0.0084")       # 100,000 x 0.08 + 1,000 x 0.40, / 1e6
    assert cost(store, "high") == Decimal("0.0420004")   # 100,001 x 0.40 + 1,000 x 2, / 1e6


def test_a_config_price_row_written_with_a_snapshot_id_prices_the_normalised_model(tmp_path):
    store = open_store(tmp_path, prices=[
        {"model": "claude-haiku-4-5-20251001", "valid_from": "2026-11-01", "input": 0.8, "output": 4}])
    insert(store, "r", "claude-haiku-4-5", "2026-11-02", input_tokens=10_000)
    assert cost(store, "r") == Decimal("0.008")


def test_overrides_read_from_a_costlab_toml_take_effect(tmp_path):
    (tmp_path / "costlab.toml").write_text(
        """
[[models]]
id = "acme-claude-ft-1"
tier = "haiku"

[[prices]]
model = "acme-claude-ft-1"
valid_from = 2026-01-01
input = 0.5
output = 2.5

[[discounts]]
platform = "anthropic"
percent_off = 10
valid_from = 2026-11-01
""",
        encoding="utf-8",
    )
    config = load_config()
    store = open_db(tmp_path / "toml.duckdb", config)
    insert(store, "r", "acme-claude-ft-1", "2026-11-02", input_tokens=100_000, output_tokens=10_000)
    # (100,000 x 0.5 + 10,000 x 2.5) / 1e6 = 0.05 + 0.025 = 0.075; 10% off: 0.0675.
    assert cost(store, "r") == Decimal("0.0675")
    assert store.scalar("select tier from costed_requests") == "haiku"


def test_changing_the_config_reprices_an_existing_store(tmp_path):
    store = open_store(tmp_path)
    insert(store, "r", "claude-haiku-4-5", "2026-11-02", input_tokens=10_000)
    assert cost(store, "r") == Decimal("0.01")
    store.close()
    store = open_store(tmp_path, discounts=[{"model": "claude-haiku-4-5", "factor": 0.5, "valid_from": "2026-01-01"}])
    assert cost(store, "r") == Decimal("0.005")
    store.close()
    store = open_store(tmp_path)
    assert cost(store, "r") == Decimal("0.01")


# --- malformed overrides --------------------------------------------------------------------------

BAD = [
    pytest.param(dict(prices=[{"model": "claude-x", "valid_from": "2026-01-01", "input": 1}]),
                 ["price entry 1 (claude-x)", "output"], id="price_without_output"),
    pytest.param(dict(prices=[{"model": "claude-x", "valid_from": "2026-01-01", "input": 1, "ouput": 5, "output": 5}]),
                 ["price entry 1 (claude-x)", "'ouput'", "'output'"], id="price_key_typo_with_suggestion"),
    pytest.param(dict(prices=[{"model": "claude-x", "valid_from": "2026-01-01", "input": -1, "output": 5}]),
                 ["price entry 1 (claude-x)", "negative"], id="negative_price"),
    pytest.param(dict(prices=[{"model": "claude-x", "valid_from": "2026-01-01", "input": "cheap", "output": 5}]),
                 ["price entry 1 (claude-x)", "'cheap'"], id="price_not_a_number"),
    pytest.param(dict(prices=[{"model": "claude-x", "valid_from": "2026-01-01", "input": float("nan"), "output": 5}]),
                 ["price entry 1 (claude-x)", "nan"], id="price_nan"),
    pytest.param(dict(prices=[{"model": "claude-x", "valid_from": "next tuesday", "input": 1, "output": 5}]),
                 ["price entry 1 (claude-x)", "next tuesday"], id="price_date_unreadable"),
    pytest.param(dict(prices=[{"model": "claude-x", "valid_from": "2026-01-01", "input": 1, "output": 5,
                               "band_min_tokens": "100k"}]),
                 ["price entry 1 (claude-x)", "band_min_tokens", "100k"], id="band_not_a_number"),
    pytest.param(dict(prices=[{"model": "claude-x", "valid_from": "2026-01-01", "input": 1, "output": 5,
                               "speed": "turbo"}]),
                 ["price entry 1 (claude-x)", "turbo"], id="unknown_speed"),
    pytest.param(dict(prices=[{"model": "claude-x", "valid_from": "2026-02-01", "valid_to": "2026-01-01",
                               "input": 1, "output": 5}]),
                 ["price entry 1 (claude-x)", "valid_to"], id="price_ends_before_it_starts"),
    pytest.param(dict(discounts=[{"modle": "claude-haiku-4-5", "factor": 0.9, "valid_from": "2026-01-01"}]),
                 ["discount entry 1", "'modle'", "'model'"], id="discount_key_typo_would_discount_everything"),
    pytest.param(dict(discounts=[{"model": "claude-haiku-4-5", "percent_off": 120, "valid_from": "2026-01-01"}]),
                 ["discount entry 1 (claude-haiku-4-5", "-0.2"], id="discount_over_100_percent"),
    pytest.param(dict(discounts=[{"model": "claude-haiku-4-5", "factor": 8, "valid_from": "2026-01-01"}]),
                 ["discount entry 1 (claude-haiku-4-5", "percent_off"], id="discount_factor_above_one"),
    pytest.param(dict(discounts=[{"model": "claude-haiku-4-5", "factor": 0.9}]),
                 ["discount entry 1 (claude-haiku-4-5", "valid_from"], id="discount_without_date"),
    pytest.param(dict(discounts=[{"model": "claude-haiku-4-5", "valid_from": "2026-01-01"}]),
                 ["discount entry 1 (claude-haiku-4-5", "percent_off"], id="discount_without_amount"),
    pytest.param(dict(discounts=[{"platform": "bedrok", "factor": 0.9, "valid_from": "2026-01-01"}]),
                 ["discount entry 1", "'bedrok'", "'bedrock'"], id="discount_platform_typo"),
    pytest.param(dict(discounts=[{"model": "claude-haiku-4-6", "factor": 0.9, "valid_from": "2026-01-01"}]),
                 ["unknown model 'claude-haiku-4-6'", "Did you mean"], id="discount_for_a_model_nothing_prices"),
    pytest.param(dict(models=[{"id": "acme-ft", "teir": "sonnet"}]),
                 ["model entry 1 (acme-ft)", "'teir'", "'tier'"], id="model_key_typo"),
    pytest.param(dict(models=[{"tier": "sonnet"}]), ["model entry 1", "no id"], id="model_without_id"),
]


@pytest.mark.parametrize(("config", "fragments"), BAD)
def test_a_malformed_override_is_a_config_error_naming_the_entry(tmp_path, config, fragments):
    with pytest.raises(ConfigError) as raised:
        open_store(tmp_path, **config)
    message = str(raised.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"


def test_the_price_card_is_built_for_exactly_the_platforms_discounts_accept(tmp_path):
    store = open_store(tmp_path)
    assert {r[0] for r in store.rows("select distinct platform from price_card")} == set(pricing.PLATFORMS)


# --- LiteLLM import ---------------------------------------------------------------------------------


@pytest.fixture
def litellm_file(tmp_path):
    # A copy under a neutral name: the imported rows' source names the file.
    return Path(shutil.copy(LITELLM, tmp_path / "model_prices_and_context_window.json"))


def import_prices(store: Store) -> set[tuple[str, int]]:
    return set(store.rows("select model, band_min_tokens from prices where origin = 'import'"))


def test_litellm_import_adds_only_the_models_the_catalogue_lacks(tmp_path, litellm_file):
    store = open_store(tmp_path)
    insert(store, "old_sonnet", "claude-3-5-sonnet-20241022", "2025-06-01", input_tokens=10_000,
           cache_write_5m_tokens=10_000, output_tokens=1_000)
    assert cost(store, "old_sonnet") is None          # unpriced until the import

    result = pricing.import_litellm(store, litellm_file)

    assert sorted(zip(result["model"], result["band_min_tokens"])) == [
        ("claude-3-5-sonnet-20241022", 0), ("claude-4-sonnet-20250514", 0), ("claude-4-sonnet-20250514", 200001)]
    assert import_prices(store) == {
        ("claude-3-5-sonnet-20241022", 0), ("claude-4-sonnet-20250514", 0), ("claude-4-sonnet-20250514", 200001)}
    # 10,000 x 3 / 1e6 + 10,000 x 3.75 / 1e6 + 1,000 x 15 / 1e6 = 0.03 + 0.0375 + 0.015 = 0.0825.
    assert cost(store, "old_sonnet") == Decimal("0.0825")
    model = store.frame("select * from models where model = 'claude-3-5-sonnet-20241022'").row(0, named=True)
    assert model["tier"] == "sonnet" and model["origin"] == "import"
    assert str(model["retirement_date"]) == "2025-10-22"
    assert "model_prices_and_context_window.json: claude-3-5-sonnet-20241022" in store.scalar(
        "select source from prices where model = 'claude-3-5-sonnet-20241022'")


def test_litellm_import_keeps_the_catalogue_price_where_the_map_disagrees(tmp_path, litellm_file):
    # LiteLLM's claude-3-haiku-20240307 has a 1h write of 6e-06 (the reference says $0.50/MTok is right).
    store = open_store(tmp_path)
    pricing.import_litellm(store, litellm_file)
    insert(store, "h", "claude-3-haiku-20240307", "2026-01-01", cache_write_1h_tokens=1_000_000)
    assert cost(store, "h") == Decimal("0.50")


def test_litellm_import_with_override_wins_over_the_catalogue(tmp_path, litellm_file):
    store = open_store(tmp_path)
    pricing.import_litellm(store, litellm_file, override=True)
    assert ("claude-3-haiku-20240307", 0) in import_prices(store)
    assert ("claude-haiku-4-5", 0) in import_prices(store)
    insert(store, "h", "claude-3-haiku-20240307", "2026-01-01", cache_write_1h_tokens=1_000_000)
    assert cost(store, "h") == Decimal("6")            # 1,000,000 x 6e-06: the map's figure now rules
    # The catalogue entry of the model (tier, lifecycle) stays; only the price is overridden.
    assert store.scalar("select origin from models where model = 'claude-3-haiku-20240307'") == "builtin"


def test_litellm_above_200k_rates_bill_the_whole_request_over_200k(tmp_path, litellm_file):
    store = open_store(tmp_path)
    pricing.import_litellm(store, litellm_file)
    insert(store, "at", "claude-4-sonnet-20250514", "2026-01-01", input_tokens=150_000,
           cache_write_1h_tokens=50_000, output_tokens=10_000)
    insert(store, "over", "claude-4-sonnet-20250514", "2026-01-01", input_tokens=150_001,
           cache_write_1h_tokens=50_000, output_tokens=10_000)
    # Prompt 200,000: 150,000 x 3 + 50,000 x 6 (1h) + 10,000 x 15, / 1e6 = 0.45 + 0.3 + 0.15 = 0.9.
    assert cost(store, "at") == Decimal("0.9")
    # Prompt 200,001, all at the >200K rates: 150,001 x 6 + 50,000 x 12 + 10,000 x 22.50, / 1e6
    #   = 0.900006 + 0.6 + 0.225 = 1.725006.
    # The entry has no 1h-write rate above 200K; it scales with input (2 x 6 = 12), not the <=200K $6
    # (which would give 1.425006).
    assert cost(store, "over") == Decimal("1.725006")


def test_litellm_import_skips_sample_spec_and_non_chat_entries(tmp_path, litellm_file):
    store = open_store(tmp_path)
    # match='' takes every key, so only the sample_spec and mode rules keep these entries out.
    pricing.import_litellm(store, litellm_file, match="")
    imported = {m for m, _ in import_prices(store)}
    assert imported == {"claude-3-5-sonnet-20241022", "claude-4-sonnet-20250514"}
    assert store.scalar("select count(*) from prices where input = 0 or output = 0") == 0


def test_litellm_import_from_a_date_prices_only_later_requests(tmp_path, litellm_file):
    store = open_store(tmp_path)
    pricing.import_litellm(store, litellm_file, valid_from=date(2026, 1, 1))
    insert(store, "before", "claude-3-5-sonnet-20241022", "2025-12-31 23:59:59+00", input_tokens=1_000)
    insert(store, "after", "claude-3-5-sonnet-20241022", "2026-01-01 00:00:00+00", input_tokens=1_000)
    assert cost(store, "before") is None
    assert cost(store, "after") == Decimal("0.003")


def test_importing_the_same_map_twice_adds_no_duplicate_rows(tmp_path, litellm_file):
    store = open_store(tmp_path)
    pricing.import_litellm(store, litellm_file)
    first = store.scalar("select count(*) from prices where origin = 'import'")
    pricing.import_litellm(store, litellm_file)
    assert store.scalar("select count(*) from prices where origin = 'import'") == first == 3
    insert(store, "r", "claude-3-5-sonnet-20241022", "2026-01-01", input_tokens=1_000)
    assert store.scalar("select count(*) from costed_requests") == 1


def test_imported_prices_survive_reopening_the_store(tmp_path, litellm_file):
    store = open_store(tmp_path)
    pricing.import_litellm(store, litellm_file)
    store.close()
    store = open_store(tmp_path, discounts=[{"model": "claude-3-5-sonnet-20241022", "factor": 0.5,
                                              "valid_from": "2026-01-01"}])
    insert(store, "r", "claude-3-5-sonnet-20241022", "2026-01-02", input_tokens=1_000)
    assert cost(store, "r") == Decimal("0.0015")      # 1,000 x 3 / 1e6 x 0.5


# --- unpriced ---------------------------------------------------------------------------------------


def test_unpriced_lists_each_unpriced_model_with_its_reason_and_counts(tmp_path):
    store = open_store(tmp_path)
    assert pricing.unpriced(store).is_empty()
    insert(store, "ok", "claude-haiku-4-5", "2026-11-02", input_tokens=10)
    assert pricing.unpriced(store).is_empty()
    insert(store, "u1", "claude-nonexistent-9", "2026-11-02", input_tokens=100, output_tokens=5)
    insert(store, "u2", "claude-nonexistent-9", "2026-11-03", cache_read_tokens=1_000, output_tokens=7)
    insert(store, "early", "claude-sonnet-5-5", "2026-09-01", input_tokens=10)
    frame = pricing.unpriced(store).sort("model")
    rows = frame.select("model", "reason", "requests", "prompt_tokens", "output_tokens").rows()
    assert rows == [
        ("claude-nonexistent-9", "no price for model claude-nonexistent-9", 2, 1_100, 12),
        ("claude-sonnet-5-5", "no price for claude-sonnet-5-5 in force at 2026-09-01", 1, 10, 0),
    ]
    assert str(frame["first_seen"][0])[:10] == "2026-11-02" and str(frame["last_seen"][0])[:10] == "2026-11-03"


def test_litellm_import_of_a_model_costlab_toml_describes_keeps_the_toml_entry_and_price(tmp_path, litellm_file):
    store = open_store(
        tmp_path,
        models=[{"id": "claude-3-5-sonnet-20241022", "tier": "legacy-sonnet"}],
        prices=[{"model": "claude-3-5-sonnet-20241022", "valid_from": "2025-01-01", "input": 2.4, "output": 12}],
    )
    pricing.import_litellm(store, litellm_file)
    insert(store, "r", "claude-3-5-sonnet-20241022", "2025-06-01", input_tokens=10_000, output_tokens=1_000)
    # The negotiated costlab.toml rate outranks the map: 10,000 x 2.4 / 1e6 + 1,000 x 12 / 1e6 = 0.036.
    assert cost(store, "r") == Decimal("0.036")
    assert store.rows("select tier, origin from models where model = 'claude-3-5-sonnet-20241022'") == [
        ("legacy-sonnet", "config")]


def test_a_litellm_entry_with_a_non_numeric_price_is_an_input_error_naming_it(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"claude-x-1": {"mode": "chat", "litellm_provider": "anthropic", '
                   '"input_cost_per_token": "three dollars", "output_cost_per_token": 1.5e-05}}', encoding="utf-8")
    store = open_store(tmp_path)
    with pytest.raises(InputError, match=r"claude-x-1\.input_cost_per_token"):
        pricing.import_litellm(store, bad)
    assert store.scalar("select count(*) from prices where origin = 'import'") == 0


def test_a_discount_for_a_model_the_logs_carry_can_be_written_before_its_price_is_imported(tmp_path, litellm_file):
    store = open_store(tmp_path)
    insert(store, "r", "claude-3-5-sonnet-20241022", "2026-01-02", input_tokens=1_000)
    store.close()
    discount = [{"model": "claude-3-5-sonnet-20241022", "factor": 0.5, "valid_from": "2026-01-01"}]
    store = open_store(tmp_path, discounts=discount)      # opens: the model is in the logs
    assert cost(store, "r") is None
    pricing.import_litellm(store, litellm_file)
    assert cost(store, "r") == Decimal("0.0015")          # 1,000 x 3 / 1e6 x 0.5
