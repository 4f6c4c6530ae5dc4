"""The pool releases connections without asyncpg's reset query; a transaction left open is still rolled back."""

from __future__ import annotations

from shared.db import create_pool
from shared.settings import Settings


async def test_a_transaction_left_open_is_rolled_back_on_release(settings: Settings) -> None:
    pool = await create_pool(settings.dsn, max_size=1)
    try:
        conn = await pool.acquire()
        await conn.execute("BEGIN")
        await conn.execute("CREATE TABLE left_open (id int)")
        await pool.release(conn)
        async with pool.acquire() as again:
            assert not again.is_in_transaction()
            assert await again.fetchval("SELECT to_regclass('left_open')") is None
            # Transaction-scoped settings end with their transaction, so nothing leaks to the next user.
            async with again.transaction():
                await again.execute("SET LOCAL statement_timeout = '1234ms'")
            assert await again.fetchval("SHOW statement_timeout") != "1234ms"
    finally:
        await pool.close()
