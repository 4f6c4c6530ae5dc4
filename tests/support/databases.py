"""Per-test PostgreSQL databases cloned from a migrated template; per-test Redis databases."""

from __future__ import annotations

import asyncio
import itertools
import os
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from devkit.databases import create_database, drop_database, fresh_database

_counter = itertools.count()


def with_redis_db(url: str, db: int) -> str:
    parts = urlsplit(url)
    if parts.scheme == "unix":
        query = "&".join([q for q in parts.query.split("&") if q and not q.startswith("db=")] + [f"db={db}"])
        return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, ""))


class DatabaseFactory:
    """One migrated template per test session; each test gets a fresh copy of it (copying is much faster than
    migrating)."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.prefix = f"sr_{os.getpid()}"
        self.template = f"{self.prefix}_tmpl"

    async def create_template(self) -> str:
        return await fresh_database(self.admin_url, self.template)

    async def create(self) -> tuple[str, str]:
        name = f"{self.prefix}_{next(_counter)}"
        return name, await create_database(self.admin_url, name, template=self.template)

    async def create_empty(self) -> tuple[str, str]:
        name = f"{self.prefix}_{next(_counter)}"
        return name, await create_database(self.admin_url, name)

    async def drop(self, name: str) -> None:
        await drop_database(self.admin_url, name)

    def drop_all_sync(self) -> None:
        async def go() -> None:
            conn = await asyncpg.connect(self.admin_url)
            try:
                names = await conn.fetch("SELECT datname FROM pg_database WHERE datname LIKE $1", self.prefix + "%")
            finally:
                await conn.close()
            for row in names:
                await drop_database(self.admin_url, row["datname"])

        asyncio.run(go())
