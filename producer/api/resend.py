"""Resending a partial or failed run: a replay chained to it, which serves only the recipients its chain has not."""

from __future__ import annotations

from uuid import uuid4

from producer.api import changes
from producer.api.auth import Principal
from producer.api.errors import ApiError, gone
from shared import runs
from shared.db import Connection, Record
from shared.errors import InvalidMessage
from shared.message import ReportMessage, parse_message

RESENDABLE = ("partial", "failed")


async def record(conn: Connection, principal: Principal, row: Record) -> ReportMessage:
    """The resend's run, recorded and audited in the caller's transaction (the run locked); its message to queue."""
    if row["deleted_at"] is not None:
        raise gone(row["deleted_at"])
    if row["status"] not in RESENDABLE:
        raise ApiError(409, f"only a partial or failed run can be resent; this one is {row['status']}")
    if row["pending"]:
        raise ApiError(409, "a resend or replay of this run is still queued or running; wait for it to finish")
    try:
        original = parse_message(row["message"])
    except InvalidMessage as exc:
        raise ApiError(409, "this run's message was not kept whole, so it cannot be resent") from exc
    # Every recipient of the original: the consumer skips those its chain served, and counts the rest.
    message = ReportMessage(**{**original.model_dump(), "run_id": uuid4(), "trigger": "replay"})
    await runs.record(conn, message, repeats=row["id"])
    what = {"run_id": message.run_id, "resends": row["id"]}
    await changes.changed(
        conn, principal, "run.resend", row["organization_id"], None, what, schedule_id=message.schedule_id
    )
    return message
