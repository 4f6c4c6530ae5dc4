"""Runs: a schedule's history, the runs across an organization's schedules, a resend, and a schedule's figures."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, get_args

from aiohttp import web

from producer import metrics
from producer.api import resend as resending
from producer.api import sql
from producer.api.accepted import accepted
from producer.api.auth import require_role
from producer.api.errors import not_found
from producer.api.keys import REDIS, SETTINGS
from producer.api.models import (
    DurationOut,
    LastRunOut,
    NotificationOut,
    OrganizationRunList,
    OrganizationRunOut,
    RunList,
    RunOut,
    RunStatus,
    ScheduleStatsOut,
)
from producer.api.paging import cursor, page, page_size
from producer.api.query import choice, instant, integer
from producer.api.request_helpers import caller, db, path_uuid, query_uuid, visible_orgs, visible_schedule
from producer.clock import db_now
from shared import runs
from shared.db import Pool, Record
from shared.health import json_response
from shared.message import Trigger

FINAL = ("sent", "partial", "failed", "skipped", "dead")
STATUSES: tuple[str, ...] = get_args(RunStatus)
TRIGGERS: tuple[str, ...] = get_args(Trigger)


async def notifications_by_run(pool: Pool, runs: list[Record]) -> dict[Any, list[NotificationOut]]:
    """Each run's per-recipient log, in one query for the page."""
    by_run: dict[Any, list[NotificationOut]] = {r["id"]: [] for r in runs}
    for n in await pool.fetch(sql.NOTIFICATIONS, list(by_run)):
        by_run[n["run_id"]].append(NotificationOut(**{k: v for k, v in dict(n).items() if k != "run_id"}))
    return by_run


async def list_runs(request: web.Request) -> web.Response:
    """A schedule's history, newest first."""
    principal = caller(request)
    schedule_id = path_uuid(request, "id", "schedule")
    await visible_schedule(request, principal, schedule_id, write=False)
    size = page_size(request)
    before_at, before_id = cursor(request) or (None, None)
    pool = db(request)
    rows = await pool.fetch(sql.RUNS, schedule_id, before_at, before_id, size + 1)
    shown, next_cursor = page(rows, size)
    notes = await notifications_by_run(pool, shown)
    items = [RunOut(**dict(r), notifications=notes[r["id"]]) for r in shown]
    return json_response(RunList(items=items, next_cursor=next_cursor).model_dump(mode="json"))


async def list_organization_runs(request: web.Request) -> web.Response:
    principal = caller(request)
    size = page_size(request)
    after = cursor(request)
    filters: dict[str, Any] = {
        "status": choice(request, "status", STATUSES),
        "schedule_id": query_uuid(request, "schedule_id"),
        "trigger": choice(request, "trigger", TRIGGERS),
        "since": instant(request, "since"),
        "until": instant(request, "until"),
    }
    orgs = await visible_orgs(request, principal)
    if orgs == []:
        return json_response(OrganizationRunList(items=[], next_cursor=None).model_dump(mode="json"))
    sql.scope(filters, orgs)
    pool = db(request)
    query, args = sql.organization_runs(filters, after, size + 1)
    shown, next_cursor = page(await pool.fetch(query, *args), size)
    notes = await notifications_by_run(pool, shown)
    items = [OrganizationRunOut(**dict(r), notifications=notes[r["id"]]) for r in shown]
    return json_response(OrganizationRunList(items=items, next_cursor=next_cursor).model_dump(mode="json"))


async def schedule_stats(request: web.Request) -> web.Response:
    principal = caller(request)
    schedule_id = path_uuid(request, "id", "schedule")
    days = integer(request, "days", 30, 1, 3650)
    await visible_schedule(request, principal, schedule_id, write=False)
    pool = db(request)
    since = await db_now(pool) - timedelta(days=days)
    figures = await pool.fetchrow(sql.SCHEDULE_STATS, schedule_id, since)
    last = await pool.fetchrow(sql.LAST_FINISHED_RUN, schedule_id)
    out = ScheduleStatsOut(
        schedule_id=schedule_id,
        days=days,
        since=since,
        runs={status: figures[status] for status in FINAL},
        last_success_at=figures["last_success_at"],
        duration_seconds=DurationOut(p50=figures["p50"], p95=figures["p95"]),
        last_run=LastRunOut(**dict(last)) if last is not None else None,
    )
    return json_response(out.model_dump(mode="json"))


async def resend(request: web.Request) -> web.Response:
    """A partial or failed run again, as a replay chained to it: only the recipients its chain has not served."""
    principal = caller(request)
    run_id = path_uuid(request, "id", "run")
    pool = db(request)
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(sql.RUN_TO_RESEND, run_id)
        if row is None:
            raise not_found("run")
        await require_role(principal, pool, row["organization_id"], write=True, what="run")
        message = await resending.record(conn, principal, row)
    added = await runs.enqueue(pool, request.app[REDIS], request.app[SETTINGS].queue_name, message)
    metrics.ENQUEUED.labels("replay").inc(added)
    return await accepted(request, message.run_id)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/schedules/{id}/runs", list_runs)
    app.router.add_get("/v1/runs", list_organization_runs)
    app.router.add_post("/v1/runs/{id}/resend", resend)
    app.router.add_get("/v1/schedules/{id}/stats", schedule_stats)
