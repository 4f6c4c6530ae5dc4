"""A schedule's window (starts_at, ends_at): which fires fall in it, and when it has ended."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from producer.planning import Plan
from shared.cron import iter_fires, next_fire

_INSTANT = timedelta(microseconds=1)


def first_fire(
    expression: str, timezone: str, after: datetime, starts_at: datetime | None, ends_at: datetime | None
) -> datetime | None:
    """The first fire after `after` inside the window (starts_at and ends_at included); None when there is none."""
    if starts_at is not None and after < starts_at:
        after = starts_at - _INSTANT
    fire = next_fire(expression, timezone, after)
    return None if ends_at is not None and fire > ends_at else fire


def clamp(
    expression: str, timezone: str, due: datetime | None, starts_at: datetime | None, ends_at: datetime | None
) -> datetime | None:
    """A next_run_at moved into the window: a due time before it becomes its first fire, one after it None."""
    if due is None:
        return None
    if starts_at is not None and due < starts_at:
        return first_fire(expression, timezone, due, starts_at, ends_at)
    return None if ends_at is not None and due > ends_at else due


def fires(
    expression: str, timezone: str, after: datetime, count: int, starts_at: datetime | None, ends_at: datetime | None
) -> list[datetime]:
    first = first_fire(expression, timezone, after, starts_at, ends_at)
    if first is None:
        return []
    out = [first]
    for fire in iter_fires(expression, timezone, first):
        if len(out) == count or (ends_at is not None and fire > ends_at):
            break
        out.append(fire)
    return out


def within(schedule_plan: Plan, ends_at: datetime | None) -> Plan:
    """A scheduler plan without the fires after ends_at (a long outage can reach past it)."""
    if ends_at is None:
        return schedule_plan
    kept = [f for f in schedule_plan.fires if f.fire_at <= ends_at]
    after = schedule_plan.next_run_at
    return replace(schedule_plan, fires=kept, next_run_at=None if after is None or after > ends_at else after)
