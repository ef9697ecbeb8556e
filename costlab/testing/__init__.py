"""Test doubles shipped with costlab (nothing in the library imports them):

* server.py: an Anthropic-compatible server on 127.0.0.1 (Claude API, Bedrock, Vertex; faults,
  holds, its own books); handler.py its HTTP side, answers.py what its models answer, books.py
  what it charged;
* factories.py: request rows and logged traffic for tests.

    python -m costlab.testing --port 8765 --latency 0.05    # then point base_url at http://127.0.0.1:8765
"""

from costlab.testing.server import Fault, TestServer

__all__ = ["Fault", "TestServer"]
