"""The run's journal: a line appended before every paid attempt is sent, so that a killed run's calls
in flight are booked in doubt on resume (reconcile) and never made again."""

from __future__ import annotations

import json
import threading
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from costlab.replay.jobs import Job

if TYPE_CHECKING:
    from costlab.store import Store

Key = tuple  # a paid call: ("replay", source, request_id, tier, "") or (judge, source, request_id, tier, order)


class Journal:
    """An append-only file of the paid calls of a run, written before each attempt is sent.

    A DuckDB commit per call would cap throughput (a few ms each); a line appended to a file is
    microseconds and survives a kill -9 (it is in the OS's cache once written). Lines:

        {"start": KEY, "worst": "0.0012"}   an attempt of the call starts; the call's worst-case cost
        {"unpaid": KEY}                     the attempt ended unbilled (an error answer, such as a 529
                                            before a retry or a 401, or it never connected): released

    A KEY is ["replay", source, request_id, tier, ""] for a replay and [judge, source, request_id,
    tier, order] for a judge call (order: first, second or rubric); a line from before judge calls
    were journaled, [source, request_id, tier], is a replay's start. Each retry is a start line of
    its own, so a call's open attempts are its starts less its releases. Every other outcome settles
    in the store (a replays row, a judgements row, with the attempts that went unanswered in doubt).
    On resume, a call with open attempts that the store has not settled was in flight when the
    process died: each open attempt may have been billed, so the call is recorded in doubt at its
    worst case once per open attempt (reconcile) and never sent again.
    """

    def __init__(self, path: Path | None):
        self.path = path
        self.lock = threading.Lock()
        self.file = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.file = path.open("a", encoding="utf-8")

    def _write(self, entry: dict[str, Any]) -> None:
        if self.file is not None:
            with self.lock:
                self.file.write(json.dumps(entry) + "\n")
                self.file.flush()

    def started(self, key: Key | Job, worst: Decimal | None = None) -> None:
        if isinstance(key, Job):
            key, worst = replay_key(key), key.worst_usd if worst is None else worst
        self._write({"start": list(key), "worst": None if worst is None else str(worst)})

    def unpaid(self, key: Key) -> None:
        self._write({"unpaid": list(key)})

    def close(self) -> None:
        if self.file is not None:
            with self.lock:
                self.file.close()
                self.file = None

    @staticmethod
    def read(path: Path | None) -> dict[Key, tuple[Decimal | None, int]]:
        """The calls with attempts open (in flight, unless the store settled them): key -> (worst, attempts)."""
        if path is None or not path.exists():
            return {}
        out: dict[Key, tuple[Decimal | None, int]] = {}
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
                if isinstance(entry, list):  # the format before judge calls were journaled
                    key: Key = ("replay", *entry[:3], "")
                    out[key] = (None, out.get(key, (None, 0))[1] + 1)
                elif "start" in entry:
                    key = tuple(entry["start"])
                    out[key] = (None if entry.get("worst") is None else Decimal(entry["worst"]), out.get(key, (None, 0))[1] + 1)
                elif "unpaid" in entry and tuple(entry["unpaid"]) in out:
                    key = tuple(entry["unpaid"])
                    worst, n = out.pop(key)
                    if n > 1:
                        out[key] = (worst, n - 1)
            except (ValueError, TypeError, KeyError, ArithmeticError):
                pass  # a line cut by a kill mid-write: its attempt had not started
        return out

    @staticmethod
    def keys(path: Path | None) -> set[tuple[str, str, str]]:
        """The replays started and not released (source, request_id, tier)."""
        return {k[1:4] for k in Journal.read(path) if k[0] == "replay"}


def replay_key(job: Job) -> Key:
    return ("replay", job.source, job.request_id, job.tier, "")


def journal_path(store: "Store", run: str) -> Path | None:
    if str(store.path) == ":memory:":
        return None
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in run)
    return Path(f"{store.path}.replay") / f"{safe}.journal"


IN_DOUBT = "in doubt: the call started and the process was killed before its answer was recorded"


def reconcile(store: "Store", run: str, jobs: list[Job] | None = None) -> int:
    """Calls a killed process had started but not recorded are booked in doubt at their worst case,
    once per attempt left open (a retry after a timeout is an attempt of its own): replays as
    'sending' rows, judge calls on their judgements row (details.in_doubt). Returns how many replays.
    `jobs` (load_jobs) gives the worst case of replays journaled before it was written down."""
    started = Journal.read(journal_path(store, run))
    if not started:
        return 0
    recorded = {tuple(r) for r in store.rows(
        "select source, request_id, tier from replays where run = ? and status <> 'not_sent'", [run])}
    worst_of = {(j.source, j.request_id, j.tier): j.worst_usd for j in jobs or []}
    doubt = sorted(k[1:4] for k in started if k[0] == "replay" and k[1:4] not in recorded)

    def in_doubt_usd(source: str, rid: str, tier: str) -> Decimal | None:
        worst, attempts = started[("replay", source, rid, tier, "")]
        worst = worst if worst is not None else worst_of.get((source, rid, tier))
        return None if worst is None else worst * attempts

    if doubt:
        models = {tier: (model, platform) for tier, model, platform in store.rows("select tier, model, platform from _replay_tiers")}
        with store.transaction():
            for source, rid, tier in doubt:
                store.execute("delete from replays where run = ? and source = ? and request_id = ? and tier = ? and status = 'not_sent'",
                              [run, source, rid, tier])
            store.insert_rows("replays", ("run", "source", "request_id", "tier", "model", "status", "error_message",
                                          "platform", "in_doubt_usd"),
                              [(run, s, rid, tier, models.get(tier, (None,))[0], "sending", IN_DOUBT,
                                models.get(tier, (None, None))[1], in_doubt_usd(s, rid, tier))
                               for s, rid, tier in doubt])
    _reconcile_judged(store, run, {k: w for k, w in started.items() if k[0] != "replay"})
    return len(doubt)


def _reconcile_judged(store: "Store", run: str, started: dict[Key, tuple[Decimal | None, int]]) -> None:
    """Judge calls started and never settled: the answer's judgements row says so (details.in_doubt,
    calls_in_doubt: the attempts left open; in_doubt_usd); the judge never asks them again."""
    if not started:
        return
    rows = {(j, s, rid, tier): (first, complete, doubt) for j, s, rid, tier, first, complete, doubt in store.rows(
        """select judge, source, request_id, tier, details->>'candidate_first' is not null,
                  details->>'incomplete' is null and details->>'in_doubt' is null, details->>'in_doubt' is not null
           from judgements where run = ? and (judge like 'pairwise:%' or judge like 'rubric:%')""", [run])}
    doubt: dict[tuple, list] = {}
    for (judge, source, rid, tier, order), (worst, attempts) in started.items():
        first, complete, already = rows.get((judge, source, rid, tier), (False, False, False))
        settled = ((order == "first" and first) or (order == "second" and complete)
                   or (order == "rubric" and (judge, source, rid, tier) in rows))
        if not settled and not already:
            doubt.setdefault((judge, source, rid, tier), []).append((order, worst, attempts))
    if not doubt:
        return
    with store.transaction():
        for (judge, source, rid, tier), calls in sorted(doubt.items()):
            usd = sum((w * n for _, w, n in calls if w is not None), Decimal(0))
            note = json.dumps({"in_doubt": f"{IN_DOUBT} ({', '.join(o for o, _, _ in calls)})",
                               "calls_in_doubt": sum(n for _, _, n in calls),
                               "incomplete": "a judge call is in doubt: it is never asked again"})
            if (judge, source, rid, tier) in rows:  # calls_in_doubt adds to those its answered calls had
                store.execute("""update judgements set details = json_merge_patch(json_merge_patch(details, ?::JSON),
                                            json_object('calls_in_doubt', coalesce((details->>'calls_in_doubt')::INTEGER, 0) + ?)),
                                        in_doubt_usd = coalesce(in_doubt_usd, 0) + ?
                                 where run = ? and judge = ? and source = ? and request_id = ? and tier = ?""",
                              [note, sum(n for _, _, n in calls), usd, run, judge, source, rid, tier])
            else:
                store.execute("""insert into judgements (run, source, request_id, tier, judge, judge_cost_usd, details,
                                                         in_doubt_usd) values (?, ?, ?, ?, ?, 0, ?::JSON, ?)""",
                              [run, source, rid, tier, judge, note, usd])
