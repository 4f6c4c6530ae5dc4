"""Cron on the local wall clock: cadences, DST gaps and overlaps, validation, properties."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import islice, pairwise
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.cron import (
    cadence_to_cron,
    deterministic_offset_ms,
    iter_fires,
    next_fire,
    parse_cron,
    upcoming,
    validate_schedule_cron,
)
from shared.errors import InvalidCron


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.mark.parametrize(
    ("cadence", "time", "dow", "dom", "expected"),
    [
        ("daily", "09:30", None, None, "30 9 * * *"),
        ("weekly", "00:05", None, None, "5 0 * * 1"),
        ("weekly", "23:59", 0, None, "59 23 * * 0"),
        ("monthly", "06:00", None, None, "0 6 1 * *"),
        ("monthly", "06:00", None, -1, "0 6 L * *"),
        ("quarterly", "07:15", None, 15, "15 7 15 1,4,7,10 *"),
    ],
)
def test_cadence_to_cron(cadence: str, time: str, dow: int | None, dom: int | None, expected: str) -> None:
    assert cadence_to_cron(cadence, time, day_of_week=dow, day_of_month=dom) == expected


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (("daily", "24:00"), "scheduled_time"),
        (("daily", "9:30"), "scheduled_time"),
        (("hourly", "09:30"), "cadence"),
        (("monthly", "09:30", None, 31), "day_of_month"),
        (("weekly", "09:30", 7), "day_of_week"),
        (("daily", "09:30", 2), "day_of_week"),
    ],
)
def test_cadence_errors_name_the_field(args: tuple[object, ...], field: str) -> None:
    with pytest.raises(InvalidCron) as info:
        cadence_to_cron(*args)  # type: ignore[arg-type]
    assert info.value.issues[0].field == field


# (expression, zone, after, expected fires in UTC)
DST_TABLE = [
    # America/New_York spring forward 2025-03-09 02:00 -> 03:00
    ("30 2 * * *", "America/New_York", "2025-03-08T12:00Z", ["2025-03-09T07:00Z", "2025-03-10T06:30Z"]),
    ("0 9 * * *", "America/New_York", "2025-03-08T12:00Z", ["2025-03-08T14:00Z", "2025-03-09T13:00Z"]),
    # New York fall back 2025-11-02 02:00 -> 01:00: a fixed-time fire happens once, at the first 01:30
    ("30 1 * * *", "America/New_York", "2025-11-01T12:00Z", ["2025-11-02T05:30Z", "2025-11-03T06:30Z"]),
    # a stepped hour fires at each real occurrence
    (
        "30 */1 * * *",
        "America/New_York",
        "2025-11-02T04:45Z",
        ["2025-11-02T05:30Z", "2025-11-02T06:30Z", "2025-11-02T07:30Z"],
    ),
    # Europe/London: 2025-03-30 01:00 -> 02:00, 2025-10-26 02:00 -> 01:00
    ("30 1 * * *", "Europe/London", "2025-03-29T12:00Z", ["2025-03-30T01:00Z", "2025-03-31T00:30Z"]),
    ("30 1 * * *", "Europe/London", "2025-10-25T12:00Z", ["2025-10-26T00:30Z", "2025-10-27T01:30Z"]),
    # Europe/Moscow has no DST: constant +03:00
    ("0 9 * * *", "Europe/Moscow", "2025-03-29T00:00Z", ["2025-03-29T06:00Z", "2025-03-30T06:00Z"]),
    ("0 9 * * *", "Europe/Moscow", "2025-10-25T12:00Z", ["2025-10-26T06:00Z", "2025-10-27T06:00Z"]),
    # Australia/Lord_Howe: 30-minute shifts. 2025-10-05 02:00 -> 02:30 (+10:30 -> +11)
    ("15 2 * * *", "Australia/Lord_Howe", "2025-10-04T00:00Z", ["2025-10-04T15:30Z", "2025-10-05T15:15Z"]),
    # 2025-04-06 02:00 -> 01:30 (+11 -> +10:30): 01:45 happens twice, fires once at the first
    ("45 1 * * *", "Australia/Lord_Howe", "2025-04-05T00:00Z", ["2025-04-05T14:45Z", "2025-04-06T15:15Z"]),
    # monthly on the last day of February, leap and non-leap years
    ("0 6 L * *", "Europe/London", "2024-02-01T00:00Z", ["2024-02-29T06:00Z", "2024-03-31T05:00Z"]),
    ("0 6 L * *", "Europe/London", "2025-02-01T00:00Z", ["2025-02-28T06:00Z", "2025-03-31T05:00Z"]),
    # weekly on Monday, quarterly on the 1st
    ("0 8 * * 1", "America/New_York", "2025-03-05T00:00Z", ["2025-03-10T12:00Z", "2025-03-17T12:00Z"]),
    (
        "0 7 1 1,4,7,10 *",
        "Europe/London",
        "2025-02-15T00:00Z",
        ["2025-04-01T06:00Z", "2025-07-01T06:00Z", "2025-10-01T06:00Z", "2026-01-01T07:00Z"],
    ),
    # six fields, seconds first
    ("30 0 12 * * *", "UTC", "2025-01-01T00:00Z", ["2025-01-01T12:00:30Z", "2025-01-02T12:00:30Z"]),
]


@pytest.mark.parametrize(("expression", "tz", "after", "expected"), DST_TABLE)
def test_dst_table(expression: str, tz: str, after: str, expected: list[str]) -> None:
    fires = list(islice(iter_fires(expression, tz, utc(after)), len(expected)))
    assert fires == [utc(e) for e in expected]
    assert all(f.tzinfo is UTC for f in fires)


def test_spring_forward_gap_with_stepped_minutes_fires_once_after_the_gap() -> None:
    fires = list(islice(iter_fires("*/30 * * * *", "America/New_York", utc("2025-03-09T06:10Z")), 4))
    assert fires == [
        utc("2025-03-09T06:30Z"),
        utc("2025-03-09T07:00Z"),
        utc("2025-03-09T07:30Z"),
        utc("2025-03-09T08:00Z"),
    ]


def test_next_fire_is_strictly_after() -> None:
    assert next_fire("0 9 * * *", "UTC", utc("2025-01-01T09:00Z")) == utc("2025-01-02T09:00Z")


def test_naive_after_is_rejected() -> None:
    with pytest.raises(ValueError, match="aware"):
        next_fire("0 9 * * *", "UTC", datetime(2025, 1, 1))


@pytest.mark.parametrize(
    ("expression", "fragment"),
    [
        ("61 * * * *", "minute field value 61"),
        ("0 24 * * *", "hour field value 24"),
        ("0 0 32 * *", "day of month field value 32"),
        ("0 0 * 13 *", "month field value 13"),
        ("0 0 * * 8", "day of week field value 8"),
        ("* * *", "must have 5 fields"),
        ("0 0 30 2 *", "never matches"),
        ("*/2 * * * *", "minimum interval is 300 s"),
        ("0 */4 * * * *", "minimum interval"),
        ("", "must not be empty"),
        ("0 0 * * mon#6", "after # must be 1-5"),
        ("0 H * * *", "unknown value"),
    ],
)
def test_validation_names_the_field(expression: str, fragment: str) -> None:
    with pytest.raises(InvalidCron) as info:
        validate_schedule_cron(expression, "UTC", 300, utc("2025-01-01T00:00Z"))
    assert info.value.issues[0].field == "cron_expression"
    assert fragment in str(info.value)


def test_minimum_interval_counts_dst_overlap() -> None:
    # "0,30 1 * * *" is fixed-time: the overlap does not double it, so 30 minutes is the smallest gap.
    validate_schedule_cron("0,30 1 * * *", "America/New_York", 1800, utc("2025-11-01T00:00Z"))
    with pytest.raises(InvalidCron):
        validate_schedule_cron("*/5 * * * *", "UTC", 600, utc("2025-01-01T00:00Z"))


def test_unknown_timezone_names_the_field() -> None:
    with pytest.raises(InvalidCron) as info:
        next_fire("0 9 * * *", "Mars/Olympus", utc("2025-01-01T00:00Z"))
    assert info.value.issues[0].field == "timezone"


def test_aliases_and_names() -> None:
    assert parse_cron("@daily").expression == "0 0 * * *"
    assert next_fire("0 9 * jan mon", "UTC", utc("2025-01-01T00:00Z")) == utc("2025-01-06T09:00Z")


def test_upcoming_and_jitter_are_deterministic() -> None:
    assert len(upcoming("0 9 * * *", "UTC", utc("2025-01-01T00:00Z"), 5)) == 5
    offsets = {deterministic_offset_ms("shared_report:x:1", 60) for _ in range(3)}
    assert len(offsets) == 1 and 0 <= offsets.pop() < 60_000
    assert deterministic_offset_ms("k", 0) == 0


ZONES = [
    "America/New_York",
    "Europe/London",
    "Europe/Moscow",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "America/Santiago",
    "UTC",
]
EXPRESSIONS = [
    "0 9 * * *",
    "30 2 * * *",
    "30 1 * * *",
    "*/30 * * * *",
    "15 */2 * * *",
    "0 6 L * *",
    "45 1 * * 0",
    "0 0 1 1,4,7,10 *",
    "10,40 1,2,3 * * *",
    "0 12 * * 1-5",
]


@settings(max_examples=150, deadline=None)
@given(
    expression=st.sampled_from(EXPRESSIONS),
    tz=st.sampled_from(ZONES),
    start=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)),
)
def test_fires_increase_and_match_the_local_wall_clock(expression: str, tz: str, start: datetime) -> None:
    zone = ZoneInfo(tz)
    fires = list(islice(iter_fires(expression, tz, start), 30))
    assert fires[0] > start
    assert all(a < b for a, b in pairwise(fires))
    for fire in fires:
        local = fire.astimezone(zone).replace(tzinfo=None)
        naive_match = croniter.match(parse_cron(expression).expression, local)
        # A fire either matches on the local wall clock, or is the first minute after a DST gap
        # whose skipped wall time matched.
        if not naive_match:
            before = (fire - timedelta(seconds=1)).astimezone(zone).utcoffset()
            assert before != fire.astimezone(zone).utcoffset(), (expression, tz, fire)
