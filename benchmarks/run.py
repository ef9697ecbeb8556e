"""Run every benchmark at the sizes the issues set, recording each into RESULTS.md (`make bench`).

Scripts are run one after another in their own processes (one timing never shares the machine with
another); pass script names to run only those: `python benchmarks/run.py ingest pricing`.
Each script's own --help says what it measures; sizes here are the issues' targets.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RUNS = {
    "ingest": ["--rows", "1000000", "--repeat", "2"],
    "pricing": ["--rows", "10000000"],
    "sources": [],
    "signals": ["--rows", "10000000"],
    "report": ["--rows", "10000000"],
    "whatif": ["--rows", "10000000"],
    "replay": [],
}


def main(names: list[str]) -> int:
    failed = []
    for name in names or list(RUNS):
        script = HERE / f"bench_{name}.py"
        if not script.exists():
            print(f"skip {name}: {script.name} is not here", file=sys.stderr)
            continue
        print(f"== {name}", file=sys.stderr, flush=True)
        if subprocess.run([sys.executable, str(script), *RUNS.get(name, []), "--record"]).returncode:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
