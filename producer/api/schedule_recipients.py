"""A schedule's email and Telegram recipients: checked (each once, members by id, the destination policy) and
written."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from producer.api import allowed, sql
from producer.api.errors import validation
from producer.api.models import RecipientIn
from shared.db import Connection, Pool


async def check(conn: Pool | Connection, organization_id: UUID, recipients: Sequence[RecipientIn]) -> None:
    seen: set[tuple[str, str]] = set()
    for index, r in enumerate(recipients):
        if (r.channel, r.target) in seen:
            raise validation(f"recipients.{index}", "repeats an earlier recipient")
        seen.add((r.channel, r.target))
    users = [r.user_id for r in recipients if r.user_id is not None]
    if users:
        members = {row["user_id"] for row in await conn.fetch(sql.MEMBERS, organization_id, users)}
        for index, r in enumerate(recipients):
            if r.user_id is not None and r.user_id not in members:
                raise validation(f"recipients.{index}.user_id", "is not a member of this organization")
    await allowed.check_recipients(conn, organization_id, recipients)


async def replace(conn: Connection, schedule_id: UUID, recipients: Sequence[RecipientIn]) -> None:
    await conn.execute(sql.DELETE_RECIPIENTS, schedule_id)
    if recipients:
        await conn.execute(
            sql.INSERT_RECIPIENTS,
            schedule_id,
            [r.channel for r in recipients],
            [r.user_id for r in recipients],
            [r.email for r in recipients],
            [r.telegram_chat_id for r in recipients],
        )
