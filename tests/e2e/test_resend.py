"""Resend and run-now to any recipient kind, through the API and a real consumer process."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from uuid import UUID

import pytest
from arq.connections import ArqRedis

from devkit.fakes.webhook import WebhookReceiver
from shared.db import Pool
from shared.settings import Settings
from tests.support import seed
from tests.support.api import Api, World, body
from tests.support.destinations import WEBHOOK_SECRET
from tests.support.harness import Fakes, fakes
from tests.support.outcomes import cron_fire as _fire
from tests.support.outcomes import final_run as _final
from tests.support.outcomes import outcomes
from tests.support.processes import env_for, start
from tests.support.reports import video

pytestmark = pytest.mark.e2e


def reports(fx: Fakes) -> list[dict[str, object]]:
    # The report's own emails; the creator's failure notice goes by email too.
    return [m for m in fx.loops.sent if m["email"] == "a@acme.example"]


async def test_a_partial_runs_resend_serves_only_the_missed_webhook(
    api: Api, world: World, pool: Pool, redis: ArqRedis, settings: Settings, tmp_path: Path
) -> None:
    await video(pool, world.org, title="resend video")
    status, created = await api.call("POST", "/v1/schedules", body(world))
    assert status == 201, created
    sid = UUID(created["id"])
    receiver = WebhookReceiver(WEBHOOK_SECRET)
    await receiver.start()
    hooks = {}
    for path in ("/ok", "/flaky"):
        url = receiver.url + path
        hooks[path] = await seed.destination(pool, settings.vault(), world.org, sid, "webhook", url, {"url": url},
                                             WEBHOOK_SECRET)  # fmt: skip
    receiver.always["/flaky"] = 400  # refused for good in the first run
    async with fakes(tmp_path) as fx:
        env = env_for(
            settings,
            LOOPS_API_URL=fx.loops.url,
            CONSUMER_PORT="0",
            OUTBOUND_ALLOW_PRIVATE="true",
            SPOOL_DIR=str(tmp_path / "spool"),
        )
        consumer = await start("consumer", env)
        try:
            first = await _final(pool, await _fire(pool, redis, settings, str(sid), 0))
            assert first["status"] == "partial", first["error"]
            assert first["error"] == "1 of 3 recipient(s) failed permanently"
            assert len(receiver.deliveries("/ok")) == 1 and len(reports(fx)) == 1

            del receiver.always["/flaky"]
            status, accepted = await api.call("POST", f"/v1/runs/{first['id']}/resend")
            assert status == 202, accepted
            again = await _final(pool, accepted["run_id"])
            assert (again["status"], again["trigger"], again["origin_run_id"]) == ("sent", "replay", first["id"])
            # Only the missed webhook was served: no second email, no second /ok delivery.
            assert len(receiver.deliveries("/flaky")) == 1 and len(receiver.deliveries("/ok")) == 1
            assert len(reports(fx)) == 1
            assert list(await outcomes(pool, again["id"])) == [receiver.url + "/flaky"]
            assert receiver.deliveries("/flaky")[0]["sha256"] == receiver.deliveries("/ok")[0]["sha256"]
            status, error = await api.call("POST", f"/v1/runs/{again['id']}/resend")
            assert status == 409 and "this one is sent" in error["error"]["message"]

            # A test run to one stored destination only.
            status, test = await api.call(
                "POST",
                f"/v1/schedules/{sid}/run",
                {"recipients": [{"channel": "webhook", "destination_id": str(hooks["/ok"])}]},
            )
            assert status == 202, test
            assert (await _final(pool, test["run_id"]))["status"] == "sent"
            assert len(receiver.deliveries("/ok")) == 2 and len(receiver.deliveries("/flaky")) == 1
            assert len(reports(fx)) == 1
            _, schedule = await api.call("GET", f"/v1/schedules/{sid}")
            assert schedule["last_run_status"] == "partial", "neither the resend nor the test run is the last status"
        finally:
            consumer.send_signal(signal.SIGTERM)
            _, err = await asyncio.wait_for(consumer.communicate(), 30)
            await receiver.stop()
        assert consumer.returncode == 0, err.decode()[-2000:]
        assert WEBHOOK_SECRET not in err.decode()
