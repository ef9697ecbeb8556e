"""Ingest on lean logs and on growing files (issue 15): throughput against raw DuckDB, and peak memory.

A lean Anthropic-envelope log: the generator's envelopes without payloads, with the fields a lean
logger leaves out removed (no error, stop_sequence, role, cache_creation split, server_tool_use,
inference_geo, speed, null metadata keys) and a one-word response text: about 690 bytes a request,
where the benchmark's own envelopes (bench_ingest.py) have 1,130.

Throughput: raw DuckDB (`read_json` into a table of the store file), costlab as checked out here
("after"), and optionally another checkout ("before", --before PATH: e.g. `git worktree add
/tmp/base 773a74f`), alternating, each run its own process; wall AND process CPU time, because the
reference machine is shared: the CPU ratio is the steadier figure under load. --profile adds one run
of each costlab that times every SQL statement of the ingest (wall and CPU).

Growth (--growth 1,3,10 in GB): lean files of about that size (the 1M-row file copied with fresh
ids), each ingested into a fresh store by its own process; peak RSS should stay flat. Written to
--work (default /tmp), deleted after. Each process runs under `ulimit -v` (--address-space, 8 GB)
so the old code cannot take the shared machine down: that also makes costlab give DuckDB half the
address space free (about 3.5 GiB) unless [ingest] memory_limit is lower.

    .venv/bin/python benchmarks/bench_ingest_scale.py --rows 1000000 --repeat 2 --before /tmp/base --profile
    .venv/bin/python benchmarks/bench_ingest_scale.py --growth 1,3,10 --before /tmp/base --before-max-gb 3 --record
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from bench_ingest import PROFILE  # noqa: E402

RAW = """
import duckdb, json, resource, sys, time
path, db = sys.argv[1:3]
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF); return r.ru_utime + r.ru_stime
con = duckdb.connect(db)
con.execute("set enable_progress_bar = false")
c, t = cpu(), time.perf_counter()
con.execute("create table raw as select * from read_json(?, format='newline_delimited')", [path])
dt, dc = time.perf_counter() - t, cpu() - c
n = con.execute("select count(*) from raw").fetchall()[0][0]
print(json.dumps({"wall": dt, "cpu": dc, "rows": n, "peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""

COSTLAB = """
import json, resource, sys, time
from costlab.config import Config
from costlab.ingest import ingest_paths
from costlab.open import open_store
path, db = sys.argv[1:3]
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF); return r.ru_utime + r.ru_stime
store = open_store(db, Config())
c, t = cpu(), time.perf_counter()
result = ingest_paths(store, [path]).files[0]
dt, dc = time.perf_counter() - t, cpu() - c
assert result.error is None and result.rows_rejected == 0, result
print(json.dumps({"wall": dt, "cpu": dc, "rows": result.rows_added, "peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""

# One line of the generator's envelope, made lean: these pieces are cut from every line.
_CUT = ['"role":"assistant",', '"stop_sequence":null,',
        ',"cache_creation":{"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":0}',
        ',"server_tool_use":{"web_search_requests":0,"web_fetch_requests":0}', ',"inference_geo":"global"',
        ',"parent_request_id":null', ',"feedback_score":null', '"error":null,', ',"speed":"standard"']
_LINES = "read_csv({src}, columns={{'raw': 'VARCHAR'}}, header=false, delim='\\x01', quote='', escape='', auto_detect=false)"
_AS_LINES = "(format csv, header false, quote '', escape '', delimiter '\\x01')"


def lean_envelopes(path: Path, rows: int) -> None:
    """`rows` lean envelopes (see the module doc) into `path`."""
    from costlab.generate import generate
    from costlab.store import Store
    from costlab.store.sqlquote import literal

    full = path.with_suffix(".full.jsonl")
    generate(full, rows, seed=1, fmt="anthropic", payloads=False)
    expr = "raw"
    for piece in _CUT:
        expr = f"replace({expr}, {literal(piece)}, '')"
    expr = f"""replace({expr}, '"content":[]', '"content":[{{"type":"text","text":"ok"}}]')"""
    with Store(":memory:") as s:
        s.execute(f"copy (select {expr} from {_LINES.format(src=literal(full))}) to {literal(path)} {_AS_LINES}")
    full.unlink()


def copies(src: Path, n: int, out: Path) -> None:
    """`src`'s lines `n` times, each copy with its own request and message ids."""
    from costlab.store import Store
    from costlab.store.sqlquote import literal

    with Store(":memory:") as s:
        s.execute_script("set memory_limit = '1GB'; set preserve_insertion_order = false")
        s.execute(f"""copy (select replace(replace(raw, '"req_', '"req_c' || i || '_'), '"msg_', '"msg_c' || i || '_')
                          from range({int(n)}) r(i), {_LINES.format(src=literal(src))}) to {literal(out)} {_AS_LINES}""")


def _limit_address_space(limit: int):
    return lambda: resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def run(code: str, tree: Path | None, path: Path, work: Path, address_space: int) -> dict:
    """One measurement in its own process (`tree`: the costlab checkout on its path; None for raw DuckDB)."""
    db = work / f"bench-{time.monotonic_ns()}.duckdb"
    env = dict(os.environ, PYTHONPATH=str(tree)) if tree else dict(os.environ)
    env.pop("COSTLAB_MEMORY_LIMIT", None)
    try:
        out = subprocess.run([sys.executable, "-c", code, str(path), str(db)], capture_output=True, text=True,
                             env=env, cwd=str(tree or ROOT), preexec_fn=_limit_address_space(address_space))
        if out.returncode:
            return {"error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"exit {out.returncode}"}
        data = json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        for leftover in (db, Path(f"{db}.wal")):
            leftover.unlink(missing_ok=True)
    data["load"] = round(os.getloadavg()[0], 1)
    return data


def profile(tree: Path, path: Path, work: Path) -> dict:
    db = work / f"profile-{time.monotonic_ns()}.duckdb"
    env = dict(os.environ, PYTHONPATH=str(tree))
    out = subprocess.run([sys.executable, "-c", PROFILE, str(path), "anthropic", str(db)], capture_output=True,
                         text=True, check=True, env=env, cwd=str(tree))
    for leftover in (db, Path(f"{db}.wal")):
        leftover.unlink(missing_ok=True)
    return json.loads(out.stdout)


def throughput(args: argparse.Namespace, work: Path) -> dict:
    path = work / "lean.jsonl"
    t = time.perf_counter()
    lean_envelopes(path, args.rows)
    size = path.stat().st_size
    print(f"lean envelopes: {args.rows:,} rows, {size / 1e6:.0f} MB in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    trees = {"after": ROOT, **({"before": args.before} if args.before else {})}
    runs: dict[str, list[dict]] = {"raw": [], **{k: [] for k in trees}}
    for _ in range(args.repeat):
        runs["raw"].append(run(RAW, None, path, work, args.address_space))
        for name, tree in trees.items():
            runs[name].append(run(COSTLAB, tree, path, work, args.address_space))
        print(json.dumps({k: v[-1] for k, v in runs.items()}), file=sys.stderr)
    profiles = {name: profile(tree, path, work) for name, tree in trees.items()} if args.profile else {}
    path.unlink()
    return {"rows": args.rows, "file_mb": round(size / 1e6), "runs": runs, "profiles": profiles}


def growth(args: argparse.Namespace, work: Path) -> list[dict]:
    base = work / "lean-base.jsonl"
    lean_envelopes(base, args.base_rows)
    per_copy = base.stat().st_size
    out = []
    for gb in [float(g) for g in args.growth.split(",")]:
        n = max(1, round(gb * 1e9 / per_copy))
        path = work / f"lean-{n}x.jsonl"
        copies(base, n, path)
        row = {"gb": round(path.stat().st_size / 1e9, 2), "rows": n * args.base_rows,
               "after": run(COSTLAB, ROOT, path, work, args.address_space)}
        if args.before and gb <= args.before_max_gb:
            row["before"] = run(COSTLAB, args.before, path, work, args.address_space)
        print(json.dumps(row), file=sys.stderr)
        out.append(row)
        path.unlink()
    base.unlink()
    return out


def _best(runs: list[dict], key: str) -> float:
    return min(r[key] for r in runs if "error" not in r)


def markdown(t: dict | None, g: list[dict] | None) -> list[str]:
    lines = []
    if t:
        lines += [f"Lean Anthropic envelopes, {t['rows']:,} requests, {t['file_mb']} MB; best of {len(t['runs']['raw'])} "
                  "(each its own process, alternating); load = 1-minute load average after the run.", "",
                  "| run | wall | CPU | peak RSS | raw / costlab, wall | raw / costlab, CPU | load |",
                  "|---|---|---|---|---|---|---|"]
        raw_w, raw_c = _best(t["runs"]["raw"], "wall"), _best(t["runs"]["raw"], "cpu")
        for name, runs in t["runs"].items():
            w, c = _best(runs, "wall"), _best(runs, "cpu")
            peak = max(r["peak"] for r in runs if "error" not in r) / 1e9
            ratio = ("-", "-") if name == "raw" else (f"{raw_w / w:.2f}", f"{raw_c / c:.2f}")
            lines.append(f"| {name} | {w:.2f} s | {c:.2f} s | {peak:.2f} GB | {ratio[0]} | {ratio[1]} | "
                         f"{', '.join(str(r['load']) for r in runs)} |")
        for name, prof in t["profiles"].items():
            lines += ["", f"Where the time goes ({name}; {prof['total'][0]:.1f} s wall, {prof['total'][1]:.1f} s CPU of "
                      "the process, the sha256 thread included; statements of 0.02 s and more):", "",
                      "| wall | CPU | statement |", "|---|---|---|"]
            lines += [f"| {w:.2f} s | {c:.2f} s | `{q[:80]}` |" for q, w, c in prof["steps"]]
    if g:
        lines += ["", "Peak RSS by file size (lean envelopes, one process per file, fresh store):", "",
                  "| file | rows | after: wall, CPU, peak RSS | before: wall, CPU, peak RSS |", "|---|---|---|---|"]
        for row in g:
            def cell(r: dict | None) -> str:
                if r is None:
                    return "not run"
                if "error" in r:
                    return f"failed: {r['error'][:80]}"
                return f"{r['wall']:.0f} s, {r['cpu']:.0f} s, **{r['peak'] / 1e9:.2f} GB** (load {r['load']})"
            lines.append(f"| {row['gb']} GB | {row['rows']:,} | {cell(row['after'])} | {cell(row.get('before'))} |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000, help="requests in the lean file for the throughput runs (0: none)")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--before", type=Path, help="another costlab checkout to run side by side (e.g. main)")
    ap.add_argument("--profile", action="store_true", help="time each SQL statement of one ingest per checkout")
    ap.add_argument("--growth", default="", help="file sizes in GB for the peak-RSS runs, e.g. 1,3,10")
    ap.add_argument("--base-rows", type=int, default=1_000_000, help="requests in the file the growth files copy")
    ap.add_argument("--before-max-gb", type=float, default=3.0, help="the largest growth file the before checkout reads")
    ap.add_argument("--address-space", type=float, default=8.0, help="ulimit -v of every run, in GB")
    ap.add_argument("--work", type=Path, default=Path("/tmp"))
    ap.add_argument("--record", action="store_true", help="append the tables to benchmarks/RESULTS.md")
    args = ap.parse_args()
    args.address_space = int(args.address_space * 1e9)
    work = args.work / f"costlab-bench-ingest-{os.getpid()}"
    work.mkdir(parents=True)
    try:
        t = throughput(args, work) if args.rows else None
        g = growth(args, work) if args.growth else None
    finally:
        for leftover in work.glob("*"):
            leftover.unlink() if leftover.is_file() else None
        work.rmdir() if not any(work.iterdir()) else None
    print(json.dumps({"throughput": t, "growth": g}, indent=2))
    lines = markdown(t, g)
    print("\n".join(lines), file=sys.stderr)
    if args.record:
        from machine import describe

        with (HERE / "RESULTS.md").open("a") as fh:
            fh.write("\n".join([f"\n## Ingest on lean logs and growing files ({time.strftime('%Y-%m-%d')}, "
                                f"`benchmarks/bench_ingest_scale.py`)\n", describe(), "", *lines]) + "\n")


if __name__ == "__main__":
    main()
