"""The console's browser tests: Debian's Chromium driven by Playwright, against real producer and consumer processes
started on this test's database, with the Loops and Telegram fakes."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import aiohttp
import jwt
import pytest
from playwright.async_api import Browser, Page, expect

from shared.db import Pool
from shared.settings import Settings
from tests.support import seed
from tests.support.harness import Fakes
from tests.support.processes import env_for
from tests.support.reports import video

SECRET = "test-secret-please-change-0123456789"
INSTALL = "Chromium is not installed: `apt-get install chromium` (Debian) runs the console's browser tests"


def chromium_path() -> str:
    """Debian's Chromium; without it the browser tests skip with one line, except under CI where they fail."""
    path = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        if os.environ.get("CI"):
            pytest.fail(INSTALL + " (CI must run them)")
        pytest.skip(INSTALL)
    return path


def token(sub: UUID | None, *, exp: float | None = None, role: str | None = None) -> str:
    claims: dict[str, Any] = {"aud": "authenticated", "exp": int(exp or time.time() + 3600)}
    if sub is not None:
        claims["sub"] = str(sub)
    if role:
        claims["role"] = role
    return jwt.encode(claims, SECRET, algorithm="HS256")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Service:
    url: str
    logs: list[Path] = field(default_factory=list)

    def log_text(self) -> str:
        return "".join(p.read_text(errors="replace") for p in self.logs if p.exists())


@asynccontextmanager
async def service(settings: Settings, fakes: Fakes, tmp_path: Path, **extra: str) -> AsyncIterator[Service]:
    """The real producer (API, console, scheduler) and consumer processes, stopped with SIGTERM afterwards."""
    port = free_port()
    env = env_for(
        settings,
        PRODUCER_HOST="127.0.0.1",
        PRODUCER_PORT=str(port),
        CONSUMER_HOST="127.0.0.1",
        CONSUMER_PORT=str(free_port()),
        LOOPS_API_URL=fakes.loops.url,
        TELEGRAM_API_URL=fakes.telegram.url,
        TELEGRAM_CHAT_INTERVAL_SECONDS="0",
        TELEGRAM_GROUP_INTERVAL_SECONDS="0",
        SPOOL_DIR=str(tmp_path / "spool"),
        TICK_SECONDS="1",
        LOG_LEVEL="DEBUG",
        **extra,
    )
    logs = [tmp_path / "producer.log", tmp_path / "consumer.log"]
    procs = []
    for module, log in zip(("producer", "consumer"), logs, strict=True):
        with log.open("wb") as handle:
            procs.append(
                await asyncio.create_subprocess_exec(
                    sys.executable, "-m", module, env=env, stdout=handle, stderr=asyncio.subprocess.STDOUT
                )
            )
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            deadline = time.monotonic() + 30
            while True:
                try:
                    async with http.get(f"{url}/healthz") as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    pass
                if time.monotonic() > deadline or procs[0].returncode is not None:
                    raise AssertionError("the producer did not start:\n" + logs[0].read_text(errors="replace"))
                await asyncio.sleep(0.1)
        yield Service(url, logs)
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.terminate()
        for proc in procs:
            try:
                await asyncio.wait_for(proc.wait(), 30)
            except TimeoutError:
                proc.kill()
                await proc.wait()


AXE = "/console/vendor/axe-core/axe.min.js"
PROBE = "<img src=x onerror=alert(1)>"


@dataclass
class World:
    """Acme's owner, member, link and two schedules (one named PROBE), and Globex's schedule no Acme user may see."""

    org: UUID
    owner: UUID
    member: UUID
    link: UUID
    weekly: UUID
    probe: UUID
    other: UUID


async def world(pool: Pool) -> World:
    org = await seed.organization(pool, "acme")
    owner = await seed.user(pool, "owner@acme.example", org, "owner")
    member = await seed.user(pool, "member@acme.example", org, "member")
    link = await seed.shared_link(pool, org, slug="weekly-views", title="Weekly Views")
    await video(pool, org)
    soon = datetime.now(UTC) + timedelta(hours=3, minutes=12)
    weekly = await seed.schedule(
        pool,
        org,
        link,
        name="Weekly Views",
        cadence="weekly",
        scheduled_time="09:00",
        day_of_week=1,
        cron="0 9 * * 1",
        timezone="Europe/London",
        next_run_at=soon,
        created_by=owner,
    )
    await seed.recipient(pool, weekly, email="team@acme.example")
    probe = await seed.schedule(pool, org, link, name=PROBE, next_run_at=soon, created_by=owner)
    other_org = await seed.organization(pool, "globex")
    other_link = await seed.shared_link(pool, other_org, title="Globex link")
    other = await seed.schedule(pool, other_org, other_link, name="Globex Secret Plan", next_run_at=soon)
    return World(org, owner, member, link, weekly, probe, other)


# What no page may do, whatever the test: a script error, a dialog (the probe's alert), a CSP refusal.
PROBLEMS: list[str] = []


def _console_message(message: Any) -> None:
    if "Content Security Policy" in message.text or "Refused to" in message.text:
        PROBLEMS.append(f"console: {message.text}")


async def page_for(browser: Browser, svc: Service, width: int = 1280) -> Page:
    context = await browser.new_context(viewport={"width": width, "height": 900}, base_url=svc.url)
    page = await context.new_page()
    page.on("dialog", lambda d: PROBLEMS.append(f"dialog: {d.message}"))
    page.on("pageerror", lambda e: PROBLEMS.append(f"script error: {e}"))
    page.on("console", _console_message)
    return page


async def sign_in(page: Page, bearer: str) -> None:
    await page.goto("/")
    await page.get_by_label("Token").fill(bearer)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Schedules")).to_be_visible()


async def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core (vendored, served by the console itself so the page's CSP allows it): serious or critical only."""
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.add_script_tag(url=AXE)
    result = await page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["html"][:120] for n in v["nodes"]]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
