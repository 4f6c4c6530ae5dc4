"""What the routes write into the audit log, in the transaction of each change.

A schedule is described by the fields a person sets; derived ones (next_run_at, the last run) are left out,
since the scheduler changes them on its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from uuid import UUID

from producer.api.auth import Principal
from shared import audit
from shared.db import Connection

DERIVED = {"id", "organization_id", "created_by", "next_run_at", "last_run_at", "last_run_status", "created_at"}
DERIVED |= {"updated_at", "deleted_at"}
# A soft delete, as before and after.
DELETED = ({"deleted": False}, {"deleted": True})


def schedule_state(row: Mapping[str, Any] | None) -> dict[str, Any]:
    state = {k: v for k, v in (row or {}).items() if k not in DERIVED}
    # As the API names them: the main format and the others, in one list.
    if "extra_formats" in state:
        state["formats"] = [state["format"], *state.pop("extra_formats")]
    return state


def recipient_targets(rows: Iterable[Any]) -> list[str]:
    """Recipients (rows or RecipientIn) as "channel:target" (a user id, an address, a chat id), sorted so a diff
    is stable."""
    out = []
    for r in rows:
        # A database row is read by key, a request's recipient by attribute.
        get = r.__getitem__ if hasattr(r, "keys") else lambda name, r=r: getattr(r, name)
        value = get("user_id") or get("email") or get("telegram_chat_id")
        out.append(f"{get('channel')}:{str(value).lower()}")
    return sorted(out)


def schedule_action(before: Mapping[str, Any], after: Mapping[str, Any]) -> str:
    if before["enabled"] and not after["enabled"]:
        return "schedule.pause"
    if after["enabled"] and not before["enabled"]:
        return "schedule.resume"
    return "schedule.update"


async def changed(
    conn: Connection,
    principal: Principal,
    action: str,
    organization_id: UUID,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    *,
    schedule_id: UUID | None = None,
    destination_id: UUID | None = None,
) -> None:
    await audit.record(
        conn,
        organization_id=organization_id,
        actor=principal.user_id,
        action=action,
        schedule_id=schedule_id,
        destination_id=destination_id,
        changes=audit.diff(before, after),
    )


async def schedule_changed(conn: Connection, principal: Principal, action: str, before: Any, after: Any) -> None:
    """One schedule's change, from its row before to its row after, in the change's transaction."""
    await changed(
        conn,
        principal,
        action,
        after["organization_id"],
        schedule_state(before),
        schedule_state(after),
        schedule_id=after["id"],
    )


def destination_state(row: Any, secret: object | None) -> dict[str, Any]:
    """A destination as the log shows it: where it delivers, and only whether a secret is set ("***")."""
    return {
        "channel": row["channel"],
        "target": row["target"],
        "label": row["label"],
        "config": row["config"],
        "schedule_id": row["schedule_id"],
        "secret": "set" if secret else None,
    }
