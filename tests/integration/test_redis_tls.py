"""A TLS Redis (rediss://) with a certificate from a private CA, named by REDIS_CA_FILE: a real redis-server
started here with a test certificate; a run is enqueued, consumed and sent over it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from shared.db import Pool
from shared.errors import QueueError
from shared.queue import connect, queue_depth
from shared.settings import Settings
from tests.support.harness import Fakes, drain, point_at
from tests.support.runs import fire, make, run_row
from tests.support.servers import TlsRedis


@pytest.fixture
def tls_redis(tmp_path: Path) -> Iterator[TlsRedis]:
    server = TlsRedis(tmp_path)
    server.start()
    yield server
    server.kill()


async def test_a_run_is_sent_through_a_tls_redis_trusted_by_redis_ca_file(
    pool: Pool, settings: Settings, tls_redis: TlsRedis, fx: Fakes, tmp_path: Path
) -> None:
    s = point_at(settings, fx).model_copy(update={"redis_url": SecretStr(tls_redis.url), "redis_ca_file": tls_redis.ca})
    with pytest.raises(QueueError, match="REDIS_CA_FILE"):
        await connect(s.redis_dsn)  # the system does not trust the test CA
    redis = await connect(s.redis_dsn, **s.redis_options)
    try:
        await make(pool, chats=(7,))
        run_id = await fire(pool, redis, s)
        assert await queue_depth(redis, s.queue_name) == 1
        await drain(s, pool, redis, tmp_path)
    finally:
        await redis.aclose()
    assert (await run_row(pool, run_id))["status"] == "sent"
    assert len(fx.telegram.documents(7)) == 1
