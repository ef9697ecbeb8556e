"""Judging a run's answers (the deterministic checks are checks.py): the blind pairwise judge and the
single-answer rubric judge. Judge calls are priced and booked in judgements.judge_cost_usd,
never in replays, so the replay spend and the judging spend stay apart.

Pairwise: each tier's answer against a reference (the logged original answer, else the run's last
tier), shown as A and B without model names, in both orders. Per order the candidate scores 1 (its
answer preferred), 0.5 (tie) or 0; the score is the mean of the two orders; verdict win (> 0.5),
tie (= 0.5) or loss; good = not worse than the reference (score >= 0.5); order_consistent = both
orders picked the same answer (or both said tie). A judge that always picks "A" is inconsistent on
every pair, which the results report as the inconsistency rate.

When the first order's call succeeds and the second fails (after its retries), the first call
was paid for: it is booked (judge_cost_usd) in a row with no verdict and `details.incomplete`, which
results count as incomplete and what-if ignores. The next execution (resume) asks only the missing
order and completes that row, so no judge call is paid twice either.

Budget: --max-usd covers the replays and the judge calls together. Before an item's calls start, its
worst case (costlab_judge_tokens in queries/replay/macros.sql: the logged prompt, the answers' real
output tokens, the judge's own text, with the tokenizer margin; the reply at max_tokens) is reserved
against what the run has spent so far (replays, judgements and calls in doubt); an item that could
cross the budget waits for the items in flight to settle at their real cost, and if it still does not
fit, judging stops there. What was not judged is judged by the next resume (with a higher --max-usd).

Judge calls are paid calls like the replays and go through the same machinery (dispatch.dispatch and
attempts.attempt, with its retries reserved against the budget): each attempt is written to the run's
journal before it is sent (key: judge, request, tier and order) and the call settles
when its judgement is written; Ctrl-C stops new judge calls at once (a pairwise item whose first
order was answered is booked incomplete rather than asking the second), the calls in flight are
booked, and a call whose answer was never recorded (kill -9) is booked in doubt on resume at its
worst case (details.in_doubt, in_doubt_usd) and never asked again. A 401/402/403 stops judging and
fails the run, resumably.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from costlab.replay.attempts import ACCOUNT_ERRORS, ERROR_TYPES, attempt, error_message
from costlab.replay.budget import Budget, Slot
from costlab.replay.dispatch import dispatch
from costlab.replay.interrupts import Stopper
from costlab.replay.journal import Journal
from costlab.replay.limiter import Limiter
from costlab.replay.providers import Api

if TYPE_CHECKING:
    from costlab.store import Store

MARK = "You are a costlab judge"
DEFAULT_RUBRIC = "Which answer better serves the user's request: correct, complete, follows the instructions, no padding?"
PAIRWISE_SYSTEM = (MARK + ". You compare two answers to the same request. The answers are anonymous; their order "
                   "means nothing. Reply with exactly one word: A, B or TIE.")
RUBRIC_SYSTEM = (MARK + ". You grade one answer to a request on a scale of 1 (useless) to 10 (ideal). "
                 "Reply with exactly: SCORE: <n>.")
GOOD_SCORE = 7
MAX_TOKENS = 16  # the judge's reply is one word or "SCORE: n"
MARGIN = 1.2  # tokenizer differences, as for the replays' worst case (queries/replay/jobs.sql)


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


@dataclass
class Calls:
    """What judge calls go through: the client (its own retries off: costlab retries, send.attempt),
    and the run's journal, budget, limiter and stopper."""

    client: Any
    journal: Journal
    budget: Budget
    limiter: Limiter
    stopper: Stopper
    refused: list[str] = field(default_factory=list)  # the API's word when it refused the key (the run fails)

    def __post_init__(self) -> None:
        self.api = Api.of(self.client)


class Unanswered(Exception):
    """A judge call with no answer to book. `maybe_paid`: `calls` of its attempts may have been billed
    (sent and never answered: a timeout or a dropped connection; an answer that was not a Message),
    at `in_doubt_usd` (its worst case for each); `refused`: the API refused the key or the account
    (not billed)."""

    def __init__(self, why: str, in_doubt_usd: Decimal | None = None, refused: bool = False, calls: int = 0):
        super().__init__(why)
        self.maybe_paid = in_doubt_usd is not None
        self.in_doubt_usd = in_doubt_usd or Decimal(0)
        self.refused = refused
        self.calls = calls


def _ask(calls: Calls, key: tuple, worst: Decimal | None, slot: Slot, model: str, system: str,
         prompt: str) -> tuple[str, int, int, Decimal, int]:
    """One judge call, each attempt journaled before it is sent (send.attempt; a retry after an
    attempt in doubt reserves its own worst case in `slot`): its reply, input and output tokens, and
    what its attempts that went unanswered may have cost, and how many. Raises Unanswered."""
    import anthropic  # heavy (hundreds of modules): loaded when a run judges, not when costlab starts

    got = attempt(calls.api, {"model": model, "max_tokens": MAX_TOKENS, "system": system,
                              "messages": [{"role": "user", "content": prompt}]}, key, worst, calls.journal, slot)
    ex, n = got.error, got.in_doubt
    doubt = (worst or Decimal(0)) * n
    if ex is None:
        msg = got.message
        text = "".join(getattr(b, "text", "") for b in msg.content).strip()
        return text, msg.usage.input_tokens, msg.usage.output_tokens, doubt, n
    refused = isinstance(ex, anthropic.APIStatusError) and ERROR_TYPES.get(ex.status_code) in ACCOUNT_ERRORS
    if refused:
        calls.refused.append(f"HTTP {ex.status_code}: {error_message(ex)}")
        calls.stopper.abort()
    why = f"{type(ex).__name__}" + (f" {ex.status_code}" if isinstance(ex, anthropic.APIStatusError) else "")
    if got.attempts > 1:
        why += f", after {got.attempts} attempts"
    # No attempt was billed (error answers, never connected): released in the journal, asked again on resume.
    raise Unanswered(why, doubt if n else None, refused=refused, calls=n) from None


def pairwise_prompt(request: str, rubric: str, a: str, b: str) -> str:
    return (f"<request>\n{request}\n</request>\n<criteria>{rubric}</criteria>\n"
            f"<answer_a>\n{a}\n</answer_a>\n<answer_b>\n{b}\n</answer_b>\nWhich answer is better: A, B or TIE?")


def rubric_prompt(request: str, rubric: str, answer: str) -> str:
    return f"<request>\n{request}\n</request>\n<criteria>{rubric}</criteria>\n<answer>\n{answer}\n</answer>"


# A call's own text (system prompt and template, without request, rubric and answers), for the estimate.
PAIRWISE_CHARS = len(PAIRWISE_SYSTEM) + len(pairwise_prompt("", "", "", ""))
RUBRIC_CHARS = len(RUBRIC_SYSTEM) + len(rubric_prompt("", "", ""))


def set_rubrics(store: "Store") -> None:
    """Temp table _replay_rubrics (feature, rubric) from [replay.rubrics]; the NULL feature is the default."""
    rubrics = dict(store.config.replay.get("rubrics") or {})
    default = str(rubrics.pop("default", DEFAULT_RUBRIC))
    store.execute("create or replace temp table _replay_rubrics (feature VARCHAR, rubric VARCHAR)")
    store.insert_rows("_replay_rubrics", ("feature", "rubric"),
                      [(None, default)] + [(str(f), str(r)) for f, r in rubrics.items()])


def _pick(text: str) -> str | None:
    word = (text.split() or [""])[0].strip(".:*").upper()
    return word if word in ("A", "B", "TIE") else None


# A judge call's worst cost (macros.sql costlab_judge_tokens), per row of the queries below: bound
# parameters judge model, platform, geo class, the call's own text length, margin and max_tokens.
_WORST_CALL = """costlab_platform_usage_cost(?, ?, ?, 'standard', now(),
                     costlab_judge_tokens(coalesce(r.input_tokens, 0) + coalesce(r.cache_read_tokens, 0)
                                          + coalesce(r.cache_write_5m_tokens, 0) + coalesce(r.cache_write_1h_tokens, 0),
                                          p.request_json, x.output_tokens, {reference}, ? + length(coalesce(f.rubric, dr.rubric)), ?),
                     ?, 0, 0, 0)"""
# The rubric of each answer's feature, else the default (temp table _replay_rubrics, set_rubrics).
_RUBRIC_JOIN = """left join requests r on r.source = x.source and r.request_id = x.request_id
           left join _replay_rubrics f on f.feature = r.feature
           cross join (select rubric from _replay_rubrics where feature is null) dr"""


def judge_pairwise(store: "Store", run: str, calls: Calls, judge: Judge, tiers: list[str]) -> tuple[int, int]:
    """Judge every tier's answer against the reference, in both orders. Returns judgements written
    (complete or incomplete) and the answers the budget left unjudged."""
    name = f"pairwise:{judge.tier}"
    reference_tier = tiers[-1]
    set_rubrics(store)
    worst = _WORST_CALL.format(reference="case when p.response_text is not null "
                                         "then coalesce(r.output_tokens, ceil(length(p.response_text) / 3)) "
                                         "else top.output_tokens end")
    # Pairs with no judgement yet, or an incomplete one (its first order already paid: reused) that is
    # not in doubt (a call of it may have been billed unseen: never asked again).
    rows = store.rows(
        f"""select x.source, x.request_id, x.tier, x.response_text, p.request_json::VARCHAR, p.response_text,
                  top.response_text, coalesce(f.rubric, dr.rubric), j.details->>'candidate_first', (j.details->>'input_tokens')::BIGINT,
                  (j.details->>'output_tokens')::BIGINT, j.judge_cost_usd, {worst} as worst_call
           from replays x
           join payloads p on p.source = x.source and p.request_id = x.request_id
           left join replays top on top.run = x.run and top.source = x.source and top.request_id = x.request_id
                and top.tier = ? and top.status = 'ok'
           {_RUBRIC_JOIN}
           left join judgements j on j.run = x.run and j.source = x.source and j.request_id = x.request_id
                and j.tier = x.tier and j.judge = ? and j.details->>'incomplete' is not null
           where x.run = ? and x.status = 'ok'
             and not exists (select 1 from judgements d where d.run = x.run and d.source = x.source
                             and d.request_id = x.request_id and d.tier = x.tier and d.judge = ?
                             and (d.details->>'incomplete' is null or d.details->>'in_doubt' is not null))
           order by 1, 2, 3""",
        [judge.model, judge.platform, judge.geo_class, PAIRWISE_CHARS, MARGIN, MAX_TOKENS, reference_tier, name, run, name])
    work = []
    for source, rid, tier, answer, request_json, original, top, rubric, first_said, tin, tout, paid, worst_call in rows:
        reference, ref_name = (original, "original") if original else (top, reference_tier)
        if reference is None or (ref_name == tier):
            continue
        earlier = (first_said, tin or 0, tout or 0) if first_said is not None else None
        n = 1 if earlier else 2
        work.append(((source, rid, tier, _request_text(request_json), answer or "", reference, ref_name, rubric, earlier,
                      worst_call), None if worst_call is None else worst_call * n))

    def one(item: tuple, slot: Slot) -> tuple:
        source, rid, tier, request, answer, reference, ref_name, rubric, earlier, worst_call = item
        key = (name, source, rid, tier)
        doubt, doubt_calls = Decimal(0), 0  # the first order's attempts that went unanswered
        if earlier is None:
            try:
                *first, doubt, doubt_calls = _ask(calls, key + ("first",), worst_call, slot, judge.sent, PAIRWISE_SYSTEM,
                                                  pairwise_prompt(request, rubric, answer, reference))
            except Unanswered as ex:
                if not ex.maybe_paid:
                    return (None, ex.refused)  # nothing paid: resume asks again
                details = {"reference": ref_name, "in_doubt": f"the first order was sent and never answered ({ex})",
                           "calls_in_doubt": ex.calls, "incomplete": "a judge call is in doubt: it is never asked again"}
                return ((source, rid, tier, None, None, None, None, details, 0, 0, ex.in_doubt_usd, False), False)
            new_in, new_out = first[1:]
        else:
            first, new_in, new_out = list(earlier), 0, 0
        details = {"reference": ref_name, "candidate_first": first[0][:40], "input_tokens": first[1],
                   "output_tokens": first[2], **({"calls_in_doubt": doubt_calls} if doubt_calls else {})}
        if calls.stopper.aborted.is_set():  # interrupted: no new call; the paid first order is booked
            if earlier is not None:
                return (None, False)  # booked already, as it is
            details["incomplete"] = "stopped before the second order (reference first) was asked"
            return ((source, rid, tier, None, None, None, None, details, new_in, new_out, doubt, earlier is not None), False)
        try:
            *second, more, more_calls = _ask(calls, key + ("second",), worst_call, slot, judge.sent, PAIRWISE_SYSTEM,
                                             pairwise_prompt(request, rubric, reference, answer))
        except Unanswered as ex:
            if earlier is not None and not ex.maybe_paid:
                return (None, ex.refused)  # still incomplete: the row written last time stands
            details["incomplete"] = f"the second order (reference first) failed: {ex}"
            if ex.maybe_paid:
                details["in_doubt"] = f"the second order was sent and never answered ({ex})"
                details["calls_in_doubt"] = doubt_calls + ex.calls
            return ((source, rid, tier, None, None, None, None, details, new_in, new_out, doubt + ex.in_doubt_usd,
                     earlier is not None), ex.refused)
        p1, p2 = _pick(first[0]), _pick(second[0])
        s1 = {"A": 1.0, "TIE": 0.5, "B": 0.0}.get(p1 or "", 0.5)  # candidate shown as A
        s2 = {"B": 1.0, "TIE": 0.5, "A": 0.0}.get(p2 or "", 0.5)  # candidate shown as B
        score = (s1 + s2) / 2
        verdict = "win" if score > 0.5 else "tie" if score == 0.5 else "loss"
        details = {"reference": ref_name, "candidate_first": first[0][:40], "candidate_second": second[0][:40],
                   "input_tokens": first[1] + second[1], "output_tokens": first[2] + second[2],
                   **({"calls_in_doubt": doubt_calls + more_calls} if doubt_calls + more_calls else {})}
        return ((source, rid, tier, verdict, score, score >= 0.5, s1 == s2, details, new_in + second[1],
                 new_out + second[2], doubt + more, earlier is not None), False)

    return _write_judged(store, run, name, judge, work, one, calls)


def judge_rubric(store: "Store", run: str, calls: Calls, judge: Judge) -> tuple[int, int]:
    """Score every answer 1-10 with the rubric judge (score stored as n/10; good when n >= 7). Returns
    judgements written and the answers the budget left unjudged."""
    name = f"rubric:{judge.tier}"
    set_rubrics(store)
    rows = store.rows(
        f"""select x.source, x.request_id, x.tier, x.response_text, p.request_json::VARCHAR, coalesce(f.rubric, dr.rubric),
                  {_WORST_CALL.format(reference="0")} as worst_call
           from replays x
           join payloads p on p.source = x.source and p.request_id = x.request_id
           {_RUBRIC_JOIN}
           where x.run = ? and x.status = 'ok'
             and not exists (select 1 from judgements j where j.run = x.run and j.source = x.source
                             and j.request_id = x.request_id and j.tier = x.tier and j.judge = ?)
           order by 1, 2, 3""",
        [judge.model, judge.platform, judge.geo_class, RUBRIC_CHARS, MARGIN, MAX_TOKENS, run, name])
    work = [((s, rid, tier, _request_text(rj), ans or "", rubric), worst_call)
            for s, rid, tier, ans, rj, rubric, worst_call in rows]

    def one(item: tuple, slot: Slot) -> tuple:
        source, rid, tier, request, answer, rubric = item
        try:
            text, tin, tout, doubt, doubt_calls = _ask(calls, (name, source, rid, tier, "rubric"), slot.worst, slot,
                                                       judge.sent, RUBRIC_SYSTEM, rubric_prompt(request, rubric, answer))
        except Unanswered as ex:
            if not ex.maybe_paid:
                return (None, ex.refused)
            details = {"in_doubt": f"sent and never answered ({ex})", "calls_in_doubt": ex.calls,
                       "incomplete": "the judge call is in doubt"}
            return ((source, rid, tier, None, None, None, None, details, 0, 0, ex.in_doubt_usd, False), False)
        m = re.search(r"SCORE:\s*(\d+)", text)
        n = max(1, min(10, int(m.group(1)))) if m else None
        details = {"reply": text[:40], "input_tokens": tin, "output_tokens": tout,
                   **({"calls_in_doubt": doubt_calls} if doubt_calls else {})}
        return ((source, rid, tier, None if n is None else ("pass" if n >= GOOD_SCORE else "fail"),
                 None if n is None else n / 10, None if n is None else n >= GOOD_SCORE, None, details, tin, tout,
                 doubt, False), False)

    return _write_judged(store, run, name, judge, work, one, calls)


def _write_judged(store: "Store", run: str, name: str, judge: Judge, work: list, one: Any, calls: Calls) -> tuple[int, int]:
    """Call the judge for each (item, worst case) through send.dispatch (journal, budget, limiter,
    interrupts); write each turn's judgements in one transaction, priced at the judge's platform:
    what the new calls cost, added to what an earlier incomplete row had booked. Returns judgements
    written and the items the budget left unjudged. A refused key fails the run (calls.stopper aborted)."""
    if not work:
        return 0, 0
    written = [0]

    def write(done: list) -> Decimal:
        total = Decimal(0)
        with store.transaction():
            for _, _, (judged, _refused) in done:
                if judged is None:
                    continue
                source, rid, tier, verdict, score, good, consistent, details, new_in, new_out, doubt, completes = judged
                cost = store.scalar("select coalesce(costlab_platform_usage_cost(?, ?, ?, 'standard', now(), ?, ?, 0, 0, 0), 0)"
                                    "::DECIMAL(18,9)", [judge.model, judge.platform, judge.geo_class, new_in, new_out])
                values = [verdict, score, good, consistent, cost, json.dumps(details), doubt or None]
                if completes:  # the earlier incomplete row: its first order's cost stays, the new calls add to it
                    # (calls_in_doubt adds to the earlier row's)
                    store.execute("""update judgements set verdict = ?, score = ?, good = ?, order_consistent = ?,
                                            judge_cost_usd = coalesce(judge_cost_usd, 0) + ?,
                                            details = case when details->>'calls_in_doubt' is null then ?::JSON
                                                else json_merge_patch(?::JSON, json_object('calls_in_doubt',
                                                    (details->>'calls_in_doubt')::INTEGER + ?)) end,
                                            in_doubt_usd = coalesce(in_doubt_usd, 0) + coalesce(?, 0)
                                     where run = ? and source = ? and request_id = ? and tier = ? and judge = ?
                                       and details->>'incomplete' is not null""",
                                  values[:5] + [values[5], values[5], details.get("calls_in_doubt", 0), values[6],
                                                run, source, rid, tier, name])
                else:
                    store.execute("""insert into judgements (run, source, request_id, tier, judge, verdict, score, good,
                                                             order_consistent, judge_cost_usd, details, in_doubt_usd)
                                     values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?::JSON, ?)""",
                                  [run, source, rid, tier, name] + values)
                total += cost + (doubt or Decimal(0))
                written[0] += 1
        return total

    result = dispatch(work, one, write, calls.limiter, calls.budget, calls.stopper, name="costlab-judge")
    return written[0], len(result.left) if result.budget_stop else 0

