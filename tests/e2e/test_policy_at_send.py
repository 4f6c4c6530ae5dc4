"""A recipient that a later destination policy forbids is not sent to: checked through the API and a real
consumer process."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest

from shared.db import Pool
from shared.settings import Settings
from tests.support.api import Api, World, body
from tests.support.harness import fakes
from tests.support.outcomes import final_run as _final
from tests.support.processes import env_for, start
from tests.support.reports import video

pytestmark = pytest.mark.e2e


async def test_a_later_policy_blocks_at_send(
    api: Api, world: World, pool: Pool, settings: Settings, tmp_path: Path
) -> None:
    await video(pool, world.org, title="only video")
    team = [
        {"channel": "email", "email": "team@acme.example"},
        {"channel": "email", "email": "partner@outside.example"},
        {"channel": "telegram", "telegram_chat_id": 777},
    ]
    status, created = await api.call("POST", "/v1/schedules", body(world, recipients=team, send_telegram=True))
    assert status == 201, created
    sid = created["id"]
    # The policy comes after the recipients were accepted.
    policy = {"allowed_email_domains": ["acme.example"], "allow_telegram": False}
    status, saved = await api.call("PUT", f"/v1/organizations/{world.org}/policy", policy)
    assert status == 200, saved
    async with fakes(tmp_path) as fx:
        env = env_for(
            settings,
            LOOPS_API_URL=fx.loops.url,
            TELEGRAM_API_URL=fx.telegram.url,
            CONSUMER_PORT="0",
            SPOOL_DIR=str(tmp_path / "spool"),
        )
        consumer = await start("consumer", env)
        try:
            status, accepted = await api.call("POST", f"/v1/schedules/{sid}/run")
            assert status == 202, accepted
            run = await _final(pool, accepted["run_id"])
            # The one recipient left was served: the run is sent, not partial.
            assert run["status"] == "sent", run
            assert [m["email"] for m in fx.loops.sent] == ["team@acme.example"]
            assert fx.telegram.requests == 0
            _, history = await api.call("GET", f"/v1/schedules/{sid}/runs")
            log = {n["recipient"]: n for n in history["items"][0]["notifications"]}
            assert log["team@acme.example"]["status"] == "sent"
            for blocked, rule in (("partner@outside.example", "allowed_email_domains"), ("777", "allow_telegram")):
                assert log[blocked]["status"] == "blocked_by_policy", log
                assert rule in log[blocked]["payload"]["reason"]

            # Nobody left: the run is skipped, and says why.
            policy = {"allowed_email_domains": ["nowhere.example"], "allow_telegram": False}
            assert (await api.call("PUT", f"/v1/organizations/{world.org}/policy", policy))[0] == 200
            status, accepted = await api.call("POST", f"/v1/schedules/{sid}/run")
            run = await _final(pool, accepted["run_id"])
            assert run["status"] == "skipped" and "destination policy" in run["error"], run
            assert len(fx.loops.sent) == 1
        finally:
            consumer.send_signal(signal.SIGTERM)
            _, err = await asyncio.wait_for(consumer.communicate(), 30)
        assert consumer.returncode == 0, err.decode()[-2000:]
