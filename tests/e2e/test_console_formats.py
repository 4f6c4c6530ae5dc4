"""The schedule form's formats in headless Chromium: the main format and the ones it is also sent as."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Browser, expect

from tests.support.console import Service, World, axe_violations, page_for, sign_in, token

pytestmark = pytest.mark.e2e


async def test_formats_are_chosen_saved_and_refused_beside_the_field(
    browser: Browser, setup: tuple[World, Service, Any]
) -> None:
    w, svc, _ = setup
    page = await page_for(browser, svc)
    await sign_in(page, token(w.owner))
    await page.get_by_role("link", name="New schedule").click()
    await page.get_by_label("Name", exact=True).fill("Three files")
    await page.get_by_label("Format").select_option("xlsx")
    also = page.get_by_role("group", name="Also send as (up to two)")
    # The main format is not offered again.
    await expect(also.get_by_role("checkbox", name="xlsx", exact=True)).to_be_disabled()
    await also.get_by_role("checkbox", name="csv.zip", exact=True).check()
    await also.get_by_role("checkbox", name="csv", exact=True).check()
    await page.get_by_role("button", name="Save").click()
    # The API's message, beside the formats.
    await expect(page.locator("#f-formats-error")).to_contain_text("lists csv twice")
    await also.get_by_role("checkbox", name="csv", exact=True).uncheck()
    await also.get_by_role("checkbox", name="ndjson", exact=True).check()
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_role("heading", name="Three files")).to_be_visible()
    await expect(page.get_by_text("xlsx, csv.zip, ndjson", exact=True)).to_be_visible()

    await page.get_by_role("button", name="Edit").click()
    await expect(page.get_by_role("heading", name="Edit schedule")).to_be_visible()
    await expect(also.get_by_role("checkbox", name="csv.zip", exact=True)).to_be_checked()
    await expect(also.get_by_role("checkbox", name="ndjson", exact=True)).to_be_checked()
    # A new main format that was ticked as another is not sent twice.
    await page.get_by_label("Format").select_option("ndjson")
    await expect(also.get_by_role("checkbox", name="ndjson", exact=True)).not_to_be_checked()
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_role("heading", name="Three files")).to_be_visible()
    await expect(page.get_by_text("ndjson, csv.zip", exact=True)).to_be_visible()
    assert await axe_violations(page) == []
