"""Per-test PostgreSQL databases cloned from a migrated template; per-test Redis databases."""

from __future__ import annotations

import asyncio
import itertools
import os
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from shared.migrate import migrate

_counter = itertools.count()


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def with_redis_db(url: str, db: int) -> str:
    parts = urlsplit(url)
    if parts.scheme == "unix":
        query = "&".join([q for q in parts.query.split("&") if q and not q.startswith("db=")] + [f"db={db}"])
        return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, ""))


class DatabaseFactory:
    """One migrated template per test session; each test gets a fresh copy of it."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.prefix = f"sr_{os.getpid()}"
        self.template = f"{self.prefix}_tmpl"

    async def _admin(self, sql: str) -> None:
        conn = await asyncpg.connect(self.admin_url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    async def create_template(self) -> str:
        await self._admin(f'DROP DATABASE IF EXISTS "{self.template}" WITH (FORCE)')
        await self._admin(f'CREATE DATABASE "{self.template}"')
        url = with_database(self.admin_url, self.template)
        await migrate(url)
        return url

    async def create(self) -> tuple[str, str]:
        name = f"{self.prefix}_{next(_counter)}"
        await self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        return name, with_database(self.admin_url, name)

    async def create_empty(self) -> tuple[str, str]:
        name = f"{self.prefix}_{next(_counter)}"
        await self._admin(f'CREATE DATABASE "{name}"')
        return name, with_database(self.admin_url, name)

    async def drop(self, name: str) -> None:
        await self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def drop_all_sync(self) -> None:
        async def go() -> None:
            conn = await asyncpg.connect(self.admin_url)
            try:
                names = await conn.fetch("SELECT datname FROM pg_database WHERE datname LIKE $1", self.prefix + "%")
                for row in names:
                    await conn.execute(f'DROP DATABASE IF EXISTS "{row["datname"]}" WITH (FORCE)')
            finally:
                await conn.close()

        asyncio.run(go())
