"""The database's clock: instants compared with stored ones (due times, windows, cursors) come from PostgreSQL,
so a process whose own clock drifts never disagrees with the rows it reads."""

from __future__ import annotations

from datetime import datetime

from shared.db import Connection, Pool


async def db_now(conn: Pool | Connection) -> datetime:
    value: datetime = await conn.fetchval("SELECT now()")
    return value
