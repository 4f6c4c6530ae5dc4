"""Fire times before saving (preview) and the time zones the API accepts."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from producer import window
from producer.api.keys import SETTINGS
from producer.api.models import FireOut, PreviewOut, PreviewRequest, TimezoneList, TimezoneOut
from producer.api.routes import _body, _check_window, _now, _pool, _principal
from producer.api.timing import resolve_new
from shared.cron import zone, zone_names
from shared.health import json_response


async def preview(request: web.Request) -> web.Response:
    """What a schedule with these timing fields would do, validated as create validates them; writes nothing."""
    _principal(request)
    body = await _body(request, PreviewRequest)
    now = await _now(_pool(request))
    timing = resolve_new(body, request.app[SETTINGS].min_interval_seconds, now)
    tz = zone(timing.timezone)
    _check_window(body.starts_at, body.ends_at)
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
    _principal(request)
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
