"""Who receives a fire: the schedule's own recipients per enabled channel, else the organization's."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from shared.message import DestinationRecipient, EmailRecipient, TelegramRecipient

Recipient = EmailRecipient | TelegramRecipient | DestinationRecipient


@dataclass(frozen=True)
class Channels:
    send_email: bool
    send_telegram: bool
    # Stored-destination channels (slack, webhook, sftp) the schedule delivers to.
    extra: tuple[str, ...] = ()

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> Channels:
        return cls(row["send_email"], row["send_telegram"], tuple(row["channels"] or ()))

    def enabled(self) -> list[str]:
        return [c for c, on in (("email", self.send_email), ("telegram", self.send_telegram)) if on] + list(self.extra)


def _to_recipient(row: Mapping[str, Any]) -> Recipient | None:
    if row["channel"] == "email":
        # A user recipient whose user was deleted has no address left: nothing to send to.
        if not row["email"]:
            return None
        return EmailRecipient(channel="email", user_id=row["user_id"], email=row["email"])
    if row["destination_id"] is not None:
        return DestinationRecipient(channel=row["channel"], destination_id=row["destination_id"], target=row["target"])
    return TelegramRecipient(channel="telegram", telegram_chat_id=row["telegram_chat_id"])


def group(rows: Iterable[Mapping[str, Any]]) -> dict[tuple[UUID, str], list[Recipient]]:
    """Rows keyed by (owner id, channel), deduplicated, in a stable order."""
    grouped: dict[tuple[UUID, str], list[Recipient]] = defaultdict(list)
    seen: set[tuple[UUID, str, str]] = set()
    for row in rows:
        recipient = _to_recipient(row)
        if recipient is None:
            continue
        marker = (row["owner"], recipient.channel, recipient.key)
        if marker not in seen:
            seen.add(marker)
            grouped[(row["owner"], recipient.channel)].append(recipient)
    return grouped


def resolve(
    schedule_id: UUID,
    organization_id: UUID,
    channels: Channels,
    own: Mapping[tuple[UUID, str], list[Recipient]],
    org: Mapping[tuple[UUID, str], list[Recipient]],
) -> list[Recipient]:
    result: list[Recipient] = []
    for channel in channels.enabled():
        result += own.get((schedule_id, channel)) or org.get((organization_id, channel)) or []
    return result


NO_RECIPIENTS = (
    "no recipients: the schedule has none for its enabled channels and the organization has no "
    "organization-wide recipients; add recipients or enable another channel"
)
