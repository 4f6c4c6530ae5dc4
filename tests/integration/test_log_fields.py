"""Every log line about a run carries its ids as JSON fields, not only inside the message text."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import orjson
from arq.connections import ArqRedis

from devkit.fakes.base import Action
from shared.db import Pool
from shared.logs import JsonFormatter
from shared.settings import Settings
from tests.support.harness import Fakes, drain, point_at
from tests.support.runs import fire, make


async def test_run_lines_carry_run_schedule_job_and_organization_ids(
    pool: Pool,
    redis: ArqRedis,
    settings: Settings,
    fx: Fakes,
    tmp_path: Path,
) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    level = root.level
    root.setLevel(logging.INFO)
    try:
        s = point_at(settings, fx)
        org, sched = await make(pool)
        fx.loops.fail_next(Action(500, {"success": False, "message": "boom"}))  # one retry: more lines
        run_id = await fire(pool, redis, s)
        await drain(s, pool, redis, tmp_path)
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    lines = [orjson.loads(line) for line in stream.getvalue().splitlines()]
    about = [line for line in lines if str(run_id) in line["msg"]]
    assert len(about) >= 2, lines
    job_id = await pool.fetchval("SELECT job_id FROM shared_report_runs WHERE id = $1", run_id)
    for line in about:
        assert line["run_id"] == str(run_id) and line["schedule_id"] == str(sched), line
        assert line["organization_id"] == str(org) and line["job_id"] == job_id, line
