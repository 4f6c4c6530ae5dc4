"""The schedules service: what a created or changed schedule becomes, in the caller's transaction, with its audit
row. Each default a request may leave out is stated here, once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any
from uuid import UUID

from producer import window
from producer.api import allowed, changes, formats, schedule_recipients, sql
from producer.api.auth import Principal
from producer.api.errors import ApiError, validation
from producer.api.models import RecipientIn, ScheduleCreate, ScheduleOptions, ScheduleUpdate
from producer.api.timing import TIMING_FIELDS, check_window, resolve_change, resolve_new
from producer.clock import db_now
from shared.cron import next_fire
from shared.db import Connection, Record
from shared.settings import Settings

# What a new schedule has where its request is silent or null. The table's column DEFAULTs say the same for rows
# written without the API; tests/integration/test_schedule_defaults.py keeps the two in step.
DEFAULTS: dict[str, Any] = {
    "send_email": True,
    "send_telegram": False,
    "format": "csv",
    "extra_formats": [],
    "misfire_policy": "fire_once",
    "misfire_grace_seconds": 3600,
    "jitter_seconds": 0,
    "skip_if_empty": False,
    "min_rows": 0,
    "only_if_changed": False,
    # No freshness gate.
    "require_fresh_within_seconds": None,
    "fresh_wait_max_seconds": 3600,
    "stale_action": "send",
    # The built-in subject and message.
    "subject_template": None,
    "message_template": None,
    "channels": [],
    "enabled": True,
    "csv_formula_guard": True,
    "starts_at": None,
    "ends_at": None,
    # The owner.
    "notify_on_failure": None,
}
# The name of a schedule whose request gives none and whose link has no title.
UNTITLED = "Report"
# Set from a request field of the same name; format and extra_formats come from `format` and `formats` together.
PLAIN_FIELDS = ("name", *(name for name in DEFAULTS if name not in ("format", "extra_formats")))
# A PATCH's null sets these back to their default; for the other fields null means "unchanged".
NULLABLE = {name for name in PLAIN_FIELDS if name != "name" and DEFAULTS[name] is None}
WINDOW_FIELDS = {"starts_at", "ends_at"}


def _formats(body: ScheduleOptions, current: Sequence[str] | None = None) -> dict[str, Any]:
    """format and extra_formats from the request's `format` and `formats`; {} when it names neither."""
    wanted = formats.requested(body.format, body.formats)
    if wanted is not None and body.formats is None and current is not None:
        wanted = formats.with_main(current, wanted[0])
    return {} if wanted is None else {"format": wanted[0], "extra_formats": wanted[1:]}


async def create(
    conn: Connection, principal: Principal, link: Record, body: ScheduleCreate, settings: Settings
) -> Record:
    org = link["organization_id"]
    now = await db_now(conn)
    timing = resolve_new(body, settings.min_interval_seconds, now)
    recipients = body.recipients or []
    await schedule_recipients.check(conn, org, recipients)
    given = {name: value for name in PLAIN_FIELDS if (value := getattr(body, name)) is not None}
    values = {**DEFAULTS, **given, **_formats(body), **asdict(timing)}
    check_window(values["starts_at"], values["ends_at"])
    if body.notify_on_failure is not None:
        await allowed.check_notice_targets(conn, org, body.notify_on_failure)
    first = window.first_fire(timing.cron_expression, timing.timezone, now, values["starts_at"], values["ends_at"])
    values.update(
        organization_id=org,
        shared_link_id=link["id"],
        created_by=principal.user_id,
        name=body.name or link["title"] or UNTITLED,
        next_run_at=first if values["enabled"] else None,
    )
    row = await conn.fetchrow(*sql.INSERT_SCHEDULE.bind(values))
    await schedule_recipients.replace(conn, row["id"], recipients)
    state = {**changes.schedule_state(row), "recipients": changes.recipient_targets(recipients)}
    await changes.changed(conn, principal, "schedule.create", org, None, state, schedule_id=row["id"])
    return row


def _next_run(before: Mapping[str, Any], after: Mapping[str, Any], replan: bool, now: datetime) -> datetime | None:
    next_run = before["next_run_at"]
    resumed = after["enabled"] and not before["enabled"]
    if not after["enabled"]:
        next_run = None
    elif replan or resumed or next_run is None:
        # From now on: an edit or a resume never backfills what was missed.
        next_run = next_fire(after["cron_expression"], after["timezone"], now)
    return window.clamp(after["cron_expression"], after["timezone"], next_run, after["starts_at"], after["ends_at"])


async def update(
    conn: Connection,
    principal: Principal,
    row: Record,
    body: ScheduleUpdate,
    settings: Settings,
    link: Record | None = None,
) -> Record:
    """The fields the request gives over the stored ones; `link` is a new shared link the caller may see."""
    changed = body.model_fields_set
    current = dict(row)
    if link is not None:
        if link["organization_id"] != row["organization_id"]:
            raise validation("shared_link_id", "must belong to the schedule's organization")
        current["shared_link_id"] = link["id"]
    now = await db_now(conn)
    if changed & TIMING_FIELDS:
        current.update(asdict(resolve_change(row, body, settings.min_interval_seconds, now)))
    current.update(_formats(body, [row["format"], *row["extra_formats"]]))
    for name in PLAIN_FIELDS:
        value = getattr(body, name)
        if name in changed and (value is not None or name in NULLABLE):
            current[name] = value
    check_window(current["starts_at"], current["ends_at"])
    if "notify_on_failure" in changed:
        await allowed.check_notice_targets(conn, row["organization_id"], current["notify_on_failure"] or [])
    current["next_run_at"] = _next_run(row, current, bool(changed & (TIMING_FIELDS | WINDOW_FIELDS)), now)
    after = await conn.fetchrow(*sql.UPDATE_SCHEDULE.bind_from(current))
    await changes.schedule_changed(conn, principal, changes.schedule_action(row, after), row, after)
    return after


async def delete(conn: Connection, principal: Principal, row: Record) -> None:
    """Kept, readable and restorable until retention removes it; it stops firing at once."""
    await conn.execute(sql.SOFT_DELETE, row["id"])
    org = row["organization_id"]
    await changes.changed(conn, principal, "schedule.delete", org, *changes.DELETED, schedule_id=row["id"])


async def restore(conn: Connection, principal: Principal, row: Record) -> None:
    """Back, paused: nothing missed while it was deleted is made up."""
    if row["deleted_at"] is None:
        raise ApiError(409, "this schedule is not deleted; there is nothing to restore")
    await conn.execute(sql.RESTORE, row["id"])
    after = await conn.fetchrow(sql.SCHEDULE, row["id"])
    await changes.schedule_changed(conn, principal, "schedule.restore", row, after)


async def replace_recipients(
    conn: Connection, principal: Principal, row: Record, recipients: Sequence[RecipientIn]
) -> None:
    schedule_id, org = row["id"], row["organization_id"]
    await schedule_recipients.check(conn, org, recipients)
    before = changes.recipient_targets(await conn.fetch(sql.RECIPIENTS, [schedule_id]))
    await schedule_recipients.replace(conn, schedule_id, recipients)
    after = changes.recipient_targets(recipients)
    await changes.changed(
        conn,
        principal,
        "schedule.recipients",
        org,
        {"recipients": before},
        {"recipients": after},
        schedule_id=schedule_id,
    )
    await conn.execute(sql.TOUCH_SCHEDULE, schedule_id)


async def change_owner(conn: Connection, principal: Principal, row: Record, user_id: UUID) -> None:
    """To another member of its organization: its failure notices go to them from now on."""
    if not await conn.fetch(sql.MEMBERS, row["organization_id"], [user_id]):
        raise validation("user_id", "is not a member of this schedule's organization")
    # One statement, and only while the schedule is not deleted: a delete in between wins.
    await conn.execute(sql.SET_OWNER, row["id"], user_id)
    before, after = {"owner": row["created_by"]}, {"owner": user_id}
    await changes.changed(
        conn, principal, "schedule.owner", row["organization_id"], before, after, schedule_id=row["id"]
    )
