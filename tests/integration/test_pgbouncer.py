"""DATABASE_URL through a real PgBouncer in transaction mode (started here, on a free port, in front of the test
PostgreSQL, with fewer server connections than clients), DIRECT_DATABASE_URL straight to PostgreSQL: migrate,
the scheduler's tick and LISTEN, a run sent, and the API."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer
from arq.connections import ArqRedis
from pydantic import SecretStr

from producer.app import create_app
from shared.db import create_pool
from shared.settings import Settings
from tests.support.api import token
from tests.support.harness import Fakes, drain, point_at
from tests.support.processes import env_for, run_module
from tests.support.runs import make
from tests.support.servers import OwnPgBouncer, pgbouncer_binary
from tests.support.waiting import wait_for

pytestmark = pytest.mark.skipif(
    pgbouncer_binary() is None, reason="pgbouncer is not installed: apt-get install -y pgbouncer"
)


@pytest.fixture
def bouncer(settings: Settings) -> Iterator[OwnPgBouncer]:
    server = OwnPgBouncer(settings.dsn, pool_size=3)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def pooled(settings: Settings, bouncer: OwnPgBouncer) -> Settings:
    database = urlsplit(settings.dsn).path.lstrip("/")
    return settings.model_copy(
        update={
            "database_url": SecretStr(bouncer.url(database)),
            "direct_database_url": SecretStr(settings.dsn),
            "tick_seconds": 0.2,
        }
    )


async def test_named_prepared_statements_break_behind_the_pooler_and_the_pooled_pool_does_not(
    pooled: Settings,
) -> None:
    """The control: with asyncpg's statement cache on, statements prepared on one server connection are
    executed on another; with DIRECT_DATABASE_URL set, the pooled pool keeps none and the same load passes."""
    pool = await create_pool(pooled.dsn, max_size=8, statement_cache=True)
    try:
        results = await asyncio.gather(
            *(pool.fetchval("SELECT $1::int FROM pg_sleep(0.01)", i) for i in range(200)),
            return_exceptions=True,
        )
    finally:
        await pool.close()
    assert any(isinstance(r, asyncpg.InvalidSQLStatementNameError) for r in results), results[:3]
    pool = await create_pool(pooled.dsn, max_size=8, statement_cache=pooled.statement_cache)
    try:
        answers = await asyncio.gather(*(pool.fetchval("SELECT $1::int FROM pg_sleep(0.01)", i) for i in range(200)))
    finally:
        await pool.close()
    assert answers == list(range(200))


async def test_migrate_tick_send_and_api_through_a_transaction_pooler(
    pooled: Settings, redis: ArqRedis, fx: Fakes, tmp_path: Path
) -> None:
    env = env_for(pooled, DIRECT_DATABASE_URL=pooled.direct_dsn)
    code, text = await run_module("producer", "migrate", env=env)
    assert code == 0 and "schema is up to date" in text, text
    s = point_at(pooled, fx)
    pool = await create_pool(s.dsn, max_size=8, statement_cache=s.statement_cache)
    try:
        org, schedule = await make(pool, chats=(42,))
        creator = await pool.fetchval("SELECT created_by FROM shared_report_schedules WHERE id = $1", schedule)
        # The producer app with its scheduler: ticks through the pooler, LISTENs on the direct URL.
        async with TestClient(TestServer(create_app(s))) as client:

            async def enqueued() -> bool:
                return bool(
                    await pool.fetchval("SELECT count(*) FROM shared_report_runs WHERE enqueued_at IS NOT NULL")
                )

            await wait_for(enqueued, 20)
            listening = await pool.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'LISTEN%' AND datname = current_database()"
            )
            assert listening == 1, "the scheduler listens on its direct connection"
            await drain(s, pool, redis, tmp_path)
            headers = {"Authorization": f"Bearer {token(creator)}"}
            async with client.get(f"/v1/schedules/{schedule}/runs", headers=headers) as response:
                assert response.status == 200, await response.text()
                runs = (await response.json())["items"]
        assert [r["status"] for r in runs] == ["sent"]
        assert len(fx.telegram.documents(42)) == 1 and len(fx.loops.sent) == 1
    finally:
        await pool.close()
