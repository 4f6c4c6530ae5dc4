"""The organization's destination policy, enforced where recipients and destinations are written: a 422 that
names the recipient and the rule. The rules themselves are shared.policy's, so the consumer applies the same."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from producer.api import sql
from producer.api.errors import validation
from producer.api.models import RecipientIn
from shared import policy
from shared.db import Connection, Pool

_FIX = "an owner can change the organization's policy (PUT /v1/organizations/{id}/policy)"


def refused(field: str, who: str, rule: str, organization_id: UUID) -> Exception:
    return validation(
        field, f"{who} is not allowed by the organization's policy: {rule}; {_FIX.format(id=organization_id)}"
    )


async def check_recipients(conn: Pool | Connection, organization_id: UUID, recipients: Sequence[RecipientIn]) -> None:
    rules = await policy.load(conn, organization_id)
    users = [r.user_id for r in recipients if r.user_id is not None]
    emails = {row["id"]: row["email"] for row in await conn.fetch(sql.USER_EMAILS, users)} if users else {}
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


async def check_notice_targets(conn: Pool | Connection, organization_id: UUID, targets: Sequence[str]) -> None:
    """notify_on_failure: destinations must be the organization's Slack or webhook ones, addresses within policy."""
    rules = await policy.load(conn, organization_id)
    ids = [UUID(t.removeprefix("destination:")) for t in targets if t.startswith("destination:")]
    found = {r["id"] for r in await conn.fetch(sql.NOTICE_DESTINATIONS, organization_id, ids)} if ids else set()
    for index, target in enumerate(targets):
        field = f"notify_on_failure.{index}"
        if target.startswith("destination:"):
            if UUID(target.removeprefix("destination:")) not in found:
                raise validation(field, "names no Slack or webhook destination of this organization")
        elif "@" in target:
            rule = rules.email(target)
            if rule is not None:
                raise refused(field, target, rule, organization_id)
