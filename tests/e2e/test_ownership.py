"""Ownership: a schedule handed to another member, and failure notices that reach someone when its owner is gone,
through the API and a real consumer process."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest

from shared.db import Pool
from shared.settings import Settings
from tests.support import seed
from tests.support.api import Api, World, body
from tests.support.harness import fakes
from tests.support.outcomes import final_run as _final
from tests.support.processes import env_for, start

pytestmark = pytest.mark.e2e


async def test_failure_notices_follow_the_owner_then_reach_the_admins(
    api: Api, world: World, pool: Pool, settings: Settings, tmp_path: Path
) -> None:
    admin = await seed.user(pool, "admin@acme.example", world.org, "admin")
    status, created = await api.call("POST", "/v1/schedules", body(world))
    assert status == 201 and created["created_by"] == str(world.owner)
    sid = created["id"]
    # Every run of this schedule fails: its link is revoked.
    await pool.execute("UPDATE shared_links SET revoked_at = now() WHERE id = $1", world.link)

    async def notices_after_a_failed_run() -> list[str]:
        before = len(fx.loops.sent)
        status, accepted = await api.call("POST", f"/v1/schedules/{sid}/run")
        assert status == 202, accepted
        assert (await _final(pool, accepted["run_id"]))["status"] == "failed"

        async def arrived() -> bool:
            return await pool.fetchval(
                "SELECT notice_sent_at IS NOT NULL FROM shared_report_runs WHERE id = $1::uuid", accepted["run_id"]
            )

        for _ in range(100):
            if await arrived():
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # the notice is sent right after it is claimed
        return sorted(m["email"] for m in fx.loops.sent[before:])

    async with fakes(tmp_path) as fx:
        env = env_for(settings, LOOPS_API_URL=fx.loops.url, CONSUMER_PORT="0", SPOOL_DIR=str(tmp_path / "spool"))
        consumer = await start("consumer", env)
        try:
            assert await notices_after_a_failed_run() == ["owner@acme.example"]

            # Handed to a member: the notice follows.
            status, handed = await api.call("POST", f"/v1/schedules/{sid}/owner", {"user_id": str(world.member)})
            assert status == 200 and handed["created_by"] == str(world.member), handed
            assert await notices_after_a_failed_run() == ["member@acme.example"]

            # The member leaves the organization: the owners and admins hear about it instead.
            await pool.execute("DELETE FROM organization_members WHERE user_id = $1", world.member)
            assert await notices_after_a_failed_run() == ["admin@acme.example", "owner@acme.example"]

            # Handed to the admin, whose user is then removed altogether (created_by becomes NULL).
            assert (await api.call("POST", f"/v1/schedules/{sid}/owner", {"user_id": str(admin)}))[0] == 200
            assert await notices_after_a_failed_run() == ["admin@acme.example"]
            await pool.execute("DELETE FROM users WHERE id = $1", admin)
            _, orphan = await api.call("GET", f"/v1/schedules/{sid}")
            assert orphan["created_by"] is None
            assert await notices_after_a_failed_run() == ["owner@acme.example"]
        finally:
            consumer.send_signal(signal.SIGTERM)
            _, err = await asyncio.wait_for(consumer.communicate(), 30)
        assert consumer.returncode == 0, err.decode()[-2000:]
