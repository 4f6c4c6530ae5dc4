"""Cron expressions evaluated on the local wall clock of an IANA time zone, with the DST rules of
scheduling.md: a fire in a spring-forward gap moves to the first minute after the gap; a fixed-time
fire in a fall-back overlap happens once, at the first occurrence."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from croniter import CroniterBadDateError, CroniterError, croniter

from shared.errors import FieldIssue, InvalidCron

CADENCES = ("daily", "weekly", "monthly", "quarterly")
FIVE_FIELDS = ("minute", "hour", "day_of_month", "month", "day_of_week")
SIX_FIELDS = ("second", *FIVE_FIELDS)
_RANGES = {
    "second": (0, 59),
    "minute": (0, 59),
    "hour": (0, 23),
    "day_of_month": (1, 31),
    "month": (1, 12),
    "day_of_week": (0, 7),
}
_NAMES = {
    "month": {
        m: i + 1
        for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"))
    },
    "day_of_week": {d: i for i, d in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))},
}
_ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
# ASCII only: \d and str.isdigit() accept digits (², ٨) that int() or PostgreSQL then refuse.
_TIME = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$", re.ASCII)
_TERM = re.compile(r"^(?P<base>\*|[a-z0-9]+(?:-[a-z0-9]+)?)(?:/(?P<step>[0-9]+))?$", re.ASCII)
_PRINTABLE = re.compile(r"^[\x20-\x7e]*$")


def ascii_digits(text: str) -> bool:
    return bool(text) and text.isascii() and text.isdigit()


# Wide enough to cover every DST shift in the tz database (the largest is 2 h).
_DST_WINDOW = timedelta(hours=3)
_MAX_STEPS = 100_000

FIELD = "cron_expression"


@dataclass(frozen=True)
class Cron:
    """A validated expression, normalized to what croniter is given."""

    expression: str
    has_seconds: bool
    fixed_time: bool


def _issue(message: str, field: str = FIELD) -> InvalidCron:
    return InvalidCron(FieldIssue(field, message))


def _value(token: str, field: str) -> int:
    names = _NAMES.get(field, {})
    if token in names:
        return names[token]
    if not ascii_digits(token):
        raise _issue(f"{field.replace('_', ' ')} field has an unknown value '{token}'")
    number = int(token)
    low, high = _RANGES[field]
    if not low <= number <= high:
        raise _issue(f"{field.replace('_', ' ')} field value {number} is out of range {low}-{high}")
    return number


def _check_field(text: str, field: str) -> None:
    label = field.replace("_", " ")
    low, high = _RANGES[field]
    for term in text.lower().split(","):
        if field == "day_of_month" and term == "l":
            continue
        if field == "day_of_week" and "#" in term:
            day, _, nth = term.partition("#")
            _value(day, field)
            if not (ascii_digits(nth) and 1 <= int(nth) <= 5):
                raise _issue(f"{label} field '{term}': the number after # must be 1-5")
            continue
        match = _TERM.match(term)
        if not match:
            raise _issue(f"{label} field '{term}' is not valid cron syntax (use *, N, N-M, */S or lists)")
        base, step = match.group("base"), match.group("step")
        if base != "*":
            start, _, end = base.partition("-")
            first = _value(start, field)
            if end and _value(end, field) < first:
                raise _issue(f"{label} field range '{base}' runs backwards")
        if step is not None and not 1 <= int(step) <= high - low + 1:
            raise _issue(f"{label} field step '/{step}' must be between 1 and {high - low + 1}")


@lru_cache(maxsize=4096)
def parse_cron(expression: str) -> Cron:
    """Validate a 5-field or seconds-first 6-field expression; errors name the offending field."""
    if not isinstance(expression, str) or not expression.strip():
        raise _issue("must not be empty, e.g. '0 9 * * 1'")
    if len(expression) > 200:
        raise _issue("must be at most 200 characters")
    if not _PRINTABLE.match(expression):
        raise _issue("may hold only printable ASCII (digits 0-9, letters, space and * , - / # ?), e.g. '0 9 * * 1'")
    text = _ALIASES.get(expression.strip().lower(), expression.strip())
    parts = text.split()
    if len(parts) not in (5, 6):
        raise _issue(
            f"must have 5 fields (minute hour day-of-month month day-of-week) or 6 with seconds first, got {len(parts)}"
        )
    names = FIVE_FIELDS if len(parts) == 5 else SIX_FIELDS
    for part, name in zip(parts, names, strict=True):
        _check_field(part, name)
    fields = dict(zip(names, parts, strict=True))
    normalized = " ".join(parts)
    try:
        croniter(normalized, datetime(2000, 1, 1), second_at_beginning=len(parts) == 6)
    except (CroniterError, ValueError, KeyError) as exc:
        raise _issue(f"is not a valid cron expression: {exc}") from exc

    def fixed(value: str) -> bool:
        return "*" not in value and "/" not in value

    return Cron(normalized, len(parts) == 6, fixed(fields["minute"]) and fixed(fields["hour"]))


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones()) | {"UTC"}


def zone_names() -> list[str]:
    """Every zone name `zone` accepts, sorted."""
    return sorted(_zone_names())


@lru_cache(maxsize=1024)
def zone(name: str) -> ZoneInfo:
    if not isinstance(name, str) or not name or len(name) > 64:
        raise _issue("must be an IANA time zone name such as Europe/London", "timezone")
    # The list, not the file system: a tzdata folder name such as 'Europe' is not a zone.
    if name not in _zone_names():
        raise _issue(f"unknown IANA time zone '{name[:64]}'; use a name such as Europe/London", "timezone")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise _issue(f"unknown IANA time zone '{name}'; use a name such as Europe/London", "timezone") from exc


def parse_time(value: str) -> tuple[int, int]:
    match = _TIME.match(value or "") if isinstance(value, str) else None
    if not match:
        raise _issue("must be HH:MM between 00:00 and 23:59, e.g. 09:30", "scheduled_time")
    return int(match.group(1)), int(match.group(2))


def cadence_to_cron(
    cadence: str, scheduled_time: str, day_of_week: int | None = None, day_of_month: int | None = None
) -> str:
    if cadence not in CADENCES:
        raise _issue(f"must be one of {', '.join(CADENCES)} (or give cron_expression)", "cadence")
    hour, minute = parse_time(scheduled_time)
    if day_of_week is not None and cadence != "weekly":
        raise _issue("is only used by the weekly cadence", "day_of_week")
    if day_of_month is not None and cadence not in ("monthly", "quarterly"):
        raise _issue("is only used by the monthly and quarterly cadences", "day_of_month")
    if cadence == "daily":
        return f"{minute} {hour} * * *"
    if cadence == "weekly":
        dow = 1 if day_of_week is None else day_of_week
        if isinstance(dow, bool) or not isinstance(dow, int) or not 0 <= dow <= 6:
            raise _issue("must be 0-6 with Sunday = 0", "day_of_week")
        return f"{minute} {hour} * * {dow}"
    dom = 1 if day_of_month is None else day_of_month
    if isinstance(dom, bool) or not isinstance(dom, int) or not (1 <= dom <= 28 or dom == -1):
        raise _issue("must be 1-28, or -1 for the last day of the month", "day_of_month")
    day = "L" if dom == -1 else str(dom)
    months = "*" if cadence == "monthly" else "1,4,7,10"
    return f"{minute} {hour} {day} {months} *"


def _gap_end(wall: datetime, tz: ZoneInfo) -> datetime:
    """The first instant after a spring-forward gap that contains the wall time."""
    before = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)  # earliest bound
    after = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    target = after.astimezone(tz).utcoffset()
    low, high = before, after
    while high - low > timedelta(seconds=1):
        mid = low + (high - low) / 2
        if mid.astimezone(tz).utcoffset() == target:
            high = mid
        else:
            low = mid
    return high.replace(microsecond=0)


def _instants(wall: datetime, tz: ZoneInfo, fixed_time: bool) -> list[datetime]:
    first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    second = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    if first == second:
        return [first]
    if first.astimezone(tz).replace(tzinfo=None) == wall:
        # Fall back: the wall time happens twice.
        return [first] if fixed_time else [first, second]
    return [_gap_end(wall, tz)]


def _next(cron: Cron, tz: ZoneInfo, after: datetime) -> datetime:
    if after.tzinfo is None:
        raise ValueError("after must be an aware datetime")
    after = after.astimezone(UTC)
    local = after.astimezone(tz).replace(tzinfo=None)
    try:
        fast = croniter(cron.expression, local, second_at_beginning=cron.has_seconds).get_next(datetime)
        candidate = fast.replace(tzinfo=tz).astimezone(UTC)
        # No offset change around the answer means wall clock and UTC move together: done.
        if (
            candidate > after
            and (after - _DST_WINDOW).astimezone(tz).utcoffset()
            == (candidate + _DST_WINDOW).astimezone(tz).utcoffset()
            == candidate.astimezone(tz).utcoffset()
        ):
            return candidate
        walls = croniter(cron.expression, local - _DST_WINDOW, second_at_beginning=cron.has_seconds)
        best: datetime | None = None
        best_wall = local
        for _ in range(_MAX_STEPS):
            wall = walls.get_next(datetime)
            if best is not None and wall > best_wall + _DST_WINDOW:
                return best
            for instant in _instants(wall, tz, cron.fixed_time):
                if instant > after and (best is None or instant < best):
                    best, best_wall = instant, wall
    except CroniterBadDateError as exc:
        raise _issue("never matches a real date (check day of month against month)") from exc
    raise _issue("finds no fire time")  # pragma: no cover - needs > 100k steps without a match


# Pure in its arguments: many schedules share an expression, a zone and a due instant, so a tick of
# thousands plans each distinct (expression, zone, instant) once.
@lru_cache(maxsize=65_536)
def next_fire(expression: str, timezone: str, after: datetime) -> datetime:
    """The first fire strictly after `after`, as an aware UTC datetime."""
    return _next(parse_cron(expression), zone(timezone), after)


def iter_fires(expression: str, timezone: str, after: datetime) -> Iterator[datetime]:
    cron, tz = parse_cron(expression), zone(timezone)
    current = after
    while True:
        current = _next(cron, tz, current)
        yield current


def upcoming(expression: str, timezone: str, after: datetime, count: int = 5) -> list[datetime]:
    fires = iter_fires(expression, timezone, after)
    return [next(fires) for _ in range(count)]


def validate_schedule_cron(expression: str, timezone: str, min_interval_seconds: int, now: datetime) -> Cron:
    """Reject expressions that never fire or fire more often than the minimum interval."""
    cron = parse_cron(expression)
    zone(timezone)
    fires = upcoming(expression, timezone, now, 101)
    for earlier, later in itertools.pairwise(fires):
        gap = (later - earlier).total_seconds()
        if gap < min_interval_seconds:
            raise _issue(
                f"fires every {int(gap)} s around {earlier.isoformat()}; the minimum interval is "
                f"{min_interval_seconds} s (use a coarser minute or hour field)"
            )
    return cron


def deterministic_offset_ms(key: str, jitter_seconds: int) -> int:
    """A stable offset in [0, jitter) so every replica defers the same fire by the same amount."""
    if jitter_seconds <= 0:
        return 0
    import hashlib

    digest = hashlib.sha256(key.encode()).digest()
    return int.from_bytes(digest[:8], "big") % (jitter_seconds * 1000)
