"""Databases of their own on a PostgreSQL server, for the tests, the demo and the bench: a fresh migrated one from
the server's URL, a copy of a template, and dropping them. Each works on its own database and leaves the others on
the server untouched."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import asyncpg

from shared.migrate import migrate


def with_database(url: str, name: str) -> str:
    """The same server and options, another database."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


async def _on_server(server_url: str, sql: str) -> None:
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def create_database(server_url: str, name: str, *, template: str | None = None) -> str:
    """A new empty database (or a copy of `template`); returns its URL."""
    copy = f' TEMPLATE "{template}"' if template else ""
    await _on_server(server_url, f'CREATE DATABASE "{name}"{copy}')
    return with_database(server_url, name)


async def drop_database(server_url: str, name: str) -> None:
    """Drops the database if it exists, closing its open connections."""
    await _on_server(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def fresh_database(server_url: str, name: str) -> str:
    """The database `name` recreated empty and migrated to the current schema; returns its URL."""
    await drop_database(server_url, name)
    url = await create_database(server_url, name)
    await migrate(url)
    return url
