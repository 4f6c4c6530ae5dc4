"""A provider that accepts and never answers holds a worker slot no longer than its timeout setting, and the
error names the limit and the setting."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from arq.connections import ArqRedis

from consumer.channels import loops, telegram
from consumer.channels.outcome import Attachment
from consumer.ratelimit import RateLimiter
from shared.db import Pool
from shared.settings import Settings
from tests.support.harness import drain
from tests.support.runs import fire, make, run_row
from tests.support.servers import HungServer


@pytest.fixture
async def hung() -> AsyncIterator[HungServer]:
    server = HungServer()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def attachment(tmp_path: Path) -> Attachment:
    path = tmp_path / "report.csv"
    path.write_bytes(b"a,b\n" * 100_000)
    return Attachment(path, "report.csv", "text/csv", path.stat().st_size)


async def test_loops_that_never_answers_times_out_with_a_readable_error(
    settings: Settings, redis: ArqRedis, hung: HungServer, attachment: Attachment
) -> None:
    s = settings.model_copy(update={"loops_api_url": hung.url, "loops_timeout_seconds": 0.5})
    started = time.monotonic()
    async with aiohttp.ClientSession() as session:
        outcome = await loops.send(
            session,
            s,
            RateLimiter(redis),
            transactional_id="tx",
            run_id="run",
            email="a@example.com",
            variables={},
            attachments=[attachment],
        )
    took = time.monotonic() - started
    assert hung.connections == 1
    assert outcome.kind == "transient"
    assert outcome.detail["reason"] == "loops: no answer within 0.5 s (LOOPS_TIMEOUT_SECONDS)"
    assert 0.5 <= took < 1.5, took


async def test_telegram_that_never_answers_times_out_maybe_delivered(
    settings: Settings, redis: ArqRedis, hung: HungServer, attachment: Attachment
) -> None:
    s = settings.model_copy(
        update={"telegram_api_url": hung.url, "telegram_timeout_seconds": 0.5, "telegram_chat_interval_seconds": 0}
    )
    started = time.monotonic()
    async with aiohttp.ClientSession() as session:
        outcome = await telegram.send_document(
            session, s, RateLimiter(redis), chat_id=42, caption="c", attachment=attachment
        )
    took = time.monotonic() - started
    assert outcome.kind == "transient" and outcome.detail["unconfirmed"], "the upload may have arrived"
    assert outcome.detail["reason"] == "telegram: no answer within 0.5 s (TELEGRAM_TIMEOUT_SECONDS)"
    assert 0.5 <= took < 1.5, took


async def test_a_hung_provider_ends_the_run_within_tries_times_timeout_and_backoff(
    pool: Pool, redis: ArqRedis, settings: Settings, hung: HungServer, tmp_path: Path
) -> None:
    timeout, tries = 0.5, 3
    s = settings.model_copy(
        update={"loops_api_url": hung.url, "loops_timeout_seconds": timeout, "max_tries": tries, "lease_seconds": 5}
    )
    await make(pool)
    run_id = await fire(pool, redis, s)
    started = time.monotonic()
    await drain(s, pool, redis, tmp_path)
    took = time.monotonic() - started
    run = await run_row(pool, run_id)
    assert (run["status"], run["attempts"]) == ("dead", tries)
    assert "loops: no answer within 0.5 s (LOOPS_TIMEOUT_SECONDS)" in run["error"]
    # Each try waits the timeout, then the backoff (0.2 s doubling, capped at 1 s); the creator's notice, to the
    # same hung Loops, waits one timeout more.
    backoffs = sum(min(s.retry_cap_seconds, s.retry_base_seconds * 2**i) for i in range(tries - 1))
    bound = tries * timeout + backoffs + timeout + 2.0
    assert took < bound, (took, bound)
    print(f"hung Loops: run dead after {took:.1f} s ({tries} tries of {timeout} s; bound {bound:.1f} s)")
