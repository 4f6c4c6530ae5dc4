"""A schedule as the API answers it: its row, its recipients, its formats, the next fires and whether its window
has ended."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from aiohttp import web

from producer import window
from producer.api import sql
from producer.api.models import RecipientOut, ScheduleOut
from producer.api.request_helpers import db
from producer.clock import db_now
from shared.db import Record
from shared.health import json_response


def render(row: Record, recipients: list[Record], now: datetime) -> dict[str, Any]:
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


async def respond(request: web.Request, schedule_id: UUID, status: int = 200) -> web.Response:
    """The schedule as stored now (after the change's commit)."""
    pool = db(request)
    row = await pool.fetchrow(sql.SCHEDULE, schedule_id)
    recipients = await pool.fetch(sql.RECIPIENTS, [schedule_id])
    return json_response(render(row, recipients, await db_now(pool)), status=status)
