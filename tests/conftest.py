"""Fixtures of the integration and end-to-end tiers: real PostgreSQL and Redis (configured or embedded), isolated
per test, and the API in-process with the two organizations its tests work in. Each tier's own fixtures are in its
conftest.py; helpers (functions, classes, constants) are in tests/support/."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator

import hypothesis  # noqa: F401  (imported early: a late import at session end trips a CPython 3.11.7 AST bug)
import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient, TestServer
from arq.connections import ArqRedis

from devkit.embedded import ServiceUrls, services
from producer.app import create_app
from shared.db import Pool, create_pool
from shared.queue import connect as connect_redis
from shared.settings import Settings
from tests.support import seed
from tests.support.api import Api, World, token
from tests.support.databases import DatabaseFactory, with_redis_db

# The suite owns this Redis database number on a configured server, and flushes it per test.
TEST_REDIS_DB = int(os.environ.get("TEST_REDIS_DB", "9"))


@pytest.fixture(scope="session")
def service_urls() -> Iterator[ServiceUrls]:
    with services() as urls:
        yield urls


@pytest.fixture(scope="session")
def db_factory(service_urls: ServiceUrls) -> Iterator[DatabaseFactory]:
    factory = DatabaseFactory(service_urls.database_url)
    asyncio.run(factory.create_template())
    yield factory
    factory.drop_all_sync()


@pytest.fixture
async def database_url(db_factory: DatabaseFactory) -> AsyncIterator[str]:
    name, url = await db_factory.create()
    yield url
    await db_factory.drop(name)


@pytest.fixture
async def redis_url(service_urls: ServiceUrls) -> AsyncIterator[str]:
    url = with_redis_db(service_urls.redis_url, TEST_REDIS_DB)
    client = aioredis.from_url(url)
    await client.flushdb()
    yield url
    await client.flushdb()
    await client.aclose()


@pytest.fixture
def settings(database_url: str, redis_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        redis_url=redis_url,
        jwt_secret="test-secret-please-change-0123456789",
        loops_api_key="loops-test-key",
        loops_transactional_id="tx-report",
        telegram_bot_token="123456:TEST",
        # A test-only Fernet key for stored channel credentials.
        credentials_keys="nIdpv1qMO7s61rqzJoTqLOSkBQy8o1QISYMEAyqRdJc=",
        retry_base_seconds=0.2,
        retry_cap_seconds=1.0,
        sweep_grace_seconds=0,
        log_format="text",
    )


@pytest.fixture
async def pool(settings: Settings) -> AsyncIterator[Pool]:
    pool = await create_pool(settings.dsn, max_size=8)
    yield pool
    await pool.close()


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[ArqRedis]:
    client = await connect_redis(settings.redis_dsn)
    yield client
    await client.aclose()


@pytest.fixture
async def world(pool: Pool) -> World:
    w = World()
    w.org = await seed.organization(pool, "acme")
    w.owner = await seed.user(pool, "owner@acme.example", w.org, "owner")
    w.member = await seed.user(pool, "member@acme.example", w.org, "member")
    w.link = await seed.shared_link(pool, w.org, slug="acme-weekly", title="Acme Weekly")
    w.other_org = await seed.organization(pool, "globex")
    w.other_owner = await seed.user(pool, "owner@globex.example", w.other_org, "owner")
    w.other_link = await seed.shared_link(pool, w.other_org, slug="globex-weekly")
    return w


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[TestClient]:
    """The producer's app (API and console, no scheduler loop) in-process."""
    async with TestClient(TestServer(create_app(settings, run_scheduler=False))) as c:
        yield c


@pytest.fixture
def api(client: TestClient, world: World) -> Api:
    """The API as Acme's owner."""
    return Api(client, token(world.owner))
