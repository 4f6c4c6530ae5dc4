"""Bearer JWT (HS256, exp, aud) and organization membership."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

import jwt
from aiohttp import web

from producer.api.errors import ApiError
from shared.db import Pool
from shared.settings import Settings

WRITE_ROLES = ("owner", "admin")


@dataclass(frozen=True)
class Principal:
    user_id: UUID | None
    service: bool

    async def role_in(self, pool: Pool, organization_id: UUID) -> str | None:
        if self.service:
            return "service"
        role: str | None = await pool.fetchval(
            "SELECT role FROM organization_members WHERE organization_id = $1 AND user_id = $2",
            organization_id,
            self.user_id,
        )
        return role

    async def organizations(self, pool: Pool) -> list[UUID] | None:
        """The organizations this principal may read; None means all (service role)."""
        if self.service:
            return None
        rows = await pool.fetch("SELECT organization_id FROM organization_members WHERE user_id = $1", self.user_id)
        return [r["organization_id"] for r in rows]


def authenticate(request: web.Request, settings: Settings) -> Principal:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise ApiError(401, "missing bearer token: send Authorization: Bearer <JWT>")
    if not token.isascii():
        # A JWT is ASCII; other bytes would make the decoder raise before it can say "invalid".
        raise ApiError(401, "invalid token: a JWT holds only ASCII characters")
    assert settings.jwt_secret is not None
    try:
        claims = jwt.decode(
            token,
            settings.jwt_secret.get_secret_value(),
            algorithms=["HS256"],
            audience=settings.jwt_audience,
            options={"require": ["exp"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise ApiError(401, "token expired") from exc
    except jwt.InvalidTokenError as exc:
        raise ApiError(401, f"invalid token: {exc}") from exc
    except (ValueError, TypeError) as exc:  # malformed claims that PyJWT does not wrap
        raise ApiError(401, "invalid token: malformed") from exc
    if claims.get("role") == "service_role":
        return Principal(None, True)
    try:
        return Principal(UUID(str(claims.get("sub"))), False)
    except ValueError as exc:
        raise ApiError(401, "invalid token: sub must be a user id") from exc


async def require_role(
    principal: Principal, pool: Pool, organization_id: UUID, *, write: bool, what: str = "schedule"
) -> str:
    """Reading needs membership; writing needs owner or admin. Non-members get 404, not 403."""
    role = await principal.role_in(pool, organization_id)
    if role is None:
        raise ApiError(404, f"{what} not found")
    if write and role not in (*WRITE_ROLES, "service"):
        raise ApiError(403, f"your role '{role}' may read but not change this organization's {what}s")
    return role
