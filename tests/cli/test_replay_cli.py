"""`costlab replay` on the command line (CliRunner on a fresh app with register()), and a real kill + resume."""

from __future__ import annotations

import io
import re
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from costlab.testing import TestServer
from helpers import FIXTURES, KILL_SCRIPT, ROOT, SECRET, invoke, run_on_terminal

ROUTELLM = FIXTURES / "routellm"


def test_dry_run_prints_the_estimate_and_sends_nothing(env):
    with TestServer() as server:
        r = invoke("--sample", "6", "--tiers", "haiku,sonnet", "--dry-run", "--run", "d", "--format", "csv",
                   "--base-url", server.url)
        assert server.count(None) == 0
    assert r.exit_code == 0, r.output
    est = pl.read_csv(io.StringIO(r.stdout))
    assert est["tier"].to_list() == ["haiku", "sonnet"] and est["requests"].to_list() == [6, 6]
    assert "30 logged requests qualify" in r.stderr and "run d: 6 requests x 2 tiers, estimated $" in r.stderr


def test_dry_run_with_a_judge_states_the_judging_share_of_the_estimate(env):
    with TestServer() as server:
        r = invoke("--sample", "6", "--tiers", "haiku,sonnet", "--judge", "opus", "--dry-run", "--run", "dj",
                   "--format", "csv", "--base-url", server.url)
        assert server.count(None) == 0
    assert r.exit_code == 0, r.output
    est = pl.read_csv(io.StringIO(r.stdout))
    judging = est.filter(pl.col("kind") == "judge")["expected_usd"].sum()
    assert judging > 0
    m = re.search(r"estimated \$([0-9.]+) \(of which judging \$([0-9.]+)\)", r.stderr)
    assert m, r.stderr
    assert float(m.group(2)) == pytest.approx(judging, abs=1e-4)
    assert float(m.group(1)) == pytest.approx(est["expected_usd"].sum(), abs=1e-4)


def test_over_budget_run_is_refused_with_exit_1(env):
    r = invoke("--sample", "30", "--max-usd", "0.00001", "--run", "x")
    assert r.exit_code == 1
    last = r.stderr.splitlines()[-1]
    assert last.startswith("Error: the replay is estimated at $") and "above --max-usd 0.00001" in last
    assert invoke("status", "--format", "csv").stdout.strip() .count("\n") == 0  # the refused run was not kept


@pytest.mark.parametrize("flag", ["--max-usd", "--sample"])
def test_bad_numbers_are_usage_errors(env, flag):
    r = invoke(flag, "-3" if flag == "--sample" else "lots")
    assert r.exit_code == 2 and f"Invalid value for {flag}" in r.stderr


def test_run_status_results_and_failures_from_the_command_line(env):
    with TestServer() as server:
        r = invoke("--sample", "6", "--tiers", "haiku,sonnet", "--judge", "opus", "--run", "cli", "--base-url", server.url,
                   "--format", "json")
    assert r.exit_code == 0, r.output
    st = json.loads(r.stdout)[0]
    assert st["run"] == "cli" and st["ok"] == 12 and st["status"] == "complete" and st["missing"] == 0
    assert "sent 12: 12 answered, 0 failed after retries; replay spend $" in r.stderr
    res = invoke("results", "cli", "--format", "csv")
    frame = pl.read_csv(io.StringIO(res.stdout))
    assert {"pairwise:opus", "check:answered", "check:stop"} <= set(frame["judge"])
    fails = invoke("results", "cli", "--failures", "--format", "json")
    assert all(f["tier"] == "haiku" for f in json.loads(fails.stdout))
    assert invoke("status", "--format", "csv").stdout.count("\ncli,") == 1
    for out in (r.stdout, r.stderr, res.stdout, fails.stdout):
        assert SECRET not in out


def test_unknown_run_suggests_the_nearest_name(env):
    with TestServer() as server:
        invoke("--sample", "1", "--tiers", "haiku", "--run", "first", "--base-url", server.url)
    r = invoke("results", "frist")
    assert r.exit_code == 2 and r.stderr == "Error: no replay run 'frist'. Did you mean 'first'? `costlab replay status` lists them.\n"


def test_import_routellm_folder_from_the_command_line(env):
    r = invoke("import", str(ROUTELLM / "mmlu"), "--format", "routellm", "--map", "weak=haiku", "--map", "strong=opus",
               "--name", "mmlu", "--output", "csv")
    assert r.exit_code == 0, r.output
    frame = pl.read_csv(io.StringIO(r.stdout))
    assert frame["tier"].to_list() == ["haiku", "opus"] and frame["prompts"].to_list() == [200, 200]


@pytest.mark.slow
@pytest.mark.parametrize("sig", [pytest.param(signal.SIGTERM, id="sigterm"), pytest.param(signal.SIGKILL, id="sigkill")])
def test_kill_mid_run_then_resume_sends_each_remaining_request_once(env, sig):
    """A real process killed mid-run; resume completes it. Counted at the server: nothing answered twice."""
    with TestServer(latency=0.1) as server:
        cmd = [sys.executable, "-c", KILL_SCRIPT, "replay", "--sample", "20", "--tiers", "haiku,sonnet",
               "--concurrency", "2", "--run", "k", "--base-url", server.url]
        proc = subprocess.Popen(cmd, cwd=env, env={**os.environ, "PYTHONPATH": str(ROOT)},
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        while server.count(status=200) < 6 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.02)
        proc.send_signal(sig)
        proc.communicate(timeout=30)
        before = server.count(status=200)
        assert 6 <= before < 40  # killed mid-run
        r = invoke("resume", "k", "--base-url", server.url, "--format", "json")
        assert r.exit_code == 0, r.output
        st = json.loads(r.stdout)[0]
    answered_twice = [k for k, n in server.paid.items() if n > 1]
    assert answered_twice == []
    if sig == signal.SIGTERM:
        # graceful: calls in flight were finished and written, so everything is answered exactly once
        assert st["ok"] == 40 and st["in_doubt"] == 0 and sum(server.paid.values()) == 40
    else:
        # kill -9: calls in flight, and answers received but not yet written, are in doubt (maybe billed):
        # reported, never re-sent
        assert st["ok"] + st["in_doubt"] == 40 and st["in_doubt"] <= 10
        assert st["ok"] <= sum(server.paid.values()) <= st["ok"] + st["in_doubt"]


def test_replay_draws_a_progress_bar_with_the_spend_on_a_terminal_stderr_and_stdout_stays_data(env):
    with TestServer(latency=0.05) as server:
        cmd = [sys.executable, "-c", KILL_SCRIPT, "replay", "--sample", "20", "--tiers", "haiku,sonnet", "--concurrency", "2",
               "--run", "bar", "--base-url", server.url, "--format", "json"]
        code, out, err = run_on_terminal(cmd, cwd=env, env={"PYTHONPATH": str(ROOT), "COLUMNS": "120"})
    assert code == 0, err
    assert "━" in err and "\x1b[" in err  # rich drew its bar, with cursor control
    assert "replay bar" in err and "/40" in err
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", err)
    frames = re.findall(r"(\d+)/40 \$(\d+\.\d+)", plain)  # "done/total $spend so far" as the bar draws it
    assert frames and max(float(s) for _, s in frames) > 0  # the spend so far, while running
    assert any(0 < int(n) < 40 for n, _ in frames)  # drawn mid-run, not only at the end
    assert "\x1b" not in out.decode() and json.loads(out)[0]["ok"] == 40  # stdout: data only


def test_no_progress_bar_when_stderr_is_not_a_terminal(env):
    with TestServer() as server:
        r = invoke("--sample", "3", "--tiers", "haiku", "--run", "quiet", "--base-url", server.url, "--format", "json")
    assert r.exit_code == 0 and "\x1b" not in r.stderr and "━" not in r.stderr
    assert json.loads(r.stdout)[0]["ok"] == 3
