"""devkit.databases, the one way tests, the demo and the bench get a database of their own."""

from __future__ import annotations

import asyncpg

from devkit.databases import drop_database, fresh_database, with_database
from shared.migrate import load_migrations
from tests.support.databases import DatabaseFactory


def test_another_database_on_the_same_server_keeps_its_options() -> None:
    # An embedded PostgreSQL is reached through a Unix socket given as ?host=.
    assert with_database("postgresql://postgres@/postgres?host=/tmp/sr-x", "other") == (
        "postgresql://postgres@/other?host=/tmp/sr-x"
    )
    assert with_database("postgresql://u:p@db:5432/app", "other") == "postgresql://u:p@db:5432/other"


async def test_a_fresh_database_is_recreated_migrated_and_dropped(db_factory: DatabaseFactory) -> None:
    server, name = db_factory.admin_url, f"{db_factory.prefix}_fresh"
    url = await fresh_database(server, name)
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("CREATE TABLE leftover (x int)")
    finally:
        await conn.close()

    assert await fresh_database(server, name) == url
    conn = await asyncpg.connect(url)
    try:
        assert await conn.fetchval("SELECT to_regclass('leftover')") is None
        assert await conn.fetchval("SELECT max(version) FROM schema_migrations") == load_migrations()[-1].version
    finally:
        await conn.close()

    await drop_database(server, name)
    conn = await asyncpg.connect(server)
    try:
        assert await conn.fetchval("SELECT count(*) FROM pg_database WHERE datname = $1", name) == 0
    finally:
        await conn.close()
