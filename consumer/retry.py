"""When to try again: the job's backoff, how long a provider may make us wait, and the one inline-retry loop
every channel uses.

A provider's `Retry-After` is input from the outside: a receiver we do not control can answer `0`, `-5`,
`nan`, `inf` or `1e9`. It is read strictly (integer seconds or an HTTP date), anything else counts as
absent, and what is read is clamped to [1 s, RETRY_AFTER_MAX_SECONDS]. Waiting inline is bounded in tries
and in total time, so one endpoint can never hold a worker: past the bound the run goes back to the queue.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from consumer.channels.outcome import Outcome
from shared.settings import Settings

MIN_WAIT_SECONDS = 1.0
# Waiting inline beats going back to the queue for short waits; longer ones are the queue's.
INLINE_RETRIES = 3
INLINE_BUDGET_SECONDS = 30.0

_SECONDS = re.compile(r"[0-9]{1,12}")


def parse_retry_after(value: object, now: datetime | None = None) -> float | None:
    """Seconds to wait, at least 1, from an integer or an HTTP date; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        value = str(value)
    if not isinstance(value, str):
        return None
    text = value.strip()
    if _SECONDS.fullmatch(text):
        seconds = float(int(text))
    else:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return max(MIN_WAIT_SECONDS, seconds) if math.isfinite(seconds) else None


def capped(settings: Settings, wait: float | None) -> float | None:
    """A wait held to [1 s, RETRY_AFTER_MAX_SECONDS]; None (or a non-finite value) stays absent."""
    if wait is None or not math.isfinite(wait):
        return None
    return min(max(wait, MIN_WAIT_SECONDS), settings.retry_after_max_seconds)


def backoff(settings: Settings, job_try: int, retry_after: float | None) -> float:
    """The wait before the run's next try: exponential from RETRY_BASE_SECONDS up to RETRY_CAP_SECONDS, and
    never shorter than what the provider asked for (capped)."""
    delay = min(settings.retry_cap_seconds, settings.retry_base_seconds * 2 ** max(0, job_try - 1))
    return float(max(delay, capped(settings, retry_after) or 0.0))


async def retry_inline(settings: Settings, call: Callable[[], Awaitable[Outcome]], *, margin: float = 0.0) -> Outcome:
    """Call again after each short wait the provider asks for, at most INLINE_RETRIES times and
    INLINE_BUDGET_SECONDS in all; return the first other outcome, or the last one with its wait capped."""
    waited = 0.0
    for tries_left in range(INLINE_RETRIES, -1, -1):
        outcome = await call()
        wait = capped(settings, outcome.retry_after)
        if outcome.kind != "transient":
            return outcome
        if wait is None or not tries_left or waited + wait + margin > INLINE_BUDGET_SECONDS:
            return dataclasses.replace(outcome, retry_after=wait)
        await asyncio.sleep(wait + margin)
        waited += wait + margin
    raise AssertionError("unreachable")  # pragma: no cover
