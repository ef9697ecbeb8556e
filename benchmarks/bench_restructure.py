"""Did a refactor slow anything a user runs? The main commands, timed end to end through the CLI, on
this tree and on another commit (default: the last commit before issue 14's restructure), side by
side on the same log, interleaved so both see the same machine.

    python benchmarks/bench_restructure.py [--base REF] [--rows 1000000] [--repeat 3] [--record]

Each round runs, for each tree in turn, in a fresh store: `costlab ingest` of one generated envelope
log, then `summary`, `signals`, `report --week` and `whatif --split` over it. Reported: the median
wall and CPU time of each command (process start included: it is what a user waits for) and the
ratios this tree / base (under 1: faster). CPU time (user + system of the command's process) moves
less than wall time when the machine is shared.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from common import describe, record_section  # noqa: E402

BASE = "9ce4336"  # main before issue 14's restructure (2026-12-07)
COMMANDS = {
    "ingest": ["ingest", "{log}"],
    "summary": ["summary"],
    "signals": ["signals"],
    "report": ["report", "--week", "2026-W46"],
    "whatif": ["whatif", "--split", "haiku=70,sonnet=25,opus=5"],
}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(tree: Path, db: Path, args: list[str], log: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of one command: CPU (user + system, all threads) moves less with the load."""
    env = {**os.environ, "PYTHONPATH": str(tree), "COSTLAB_DB": str(db)}
    argv = [sys.executable, "-m", "costlab", *[a.replace("{log}", str(log)) for a in args]]
    t, cpu = time.perf_counter(), _children_cpu()
    proc = subprocess.run(argv, cwd=db.parent, env=env, capture_output=True, text=True)
    took = time.perf_counter() - t, _children_cpu() - cpu
    if proc.returncode not in (0, 5):  # 5: signals found something (an answer, not a failure)
        raise SystemExit(f"{tree.name}: costlab {' '.join(args)} failed ({proc.returncode}): {proc.stderr[-1500:]}")
    return took


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", default=BASE)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--record", action="store_true")
    args = ap.parse_args()
    info = describe()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        base = tmp / "base"
        subprocess.run(["git", "worktree", "add", "--detach", "-q", str(base), args.base], cwd=ROOT, check=True)
        try:
            log = tmp / "log.jsonl"
            env = {**os.environ, "PYTHONPATH": str(ROOT)}
            subprocess.run([sys.executable, "-m", "costlab", "generate", str(log), "--rows", str(args.rows),
                            "--start", "2026-11-02", "--days", "21"], env=env, check=True, capture_output=True)
            times: dict[str, dict[str, list[tuple[float, float]]]] = {t: {c: [] for c in COMMANDS} for t in ("base", "this")}
            for r in range(args.repeat):
                for name, tree in (("base", base), ("this", ROOT)) if r % 2 == 0 else (("this", ROOT), ("base", base)):
                    work = tmp / f"{name}{r}"
                    work.mkdir()
                    for command, argv in COMMANDS.items():
                        times[name][command].append(run(tree, work / "s.duckdb", argv, log))
                    print(f"round {r + 1}: {name} " + " ".join(f"{c} {times[name][c][-1][0]:.1f}s" for c in COMMANDS),
                          file=sys.stderr, flush=True)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base)], cwd=ROOT)
    lines = [f"| command ({args.rows:,} requests) | base `{args.base}` wall s | this tree wall s | wall ratio "
             "| base CPU s | this tree CPU s | CPU ratio |", "|---|---|---|---|---|---|---|"]
    for command in COMMANDS:
        (bw, bc), (tw, tc) = ((statistics.median(x[0] for x in times[k][command]),
                               statistics.median(x[1] for x in times[k][command])) for k in ("base", "this"))
        lines.append(f"| `costlab {' '.join(COMMANDS[command]).replace(' {log}', ' LOG')}` | {bw:.2f} | {tw:.2f} | "
                     f"{tw / bw:.2f} | {bc:.2f} | {tc:.2f} | {tc / bc:.2f} |")
    body = "\n".join([info, "", f"`benchmarks/bench_restructure.py --rows {args.rows} --repeat {args.repeat}`: "
                      f"{args.repeat} rounds, interleaved (base first in odd rounds); medians.", "", *lines])
    print(body)
    if args.record:
        record_section("Restructure (issue 14): the main commands before and after", body)


if __name__ == "__main__":
    main()
