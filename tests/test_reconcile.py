"""Admin API usage/cost reports into usage_buckets (files and `pull-usage` against a loopback
server), and `reconcile`: missing logs show as a token gap, pricing differences as a cost gap,
gateway spend against costlab's price; flagged rows make a non-zero exit."""

from __future__ import annotations

import json
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest
import typer
from typer.testing import CliRunner

from costlab.cli import pull_usage as pull_usage_command, reconcile as reconcile_command
from costlab.config import Config
from costlab.ingest import ingest_paths
from costlab.reconcile import reconcile
from costlab.store import Store

from helpers import FIXTURES

SRC = FIXTURES / "sources"
LOGS = [  # (ts, model, tier, input, output): see tests/fixtures/sources/admin_*_report.*
    ("2026-11-16T10:00:00Z", "claude-sonnet-5-5", "standard", 1000, 100),
    ("2026-11-16T11:00:00Z", "claude-sonnet-5-5", "standard", 1000, 100),
    ("2026-11-16T12:00:00Z", "claude-haiku-5-5", "standard", 1000, 0),   # the report counted 5000: logs missing
    ("2026-11-17T10:00:00Z", "claude-opus-5-5", "standard", 1000, 100),  # billed 20% above list: pricing
    ("2026-11-17T11:00:00Z", "claude-sonnet-5-5", "batch", 2000, 0),
    ("2026-11-20T11:00:00Z", "claude-sonnet-5-5", "standard", 5, 5),     # a day no report covers: not compared
]


def app():
    a = typer.Typer(rich_markup_mode=None, pretty_exceptions_enable=False)
    reconcile_command.register(a)
    pull_usage_command.register(a)
    return a


@pytest.fixture
def logged(new_store, tmp_path):
    path = tmp_path / "logs.jsonl"
    path.write_text("".join(json.dumps(dict(request_id=f"r{i}", ts=ts, model=m, service_tier=t, input_tokens=a, output_tokens=b)) + "\n"
                            for i, (ts, m, t, a, b) in enumerate(LOGS)))
    db = tmp_path / "r.duckdb"
    store = new_store(db)
    ingest_paths(store, [str(path)])
    yield store, db
    store.close()


def test_report_files_load_into_usage_buckets_with_cents_as_dollars(logged):
    store, _ = logged
    summary = ingest_paths(store, [str(SRC / "admin_usage_report.json"), str(SRC / "admin_cost_report.jsonl")])
    assert [(f.format, f.rows_added, f.rows_rejected) for f in summary.files] == [("admin-report", 4, 0), ("admin-report", 6, 0)]
    assert store.scalar("select sum(amount_usd) from usage_buckets where report = 'cost'") == Decimal("0.015700000")
    assert store.rows("select model, cache_write_5m_tokens, uncached_input_tokens from usage_buckets "
                      "where report = 'usage' and starting_at = '2026-11-16' order by model") == [
        ("claude-haiku-5-5", 0, 5000), ("claude-sonnet-5-5", 0, 2000)]


def test_reloading_a_bucket_replaces_it_instead_of_adding_it_twice(logged, tmp_path):
    store, _ = logged
    ingest_paths(store, [str(SRC / "admin_cost_report.jsonl")])
    page = json.loads((SRC / "admin_cost_report.jsonl").read_text().splitlines()[0])
    page["data"][0]["results"][0]["amount"] = "0.5"  # the provider revised the open day
    revised = tmp_path / "revised.json"
    revised.write_text(json.dumps(page))
    ingest_paths(store, [str(revised)])
    assert store.scalar("select count(*) from usage_buckets") == 6
    assert store.scalar("select sum(amount_usd) from usage_buckets where starting_at = '2026-11-16'") == Decimal("0.007500000")


def test_bad_report_results_are_rejected_with_reasons_and_good_ones_kept(logged):
    store, _ = logged
    result = ingest_paths(store, [str(SRC / "admin_report_bad.json")]).files[0]
    assert (result.rows_read, result.rows_added, result.rows_rejected) == (5, 1, 4)
    reasons = sorted(r[0].split(":")[0] for r in store.rows("select reason from rejects"))
    assert reasons == ["a usage result with no token counts", "amount is not a decimal string", "currency is not USD",
                       "starting_at is not a timestamp"]


def test_reconcile_shows_missing_logs_as_a_token_gap_and_mispricing_as_a_cost_gap(logged):
    store, _ = logged
    ingest_paths(store, [str(SRC / "admin_usage_report.json"), str(SRC / "admin_cost_report.jsonl")])
    result = reconcile(store)
    got = {(str(r["day"]), r["model"], r["service_tier"]): r for r in result.rows.to_dicts()}
    assert set(got) == {("2026-11-16", "claude-sonnet-5-5", "standard"), ("2026-11-16", "claude-haiku-5-5", "standard"),
                        ("2026-11-17", "claude-opus-5-5", "standard"), ("2026-11-17", "claude-sonnet-5-5", "batch")}
    ok = got[("2026-11-16", "claude-sonnet-5-5", "standard")]
    assert (ok["flagged"], ok["token_gap"], ok["cost_gap_usd"], ok["computed_usd"]) == (False, 0, Decimal(0), Decimal("0.006"))
    missing = got[("2026-11-16", "claude-haiku-5-5", "standard")]
    assert (missing["flagged"], missing["token_gap"], missing["token_gap_share"]) == (True, 4000, 0.8)
    assert missing["finding"].startswith("token gap: the provider counted more")
    priced = got[("2026-11-17", "claude-opus-5-5", "standard")]
    assert (priced["flagged"], priced["token_gap"], priced["cost_gap_usd"]) == (True, 0, Decimal("0.0012"))
    assert priced["finding"].startswith("cost gap with matching tokens")
    assert got[("2026-11-17", "claude-sonnet-5-5", "batch")]["flagged"] is False
    assert result.flagged == 2
    # A wide enough tolerance accepts the 20% pricing gap, not the 80% token gap.
    assert reconcile(store, tolerance=0.25).flagged == 1


def test_gateway_spend_is_reconciled_against_costlabs_price(store):
    ingest_paths(store, [str(SRC / "litellm_spendlogs.csv")])
    rows = {(r["model"], r["basis"]): r for r in reconcile(store).rows.to_dicts()}
    assert rows[("claude-sonnet-5-5", "litellm")]["flagged"] is False
    haiku = rows[("claude-haiku-5-5", "litellm")]  # bedrock haiku spend 0.000605 vs 0.0000825 priced, plus anthropic haiku
    assert haiku["flagged"] and haiku["finding"].startswith("cost gap")
    assert not any(b == "admin" for _, b in rows)  # no reports loaded: no admin comparison


def test_reconcile_command_prints_json_and_exits_5_when_flagged(logged):
    store, db = logged
    ingest_paths(store, [str(SRC / "admin_usage_report.json"), str(SRC / "admin_cost_report.jsonl")])
    store.close()
    res = CliRunner().invoke(app(), ["reconcile", "--db", str(db), "--format", "json"])
    assert res.exit_code == 5, res.output
    doc = json.loads(res.stdout)
    assert doc["flagged"] == 2 and doc["tolerance"] == 0.01 and len(doc["rows"]) == 4
    res = CliRunner().invoke(app(), ["reconcile", "--db", str(db), "--since", "2026-11-17", "--until", "2026-11-18",
                                     "--tolerance", "0.25"])
    assert res.exit_code == 0, res.output
    assert "claude-opus-5-5" in res.stdout
    res = CliRunner().invoke(app(), ["reconcile", "--db", str(db), "--tolerance", "2"])
    assert res.exit_code == 2 and "--tolerance 2.0" in res.output


# -- pull-usage against a loopback Admin API ----------------------------------------------------------
class AdminAPI(BaseHTTPRequestHandler):
    pages: dict[str, list[dict]] = {}
    seen: list[tuple[str, dict, str]] = []
    fail_first: list[int] = []

    def do_GET(self):  # noqa: N802
        url = urlparse(self.path)
        query = parse_qs(url.query)
        type(self).seen.append((url.path, query, self.headers.get("x-api-key")))
        if self.headers.get("x-api-key") != "sk-ant-admin-test":
            return self._send(401, {"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}})
        if type(self).fail_first:
            return self._send(type(self).fail_first.pop(), {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}},
                              {"retry-after": "0"})
        pages = type(self).pages[url.path]
        index = int(query.get("page", ["0"])[0])
        body = dict(pages[index], has_more=index + 1 < len(pages), next_page=str(index + 1) if index + 1 < len(pages) else None)
        self._send(200, body)

    def _send(self, code, body, headers=None):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("content-type", "application/json")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def admin_api():
    usage = json.loads((SRC / "admin_usage_report.json").read_text())
    cost = [json.loads(line) for line in (SRC / "admin_cost_report.jsonl").read_text().splitlines()]
    AdminAPI.pages = {"/v1/organizations/usage_report/messages": [{"data": usage["data"][:1]}, {"data": usage["data"][1:]}],
                      "/v1/organizations/cost_report": [{"data": p["data"]} for p in cost]}
    AdminAPI.seen, AdminAPI.fail_first = [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), AdminAPI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_pull_usage_follows_pages_retries_429_and_loads_both_reports(logged, admin_api, monkeypatch, tmp_path):
    store, db = logged
    store.close()
    monkeypatch.setenv("ANTHROPIC_ADMIN_KEY", "sk-ant-admin-test")
    AdminAPI.fail_first = [429]
    res = CliRunner().invoke(app(), ["pull-usage", "--since", "2026-11-16", "--until", "2026-11-19", "--db", str(db),
                                     "--base-url", admin_api, "--save", str(tmp_path / "pages")])
    assert res.exit_code == 0, res.output
    assert "usage report: 2 pages, cost report: 2 pages; 10 buckets loaded" in res.output
    first = AdminAPI.seen[0][1]
    assert (first["starting_at"], first["ending_at"], first["bucket_width"]) == (["2026-11-16T00:00:00Z"], ["2026-11-19T00:00:00Z"], ["1d"])
    assert first["group_by[]"] == ["model", "service_tier", "context_window"]
    assert all(key == "sk-ant-admin-test" for _, _, key in AdminAPI.seen)
    assert sorted(p.name for p in (tmp_path / "pages").iterdir()) == [
        "cost_report_2026-11-16_2026-11-19.jsonl", "usage_report_2026-11-16_2026-11-19.jsonl"]
    res = CliRunner().invoke(app(), ["reconcile", "--db", str(db), "--format", "json"])
    assert json.loads(res.stdout)["flagged"] == 2


def test_pull_usage_needs_the_admin_key_and_says_so_when_it_is_refused(logged, admin_api, monkeypatch):
    store, db = logged
    store.close()
    res = CliRunner().invoke(app(), ["pull-usage", "--since", "2026-11-16", "--db", str(db), "--base-url", admin_api])
    assert res.exit_code == 2 and "ANTHROPIC_ADMIN_KEY" in res.output
    monkeypatch.setenv("ANTHROPIC_ADMIN_KEY", "sk-ant-api03-wrong")
    res = CliRunner().invoke(app(), ["pull-usage", "--since", "2026-11-16", "--db", str(db), "--base-url", admin_api])
    assert res.exit_code == 1
    assert "HTTP 401: invalid x-api-key (is ANTHROPIC_ADMIN_KEY an Admin key" in res.output
    assert "Traceback" not in res.output


def test_reconcile_with_nothing_to_compare_exits_6_and_names_what_is_missing(logged):
    """Logs but no usage report, no cost report and no reported cost: nothing was checked, so no pass."""
    store, db = logged
    result = reconcile(store)
    assert result.rows.height == 0 and result.flagged == 0
    assert result.missing.startswith("Nothing to reconcile: no Admin API usage report, no Admin API cost report")
    assert "6 logged requests in the window" in result.missing
    store.close()
    for fmt in ("table", "json"):
        res = CliRunner().invoke(app(), ["reconcile", "--db", str(db), "--format", fmt])
        assert res.exit_code == 6, res.output
        assert "pull-usage" in res.stderr and "admin report file" in res.stderr and "reported cost" in res.stderr
        assert "0 flagged" not in res.output


def test_reconcile_window_outside_the_reports_is_nothing_checked_inside_it_is_checked(logged):
    store, db = logged
    ingest_paths(store, [str(SRC / "admin_usage_report.json"), str(SRC / "admin_cost_report.jsonl")])
    assert reconcile(store).missing is None
    store.close()
    res = CliRunner().invoke(app(), ["reconcile", "--db", str(db), "--since", "2026-11-20", "--until", "2026-11-21"])
    assert res.exit_code == 6 and "1 logged requests in the window" in res.stderr


# -- sampled logs: the logged side is weighted against the full usage report, gateways row to row ------
SAMPLED = [  # (ts, model, input, output, reported cost): two rows of a 1-in-1000 sample on one day
    ("2026-11-16T10:00:00Z", "claude-sonnet-5-5", 1000, 100, "0.003"),   # priced 1000 x $2/M + 100 x $10/M = $0.003
    ("2026-11-16T11:00:00Z", "claude-sonnet-5-5", 3000, 300, "0.009"),   # $0.009
]


def _usage_report(path, uncached, output, cost_cents):
    """A one-day usage report and cost report for claude-sonnet-5-5 standard on 2026-11-16 (cost in cents)."""
    bucket = {"starting_at": "2026-11-16T00:00:00Z", "ending_at": "2026-11-17T00:00:00Z"}
    usage = {"data": [dict(bucket, results=[{
        "uncached_input_tokens": uncached, "cache_read_input_tokens": 0,
        "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
        "output_tokens": output, "server_tool_use": {"web_search_requests": 0}, "api_key_id": None,
        "workspace_id": None, "model": "claude-sonnet-5-5", "service_tier": "standard", "context_window": "0-200k"}])],
        "has_more": False, "next_page": None}
    cost = {"data": [dict(bucket, results=[{
        "currency": "USD", "amount": cost_cents, "workspace_id": None, "description": "Claude Sonnet 5.5 Usage",
        "cost_type": "tokens", "context_window": "0-200k", "model": "claude-sonnet-5-5", "service_tier": "standard",
        "token_type": "uncached_input_tokens", "inference_geo": "global"}])], "has_more": False, "next_page": None}
    (path / "usage.json").write_text(json.dumps(usage))
    (path / "cost.json").write_text(json.dumps(cost))
    return [str(path / "usage.json"), str(path / "cost.json")]


@pytest.fixture
def sampled(new_store, tmp_path):
    path = tmp_path / "sampled.jsonl"
    path.write_text("".join(json.dumps(dict(request_id=f"s{i}", ts=ts, model=m, service_tier="standard", input_tokens=a,
                                            output_tokens=b, reported_cost_usd=c)) + "\n"
                            for i, (ts, m, a, b, c) in enumerate(SAMPLED)))
    store = new_store(tmp_path / "s.duckdb")
    ingest_paths(store, [str(path)], sample_rate="1/1000")
    assert store.scalar("select sum(sample_weight) from requests") == 2000
    yield store
    store.close()


def test_a_one_in_1000_sample_reconciles_against_the_full_usage_and_cost_report(sampled, tmp_path):
    # 2 rows x 1000: tokens 1000 x (1100 + 3300) = 4,400,000; cost 1000 x $0.012 = $12 = 1200 cents.
    ingest_paths(sampled, _usage_report(tmp_path, 4_000_000, 400_000, "1200"))
    row = next(r for r in reconcile(sampled).rows.to_dicts() if r["basis"] == "admin")
    assert (row["requests"], row["logged_rows"], row["logged_tokens"], row["reported_tokens"], row["token_gap"]) == (
        2000, 2, 4_400_000, 4_400_000, 0)
    assert (row["computed_usd"], row["reported_usd"], row["cost_gap_usd"]) == (Decimal(12), Decimal(12), Decimal(0))
    assert row["flagged"] is False
    # Horvitz-Thompson sampling error: var = sum((w^2 - w) y^2) = 999,000 x (1100^2 + 3300^2) = 1.20879e13 tokens^2,
    # and 999,000 x (0.003^2 + 0.009^2) = 89.91 USD^2.
    assert row["token_se"] == pytest.approx(999_000 ** 0.5 * (1100 ** 2 + 3300 ** 2) ** 0.5)
    assert row["cost_se_usd"] == pytest.approx((999_000 * (0.003 ** 2 + 0.009 ** 2)) ** 0.5)


def test_a_sample_is_flagged_when_the_gap_exceeds_the_tolerance_plus_its_sampling_error(sampled, tmp_path):
    # The report counted 10x what the sample stands for: gap 39.6M > 1% x 44M + 1.96 x 3.48M = 7.25M: flagged.
    ingest_paths(sampled, _usage_report(tmp_path, 40_000_000, 4_000_000, "1200"))
    row = next(r for r in reconcile(sampled).rows.to_dicts() if r["basis"] == "admin")
    assert (row["token_gap"], row["flagged"]) == (39_600_000, True)
    assert row["finding"].startswith("token gap: the provider counted more")
    # 5.6M more than logged (12.7%): beyond the 1% tolerance but inside 44,000 + 1.96 x 3,476,766 = 6.86M: not flagged.
    ingest_paths(sampled, _usage_report(tmp_path, 9_000_000, 1_000_000, "1200"))
    row = next(r for r in reconcile(sampled).rows.to_dicts() if r["basis"] == "admin")
    assert (row["token_gap"], row["flagged"]) == (5_600_000, False)


def test_a_gateways_reported_cost_on_sampled_rows_is_compared_row_to_row_unweighted(sampled):
    rows = [r for r in reconcile(sampled).rows.to_dicts() if r["basis"] != "admin"]
    assert len(rows) == 1
    row = rows[0]
    assert (row["requests"], row["logged_rows"], row["logged_tokens"]) == (2, 2, 4400)
    assert (row["computed_usd"], row["reported_usd"], row["cost_gap_usd"], row["flagged"]) == (
        Decimal("0.012"), Decimal("0.012"), Decimal(0), False)
    assert (row["token_se"], row["cost_se_usd"]) == (0, 0)


def test_a_complete_log_has_no_sampling_error_and_as_many_requests_as_rows(logged):
    store, _ = logged
    ingest_paths(store, [str(SRC / "admin_usage_report.json"), str(SRC / "admin_cost_report.jsonl")])
    for r in reconcile(store).rows.to_dicts():
        assert (r["token_se"], r["cost_se_usd"]) == (0, 0)
        assert r["requests"] == r["logged_rows"]
