"""Route handlers of api.md."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Any, TypeVar
from uuid import UUID, uuid4

import orjson
from aiohttp import web
from pydantic import BaseModel, ValidationError

from producer import manual, metrics, window
from producer import queries as scheduler_queries
from producer.api import allowed, changes, formats, messages, sql
from producer.api.auth import Principal, authenticate, require_role
from producer.api.errors import ApiError, gone, not_found, validation
from producer.api.keys import POOL, REDIS, SETTINGS
from producer.api.models import (
    DeadLetterList,
    DeadLetterOut,
    NotificationOut,
    RecipientIn,
    RecipientOut,
    RecipientsReplace,
    RunAccepted,
    RunList,
    RunOut,
    RunRequest,
    ScheduleCreate,
    ScheduleList,
    ScheduleOut,
    ScheduleUpdate,
)
from producer.api.overrides import override
from producer.api.query import EARLIEST, LATEST, flag
from producer.api.timing import resolve, resolve_new
from producer.recipients import Channels, group
from producer.recipients import resolve as resolve_recipients
from shared import audit, deadletters, runs
from shared.cron import next_fire
from shared.db import Connection, Pool, Record
from shared.health import json_response
from shared.message import AnyRecipient, ReportMessage
from shared.queue import has_consumer, no_consumer_warning, queue_depth

M = TypeVar("M", bound=BaseModel)
# Fields whose null in a PATCH clears them (the gate off, the default text back).
NULLABLE = {"require_fresh_within_seconds", "subject_template", "message_template", "starts_at", "ends_at"}
WINDOW_FIELDS = {"starts_at", "ends_at"}
TIMING_FIELDS = {"cadence", "scheduled_time", "day_of_week", "day_of_month", "cron_expression", "timezone"}


def _check_window(starts_at: datetime | None, ends_at: datetime | None) -> None:
    if starts_at is not None and ends_at is not None and ends_at <= starts_at:
        raise validation("ends_at", "must be after starts_at")


def _principal(request: web.Request) -> Principal:
    return authenticate(request, request.app[SETTINGS])


def _pool(request: web.Request) -> Pool:
    return request.app[POOL]


async def _body(request: web.Request, model: type[M], *, optional: bool = False) -> M:
    raw = await request.read()
    if not raw.strip():
        if optional:
            return model()
        raise ApiError(400, "the request body is empty; send a JSON object")
    try:
        orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, f"malformed JSON: {exc}") from exc
    try:
        # Validated from the JSON text itself, so strict mode judges JSON types, not Python ones.
        return model.model_validate_json(raw)
    except ValidationError as exc:
        details = [
            {"field": messages.field(err), "message": messages.message(err)} for err in exc.errors(include_url=False)
        ]
        raise ApiError(422, "; ".join(f"{d['field']}: {d['message']}" for d in details), details) from exc


def _uuid_param(request: web.Request, name: str, what: str) -> UUID:
    try:
        return UUID(request.match_info[name])
    except ValueError as exc:
        raise not_found(what) from exc


def _query_uuid(request: web.Request, name: str) -> UUID | None:
    value = request.query.get(name)
    if value is None or value == "":
        return None
    try:
        return UUID(value)
    except ValueError as exc:
        raise validation(name, "must be a UUID") from exc


def _limit(request: web.Request) -> int:
    text = request.query.get("limit", "50")
    if not (text.isascii() and text.isdigit() and len(text) <= 3) or not 1 <= int(text) <= 100:
        raise validation("limit", "must be an integer from 1 to 100")
    return int(text)


def _encode_cursor(at: datetime, item_id: UUID) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([at.isoformat(), str(item_id)])).decode().rstrip("=")


def _decode_cursor(request: web.Request) -> tuple[datetime | None, UUID | None]:
    text = request.query.get("cursor")
    if not text:
        return None, None
    try:
        at, item = orjson.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        instant, item_id = datetime.fromisoformat(at), UUID(item)
        # Within what this API ever returns (and PostgreSQL can hold), whatever a client pasted.
        if instant.tzinfo is None or not EARLIEST <= instant.astimezone(UTC) <= LATEST:
            raise ValueError("instant out of range")
        return instant, item_id
    except (ValueError, TypeError, OverflowError, binascii.Error, orjson.JSONDecodeError) as exc:
        raise validation("cursor", "is not a cursor returned by this API; start without one") from exc


async def _orgs_param(request: web.Request, principal: Principal) -> list[UUID] | None:
    org = _query_uuid(request, "organization_id")
    allowed = await principal.organizations(_pool(request))
    if org is None:
        return allowed
    if allowed is not None and org not in allowed:
        # Like any other object of another organization: not found, revealing nothing.
        raise not_found("organization")
    return [org]


async def _now(conn: Pool | Connection) -> datetime:
    value: datetime = await conn.fetchval("SELECT now()")
    return value


def _out(row: Record, recipients: list[Record], now: datetime) -> dict[str, Any]:
    timing = (row["cron_expression"], row["timezone"])
    # After the last fire as well as after now: a fire already made is not upcoming.
    after = max(now, row["last_run_at"] or now)
    fires = window.fires(*timing, after, 5, row["starts_at"], row["ends_at"]) if row["enabled"] else []
    ended = row["ends_at"] is not None and window.first_fire(*timing, after, row["starts_at"], row["ends_at"]) is None
    data = ScheduleOut(
        **dict(row),
        formats=[row["format"], *row["extra_formats"]],
        recipients=[RecipientOut(**dict(r)) for r in recipients if r["schedule_id"] == row["id"]],
        upcoming=fires,
        ended=ended,
    )
    return data.model_dump(mode="json")


async def _load_visible(
    request: web.Request,
    principal: Principal,
    schedule_id: UUID,
    *,
    write: bool,
    conn: Pool | Connection | None = None,
    lock: bool = False,
) -> Record:
    db = conn or _pool(request)
    row = await db.fetchrow(sql.SCHEDULE_FOR_UPDATE if lock else sql.SCHEDULE, schedule_id)
    if row is None:
        raise not_found()
    await require_role(principal, _pool(request), row["organization_id"], write=write)
    if write and row["deleted_at"] is not None:
        raise gone(row["deleted_at"])
    return row


async def _check_link(request: web.Request, principal: Principal, link_id: UUID) -> Record:
    link = await _pool(request).fetchrow(sql.LINK, link_id)
    if link is None or await principal.role_in(_pool(request), link["organization_id"]) is None:
        raise validation("shared_link_id", "no active shared link with this id in your organizations")
    return link


async def _check_recipients(conn: Pool | Connection, organization_id: UUID, recipients: list[RecipientIn]) -> None:
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


async def _write_recipients(conn: Connection, schedule_id: UUID, recipients: list[RecipientIn]) -> None:
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


async def _respond_schedule(request: web.Request, schedule_id: UUID, status: int = 200) -> web.Response:
    pool = _pool(request)
    row = await pool.fetchrow(sql.SCHEDULE, schedule_id)
    recipients = await pool.fetch(sql.RECIPIENTS, [schedule_id])
    return json_response(_out(row, recipients, await _now(pool)), status=status)


async def create_schedule(request: web.Request) -> web.Response:
    principal = _principal(request)
    body = await _body(request, ScheduleCreate)
    link = await _check_link(request, principal, body.shared_link_id)
    org = link["organization_id"]
    await require_role(principal, _pool(request), org, write=True)
    settings = request.app[SETTINGS]
    recipients = body.recipients or []
    async with _pool(request).acquire() as conn, conn.transaction():
        now = await _now(conn)
        timing = resolve_new(body, settings.min_interval_seconds, now)
        await _check_recipients(conn, org, recipients)
        enabled = True if body.enabled is None else body.enabled
        wanted = formats.requested(body.format, body.formats) or ["csv"]
        row = await conn.fetchrow(
            sql.INSERT_SCHEDULE,
            org,
            link["id"],
            principal.user_id,
            body.name or link["title"] or "Report",
            timing.cadence,
            timing.scheduled_time,
            timing.day_of_week,
            timing.day_of_month,
            timing.cron_expression,
            timing.timezone,
            True if body.send_email is None else body.send_email,
            bool(body.send_telegram),
            wanted[0],
            body.misfire_policy or "fire_once",
            3600 if body.misfire_grace_seconds is None else body.misfire_grace_seconds,
            body.jitter_seconds or 0,
            bool(body.skip_if_empty),
            enabled,
            next_fire(timing.cron_expression, timing.timezone, now) if enabled else None,
            body.min_rows or 0,
            bool(body.only_if_changed),
            body.require_fresh_within_seconds,
            3600 if body.fresh_wait_max_seconds is None else body.fresh_wait_max_seconds,
            body.stale_action or "send",
            body.subject_template,
            body.message_template,
            list(body.channels or ()),
            True if body.csv_formula_guard is None else body.csv_formula_guard,
            wanted[1:],
        )
        await _write_recipients(conn, row["id"], recipients)
        _check_window(body.starts_at, body.ends_at)
        first = window.first_fire(timing.cron_expression, timing.timezone, now, body.starts_at, body.ends_at)
        await conn.execute(sql.SET_WINDOW, row["id"], body.starts_at, body.ends_at, first if enabled else None)
        if body.notify_on_failure is not None:
            await allowed.check_notice_targets(conn, org, body.notify_on_failure)
            await conn.execute(sql.SET_NOTIFY_ON_FAILURE, row["id"], body.notify_on_failure)
        # Audited as stored, window and notice targets included.
        row = await conn.fetchrow(sql.SCHEDULE, row["id"])
        state = {**changes.schedule_state(row), "recipients": changes.recipient_targets(recipients)}
        await changes.changed(conn, principal, "schedule.create", org, None, state, schedule_id=row["id"])
    return await _respond_schedule(request, row["id"], 201)


async def list_schedules(request: web.Request) -> web.Response:
    principal = _principal(request)
    limit = _limit(request)
    after, after_id = _decode_cursor(request)
    orgs = await _orgs_param(request, principal)
    name = request.query.get("name") or None
    if name is not None and (len(name) > 200 or not name.isprintable()):
        raise validation("name", "must be up to 200 printable characters of the name to look for")
    pool = _pool(request)
    deleted = flag(request, "include_deleted")
    rows = await pool.fetch(sql.LIST_SCHEDULES, orgs, after, after_id, limit + 1, deleted, name)
    page = rows[:limit]
    recipients = await pool.fetch(sql.RECIPIENTS, [r["id"] for r in page])
    now = await _now(pool)
    cursor = _encode_cursor(page[-1]["created_at"], page[-1]["id"]) if len(rows) > limit else None
    return json_response(
        ScheduleList.model_validate(
            {"items": [_out(r, recipients, now) for r in page], "next_cursor": cursor}
        ).model_dump(mode="json")
    )


async def get_schedule(request: web.Request) -> web.Response:
    principal = _principal(request)
    schedule_id = _uuid_param(request, "id", "schedule")
    await _load_visible(request, principal, schedule_id, write=False)
    return await _respond_schedule(request, schedule_id)


async def update_schedule(request: web.Request) -> web.Response:
    principal = _principal(request)
    schedule_id = _uuid_param(request, "id", "schedule")
    body = await _body(request, ScheduleUpdate)
    changed = body.model_fields_set
    settings = request.app[SETTINGS]
    async with _pool(request).acquire() as conn, conn.transaction():
        row = await _load_visible(request, principal, schedule_id, write=True, conn=conn, lock=True)
        current = dict(row)
        link_id = current["shared_link_id"]
        if body.shared_link_id is not None and body.shared_link_id != link_id:
            link = await _check_link(request, principal, body.shared_link_id)
            if link["organization_id"] != current["organization_id"]:
                raise validation("shared_link_id", "must belong to the schedule's organization")
            link_id = link["id"]
        now = await _now(conn)
        next_run = current["next_run_at"]
        timing_changed = bool(changed & TIMING_FIELDS)
        if timing_changed:
            if "cron_expression" in changed and body.cron_expression is not None:
                cadence = body.cadence
                time_, dow, dom = body.scheduled_time, body.day_of_week, body.day_of_month
            else:
                cadence = body.cadence or current["cadence"]
                same = cadence == current["cadence"]
                time_ = body.scheduled_time or (current["scheduled_time"] if cadence != "custom" else None)
                dow = body.day_of_week if "day_of_week" in changed else (current["day_of_week"] if same else None)
                dom = body.day_of_month if "day_of_month" in changed else (current["day_of_month"] if same else None)
            cron = (
                body.cron_expression
                if "cron_expression" in changed
                else (current["cron_expression"] if cadence == "custom" and body.cadence is None else None)
            )
            timing = resolve(
                cadence,
                time_,
                dow,
                dom,
                cron,
                body.timezone or current["timezone"],
                settings.min_interval_seconds,
                now,
            )
            current.update(
                cadence=timing.cadence,
                scheduled_time=timing.scheduled_time,
                day_of_week=timing.day_of_week,
                day_of_month=timing.day_of_month,
                cron_expression=timing.cron_expression,
                timezone=timing.timezone,
            )
        wanted = formats.requested(body.format, body.formats)
        if wanted is not None and body.formats is None:
            wanted = formats.with_main([current["format"], *current["extra_formats"]], wanted[0])
        if wanted is not None:
            current.update(format=wanted[0], extra_formats=wanted[1:])
        for name in (
            "name",
            "send_email",
            "send_telegram",
            "misfire_policy",
            "misfire_grace_seconds",
            "jitter_seconds",
            "skip_if_empty",
            "min_rows",
            "only_if_changed",
            "require_fresh_within_seconds",
            "fresh_wait_max_seconds",
            "stale_action",
            "subject_template",
            "message_template",
            "channels",
            "enabled",
            "csv_formula_guard",
            "starts_at",
            "ends_at",
        ):
            value = getattr(body, name)
            # null turns the freshness gate off; for the other fields null means "unchanged".
            if name in changed and (value is not None or name in NULLABLE):
                current[name] = value
        resumed = current["enabled"] and not row["enabled"]
        _check_window(current["starts_at"], current["ends_at"])
        if not current["enabled"]:
            next_run = None
        elif timing_changed or resumed or next_run is None or changed & WINDOW_FIELDS:
            # From now on: an edit or a resume never backfills what was missed.
            next_run = next_fire(current["cron_expression"], current["timezone"], now)
        next_run = window.clamp(
            current["cron_expression"], current["timezone"], next_run, current["starts_at"], current["ends_at"]
        )
        await conn.execute(
            sql.UPDATE_SCHEDULE,
            schedule_id,
            link_id,
            current["name"],
            current["cadence"],
            current["scheduled_time"],
            current["day_of_week"],
            current["day_of_month"],
            current["cron_expression"],
            current["timezone"],
            current["send_email"],
            current["send_telegram"],
            current["format"],
            current["misfire_policy"],
            current["misfire_grace_seconds"],
            current["jitter_seconds"],
            current["skip_if_empty"],
            current["enabled"],
            next_run,
            current["min_rows"],
            current["only_if_changed"],
            current["require_fresh_within_seconds"],
            current["fresh_wait_max_seconds"],
            current["stale_action"],
            current["subject_template"],
            current["message_template"],
            list(current["channels"]),
            current["csv_formula_guard"],
            list(current["extra_formats"]),
        )
        await conn.execute(sql.SET_WINDOW, schedule_id, current["starts_at"], current["ends_at"], next_run)
        if "notify_on_failure" in changed:
            # null: back to the default (the owner).
            await allowed.check_notice_targets(conn, row["organization_id"], body.notify_on_failure or [])
            await conn.execute(sql.SET_NOTIFY_ON_FAILURE, schedule_id, body.notify_on_failure)
        after = await conn.fetchrow(sql.SCHEDULE, schedule_id)
        await changes.schedule_changed(conn, principal, changes.schedule_action(row, after), row, after)
    return await _respond_schedule(request, schedule_id)


async def delete_schedule(request: web.Request) -> web.Response:
    principal = _principal(request)
    schedule_id = _uuid_param(request, "id", "schedule")
    async with _pool(request).acquire() as conn, conn.transaction():
        row = await _load_visible(request, principal, schedule_id, write=True, conn=conn, lock=True)
        await conn.execute(sql.SOFT_DELETE, schedule_id)
        org = row["organization_id"]
        await changes.changed(conn, principal, "schedule.delete", org, *changes.DELETED, schedule_id=schedule_id)
    return web.Response(status=204)


async def replace_recipients(request: web.Request) -> web.Response:
    principal = _principal(request)
    schedule_id = _uuid_param(request, "id", "schedule")
    body = await _body(request, RecipientsReplace)
    async with _pool(request).acquire() as conn, conn.transaction():
        row = await _load_visible(request, principal, schedule_id, write=True, conn=conn, lock=True)
        await _check_recipients(conn, row["organization_id"], body.recipients)
        before = changes.recipient_targets(await conn.fetch(sql.RECIPIENTS, [schedule_id]))
        await _write_recipients(conn, schedule_id, body.recipients)
        await changes.changed(
            conn,
            principal,
            "schedule.recipients",
            row["organization_id"],
            {"recipients": before},
            {"recipients": changes.recipient_targets(body.recipients)},
            schedule_id=schedule_id,
        )
        await conn.execute("UPDATE shared_report_schedules SET updated_at = now() WHERE id = $1", schedule_id)
    return await _respond_schedule(request, schedule_id)


async def run_now(request: web.Request) -> web.Response:
    principal = _principal(request)
    schedule_id = _uuid_param(request, "id", "schedule")
    body = await _body(request, RunRequest, optional=True)
    pool = _pool(request)
    row = await _load_visible(request, principal, schedule_id, write=True)
    org = row["organization_id"]
    outside: list[str] = []
    chosen: list[AnyRecipient]
    if body.recipients is not None:
        await _check_recipients(pool, org, list(body.recipients))
        chosen = await override(pool, org, body.recipients)
        # Recorded with the run; only owners and admins get this far (_load_visible above, write=True).
        outside = await manual.outside(pool, schedule_id, org, chosen)
    else:
        own = group(await pool.fetch(scheduler_queries.SCHEDULE_RECIPIENTS, [schedule_id]))
        org_rows = group(await pool.fetch(scheduler_queries.ORG_RECIPIENTS, [org]))
        chosen = resolve_recipients(schedule_id, org, Channels.of(row), own, org_rows)
    if not chosen:
        raise validation(
            "recipients",
            "this schedule has no recipients for its enabled channels and the "
            "organization has none; add recipients or pass them in the body",
        )
    # Counted only once the request is otherwise valid: a refused one uses up nothing.
    await manual.admit(request.app[REDIS], request.app[SETTINGS], schedule_id, org)
    run_id = uuid4()
    now = await _now(pool)
    message = ReportMessage(
        v=1,
        run_id=run_id,
        schedule_id=schedule_id,
        organization_id=org,
        shared_link_id=row["shared_link_id"],
        fire_at=now,
        trigger="manual",
        recipients=chosen,
        respect_conditions=body.respect_conditions,
    )
    async with pool.acquire() as conn, conn.transaction():
        await runs.record(conn, message, requested_by=principal.user_id, outside=outside)
        what = {"run_id": run_id, "recipients": sorted(f"{r.channel}:{r.key}" for r in chosen)}
        await changes.changed(conn, principal, "run.now", org, None, what, schedule_id=schedule_id)
    added = await runs.enqueue(pool, request.app[REDIS], request.app[SETTINGS].queue_name, message)
    metrics.ENQUEUED.labels("manual").inc(added)
    return await _accepted(request, run_id)


async def _accepted(request: web.Request, run_id: UUID) -> web.Response:
    queue = request.app[SETTINGS].queue_name
    redis = request.app[REDIS]
    warning = None
    if not await has_consumer(redis, queue):
        warning = no_consumer_warning(queue, await queue_depth(redis, queue)).removeprefix("warning: ")
    return json_response(RunAccepted(run_id=run_id, warning=warning).model_dump(mode="json"), status=202)


async def list_runs(request: web.Request) -> web.Response:
    principal = _principal(request)
    schedule_id = _uuid_param(request, "id", "schedule")
    await _load_visible(request, principal, schedule_id, write=False)
    limit = _limit(request)
    before, before_id = _decode_cursor(request)
    pool = _pool(request)
    rows = await pool.fetch(sql.RUNS, schedule_id, before, before_id, limit + 1)
    page = rows[:limit]
    notes = await pool.fetch(sql.NOTIFICATIONS, [r["id"] for r in page])
    items = [
        RunOut(
            **dict(r),
            notifications=[
                NotificationOut(**{k: v for k, v in dict(n).items() if k != "run_id"})
                for n in notes
                if n["run_id"] == r["id"]
            ],
        )
        for r in page
    ]
    cursor = _encode_cursor(page[-1]["created_at"], page[-1]["id"]) if len(rows) > limit else None
    return json_response(RunList(items=items, next_cursor=cursor).model_dump(mode="json"))


async def list_dead_letters(request: web.Request) -> web.Response:
    principal = _principal(request)
    limit = _limit(request)
    before, before_id = _decode_cursor(request)
    orgs = await _orgs_param(request, principal)
    rows = await _pool(request).fetch(sql.DEAD_LETTERS, orgs, before, before_id, limit + 1)
    page = rows[:limit]
    cursor = _encode_cursor(page[-1]["failed_at"], page[-1]["id"]) if len(rows) > limit else None
    return json_response(
        DeadLetterList(items=[DeadLetterOut(**dict(r)) for r in page], next_cursor=cursor).model_dump(mode="json")
    )


async def replay_dead_letter(request: web.Request) -> web.Response:
    principal = _principal(request)
    dead_id = _uuid_param(request, "id", "dead letter")
    pool = _pool(request)
    row = await pool.fetchrow(sql.DEAD_LETTER, dead_id)
    if row is None:
        raise not_found("dead letter")
    if row["organization_id"] is None:
        if not principal.service:
            raise not_found("dead letter")
    else:
        await require_role(principal, pool, row["organization_id"], write=True, what="dead letter")
    await manual.admit(request.app[REDIS], request.app[SETTINGS], row["schedule_id"], row["organization_id"])
    try:
        run_id = await deadletters.replay(
            pool,
            request.app[REDIS],
            request.app[SETTINGS].queue_name,
            dead_id,
            audit=audit.replayed(principal.user_id, dead_id),
        )
    except deadletters.NotReplayable as exc:
        raise ApiError(409, str(exc)) from exc
    return await _accepted(request, run_id)


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_post("/v1/schedules", create_schedule)
    r.add_get("/v1/schedules", list_schedules)
    r.add_get("/v1/schedules/{id}", get_schedule)
    r.add_patch("/v1/schedules/{id}", update_schedule)
    r.add_delete("/v1/schedules/{id}", delete_schedule)
    r.add_put("/v1/schedules/{id}/recipients", replace_recipients)
    r.add_post("/v1/schedules/{id}/run", run_now)
    r.add_get("/v1/schedules/{id}/runs", list_runs)
    r.add_get("/v1/dead-letters", list_dead_letters)
    r.add_post("/v1/dead-letters/{id}/replay", replay_dead_letter)
