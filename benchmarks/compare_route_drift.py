"""route_drift at a git ref from before its reference became flat bins (e.g. 80198e7: the file's
arrays as JSON, read with DuckDB list functions) against this tree's SQL and parameters, on one store:
the rows compared (sorted: the detector has no ORDER BY; run_signals orders findings), every DOUBLE to
1e-12 relative, and each side's CPU seconds (ref, tree, tree, ref, ref, tree; each side's best).

    .venv/bin/python benchmarks/compare_route_drift.py STORE REF [POLICY]

POLICY defaults to tests/fixtures/route_policy_reference.json (a costlab.route/2 file fitted on
generated logs). The store is opened read-only; psi_refit 0 reports every input, 0.25 is the default.
"""
import json, subprocess, sys, time
from pathlib import Path
from datetime import datetime, timezone
from costlab import pricing
from costlab.config import load_config
from costlab.open import open_store
from costlab.signals.params import route_params
from costlab.signals.window import window
from costlab.store import queries
import dataclasses
db, ref = sys.argv[1], sys.argv[2]
policy = str(Path(sys.argv[3] if len(sys.argv) > 3 else "tests/fixtures/route_policy_reference.json").resolve())
config = load_config("examples/costlab.toml")
config = dataclasses.replace(config, routing={"policy": policy})
pol = json.load(open(policy))["reference"]
rows = [{"input": r["input"], "edges": r["edges"], "shares": r["shares"]} for r in pol["inputs"] if r["input"] in ("log_prompt_tokens", "tool_use", "web_search")]
rows.append({"input": "feature", "values": pol["feature"]["values"], "shares": pol["feature"]["shares"]})
old_json = json.dumps(rows)
new = route_params(config)
old_sql = subprocess.run(["git", "show", f"{ref}:queries/signals/route_drift.sql"], capture_output=True, text=True, check=True).stdout
q = queries.load("signals/route_drift")
until = datetime(2026, 11, 16, tzinfo=timezone.utc)
def same(a, b):
    if isinstance(a, float) and isinstance(b, float):
        return a == b or abs(a - b) <= 1e-12 * max(abs(a), abs(b))
    return a == b
with open_store(db, config, read_only=True) as store:
    start, end = window(store, None, until, "UTC")
    pricing.shadow_with_stored(store, start, end)
    for refit in (0.0, 0.25):
        base = dict(since=start, until=end, route_policy=new["route_policy"], route_reference_n=new["route_reference_n"], psi_refit=refit)
        texts = {"ref": (old_sql, q.bind({**base, "route_reference": old_json})), "tree": (q.text, q.bind({**base, "route_reference": new["route_reference"]}))}
        out = {}
        for side in ["ref", "tree", "tree", "ref", "ref", "tree"]:
            t, cpu = time.perf_counter(), time.process_time()
            r = store.con.sql(texts[side][0], params=texts[side][1]).fetchall()
            run = (r, time.perf_counter() - t, time.process_time() - cpu)
            out[side] = run if side not in out else (r, min(out[side][1], run[1]), min(out[side][2], run[2]))
        a, b = sorted(out["ref"][0], key=str), sorted(out["tree"][0], key=str)  # no ORDER BY in the detector: run_signals orders findings
        ok = len(a) == len(b) and all(len(x) == len(y) and all(same(u, v) for u, v in zip(x, y)) for x, y in zip(a, b))
        exact = a == b
        print(f"psi_refit={refit}: {'same' if ok else 'DIFFERENT'} (bit-exact {exact}) rows {len(a)}/{len(b)} cpu ref {out['ref'][2]:.2f} s tree {out['tree'][2]:.2f} s wall ref {out['ref'][1]:.2f} tree {out['tree'][1]:.2f}")
        if not ok:
            for x, y in zip(a, b):
                print(" ref :", x); print(" tree:", y)
        else:
            for x in b: print("  ", x[2], x[4], x[3][:160])
