"""Fixtures of the unit tier. Unit tests need no server, process or network, so the tier runs anywhere
(`pytest tests/unit` with DATABASE_URL and REDIS_URL unset); the one fixture here keeps it so."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _no_servers(request: pytest.FixtureRequest) -> None:
    """A test that needs PostgreSQL or Redis (tests/conftest.py's `service_urls`) belongs to tests/integration."""
    assert "service_urls" not in request.fixturenames, f"{request.node.nodeid} needs a server: not a unit test"
