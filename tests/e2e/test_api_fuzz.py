"""Schema-driven fuzzing of the running producer with schemathesis, bounded in examples and time."""

from __future__ import annotations

import asyncio
import shutil
import signal
import socket
import sys
from pathlib import Path

import pytest

from shared.db import Pool
from shared.settings import Settings
from tests.support import seed
from tests.support.api import token
from tests.support.processes import env_for

pytestmark = pytest.mark.e2e


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.timeout(240)
async def test_no_5xx_and_responses_match_the_schema(pool: Pool, settings: Settings, tmp_path: Path) -> None:
    org = await seed.organization(pool)
    owner = await seed.user(pool, "fuzz@example.com", org)
    await seed.shared_link(pool, org)
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "producer",
        env=env_for(settings, PRODUCER_PORT=str(port), PRODUCER_HOST="127.0.0.1"),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        cli = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
        assert cli, "schemathesis is a dev dependency"
        fuzz = await asyncio.create_subprocess_exec(
            cli,
            "run",
            f"http://127.0.0.1:{port}/v1/openapi.json",
            "--wait-for-schema",
            "20",
            "--checks",
            "not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance",
            "--max-examples",
            "15",
            "--max-time",
            "60",
            "--seed",
            "1",
            "--workers",
            "1",
            "--header",
            f"Authorization: Bearer {token(owner)}",
            "--request-timeout",
            "10",
            "--report",
            "junit",
            "--report-dir",
            str(tmp_path),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await asyncio.wait_for(fuzz.communicate(), 200)
        text = out.decode()
        assert fuzz.returncode == 0, text[-6000:]
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 20)
    # aiohttp itself logs malformed probes (a NUL in a header) that it answered with 400; those are fine.
    assert "unhandled error" not in err.decode(), err.decode()[-3000:]
    print(text.strip().splitlines()[-1])
