"""PostgreSQL access: one pool factory, JSON codecs, and the boundary where driver errors are wrapped."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any, TypeAlias

import asyncpg
import orjson

from shared.errors import DatabaseError

# asyncpg ships no type information; these aliases name what a value is.
Pool: TypeAlias = Any
Connection: TypeAlias = Any
Record: TypeAlias = Any

# Errors that mean "the database is unavailable right now", as opposed to a bad statement.
TRANSIENT_DB_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.SerializationError,
    asyncpg.exceptions.DeadlockDetectedError,
    # Raised when a connection breaks mid-protocol ("cannot switch to state ..."): the server went away.
    asyncpg.exceptions.InternalClientError,
    TimeoutError,
)
# Everything the driver may raise, for loops that must survive any database trouble.
DB_ERRORS: tuple[type[BaseException], ...] = (*TRANSIENT_DB_ERRORS, asyncpg.PostgresError)


async def _init_connection(conn: Connection) -> None:
    for kind in ("json", "jsonb"):
        await conn.set_type_codec(
            kind,
            encoder=lambda value: orjson.dumps(value).decode(),
            decoder=orjson.loads,
            schema="pg_catalog",
        )


async def _no_session_state(conn: Connection) -> None:
    """Pool connections carry no session state (every SET is LOCAL or per transaction; the migrations' advisory
    lock and the scheduler's notification listener use connections of their own, as
    tests/unit/test_pool_session_state.py checks), so the reset query asyncpg sends on every release, one more
    round trip each time (0.26 ms of a 0.59 ms pooled query here), is left out. The pool still rolls back a
    transaction left open."""


# The intent written before each send (docs/delivery.md) must survive a server crash once acknowledged.
_SYNCHRONOUS_COMMIT = "SELECT current_setting('synchronous_commit')"


async def commit_durability_warning(pool: Pool) -> str | None:
    """A warning when this database acknowledges commits before they are durable (synchronous_commit = off):
    a crash of the server could then lose an intent row the worker relied on, and a report sent again would go
    uncounted. None when commits are durable."""
    value = str(await pool.fetchval(_SYNCHRONOUS_COMMIT))
    if value != "off":
        return None
    return (
        "synchronous_commit is off for this database: a PostgreSQL crash can lose commits it already "
        "acknowledged, such as the intent written before each send, and a report sent again would not be "
        "counted as unconfirmed; set synchronous_commit = on for this database or role (see docs/delivery.md)"
    )


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 10, statement_cache: bool = True) -> Pool:
    """`statement_cache` False: no named prepared statements, which a transaction-mode pooler (PgBouncer,
    Supabase's pooler) may route to a server connection that never saw them; asyncpg's unnamed statements keep
    Parse and Bind in one exchange, so they stay on one server connection."""
    try:
        pool = await asyncpg.create_pool(
            dsn,
            min_size=min_size,
            max_size=max_size,
            statement_cache_size=100 if statement_cache else 0,
            init=_init_connection,
            reset=_no_session_state,
            command_timeout=60,
        )
    except (*TRANSIENT_DB_ERRORS, asyncpg.PostgresError) as exc:
        raise DatabaseError(f"cannot connect to PostgreSQL (DATABASE_URL): {exc}") from exc
    assert pool is not None
    return pool


async def connect(dsn: str) -> Connection:
    try:
        conn: Connection = await asyncpg.connect(dsn)
    except (*TRANSIENT_DB_ERRORS, asyncpg.PostgresError) as exc:
        raise DatabaseError(f"cannot connect to PostgreSQL (DATABASE_URL): {exc}") from exc
    await _init_connection(conn)
    return conn


@contextlib.asynccontextmanager
async def pool_context(dsn: str, **kwargs: Any) -> AsyncIterator[Pool]:
    pool = await create_pool(dsn, **kwargs)
    try:
        yield pool
    finally:
        await pool.close()
