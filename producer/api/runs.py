"""Runs across an organization's schedules, and a schedule's figures."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp import web

from producer.api import repository as sql
from producer.api.models import (
    DurationOut,
    LastRunOut,
    NotificationOut,
    OrganizationRunList,
    OrganizationRunOut,
    ScheduleStatsOut,
)
from producer.api.query import choice, instant, integer
from producer.api.routes import (
    _decode_cursor,
    _encode_cursor,
    _limit,
    _load_visible,
    _now,
    _orgs_param,
    _pool,
    _principal,
    _query_uuid,
    _uuid_param,
)
from shared.db import Pool, Record
from shared.health import json_response

FINAL = ("sent", "partial", "failed", "skipped", "dead")
STATUSES = ("queued", "running", *FINAL)
TRIGGERS = ("cron", "manual", "replay")


async def notifications_by_run(pool: Pool, runs: list[Record]) -> dict[Any, list[NotificationOut]]:
    """Each run's per-recipient log, in one query for the page."""
    by_run: dict[Any, list[NotificationOut]] = {r["id"]: [] for r in runs}
    for n in await pool.fetch(sql.NOTIFICATIONS, list(by_run)):
        by_run[n["run_id"]].append(NotificationOut(**{k: v for k, v in dict(n).items() if k != "run_id"}))
    return by_run


async def list_organization_runs(request: web.Request) -> web.Response:
    principal = _principal(request)
    limit = _limit(request)
    before, before_id = _decode_cursor(request)
    filters: dict[str, Any] = {
        "status": choice(request, "status", STATUSES),
        "schedule_id": _query_uuid(request, "schedule_id"),
        "trigger": choice(request, "trigger", TRIGGERS),
        "since": instant(request, "since"),
        "until": instant(request, "until"),
    }
    orgs = await _orgs_param(request, principal)
    if orgs == []:
        return json_response(OrganizationRunList(items=[], next_cursor=None).model_dump(mode="json"))
    # One organization (the usual case) as a plain equality, so its index is walked in order.
    if orgs is not None and len(orgs) == 1:
        filters["organization_id"] = orgs[0]
    else:
        filters["organizations"] = orgs
    pool = _pool(request)
    after = (before, before_id) if before is not None else None
    query, args = sql.organization_runs(filters, after, limit + 1)
    rows = await pool.fetch(query, *args)
    page = rows[:limit]
    notes = await notifications_by_run(pool, page)
    items = [OrganizationRunOut(**dict(r), notifications=notes[r["id"]]) for r in page]
    cursor = _encode_cursor(page[-1]["created_at"], page[-1]["id"]) if len(rows) > limit else None
    return json_response(OrganizationRunList(items=items, next_cursor=cursor).model_dump(mode="json"))


async def schedule_stats(request: web.Request) -> web.Response:
    principal = _principal(request)
    schedule_id = _uuid_param(request, "id", "schedule")
    days = integer(request, "days", 30, 1, 3650)
    await _load_visible(request, principal, schedule_id, write=False)
    pool = _pool(request)
    since = await _now(pool) - timedelta(days=days)
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


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/runs", list_organization_runs)
    app.router.add_get("/v1/schedules/{id}/stats", schedule_stats)
