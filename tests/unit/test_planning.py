"""Misfire planning as a pure function: properties over random outages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from producer.planning import FIRE_ALL_CAP, plan
from shared.cron import next_fire

EXPRESSIONS = ["0 9 * * *", "*/15 * * * *", "30 2 * * *", "0 6 L * *", "0 * * * 1-5"]


@settings(max_examples=120, deadline=None)
@given(
    expression=st.sampled_from(EXPRESSIONS),
    tz=st.sampled_from(["UTC", "America/New_York", "Australia/Lord_Howe"]),
    start=st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2027, 1, 1), timezones=st.just(UTC)),
    outage=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=40)),
    grace=st.integers(min_value=0, max_value=7200),
    policy=st.sampled_from(["fire_once", "skip", "fire_all"]),
)
def test_plans_are_sound(expression: str, tz: str, start: datetime, outage: timedelta, grace: int, policy: str) -> None:
    first = next_fire(expression, tz, start)
    now = first + outage
    result = plan(expression, tz, first, now, policy, grace)
    fires = [f.fire_at for f in result.fires]
    assert result.next_run_at is not None and result.next_run_at > now
    assert result.next_run_at == next_fire(expression, tz, now)
    assert fires == sorted(fires) and len(fires) == len(set(fires))
    assert all(first <= f <= now for f in fires)
    queued = [f for f in result.fires if f.status == "queued"]
    if policy != "skip":
        assert queued, "every due schedule fires at least once"
        assert queued[-1].fire_at == fires[-1], "the latest missed slot is the one that fires"
    if policy == "fire_once":
        late = [f for f in fires if now - f > timedelta(seconds=grace)]
        assert len(queued) == 1 or not late
    if policy == "fire_all":
        assert len(queued) <= FIRE_ALL_CAP
    if policy == "skip":
        # Late slots are recorded as skipped, on-time ones fire: nothing late is ever sent.
        for f in result.fires:
            assert (f.status == "skipped") == (now - f.fire_at > timedelta(seconds=grace))
