"""Every entry point starts quietly (no library warning text before its own output, even under `-W error`), a
setting error is one line, and a busy port stops the process before it claims or runs anything."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from shared.db import Pool
from shared.settings import Settings
from tests.support import seed
from tests.support.processes import env_for

pytestmark = pytest.mark.e2e

# Variables that could make a child find settings this test does not give it.
_SETTING_NAMES = ("DATABASE_URL", "REDIS_URL", "JWT_SECRET", "JWT_PUBLIC_KEY", "JWT_JWKS_URL", "LOOPS_API_KEY")


async def run(args: list[str], env: dict[str, str], timeout: float = 60) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-W", "error", *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def bare_env(tmp: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SETTING_NAMES}
    env["PYTHONWARNINGS"] = "error"
    # No .env file of the developer's may fill in what the test leaves out.
    env["HOME"] = tmp
    return env


@pytest.mark.parametrize(
    "args",
    [
        ["-m", "producer", "--help"],
        ["-m", "consumer", "--help"],
        ["-m", "demo", "--help"],
        # Every product module that speaks SSH, imported for real: cryptography's DSA deprecation stays silent.
        ["-c", "import producer.app, consumer.worker, consumer.channels.sftp as s; s._refused(); print('ok')"],
    ],
)
async def test_entry_points_print_no_library_warning(args: list[str], tmp_path: os.PathLike[str]) -> None:
    code, out, err = await run(args, bare_env(str(tmp_path)))
    assert code == 0, err
    assert err == ""
    assert out.strip()


def test_the_image_commands_run() -> None:
    # The image's commands (deploy/Dockerfile, tests/unit/test_deploy.py): python -m producer | consumer.
    for module in ("producer", "consumer"):
        out = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True, check=True)
        assert "usage: python -m " + module in out.stdout
    out = subprocess.run(
        [sys.executable, "-m", "producer", "migrate", "--help"], capture_output=True, text=True, check=True
    )
    assert "migrate" in out.stdout


@pytest.mark.parametrize(("module", "missing"), [("producer", "DATABASE_URL"), ("consumer", "DATABASE_URL")])
async def test_a_missing_setting_is_exactly_one_line(module: str, missing: str, tmp_path: os.PathLike[str]) -> None:
    code, out, err = await run(["-m", module], bare_env(str(tmp_path)))
    assert code == 2
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"{module}: ") and missing in lines[0]


def busy_port() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


@pytest.mark.parametrize(("module", "setting"), [("producer", "PRODUCER_PORT"), ("consumer", "CONSUMER_PORT")])
async def test_a_busy_port_stops_the_process_before_any_work(
    module: str, setting: str, pool: Pool, settings: Settings
) -> None:
    org = await seed.organization(pool)
    link = await seed.shared_link(pool, org)
    due = datetime.now(UTC) - timedelta(minutes=1)
    sched = await seed.schedule(pool, org, link, next_run_at=due)
    await seed.recipient(pool, sched, email="a@example.com")
    before = await pool.fetchrow("SELECT next_run_at, updated_at FROM shared_report_schedules WHERE id = $1", sched)
    with busy_port() as taken:
        port = taken.getsockname()[1]
        host = "PRODUCER_HOST" if module == "producer" else "CONSUMER_HOST"
        env = env_for(settings, **{setting: str(port), host: "127.0.0.1", "LOG_FORMAT": "json"})
        code, out, err = await run(["-m", module], env)
    assert code == 2, err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert setting in lines[0] and str(port) in lines[0]
    assert "Traceback" not in err
    assert await pool.fetchval("SELECT count(*) FROM shared_report_runs") == 0
    after = await pool.fetchrow("SELECT next_run_at, updated_at FROM shared_report_schedules WHERE id = $1", sched)
    assert after == before
