"""Scoring a run: deterministic checks (SQL, queries/replay/checks.sql), the blind pairwise judge
and the single-answer rubric judge. Judge calls are priced and booked in judgements.judge_cost_usd,
never in replays, so the replay spend and the judging spend stay apart.

Pairwise: each tier's answer against a reference (the logged original answer, else the run's last
tier), shown as A and B without model names, in both orders. Per order the candidate scores 1 (its
answer preferred), 0.5 (tie) or 0; the score is the mean of the two orders; verdict win (> 0.5),
tie (= 0.5) or loss; good = not worse than the reference (score >= 0.5); order_consistent = both
orders picked the same answer (or both said tie). A judge that always picks "A" is inconsistent on
every pair, which the results report as the inconsistency rate.

When the first order's call succeeds and the second fails (after the SDK's retries), the first call
was paid for: it is booked (judge_cost_usd) in a row with no verdict and `details.incomplete`, which
results count as incomplete and what-if ignores. The next execution (resume) asks only the missing
order and completes that row, so no judge call is paid twice either.
"""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from costlab.replay.plan import insert_rows

if TYPE_CHECKING:
    from costlab.store import Store

MARK = "You are a costlab judge"
DEFAULT_RUBRIC = "Which answer better serves the user's request: correct, complete, follows the instructions, no padding?"
PAIRWISE_SYSTEM = (MARK + ". You compare two answers to the same request. The answers are anonymous; their order "
                   "means nothing. Reply with exactly one word: A, B or TIE.")
RUBRIC_SYSTEM = (MARK + ". You grade one answer to a request on a scale of 1 (useless) to 10 (ideal). "
                 "Reply with exactly: SCORE: <n>.")
GOOD_SCORE = 7


@dataclass(frozen=True)
class Judge:
    """The judge: its tier, the catalogue model it is priced as, the id sent, and where it runs."""

    tier: str
    model: str
    model_id: str | None = None
    platform: str = "anthropic"
    geo_class: str = "global"

    @property
    def sent(self) -> str:
        return self.model_id or self.model


def run_checks(store: "Store", run: str) -> int:
    """Insert the deterministic checks for every answer not checked yet; return how many rows were added."""
    store.execute("create or replace temp table _replay_regex (feature VARCHAR, pattern VARCHAR)")
    for feature, pattern in (store.config.replay.get("regex") or {}).items():
        store.execute("insert into _replay_regex values (?, ?)", [feature, str(pattern)])
    frame = store.run_query("replay/checks", run=run)
    done = {tuple(r) for r in store.rows(
        "select source, request_id, tier, judge from judgements where run = ? and judge like 'check:%'", [run])}
    rows = [(run, s, rid, tier, judge, verdict, score, good, None, 0, details)
            for s, rid, tier, judge, verdict, score, good, details in frame.iter_rows() if (s, rid, tier, judge) not in done]
    with store.transaction():
        insert_rows(store, "judgements", ("run", "source", "request_id", "tier", "judge", "verdict", "score", "good",
                                          "order_consistent", "judge_cost_usd", "details"), rows)
    return len(rows)


def _request_text(request_json: str | None) -> str:
    try:
        body = json.loads(request_json or "{}")
    except ValueError:
        return ""
    parts = []
    if body.get("system"):
        parts.append(f"[system] {_flat(body['system'])}")
    for m in body.get("messages") or []:
        parts.append(f"[{m.get('role')}] {_flat(m.get('content'))}")
    return "\n".join(parts)


def _flat(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(b.get("text", f"<{b.get('type')}>")) for b in content if isinstance(b, dict))
    return str(content)


def _ask(client: Any, model: str, system: str, prompt: str) -> tuple[str, int, int]:
    """One judge call: its reply, input and output tokens (an anthropic.APIError when it fails)."""
    msg = client.messages.create(model=model, max_tokens=16, system=system,
                                 messages=[{"role": "user", "content": prompt}])
    text = "".join(getattr(b, "text", "") for b in msg.content).strip()
    return text, msg.usage.input_tokens, msg.usage.output_tokens


def pairwise_prompt(request: str, rubric: str, a: str, b: str) -> str:
    return (f"<request>\n{request}\n</request>\n<criteria>{rubric}</criteria>\n"
            f"<answer_a>\n{a}\n</answer_a>\n<answer_b>\n{b}\n</answer_b>\nWhich answer is better: A, B or TIE?")


def _pick(text: str) -> str | None:
    word = (text.split() or [""])[0].strip(".:*").upper()
    return word if word in ("A", "B", "TIE") else None


def judge_pairwise(store: "Store", run: str, client: Any, judge: Judge, tiers: list[str], concurrency: int = 8) -> int:
    """Judge every tier's answer against the reference, in both orders. Returns judgements written
    (complete or incomplete)."""
    import anthropic

    name = f"pairwise:{judge.tier}"
    rubrics = store.config.replay.get("rubrics", {})
    reference_tier = tiers[-1]
    # Pairs with no judgement yet, or an incomplete one (its first order already paid: reused).
    rows = store.rows(
        """select x.source, x.request_id, x.tier, x.response_text, p.request_json::VARCHAR, p.response_text,
                  top.response_text, r.feature, j.details->>'candidate_first', (j.details->>'input_tokens')::BIGINT,
                  (j.details->>'output_tokens')::BIGINT, j.judge_cost_usd
           from replays x
           join payloads p on p.source = x.source and p.request_id = x.request_id
           left join replays top on top.run = x.run and top.source = x.source and top.request_id = x.request_id
                and top.tier = ? and top.status = 'ok'
           left join requests r on r.source = x.source and r.request_id = x.request_id
           left join judgements j on j.run = x.run and j.source = x.source and j.request_id = x.request_id
                and j.tier = x.tier and j.judge = ? and j.details->>'incomplete' is not null
           where x.run = ? and x.status = 'ok'
             and not exists (select 1 from judgements d where d.run = x.run and d.source = x.source
                             and d.request_id = x.request_id and d.tier = x.tier and d.judge = ?
                             and d.details->>'incomplete' is null)
           order by 1, 2, 3""", [reference_tier, name, run, name])
    work = []
    for source, rid, tier, answer, request_json, original, top, feature, first_said, tin, tout, paid in rows:
        reference, ref_name = (original, "original") if original else (top, reference_tier)
        if reference is None or (ref_name == tier):
            continue
        rubric = rubrics.get(feature or "", rubrics.get("default", DEFAULT_RUBRIC))
        earlier = (first_said, tin or 0, tout or 0, paid or Decimal(0)) if first_said is not None else None
        work.append((source, rid, tier, _request_text(request_json), answer or "", reference, ref_name, rubric, earlier))

    def one(item: tuple) -> tuple:
        source, rid, tier, request, answer, reference, ref_name, rubric, earlier = item
        if earlier is None:  # a failure here is not recorded: nothing was paid, resume asks again
            first = _ask(client, judge.sent, PAIRWISE_SYSTEM, pairwise_prompt(request, rubric, answer, reference))
            paid = Decimal(0)
        else:
            first, paid = earlier[:3], earlier[3]
        new_in, new_out = (0, 0) if earlier else first[1:]
        try:
            second = _ask(client, judge.sent, PAIRWISE_SYSTEM, pairwise_prompt(request, rubric, reference, answer))
        except anthropic.APIError as ex:
            if earlier is not None:
                return None  # still incomplete: the row written last time stands
            details = {"reference": ref_name, "candidate_first": first[0][:40], "input_tokens": first[1],
                       "output_tokens": first[2],
                       "incomplete": f"the second order (reference first) failed: {type(ex).__name__} "
                                     f"{getattr(ex, 'status_code', '')}".strip()}
            return (source, rid, tier, None, None, None, None, details, new_in, new_out, paid, False)
        p1, p2 = _pick(first[0]), _pick(second[0])
        s1 = {"A": 1.0, "TIE": 0.5, "B": 0.0}.get(p1 or "", 0.5)  # candidate shown as A
        s2 = {"B": 1.0, "TIE": 0.5, "A": 0.0}.get(p2 or "", 0.5)  # candidate shown as B
        score = (s1 + s2) / 2
        verdict = "win" if score > 0.5 else "tie" if score == 0.5 else "loss"
        details = {"reference": ref_name, "candidate_first": first[0][:40], "candidate_second": second[0][:40],
                   "input_tokens": first[1] + second[1], "output_tokens": first[2] + second[2]}
        return (source, rid, tier, verdict, score, score >= 0.5, s1 == s2, details, new_in + second[1],
                new_out + second[2], paid, earlier is not None)

    return _write_judged(store, run, name, judge, work, one, concurrency)


def judge_rubric(store: "Store", run: str, client: Any, judge: Judge, concurrency: int = 8) -> int:
    """Score every answer 1-10 with the rubric judge (score stored as n/10; good when n >= 7)."""
    name = f"rubric:{judge.tier}"
    rubrics = store.config.replay.get("rubrics", {})
    rows = store.rows(
        """select x.source, x.request_id, x.tier, x.response_text, p.request_json::VARCHAR, r.feature
           from replays x
           join payloads p on p.source = x.source and p.request_id = x.request_id
           left join requests r on r.source = x.source and r.request_id = x.request_id
           where x.run = ? and x.status = 'ok'
             and not exists (select 1 from judgements j where j.run = x.run and j.source = x.source
                             and j.request_id = x.request_id and j.tier = x.tier and j.judge = ?)
           order by 1, 2, 3""", [run, name])
    work = [(s, rid, tier, _request_text(rj), ans or "", rubrics.get(f or "", rubrics.get("default", DEFAULT_RUBRIC)))
            for s, rid, tier, ans, rj, f in rows]

    def one(item: tuple) -> tuple:
        source, rid, tier, request, answer, rubric = item
        text, tin, tout = _ask(client, judge.sent, RUBRIC_SYSTEM,
                               f"<request>\n{request}\n</request>\n<criteria>{rubric}</criteria>\n<answer>\n{answer}\n</answer>")
        m = re.search(r"SCORE:\s*(\d+)", text)
        n = max(1, min(10, int(m.group(1)))) if m else None
        details = {"reply": text[:40], "input_tokens": tin, "output_tokens": tout}
        return (source, rid, tier, None if n is None else ("pass" if n >= GOOD_SCORE else "fail"),
                None if n is None else n / 10, None if n is None else n >= GOOD_SCORE, None, details, tin, tout,
                Decimal(0), False)

    return _write_judged(store, run, name, judge, work, one, concurrency)


def _write_judged(store: "Store", run: str, name: str, judge: Judge, work: list, one: Any, concurrency: int) -> int:
    """Call the judge for each item on a few threads; write each judgement as it completes, priced at
    the judge's platform: what its new calls cost, plus what an earlier incomplete row had booked."""
    if not work:
        return 0
    import anthropic

    def guarded(item: tuple) -> tuple | None:
        # A judge call that fails after the SDK's retries before anything was paid is not recorded:
        # the next resume judges it again.
        try:
            return one(item)
        except anthropic.APIError:
            return None

    added = 0
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        for judged in pool.map(guarded, work):
            if judged is None:
                continue
            source, rid, tier, verdict, score, good, consistent, details, new_in, new_out, paid, completes = judged
            with store.transaction():
                if completes:
                    store.execute("delete from judgements where run = ? and source = ? and request_id = ? and tier = ? "
                                  "and judge = ? and details->>'incomplete' is not null", [run, source, rid, tier, name])
                store.execute(
                    """insert into judgements
                       select ?, ?, ?, ?, ?, ?, ?, ?, ?,
                              (?::DECIMAL(18,9) + coalesce(costlab_platform_usage_cost(?, ?, ?, 'standard', now(), ?, ?, 0, 0, 0),
                                                            0))::DECIMAL(18,9), ?""",
                    [run, source, rid, tier, name, verdict, score, good, consistent, paid, judge.model, judge.platform,
                     judge.geo_class, new_in, new_out, json.dumps(details)])
            added += 1
    return added
