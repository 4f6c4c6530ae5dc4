"""Fixtures of the end-to-end tier: headless Chromium and the console's real producer and consumer processes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, async_playwright

from shared.db import Pool
from shared.settings import Settings
from tests.support.console import PROBLEMS, Service, World, chromium_path, service, world
from tests.support.harness import fakes


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Debian's Chromium, headless; the test fails if any page had a script error, a dialog or a CSP refusal."""
    path = chromium_path()
    PROBLEMS.clear()
    async with async_playwright() as p:
        launched = await p.chromium.launch(executable_path=path, headless=True)
        yield launched
        await launched.close()
    assert PROBLEMS == []


@pytest.fixture
async def setup(pool: Pool, settings: Settings, tmp_path: Path) -> AsyncIterator[tuple[World, Service, Any]]:
    """The console's data, the fakes and the real producer and consumer processes serving it."""
    w = await world(pool)
    async with fakes(tmp_path) as f, service(settings, f, tmp_path) as svc:
        yield w, svc, f
