"""Response models of the directory routes (who is signed in, their organizations' links and members)."""

from __future__ import annotations

from uuid import UUID

from pydantic import BaseModel


class OrganizationOut(BaseModel):
    id: UUID
    name: str
    role: str


class MeOut(BaseModel):
    user_id: UUID | None
    email: str | None
    full_name: str | None
    service: bool
    organizations: list[OrganizationOut]


class LinkOut(BaseModel):
    id: UUID
    organization_id: UUID
    title: str
    slug: str


class MemberOut(BaseModel):
    user_id: UUID
    email: str
    full_name: str | None
    role: str


class LinkList(BaseModel):
    items: list[LinkOut]


class MemberList(BaseModel):
    items: list[MemberOut]
