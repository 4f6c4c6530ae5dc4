"""A spool folder that runs out of space, for real (a 16 KiB tmpfs mounted as SPOOL_DIR): the operator's log
names the folder and SPOOL_DIR, the customer reads that the server ran out of disk space, nothing else."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from arq.connections import ArqRedis

from shared.db import Pool
from shared.settings import Settings
from tests.support.harness import Fakes, drain, point_at
from tests.support.runs import fire, make, run_row


@pytest.fixture
def full_spool(tmp_path: Path) -> Iterator[Path]:
    spool = tmp_path / "spool"
    spool.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(spool)], capture_output=True, check=False
    )
    if mounted.returncode != 0:
        pytest.skip("mounting a 16 KiB tmpfs as the spool needs root: run this test as root to make the disk full")
    try:
        yield spool
    finally:
        subprocess.run(["umount", "-l", str(spool)], check=False)


async def test_a_full_spool_names_the_folder_to_the_operator_and_disk_space_to_the_customer(
    pool: Pool,
    redis: ArqRedis,
    settings: Settings,
    fx: Fakes,
    full_spool: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    s = point_at(settings, fx, max_tries=2)
    await make(pool, videos=400)
    run_id = await fire(pool, redis, s)
    with caplog.at_level(logging.ERROR, logger="consumer.pipeline"):
        await drain(s, pool, redis, full_spool)
    run = await run_row(pool, run_id)
    assert (run["status"], run["attempts"]) == ("dead", 2)
    assert run["error"] == "retries exhausted: the server ran out of disk space while preparing the report"
    assert f"the spool folder {full_spool} (SPOOL_DIR) is full" in caplog.text
    [notice] = fx.loops.received
    assert "ran out of disk space while preparing the report" in notice["dataVariables"]["note"]
    assert "Errno" not in notice["dataVariables"]["note"] and str(full_spool) not in notice["dataVariables"]["note"]
    assert await asyncio.to_thread(os.listdir, full_spool) == [], "nothing left behind in the spool"
