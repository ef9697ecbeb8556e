"""Never pay twice, never cross the budget, never hang: replays and judge calls under Ctrl-C, kill -9,
a refused key and a slow API, checked from the test server's side (the calls it answered and the
dollars it charged, per key), not from costlab's own bookkeeping.

The crash and interrupt tests run a real `costlab replay` process and make it deterministic by
holding the server's answers: the server lets a few calls through, then holds the next ones until
the test has signalled or killed the process, and only then answers them (and charges for them,
as the API would, whether or not the client is still there to read the answer)."""

from __future__ import annotations

import functools
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from costlab.config import Config, load_config
from costlab.open import open_store
from costlab.store import Store
from costlab.testing import Fault, TestServer
from helpers import KILL_SCRIPT, ROOT, SECRET, invoke

CONCURRENCY = 4


def prices() -> dict[str, tuple[Decimal, Decimal]]:
    """The built-in catalogue's current standard prices, for the test server to charge with."""
    return dict(_catalogue_prices())


@functools.cache
def _catalogue_prices() -> dict[str, tuple[Decimal, Decimal]]:  # read once: the catalogue is the same all run
    with open_store(":memory:", Config()) as s:
        return {m: (i, o) for m, i, o in s.rows(
            "select model, input, output from prices where origin = 'builtin' and speed = 'standard' "
            "and band_min_tokens = 0 and valid_to is null")}


def store_rows(sql: str) -> list[tuple]:
    with open_store(None, load_config(), read_only=True) as s:
        return s.rows(sql)


def booked(run: str) -> dict:
    """What costlab booked for a run: answered replays, judge calls, dollars and what is in doubt."""
    (ok, replay_usd), = store_rows(f"select count(*) filter (where status = 'ok'), coalesce(sum(cost_usd), 0) "
                                   f"from replays where run = '{run}'")
    (complete, incomplete, doubtful, doubt_calls, judge_usd), = store_rows(
        f"""select count(*) filter (where details->>'candidate_second' is not null),
                   count(*) filter (where details->>'candidate_first' is not null and details->>'candidate_second' is null),
                   count(*) filter (where details->>'in_doubt' is not null),
                   coalesce(sum((details->>'calls_in_doubt')::INTEGER), 0), coalesce(sum(judge_cost_usd), 0)
            from judgements where run = '{run}' and judge like 'pairwise:%'""")
    (status,), = store_rows(f"select status from replay_runs where run = '{run}'")
    st = json.loads(invoke("status", run, "--format", "json").stdout)[0]
    return {"ok": ok, "replay_usd": replay_usd, "judge_calls": 2 * complete + incomplete, "judge_usd": judge_usd,
            "judge_in_doubt": doubtful, "judge_calls_in_doubt": doubt_calls, "status": status, "in_doubt": st["in_doubt"],
            "in_doubt_usd": Decimal(str(st.get("in_doubt_usd", 0)))}


def paid_twice(server: TestServer) -> list:
    """Replays the server answered more than once (a judge prompt may legitimately repeat: the two
    orders of an answer equal to its reference read the same; judge calls are counted against the books)."""
    return [k for k, n in server.paid.items() if n > 1 and "opus" not in k[0]]


def judge_calls_paid_once(server: TestServer, b: dict) -> bool:
    """Every judge call the server answered is booked once, or booked in doubt (answered or not)."""
    return b["judge_calls"] <= server.answered(judge=True) <= b["judge_calls"] + b["judge_calls_in_doubt"]


class Process:
    """`costlab replay ...` in a child process, its stderr read as it comes."""

    def __init__(self, *args: str, cwd: Path):
        self.proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, *args], cwd=cwd,
                                     env={**os.environ, "PYTHONPATH": str(ROOT)},
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.err: list[str] = []
        self.reader = threading.Thread(target=lambda: self.err.extend(iter(self.proc.stderr.readline, "")), daemon=True)
        self.reader.start()

    def said(self, text: str, timeout: float = 15) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in line for line in self.err):
                return True
            if self.proc.poll() is not None and not self.reader.is_alive():
                return any(text in line for line in self.err)
            time.sleep(0.01)
        return False

    def wait(self, timeout: float) -> int:
        code = self.proc.wait(timeout=timeout)
        self.reader.join(timeout=5)
        return code

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def until(condition, timeout: float = 15) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def held(server: TestServer, run: Process, n: int = CONCURRENCY) -> bool:
    """Wait until n calls are held at the server (False if the process ended first)."""
    return until(lambda: server.held() >= n or run.proc.poll() is not None, timeout=60) and server.held() >= n


def estimate(run: str, *flags: str) -> pl.DataFrame:
    r = invoke("--sample", "10", "--tiers", "haiku,sonnet", "--judge", "opus", "--dry-run", "--run", run,
               "--format", "csv", *flags)
    assert r.exit_code == 0, r.output
    return pl.read_csv(io.StringIO(r.stdout))


def small_max_tokens() -> None:
    """Logged max_tokens near what the test server answers, so a call's worst case is close to its real cost."""
    with open_store(None, load_config()) as s:
        s.execute("""update payloads set request_json = json_merge_patch(request_json, '{"max_tokens": 4}')""")


@pytest.mark.slow
@pytest.mark.parametrize("with_budget", [True, False], ids=["max-usd", "no-budget"])
def test_ctrl_c_while_judging_stops_new_calls_books_every_answer_and_resume_pays_none_twice(env, with_budget):
    # A budget the plan accepts (the expected cost) but that judging, reserving each call's worst
    # case, runs into: workers wait for the budget while others settle, as in the reported deadlock.
    est = estimate("probe")
    cap = Decimal(str(est["expected_usd"].sum())).quantize(Decimal("1e-6"), rounding="ROUND_UP")
    budget = ["--max-usd", str(cap)] if with_budget else []
    with TestServer(prices=prices()) as server:
        server.hold(after=6, judge=True)  # the replays and 6 judge calls pass; the next ones wait
        run = Process("replay", "--sample", "10", "--tiers", "haiku,sonnet", "--judge", "opus", "--concurrency",
                      str(CONCURRENCY), "--run", "j", "--base-url", server.url, *budget, cwd=env)
        try:
            assert held(server, run), run.err
            asked = server.answered(judge=True) + server.held()  # every judge call that reached the server
            run.proc.send_signal(signal.SIGINT)
            noticed = run.said("interrupted: no new calls start")  # the signal was handled: now answer
            server.release()  # the calls in flight are answered (and charged) now
            assert run.wait(timeout=15) == 130, run.err
        finally:
            server.release()
            run.stop()
        # No judge call started after Ctrl-C, and every call the server answered is booked.
        assert server.answered(judge=True) == asked and noticed
        b = booked("j")
        assert b["status"] == "interrupted" and b["in_doubt"] == 0 and b["judge_in_doubt"] == 0
        assert b["ok"] == server.answered(judge=False) == 20
        assert b["judge_calls"] == server.answered(judge=True)
        assert abs(b["judge_usd"] - server.charged_usd(judge=True)) < Decimal("1e-6")
        # Resume judges the rest: no call is answered twice, and the budget holds on the server's books.
        r = invoke("resume", "j", "--base-url", server.url, "--format", "json")
        assert r.exit_code == 0, r.output
        b = booked("j")
        assert paid_twice(server) == [] and b["judge_calls_in_doubt"] == 0
        assert server.answered(judge=True) == b["judge_calls"]  # each answered once, and booked
        if with_budget:
            assert server.charged_usd() <= cap
            assert "judging stopped before the budget" in r.stderr or b["status"] == "complete"
        else:
            assert server.answered(judge=True) == 2 * 20 and b["status"] == "complete"


@pytest.mark.slow
@pytest.mark.parametrize("phase", ["sending", "judging"])
def test_kill_9_mid_run_then_resume_with_a_lower_budget_never_crosses_it_on_the_servers_books(env, phase):
    small_max_tokens()
    est = estimate("probe")
    call_worst = {r["tier"]: Decimal(str(r["worst_usd"])) / r["calls"] for r in est.iter_rows(named=True)}
    worst = call_worst["pairwise:opus"] * 2 if phase == "judging" else max(call_worst["haiku"], call_worst["sonnet"])
    with TestServer(prices=prices()) as server:
        server.hold(after=6, judge=phase == "judging")
        run = Process("replay", "--sample", "10", "--tiers", "haiku,sonnet", "--judge", "opus", "--concurrency",
                      str(CONCURRENCY), "--run", "k", "--base-url", server.url, "--max-usd", "1", cwd=env)
        try:
            assert held(server, run), run.err
            before = server.answered()
            run.proc.kill()  # kill -9, calls in flight
            run.wait(timeout=10)
        finally:
            run.stop()
            server.release()  # the server answers the calls in flight and charges for them: paid, never seen
        assert until(lambda: server.answered() == before + CONCURRENCY)
        paid = server.charged_usd()
        # Resume with a budget just above what the server has charged. The calls in doubt cost the
        # server real money that costlab never saw; counting them at their worst case, resume has no room.
        cap = paid + Decimal("0.000001")
        r = invoke("resume", "k", "--base-url", server.url, "--max-usd", str(cap), "--format", "json")
        assert r.exit_code == 0, r.output
        assert server.charged_usd() <= cap
        b = booked("k")
        assert paid_twice(server) == [] and judge_calls_paid_once(server, b)  # nothing in doubt was sent again
        in_doubt = b["in_doubt"] if phase == "sending" else b["judge_in_doubt"]
        assert in_doubt >= 1 and b["in_doubt_usd"] >= paid - b["replay_usd"] - b["judge_usd"] > 0
        # With room for a few more calls beyond what it counts, resume spends it and still stays under.
        counted = b["replay_usd"] + b["judge_usd"] + b["in_doubt_usd"]
        cap = counted + 3 * worst
        sent = server.answered()
        r = invoke("resume", "k", "--base-url", server.url, "--max-usd", str(cap), "--format", "json")
        assert r.exit_code == 0, r.output
        assert server.answered() > sent and server.charged_usd() <= cap
        assert paid_twice(server) == [] and judge_calls_paid_once(server, booked("k"))


@pytest.mark.slow
@pytest.mark.parametrize("presses", [1, 2])
def test_ctrl_c_while_sending_books_every_answer_and_never_leaves_the_run_running(env, presses):
    with TestServer(prices=prices()) as server:
        server.hold(after=6, judge=False)
        run = Process("replay", "--sample", "10", "--tiers", "haiku,sonnet", "--concurrency", str(CONCURRENCY),
                      "--run", "s", "--base-url", server.url, cwd=env)
        try:
            assert held(server, run), run.err
            asked = server.answered() + server.held()
            run.proc.send_signal(signal.SIGINT)
            noticed = run.said("interrupted: no new calls start")  # the signal was handled: now answer
            if presses == 2:
                # A second Ctrl-C stops waiting for the calls in flight (held: they never answer in time).
                run.proc.send_signal(signal.SIGINT)
                noticed = run.said("stopped waiting") and noticed
                assert run.wait(timeout=10) == 130, run.err
                answered_in_time = server.answered()
                server.release()
            else:
                server.release()
                assert run.wait(timeout=15) == 130, run.err
                answered_in_time = server.answered()
        finally:
            server.release()
            run.stop()
        assert until(lambda: server.answered() == asked)  # no new call after Ctrl-C
        b = booked("s")
        assert b["status"] == "interrupted"
        assert b["ok"] == answered_in_time  # every answer that arrived before the exit is booked
        r = invoke("resume", "s", "--base-url", server.url, "--format", "json")
        assert r.exit_code == 0, r.output
        st = json.loads(r.stdout)[0]
        assert paid_twice(server) == []
        assert st["ok"] + st["in_doubt"] == 20 and st["in_doubt"] == (CONCURRENCY if presses == 2 else 0)
        assert server.answered() == 20
        assert noticed  # and the operator was told what happens after each Ctrl-C


def test_a_refused_key_fails_the_run_resumably_and_resume_with_the_right_key_sends_it(env, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-api03-wrong-key")
    with TestServer(api_key=SECRET, prices=prices()) as server:
        r = invoke("--sample", "5", "--tiers", "haiku,sonnet", "--run", "a", "--base-url", server.url, "--concurrency", "2")
        assert r.exit_code == 2
        assert "the API refused the key (HTTP 401: invalid x-api-key): check ANTHROPIC_API_KEY" in r.stderr
        assert "costlab replay resume a" in r.stderr and "wrong-key" not in r.output
        assert server.count(status=401) <= 2 and server.answered() == 0  # stopped at once: only the calls in flight
        assert store_rows("select status from replay_runs where run = 'a'") == [("failed",)]
        assert store_rows("select count(*) from replays where run = 'a'") == [(0,)]  # nothing recorded: nothing billed
        monkeypatch.setenv("ANTHROPIC_API_KEY", SECRET)
        r = invoke("resume", "a", "--base-url", server.url, "--format", "json")
        assert r.exit_code == 0, r.output
        st = json.loads(r.stdout)[0]
        assert st["status"] == "complete" and st["ok"] == 10 and server.answered(key=SECRET) == 10


def test_a_refused_judge_key_fails_the_run_and_resume_judges_the_rest(env):
    with TestServer(faults=[Fault(403, times=None, model="opus")]) as server:
        r = invoke("--sample", "3", "--tiers", "haiku", "--judge", "opus", "--run", "ja", "--base-url", server.url)
        assert r.exit_code == 2 and "the API refused the judge's key (HTTP 403" in r.stderr
        assert server.count(model="haiku", status=200) == 3
    assert store_rows("select status from replay_runs where run = 'ja'") == [("failed",)]
    with TestServer() as server:
        r = invoke("resume", "ja", "--base-url", server.url, "--format", "json")
        assert r.exit_code == 0, r.output
        assert server.count(model="haiku") == 0 and server.count(model="opus") == 2 * 3
    assert json.loads(r.stdout)[0]["status"] == "complete"


def test_timeout_bounds_a_slow_call_and_counts_it_in_doubt(env):
    # The answer takes 1.5 s; with --timeout 0.3 and no retries the call gives up at 0.3 s. The server
    # still answers it (and charges): costlab cannot know, so it books the call's worst case in doubt.
    with TestServer(faults=[Fault(0, delay=1.5, times=1)], prices=prices()) as server:
        r = invoke("--sample", "1", "--tiers", "haiku", "--run", "t", "--base-url", server.url, "--timeout", "0.3",
                   "--max-retries", "0", "--format", "json")
        assert r.exit_code == 0, r.output
        assert until(lambda: server.answered() == 1, timeout=5)
        charged = server.charged_usd()
    (kind, latency, cost, doubt), = store_rows("select error_type, latency_ms, cost_usd, in_doubt_usd from replays where run = 't'")
    assert kind == "timeout" and 300 <= latency < 1500  # gave up at the timeout, not when the answer came
    assert cost == 0 and doubt >= charged > 0
    st = json.loads(r.stdout)[0]
    assert Decimal(str(st["in_doubt_usd"])) == doubt


@pytest.mark.parametrize("setting", [{"timeout_s": 0}, {"timeout_s": "soon"}, {"max_retries": -1}])
def test_bad_timeout_or_retries_setting_is_a_clear_error_before_sending(tmp_path, monkeypatch, setting):
    from costlab import replay
    from costlab.errors import ConfigError
    from helpers import ingest_log

    monkeypatch.setenv("ANTHROPIC_API_KEY", SECRET)
    with open_store(tmp_path / "t.duckdb", Config(tiers={"haiku": "claude-haiku-5-5"}, replay=setting)) as s:
        ingest_log(s, tmp_path, 3)
        run, _ = replay.plan(s, replay.ReplaySpec(sample=1, tiers=["haiku"], run="c"))
        with TestServer() as server:
            with pytest.raises(ConfigError, match=r"\[replay\] (timeout_s|max_retries)"):
                replay.execute(s, run, base_url=server.url)
            assert server.count(None) == 0


def test_judge_call_that_times_out_is_booked_in_doubt_and_never_asked_again(tmp_path, monkeypatch):
    from costlab import replay
    from helpers import ingest_log

    monkeypatch.setenv("ANTHROPIC_API_KEY", SECRET)
    config = Config(tiers={"haiku": "claude-haiku-5-5", "opus": "claude-opus-5-5"},
                    replay={"timeout_s": 0.3, "max_retries": 0})
    with open_store(tmp_path / "t.duckdb", config) as s:
        ingest_log(s, tmp_path, 6)
        run, _ = replay.plan(s, replay.ReplaySpec(sample=2, tiers=["haiku"], judge="opus", run="jt", concurrency=1))
        with TestServer(faults=[Fault(0, delay=1.5, times=1, model="opus")], prices=prices()) as server:
            replay.execute(s, run, base_url=server.url)
            # 2 answers x 2 orders, less the second order of the one whose first call is in doubt
            assert until(lambda: server.answered(judge=True) == 3, timeout=5)  # the slow one is answered, late
            charged = server.charged_usd(judge=True)
        (doubt, details), = s.rows("select in_doubt_usd, details::VARCHAR from judgements where run = 'jt' "
                                   "and details->>'in_doubt' is not null")
        assert doubt > 0 and json.loads(details)["calls_in_doubt"] == 1
        booked_usd = s.scalar("select sum(judge_cost_usd) + sum(coalesce(in_doubt_usd, 0)) from judgements where run = 'jt'")
        assert booked_usd >= charged  # what costlab counts covers what the server charged
        assert replay.status(s, run)["judge_in_doubt"][0] == 1 and replay.status(s, run)["status"][0] == "partial"
        with TestServer() as server:
            replay.execute(s, run, base_url=server.url)
            assert server.count(None) == 0  # the answer with a call in doubt is not judged again


def plan_worst(run: str, *flags: str) -> dict[str, Decimal]:
    """Plan a run without sending (--dry-run) and return each tier's worst case per call."""
    r = invoke("--run", run, "--dry-run", "--format", "csv", *flags)
    assert r.exit_code == 0, r.output
    return {t: Decimal(str(w)) / n for t, w, n in pl.read_csv(io.StringIO(r.stdout)).select("tier", "worst_usd", "calls").iter_rows()}


@pytest.mark.parametrize("phase", ["sending", "sending-two-at-once", "judging"])
def test_retries_after_timeouts_are_reserved_first_and_never_cross_the_budget_on_the_servers_books(env, phase):
    # Every call (every judge call) is held at the server: the client gives up on each attempt after
    # 0.2 s and retries; once released, the server answers every attempt it received and charges for
    # it, as the API does for a client that timed out. The SDK's own retries sent all 1 + 4 attempts
    # of a call, whatever the budget. The budget is two and a half calls' worst case (judging: the
    # replay's, then the judged answer's two orders and half a call more):
    # * sending one call at a time: one retry fits (reserved before it is sent), the next does not;
    # * two calls at once: neither retry fits, and neither waits for the other for ever;
    # * judging: no retry fits.
    small_max_tokens()
    judging, together = phase == "judging", phase == "sending-two-at-once"
    worst = plan_worst("r", "--sample", "2" if together else "1", "--tiers", "haiku",
                       *(["--judge", "opus"] if judging else []))
    call = worst["pairwise:opus"] if judging else worst["haiku"]
    cap = worst["haiku"] + call * Decimal("2.5") if judging else call * Decimal("2.5")
    with TestServer(prices=prices()) as server:
        server.hold(judge=judging)
        r = invoke("resume", "r", "--base-url", server.url, "--max-usd", str(cap), "--timeout", "0.2", "--max-retries", "4",
                   "--concurrency", "2" if together else "1", "--format", "json")
        attempts = server.held()
        server.release()
        assert until(lambda: server.answered(judge=judging) == attempts, timeout=5)
        charged = server.charged_usd()
    assert r.exit_code == 0, r.output
    assert charged <= cap, f"the server charged {charged} for {attempts} attempts against --max-usd {cap}"
    assert attempts == {"sending": 2, "sending-two-at-once": 2, "judging": 1}[phase]  # the retries that fitted, no other
    st = json.loads(r.stdout)[0]
    b = booked("r")
    assert b["replay_usd"] + b["judge_usd"] + Decimal(str(st["in_doubt_usd"])) >= charged  # costlab's books cover the server's
    if judging:
        assert st["judge_in_doubt"] == 1 and b["judge_calls_in_doubt"] == attempts
    else:  # each attempt sent and never answered, at its worst case
        assert Decimal(str(st["in_doubt_usd"])) == attempts * call
        after = "" if together else "after 2 attempts; "
        assert store_rows("select distinct error_type, error_message from replays where run = 'r'") == [
            ("timeout", f"the request timed out ({after}not retried: a retry could cross --max-usd)")]


@pytest.mark.slow
def test_kill_9_while_a_call_is_retried_counts_every_attempt_in_doubt_and_resume_pays_none_twice(env):
    # The server holds every call: the first request's first attempt times out on the client and its
    # retry is in flight when the process is killed. Both attempts reach the server, which answers
    # and charges them once released. Resume must count both in doubt (not one per call), send
    # nothing within a budget just above what the server charged, and never send that request again.
    small_max_tokens()
    call = plan_worst("kr", "--sample", "2", "--tiers", "haiku")["haiku"]
    with TestServer(prices=prices()) as server:
        server.hold(judge=False)
        run = Process("replay", "resume", "kr", "--base-url", server.url, "--timeout", "0.3", "--max-retries", "4",
                      "--concurrency", "1", "--max-usd", "1", cwd=env)
        try:
            assert held(server, run, 2), run.err  # the first attempt (timed out, still at the server) and its retry
            run.proc.kill()
            run.wait(timeout=10)
        finally:
            run.stop()
            server.release()
        assert until(lambda: server.answered() == 2)
        paid = server.charged_usd()
        cap = paid + Decimal("0.000001")
        r = invoke("resume", "kr", "--base-url", server.url, "--max-usd", str(cap), "--format", "json")
        assert r.exit_code == 0, r.output
        st = json.loads(r.stdout)[0]
        assert st["in_doubt"] == 1 and Decimal(str(st["in_doubt_usd"])) == 2 * call >= paid  # both attempts counted
        assert server.answered() == 2 and server.charged_usd() <= cap  # no room: nothing sent
        attempted = dict(server.paid)  # the request in doubt: answered twice, once per attempt
        r = invoke("resume", "kr", "--base-url", server.url, "--max-usd", str(2 * call + 2 * call), "--format", "json")
        assert r.exit_code == 0, r.output
        assert json.loads(r.stdout)[0]["ok"] == 1 and server.answered() == 3  # the other request, once
        assert list(attempted.values()) == [2] and {k: n for k, n in server.paid.items() if k not in attempted} == {
            k: 1 for k in server.paid if k not in attempted}
        assert all(server.paid[k] == n for k, n in attempted.items())  # the one in doubt, never again


@pytest.mark.slow
def test_ctrl_c_while_a_call_waits_to_retry_ends_the_run_at_once_and_resume_sends_it(env):
    # The first attempt is answered 529 with retry-after 20 s (not billed). Ctrl-C during that wait
    # makes no further attempt and ends the run within seconds; nothing was billed, so the call is
    # released: resume sends it, once. (Inside the SDK's retries the wait could not be interrupted.)
    with TestServer(faults=[Fault(529, retry_after=20, times=1)], prices=prices()) as server:
        run = Process("replay", "--sample", "1", "--tiers", "haiku", "--run", "w", "--concurrency", "1",
                      "--base-url", server.url, cwd=env)
        try:
            assert until(lambda: server.count(status=529) == 1 or run.proc.poll() is not None), run.err
            time.sleep(0.2)  # inside the wait before the retry
            started = time.monotonic()
            run.proc.send_signal(signal.SIGINT)
            assert run.wait(timeout=15) == 130, run.err
            assert time.monotonic() - started < 5
        finally:
            run.stop()
        assert server.count() == 1 and server.answered() == 0  # no attempt after Ctrl-C
        assert store_rows("select count(*) from replays where run = 'w'") == [(0,)]  # released: nothing billed
        r = invoke("resume", "w", "--base-url", server.url, "--format", "json")
        assert r.exit_code == 0, r.output
        assert json.loads(r.stdout)[0]["ok"] == 1 and server.answered() == 1
