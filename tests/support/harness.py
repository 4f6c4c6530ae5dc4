"""Run real consumer jobs in-process against the fakes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from arq.connections import ArqRedis

from consumer.deps import Deps
from consumer.worker import build_worker, dependencies
from devkit.fakes.loops import FakeLoops
from devkit.fakes.telegram import FakeTelegram
from shared.db import Pool
from shared.settings import Settings


@dataclass
class Fakes:
    loops: FakeLoops
    telegram: FakeTelegram


@asynccontextmanager
async def fakes(tmp_path: Path, *, enforce_limits: bool = False) -> AsyncIterator[Fakes]:
    loops = FakeLoops(rate_per_second=10 if enforce_limits else None)
    telegram = FakeTelegram(enforce_limits=enforce_limits)
    await loops.start()
    await telegram.start()
    try:
        yield Fakes(loops, telegram)
    finally:
        await loops.stop()
        await telegram.stop()


def point_at(settings: Settings, f: Fakes, **extra: object) -> Settings:
    return settings.model_copy(
        update={
            "loops_api_url": f.loops.url,
            "telegram_api_url": f.telegram.url,
            "telegram_chat_interval_seconds": 0,
            "telegram_group_interval_seconds": 0,
            **extra,
        }
    )


async def drain(settings: Settings, pool: Pool, redis: ArqRedis, spool: Path) -> int:
    """Run the worker until the queue is empty (retries included); returns jobs completed."""
    async with dependencies(settings.model_copy(update={"spool_dir": spool}), pool, redis) as deps:
        worker = build_worker(settings, redis, deps, handle_signals=False, burst=True)
        await worker.main()
        done: int = worker.jobs_complete
        return done


__all__ = ["Deps", "Fakes", "drain", "fakes", "point_at"]
