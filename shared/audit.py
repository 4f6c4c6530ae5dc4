"""The audit log: who changed what, written in the transaction of the change itself.

Every writer calls `record` with the connection that makes the change, so the row exists exactly when the change
does. Values are stored JSON-safe; secrets (any field named like one) are "***", and URL passwords are masked.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any
from uuid import UUID

import orjson

from shared.db import Connection
from shared.logs import request_id
from shared.message import ReportMessage
from shared.redact import redact
from shared.sqlbind import Named

MASK = "***"
# Field names that hold a secret, wherever they appear (a destination's stored secret, an SFTP password...).
_SECRET_NAMES = ("secret", "password", "passphrase", "private_key", "token", "api_key")

ACTIONS = (
    "schedule.create",
    "schedule.update",
    "schedule.pause",
    "schedule.resume",
    "schedule.delete",
    "schedule.restore",
    "schedule.owner",
    "schedule.recipients",
    "destination.create",
    "destination.delete",
    "integration.update",
    "integration.delete",
    "run.now",
    "run.resend",
    "dead_letter.replay",
    "policy.update",
    "unsubscribe.lift",
)

_INSERT = Named("""
INSERT INTO shared_report_audit_log
    (organization_id, actor, actor_role, action, schedule_id, destination_id, changes, request_id)
VALUES (:organization_id, coalesce(:actor::uuid::text, :operator),
        coalesce((SELECT role FROM organization_members
                  WHERE organization_id = :organization_id AND user_id = :actor::uuid),
                 CASE WHEN :actor::uuid IS NULL THEN :operator ELSE 'none' END),
        :action, :schedule_id, :destination_id, :changes, :request_id)
RETURNING id
""")


def is_secret(name: str) -> bool:
    lowered = name.lower()
    return any(part in lowered for part in _SECRET_NAMES)


def _clean(name: str, value: Any) -> Any:
    """JSON-safe, secret-free: a secret field's value becomes MASK (null stays null: "none set")."""
    if value is None:
        return None
    if is_secret(name):
        return MASK
    if isinstance(value, Mapping):
        return {str(k): _clean(str(k), v) for k, v in value.items()}
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list | tuple | set | frozenset):
        return [_clean(name, v) for v in value]
    if isinstance(value, bool | int | float):
        return value
    return orjson.loads(orjson.dumps(value, default=str))


def diff(
    before: Mapping[str, Any] | None, after: Mapping[str, Any] | None, ignore: Iterable[str] = ()
) -> dict[str, dict[str, Any]]:
    """The fields whose value differs, each as {"before": ..., "after": ...}; a secret that changed is "***"
    on both sides, so the row says it changed and nothing else."""
    old, new, skip = before or {}, after or {}, set(ignore)
    changes: dict[str, dict[str, Any]] = {}
    for name in sorted({*old, *new} - skip):
        if old.get(name) != new.get(name):
            changes[name] = {"before": _clean(name, old.get(name)), "after": _clean(name, new.get(name))}
    return changes


async def record(
    conn: Connection,
    *,
    organization_id: UUID,
    actor: UUID | None,
    action: str,
    schedule_id: UUID | None = None,
    destination_id: UUID | None = None,
    changes: Mapping[str, Any] | None = None,
    operator: str = "service",
) -> UUID:
    """One audit row for `action` by `actor` (a user id), in `conn`'s transaction; without a user, the actor and
    role are `operator` ('service' for the service role's token, 'cli' for the command line). The actor's role
    is read in the same statement, so the row says what the actor was allowed as then."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    row_id: UUID = await conn.fetchval(
        *_INSERT.bind(
            organization_id=organization_id,
            actor=actor,
            action=action,
            schedule_id=schedule_id,
            destination_id=destination_id,
            changes={str(k): v for k, v in (changes or {}).items()},
            request_id=request_id.get(),
            operator=operator,
        )
    )
    return row_id


def replayed(
    actor: UUID | None, dead_letter_id: UUID, operator: str = "service"
) -> Callable[[Connection, ReportMessage], Awaitable[None]]:
    """The audit row of a dead letter's replay, written by shared.deadletters.replay in its transaction."""

    async def write(conn: Connection, message: ReportMessage) -> None:
        await record(
            conn,
            organization_id=message.organization_id,
            actor=actor,
            action="dead_letter.replay",
            schedule_id=message.schedule_id,
            changes=diff(None, {"dead_letter_id": dead_letter_id, "run_id": message.run_id}),
            operator=operator,
        )

    return write


__all__ = ["ACTIONS", "MASK", "diff", "is_secret", "record", "replayed"]
