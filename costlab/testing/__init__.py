"""Test doubles shipped with costlab: an Anthropic-compatible server on 127.0.0.1 (see server.py).

    python -m costlab.testing --port 8765 --latency 0.05    # then point base_url at http://127.0.0.1:8765
"""

from costlab.testing.server import Fault, TestServer

__all__ = ["Fault", "TestServer"]
