"""Run the test server in the foreground: `python -m costlab.testing --port 8765 --latency 0.05`."""

from __future__ import annotations

import argparse
import sys
import time

from costlab.testing.server import TestServer


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m costlab.testing", description=__doc__)
    ap.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
    ap.add_argument("--latency", type=float, default=0.0, help="seconds added to every Messages call")
    ap.add_argument("--no-record", action="store_true", help="keep no request log (long benchmarks)")
    args = ap.parse_args(argv)
    server = TestServer(latency=args.latency, port=args.port, record=not args.no_record).start()
    print(server.url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()
        sys.exit(0)


if __name__ == "__main__":
    main()
