"""`costlab whatif`: what the logged traffic would have cost under other splits and policies.

    costlab whatif --split haiku=70,sonnet=25,opus=5 --split current
    costlab whatif frontier --chart frontier.html
    costlab whatif backtest --train 2026-11-02:2026-11-09 --test 2026-11-09:2026-11-16

Data on stdout (costlab.frames), notes on stderr. The work lives in costlab.whatif: the simulator,
its tables (whatif/tables.py) and charts (whatif/charts.py); this module parses options and calls them.
"""

from __future__ import annotations

from datetime import date
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Optional

import typer

from costlab.cli.context import day, open_store, time_zone, write_frame
from costlab.cli.errors import handle_errors
from costlab.cli.helptext import Group
from costlab.cli.options import ConfigOption, DbOption, FormatOption, OutOption, SinceDayOption, TiersOption, TzOption, UntilDayOption
from costlab.display import plural
from costlab.errors import ConfigError

SplitOption = Annotated[Optional[list[str]], typer.Option(
    "--split", help="TIER=SHARE,... (e.g. haiku=70,sonnet=25,opus=5) or 'current'; repeat for several scenarios.")]
FilterOption = Annotated[Optional[str], typer.Option("--filter", help="SQL condition over costed_requests columns, as cr.<column> (e.g. \"cr.feature <> 'chat'\").")]
OutputTokensOption = Annotated[Optional[str], typer.Option(
    "--output-tokens", help="Output tokens on a tier a request did not run on: replay (default: the same request "
    "replayed there, else as logged), same (always as logged) or observed (also a ratio seen in traffic of the same "
    "source, feature and customer: a sensitivity, confounded by routing). The same-token cost is always shown beside.")]
ChartOption = Annotated[Optional[Path], typer.Option("--chart", help="Write an Altair chart to this file (.html or .json).")]
EvalOption = Annotated[Optional[str], typer.Option(
    "--eval", help="An imported eval set (`costlab replay import --name NAME`) instead of the logs; chosen by itself "
                   "when the store has no logged requests and one import.")]
AssumeOption = Annotated[Optional[str], typer.Option(
    "--assume-tokens", help="IN,OUT tokens per answer, for eval answers with no tokens or cost (said in the notes).")]


def register(app: typer.Typer) -> None:
    """Add the `whatif` group (scenarios, frontier, backtest) to a typer app."""
    whatif_app = typer.Typer(help="What the logged traffic would have cost under another split or policy, with intervals.",
                             rich_markup_mode=None, invoke_without_command=True, cls=Group)
    app.add_typer(whatif_app, name="whatif")
    whatif_app.callback(invoke_without_command=True)(whatif)
    whatif_app.command("frontier", short_help="The cost-quality frontier of every split on a grid, beside a random router.")(frontier)
    whatif_app.command("backtest")(backtest)


@handle_errors
def whatif(
    ctx: typer.Context,
    split: SplitOption = None,
    policy: Annotated[str, typer.Option("--policy", help="proportional, complexity, cascade, oracle or learned:FILE (cascade "
                                        "and oracle route by judged outcomes, learned:FILE by a policy from `costlab route fit`: "
                                        "no TIER=SHARE split; --split current adds the baseline).")] = "proportional",
    batch: Annotated[Optional[str], typer.Option("--batch", help="Features to move to the Batches API (comma-separated).")] = None,
    cache_hit_rate: Annotated[Optional[float], typer.Option("--cache-hit-rate", help="Cache hit rate among requests that cache (0..1).")] = None,
    no_warmup: Annotated[bool, typer.Option("--no-warmup", help="Do not model cache warm-up on a new tier.")] = False,
    resamples: Annotated[int, typer.Option("--resamples", help="Bootstrap resamples (day blocks); 0 for none.")] = 1000,
    output_tokens: OutputTokensOption = None,
    since: SinceDayOption = None,
    until: UntilDayOption = None,
    filter_sql: FilterOption = None,
    tiers: TiersOption = None,
    fmt: FormatOption = "table",
    out: OutOption = None,
    chart: ChartOption = None,
    eval_name: EvalOption = None,
    assume_tokens: AssumeOption = None,
    tz: TzOption = None,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Cost (and quality, where judged) of the window under each --split, with 95% intervals.

    \b
    Examples:
      costlab whatif --split current --split haiku=70,sonnet=25,opus=5
      costlab whatif --split current --batch nightly-digest,doc-summarize --cache-hit-rate 0.9
      costlab whatif --split haiku=60,sonnet=30,opus=10 --policy complexity --since 2026-11-01
      costlab whatif --policy oracle --split current          # needs judged outcomes
      costlab whatif --policy learned:policy.json --split current   # a policy from `costlab route fit`
    """
    if ctx.invoked_subcommand is not None:
        return
    from costlab.whatif import Scenario, bootstrap, evaluate
    from costlab.whatif.arrays import OUTPUT_TOKEN_MODES
    from costlab.whatif.charts import scenario_chart
    from costlab.whatif.policies import PER_REQUEST_POLICIES, POLICIES
    from costlab.whatif.scenario import DEFAULT_WEIGHTS, Split
    from costlab.whatif.tables import coverage_note, scenario_table

    learned_policy = None
    if policy.startswith("learned:"):
        from costlab.whatif.learned import load_policy

        learned_policy = load_policy(policy.removeprefix("learned:"))
        policy = "learned"
    elif policy not in POLICIES or policy == "learned":
        raise typer.BadParameter(f"choose one of {', '.join(p for p in POLICIES if p != 'learned')} or learned:FILE",
                                 param_hint="--policy")
    if output_tokens is not None and output_tokens not in OUTPUT_TOKEN_MODES:
        raise typer.BadParameter(f"choose {', '.join(OUTPUT_TOKEN_MODES)}", param_hint="--output-tokens")
    splits = [_split(text) for text in split or []]
    if policy in PER_REQUEST_POLICIES:
        # cascade and oracle pick each request's tier from its judged outcomes: a split means nothing to
        # them (they printed the same row under every split's label), so one row, plus current if asked
        shares = [text for text, sp in zip(split or [], splits) if not sp.current]
        if shares:
            raise typer.BadParameter(
                f"--policy {policy} routes each request by its judged outcomes and takes no TIER=SHARE split "
                f"(got {', '.join(shares)}); give --split current for the baseline, or no --split",
                param_hint="--split")
        splits = [*splits, Split(weights=(), current=False)]
    elif not splits:
        raise typer.BadParameter("give at least one --split (e.g. --split current --split haiku=70,sonnet=25,opus=5)",
                                 param_hint="--split")
    if cache_hit_rate is not None and not 0 <= cache_hit_rate <= 1:
        raise typer.BadParameter("a rate between 0 and 1", param_hint="--cache-hit-rate")
    knobs = _knobs(config)
    batch_features = tuple(f.strip() for f in (batch or "").split(",") if f.strip())

    def scenario(sp):
        return Scenario(sp, policy="proportional" if sp.current else policy, batch_features=batch_features,
                        cache_hit_rate=Fraction(str(cache_hit_rate)) if cache_hit_rate is not None else None,
                        warmup=not no_warmup, interactive=tuple(knobs.get("interactive", ())),
                        weights=tuple({**DEFAULT_WEIGHTS, **knobs.get("complexity_weights", {})}.items()),
                        learned=learned_policy)

    # proportional splits and current only: past [whatif] per_request_max_requests the window's per-day
    # totals per tier (costlab.whatif.daily_totals) instead of per-request arrays, whose memory grows
    # with the window (docs/whatif.md, "Large windows")
    aggregate = (eval_name is None and not batch_features and output_tokens != "observed"
                 and all(sp.current or policy == "proportional" for sp in splits)
                 and not any(sp.current and cache_hit_rate is not None for sp in splits))
    seg = _daily_totals(db, config, since, until, filter_sql, tiers, output_tokens, tz) if aggregate else None
    if seg is not None:
        from costlab.whatif import evaluate_daily_totals

        results = [evaluate_daily_totals(seg, scenario(sp)) for sp in splits]
        for res in results:
            if resamples > 0:
                bootstrap(res, resamples)
        _note(list(seg.tier_notes) + [note for res in results for note in res.notes])
        _note([coverage_note(res) for res in results if not res.label.startswith("current")])
        frame = scenario_table(seg, results)
        if chart is not None:
            scenario_chart(frame, chart)
        write_frame(frame, fmt, out, title=f"what-if over {plural(seg.n, 'request')}, {plural(len(seg.days), 'day')}")
        return
    red, ev = _reduce_or_eval(db, config, since, until, filter_sql, tiers, eval_name, assume_tokens, output_tokens, tz,
                              route_features=route_features_for(learned_policy))
    results = []
    for sp in splits:
        res = evaluate(red, scenario(sp))
        if resamples > 0:
            bootstrap(res, resamples)
        results.append(res)
    _note(list(red.tier_notes) + [note for res in results for note in res.notes])
    _note([coverage_note(res) for res in results if not res.label.startswith("current")])
    if red.output_mode == "observed":
        _note(["--output-tokens observed is a sensitivity: ratios of mean output between models within one source, "
               "feature and customer, confounded by routing (harder requests go to bigger models); "
               "cost_same_tokens_usd is the figure without it"])
    if red.n == 0:
        _note(["no priced requests in this window"])
    frame = scenario_table(red, results)
    if chart is not None:
        scenario_chart(frame, chart)
    write_frame(frame, fmt, out, title=f"what-if over {plural(red.n, 'request')}, {plural(len(red.days), 'day')}" if ev is None
                else f"what-if over eval {ev.name!r}: {red.n:,} prompts")


@handle_errors
def frontier(
    policy: Annotated[str, typer.Option("--policy", help="proportional, complexity or both.")] = "both",
    step: Annotated[int, typer.Option("--step", help="Grid step in percent (1: 5,151 splits over three tiers).")] = 1,
    all_points: Annotated[bool, typer.Option("--all", help="Print every split, not only the Pareto set.")] = False,
    since: SinceDayOption = None,
    until: UntilDayOption = None,
    filter_sql: FilterOption = None,
    tiers: TiersOption = None,
    fmt: FormatOption = "table",
    out: OutOption = None,
    chart: ChartOption = None,
    eval_name: EvalOption = None,
    assume_tokens: AssumeOption = None,
    tz: TzOption = None,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Every split on a grid, the convex-hull frontier of cost vs quality (the grid's Pareto staircase
    marked beside it), PGR/CPT/APGR/AIQ in dollars, and the random router's curve (mean and range over
    seeds): the baseline any router must beat. On an imported eval set with --eval."""
    from costlab.whatif import frontier as F
    from costlab.whatif.tables import frontier_table

    if policy not in ("proportional", "complexity", "both"):
        raise ConfigError(f"--policy {policy!r}: choose proportional, complexity or both")
    if not 1 <= step <= 50:
        raise typer.BadParameter("between 1 and 50", param_hint="--step")
    red, ev = _reduce_or_eval(db, config, since, until, filter_sql, tiers, eval_name, assume_tokens, tz=tz)
    frs = []
    if policy in ("proportional", "both"):
        frs.append(F.proportional(red, step))
    if policy in ("complexity", "both"):
        frs.append(F.complexity(red, step, _knobs(config).get("complexity_weights")))
    rand = F.random_router(red)
    frame, notes = frontier_table(red, frs, all_points, rand, relative=ev is not None and ev.relative)
    _note(list(red.tier_notes) + notes + [f"{len(frs[0].cost):,} splits per policy over {red.n:,} {'prompts' if ev else 'requests'}; rows: "
                   "the splits on the convex hull (on_hull; hull_vertex: its corners, the Pareto set; grid_pareto: the "
                   "1% grid's own staircase, which a mix of two hull points can beat), then the random router"])
    if chart is not None:
        F.chart(frs, chart, rand)
        _note([f"chart written to {chart}"])
    write_frame(frame, fmt, out, title="cost-quality frontier")


@handle_errors
def backtest(
    train: Annotated[str, typer.Option("--train", help="FIRST:END days, end exclusive (2026-11-02:2026-11-09).")],
    test: Annotated[str, typer.Option("--test", help="FIRST:END days, end exclusive.")],
    filter_sql: FilterOption = None,
    tiers: TiersOption = None,
    fmt: FormatOption = "table",
    out: OutOption = None,
    tz: TzOption = None,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Predict the test period's cost from the train period re-weighted to the test's split and volume.

    The days of --train and --test run midnight to midnight in --tz (default: costlab.toml [report]
    timezone, else UTC)."""
    from costlab.whatif.backtest import backtest as run_backtest
    from costlab.whatif.tables import backtest_table

    tr, te = _period(train, "--train"), _period(test, "--test")
    first, last = min(tr[0], te[0]), max(tr[1], te[1])
    red = _reduce(db, config, first.isoformat(), last.isoformat(), filter_sql, tiers, tz=tz)
    write_frame(backtest_table(run_backtest(red, tr, te)), fmt, out, title="backtest")


# -- options into arguments --------------------------------------------------------------------
def _reduce_or_eval(db, config, since, until, filter_sql, tiers, eval_name, assume_tokens, output_tokens=None, tz=None,
                    route_features=False):
    """(Reduction, EvalSet or None): the imported eval set `--eval` names (costlab.whatif.evals), or the
    only import of a store with no logged requests (said in a note), else the logs' one pass."""
    from costlab.config import load_config
    from costlab.whatif import evals

    assume = _assume(assume_tokens)
    with open_store(db, config, read_only=False) as store:
        name = eval_name
        if name is None and evals.logged_requests(store) == 0:
            runs = evals.import_runs(store)
            if len(runs) > 1:
                raise ConfigError(f"this store has no logged requests and {len(runs)} imported eval sets "
                                  f"({', '.join(runs)}): choose one with --eval")
            if runs:
                name = runs[0]
                _note([f"no logged requests: using the imported eval set {name!r} (--eval {name})"])
        if name is not None:
            if filter_sql or since or until:
                raise ConfigError("--since, --until and --filter select logged requests; an --eval set has none")
            ev = evals.load_eval(store, name, config=load_config(config), tiers=_tiers(tiers), assume_tokens=assume)
            _note(ev.notes + [ev.cost_note(), f"intervals: bootstrap over the eval's {ev.reduction.n:,} prompts "
                                              f"(in {len(ev.reduction.days):,} blocks)"])
            return ev.reduction, ev
    if assume is not None:
        raise ConfigError("--assume-tokens prices the answers of an imported eval set: give --eval NAME")
    return _reduce(db, config, since, until, filter_sql, tiers, output_tokens, tz, route_features), None


def _assume(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    a, sep, b = text.partition(",")
    try:
        pair = (int(a), int(b))
    except ValueError:
        pair = None
    if not sep or pair is None or min(pair) < 0:
        raise typer.BadParameter(f"expected IN,OUT whole numbers of tokens like 800,300, got {text!r}",
                                 param_hint="--assume-tokens")
    return pair


def route_features_for(policy):
    """What the pass reads from stored bodies for a learned policy: "texts" when it uses words or an
    embedding, else the body features (True); nothing without a policy."""
    if policy is None:
        return False
    from costlab.whatif.learned import needs_texts

    return "texts" if needs_texts(policy) else True


def _reduce(db, config, since, until, filter_sql, tiers, output_tokens=None, tz=None, route_features=False):
    """The one pass over the window (costlab.whatif.reduce); by default the whole log, but only
    requests with plausible timestamps (costlab/plausible.py), with a note on what is left out.
    --since and --until are midnights in --tz, and the days (the bootstrap's day blocks, backtest's
    periods) are calendar days there. `route_features`: also read the learned policy's features from
    stored request bodies (a learned policy or `route fit` asks; "texts": and the prompt texts)."""
    from costlab import plausible
    from costlab.progress import fraction_bar
    from costlab.whatif import ReduceOptions, reduce

    zone = time_zone(tz, config)
    with open_store(db, config, read_only=False) as store:
        start, end, outside = plausible.default_window(store, day(since, "--since", zone), day(until, "--until", zone))
        if outside:
            _note([outside])
        options = ReduceOptions.from_config(getattr(store, "config", None), output_tokens=output_tokens)
        with fraction_bar("reading the window") as bar:  # on a terminal only; moves with DuckDB's progress
            return reduce(store, since=start, until=end, filter_sql=filter_sql, tiers=_tiers(tiers), options=options,
                          on_progress=bar.to if bar.shown else None, tz=zone, route_features=bool(route_features),
                          route_texts=route_features == "texts")


def _daily_totals(db, config, since, until, filter_sql, tiers, output_tokens=None, tz=None):
    """The window's per-day totals per tier (costlab.whatif.daily_totals) when it holds more requests
    than [whatif] per_request_max_requests (counted before --filter), said in a note; else None (the
    per-request pass answers, as for every smaller window)."""
    from costlab import plausible
    from costlab.whatif import ReduceOptions, reduce_daily_totals
    from costlab.whatif.daily_totals import per_request_max, window_requests

    zone = time_zone(tz, config)
    with open_store(db, config, read_only=False) as store:
        start, end = plausible.fill(store.config, day(since, "--since", zone), day(until, "--until", zone))
        options = ReduceOptions.from_config(getattr(store, "config", None), output_tokens=output_tokens)
        limit = per_request_max(store.config)
        if options.output_tokens == "observed":
            return None
        n = window_requests(store, start, end)
        if not n or n <= limit:
            return None
        start, end, outside = plausible.default_window(store, day(since, "--since", zone), day(until, "--until", zone))
        if outside:
            _note([outside])
        seg = reduce_daily_totals(store, since=start, until=end, filter_sql=filter_sql, tiers=_tiers(tiers),
                                  options=options, tz=zone)
    if seg.n == 0:  # --filter left nothing: the per-request pass says so as for any empty window
        return None
    _note([f"{n:,} requests in the window, more than [whatif] per_request_max_requests ({limit:,}): the splits "
           "are priced from per-day totals per tier, not per request (memory stays small; the same figures "
           "where every price is a whole number of nano-dollars per token, else within 0.5 nano-dollar per "
           "request and cost category: docs/whatif.md, \"Large windows\")"])
    return seg


def _split(text: str):
    """One --split (costlab.whatif.parse_split), a bad one a usage error naming the flag."""
    from costlab.whatif import parse_split

    try:
        return parse_split(text)
    except ConfigError as ex:
        raise typer.BadParameter(str(ex), param_hint="--split") from None


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


def _knobs(config) -> dict:
    """costlab.toml [whatif] (interactive features, complexity weights)."""
    from costlab.config import load_config

    return dict(load_config(config).whatif)


def _period(text: str, flag: str) -> tuple[date, date]:
    a, sep, b = text.partition(":")
    try:
        first, end = date.fromisoformat(a), date.fromisoformat(b)
    except ValueError:
        raise typer.BadParameter(f"expected FIRST:END like 2026-11-02:2026-11-09, got {text!r}", param_hint=flag)
    if not sep or end <= first:
        raise typer.BadParameter(f"expected FIRST:END with END after FIRST, got {text!r}", param_hint=flag)
    return first, end


def _note(lines) -> None:
    from costlab.display import visible

    for line in dict.fromkeys(lines):
        typer.echo(f"note: {visible(line)}", err=True)
