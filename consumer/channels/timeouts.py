"""How long one provider request may take, from the provider's settings, and what a person reads when it
took longer."""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp

from shared.redact import redact
from shared.settings import Settings


@dataclass(frozen=True)
class Timeouts:
    provider: str
    connect: float
    total: float

    @property
    def setting(self) -> str:
        return self.provider.upper()

    def client(self) -> aiohttp.ClientTimeout:
        # The total bounds the whole request, upload included: a server that accepts and never reads or never
        # answers cannot hold a worker slot past it.
        return aiohttp.ClientTimeout(total=self.total, connect=self.connect)

    def explain(self, exc: BaseException) -> str:
        """The failure as its owner should read it: which limit, and the setting that sets it."""
        if isinstance(exc, aiohttp.ConnectionTimeoutError):
            return (
                f"{self.provider}: could not connect within {self.connect:g} s ({self.setting}_CONNECT_TIMEOUT_SECONDS)"
            )
        if isinstance(exc, aiohttp.ClientConnectorError):
            return f"{self.provider}: cannot connect: {redact(str(exc))}"
        if isinstance(exc, TimeoutError):
            return f"{self.provider}: no answer within {self.total:g} s ({self.setting}_TIMEOUT_SECONDS)"
        detail = redact(str(exc))
        return f"{self.provider}: {type(exc).__name__}" + (f": {detail}" if detail else "")


def loops(settings: Settings) -> Timeouts:
    return Timeouts("loops", settings.loops_connect_timeout_seconds, settings.loops_timeout_seconds)


def telegram(settings: Settings) -> Timeouts:
    return Timeouts("telegram", settings.telegram_connect_timeout_seconds, settings.telegram_timeout_seconds)
