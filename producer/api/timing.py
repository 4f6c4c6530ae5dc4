"""Turn the timing fields of a create or update into a cadence and a validated cron expression, and check the
window they fire in."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from producer.api.errors import validation
from producer.api.models import TimingFields
from shared.cron import cadence_to_cron, validate_schedule_cron

# The request fields that make up a schedule's timing: changing any of them plans its fires anew.
TIMING_FIELDS = {"cadence", "scheduled_time", "day_of_week", "day_of_month", "cron_expression", "timezone"}


@dataclass(frozen=True)
class Timing:
    cadence: str
    scheduled_time: str | None
    day_of_week: int | None
    day_of_month: int | None
    cron_expression: str
    timezone: str


def resolve(
    cadence: str | None,
    scheduled_time: str | None,
    day_of_week: int | None,
    day_of_month: int | None,
    cron_expression: str | None,
    timezone: str,
    min_interval: int,
    now: datetime,
) -> Timing:
    if cron_expression is not None:
        if cadence not in (None, "custom"):
            raise validation("cadence", "give either a cadence with scheduled_time, or cron_expression, not both")
        for name, value in (
            ("scheduled_time", scheduled_time),
            ("day_of_week", day_of_week),
            ("day_of_month", day_of_month),
        ):
            if value is not None:
                raise validation(name, "is not used with cron_expression; put the time in the expression")
        validate_schedule_cron(cron_expression, timezone, min_interval, now)
        return Timing("custom", None, None, None, " ".join(cron_expression.split()), timezone)
    if cadence is None or cadence == "custom":
        raise validation(
            "cadence",
            "give a cadence (daily, weekly, monthly, quarterly) with scheduled_time, or a cron_expression",
        )
    if scheduled_time is None:
        raise validation("scheduled_time", "is required with a cadence, e.g. 09:30")
    expression = cadence_to_cron(cadence, scheduled_time, day_of_week, day_of_month)
    validate_schedule_cron(expression, timezone, min_interval, now)
    if cadence == "weekly" and day_of_week is None:
        day_of_week = 1
    if cadence in ("monthly", "quarterly") and day_of_month is None:
        day_of_month = 1
    return Timing(cadence, scheduled_time, day_of_week, day_of_month, expression, timezone)


def resolve_new(body: TimingFields, min_interval: int, now: datetime) -> Timing:
    """The timing of a new schedule (or a preview of one): UTC unless a zone is given."""
    return resolve(
        body.cadence,
        body.scheduled_time,
        body.day_of_week,
        body.day_of_month,
        body.cron_expression,
        body.timezone or "UTC",
        min_interval,
        now,
    )


def resolve_change(current: Mapping[str, Any], body: TimingFields, min_interval: int, now: datetime) -> Timing:
    """The timing of an update: the fields it gives over the stored ones (a new cadence keeps no stored day)."""
    changed = body.model_fields_set
    if "cron_expression" in changed and body.cron_expression is not None:
        cadence = body.cadence
        time_, dow, dom = body.scheduled_time, body.day_of_week, body.day_of_month
    else:
        cadence = body.cadence or current["cadence"]
        same = cadence == current["cadence"]
        time_ = body.scheduled_time or (current["scheduled_time"] if cadence != "custom" else None)
        dow = body.day_of_week if "day_of_week" in changed else (current["day_of_week"] if same else None)
        dom = body.day_of_month if "day_of_month" in changed else (current["day_of_month"] if same else None)
    cron = (
        body.cron_expression
        if "cron_expression" in changed
        else (current["cron_expression"] if cadence == "custom" and body.cadence is None else None)
    )
    return resolve(cadence, time_, dow, dom, cron, body.timezone or current["timezone"], min_interval, now)


def check_window(starts_at: datetime | None, ends_at: datetime | None) -> None:
    if starts_at is not None and ends_at is not None and ends_at <= starts_at:
        raise validation("ends_at", "must be after starts_at")
