"""Bearer JWT (HS256 with JWT_SECRET, or RS256/ES256 from a JWKS; exp, aud) and organization membership."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import jwt
from aiohttp import web

from producer.api import sql
from producer.api.errors import ApiError
from producer.api.jwks import ASYMMETRIC, JWKS, Jwks
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
        role: str | None = await pool.fetchval(sql.MEMBER_ROLE, organization_id, self.user_id)
        return role

    async def organizations(self, pool: Pool) -> list[UUID] | None:
        """The organizations this principal may read; None means all (service role)."""
        if self.service:
            return None
        rows = await pool.fetch(sql.MEMBER_ORGANIZATIONS, self.user_id)
        return [r["organization_id"] for r in rows]


def _verify(token: str, settings: Settings, jwks: Jwks | None) -> dict[str, Any]:
    header = jwt.get_unverified_header(token)
    alg = header.get("alg")
    options: jwt.types.Options = {"require": ["exp"]}
    if alg == "HS256":
        if settings.jwt_secret is None:
            raise jwt.InvalidTokenError("HS256 tokens are not accepted here (no JWT_SECRET)")
        return jwt.decode(
            token,
            settings.jwt_secret.get_secret_value(),
            algorithms=["HS256"],
            audience=settings.jwt_audience,
            options=options,
        )
    if alg not in ASYMMETRIC or jwks is None:
        raise jwt.InvalidTokenError(f"algorithm {alg!r} is not accepted")
    key = jwks.get(header.get("kid"))
    if key is None:
        raise jwt.InvalidTokenError(f"no signing key with kid {str(header.get('kid'))[:64]!r} in the JWKS")
    # The key's own algorithm, never the token's say-so alone: an RSA key cannot verify an ES256 token.
    allowed = [key.algorithm_name] if key.algorithm_name in ASYMMETRIC else [alg]
    return jwt.decode(
        token,
        key.key,
        algorithms=allowed,
        audience=settings.jwt_audience,
        issuer=settings.jwt_issuer,
        options=options,
    )


def authenticate(request: web.Request, settings: Settings) -> Principal:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise ApiError(401, "missing bearer token: send Authorization: Bearer <JWT>")
    if not token.isascii():
        # A JWT is ASCII; other bytes would make the decoder raise before it can say "invalid".
        raise ApiError(401, "invalid token: a JWT holds only ASCII characters")
    try:
        claims = _verify(token, settings, request.app.get(JWKS))
    except jwt.ExpiredSignatureError as exc:
        raise ApiError(401, "token expired") from exc
    except jwt.InvalidSignatureError as exc:
        raise ApiError(401, "invalid token: the signature does not match (signed with another key?)") from exc
    except jwt.DecodeError as exc:
        # PyJWT's own words ("Not enough segments", "Invalid header padding") say less than this.
        raise ApiError(401, "invalid token: not a JWT (expected header.payload.signature)") from exc
    except jwt.InvalidTokenError as exc:
        raise ApiError(401, f"invalid token: {exc}") from exc
    except (ValueError, TypeError) as exc:  # malformed claims that PyJWT does not wrap
        raise ApiError(401, "invalid token: malformed") from exc
    if claims.get("role") == "service_role":
        # Supabase issues the service role key as a long-lived secret: the lifetime cap is for user sessions.
        return Principal(None, True)
    if claims["exp"] - time.time() > settings.jwt_max_lifetime_seconds:
        raise ApiError(
            401,
            f"invalid token: valid for longer than JWT_MAX_LIFETIME_SECONDS ({settings.jwt_max_lifetime_seconds} s)",
        )
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
