"""Holes a security probe found, closed and checked through the real consumer process: a receiver that
answers with a hostile Retry-After, and SFTP destinations at addresses the service may not reach."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from arq.connections import ArqRedis

from producer.scheduler import tick
from shared.db import Pool
from shared.fakes.webhook import WebhookReceiver
from shared.settings import Settings
from tests.e2e.test_channels import WEBHOOK_SECRET, consumer, due, finished, outcomes
from tests.integration.test_export import video
from tests.support import seed

pytestmark = pytest.mark.e2e

HOSTILE = {
    "/zero": "0",
    "/negative": "-5",
    "/nan": "nan",
    "/inf": "inf",
    "/exp": "1e9",
    "/far": "999999999",
    "/past": "Sun, 06 Nov 1994 08:49:37 GMT",
}


async def test_a_hostile_retry_after_neither_spins_nor_stalls_the_worker(
    pool: Pool, redis: ArqRedis, settings: Settings, tmp_path: Path
) -> None:
    receiver = WebhookReceiver(WEBHOOK_SECRET)
    receiver.throttled.update(HOSTILE)
    hostile_org, other_org = await seed.organization(pool), await seed.organization(pool)
    for org in (hostile_org, other_org):
        await video(pool, org)
    vault = settings.vault()
    await receiver.start()
    hostile = await due(pool, hostile_org, "hostile")
    for path in HOSTILE:
        url = receiver.url + path
        await seed.destination(pool, vault, hostile_org, hostile, "webhook", url, {"url": url}, WEBHOOK_SECRET)
    try:
        async with consumer(
            settings,
            OUTBOUND_ALLOW_PRIVATE="true",
            RETRY_AFTER_MAX_SECONDS="2",
            SPOOL_DIR=str(tmp_path / "spool"),
        ):
            started = time.monotonic()
            await tick(pool, redis, settings)
            # Once the hostile endpoints are being called, another tenant's report is due.
            while any(receiver.calls[p] == 0 for p in HOSTILE):
                assert time.monotonic() - started < 20, dict(receiver.calls)
                await asyncio.sleep(0.05)
            url = receiver.url + "/ok"
            other = await due(pool, other_org, "other")
            await seed.destination(pool, vault, other_org, other, "webhook", url, {"url": url}, WEBHOOK_SECRET)
            other_due = time.monotonic()
            await tick(pool, redis, settings)
            [other_run] = await finished(pool, other, timeout=30)
            other_took = time.monotonic() - other_due
            [run] = await finished(pool, hostile, timeout=60)
            hostile_took = time.monotonic() - started
    finally:
        await receiver.stop()
    assert other_run["status"] == "sent" and len(receiver.deliveries("/ok")) == 1
    assert other_took < 5, other_took
    # Every hostile endpoint was waited on with a bounded wait: 1 + 3 inline retries on each of the 2 tries.
    assert run["status"] == "dead" and run["attempts"] == 2, run
    assert all(2 <= receiver.calls[p] <= 8 for p in HOSTILE), dict(receiver.calls)
    assert hostile_took < 40, hostile_took
    got = await outcomes(pool, run["id"])
    assert all(v["reason"] == "webhook: 429 Too Many Requests" for v in got.values()), got
