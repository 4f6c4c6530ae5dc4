"""Fixtures of the unit tier. Unit tests need no server, process or network, so the tier runs anywhere
(`pytest tests/unit` with DATABASE_URL and REDIS_URL unset); the one hook here keeps it so."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test here that needs PostgreSQL or Redis (tests/conftest.py's `service_urls`) belongs to tests/integration:
    refused when collected, before any server starts."""
    wrong = [
        item.nodeid
        for item in items
        if HERE in item.path.resolve().parents and "service_urls" in getattr(item, "fixturenames", ())
    ]
    if wrong:
        raise pytest.UsageError(f"unit tests that need a server (move them to tests/integration): {wrong}")
