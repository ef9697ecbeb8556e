"""`replay import`: recorded outcomes of several models as a judged run, with no API call.

Formats:

* routellm: RouteLLM's per-prompt correctness files (github.com/lm-sys/RouteLLM `routellm/evals/`,
  Apache-2.0): a CSV with a `prompt` column and one boolean column per model (MMLU
  `mmlu_<subject>.csv`; GSM8K also has `<model>_response` columns, kept as the answer text). A folder
  reads every CSV in it; the stratum is the file's subject (`mmlu_anatomy.csv` -> `anatomy`).
* csv: long format, one row per prompt and model: `prompt_id` (or `prompt`), `model`, and `correct`
  (boolean) or `score` (0..1); optional `stratum`, `response`, and what the answer took:
  `input_tokens`, `output_tokens`, `cache_read_tokens`, `cache_write_tokens` (whole numbers; priced
  by `costlab whatif --eval` at the tier's model price), or `cost_usd` (the answer's own cost, used
  as given). With both `prompt_id` and `prompt`, the prompt text is kept (the complexity policy reads it).

Models map to tiers with `mapping` ({"mistralai/Mixtral-8x7B-Instruct-v0.1": "haiku", ...}); for
routellm the names `weak` and `strong` stand for the first and second model column. Every prompt gets
a stable request_id (`p_` + 16 hex of the prompt's sha256) under source `import:<name>`; each model's
outcome is a replays row (status ok; the file's tokens and cost per answer when it has them) and a judgements row (judge `import:correct`
or `import:score`, verdict pass/fail, score 0..1, good).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from costlab.errors import ConfigError, InputError

if TYPE_CHECKING:
    from costlab.store import Store


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted(path.glob("*.csv"))
        if not files:
            raise InputError(f"{path}: no .csv files in this folder")
        return files
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    return [path]


def _read_routellm(path: Path, mapping: dict[str, str]) -> pl.DataFrame:
    frames = []
    for f in _files(path):
        try:
            df = pl.read_csv(f, infer_schema=False)
        except Exception as ex:  # polars raises several kinds; all mean "not this format"
            raise InputError(f"{f}: not a RouteLLM CSV ({type(ex).__name__}: {str(ex)[:120]})") from ex
        if "prompt" not in df.columns:
            raise InputError(f"{f}: not a RouteLLM CSV (no `prompt` column; columns: {', '.join(df.columns[:6])})")
        models = [c for c in df.columns if c != "prompt" and not c.endswith("_response")]
        if len(models) < 1:
            raise InputError(f"{f}: no model columns next to `prompt`")
        alias = {"weak": models[0], "strong": models[-1]}
        wanted = {alias.get(k, k): v for k, v in mapping.items()}
        missing = [m for m in wanted if m not in models]
        if missing:
            raise ConfigError(f"--map {missing[0]}: no such model column in {f.name} (models: {', '.join(models)}; "
                              "or use weak / strong)")
        stratum = f.stem.removeprefix("mmlu_").removesuffix("_responses").removeprefix("gsm8k__")
        for model, tier in wanted.items():
            response = f"{model}_response"
            frames.append(df.select(
                pl.col("prompt"), pl.lit(model).alias("model"), pl.lit(tier).alias("tier"),
                pl.col(model).str.to_lowercase().is_in(["true", "1"]).cast(pl.Float64).alias("score"),
                pl.lit(stratum).alias("stratum"),
                (pl.col(response) if response in df.columns else pl.lit(None, pl.String)).alias("response"),
                *[pl.lit(None, pl.String).alias(c) for c in USAGE_COLUMNS], pl.col("prompt").alias("prompt_text"),
            ))
    return pl.concat(frames)


# per-answer usage a long CSV may carry (kept as text here, cast and checked in _usage)
USAGE_COLUMNS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "cost_usd")


def _usage(df: pl.DataFrame, f: Path) -> pl.DataFrame:
    """The usage columns cast (tokens BIGINT >= 0, cost DECIMAL(18,9) >= 0); a value that is not one is refused by row."""
    out = []
    for c in USAGE_COLUMNS:
        typ = pl.Decimal(18, 9) if c == "cost_usd" else pl.Int64
        v = df[c].str.strip_chars().replace("", None).cast(typ, strict=False)
        bad = df[c].is_not_null() & (df[c].str.strip_chars() != "") & (v.is_null() | (v.cast(pl.Float64) < 0))
        if bad.any():
            row = int(bad.arg_true()[0])
            raise InputError(f"{f}: row {row + 2}: {c} {df[c][row]!r} is not a non-negative "
                             f"{'number of dollars' if c == 'cost_usd' else 'whole number of tokens'}")
        out.append(v.alias(c))
    return df.with_columns(out)


def _read_csv(path: Path, mapping: dict[str, str]) -> pl.DataFrame:
    frames = []
    for f in _files(path):
        df = pl.read_csv(f, infer_schema=False)
        key = "prompt_id" if "prompt_id" in df.columns else "prompt" if "prompt" in df.columns else None
        if key is None or "model" not in df.columns or not ({"correct", "score"} & set(df.columns)):
            raise InputError(f"{f}: expected columns prompt_id (or prompt), model, and correct or score")
        score = (pl.col("correct").str.to_lowercase().is_in(["true", "1", "yes"]).cast(pl.Float64)
                 if "correct" in df.columns else pl.col("score").cast(pl.Float64))
        frames.append(df.select(
            pl.col(key).alias("prompt"), pl.col("model"),
            pl.col("model").replace_strict(mapping, default=None).alias("tier") if mapping else pl.col("model").alias("tier"),
            score.alias("score"),
            (pl.col("stratum") if "stratum" in df.columns else pl.lit(f.stem)).alias("stratum"),
            (pl.col("response") if "response" in df.columns else pl.lit(None, pl.String)).alias("response"),
            *[(pl.col(c) if c in df.columns else pl.lit(None, pl.String)).alias(c) for c in USAGE_COLUMNS],
            (pl.col("prompt") if "prompt" in df.columns else pl.lit(None, pl.String)).alias("prompt_text"),
        ).filter(pl.col("tier").is_not_null()))
        frames[-1] = _usage(frames[-1], f)
    return pl.concat(frames)


def import_outcomes(store: "Store", path: str | Path, fmt: str, name: str, mapping: dict[str, str]) -> pl.DataFrame:
    """Load recorded outcomes as run `name` (kind 'import'); return per-tier counts and pass rates.

    Raises:
        ConfigError: unknown format, a run of that name exists, a --map column that is not in the file.
        InputError: the file is not in the format.
    """
    if fmt not in ("routellm", "csv"):
        raise ConfigError(f"--format {fmt!r}: use routellm or csv")
    if store.scalar("select count(*) from replay_runs where run = ?", [name]):
        raise ConfigError(f"run {name!r} exists already: pick another --name")
    if fmt == "routellm" and not mapping:
        raise ConfigError("--map is needed for routellm files, e.g. --map weak=haiku --map strong=opus")
    df = (_read_routellm if fmt == "routellm" else _read_csv)(Path(path), mapping)
    source = f"import:{name}"
    df = df.with_columns(
        (pl.lit("p_") + pl.col("prompt").map_elements(_digest, return_dtype=pl.String)).alias("request_id"))
    # A prompt that appears twice (MMLU repeats a few) is one request: keep its first outcome per tier.
    df = df.unique(subset=["request_id", "tier"], keep="first", maintain_order=True)
    tiers = df["tier"].unique(maintain_order=True).to_list()
    now = datetime.now(timezone.utc)
    judge = "import:correct" if fmt == "routellm" or df["score"].is_in([0.0, 1.0]).all() else "import:score"
    sample = df.unique(subset=["request_id"], keep="first", maintain_order=True)
    with store.transaction():
        store.execute("insert into replay_runs values (?, ?, 'import', ?, 'imported', ?, ?, NULL, ?)",
                      [name, now, json.dumps({"file": str(path), "format": fmt, "mapping": mapping, "tiers": tiers,
                                              "models": {}}), tiers, judge, f"{sample.height} prompts from {path}"])
        store.insert_rows("replay_sample", ("run", "source", "request_id", "stratum"),
                          [(name, source, rid, st) for rid, st in sample.select("request_id", "stratum").iter_rows()])
        store.insert_rows("replays", ("run", "source", "request_id", "tier", "model", "status", "response_text",
                                      "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_5m_tokens",
                                      "cost_usd"),
                          [(name, source, *row) for row in df.select(
                              "request_id", "tier", "model", pl.lit("ok"), "response", "input_tokens", "output_tokens",
                              "cache_read_tokens", "cache_write_tokens", "cost_usd").iter_rows()])
        store.insert_rows("judgements", ("run", "source", "request_id", "tier", "judge", "verdict", "score", "good",
                                         "judge_cost_usd", "details"),
                          [(name, source, rid, tier, judge, "pass" if score >= 0.5 else "fail", score, score >= 0.5, 0,
                            json.dumps({"model": model, **({"prompt": text} if text else {})}))
                           for rid, tier, model, score, text in df.select("request_id", "tier", "model", "score",
                                                                          "prompt_text").iter_rows()])
    return store.frame(
        """select tier, any_value(x.model) as model, count(*)::BIGINT as prompts,
                  count(*) filter (where j.good)::BIGINT as good, avg(j.score)::DOUBLE as pass_rate
           from judgements j join replays x using (run, source, request_id, tier)
           where j.run = $run group by tier order by pass_rate""", {"run": name})


def _digest(prompt: str) -> str:
    return hashlib.sha256(prompt.encode()).hexdigest()[:16]
