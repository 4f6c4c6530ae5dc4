"""What both fakes share: a scripted failure queue, a sliding-window rate check, start/stop."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web


@dataclass
class Action:
    """One scripted reaction: an HTTP status with a body, an HTML page, or a stall (timeout)."""

    status: int = 500
    body: dict[str, Any] | None = None
    html: bool = False
    delay: float = 0.0
    accept: bool = False  # record the request as delivered, then misbehave (lost response)


@dataclass
class SlidingWindow:
    limit: int
    seconds: float = 1.0
    hits: dict[str, deque[float]] = field(default_factory=lambda: defaultdict(deque))

    def allow(self, key: str) -> bool:
        now = time.monotonic()
        window = self.hits[key]
        while window and now - window[0] >= self.seconds:
            window.popleft()
        if len(window) >= self.limit:
            return False
        window.append(now)
        return True


class FakeServer:
    def __init__(self, save_dir: Path | None = None) -> None:
        self.save_dir = save_dir
        self.script: deque[Action] = deque()
        self.received: list[dict[str, Any]] = []
        self.requests = 0
        self.rate_limited = 0
        self._runner: web.AppRunner | None = None
        self.url = ""

    def save(self, name: str, data: bytes) -> str | None:
        """Keep a received file under save_dir, numbered in arrival order; returns its path."""
        if self.save_dir is None:
            return None
        self.save_dir.mkdir(parents=True, exist_ok=True)
        target = self.save_dir / f"{len(self.received):04d}-{name}"
        target.write_bytes(data)
        return str(target)

    def fail_next(self, *actions: Action) -> None:
        self.script.extend(actions)

    def next_action(self) -> Action | None:
        return self.script.popleft() if self.script else None

    def app(self) -> web.Application:  # pragma: no cover - overridden
        raise NotImplementedError

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self._runner = web.AppRunner(self.app(), handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        server = site._server
        assert server is not None and server.sockets  # type: ignore[attr-defined]
        bound = server.sockets[0].getsockname()  # type: ignore[attr-defined]
        self.url = f"http://{host}:{bound[1]}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @staticmethod
    async def stall(seconds: float) -> None:
        await asyncio.sleep(seconds)
