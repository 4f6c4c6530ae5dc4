"""What every delivery channel is: one module, one object with this shape, registered by name.

A channel sends a report file or a short text to one recipient and classifies what happened
(`Outcome`: sent, transient with an optional retry_after, permanent, too_large). The job's
orchestration (attempt log, retries, replay chains, dead letters, zipping and the too-large notice)
is the same for every channel and never looks inside one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import aiohttp

    from consumer.delivery.outcome import Attachment, Outcome, Report
    from consumer.destinations import Destinations
    from consumer.ratelimit import RateLimiter
    from shared.message import AnyRecipient
    from shared.settings import Settings


@dataclass(frozen=True)
class Context:
    settings: Settings
    session: aiohttp.ClientSession
    limiter: RateLimiter
    # Stored destinations and channel credentials, decrypted on use.
    destinations: Destinations
    run_id: str


class Channel(Protocol):
    name: str

    def limit(self, settings: Settings) -> int:
        """The largest file this channel takes, in bytes."""
        ...

    async def send_file(self, ctx: Context, recipient: Any, report: Report, attachment: Attachment) -> Outcome: ...

    async def send_text(self, ctx: Context, recipient: Any, report: Report, text: str) -> Outcome: ...


# Waiting inline beats going back to the queue for a short Retry-After; longer waits are the queue's.
INLINE_RETRY_AFTER_MAX = 30.0


async def retry_inline(call: Callable[[], Awaitable[Outcome]]) -> Outcome:
    """Run `call` again after each short Retry-After the provider asks for; return any other outcome."""
    while True:
        outcome = await call()
        wait = outcome.retry_after
        if outcome.kind != "transient" or wait is None or wait > INLINE_RETRY_AFTER_MAX:
            return outcome
        await asyncio.sleep(wait)


def headline(report: Report) -> str:
    return report.subject or f"{report.name} ({report.fire_date})"


def note(report: Report) -> str | None:
    return "\n".join(x for x in (report.stale, report.message) if x) or None


__all__ = ["AnyRecipient", "Channel", "Context", "headline", "note"]
