"""What one delivery attempt ended in, and what the job should do about it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from uuid import UUID

if TYPE_CHECKING:
    from consumer.summary import Summary
    from shared.message import AnyRecipient

Kind = Literal["sent", "permanent", "transient", "too_large", "migrate", "unconfirmed"]


def head(text: str) -> str:
    """The start of a provider's answer, on one line, for an error message."""
    return " ".join(text[:80].split()) or "empty body"


@dataclass(frozen=True)
class Outcome:
    kind: Kind
    detail: dict[str, Any] = field(default_factory=dict)
    retry_after: float | None = None
    # Telegram's answer for a group that became a supergroup: the chat to use from now on.
    new_chat_id: int | None = None
    # The recipient as the provider now knows it, when it changed during this delivery; the job records it.
    recipient: AnyRecipient | None = None

    @classmethod
    def sent(cls, **detail: Any) -> Outcome:
        return cls("sent", detail)

    @classmethod
    def permanent(cls, reason: str, **detail: Any) -> Outcome:
        return cls("permanent", {"reason": reason, **detail})

    @classmethod
    def transient(cls, reason: str, retry_after: float | None = None, **detail: Any) -> Outcome:
        return cls("transient", {"reason": reason, **detail}, retry_after=retry_after)

    @classmethod
    def maybe_delivered(cls, reason: str, **detail: Any) -> Outcome:
        """The provider took the request but its answer is not its success: the send may have arrived, and a
        provider without an idempotency key would repeat it on a retry. Settled for this run, never `sent`."""
        return cls(
            "unconfirmed",
            {"reason": reason, "unconfirmed": True, "maybe_delivered": True, "cause": "unclear_answer", **detail},
        )

    @classmethod
    def too_large(cls, **detail: Any) -> Outcome:
        return cls("too_large", {"reason": "too_large", **detail})


@dataclass(frozen=True)
class Attachment:
    path: Path
    filename: str
    content_type: str
    size: int
    # Of the exported file: for a zip, of the file inside it.
    content_sha256: str = ""


@dataclass(frozen=True)
class Origin:
    """Whose report it is: for unsubscribe links, a provider's stored moves and a machine receiver's metadata."""

    organization_id: UUID
    schedule_id: UUID
    # A notice about a run has no run of its own to describe.
    run_id: UUID | None = None
    fire_at: str = ""
    # Of the exported file; for a zip, of the file inside it.
    sha256: str = ""


@dataclass(frozen=True)
class Report:
    """What a recipient is told about the report, attachment or not."""

    name: str
    rows: int
    fire_date: str
    filename: str
    origin: Origin
    summary: Summary | None = None
    # Said in every message when the freshness gate let a report go out with old statistics.
    stale: str | None = None
    # The schedule's own subject and message, rendered from its templates.
    subject: str | None = None
    message: str | None = None

    def too_large_text(self, filename: str, size: int, limit: int) -> str:
        # Under our limit, it was the provider that refused it.
        bound = (
            f"the {limit / 1_048_576:.0f} MB limit of this channel"
            if size > limit
            else "the size this channel's provider accepts"
        )
        return (
            f"The report '{self.name}' for {self.fire_date} as {filename} has {self.rows} rows "
            f"({size / 1_048_576:.1f} MB compressed), which is over {bound}. Narrow the shared link's filters "
            "(a shorter period, fewer platforms or campaigns) to receive it."
        )
