"""A test run's chosen recipients, of every kind, as the queue message carries them."""

from __future__ import annotations

from uuid import UUID

from producer.api import sql
from producer.api.errors import validation
from producer.api.models import RunRecipientIn
from shared.db import Pool
from shared.message import AnyRecipient, DestinationRecipient, EmailRecipient, TelegramRecipient


async def override(pool: Pool, organization_id: UUID, recipients: list[RunRecipientIn]) -> list[AnyRecipient]:
    """People by address or user, chats by id, and stored destinations of the organization by id (their settings
    and secrets stay in the database: the message names them only)."""
    users = [r.user_id for r in recipients if r.user_id is not None]
    emails = {row["id"]: row["email"] for row in await pool.fetch(sql.USER_EMAILS, users)} if users else {}
    wanted = [r.destination_id for r in recipients if r.destination_id is not None]
    stored = (
        {row["id"]: row for row in await pool.fetch(sql.ORGANIZATION_DESTINATIONS, organization_id, wanted)}
        if wanted
        else {}
    )
    chosen: list[AnyRecipient] = []
    for index, r in enumerate(recipients):
        if r.destination_id is not None:
            row = stored.get(r.destination_id)
            if row is None or row["channel"] != r.channel:
                raise validation(
                    f"recipients.{index}.destination_id",
                    f"is not a {r.channel} destination of this organization (see GET /v1/destinations)",
                )
            chosen.append(DestinationRecipient(channel=r.channel, destination_id=row["id"], target=row["target"]))
        elif r.telegram_chat_id is not None:
            chosen.append(TelegramRecipient(channel="telegram", telegram_chat_id=r.telegram_chat_id))
        else:
            address = r.email or emails[r.user_id or UUID(int=0)]
            chosen.append(EmailRecipient(channel="email", user_id=r.user_id, email=address))
    return chosen
