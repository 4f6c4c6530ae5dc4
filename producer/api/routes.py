"""The schedule routes of api.md. Each handler parses its request and authorizes it; producer/api/schedules.py
holds the rules."""

from __future__ import annotations

from aiohttp import web

from producer.api import run_now as manual_run
from producer.api import schedules, sql
from producer.api.accepted import accepted
from producer.api.auth import require_role
from producer.api.errors import validation
from producer.api.keys import REDIS, SETTINGS
from producer.api.models import RecipientsReplace, RunRequest, ScheduleCreate, ScheduleList, ScheduleUpdate
from producer.api.paging import cursor, page, page_size
from producer.api.query import flag
from producer.api.request_helpers import caller, db, path_uuid, read_body, visible_link, visible_orgs, visible_schedule
from producer.api.schedule_view import render, respond
from producer.clock import db_now
from shared.health import json_response


async def create_schedule(request: web.Request) -> web.Response:
    principal = caller(request)
    body = await read_body(request, ScheduleCreate)
    link = await visible_link(request, principal, body.shared_link_id)
    await require_role(principal, db(request), link["organization_id"], write=True)
    async with db(request).acquire() as conn, conn.transaction():
        row = await schedules.create(conn, principal, link, body, request.app[SETTINGS])
    return await respond(request, row["id"], 201)


def _name_filter(request: web.Request) -> str | None:
    name = request.query.get("name") or None
    if name is not None and (len(name) > 200 or not name.isprintable()):
        raise validation("name", "must be up to 200 printable characters of the name to look for")
    return name


async def list_schedules(request: web.Request) -> web.Response:
    principal = caller(request)
    size = page_size(request)
    after_at, after_id = cursor(request) or (None, None)
    orgs = await visible_orgs(request, principal)
    name = _name_filter(request)
    pool = db(request)
    rows = await pool.fetch(
        *sql.LIST_SCHEDULES.bind(
            organizations=orgs,
            after_at=after_at,
            after_id=after_id,
            limit=size + 1,
            include_deleted=flag(request, "include_deleted"),
            name=name,
        )
    )
    shown, next_cursor = page(rows, size)
    recipients = await pool.fetch(sql.RECIPIENTS, [r["id"] for r in shown])
    now = await db_now(pool)
    items = [render(r, recipients, now) for r in shown]
    return json_response(
        ScheduleList.model_validate({"items": items, "next_cursor": next_cursor}).model_dump(mode="json")
    )


async def get_schedule(request: web.Request) -> web.Response:
    principal = caller(request)
    schedule_id = path_uuid(request, "id", "schedule")
    await visible_schedule(request, principal, schedule_id, write=False)
    return await respond(request, schedule_id)


async def update_schedule(request: web.Request) -> web.Response:
    principal = caller(request)
    schedule_id = path_uuid(request, "id", "schedule")
    body = await read_body(request, ScheduleUpdate)
    async with db(request).acquire() as conn, conn.transaction():
        row = await visible_schedule(request, principal, schedule_id, write=True, conn=conn, lock=True)
        link = None
        if body.shared_link_id is not None and body.shared_link_id != row["shared_link_id"]:
            link = await visible_link(request, principal, body.shared_link_id)
        await schedules.update(conn, principal, row, body, request.app[SETTINGS], link)
    return await respond(request, schedule_id)


async def delete_schedule(request: web.Request) -> web.Response:
    principal = caller(request)
    schedule_id = path_uuid(request, "id", "schedule")
    async with db(request).acquire() as conn, conn.transaction():
        row = await visible_schedule(request, principal, schedule_id, write=True, conn=conn, lock=True)
        await schedules.delete(conn, principal, row)
    return web.Response(status=204)


async def replace_recipients(request: web.Request) -> web.Response:
    principal = caller(request)
    schedule_id = path_uuid(request, "id", "schedule")
    body = await read_body(request, RecipientsReplace)
    async with db(request).acquire() as conn, conn.transaction():
        row = await visible_schedule(request, principal, schedule_id, write=True, conn=conn, lock=True)
        await schedules.replace_recipients(conn, principal, row, body.recipients)
    return await respond(request, schedule_id)


async def run_now(request: web.Request) -> web.Response:
    principal = caller(request)
    schedule_id = path_uuid(request, "id", "schedule")
    body = await read_body(request, RunRequest, optional=True)
    # Running a schedule is for those who may change it.
    row = await visible_schedule(request, principal, schedule_id, write=True)
    app = request.app
    run_id = await manual_run.start(db(request), app[REDIS], app[SETTINGS], principal, row, body)
    return await accepted(request, run_id)


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_post("/v1/schedules", create_schedule)
    r.add_get("/v1/schedules", list_schedules)
    r.add_get("/v1/schedules/{id}", get_schedule)
    r.add_patch("/v1/schedules/{id}", update_schedule)
    r.add_delete("/v1/schedules/{id}", delete_schedule)
    r.add_put("/v1/schedules/{id}/recipients", replace_recipients)
    r.add_post("/v1/schedules/{id}/run", run_now)
