"""A worker that cannot renew its lease gives it up at 80 % of LEASE_SECONDS, as the README says: measured
against a PostgreSQL this test owns and stops."""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import pytest

from consumer import lease
from shared.db import create_pool
from shared.migrate import migrate
from tests.support import seed
from tests.support.servers import OwnPostgres


async def test_the_lease_is_given_up_at_80_percent_when_the_database_is_gone(tmp_path: Path) -> None:
    pg = OwnPostgres()
    try:
        await migrate(pg.url)
        pool = await create_pool(pg.url, max_size=2)
        try:
            org = await seed.organization(pool)
            link = await seed.shared_link(pool, org, slug="lease")
            schedule = await seed.schedule(pool, org, link, next_run_at=datetime.now(UTC) + timedelta(days=1))
            token, seconds = uuid4(), 3.0
            run_id = await pool.fetchval(
                "INSERT INTO shared_report_runs (schedule_id, fire_at, trigger, status, lease_token, "
                "lease_expires_at, attempts) VALUES ($1, now(), 'manual', 'running', $2, "
                "now() + make_interval(secs => $3), 1) RETURNING id",
                schedule,
                token,
                seconds,
            )
            started = time.monotonic()
            with pytest.raises(lease.LeaseLost, match="database unreachable"):
                async with lease.held(pool, run_id, token, seconds):
                    pg.stop()
                    await asyncio.sleep(seconds * 2)
            gave_up = time.monotonic() - started
        finally:
            with contextlib.suppress(Exception):
                pool.terminate()
    finally:
        pg.close()
    # 80 % of 3 s is 2.4 s; stopping the server takes a moment of it.
    assert seconds * 0.8 - 0.1 <= gave_up <= seconds * 0.8 + 0.4, gave_up
    print(f"lease given up {gave_up:.2f} s after the claim (lease {seconds} s)")
