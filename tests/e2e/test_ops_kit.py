"""The operations kit: alert rules pass promtool's checks and unit tests, the dashboard is well formed, and
every metric it (and the rules) query is exposed by a running producer or consumer process."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

import aiohttp
import pytest

from shared.settings import Settings
from tests.support.processes import env_for, start
from tests.support.servers import free_port
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
DASHBOARD = ROOT / "deploy" / "grafana" / "scheduled-reports.json"
METRIC = re.compile(r"\b(scheduled_reports_[a-z_]+?)(?:_bucket|_sum|_count)?\b(?=[^a-z_]|$)")
PANEL_TYPES = {"timeseries", "stat", "gauge", "table", "bargauge", "text", "row"}


def _promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        if os.environ.get("CI"):
            raise AssertionError("promtool is missing; .ci/run installs Debian's prometheus package")
        pytest.skip("promtool is not installed (apt-get install prometheus); CI installs it")
    return found


@pytest.mark.parametrize(
    "args",
    [("check", "rules", "alerts.yml"), ("test", "rules", "alerts_test.yml"), ("check", "config", "prometheus.yml")],
)
def test_promtool(args: tuple[str, ...]) -> None:
    result = subprocess.run([_promtool(), *args], cwd=PROMETHEUS, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


def dashboard_metrics() -> set[str]:
    board = json.loads(DASHBOARD.read_text())
    assert board["uid"] and board["title"] and isinstance(board["schemaVersion"], int)
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids)), "panel ids are unique"
    names: set[str] = set()
    for panel in board["panels"]:
        assert panel["type"] in PANEL_TYPES and panel["title"], panel
        assert {"h", "w", "x", "y"} <= set(panel["gridPos"]) and 0 < panel["gridPos"]["w"] <= 24
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["refId"] and target["expr"], panel["title"]
            found = METRIC.findall(target["expr"])
            assert found, (panel["title"], target["expr"])
            names.update(found)
    return names


def rule_metrics() -> set[str]:
    return set(METRIC.findall((PROMETHEUS / "alerts.yml").read_text()))


async def test_every_queried_metric_is_exposed_by_a_running_process(settings: Settings, tmp_path: Path) -> None:
    wanted = dashboard_metrics() | rule_metrics()
    ports = {"producer": free_port(), "consumer": free_port()}
    env = env_for(
        settings,
        PRODUCER_HOST="127.0.0.1",
        PRODUCER_PORT=str(ports["producer"]),
        CONSUMER_HOST="127.0.0.1",
        CONSUMER_PORT=str(ports["consumer"]),
        SPOOL_DIR=str(tmp_path),
    )
    processes = [await start("producer", env), await start("consumer", env)]
    exposed = ""
    try:
        async with aiohttp.ClientSession() as session:
            for port in ports.values():

                async def up(port: int = port) -> bool:
                    try:
                        async with session.get(f"http://127.0.0.1:{port}/healthz") as r:
                            return r.status == 200
                    except aiohttp.ClientError:
                        return False

                await wait_for(up, 30, interval=0.2)
                async with session.get(f"http://127.0.0.1:{port}/metrics") as r:
                    exposed += await r.text()
    finally:
        for p in processes:
            p.send_signal(signal.SIGTERM)
        for p in processes:
            await asyncio.wait_for(p.communicate(), 30)
    families = {line.split()[2] for line in exposed.splitlines() if line.startswith("# TYPE ")}
    # A counter's family is named without _total in the TYPE line; its samples carry it.
    known = families | {f"{name}_total" for name in families}
    missing = sorted(name for name in wanted if name not in known)
    assert not missing, missing
    assert len(wanted) >= 20
