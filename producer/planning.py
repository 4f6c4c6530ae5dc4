"""Pure misfire planning: which slots of a due schedule become runs, and where it goes next."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from shared.cron import next_fire

FIRE_ALL_CAP = 100
# Older missed slots than this are not recorded one by one after a very long outage.
RECORD_CAP = 1000
# After this many slots without reaching now, jump ahead instead of walking every slot.
WALK_CAP = 2000

Status = Literal["queued", "skipped"]


@dataclass(frozen=True)
class Fire:
    fire_at: datetime
    status: Status


@dataclass
class Plan:
    fires: list[Fire] = field(default_factory=list)
    next_run_at: datetime | None = None
    missed: int = 0


def _slots(expression: str, tz: str, first: datetime, now: datetime) -> tuple[deque[datetime], int, datetime]:
    """Slots from `first` up to `now` (the latest RECORD_CAP of them), their count, and the next one."""
    slots: deque[datetime] = deque(maxlen=RECORD_CAP)
    count, slot, widest = 0, first, timedelta(0)
    while slot <= now:
        slots.append(slot)
        count += 1
        following = next_fire(expression, tz, slot)
        widest = max(widest, following - slot)
        if count == WALK_CAP and following <= now:
            # A long outage: skip to a window that still holds the latest FIRE_ALL_CAP + 1 slots.
            jump = now - widest * (FIRE_ALL_CAP + 1)
            if jump > following:
                following = next_fire(expression, tz, jump)
                count += 1  # at least one slot was jumped over; the exact number is not needed
        slot = following
    return slots, count, slot


def plan(
    expression: str,
    timezone: str,
    next_run_at: datetime,
    now: datetime,
    policy: str,
    grace_seconds: int,
) -> Plan:
    slots, count, upcoming = _slots(expression, timezone, next_run_at, now)
    grace = timedelta(seconds=grace_seconds)
    result = Plan(next_run_at=upcoming, missed=count)
    if not slots:
        return result
    late = [s for s in slots if now - s > grace]
    on_time = [s for s in slots if now - s <= grace]
    if not late:
        result.fires = [Fire(s, "queued") for s in on_time]
    elif policy == "fire_once":
        result.fires = [Fire(slots[-1], "queued")]
    elif policy == "skip":
        result.fires = [Fire(s, "skipped") for s in late] + [Fire(s, "queued") for s in on_time]
    elif policy == "fire_all":
        ordered = list(slots)
        cut = max(0, len(ordered) - FIRE_ALL_CAP)
        result.fires = [Fire(s, "skipped") for s in ordered[:cut]] + [Fire(s, "queued") for s in ordered[cut:]]
    else:
        raise ValueError(f"unknown misfire policy {policy!r}")
    return result
