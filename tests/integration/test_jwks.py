"""RS256 and ES256 tokens verified against a JWKS the test serves: kid honoured, rotation picked up, the
cache kept through a JWKS outage, and the classic forgeries refused."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from producer.api import jwks as jwks_module
from producer.app import create_app
from shared.db import Pool
from shared.settings import Settings
from tests.support import seed


def _jwk(private: Any, kid: str, alg: str) -> dict[str, Any]:
    algorithm = jwt.algorithms.RSAAlgorithm if alg.startswith("RS") else jwt.algorithms.ECAlgorithm
    data: dict[str, Any] = json.loads(algorithm.to_jwk(private.public_key()))
    return {**data, "kid": kid, "alg": alg, "use": "sig"}


class JwksServer:
    def __init__(self) -> None:
        self.keys: list[dict[str, Any]] = []
        self.hits = 0
        self.down = False
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def handle(self, _: web.Request) -> web.Response:
        self.hits += 1
        if self.down:
            return web.Response(status=503)
        return web.json_response({"keys": self.keys})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/auth/v1/.well-known/jwks.json", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/auth/v1/.well-known/jwks.json"


@pytest.fixture
async def keyserver() -> AsyncIterator[JwksServer]:
    server = JwksServer()
    await server.start()
    yield server
    assert server.runner is not None
    await server.runner.cleanup()


def _token(private: Any, alg: str, kid: str | None, sub: str, **claims: Any) -> str:
    body = {"sub": sub, "aud": "authenticated", "exp": int(time.time()) + 600, **claims}
    return jwt.encode(body, private, algorithm=alg, headers={"kid": kid} if kid else None)


async def test_asymmetric_tokens_from_a_jwks(
    pool: Pool, settings: Settings, keyserver: JwksServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jwks_module, "MIN_REFRESH_SECONDS", 0.2)
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    keyserver.keys = [_jwk(rsa_key, "rsa-1", "RS256"), _jwk(ec_key, "ec-1", "ES256")]
    org = await seed.organization(pool)
    user = str(await seed.user(pool, "jwks@example.com", org))
    app = create_app(settings.model_copy(update={"jwt_jwks_url": keyserver.url}), run_scheduler=False)
    async with TestClient(TestServer(app)) as client:

        async def status(token: str) -> int:
            async with client.get("/v1/schedules", headers={"Authorization": f"Bearer {token}"}) as r:
                return r.status

        assert await status(_token(rsa_key, "RS256", "rsa-1", user)) == 200
        assert await status(_token(ec_key, "ES256", "ec-1", user)) == 200
        fetched = keyserver.hits
        # Rotation: a new key published later is fetched when a token first names it.
        new_key = ec.generate_private_key(ec.SECP256R1())
        keyserver.keys.append(_jwk(new_key, "ec-2", "ES256"))
        await asyncio.sleep(0.25)
        assert await status(_token(new_key, "ES256", "ec-2", user)) == 200
        assert keyserver.hits == fetched + 1
        # Forgeries: another key under a known kid, an RSA kid with an ES256 token, the public key as an
        # HMAC secret, a kid nobody published, an expired token, a wrong audience.
        stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        assert await status(_token(stranger, "RS256", "rsa-1", user)) == 401
        assert await status(_token(ec_key, "ES256", "rsa-1", user)) == 401
        before = keyserver.hits
        for i in range(20):
            assert await status(_token(stranger, "RS256", f"made-up-{i}", user)) == 401
        assert keyserver.hits - before <= 2  # refetches for unknown kids are throttled
        assert await status(_token(rsa_key, "RS256", "rsa-1", user, exp=int(time.time()) - 10)) == 401
        assert await status(_token(rsa_key, "RS256", "rsa-1", user, aud="someone-else")) == 401
        # A JWKS outage keeps the cached keys working.
        keyserver.down = True
        await asyncio.sleep(0.25)
        assert await status(_token(rsa_key, "RS256", "rsa-1", user)) == 200
        # HS256 tokens keep working beside the JWKS while JWT_SECRET is set.
        assert settings.jwt_secret is not None
        hs = jwt.encode(
            {"sub": user, "aud": "authenticated", "exp": int(time.time()) + 600},
            settings.jwt_secret.get_secret_value(),
            algorithm="HS256",
        )
        assert await status(hs) == 200


async def test_the_public_key_used_as_an_hmac_secret_is_refused(
    pool: Pool, settings: Settings, keyserver: JwksServer
) -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    keyserver.keys = [_jwk(rsa_key, "rsa-1", "RS256")]
    org = await seed.organization(pool)
    user = str(await seed.user(pool, "confused@example.com", org))
    only_jwks = settings.model_copy(update={"jwt_jwks_url": keyserver.url, "jwt_secret": None})
    pem = rsa_key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    import base64
    import hashlib
    import hmac

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}).encode())
    payload = b64(json.dumps({"sub": user, "aud": "authenticated", "exp": int(time.time()) + 600}).encode())
    signature = b64(hmac.new(pem, f"{header}.{payload}".encode(), hashlib.sha256).digest())
    async with TestClient(TestServer(create_app(only_jwks, run_scheduler=False))) as client:
        headers = {"Authorization": f"Bearer {header}.{payload}.{signature}"}
        async with client.get("/v1/schedules", headers=headers) as response:
            assert response.status == 401
            assert "HS256" in (await response.json())["error"]["message"]
