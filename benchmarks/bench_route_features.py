"""The what-if pass with and without the learned policy's request features read from stored bodies
(reduce(route_features=True): queries/whatif/evidence/request_features.sql; "texts": route_texts too), on one store of --rows
generated requests whose bodies (bench_whatif.PAYLOADS_SQL) are all stored. Each step runs in a
fresh process, alternating plain / route-features `--repeat` times; CPU seconds are the child's own
(DuckDB's threads included). The plain pass renders the same SQL as before this feature (the
`route` block is off), so "plain" is also the before figure; run the script with the code of another
checkout on PYTHONPATH and `--plain-only --store FILE` to time that checkout's plain pass on the same store.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/bench_route_features.py --rows 1000000
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_whatif import TIERS, build_store, in_child  # noqa: E402


def _pass(path: str, route: str) -> tuple[float, float, int, bool]:
    from costlab.config import Config
    from costlab.open import open_store
    from costlab.whatif import reduce

    with open_store(Path(path), Config(), read_only=True) as store:
        r0 = resource.getrusage(resource.RUSAGE_SELF)
        t = time.perf_counter()
        if route == "plain":
            red = reduce(store, tiers=TIERS)
        else:
            red = reduce(store, tiers=TIERS, route_features=True, route_texts=route == "texts")
        wall = time.perf_counter() - t
        r1 = resource.getrusage(resource.RUSAGE_SELF)
    return wall, (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime), red.n, red.texts is not None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--store", help="an existing store (kept); else one is built in a temporary directory")
    ap.add_argument("--plain-only", action="store_true")
    args = ap.parse_args()
    tmp = tempfile.TemporaryDirectory()
    path = args.store or os.path.join(tmp.name, "bench.duckdb")
    if not Path(path).exists():
        print(f"build {args.rows:,} requests with bodies: {build_store(path, args.rows, payloads=True):.1f} s", flush=True)
    for _ in range(args.repeat):
        for route in (("plain",) if args.plain_only else ("plain", "features", "texts")):
            wall, cpu, n, texts = in_child(_pass, path, route)
            print(f"{route:>8}: {n:,} requests, wall {wall:.2f} s, CPU {cpu:.2f} s, "
                  f"texts {texts}, load {os.getloadavg()[0]:.2f}", flush=True)


if __name__ == "__main__":
    main()
