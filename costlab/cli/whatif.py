"""`costlab whatif`: what the logged traffic would have cost under other splits and policies.

    costlab whatif --split haiku=70,sonnet=25,opus=5 --split current
    costlab whatif frontier --chart frontier.html
    costlab whatif backtest --train 2026-11-02:2026-11-09 --test 2026-11-09:2026-11-16

Data on stdout (render.frame), notes on stderr. The work lives in costlab.whatif.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Optional

import typer

from costlab.cli import ConfigOption, DbOption, FormatOption, OutOption, _day, _open, _render, handle_errors

SplitOption = Annotated[Optional[list[str]], typer.Option(
    "--split", help="TIER=SHARE,... (e.g. haiku=70,sonnet=25,opus=5) or 'current'; repeat for several scenarios.")]
SinceOption = Annotated[Optional[str], typer.Option("--since", help="First day, inclusive (YYYY-MM-DD).")]
UntilOption = Annotated[Optional[str], typer.Option("--until", help="Last day, exclusive (YYYY-MM-DD).")]
FilterOption = Annotated[Optional[str], typer.Option("--filter", help="SQL condition over costed_requests columns, as cr.<column> (e.g. \"cr.feature <> 'chat'\").")]
TiersOption = Annotated[Optional[str], typer.Option("--tiers", help="TIER=MODEL,... instead of costlab.toml [tiers].")]
ChartOption = Annotated[Optional[Path], typer.Option("--chart", help="Write an Altair chart to this file (.html or .json).")]


def _usd(nusd: float | int | Fraction) -> Decimal:
    from costlab.whatif import nusd_to_usd

    return Decimal(nusd_to_usd(Fraction(nusd)))


def _tiers(text: str | None) -> dict[str, str] | None:
    if not text:
        return None
    out = {}
    for item in text.split(","):
        name, sep, model = item.partition("=")
        if not sep:
            raise typer.BadParameter(f"expected TIER=MODEL, got {item!r}", param_hint="--tiers")
        out[name.strip()] = model.strip()
    return out


def _reduce(db, config, since, until, filter_sql, tiers):
    from costlab import plausible
    from costlab.whatif import reduce

    with _open(db, config, read_only=False) as store:
        # by default the whole log, but only requests with plausible timestamps (costlab/plausible.py)
        start, end, outside = plausible.default_window(store, _day(since, "--since"), _day(until, "--until"))
        if outside:
            _note([outside])
        return reduce(store, since=start, until=end, filter_sql=filter_sql, tiers=_tiers(tiers))


def _knobs(config) -> dict:
    """costlab.toml [whatif] (interactive features, complexity weights)."""
    from costlab.config import load_config

    return dict(load_config(config).whatif)


def _note(lines) -> None:
    from costlab.display import visible

    for line in dict.fromkeys(lines):
        typer.echo(f"note: {visible(line)}", err=True)


def register(app: typer.Typer) -> None:
    """Add the `whatif` group (scenarios, frontier, backtest) to a typer app."""
    whatif_app = typer.Typer(help="What the logged traffic would have cost under another split or policy, with intervals.",
                             rich_markup_mode=None, invoke_without_command=True)
    app.add_typer(whatif_app, name="whatif")

    @whatif_app.callback(invoke_without_command=True)
    @handle_errors
    def whatif(
        ctx: typer.Context,
        split: SplitOption = None,
        policy: Annotated[str, typer.Option("--policy", help="proportional, complexity, cascade or oracle.")] = "proportional",
        batch: Annotated[Optional[str], typer.Option("--batch", help="Features to move to the Batches API (comma-separated).")] = None,
        cache_hit_rate: Annotated[Optional[float], typer.Option("--cache-hit-rate", help="Cache hit rate among requests that cache (0..1).")] = None,
        no_warmup: Annotated[bool, typer.Option("--no-warmup", help="Do not model cache warm-up on a new tier.")] = False,
        resamples: Annotated[int, typer.Option("--resamples", help="Bootstrap resamples (day blocks); 0 for none.")] = 1000,
        since: SinceOption = None,
        until: UntilOption = None,
        filter_sql: FilterOption = None,
        tiers: TiersOption = None,
        fmt: FormatOption = "table",
        out: OutOption = None,
        chart: ChartOption = None,
        db: DbOption = None,
        config: ConfigOption = None,
    ) -> None:
        """Cost (and quality, where judged) of the window under each --split, with 95% intervals.

        \b
        Examples:
          costlab whatif --split current --split haiku=70,sonnet=25,opus=5
          costlab whatif --split current --batch nightly-digest,doc-summarize --cache-hit-rate 0.9
          costlab whatif --split haiku=60,sonnet=30,opus=10 --policy complexity --since 2026-11-01
        """
        if ctx.invoked_subcommand is not None:
            return
        from costlab.whatif import Scenario, bootstrap, evaluate, parse_split
        from costlab.whatif.scenario import DEFAULT_WEIGHTS

        if not split:
            raise typer.BadParameter("give at least one --split (e.g. --split current --split haiku=70,sonnet=25,opus=5)",
                                     param_hint="--split")
        if cache_hit_rate is not None and not 0 <= cache_hit_rate <= 1:
            raise typer.BadParameter("a rate between 0 and 1", param_hint="--cache-hit-rate")
        red = _reduce(db, config, since, until, filter_sql, tiers)
        knobs = _knobs(config)
        rows, notes = [], []
        batch_features = tuple(f.strip() for f in (batch or "").split(",") if f.strip())
        for text in split:
            sp = parse_split(text)
            scen = Scenario(sp, policy="proportional" if sp.current else policy, batch_features=batch_features,
                            cache_hit_rate=Fraction(str(cache_hit_rate)) if cache_hit_rate is not None else None,
                            warmup=not no_warmup, interactive=tuple(knobs.get("interactive", ())),
                            weights=tuple({**DEFAULT_WEIGHTS, **knobs.get("complexity_weights", {})}.items()))
            res = evaluate(red, scen)
            if resamples > 0:
                bootstrap(res, resamples)
            notes += res.notes
            rows.append(_row(red, res))
        _note(notes)
        if red.n == 0:
            _note(["no priced requests in this window"])
        import polars as pl

        frame = pl.DataFrame(rows, infer_schema_length=None)
        if chart is not None:
            _scenario_chart(frame, chart)
        _render(frame, fmt, out, title=f"what-if over {red.n:,} requests, {len(red.days)} days")

    @whatif_app.command("frontier")
    @handle_errors
    def frontier_cmd(
        policy: Annotated[str, typer.Option("--policy", help="proportional, complexity or both.")] = "both",
        step: Annotated[int, typer.Option("--step", help="Grid step in percent (1: 5,151 splits over three tiers).")] = 1,
        all_points: Annotated[bool, typer.Option("--all", help="Print every split, not only the Pareto set.")] = False,
        since: SinceOption = None,
        until: UntilOption = None,
        filter_sql: FilterOption = None,
        tiers: TiersOption = None,
        fmt: FormatOption = "table",
        out: OutOption = None,
        chart: ChartOption = None,
        db: DbOption = None,
        config: ConfigOption = None,
    ) -> None:
        """Every split on a grid, the Pareto set of cost vs quality, and PGR/CPT/APGR/AIQ in dollars."""
        import numpy as np
        import polars as pl

        from costlab.errors import ConfigError
        from costlab.whatif import frontier as F

        if policy not in ("proportional", "complexity", "both"):
            raise ConfigError(f"--policy {policy!r}: choose proportional, complexity or both")
        if not 1 <= step <= 50:
            raise typer.BadParameter("between 1 and 50", param_hint="--step")
        red = _reduce(db, config, since, until, filter_sql, tiers)
        frs = []
        if policy in ("proportional", "both"):
            frs.append(F.proportional(red, step))
        if policy in ("complexity", "both"):
            frs.append(F.complexity(red, step, _knobs(config).get("complexity_weights")))
        rows, notes = [], []
        for fr in frs:
            m = F.frontier_metrics(red, fr)
            if m is None:
                notes.append("no judged quality or feedback: the frontier is cost only (the cheapest split)")
            else:
                notes.append(f"{fr.policy}: APGR {m.apgr:.3f}, AIQ {m.aiq:.4f}, "
                             + ", ".join(f"CPT({int(x * 100)}%) ${c:,.2f} (u={u:.2f})" for x, (c, u) in m.cpt.items())
                             + f"; weak {red.tiers[0]} ${m.cost_weak:,.2f} q={m.q_weak:.3f}, strong {red.tiers[-1]} "
                             f"${m.cost_strong:,.2f} q={m.q_strong:.3f}")
            idx = np.arange(len(fr.cost)) if all_points else fr.pareto
            on = set(fr.pareto.tolist())
            for i in idx:
                row = {"policy": fr.policy}
                row.update({f"{t}_pct": int(p) for t, p in zip(fr.tiers, fr.splits[i])})
                row["cost_usd"] = _usd(fr.cost[i] * 1e9)
                row["quality"] = None if not np.isfinite(fr.quality[i]) else float(fr.quality[i])
                if m is not None:
                    row["pgr"] = float((fr.quality[i] - m.q_weak) / (m.q_strong - m.q_weak))
                row["pareto"] = i in on
                rows.append(row)
        _note(notes + [f"{len(frs[0].cost):,} splits per policy over {red.n:,} requests"])
        if chart is not None:
            F.chart(frs, chart)
            _note([f"chart written to {chart}"])
        _render(pl.DataFrame(rows, infer_schema_length=None), fmt, out, title="cost-quality frontier")

    @whatif_app.command("backtest")
    @handle_errors
    def backtest_cmd(
        train: Annotated[str, typer.Option("--train", help="FIRST:END days, end exclusive (2026-11-02:2026-11-09).")],
        test: Annotated[str, typer.Option("--test", help="FIRST:END days, end exclusive.")],
        filter_sql: FilterOption = None,
        tiers: TiersOption = None,
        fmt: FormatOption = "table",
        out: OutOption = None,
        db: DbOption = None,
        config: ConfigOption = None,
    ) -> None:
        """Predict the test period's cost from the train period re-weighted to the test's split and volume."""
        import polars as pl

        from costlab.whatif.backtest import backtest

        tr, te = _period(train, "--train"), _period(test, "--test")
        first, last = min(tr[0], te[0]), max(tr[1], te[1])
        red = _reduce(db, config, first.isoformat(), last.isoformat(), filter_sql, tiers)
        bt = backtest(red, tr, te)
        frame = pl.DataFrame([{
            "train_requests": bt.train_requests, "test_requests": bt.test_requests,
            "actual_usd": _usd(bt.actual_nusd), "predicted_usd": _usd(bt.predicted_nusd),
            "error_pct": round(bt.error * 100, 3),
            "predicted_tier_only_usd": _usd(bt.predicted_tier_only_nusd),
            "error_tier_only_pct": round(bt.error_tier_only * 100, 3),
            **{f"train_{t}": round(v, 4) for t, v in bt.train_split.items()},
            **{f"test_{t}": round(v, 4) for t, v in bt.test_split.items()},
        }])
        _render(frame, fmt, out, title="backtest")


def _period(text: str, flag: str) -> tuple[date, date]:
    a, sep, b = text.partition(":")
    try:
        first, end = date.fromisoformat(a), date.fromisoformat(b)
    except ValueError:
        raise typer.BadParameter(f"expected FIRST:END like 2026-11-02:2026-11-09, got {text!r}", param_hint=flag)
    if not sep or end <= first:
        raise typer.BadParameter(f"expected FIRST:END with END after FIRST, got {text!r}", param_hint=flag)
    return first, end


def _row(red, res) -> dict:
    actual = int(red.actual.sum())
    lo, hi = res.interval.get("cost_nusd", (None, None))
    qlo, qhi = res.interval.get("quality", (None, None))
    row = {
        "scenario": res.label,
        "cost_usd": _usd(res.cost),
        "cost_low_usd": _usd(lo) if lo is not None else None,
        "cost_high_usd": _usd(hi) if hi is not None else None,
        "vs_actual_pct": round((float(res.cost) / actual - 1) * 100, 2) if actual else None,
        "warmup_usd": _usd(res.cost - res.cost_no_warmup),
        "quality": res.quality,
        "quality_low": qlo,
        "quality_high": qhi,
        "quality_n": res.quality_n,
    }
    row.update({f"{t}_share": round(v, 4) for t, v in res.tier_share.items()})
    row.update({f"out_{k}": round(v, 4) for k, v in res.out_sources.items()})
    row["requests"] = red.n
    row["unpriced_requests"] = red.unpriced
    return row


def _scenario_chart(frame, path: Path) -> None:
    import altair as alt

    from costlab.display import ScriptSafeJSON

    data = alt.Data(values=[{k: (float(v) if isinstance(v, Decimal) else v) for k, v in r.items()}
                            for r in frame.select("scenario", "cost_usd", "cost_low_usd", "cost_high_usd").to_dicts()])
    bars = alt.Chart(data).mark_bar().encode(x=alt.X("cost_usd:Q", title="cost (USD)"), y=alt.Y("scenario:N", sort=None))
    err = alt.Chart(data).mark_errorbar().encode(x="cost_low_usd:Q", x2="cost_high_usd:Q", y=alt.Y("scenario:N", sort=None))
    path.parent.mkdir(parents=True, exist_ok=True)
    (bars + err).properties(title="what-if cost with 95% day-block bootstrap interval", width=520).save(
        str(path), json_kwds={"cls": ScriptSafeJSON})  # no scenario label can close the page's <script>
