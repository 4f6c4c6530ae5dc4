"""The organization's destination policy, enforced where recipients and destinations are written: a 422 that
names the recipient and the rule. The rules themselves are shared.policy's, so the consumer applies the same."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from producer.api.errors import validation
from producer.api.models import RecipientIn
from shared import policy
from shared.db import Connection, Pool

_FIX = "an owner can change the organization's policy (PUT /v1/organizations/{id}/policy)"
_EMAILS = "SELECT id, email FROM users WHERE id = ANY($1::uuid[])"


def refused(field: str, who: str, rule: str, organization_id: UUID) -> Exception:
    return validation(
        field, f"{who} is not allowed by the organization's policy: {rule}; {_FIX.format(id=organization_id)}"
    )


async def check_recipients(conn: Pool | Connection, organization_id: UUID, recipients: Sequence[RecipientIn]) -> None:
    rules = await policy.load(conn, organization_id)
    users = [r.user_id for r in recipients if r.user_id is not None]
    emails = {row["id"]: row["email"] for row in await conn.fetch(_EMAILS, users)} if users else {}
    for index, r in enumerate(recipients):
        if r.channel == "telegram":
            rule, who = rules.telegram(), f"Telegram chat {r.telegram_chat_id}"
        else:
            address = r.email or emails.get(r.user_id) or ""
            rule, who = rules.email(address), address
        if rule is not None:
            raise refused(f"recipients.{index}", who, rule, organization_id)


async def check_destination(
    conn: Pool | Connection, organization_id: UUID, channel: str, config: dict[str, Any], target: str
) -> None:
    rule = (await policy.load(conn, organization_id)).destination(channel, config)
    if rule is not None:
        field = {"webhook": "url", "sftp": "host"}.get(channel, "channel")
        raise refused(field, f"{channel} destination {target}", rule, organization_id)
