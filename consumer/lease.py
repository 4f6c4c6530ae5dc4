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

log = logging.getLogger(__name__)
# Stop working once this share of the lease passed without a renewal: the sweep may soon hand it to another.
_GIVE_UP_SHARE = 0.8


class LeaseLost(Exception):
    """Another worker may now hold the run; this one must stop before it sends anything more."""


@contextlib.asynccontextmanager
async def held(pool: Pool, run_id: UUID, token: UUID, seconds: float) -> AsyncIterator[None]:
    task = asyncio.current_task()
    assert task is not None
    lost: list[str] = []

    async def renew() -> None:
        last_ok = time.monotonic()
        while True:
            await asyncio.sleep(seconds / 3)
            try:
                renewed = await asyncio.wait_for(
                    pool.fetchval(queries.RENEW_LEASE, run_id, token, seconds), seconds / 3
                )
            except DB_ERRORS as exc:
                renewed = None
                log.warning("could not renew the lease of run %s: %s", run_id, type(exc).__name__)
                if time.monotonic() - last_ok < seconds * _GIVE_UP_SHARE:
                    continue
                lost.append(f"lease not renewed for {time.monotonic() - last_ok:.0f} s (database unreachable)")
            if renewed:
                last_ok = time.monotonic()
                continue
            if not lost:
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
