"""Real services for the tests that cross a connection: found, or skipped with a reason.

Under CI=true an absent service fails the test instead: CI promises PostgreSQL and Redis.
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlparse

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"
REDIS_TEST_URL = os.environ.get("TUNEFOLIO_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection(
            (parsed.hostname or "127.0.0.1", parsed.port or default_port), 1
        ):
            return True
    except OSError:
        return False


def require(name: str, available: bool, reason: str) -> None:
    """Skip (or, in CI, fail) when ``name`` is not available."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"{name} is required under CI=true: {reason}", pytrace=False)
    pytest.skip(reason)


def require_redis() -> str:
    require("Redis", reachable(REDIS_TEST_URL, 6379), f"no Redis at {REDIS_TEST_URL}")
    return REDIS_TEST_URL
