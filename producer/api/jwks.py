"""Signing keys published as a JWKS (RS256/ES256 tokens, as current Supabase projects issue), cached.

Keys are fetched at start and again when the cache is older than JWT_JWKS_CACHE_SECONDS, or when a token
names a `kid` the cache does not hold (a rotation), at most once per JWKS_MIN_REFRESH_SECONDS so a flood of
made-up kids cannot turn into a flood of fetches.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import jwt
from aiohttp import web

log = logging.getLogger(__name__)

ASYMMETRIC = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
MIN_REFRESH_SECONDS = 10.0


class Jwks:
    def __init__(self, url: str, cache_seconds: float, timeout: float = 10.0) -> None:
        self.url = url
        self.cache_seconds = cache_seconds
        self.timeout = timeout
        self.keys: dict[str, jwt.PyJWK] = {}
        self.fetched_at = 0.0
        self.attempted_at = 0.0
        self.fetches = 0
        self._lock = asyncio.Lock()

    def get(self, kid: str | None) -> jwt.PyJWK | None:
        if kid is None and len(self.keys) == 1:
            return next(iter(self.keys.values()))
        return self.keys.get(kid or "")

    async def refresh(self) -> None:
        async with self._lock:
            if time.monotonic() - self.attempted_at < MIN_REFRESH_SECONDS and self.fetched_at:
                return
            self.attempted_at = time.monotonic()
            self.fetches += 1
            try:
                timeout = aiohttp.ClientTimeout(total=self.timeout)
                async with aiohttp.ClientSession(timeout=timeout) as session, session.get(self.url) as response:
                    response.raise_for_status()
                    data: Any = await response.json(content_type=None)
                keys = jwt.PyJWKSet.from_dict(data).keys
            except (aiohttp.ClientError, TimeoutError, ValueError, jwt.PyJWKSetError, jwt.PyJWKError) as exc:
                # Keep serving with the keys we have: a JWKS outage must not log everyone out.
                log.warning(
                    "could not fetch the JWKS (%s); keeping %d cached key(s)", type(exc).__name__, len(self.keys)
                )
                return
            self.keys = {k.key_id or "": k for k in keys if k.public_key_use in (None, "sig")}
            self.fetched_at = time.monotonic()

    async def ensure(self, kid: str | None) -> None:
        stale = time.monotonic() - self.fetched_at > self.cache_seconds
        if stale or self.get(kid) is None:
            await self.refresh()


JWKS = web.AppKey("jwks", Jwks)


@web.middleware
async def jwks_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Before a handler authenticates, make sure the key the token names is cached (authentication is sync)."""
    jwks = request.app.get(JWKS)
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if jwks is not None and scheme.lower() == "bearer" and token.isascii():
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            header = {}
        if header.get("alg") in ASYMMETRIC:
            await jwks.ensure(header.get("kid"))
    return await handler(request)
