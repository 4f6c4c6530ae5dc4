"""The lease a worker holds on a running run: renewed in the background, given up before it lapses."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from uuid import UUID

from consumer import metrics, queries
from shared.db import DB_ERRORS, Pool
from shared.errors import LeaseLost

log = logging.getLogger(__name__)
# Stop working once this share of the lease passed without a renewal: the sweep may soon hand it to another.
_GIVE_UP_SHARE = 0.8


def _loop_time(monotonic_deadline: float) -> float:
    """A time.monotonic() deadline on the event loop's clock (the one asyncio.timeout_at reads)."""
    return asyncio.get_running_loop().time() + (monotonic_deadline - time.monotonic())


async def _renew_once(pool: Pool, run_id: UUID, token: UUID, seconds: float) -> tuple[bool, float]:
    """Wait a third of the lease, then renew it, trying again each third while the database fails; returns
    whether the lease is still ours and when the successful attempt started."""
    while True:
        await asyncio.sleep(seconds / 3)
        started = time.monotonic()
        try:
            renewed = await pool.fetchval(queries.RENEW_LEASE, run_id, token, seconds)
        except DB_ERRORS as exc:
            log.warning("could not renew the lease of run %s: %s", run_id, type(exc).__name__)
            continue
        return bool(renewed), started


@contextlib.asynccontextmanager
async def held(pool: Pool, run_id: UUID, token: UUID, seconds: float) -> AsyncIterator[None]:
    task = asyncio.current_task()
    assert task is not None
    lost: list[str] = []

    async def renew() -> None:
        # Measured from the start of the last renewal that succeeded: the lease runs from the database's clock
        # then, so giving up at this point leaves the other 20 % of it before the sweep may hand the run on.
        last_ok = time.monotonic()
        while True:
            try:
                async with asyncio.timeout_at(_loop_time(last_ok + seconds * _GIVE_UP_SHARE)):
                    renewed, started = await _renew_once(pool, run_id, token, seconds)
            except TimeoutError:
                lost.append(f"lease not renewed for {time.monotonic() - last_ok:.0f} s (database unreachable)")
                task.cancel()
                return
            if renewed:
                last_ok = started
                continue
            lost.append("the lease was taken back (it had expired)")
            task.cancel()
            return

    renewer = asyncio.create_task(renew())
    try:
        yield
    except asyncio.CancelledError:
        if not lost:
            raise
        task.uncancel()
        metrics.LEASES_LOST.inc()
        raise LeaseLost(lost[0]) from None
    finally:
        renewer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await renewer
