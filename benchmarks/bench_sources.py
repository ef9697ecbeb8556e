"""Real-world source ingest against raw DuckDB reading the same files: Bedrock invocation logs
(gzip JSON lines, InvokeModel and Converse records with bodies) and OTLP JSON traces (the collector's
file exporter: one export request of --spans-per-line GenAI spans per line).

Both files are generated set-based by DuckDB (seeded), once. Then raw DuckDB (`create table as select *
from read_json(...)`, types inferred, nothing unnested or validated) and `costlab ingest` (library
call, fresh store each time) run alternately --repeat times, each in its own process. Best of the
repeats; the ratio is raw time / costlab time (1.0 = as fast as DuckDB reading the file at all).

    .venv/bin/python benchmarks/bench_sources.py --rows 300000 --repeat 2 --record
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import PEAK, side_by_side, side_by_side_table  # noqa: E402

RAW = PEAK + """
import duckdb, resource, sys, time
path, db = sys.argv[1:3]
con = duckdb.connect(db)
con.execute("set enable_progress_bar = false")
t = time.perf_counter()
con.execute("create table raw as select * from read_json(?, format='newline_delimited', maximum_object_size=1073741824)", [path])
dt = time.perf_counter() - t
n = con.execute("select count(*) from raw").fetchall()[0][0]
print(dt, n, peak_bytes())
"""

COSTLAB = PEAK + """
import resource, sys, time
from costlab.config import Config
from costlab.ingest import ingest_paths
from costlab.open import open_store
path, db = sys.argv[1:3]
store = open_store(db, Config())
t = time.perf_counter()
result = ingest_paths(store, [path]).files[0]
dt = time.perf_counter() - t
assert result.error is None and result.rows_rejected == 0, result
print(dt, result.rows_added, peak_bytes())
"""

BEDROCK_SQL = """
copy (
  select 'ModelInvocationLog' as schemaType, '1.0' as schemaVersion,
         strftime(timestamp '2026-11-16 00:00:00' + to_seconds(i % 86400), '%Y-%m-%dT%H:%M:%SZ') as timestamp,
         '123456789012' as accountId, {'arn': 'arn:aws:sts::123456789012:assumed-role/app/s' || (i % 50)} as identity,
         case when i % 3 = 0 then 'eu-west-1' else 'us-east-1' end as region,
         'req-' || i as requestId,
         case when i % 4 = 0 then 'Converse' else 'InvokeModel' end as operation,
         case i % 5 when 0 then 'global.anthropic.claude-sonnet-5-5' when 1 then 'us.anthropic.claude-haiku-5-5'
                    when 2 then 'anthropic.claude-haiku-5-5' when 3 then 'global.anthropic.claude-opus-5-5'
                    else 'eu.anthropic.claude-sonnet-5-5' end as modelId,
         {'inputContentType': 'application/json', 'inputTokenCount': 200 + hash(i) % 3000,
          'cacheReadInputTokenCount': case when i % 2 = 0 then 4000 else 0 end,
          'cacheWriteInputTokenCount': case when i % 7 = 0 then 1500 else 0 end,
          'inputBodyJson': {'anthropic_version': 'bedrock-2023-05-31', 'max_tokens': 1024,
                            'messages': [{'role': 'user', 'content': 'Question number ' || i || ' about the invoice for order ' || (i * 7919 % 100000)}]}}
            as input,
         {'outputContentType': 'application/json', 'outputTokenCount': 20 + hash(i + 1) % 800,
          'outputBodyJson': {'id': 'msg_bdrk_' || i, 'type': 'message', 'role': 'assistant', 'model': 'claude-sonnet-5-5',
                             'content': [{'type': 'text', 'text': 'Answer ' || i || ': the invoice was corrected and re-sent.'}],
                             'stop_reason': 'end_turn',
                             'usage': {'input_tokens': 200 + hash(i) % 3000, 'output_tokens': 20 + hash(i + 1) % 800,
                                       'cache_creation': {'ephemeral_5m_input_tokens': case when i % 7 = 0 then 500 else 0 end,
                                                          'ephemeral_1h_input_tokens': case when i % 7 = 0 then 1000 else 0 end}}}}
            as output,
         {'team': case i % 3 when 0 then 'search' when 1 then 'chat' else 'billing' end, 'user': 'u' || (i % 997)} as requestMetadata
  from range($rows) t(i)
) to '{path}' (format json, compression gzip)
"""

OTEL_SQL = """
copy (
  with spans as (
    select i // $per as line, i,
           {'traceId': md5(i::VARCHAR), 'spanId': left(md5((i * 31)::VARCHAR), 16), 'parentSpanId': left(md5((i * 17)::VARCHAR), 16),
            'name': 'anthropic.messages.create', 'kind': 3,
            'startTimeUnixNano': (1794787200000000000 + i * 1000000000)::VARCHAR,
            'endTimeUnixNano': (1794787200000000000 + i * 1000000000 + 800000000 + (hash(i) % 4000) * 1000000)::VARCHAR,
            'attributes': [
              {'key': 'gen_ai.provider.name', 'value': {'stringValue': 'anthropic', 'intValue': NULL}},
              {'key': 'gen_ai.operation.name', 'value': {'stringValue': 'chat', 'intValue': NULL}},
              {'key': 'gen_ai.request.model', 'value': {'stringValue': case i % 3 when 0 then 'claude-sonnet-5-5' when 1 then 'claude-haiku-5-5' else 'claude-opus-5-5' end, 'intValue': NULL}},
              {'key': 'gen_ai.response.id', 'value': {'stringValue': 'msg_' || i, 'intValue': NULL}},
              {'key': 'gen_ai.usage.input_tokens', 'value': {'stringValue': NULL, 'intValue': (5000 + hash(i) % 3000)::VARCHAR}},
              {'key': 'gen_ai.usage.output_tokens', 'value': {'stringValue': NULL, 'intValue': (50 + hash(i + 1) % 900)::VARCHAR}},
              {'key': 'gen_ai.usage.cache_read.input_tokens', 'value': {'stringValue': NULL, 'intValue': '4000'}},
              {'key': 'gen_ai.usage.cache_write.input_tokens', 'value': {'stringValue': NULL, 'intValue': '600'}},
              {'key': 'anthropic.usage.cache_creation.ephemeral_5m_input_tokens', 'value': {'stringValue': NULL, 'intValue': '600'}},
              {'key': 'anthropic.usage.cache_creation.ephemeral_1h_input_tokens', 'value': {'stringValue': NULL, 'intValue': '0'}},
              {'key': 'anthropic.response.service_tier', 'value': {'stringValue': 'standard', 'intValue': NULL}},
              {'key': 'user.id', 'value': {'stringValue': 'u' || (i % 997), 'intValue': NULL}}
            ],
            'status': {'code': 1, 'message': NULL}} as span
    from range($rows) t(i)
  )
  select [{'resource': {'attributes': [{'key': 'service.name', 'value': {'stringValue': 'support-bot', 'intValue': NULL}}]},
           'scopeSpans': [{'scope': {'name': 'anthropic', 'version': '2.12.0'}, 'spans': list(span order by i)}]}] as resourceSpans
  from spans group by line order by line
) to '{path}' (format json)
"""


def measure(code: str, path: Path, work: Path, tag: str) -> tuple[float, int, int]:
    db = work / f"{tag}-{time.monotonic_ns()}.duckdb"
    out = subprocess.run([sys.executable, "-c", code, str(path), str(db)], capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(out.stderr)
    seconds, rows, peak = out.stdout.strip().splitlines()[-1].split()[-3:]
    db.unlink(missing_ok=True)
    Path(str(db) + ".wal").unlink(missing_ok=True)
    return float(seconds), int(rows), int(peak)


def generate(sql: str, path: Path, rows: int, per: int) -> None:
    import duckdb

    con = duckdb.connect()
    con.execute(sql.replace("{path}", str(path)), {"rows": rows, **({"per": per} if "$per" in sql else {})})
    con.close()


def run(rows: int, repeat: int, per: int, work: Path) -> list[dict]:
    results = []
    for name, sql, fname in (("bedrock (gzip JSONL)", BEDROCK_SQL, "bedrock.json.gz"), ("otel (OTLP JSON)", OTEL_SQL, "otel.jsonl")):
        path = work / fname
        t = time.perf_counter()
        generate(sql, path, rows, per)
        print(f"generated {rows:,} {name} records ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t:.1f}s",
              file=sys.stderr)
        raw, ours = [], []
        for _ in range(repeat):
            raw.append(measure(RAW, path, work, "raw"))
            ours.append(measure(COSTLAB, path, work, "costlab"))
        assert all(r[1] == rows for r in ours), ours
        results.append(side_by_side(name, rows, path, raw, ours))
        path.unlink()
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=300_000, help="records (Bedrock) and spans (OTel)")
    ap.add_argument("--spans-per-line", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--record", action="store_true", help="append the figures to benchmarks/RESULTS.md")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=HERE.parent if (HERE.parent / ".venv").exists() else None) as tmp:
        results = run(args.rows, args.repeat, args.spans_per_line, Path(tmp))
    print(json.dumps(results, indent=2))
    if args.record:
        from machine import describe

        lines = [f"\n## Real-world sources ({time.strftime('%Y-%m-%d')}, "
                 f"`benchmarks/bench_sources.py --rows {args.rows} --spans-per-line {args.spans_per_line} --repeat {args.repeat}`)\n",
                 describe(), "",
                 "Raw DuckDB: `read_json` into a table, types inferred, nothing unnested, mapped or validated "
                 "(for OTLP it stores one row per export line, not per span). Rows are records / spans.", "",
                 *side_by_side_table(results)]
        with (HERE / "RESULTS.md").open("a") as fh:
            fh.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
