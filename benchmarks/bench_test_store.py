"""The test suite's `store` fixture, before and after issue 14: a fresh store per test
(open_store(new file, Config()): migrate, import the catalogue, build the price card, define the views)
against a copy of one checkpointed template (tests/helpers.py copy_store: a file copy, then open_store()
on it, which finds nothing to migrate or load and only redefines macros and views).

    python benchmarks/bench_test_store.py [--repeat 30]

The two are interleaved, so a busy machine slows both alike. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from common import describe  # noqa: E402
from costlab.config import Config  # noqa: E402
from costlab.open import open_store  # noqa: E402
from helpers import build_template, copy_store  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    print(describe())
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        t0 = time.perf_counter()
        template = build_template(d / "template.duckdb")
        build = time.perf_counter() - t0
        fresh, copied = [], []
        for i in range(args.repeat):
            t0 = time.perf_counter()
            open_store(d / f"fresh{i}.duckdb", Config()).close()
            fresh.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            copy_store(template, d / f"copy{i}.duckdb").close()
            copied.append(time.perf_counter() - t0)
    ms = lambda xs: f"{statistics.median(xs) * 1000:.0f} ms (min {min(xs) * 1000:.0f}, max {max(xs) * 1000:.0f})"  # noqa: E731
    print(f"\n| store fixture, {args.repeat} each, interleaved | median (min, max) |\n|---|---|")
    print(f"| before: fresh store | {ms(fresh)} |")
    print(f"| after: copy of the template | {ms(copied)} |")
    print(f"| template, built once per run | {build * 1000:.0f} ms |")
    print(f"\nsaving per fixture: {(statistics.median(fresh) - statistics.median(copied)) * 1000:.0f} ms "
          f"({1 - statistics.median(copied) / statistics.median(fresh):.0%})")


if __name__ == "__main__":
    main()
