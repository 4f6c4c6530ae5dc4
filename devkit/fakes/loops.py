"""Fake Loops transactional API: POST /api/v1/transactional."""

from __future__ import annotations

import base64
import binascii
import hashlib
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from devkit.fakes.base import FakeServer, SlidingWindow


def _error(status: int, message: str, path: str | None = None) -> web.Response:
    body: dict[str, Any] = {"success": False}
    if path:
        body["error"] = {"path": path, "message": message}
    else:
        body["message"] = message
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")


class FakeLoops(FakeServer):
    def __init__(
        self,
        api_key: str = "loops-test-key",
        *,
        rate_per_second: int | None = 10,
        attachments_enabled: bool = True,
        save_dir: Path | None = None,
    ) -> None:
        super().__init__(save_dir)
        self.api_key = api_key
        self.window = SlidingWindow(rate_per_second) if rate_per_second else None
        self.attachments_enabled = attachments_enabled
        self.accepted_keys: set[str] = set()

    def app(self) -> web.Application:
        app = web.Application(client_max_size=100 * 1024 * 1024)
        app.router.add_post("/api/v1/transactional", self.transactional)
        return app

    @property
    def sent(self) -> list[dict[str, Any]]:
        return [r for r in self.received if not r.get("duplicate")]

    async def transactional(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return _error(401, "Invalid API key")
        if self.window and not self.window.allow("team"):
            self.rate_limited += 1
            response = _error(429, "Rate limit exceeded")
            response.headers.update({"x-ratelimit-limit": str(self.window.limit), "x-ratelimit-remaining": "0"})
            return response
        raw = await request.read()
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return _error(400, "Invalid JSON body")
        if not isinstance(body, dict):
            return _error(400, "Body must be an object")
        for required in ("transactionalId", "email"):
            if not isinstance(body.get(required), str) or not body[required]:
                return _error(400, f"{required} is required", path=required)
        attachments = body.get("attachments") or []
        if attachments and not self.attachments_enabled:
            return _error(400, "Attachments are not enabled for this team. Contact support to enable them.")
        files = []
        for index, item in enumerate(attachments):
            if not isinstance(item, dict) or not all(
                isinstance(item.get(k), str) for k in ("filename", "contentType", "data")
            ):
                return _error(400, "filename, contentType and data are required", path=f"attachments[{index}]")
            try:
                data = base64.b64decode(item["data"], validate=True)
            except (binascii.Error, ValueError):
                return _error(400, "data must be base64", path=f"attachments[{index}].data")
            saved = self.save(f"{body['email']}-{item['filename']}", data)
            files.append(
                {
                    "filename": item["filename"],
                    "contentType": item["contentType"],
                    "size": len(data),
                    "sha256": hashlib.sha256(data).hexdigest(),
                    "saved": saved,
                    "data": data,
                }
            )
        key = request.headers.get("Idempotency-Key")
        if key is not None and len(key) > 100:
            return _error(400, "Idempotency-Key must be at most 100 characters")
        if key and key in self.accepted_keys:
            self.received.append({"email": body["email"], "idempotency_key": key, "duplicate": True})
            return _error(409, "Request with this idempotency key was already processed")
        action = self.next_action()
        record = {
            "email": body["email"],
            "transactionalId": body["transactionalId"],
            "dataVariables": body.get("dataVariables") or {},
            "attachments": files,
            "idempotency_key": key,
        }
        if action is not None and not action.accept:
            await self.stall(action.delay)
            if action.html:
                return web.Response(
                    status=action.status,
                    text="<html><body>Bad gateway</body></html>",
                    content_type="text/html",
                )
            return web.Response(
                status=action.status,
                body=orjson.dumps(action.body or {"success": False, "message": "scripted failure"}),
                content_type="application/json",
            )
        self.received.append(record)
        if key:
            self.accepted_keys.add(key)
        if action is not None:  # accepted, then the response is lost or slow
            await self.stall(action.delay)
            return web.Response(status=action.status, text="upstream timeout", content_type="text/plain")
        return web.Response(body=orjson.dumps({"success": True}), content_type="application/json")
