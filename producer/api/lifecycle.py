"""Who a schedule belongs to, and its life after delete: restore it (paused) until retention removes it."""

from __future__ import annotations

from aiohttp import web

from producer.api import schedules
from producer.api.models import OwnerChange
from producer.api.request_helpers import caller, db, path_uuid, read_body, visible_schedule
from producer.api.schedule_view import respond


async def restore_schedule(request: web.Request) -> web.Response:
    principal = caller(request)
    schedule_id = path_uuid(request, "id", "schedule")
    async with db(request).acquire() as conn, conn.transaction():
        row = await visible_schedule(request, principal, schedule_id, write=True, conn=conn, lock=True, deleted=True)
        await schedules.restore(conn, principal, row)
    return await respond(request, schedule_id)


async def change_owner(request: web.Request) -> web.Response:
    """Owners and admins hand a schedule to another member; its failure notices go to them from then on."""
    body = await read_body(request, OwnerChange)
    principal = caller(request)
    row = await visible_schedule(request, principal, path_uuid(request, "id", "schedule"), write=True)
    async with db(request).acquire() as conn, conn.transaction():
        await schedules.change_owner(conn, principal, row, body.user_id)
    return await respond(request, row["id"])


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1/schedules/{id}/restore", restore_schedule)
    app.router.add_post("/v1/schedules/{id}/owner", change_owner)
