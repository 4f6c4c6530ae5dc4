"""Who a schedule belongs to, and its life after delete: restore it (paused) until retention removes it."""

from __future__ import annotations

from aiohttp import web

from producer.api import changes, sql
from producer.api.auth import require_role
from producer.api.errors import ApiError, not_found, validation
from producer.api.models import OwnerChange
from producer.api.routes import _body, _load_visible, _pool, _principal, _respond_schedule, _uuid_param


async def restore_schedule(request: web.Request) -> web.Response:
    principal = _principal(request)
    schedule_id = _uuid_param(request, "id", "schedule")
    async with _pool(request).acquire() as conn, conn.transaction():
        row = await conn.fetchrow(sql.SCHEDULE_FOR_UPDATE, schedule_id)
        if row is None:
            raise not_found()
        await require_role(principal, _pool(request), row["organization_id"], write=True)
        if row["deleted_at"] is None:
            raise ApiError(409, "this schedule is not deleted; there is nothing to restore")
        await conn.execute(sql.RESTORE, schedule_id)
        after = await conn.fetchrow(sql.SCHEDULE, schedule_id)
        await changes.schedule_changed(conn, principal, "schedule.restore", row, after)
    return await _respond_schedule(request, schedule_id)


async def change_owner(request: web.Request) -> web.Response:
    """Owners and admins hand a schedule to another member; its failure notices go to them from then on."""
    body = await _body(request, OwnerChange)
    pool = _pool(request)
    principal = _principal(request)
    row = await _load_visible(request, principal, _uuid_param(request, "id", "schedule"), write=True)
    if not await pool.fetch(sql.MEMBERS, row["organization_id"], [body.user_id]):
        raise validation("user_id", "is not a member of this schedule's organization")
    async with pool.acquire() as conn, conn.transaction():
        # One statement, and only while the schedule is not deleted: a delete in between wins.
        await conn.execute(sql.SET_OWNER, row["id"], body.user_id)
        before, after = {"owner": row["created_by"]}, {"owner": body.user_id}
        await changes.changed(
            conn, principal, "schedule.owner", row["organization_id"], before, after, schedule_id=row["id"]
        )
    return await _respond_schedule(request, row["id"])


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1/schedules/{id}/restore", restore_schedule)
    app.router.add_post("/v1/schedules/{id}/owner", change_owner)
