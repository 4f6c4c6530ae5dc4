"""The console over HTTP: its files, the headers every console response carries, and the directory routes its
pickers use (who is signed in, an organization's shared links and members) with their tenancy rules."""

from __future__ import annotations

import gzip
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from producer.app import create_app
from shared.db import Pool
from shared.errors import ConfigError
from shared.settings import Settings, load_settings
from tests.support import seed
from tests.support.api import Api, World, token

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(create_app(settings, run_scheduler=False))) as c:
        yield c


def csp_directives(header: str) -> dict[str, list[str]]:
    return {name: rest for name, *rest in (part.split() for part in header.split(";") if part.strip())}


@pytest.mark.parametrize("path", ["/", "/console/app.js", "/console/app.css", "/console/vendor/axe-core/axe.min.js"])
async def test_console_files_carry_the_security_headers(client: TestClient, path: str) -> None:
    async with client.get(path) as response:
        assert response.status == 200
        body = await response.read()
        csp = csp_directives(response.headers["Content-Security-Policy"])
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "no-referrer"
    assert csp["script-src"] == ["'self'"] and csp["default-src"] == ["'none'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert not any("unsafe" in source for sources in csp.values() for source in sources)
    if path == "/":
        html = body.decode()
        # No inline script or style, no handler attribute: the policy would refuse them anyway.
        assert not re.search(r"<script(?![^>]*\bsrc=)", html)
        assert " on" not in re.sub(r"<noscript>.*?</noscript>", "", html, flags=re.S).lower().split("<body", 1)[1]
        assert "<style" not in html and "http" not in html


@pytest.mark.parametrize("path", ["/console/../pyproject.toml", "/console/%2e%2e/app.py", "/console/routes.py"])
async def test_only_the_listed_files_are_served(client: TestClient, path: str) -> None:
    async with client.get(path) as response:
        assert response.status == 404
        assert "import" not in await response.text()


async def test_frame_ancestors_setting(settings: Settings) -> None:
    assert Settings(console_frame_ancestors="self  https://intranet.example.com").console_frame_ancestors == (
        "'self' https://intranet.example.com"
    )
    allowed = settings.model_copy(update={"console_frame_ancestors": "'self' https://intranet.example.com"})
    async with TestClient(TestServer(create_app(allowed, run_scheduler=False))) as c, c.get("/") as response:
        csp = csp_directives(response.headers["Content-Security-Policy"])
    assert csp["frame-ancestors"] == ["'self'", "https://intranet.example.com"]


@pytest.mark.parametrize("value", ["*", "'none' 'self'", "https://a.example; script-src *", "javascript:x", ""])
def test_bad_frame_ancestors_name_the_setting(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("CONSOLE_FRAME_ANCESTORS", value)
    with pytest.raises(ConfigError, match="CONSOLE_FRAME_ANCESTORS"):
        load_settings()


async def test_me_links_and_members_follow_tenancy(client: TestClient, world: World, pool: Pool) -> None:
    owner, member = Api(client, token(world.owner)), Api(client, token(world.member))
    status, me = await member.call("GET", "/v1/me")
    assert status == 200
    assert me["email"] == "member@acme.example" and me["service"] is False
    assert me["organizations"] == [{"id": str(world.org), "name": "Acme", "role": "member"}]

    status, links = await member.call("GET", f"/v1/shared-links?organization_id={world.org}")
    assert status == 200 and [link["title"] for link in links["items"]] == ["Acme Weekly"]
    await pool.execute("UPDATE shared_links SET revoked_at = now() WHERE id = $1", world.link)
    assert (await member.call("GET", f"/v1/shared-links?organization_id={world.org}"))[1]["items"] == []

    status, people = await owner.call("GET", f"/v1/organizations/{world.org}/members")
    assert status == 200
    assert [(p["email"], p["role"]) for p in people["items"]] == [
        ("member@acme.example", "member"),
        ("owner@acme.example", "owner"),
    ]
    # Another organization: as if it did not exist.
    assert (await owner.call("GET", f"/v1/organizations/{world.other_org}/members"))[0] == 404
    assert (await owner.call("GET", f"/v1/shared-links?organization_id={world.other_org}"))[0] == 404
    status, error = await owner.call("GET", "/v1/shared-links")
    assert status == 422 and error["error"]["details"][0]["field"] == "organization_id"

    service = Api(client, token(role="service_role"))
    status, me = await service.call("GET", "/v1/me")
    assert status == 200 and me["service"] is True and me["user_id"] is None
    assert {o["name"] for o in me["organizations"]} == {"Acme", "Globex"}
    assert (await Api(client, "not-a-jwt").call("GET", "/v1/me"))[0] == 401


async def test_schedule_list_filters_by_name(client: TestClient, world: World, pool: Pool) -> None:
    soon = datetime.now(UTC) + timedelta(hours=1)
    for name in ("Weekly Views", "weekly <b>bold</b>", "Month End", "100% Done"):
        await seed.schedule(pool, world.org, world.link, name=name, next_run_at=soon)
    await seed.schedule(pool, world.other_org, world.other_link, name="Weekly Globex", next_run_at=soon)
    api = Api(client, token(world.owner))

    async def names(query: str) -> list[str]:
        status, page = await api.call("GET", f"/v1/schedules?{query}")
        assert status == 200, page
        return [s["name"] for s in page["items"]]

    assert await names("name=WEEK") == ["Weekly Views", "weekly <b>bold</b>"]
    # The text is matched as it is: % and _ are not wildcards.
    assert await names("name=%25") == ["100% Done"]
    assert await names("name=_") == []
    assert await names("name=week&limit=1") == ["Weekly Views"]
    status, error = await api.call("GET", "/v1/schedules?name=%01")
    assert status == 422 and error["error"]["details"][0]["field"] == "name"


async def test_files_are_gzipped_for_clients_that_accept_it(client: TestClient) -> None:
    source = (ROOT / "producer" / "console" / "static" / "app.js").read_bytes()
    async with client.get("/console/app.js", headers={"Accept-Encoding": "identity"}) as plain:
        assert "Content-Encoding" not in plain.headers and await plain.read() == source
    async with client.get("/console/app.js", headers={"Accept-Encoding": "gzip, br"}, auto_decompress=False) as zipped:
        assert zipped.headers["Content-Encoding"] == "gzip" and zipped.headers["Vary"] == "Accept-Encoding"
        body = await zipped.read()
        assert "script-src 'self'" in zipped.headers["Content-Security-Policy"]
    assert gzip.decompress(body) == source and len(body) < len(source) / 3
