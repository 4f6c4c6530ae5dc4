"""The web console in headless Chromium (Playwright), against real producer and consumer processes: every flow of
the console found by role and accessible name, as a screen reader would."""

from __future__ import annotations

import asyncio
import base64
import os
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4
from zoneinfo import ZoneInfo

import aiohttp
import jwt
import pytest
from playwright.async_api import Browser, expect

from demo.seed import seed as demo_seed
from devkit.fakes.webhook import WebhookReceiver
from shared import runs
from shared.db import Pool
from shared.message import EmailRecipient, ReportMessage
from shared.settings import Settings
from shared.vault import Vault
from tests.support import seed
from tests.support.console import (
    PROBE,
    PROBLEMS,
    Service,
    World,
    axe_violations,
    page_for,
    service,
    sign_in,
    token,
    world,
)
from tests.support.harness import fakes

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


async def test_sign_in_list_toggle_search_and_tenancy(browser: Browser, setup: tuple[World, Service, Any]) -> None:
    w, svc, _ = setup
    page = await page_for(browser, svc)
    await page.goto("/")
    # A wrong token: a message on the page, still on the sign-in form.
    await page.get_by_label("Token").fill("not-a-jwt")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_contain_text("invalid token")
    bearer = token(w.owner)
    await sign_in(page, bearer)
    nav = page.get_by_role("navigation")
    for name in ("Schedules", "Runs", "Dead letters"):
        await expect(nav.get_by_role("link", name=name)).to_be_visible()
    for header in ("Name", "Cadence", "Next run", "Last status", "Active"):
        await expect(page.get_by_role("columnheader", name=header)).to_be_visible()
    # The <img> probe is shown as its characters and runs nothing.
    await expect(page.get_by_role("link", name=PROBE)).to_be_visible()
    assert await page.locator("main img").count() == 0
    # Another organization's schedule is not there.
    await expect(page.get_by_text("Globex Secret Plan")).to_have_count(0)
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name="Weekly Views"))
    await expect(row).to_contain_text("Europe/London")
    await expect(row).to_contain_text(re.compile(r"in 3 h 1[12] min"))
    # Pause through the API: the row's Next run says so; resume: a fire time again.
    active = page.get_by_role("switch", name="Active: Weekly Views")
    await expect(active).to_be_checked()
    await active.click()
    await expect(row.get_by_role("cell").nth(2)).to_have_text("Paused")
    await expect(active).not_to_be_checked()
    await active.click()
    await expect(row).to_contain_text(re.compile(r"in \d+ (d|h|min)"))
    await expect(page.get_by_role("link", name="New schedule")).to_be_visible()
    # Search filters by name on the server.
    await page.get_by_label("Search").fill("weekly")
    await expect(page.get_by_role("link", name=PROBE)).to_have_count(0)
    await expect(page.get_by_role("link", name="Weekly Views")).to_be_visible()
    assert await axe_violations(page) == []
    # Were markup ever injected, the policy refuses its inline handler: nothing runs, Chromium says why.
    await page.evaluate("document.body.insertAdjacentHTML('beforeend', '<img src=x onerror=alert(1)>')")
    for _ in range(50):
        if PROBLEMS:
            break
        await asyncio.sleep(0.05)
    assert len(PROBLEMS) == 1 and "inline event handler violates the following Content Security Policy" in PROBLEMS[0]
    PROBLEMS.clear()
    # The token is in no URL, no page HTML and no log line.
    html = await page.content()
    assert bearer not in html and bearer not in page.url
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_label("Token")).to_be_visible()
    assert await page.evaluate("sessionStorage.length") == 0
    assert bearer not in svc.log_text()


async def test_member_reads_only_and_expired_token(browser: Browser, setup: tuple[World, Service, Any]) -> None:
    w, svc, _ = setup
    page = await page_for(browser, svc)
    await sign_in(page, token(w.member))
    await expect(page.get_by_role("switch", name="Active: Weekly Views")).to_be_disabled()
    await expect(page.get_by_role("link", name="New schedule")).to_have_count(0)
    await page.get_by_role("link", name="Weekly Views").click()
    await expect(page.get_by_role("heading", name="Weekly Views")).to_be_visible()
    await expect(page.get_by_role("button", name="Test run")).to_have_count(0)
    await expect(page.get_by_role("button", name="Delete")).to_have_count(0)
    # The edit form by its address: refused on the page, no form.
    await page.goto(f"/#/schedules/{w.weekly}/edit")
    await expect(page.get_by_role("alert")).to_contain_text("may read schedules but not change them")
    await expect(page.get_by_role("button", name="Save")).to_have_count(0)
    # Another organization's schedule by its address: not found, nothing of it shown.
    await page.goto(f"/#/schedules/{w.other}")
    await expect(page.get_by_role("alert")).to_contain_text("not found")
    await expect(page.get_by_text("Globex Secret Plan")).to_have_count(0)

    # service_role sees every organization, and can narrow the lists to one.
    service = await page_for(browser, svc)
    await sign_in(service, token(None, role="service_role"))
    await expect(service.get_by_role("link", name="Globex Secret Plan")).to_be_visible()
    await expect(service.get_by_role("link", name="Weekly Views")).to_be_visible()
    await expect(service.get_by_role("switch", name="Active: Globex Secret Plan")).to_be_enabled()
    await service.get_by_label("Organization").select_option(label="Globex")
    await expect(service.get_by_role("link", name="Weekly Views")).to_have_count(0)
    await expect(service.get_by_role("link", name="Globex Secret Plan")).to_be_visible()
    assert await axe_violations(service) == []

    expired = await page_for(browser, svc)
    await expired.goto("/")
    await expired.get_by_label("Token").fill(token(w.owner, exp=time.time() - 60))
    await expired.get_by_role("button", name="Sign in").click()
    await expect(expired.get_by_role("alert")).to_contain_text("token was not accepted: token expired")
    await expect(expired.get_by_role("button", name="Sign in")).to_be_visible()
    # A token that expires while in use: the next request signs out, saying why.
    short = token(w.owner, exp=time.time() + 2)
    await sign_in(expired, short)
    await asyncio.sleep(max(0.0, jwt.decode(short, options={"verify_signature": False})["exp"] - time.time() + 0.5))
    await expired.get_by_role("navigation").get_by_role("link", name="Dead letters").click()
    await expect(expired.get_by_role("alert")).to_contain_text("Signed out: token expired")
    await expect(expired.get_by_label("Token")).to_be_focused()
    assert await expired.evaluate("sessionStorage.length") == 0


async def test_test_run_status_changes_live(browser: Browser, setup: tuple[World, Service, Any], pool: Pool) -> None:
    w, svc, f = setup
    page = await page_for(browser, svc)
    await sign_in(page, token(w.owner))
    await page.get_by_role("link", name="Weekly Views").click()
    runs_table = page.get_by_role("table", name="Runs")
    await expect(runs_table).to_contain_text("No runs yet.")
    await page.get_by_role("button", name="Test run").click()
    # The new run appears and becomes final without a reload.
    await expect(runs_table.get_by_role("row").nth(1)).to_contain_text("manual")
    await expect(runs_table.get_by_role("row").nth(1)).to_contain_text("sent", timeout=30_000)
    assert [r["email"] for r in f.loops.sent] == ["owner@acme.example"]
    await runs_table.get_by_role("button", name=re.compile("Deliveries")).first.click()
    deliveries = page.get_by_role("table", name="Deliveries")
    await expect(deliveries).to_contain_text("owner@acme.example")
    await expect(deliveries).to_contain_text("email")
    # To chosen recipients: an address and a Telegram chat, typed; a bad address gets the API's message.
    await page.get_by_label("Send test to").select_option(label="Recipients I choose")
    await page.get_by_label("Test recipients (emails or Telegram chat ids)").fill("not-an-address")
    await page.get_by_role("button", name="Test run").click()
    await expect(page.get_by_role("status").filter(has_text="Test run not started")).to_contain_text("email")
    await page.get_by_label("Test recipients (emails or Telegram chat ids)").fill("pat@acme.example, 4242")
    await page.get_by_role("button", name="Test run").click()
    await expect(runs_table.locator("tr[data-run]")).to_have_count(2)
    await expect(runs_table.locator("tr[data-run]").first).to_contain_text("sent", timeout=30_000)
    assert [r["email"] for r in f.loops.sent] == ["owner@acme.example", "pat@acme.example"]
    assert len(f.telegram.documents(4242)) == 1
    # A chat that blocked the bot makes a partial run; once it is back, Resend serves only that chat.
    f.telegram.blocked.add(77)
    await page.get_by_label("Test recipients (emails or Telegram chat ids)").fill("lee@acme.example, 77")
    await page.get_by_role("button", name="Test run").click()
    await expect(runs_table.locator("tr[data-run]")).to_have_count(3)
    newest = runs_table.locator("tr[data-run]").first
    await expect(newest).to_contain_text("partial", timeout=30_000)
    f.telegram.blocked.discard(77)
    await newest.get_by_role("button", name="Resend to missed").click()
    await expect(runs_table.locator("tr[data-run]")).to_have_count(4)
    await expect(runs_table.locator("tr[data-run]").first).to_contain_text("replay")
    await expect(runs_table.locator("tr[data-run]").first).to_contain_text("sent", timeout=30_000)
    reports = [r["email"] for r in f.loops.sent if r["attachments"]]
    assert reports == ["owner@acme.example", "pat@acme.example", "lee@acme.example"]
    assert len(f.telegram.documents(77)) == 1
    assert await axe_violations(page) == []
    # Delete asks first; cancelling keeps the schedule, confirming removes it from the list.
    await page.get_by_role("button", name="Delete").click()
    await page.get_by_role("button", name="Cancel").click()
    await expect(page.get_by_role("heading", name="Weekly Views")).to_be_visible()
    await page.get_by_role("button", name="Delete").click()
    await page.get_by_role("button", name="Yes, delete").click()
    await expect(page.get_by_role("heading", name="Schedules")).to_be_visible()
    await expect(page.get_by_role("link", name="Weekly Views")).to_have_count(0)
    assert await pool.fetchval("SELECT deleted_at IS NOT NULL FROM shared_report_schedules WHERE id = $1", w.weekly)
    # Its page still shows it, with its runs, and Restore brings it back paused.
    await page.goto(f"/#/schedules/{w.weekly}")
    await expect(page.get_by_text(re.compile("^Deleted "))).to_be_visible()
    await expect(page.get_by_role("table", name="Runs").locator("tr[data-run]")).to_have_count(4)
    await expect(page.get_by_role("button", name="Test run")).to_have_count(0)
    await page.get_by_role("button", name="Restore").click()
    await expect(page.get_by_role("button", name="Test run")).to_be_visible()
    await expect(page.get_by_text("no (paused)")).to_be_visible()
    await page.get_by_role("navigation").get_by_role("link", name="Schedules").click()
    await expect(page.get_by_role("switch", name="Active: Weekly Views")).not_to_be_checked()


async def test_new_schedule_form_validates_and_saves(browser: Browser, setup: tuple[World, Service, Any]) -> None:
    w, svc, _ = setup
    page = await page_for(browser, svc)
    await sign_in(page, token(w.owner))
    await page.get_by_role("link", name="New schedule").click()
    await expect(page.get_by_role("heading", name="New schedule")).to_be_visible()
    await page.get_by_label("Name", exact=True).fill("Daily Digest")
    await expect(page.get_by_label("Shared link")).to_have_value(str(w.link))
    await page.get_by_label("Cadence").select_option(label="Custom cron")
    await page.get_by_label("Time zone").fill("Asia/Tokyo")
    await page.get_by_label("Cron expression").fill("61 9 * * *")
    await page.get_by_label("Format").select_option("xlsx")
    await page.get_by_label("Email address").fill("digest@acme.example")
    await page.get_by_role("button", name="Add email").click()
    await page.get_by_role("button", name="Save").click()
    # The API's own message, next to the field.
    error = page.locator("#f-cron-error")
    await expect(error).to_contain_text("minute field value 61 is out of range 0-59")
    await expect(page.get_by_label("Cron expression")).to_have_attribute("aria-invalid", "true")
    await page.get_by_label("Cadence").select_option(label="Daily")
    await page.get_by_label("Time", exact=True).fill("07:30")
    # The hint's placeholders are ones the API knows; a wrong one gets its message beside the field.
    hint = await page.get_by_text("Placeholders such as").text_content()
    await page.get_by_label("Subject template").fill(" ".join(re.findall(r"\{\{ \w+ \}\}", hint or "")))
    await page.get_by_label("Message template").fill("{{ row_count }} rows")
    await page.get_by_role("button", name="Save").click()
    await expect(page.locator("#f-message-error")).to_contain_text("row_count")
    await expect(page.locator("#f-subject-error")).to_be_empty()
    await page.get_by_label("Message template").fill("{{ rows }} rows")
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_role("heading", name="Daily Digest")).to_be_visible()
    await expect(page.get_by_text("Daily at 07:30").first).to_be_visible()
    await expect(page.get_by_text("digest@acme.example").first).to_be_visible()
    await page.get_by_role("button", name="Edit").click()
    await expect(page.get_by_role("heading", name="Edit schedule")).to_be_visible()
    await expect(page.get_by_label("Time zone")).to_have_value("Asia/Tokyo")
    assert await axe_violations(page) == []


async def test_dead_letter_replay(browser: Browser, setup: tuple[World, Service, Any], pool: Pool) -> None:
    w, svc, f = setup
    message = ReportMessage(
        v=1,
        run_id=uuid4(),
        schedule_id=w.weekly,
        organization_id=w.org,
        shared_link_id=w.link,
        fire_at=datetime.now(UTC),
        trigger="manual",
        recipients=[EmailRecipient(channel="email", user_id=None, email="late@acme.example")],
    )
    await runs.record(pool, message)
    await pool.execute("UPDATE shared_report_runs SET status = 'dead' WHERE id = $1", message.run_id)
    await pool.execute(
        "INSERT INTO shared_report_dead_letters (run_id, organization_id, job_id, payload, error, attempts) "
        "VALUES ($1, $2, 'job-1', $3, 'loops: 503 Service Unavailable after 5 attempts', 5)",
        message.run_id,
        w.org,
        message.model_dump(mode="json"),
    )
    # Two people have the page open; the first replays, the second's Replay then answers 409.
    second = await page_for(browser, svc)
    await sign_in(second, token(w.owner))
    await second.get_by_role("navigation").get_by_role("link", name="Dead letters").click()
    await expect(second.get_by_role("row").filter(has_text="503 Service Unavailable")).to_be_visible()
    page = await page_for(browser, svc)
    await sign_in(page, token(w.owner))
    await page.get_by_role("navigation").get_by_role("link", name="Dead letters").click()
    await expect(page.get_by_role("heading", name="Dead letters")).to_be_visible()
    row = page.get_by_role("row").filter(has_text="503 Service Unavailable")
    await expect(row).to_contain_text("5")
    await row.get_by_role("button", name="Replay").click()
    await expect(row.get_by_role("link", name=re.compile("New run"))).to_be_visible()
    await expect(row.get_by_role("button", name="Replay")).to_be_disabled()
    late = second.get_by_role("row").filter(has_text="503 Service Unavailable")
    await late.get_by_role("button", name="Replay").click()
    await expect(late).to_contain_text("already replayed")
    await expect(late.get_by_role("button", name="Replay")).to_be_disabled()
    assert await axe_violations(page) == []
    # The replayed run is delivered; on another visit the letter shows it was replayed.
    await row.get_by_role("link", name=re.compile("New run")).click()
    runs_table = page.get_by_role("table", name="Runs")
    await expect(runs_table.get_by_role("row").nth(1)).to_contain_text("sent", timeout=30_000)
    assert [r["email"] for r in f.loops.sent] == ["late@acme.example"]
    await page.get_by_role("navigation").get_by_role("link", name="Dead letters").click()
    row = page.get_by_role("row").filter(has_text="503 Service Unavailable")
    await expect(row).to_contain_text("already replayed")
    await expect(row.get_by_role("button", name="Replay")).to_be_disabled()


async def skip_without(svc: Service, method: str, path: str) -> None:
    """A flow whose API route is not on this server yet skips, naming the route."""
    async with aiohttp.ClientSession() as http, http.request(method, svc.url + path) as response:
        # Without a token an existing route answers 401; a missing one the router's 404 or 405.
        if response.status in (404, 405):
            pytest.skip(f"the console's flow needs {method} {path.split('?')[0]} (API issue), not on this server yet")


async def test_keyboard_alone(browser: Browser, setup: tuple[World, Service, Any]) -> None:
    w, svc, f = setup
    page = await page_for(browser, svc)
    await page.goto("/")
    # The token field has focus on arrival; Enter signs in.
    await page.keyboard.type(token(w.owner))
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="Schedules")).to_be_visible()

    async def tab_to(role: str, name: str) -> None:
        target = page.get_by_role(role, name=name, exact=True)  # type: ignore[arg-type]
        for _ in range(40):
            await page.keyboard.press("Tab")
            if await target.evaluate("el => el === document.activeElement"):
                return
        raise AssertionError(f"Tab never reached {role} {name!r}")

    await tab_to("switch", "Active: Weekly Views")
    await page.keyboard.press("Space")
    await expect(page.get_by_role("switch", name="Active: Weekly Views")).not_to_be_checked()
    await page.keyboard.press("Space")
    await expect(page.get_by_role("switch", name="Active: Weekly Views")).to_be_checked()
    await tab_to("link", "Weekly Views")
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="Weekly Views")).to_be_visible()
    await tab_to("button", "Test run")
    await page.keyboard.press("Enter")
    runs_table = page.get_by_role("table", name="Runs")
    await expect(runs_table.get_by_role("row").nth(1)).to_contain_text("sent", timeout=30_000)
    await tab_to("button", "Delete")
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("dialog")).to_be_visible()
    await page.keyboard.press("Escape")
    await expect(page.get_by_role("dialog")).to_have_count(0)
    await tab_to("link", "Dead letters")
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="Dead letters")).to_be_visible()
    assert await axe_violations(page) == []
    # A new schedule by keyboard: the form's defaults (weekly, Monday 09:00, the first link) plus a name.
    await tab_to("link", "Schedules")
    await page.keyboard.press("Enter")
    await tab_to("link", "New schedule")
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="New schedule")).to_be_visible()
    await tab_to("textbox", "Name")
    await page.keyboard.type("Typed by keyboard")
    await expect(page.get_by_role("region", name="Next fires").get_by_role("listitem")).to_have_count(5)
    await tab_to("button", "Save")
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="Typed by keyboard")).to_be_visible()
    await tab_to("button", "Sign out")
    await page.keyboard.press("Enter")
    await expect(page.get_by_label("Token")).to_be_focused()
    assert await axe_violations(page) == []


async def test_runs_page_filters_by_status(browser: Browser, setup: tuple[World, Service, Any], pool: Pool) -> None:
    w, svc, _ = setup
    await skip_without(svc, "GET", "/v1/runs")
    base = datetime.now(UTC) - timedelta(days=2)
    for index, (schedule, status) in enumerate(
        [(w.weekly, "sent"), (w.probe, "failed"), (w.weekly, "failed"), (w.weekly, "skipped"), (w.other, "failed")]
    ):
        message = ReportMessage(
            v=1, run_id=uuid4(), schedule_id=schedule, organization_id=w.org, shared_link_id=w.link,
            fire_at=base + timedelta(hours=index), trigger="cron",
            recipients=[EmailRecipient(channel="email", user_id=None, email="x@acme.example")],
        )  # fmt: skip
        await runs.record(pool, message)
        await pool.execute(
            "UPDATE shared_report_runs SET status = $2, finished_at = now(), error = $3, created_at = fire_at"
            " WHERE id = $1",
            message.run_id, status, "loops: 400 bad address" if status == "failed" else None,
        )  # fmt: skip
    page = await page_for(browser, svc)
    await sign_in(page, token(w.owner))
    await page.get_by_role("navigation").get_by_role("link", name="Runs").click()
    await expect(page.get_by_role("heading", name="Runs")).to_be_visible()
    rows = page.get_by_role("row")
    await expect(rows).to_have_count(5)  # the header and this organization's four runs, not Globex's
    await page.get_by_label("Status").select_option("failed")
    await expect(rows).to_have_count(3)
    # Newest first, each with its schedule's name (the <img> name as text).
    await expect(rows.nth(1)).to_contain_text("Weekly Views")
    await expect(rows.nth(2)).to_contain_text(PROBE)
    await expect(rows.nth(1)).to_contain_text("loops: 400 bad address")
    await expect(page.get_by_text("Globex")).to_have_count(0)
    # Runs from two days ago: none in the last 24 hours, all in the last 7 days.
    await page.get_by_label("Period").select_option(label="Last 24 hours")
    await expect(rows).to_have_count(1)
    await expect(page.get_by_role("status")).to_have_text("No failed runs.")
    await page.get_by_label("Period").select_option(label="Last 7 days")
    await expect(rows).to_have_count(3)
    assert await axe_violations(page) == []


async def test_next_fires_follow_typing(browser: Browser, setup: tuple[World, Service, Any]) -> None:
    w, svc, _ = setup
    await skip_without(svc, "POST", "/v1/schedules/preview")
    page = await page_for(browser, svc)
    await sign_in(page, token(w.owner))
    await page.get_by_role("link", name="New schedule").click()
    fires = page.get_by_role("region", name="Next fires")
    await page.get_by_label("Cadence").select_option(label="Weekly")
    await page.get_by_label("Day of week").select_option(label="Wednesday")
    await page.get_by_label("Time", exact=True).fill("08:15")
    await page.get_by_label("Time zone").fill("America/New_York")
    await expect(fires.get_by_role("listitem")).to_have_count(5)
    for item in await fires.get_by_role("listitem").all():
        await expect(item).to_contain_text(re.compile(r"Wed.*08:15 \(-0[45]:00\)"))
    # A window, each day included in the schedule's zone: only the Wednesdays inside it are listed.
    zone = ZoneInfo("America/New_York")
    first = datetime.now(zone).date() + timedelta(days=10)
    last = first + timedelta(days=15)
    wednesdays = [first + timedelta(days=i) for i in range(16) if (first + timedelta(days=i)).weekday() == 2]
    await page.get_by_label("Starts on (optional)").fill(first.isoformat())
    await page.get_by_label("Ends on (optional)").fill(last.isoformat())
    await expect(fires.get_by_role("listitem")).to_have_count(len(wednesdays))
    await expect(fires.get_by_role("listitem").first).to_contain_text(wednesdays[0].strftime("%-d %b %Y"))
    await page.get_by_label("Name", exact=True).fill("Campaign window")
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_role("heading", name="Campaign window")).to_be_visible()
    await expect(page.get_by_text(f"{first.isoformat()} to {last.isoformat()}")).to_be_visible()
    await expect(page.get_by_text(wednesdays[0].strftime("%-d %b %Y")).first).to_be_visible()
    await page.get_by_role("button", name="Edit").click()
    await expect(page.get_by_label("Starts on (optional)")).to_have_value(first.isoformat())
    await page.get_by_label("Starts on (optional)").fill("")
    await page.get_by_label("Ends on (optional)").fill("")
    await expect(fires.get_by_role("listitem")).to_have_count(5)
    await page.get_by_label("Time zone").fill("Mars/Olympus_Mons")
    await expect(page.locator("#f-zone-error")).to_contain_text("Mars/Olympus_Mons")
    await expect(fires.get_by_role("listitem")).to_have_count(0)
    await page.get_by_label("Time zone").fill("America/New_York")
    await expect(fires.get_by_role("listitem")).to_have_count(5)
    await expect(page.locator("#f-zone-error")).to_be_empty()
    await page.get_by_label("Cadence").select_option(label="Custom cron")
    await page.get_by_label("Cron expression").fill("61 9 * * *")
    await expect(page.locator("#f-cron-error")).to_contain_text("minute field value 61 is out of range 0-59")
    await expect(fires.get_by_role("listitem")).to_have_count(0)
    await page.get_by_label("Cron expression").fill("0 6 1 * *")
    await expect(fires.get_by_role("listitem")).to_have_count(5)
    await expect(page.locator("#f-cron-error")).to_be_empty()
    await expect(fires.get_by_role("listitem").first).to_contain_text("06:00")
    # The server's list of zones backs the Time zone field.
    assert await page.locator("#zone-list option[value='Asia/Kolkata']").count() == 1


async def test_narrow_and_wide_screens_with_screenshots(
    browser: Browser, pool: Pool, settings: Settings, tmp_path: Path
) -> None:
    """Demo data at 360 px and 1440 px: nothing wider than the screen; the README's screenshots come from here
    (UPDATE_SCREENSHOTS=1 writes them to docs/)."""
    data = await demo_seed(pool, 300)
    async with fakes(tmp_path) as f, service(settings, f, tmp_path) as svc:

        async def final() -> bool:
            statuses = [r["status"] for r in await pool.fetch("SELECT status FROM shared_report_runs")]
            return len(statuses) >= 2 and all(s in runs_final for s in statuses)

        runs_final = ("sent", "partial", "failed", "skipped", "dead")
        deadline = time.monotonic() + 30
        while not await final():
            assert time.monotonic() < deadline, "the demo's schedules did not run"
            await asyncio.sleep(0.2)
        out = ROOT / "docs" if os.environ.get("UPDATE_SCREENSHOTS") else tmp_path
        shots = []
        for width in (360, 1440):
            page = await page_for(browser, svc, width)
            await sign_in(page, token(data.owner_id))
            await expect(page.get_by_role("switch", name="Active: Weekly Performance")).to_be_visible()
            for view in ("schedules", "schedule", "form"):
                if view == "schedule":
                    await page.get_by_role("link", name="Weekly Performance").click()
                    await expect(page.get_by_role("table", name="Runs")).to_contain_text("sent")
                    await page.get_by_role("button", name=re.compile("Deliveries")).first.click()
                if view == "form":
                    await page.get_by_role("button", name="Edit").click()
                    await expect(page.get_by_label("Shared link")).to_have_value(str(data.shared_link_id))
                overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
                assert overflow <= 0, f"{view} at {width} px is {overflow} px wider than the screen"
                assert await axe_violations(page) == []
                if (width, view) in ((1440, "schedules"), (1440, "schedule"), (360, "form")):
                    path = out / f"console-{view}-{width}.png"
                    await page.screenshot(path=path, full_page=view != "form")
                    shots.append(path)
            await page.context.close()
        for path in shots:
            assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000


async def test_test_run_to_a_stored_destination(
    browser: Browser, pool: Pool, settings: Settings, tmp_path: Path
) -> None:
    """Test run to one of the organization's stored destinations, ticked on the page: only it gets the file."""
    w = await world(pool)
    secret = "whsec_" + base64.b64encode(b"console-test-signing-key-0123456").decode()
    receiver = WebhookReceiver(secret)
    await receiver.start()
    try:
        assert settings.credentials_keys is not None
        vault = Vault([settings.credentials_keys.get_secret_value()])
        url = f"{receiver.url}/ops"
        await seed.destination(pool, vault, w.org, None, "webhook", url, {"url": url}, secret)
        async with fakes(tmp_path) as f, service(settings, f, tmp_path, OUTBOUND_ALLOW_PRIVATE="true") as svc:
            page = await page_for(browser, svc)
            await sign_in(page, token(w.owner))
            await page.get_by_role("link", name="Weekly Views").click()
            await page.get_by_label("Send test to").select_option(label="Recipients I choose")
            await page.get_by_label(f"webhook: {url}").check()
            await page.get_by_role("button", name="Test run").click()
            runs_table = page.get_by_role("table", name="Runs")
            await expect(runs_table.locator("tr[data-run]").first).to_contain_text("sent", timeout=30_000)
            await runs_table.get_by_role("button", name=re.compile("Deliveries")).first.click()
            await expect(page.get_by_role("table", name="Deliveries")).to_contain_text("webhook")
            assert [d["path"] for d in receiver.deliveries()] == ["/ops"]
            assert f.loops.sent == [] and f.telegram.documents() == []
            assert await axe_violations(page) == []
    finally:
        await receiver.stop()


async def test_schedules_are_paged(browser: Browser, setup: tuple[World, Service, Any], pool: Pool) -> None:
    w, svc, _ = setup
    await pool.execute(
        "INSERT INTO shared_report_schedules (organization_id, shared_link_id, name, cadence, cron_expression,"
        " timezone, next_run_at, created_at) SELECT $1, $2, 'Bulk ' || lpad(g::text, 3, '0'), 'custom',"
        " '0 9 * * *', 'UTC', now() + interval '1 day', now() + g * interval '1 second'"
        " FROM generate_series(1, 60) g",
        w.org,
        w.link,
    )
    page = await page_for(browser, svc)
    await sign_in(page, token(w.owner))
    switches = page.get_by_role("switch")
    await expect(switches).to_have_count(50)
    await expect(page.get_by_role("button", name="Previous page")).to_be_disabled()
    await page.get_by_role("button", name="Next page").click()
    # 62 in all, oldest first: the last 12 on the second page, the last one "Bulk 060".
    await expect(switches).to_have_count(12)
    await expect(switches.last).to_have_accessible_name("Active: Bulk 060")
    await expect(page.get_by_role("button", name="Next page")).to_be_disabled()
    await page.get_by_role("button", name="Previous page").click()
    await expect(switches).to_have_count(50)
    await expect(switches.first).to_have_accessible_name("Active: Weekly Views")
    # Searching pages too, and keeps the words typed.
    await page.get_by_label("Search").fill("bulk 05")
    await expect(switches).to_have_count(10)
    await expect(page.get_by_label("Search")).to_have_value("bulk 05")
