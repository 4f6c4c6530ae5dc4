"""A schedule's life after delete: restore it (paused) while retention has not removed it yet."""

from __future__ import annotations

from aiohttp import web

from producer.api import repository as sql
from producer.api.auth import require_role
from producer.api.errors import ApiError, not_found
from producer.api.routes import _pool, _principal, _respond_schedule, _uuid_param


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
    return await _respond_schedule(request, schedule_id)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1/schedules/{id}/restore", restore_schedule)
