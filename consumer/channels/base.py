"""What every delivery channel is: one module, one object with this shape, registered by name.

A channel sends a report file or a short text to one recipient and classifies what happened
(`Outcome`: sent, transient with an optional retry_after, permanent, too_large, maybe delivered; and the
recipient as the provider now knows it, when that changed). The job's
orchestration (attempt log, retries, replay chains, dead letters, zipping and the too-large notice)
is the same for every channel and never looks inside one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import aiohttp

    from consumer.channels.outcome import Attachment, Outcome, Report
    from consumer.destinations import Destinations
    from consumer.ratelimit import RateLimiter
    from shared.db import Pool
    from shared.settings import Settings


@dataclass(frozen=True)
class Context:
    settings: Settings
    session: aiohttp.ClientSession
    limiter: RateLimiter
    # Stored destinations and channel credentials, decrypted on use.
    destinations: Destinations
    run_id: str
    # For a channel that must store a change its provider made (Telegram's group-to-supergroup move).
    pool: Pool


class Channel(Protocol):
    name: str

    async def send_files(
        self, ctx: Context, recipient: Any, report: Report, attachments: Sequence[Attachment]
    ) -> Outcome:
        """All of the report's files (one per format, each within `max_file_bytes`) in one message or request."""
        ...

    async def send_text(self, ctx: Context, recipient: Any, report: Report, text: str) -> Outcome: ...


def notice_id(text: str) -> str:
    """Tells one notice of a run from another, and from the report itself, where a provider or a receiver
    drops a repeated id: the same notice sent again keeps its id."""
    return "notice-" + hashlib.sha256(text.encode()).hexdigest()[:16]


def headline(report: Report) -> str:
    return report.subject or f"{report.name} ({report.fire_date})"


def note(report: Report) -> str | None:
    return "\n".join(x for x in (report.stale, report.message) if x) or None


__all__ = ["Channel", "Context", "headline", "note", "notice_id"]
