"""Fire times before saving (preview) and the time zones the API accepts."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from producer import window
from producer.api.keys import SETTINGS
from producer.api.models import FireOut, PreviewOut, PreviewRequest, TimezoneList, TimezoneOut
from producer.api.request_helpers import caller, db, read_body
from producer.api.timing import check_window, resolve_new
from producer.clock import db_now
from shared.cron import zone, zone_names
from shared.health import json_response


async def preview(request: web.Request) -> web.Response:
    """What a schedule with these timing fields would do, validated as create validates them; writes nothing."""
    caller(request)
    body = await read_body(request, PreviewRequest)
    now = await db_now(db(request))
    timing = resolve_new(body, request.app[SETTINGS].min_interval_seconds, now)
    tz = zone(timing.timezone)
    check_window(body.starts_at, body.ends_at)
    fires = window.fires(
        timing.cron_expression, timing.timezone, body.from_ or now, body.count, body.starts_at, body.ends_at
    )
    out = PreviewOut(
        cron_expression=timing.cron_expression,
        timezone=timing.timezone,
        fires=[FireOut(at=at, local=at.astimezone(tz).isoformat()) for at in fires],
    )
    return json_response(out.model_dump(mode="json"))


def _offset(seconds: int) -> str:
    sign = "-" if seconds < 0 else "+"
    hours, minutes = divmod(abs(seconds) // 60, 60)
    return f"{sign}{hours:02d}:{minutes:02d}"


async def timezones(request: web.Request) -> web.Response:
    caller(request)
    now = datetime.now(UTC)
    items = []
    for name in zone_names():
        offset = now.astimezone(zone(name)).utcoffset()
        seconds = int(offset.total_seconds()) if offset is not None else 0
        items.append(TimezoneOut(name=name, utc_offset=_offset(seconds), offset_seconds=seconds))
    return json_response(TimezoneList(items=items).model_dump(mode="json"))


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1/schedules/preview", preview)
    app.router.add_get("/v1/timezones", timezones)
