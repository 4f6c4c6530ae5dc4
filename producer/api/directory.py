"""Who is signed in and what their organizations hold: the lists a person picks from (links, members)."""

from __future__ import annotations

from aiohttp import web

from producer.api import sql
from producer.api.auth import require_role
from producer.api.directory_models import LinkList, LinkOut, MemberList, MemberOut, MeOut, OrganizationOut
from producer.api.errors import validation
from producer.api.request_helpers import caller, db, path_uuid, query_uuid
from shared.health import json_response

# Bounds of the pick lists; an organization past them is served by typing an id through the API.
MAX_ORGANIZATIONS = 500
MAX_LINKS = 1000
MAX_MEMBERS = 1000


async def me(request: web.Request) -> web.Response:
    principal = caller(request)
    pool = db(request)
    if principal.service:
        orgs = await pool.fetch(sql.ALL_ORGANIZATIONS, MAX_ORGANIZATIONS)
        out = MeOut(user_id=None, email=None, full_name=None, service=True, organizations=[])
    else:
        user = await pool.fetchrow(sql.USER, principal.user_id)
        orgs = await pool.fetch(sql.MY_ORGANIZATIONS, principal.user_id)
        out = MeOut(
            user_id=principal.user_id,
            email=user["email"] if user else None,
            full_name=user["full_name"] if user else None,
            service=False,
            organizations=[],
        )
    out.organizations = [OrganizationOut(**dict(r)) for r in orgs]
    return json_response(out.model_dump(mode="json"))


async def shared_links(request: web.Request) -> web.Response:
    principal = caller(request)
    org = query_uuid(request, "organization_id")
    if org is None:
        raise validation("organization_id", "is required: the organization whose shared links to list")
    await require_role(principal, db(request), org, write=False, what="organization")
    rows = await db(request).fetch(sql.ORGANIZATION_LINKS, org, MAX_LINKS)
    return json_response(LinkList(items=[LinkOut(**dict(r)) for r in rows]).model_dump(mode="json"))


async def members(request: web.Request) -> web.Response:
    principal = caller(request)
    org = path_uuid(request, "id", "organization")
    await require_role(principal, db(request), org, write=False, what="organization")
    rows = await db(request).fetch(sql.ORGANIZATION_MEMBERS, org, MAX_MEMBERS)
    return json_response(MemberList(items=[MemberOut(**dict(r)) for r in rows]).model_dump(mode="json"))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/me", me)
    app.router.add_get("/v1/shared-links", shared_links)
    app.router.add_get("/v1/organizations/{id}/members", members)
