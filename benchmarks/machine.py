"""Kept for the benchmark scripts that import `machine.describe`; the implementation is in common.py."""

from common import describe  # noqa: F401
