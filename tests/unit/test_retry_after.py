"""A provider's Retry-After is read strictly and clamped, and waiting inline is bounded: a hostile
receiver can neither spin a worker, stall its event loop, nor park a run for ever."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from consumer.channels.outcome import Outcome
from consumer.retry import INLINE_RETRIES, backoff, capped, parse_retry_after, retry_inline
from shared.settings import Settings

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


class Throttled:
    """A provider that always answers 429 with this wait, counting the calls."""

    def __init__(self, wait: float) -> None:
        self.wait = wait
        self.calls = 0

    async def __call__(self) -> Outcome:
        self.calls += 1
        return Outcome.transient("429", retry_after=self.wait)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        (" 7 ", 7.0),
        (5, 5.0),
        ("0", 1.0),
        (0, 1.0),
        (format_datetime(NOW + timedelta(seconds=90), usegmt=True), 90.0),
        (format_datetime(NOW - timedelta(days=1), usegmt=True), 1.0),
        ("Sun, 06 Nov 1994 08:49:37 GMT", 1.0),
        ("-5", None),
        ("nan", None),
        ("NaN", None),
        ("inf", None),
        ("-inf", None),
        ("1e9", None),
        ("1.5", None),
        ("", None),
        ("soon", None),
        (None, None),
        (True, None),
        (float("nan"), None),
        (float("inf"), None),
        (-5, None),
        ([1], None),
        ("9" * 40, None),
    ],
)
def test_retry_after_is_integer_seconds_or_an_http_date(value: object, seconds: float | None) -> None:
    assert parse_retry_after(value, NOW) == seconds


def test_waits_are_clamped_to_the_setting() -> None:
    settings = Settings(retry_after_max_seconds=600)
    assert capped(settings, parse_retry_after("999999999999", NOW)) == 600
    assert capped(settings, 0.0) == 1.0
    assert capped(settings, float("nan")) is None and capped(settings, float("inf")) is None
    assert Settings().retry_after_max_seconds == 3600
    # The queue's backoff never exceeds it either, whatever an outcome carried.
    assert backoff(settings, 1, 1e18) == 600
    assert backoff(settings, 1, float("nan")) == settings.retry_base_seconds


async def test_inline_retries_are_bounded_in_tries_and_time(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr("consumer.retry.asyncio.sleep", sleep)
    settings = Settings(retry_after_max_seconds=120)

    throttled = Throttled(1.0)
    outcome = await retry_inline(settings, throttled)
    assert throttled.calls == INLINE_RETRIES + 1 and slept == [1.0] * INLINE_RETRIES
    assert outcome.kind == "transient" and outcome.retry_after == 1.0

    # A long wait goes back to the queue at once, capped.
    slept.clear()
    far = Throttled(1e12)
    outcome = await retry_inline(settings, far)
    assert far.calls == 1 and slept == [] and outcome.retry_after == 120

    # Waits that add up past the inline budget stop early.
    twenty = Throttled(20.0)
    outcome = await retry_inline(settings, twenty)
    assert twenty.calls == 2 and slept == [20.0]


async def test_a_non_finite_wait_is_never_slept() -> None:
    started = time.monotonic()
    outcome = await retry_inline(Settings(), Throttled(float("nan")))
    assert outcome.retry_after is None and time.monotonic() - started < 1
