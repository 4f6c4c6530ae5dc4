"""Fixtures of the integration tier: the Loops and Telegram fakes for in-process consumer runs, and a real SMTP
server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from tests.support.harness import Fakes, fakes
from tests.support.servers import free_port
from tests.support.smtp import Handler


@pytest.fixture
async def fx(tmp_path: Path) -> AsyncIterator[Fakes]:
    async with fakes(tmp_path) as f:
        yield f


@pytest.fixture
def server() -> Iterator[tuple[Handler, int]]:
    """An aiosmtpd server on a free port that takes messages up to 4 KiB: its handler and port."""
    handler = Handler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, data_size_limit=4096)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()
