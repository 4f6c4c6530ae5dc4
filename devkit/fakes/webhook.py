"""A webhook receiver that checks what a real one should: the Standard Webhooks signature and timestamp,
and repeats by webhook-id; each path can answer with scripted statuses."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from collections import defaultdict, deque
from pathlib import Path
from typing import Any, NamedTuple

import orjson
from aiohttp import web

from devkit.fakes.base import FakeServer

TOLERANCE_SECONDS = 300


def verify(secret: str, headers: Any, body: bytes) -> bool:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    message_id, timestamp = headers.get("webhook-id", ""), headers.get("webhook-timestamp", "")
    if not message_id or not timestamp.isdigit() or abs(time.time() - int(timestamp)) > TOLERANCE_SECONDS:
        return False
    expected = base64.b64encode(
        hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    ).decode()
    offered = [s.split(",", 1)[1] for s in headers.get("webhook-signature", "").split() if s.startswith("v1,")]
    return any(hmac.compare_digest(expected, s) for s in offered)


class WebhookReceiver(FakeServer):
    def __init__(self, secret: str, *, max_body_bytes: int = 200 * 1024 * 1024, save_dir: Path | None = None) -> None:
        super().__init__(save_dir)
        self.secret = secret
        self.max_body_bytes = max_body_bytes
        # path -> statuses to answer, one per request, before accepting (e.g. [429, 429] or [500] * 10).
        self.answers: dict[str, deque[int]] = defaultdict(deque)
        # Paths that answer this status for good (410 for a removed endpoint, say).
        self.always: dict[str, int] = {}
        # Paths that answer 429 for good, with this Retry-After value (garbage included, as a hostile one would).
        self.throttled: dict[str, str] = {}
        self.bad_signatures = 0
        self.ids: dict[str, int] = defaultdict(int)
        # Requests per path, whatever they were answered.
        self.calls: dict[str, int] = defaultdict(int)

    def app(self) -> web.Application:
        app = web.Application(client_max_size=self.max_body_bytes + 1024 * 1024)
        app.router.add_post("/{path:.*}", self.handle)
        return app

    def deliveries(self, path: str | None = None) -> list[dict[str, Any]]:
        return [r for r in self.received if path is None or r["path"] == path]

    async def handle(self, request: web.Request) -> web.Response:
        self.requests += 1
        path = "/" + request.match_info["path"]
        self.calls[path] += 1
        if request.content_length is not None and request.content_length > self.max_body_bytes:
            return web.Response(status=413, text="payload too large")
        body = await request.read()
        if not verify(self.secret, request.headers, body):
            self.bad_signatures += 1
            return web.Response(status=401, text="bad signature")
        if path in self.throttled:
            self.rate_limited += 1
            return web.Response(status=429, headers={"Retry-After": self.throttled[path]}, text="slow down")
        if path in self.always:
            return web.Response(status=self.always[path], text="scripted")
        if self.answers[path]:
            status = self.answers[path].popleft()
            if status == 429:
                self.rate_limited += 1
                return web.Response(status=429, headers={"Retry-After": "1"}, text="slow down")
            return web.Response(status=status, text="scripted")
        message_id = request.headers["webhook-id"]
        self.ids[message_id] += 1
        if self.ids[message_id] > 1:
            # A receiver de-duplicates by id: acknowledged, not processed again.
            return web.Response(status=200, text="duplicate")
        record: dict[str, Any] = {
            "path": path,
            "id": message_id,
            "chunked": "chunked" in request.headers.get("Transfer-Encoding", ""),
        }
        files: list[dict[str, Any]] = []
        for part in split_multipart(request.headers["Content-Type"], body):
            if part.name == "metadata":
                record["metadata"] = orjson.loads(part.data)
            elif part.name == "file":
                files.append(
                    {
                        "filename": part.filename,
                        "content_type": part.content_type,
                        "size": len(part.data),
                        "sha256": hashlib.sha256(part.data).hexdigest(),
                        "data": part.data,
                        "saved": self.save(part.filename or "file", part.data),
                    }
                )
            elif part.name == "text":
                record["text"] = part.data.decode()
        if files:
            # Every file part in order; the first one's fields also at the top, as a one-file receiver reads them.
            record["files"] = files
            record.update({k: files[0][k] for k in ("filename", "size", "sha256", "data", "saved")})
        self.received.append(record)
        return web.Response(status=204)


class Part(NamedTuple):
    name: str
    filename: str | None
    content_type: str | None
    data: bytes


def split_multipart(content_type: str, body: bytes) -> list[Part]:
    """Each part of a multipart/form-data body, in order."""
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if match is None:
        return []
    parts = []
    for chunk in body.split(b"--" + match.group(1).encode())[1:]:
        if chunk.startswith(b"--"):
            break
        head, _, data = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        headers = head.decode(errors="replace")
        name = re.search(r'name="([^"]*)"', headers)
        filename = re.search(r'filename="([^"]*)"', headers)
        kind = re.search(r"(?im)^content-type:\s*(.+?)\s*$", headers)
        parts.append(
            Part(
                name.group(1) if name else "",
                filename.group(1) if filename else None,
                kind.group(1) if kind else None,
                data.removesuffix(b"\r\n"),
            )
        )
    return parts
