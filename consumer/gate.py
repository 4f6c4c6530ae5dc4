"""Who may not be sent to, decided just before sending: a recipient the organization's destination policy now
forbids is logged `blocked_by_policy` with the rule, and an address that unsubscribed (from the schedule, or
every report of the organization) is logged `unsubscribed`; nothing is sent to either. Such a recipient does
not count against the run: a run whose other recipients were all served is `sent`; one with nobody left is
`skipped`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from consumer import queries
from shared import policy, unsubscribe
from shared.db import Pool
from shared.message import (
    AnyRecipient,
    DestinationRecipient,
    EmailRecipient,
    ReportMessage,
    TelegramRecipient,
    ledger_columns,
)

NOBODY_LEFT = "no recipient may be sent to: each unsubscribed or is blocked by the organization's destination policy"


def _rule(rules: policy.Policy, recipient: AnyRecipient, destinations: dict[Any, Any]) -> str | None:
    if isinstance(recipient, EmailRecipient):
        return rules.email(recipient.email)
    if isinstance(recipient, TelegramRecipient):
        return rules.telegram()
    if isinstance(recipient, DestinationRecipient):
        row = destinations.get(recipient.destination_id)
        # A destination deleted since the fire fails on its own when delivered.
        return rules.destination(row["channel"], row["config"] or {}) if row is not None else None
    return None


async def log(pool: Pool, message: ReportMessage, recipient: AnyRecipient, status: str, reason: str) -> None:
    """One row in the run's recipient log for a recipient not sent to on purpose (once per run and status)."""
    payload = {"outcome": status, "reason": reason, "permanent": True}
    await pool.execute(
        *queries.RECORD_GATED.bind(
            ledger_columns(recipient),
            schedule_id=message.schedule_id,
            run_id=message.run_id,
            status=status,
            payload=payload,
        )
    )


async def screen(pool: Pool, message: ReportMessage, pending: Sequence[AnyRecipient]) -> list[AnyRecipient]:
    """The recipients that may be sent to; the others are logged here, once per run."""
    addresses = [r.email for r in pending if isinstance(r, EmailRecipient)]
    left = await unsubscribe.suppressed(pool, message.organization_id, message.schedule_id, addresses)
    rules = await policy.load(pool, message.organization_id)
    if not left and rules == policy.Policy():
        return list(pending)
    ids = [r.destination_id for r in pending if isinstance(r, DestinationRecipient)]
    destinations = {row["id"]: row for row in await pool.fetch(policy.DESTINATIONS, ids)} if ids else {}
    allowed: list[AnyRecipient] = []
    for recipient in pending:
        if isinstance(recipient, EmailRecipient) and recipient.email in left:
            await log(pool, message, recipient, "unsubscribed", "not sent: this address unsubscribed")
            continue
        rule = _rule(rules, recipient, destinations)
        if rule is None:
            allowed.append(recipient)
            continue
        await log(pool, message, recipient, "blocked_by_policy", f"not sent: the organization's policy says {rule}")
    return allowed
