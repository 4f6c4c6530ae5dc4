"""The schedule page's "Changes" table (the audit log) in headless Chromium, against real processes."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.async_api import Browser, expect

from tests.support.console import Service, World, axe_violations, page_for, sign_in, token

pytestmark = pytest.mark.e2e


async def test_changes_show_who_paused_and_who_ran_it(browser: Browser, setup: tuple[World, Service, Any]) -> None:
    w, svc, _ = setup
    page = await page_for(browser, svc)
    await sign_in(page, token(w.owner))
    active = page.get_by_role("switch", name="Active: Weekly Views")
    await active.click()
    await expect(active).not_to_be_checked()
    await page.get_by_role("link", name="Weekly Views").click()
    changes = page.get_by_role("table", name="Changes")
    paused = changes.get_by_role("row").nth(1)
    await expect(paused).to_contain_text("paused")
    await expect(paused).to_contain_text("owner@acme.example")
    await expect(paused).to_contain_text("enabled: true → false")
    await page.get_by_role("button", name="Test run").click()
    await expect(changes.get_by_role("row").nth(1)).to_contain_text("test run")
    await expect(changes.get_by_role("row").nth(1)).to_contain_text(re.compile(r"recipients: email:"))
    await expect(changes.get_by_role("row")).to_have_count(3)
    assert await axe_violations(page) == []

    # A member reads the schedule but not its audit log.
    member = await page_for(browser, svc)
    await sign_in(member, token(w.member))
    await member.get_by_role("link", name="Weekly Views").click()
    await expect(member.get_by_role("heading", name="Weekly Views")).to_be_visible()
    await expect(member.get_by_role("table", name="Runs")).to_be_visible()
    await expect(member.get_by_role("table", name="Changes")).to_have_count(0)
