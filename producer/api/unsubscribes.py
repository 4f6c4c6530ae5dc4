"""Lifting an unsubscribe: an owner may send a schedule's reports to an address that unsubscribed again."""

from __future__ import annotations

from aiohttp import web

from producer.api import changes, sql
from producer.api.auth import require_role
from producer.api.errors import ApiError, validation
from producer.api.models import Email, Strict
from producer.api.request_helpers import caller, db, path_uuid, read_body, visible_schedule
from shared.unsubscribe import address_hash


class LiftRequest(Strict):
    email: Email


async def lift(request: web.Request) -> web.Response:
    principal = caller(request)
    schedule_id = path_uuid(request, "id", "schedule")
    body = await read_body(request, LiftRequest)
    pool = db(request)
    async with pool.acquire() as conn, conn.transaction():
        row = await visible_schedule(request, principal, schedule_id, write=True, conn=conn, lock=True)
        org = row["organization_id"]
        role = await require_role(principal, pool, org, write=True)
        if role not in ("owner", "service"):
            raise ApiError(403, f"your role '{role}' may not lift an unsubscribe (owners may)")
        gone = await conn.fetch(sql.LIFT_UNSUBSCRIBE, org, schedule_id, address_hash(body.email))
        if not gone:
            raise validation("email", "has not unsubscribed from this schedule or the organization's reports")
        scopes = sorted("organization" if g["schedule_id"] is None else "schedule" for g in gone)
        await changes.changed(
            conn,
            principal,
            "unsubscribe.lift",
            org,
            {"email": body.email.lower(), "unsubscribed": scopes},
            {"email": body.email.lower(), "unsubscribed": None},
            schedule_id=schedule_id,
        )
    return web.Response(status=204)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1/schedules/{id}/unsubscribes/lift", lift)
