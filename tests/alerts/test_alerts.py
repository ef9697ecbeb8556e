"""`costlab alert` against real HTTP servers on 127.0.0.1 that the tests start: delivery and the
Slack blocks, de-duplication across runs, a re-send when the severity changes and one announcement
when a finding clears, retries after a 5xx, a timeout, one destination failing while another is
sent (exit 7), --dry-run, Markdown, and the webhook URL never in the output."""

from __future__ import annotations

import json
import sys
import threading
import time
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from costlab.cli import alert as alert_cli
from costlab.errors import ExitCode

from helpers import one_command_app

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "budgets"))
from budget_traffic import counts, insert  # noqa: E402

NOV = date(2026, 11, 1)
SECRET = "T0SECRET/B0SECRET/hunter2TOKENvalue"


class Hook:
    """A webhook server on 127.0.0.1: records each POST body per path; `plan[path]` is a list of
    (status, delay_s) answers used in turn (the last one repeats); default 200 at once."""

    def __init__(self):
        self.bodies: dict[str, list[bytes]] = {}
        self.plan: dict[str, list[tuple[int, float]]] = {}
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                path = self.path.split("/services/")[0] or "/"
                answers = hook.plan.get(path, [(200, 0.0)])
                status, delay = answers[0] if len(answers) == 1 else answers.pop(0)
                hook.bodies.setdefault(path, []).append(body)
                if delay:
                    time.sleep(delay)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "text/plain")
                    self.end_headers()
                    self.wfile.write(b"ok" if status == 200 else b"server_error")
                except OSError:  # the client gave up (the timeout test)
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}/services/{SECRET}"

    def json(self, path: str) -> list[dict]:
        return [json.loads(b) for b in self.bodies.get(path, [])]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook(monkeypatch):
    h = Hook()
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("SLACK_URL", h.url("/slack"))
    monkeypatch.setenv("HOOK_URL", h.url("/hook"))
    yield h
    h.close()


@pytest.fixture
def traffic(tmp_path, store):
    """A store (./test.duckdb) with four weeks of history and ten days of November, about $3.50 a day."""
    insert(store, counts(NOV - timedelta(days=28), 38))
    store.close()
    return tmp_path


SLACK = '[[alerts]]\nname = "team-slack"\nkind = "slack"\nurl_env = "SLACK_URL"\nbackoff_s = 0.01\n{extra}\n'
HOOK = '[[alerts]]\nname = "ops-hook"\nkind = "webhook"\nurl_env = "HOOK_URL"\nbackoff_s = 0.01\n{extra}\n'


def write_config(path: Path, amount: str = "60", slack: str = "", hook: str = "", more: str = "") -> None:
    """A forecast breach at $60 (medium), a breach at $10 (high), nothing at $1,000."""
    path.joinpath("costlab.toml").write_text(
        f'[[budgets]]\nname = "org"\nperiod = "month"\namount_usd = "{amount}"\n\n'
        + SLACK.format(extra=slack) + HOOK.format(extra=hook) + more)


def run(*args: str):
    result = CliRunner().invoke(one_command_app(alert_cli.register),
                                ["alert", "--db", "test.duckdb", "--through", "2026-11-10", *args])
    assert SECRET not in result.stdout and SECRET not in result.stderr
    assert "hunter2" not in result.stdout + result.stderr
    return result


def test_a_new_finding_reaches_slack_as_blocks_and_the_webhook_as_json(traffic, hook):
    write_config(traffic)
    result = run("--source", "budgets")
    assert result.exit_code == 0, result.stderr
    (slack,) = hook.json("/slack")
    assert slack["text"].startswith("costlab: 1 alert: 1 medium")
    kinds = [b["type"] for b in slack["blocks"]]
    assert kinds[:2] == ["header", "context"] and "section" in kinds
    section = next(b for b in slack["blocks"] if b["type"] == "section")["text"]
    assert section["type"] == "mrkdwn"
    for part in ("*MEDIUM* (new)", "`budget`", "budget=org period=2026-11", "*Impact:* $", "*Evidence:* $",
                 "*Fix:*", "*Drill down:* `costlab sql -F queries/budgets/daily_spend.sql"):
        assert part in section["text"], part
    (body,) = hook.json("/hook")
    (finding,) = body["findings"]
    assert finding["change"] == "new" and finding["severity"] == "medium" and finding["source"] == "budgets"
    assert isinstance(finding["weekly_impact_usd"], str)  # exact money as a string
    assert "team-slack (slack): sent 1 new" in result.stderr


def test_the_same_finding_is_not_sent_twice_and_a_severity_change_is(traffic, hook):
    write_config(traffic)
    assert run("--source", "budgets").exit_code == 0
    again = run("--source", "budgets")
    assert again.exit_code == 0 and "team-slack (slack): nothing new" in again.stderr
    assert len(hook.bodies["/slack"]) == 1 and len(hook.bodies["/hook"]) == 1
    write_config(traffic, amount="10")  # now breached: high
    assert run("--source", "budgets").exit_code == 0
    assert len(hook.bodies["/slack"]) == 2
    (finding,) = hook.json("/hook")[-1]["findings"]
    assert (finding["change"], finding["previous_severity"], finding["severity"]) == ("escalated", "medium", "high")
    assert "(severity up, was medium)" in hook.json("/slack")[-1]["blocks"][2]["text"]["text"]


def test_a_cleared_finding_is_announced_once_where_asked_and_forgotten_quietly_elsewhere(traffic, hook):
    write_config(traffic, slack="announce_clears = true")
    assert run("--source", "budgets").exit_code == 0
    write_config(traffic, amount="1000", slack="announce_clears = true")  # no longer a finding
    assert run("--source", "budgets").exit_code == 0
    assert len(hook.bodies["/slack"]) == 2 and len(hook.bodies["/hook"]) == 1
    assert "cleared" in hook.json("/slack")[-1]["text"]
    assert run("--source", "budgets").exit_code == 0
    assert len(hook.bodies["/slack"]) == 2  # announced once
    write_config(traffic, slack="announce_clears = true")  # back: new again for both
    assert run("--source", "budgets").exit_code == 0
    assert hook.json("/hook")[-1]["findings"][0]["change"] == "new"
    assert len(hook.bodies["/slack"]) == 3


def test_a_5xx_is_retried_with_backoff_and_then_delivered(traffic, hook):
    write_config(traffic)
    hook.plan["/slack"] = [(503, 0.0), (500, 0.0), (200, 0.0)]
    result = run("--source", "budgets")
    assert result.exit_code == 0, result.stderr
    assert len(hook.bodies["/slack"]) == 3
    assert "team-slack (slack): sent 1 new (3 attempts)" in result.stderr


def test_a_timeout_fails_that_destination_only_exit_7_and_it_is_tried_again_next_run(traffic, hook):
    write_config(traffic, slack="timeout_s = 0.2\nretries = 1")
    hook.plan["/slack"] = [(200, 1.5)]
    result = run("--source", "budgets")
    assert result.exit_code == int(ExitCode.ALERT_FAILED) == 7
    assert "team-slack (slack): FAILED after 2 attempts: no answer within 0.2 s (timeout)" in result.stderr
    assert "1 of 2 alert destinations failed: team-slack" in result.stderr
    assert len(hook.bodies["/hook"]) == 1 and "ops-hook (webhook): sent 1 new" in result.stderr
    hook.plan["/slack"] = [(200, 0.0)]
    again = run("--source", "budgets")
    assert again.exit_code == 0
    assert "team-slack (slack): sent 1 new" in again.stderr and "ops-hook (webhook): nothing new" in again.stderr


def test_a_refusing_destination_is_not_retried_and_names_no_url(traffic, hook, monkeypatch):
    write_config(traffic)
    hook.plan["/slack"] = [(404, 0.0)]
    monkeypatch.setenv("HOOK_URL", "http://127.0.0.1:9/services/" + SECRET)  # nothing listens on port 9
    result = run("--source", "budgets")
    assert result.exit_code == 7
    assert len(hook.bodies["/slack"]) == 1  # a 404 is not retried
    assert "team-slack (slack): FAILED after 1 attempt: HTTP 404: server_error" in result.stderr
    assert "ops-hook (webhook): FAILED after 4 attempts: could not connect" in result.stderr


def test_a_missing_or_bad_secret_fails_its_destination_and_says_where_it_comes_from(traffic, hook, monkeypatch):
    write_config(traffic)
    monkeypatch.delenv("SLACK_URL")
    monkeypatch.setenv("HOOK_URL", "file:///etc/passwd#" + SECRET)
    result = run("--source", "budgets")
    assert result.exit_code == 7
    assert "$SLACK_URL is not set" in result.stderr
    assert "$HOOK_URL does not hold an http(s) URL (the value is not shown)" in result.stderr


def test_the_url_can_come_from_a_file(traffic, hook):
    (traffic / "secret.txt").write_text(hook.url("/slack") + "\n")
    (traffic / "costlab.toml").write_text('[[budgets]]\nname = "org"\namount_usd = 60\n'
                                          '[[alerts]]\nname = "s"\nkind = "slack"\nurl_file = "secret.txt"\n')
    assert run("--source", "budgets").exit_code == 0
    assert len(hook.bodies["/slack"]) == 1


def test_dry_run_prints_what_would_be_sent_and_sends_and_remembers_nothing(traffic, hook):
    write_config(traffic)
    result = run("--source", "budgets", "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert hook.bodies == {}
    assert "team-slack (slack): would send 1 new" in result.stderr
    first = json.loads(result.stdout.splitlines()[0])
    assert first["blocks"][0]["type"] == "header"
    assert run("--source", "budgets").exit_code == 0
    assert len(hook.bodies["/slack"]) == 1  # the dry run remembered nothing


def test_markdown_goes_to_stdout_or_a_file_and_below_min_severity_nothing_is_sent(traffic, hook):
    (traffic / "costlab.toml").write_text(
        '[[budgets]]\nname = "org"\namount_usd = 60\n'
        '[[alerts]]\nname = "out"\nkind = "markdown"\n'
        '[[alerts]]\nname = "notes"\nkind = "markdown"\npath = "notes/alerts.md"\nappend = true\n'
        '[[alerts]]\nname = "pager"\nkind = "slack"\nurl_env = "SLACK_URL"\nmin_severity = "high"\n')
    result = run("--source", "budgets")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("## costlab: 1 alert: 1 medium")
    assert "1. **medium** (new) `budget` budget=org period=2026-11 ($" in result.stdout
    assert "   - drill down: `costlab sql -F queries/budgets/daily_spend.sql" in result.stdout
    assert (traffic / "notes" / "alerts.md").read_text().startswith("## costlab: 1 alert")
    assert "/slack" not in hook.bodies and "pager (slack): nothing new" in result.stderr


def test_signals_findings_are_sent_with_their_detector_query(traffic, hook, tmp_path):
    """The signals source: requests on a model with no price are a finding (data quality) like any other."""
    from costlab.config import Config
    from costlab.open import open_store

    with open_store(traffic / "test.duckdb", Config()) as s:
        insert(s, {date(2026, 11, 9): 400}, prefix="u", model="'claude-nova-1'")
    write_config(traffic)
    result = run()
    assert result.exit_code == 0, result.stderr
    findings = hook.json("/hook")[0]["findings"]
    by_source = {f["source"] for f in findings}
    assert by_source == {"signals", "budgets"}, findings
    unpriced = next(f for f in findings if f["signal"] == "unpriced")
    assert unpriced["segment"] == "model=claude-nova-1" and unpriced["query"] == "queries/signals/data_quality.sql"
    assert unpriced["drill_down"] == "costlab sql -F queries/signals/data_quality.sql"


def test_log_text_cannot_mention_or_link_in_slack(traffic, hook):
    from costlab.config import Config
    from costlab.open import open_store

    with open_store(traffic / "test.duckdb", Config()) as s:
        insert(s, {date(2026, 11, 9): 400}, prefix="u", model="'<!channel> <http://evil.example|click>'")
    write_config(traffic, amount="1000")
    assert run("--source", "signals").exit_code == 0
    text = json.dumps(hook.json("/slack"))
    assert "<!channel>" not in text and "<http://evil" not in text and "&lt;!channel&gt;" in text


@pytest.mark.parametrize("toml, message", [
    ('[[alerts]]\nname = "a"\nkind = "slack"\n', "exactly one of url_env"),
    ('[[alerts]]\nname = "a"\nkind = "slack"\nurl_env = "X"\nurl_file = "y"\n', "exactly one of url_env"),
    ('[[alerts]]\nname = "a"\nkind = "sms"\n', "kind must be one of"),
    ('[[alerts]]\nname = "a"\nkind = "markdown"\nsources = ["signal"]\n', "Did you mean 'signals'"),
    ('[[alerts]]\nname = "a"\nkind = "markdown"\nretries = -1\n', "retries must be a whole number"),
    ('db = "x"\n', "no [[alerts]]"),
])
def test_bad_alert_settings_are_a_usage_error(traffic, toml, message):
    (traffic / "costlab.toml").write_text(toml)
    result = run()
    assert result.exit_code == 2 and message in result.stderr, result.stderr
