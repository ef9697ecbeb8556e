"""The headline: spend, requests, active users and customers, cost per request and per user, error
rate, unpriced requests and ingest rejects, each against the previous period.
"""

from __future__ import annotations

import polars as pl

from costlab.report.context import ReportContext
from costlab.report.document import metric, per, ratio
from costlab.report.sections.base import Section
from costlab.report.sections.cube import cube, discounted, sampling, sampling_notes, totals
from costlab.report.window import empty_sentence


def build(ctx: ReportContext) -> dict:
    frame = cube(ctx)
    sums = {r["period"]: r for r in totals(frame, ["period"]).to_dicts()}
    activity = ctx.both("report/activity").filter(pl.col("day").is_null())
    rows = {}
    for r in activity.to_dicts():
        t = sums.get(r["period"], {})
        requests, unpriced = t.get("requests", 0), t.get("unpriced_requests", 0)
        rows[r["period"]] = {**r, "requests": requests, "errors": t.get("errors", 0), "unpriced_requests": unpriced,
                             "priced_requests": requests - unpriced,
                             "cost_usd": t.get("cost_usd") if requests else 0,
                             "list_usd": t.get("list_usd") if requests else 0}
    cur, prev = rows["current"], rows["previous"]

    def both(fn):
        return fn(cur), fn(prev)

    metrics = [
        metric("spend_usd", "Spend", "usd", *both(lambda r: r["cost_usd"])),
        metric("requests", "Requests", "count", *both(lambda r: r["requests"])),
        metric("active_users", "Active users", "count", *both(lambda r: r["active_users"])),
        metric("active_customers", "Active customers", "count", *both(lambda r: r["active_customers"])),
        metric("cost_per_request_usd", "Cost per priced request", "usd", *both(lambda r: per(r["cost_usd"], r["priced_requests"]))),
        metric("cost_per_active_user_usd", "Cost per active user", "usd", *both(lambda r: per(r["cost_usd"], r["active_users"]))),
        metric("error_rate", "Error rate", "ratio", *both(lambda r: ratio(r["errors"], r["requests"]))),
        metric("unpriced_requests", "Unpriced requests", "count", *both(lambda r: r["unpriced_requests"])),
        metric("unpriced_share", "Unpriced share", "ratio", *both(lambda r: ratio(r["unpriced_requests"], r["requests"]) or 0.0)),
        metric("ingest_rejects", "Ingest rejects", "count", *both(lambda r: r["rejects"])),
    ]
    if discounted(frame):
        # Gross and net: spend above is net of the negotiated discounts ([[discounts]]); at list price
        # the same requests cost spend_list_usd, and the discount is the difference.
        def saved(r: dict):
            return None if r["list_usd"] is None or r["cost_usd"] is None else r["list_usd"] - r["cost_usd"]
        metrics[0] = metric("spend_usd", "Spend (net of discounts)", "usd", *both(lambda r: r["cost_usd"]))
        metrics[1:1] = [
            metric("spend_list_usd", "Spend at list price (gross)", "usd", *both(lambda r: r["list_usd"])),
            metric("discount_usd", "Negotiated discount", "usd", *both(saved)),
        ]
    notes = sampling_notes(sampling(frame), cur["cost_usd"])
    if discounted(frame) and cur["list_usd"]:
        off = cur["list_usd"] - (cur["cost_usd"] or 0)
        notes.append(f"Spend is net of negotiated discounts ([[discounts]] in costlab.toml): ${cur['list_usd']:,.2f} at "
                     f"list price, ${off:,.2f} ({off / cur['list_usd']:.1%}) off. Every other dollar figure is net.")
    if cur["requests"] == 0:
        notes.append(empty_sentence(ctx.store, ctx.window))  # names the data's days
    if cur["unpriced_requests"]:
        notes.append(
            f"{cur['unpriced_requests']:,} of {cur['requests']:,} requests "
            f"({cur['unpriced_requests'] / cur['requests']:.1%}) have no price: their cost is unknown and not in "
            "any spend figure (see queries/unpriced_requests.sql)."
        )
    if cur["rejects"]:
        notes.append(f"{cur['rejects']:,} records were rejected by the ingests that loaded this period "
                     "(see queries/ingest_history.sql).")
    if cur["active_users"] == 0 and cur["requests"]:
        notes.append("The logs carry no user ids: per-user figures are empty.")
    return {"notes": notes, "metrics": metrics}


SECTION = Section("headline", "Headline", build)
