"""Fake Slack Web API: the external upload flow (getUploadURLExternal, upload, completeUploadExternal) and
chat.postMessage, with Slack's answer shapes (HTTP 200 with ok:false for errors, 429 with Retry-After)."""

from __future__ import annotations

import hashlib
import itertools
import secrets
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from devkit.fakes.base import FakeServer


def _answer(**body: Any) -> web.Response:
    return web.Response(body=orjson.dumps(body), content_type="application/json")


def _error(error: str) -> web.Response:
    return _answer(ok=False, error=error)


class FakeSlack(FakeServer):
    def __init__(
        self,
        tokens: set[str] | None = None,
        *,
        channels: set[str] | None = None,
        max_upload_bytes: int = 1024 * 1024 * 1024,
        save_dir: Path | None = None,
    ) -> None:
        super().__init__(save_dir)
        self.tokens = tokens if tokens is not None else {"xoxb-test-token"}
        # Channels the bot is a member of; others exist but the bot is not in them.
        self.channels = channels if channels is not None else {"C0REPORTS"}
        self.outside: set[str] = set()
        # Channels whose shares fail with Slack's transient internal_error until removed from here.
        self.failing: set[str] = set()
        self.max_upload_bytes = max_upload_bytes
        # Answer the next N API calls with 429 and this Retry-After.
        self.rate_limit_next = 0
        self.retry_after = 1
        self.pending: dict[str, dict[str, Any]] = {}
        self.uploads: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(1)

    def app(self) -> web.Application:
        app = web.Application(client_max_size=2 * 1024 * 1024 * 1024)
        app.router.add_post("/api/{method}", self.method)
        app.router.add_post("/upload/{ticket}", self.upload)
        return app

    @property
    def api_url(self) -> str:
        return f"{self.url}/api"

    def files(self, channel_id: str | None = None) -> list[dict[str, Any]]:
        return [
            r
            for r in self.received
            if r["method"] == "files.completeUploadExternal" and (channel_id is None or r["channel_id"] == channel_id)
        ]

    async def method(self, request: web.Request) -> web.Response:
        self.requests += 1
        auth = request.headers.get("Authorization", "")
        form = {k: str(v) for k, v in (await request.post()).items()}
        token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else form.get("token", "")
        if not token:
            return _error("not_authed")
        if token not in self.tokens:
            return _error("invalid_auth")
        if self.rate_limit_next > 0:
            self.rate_limit_next -= 1
            self.rate_limited += 1
            return web.Response(status=429, headers={"Retry-After": str(self.retry_after)})
        action = self.next_action()
        if action is not None and not action.accept:
            await self.stall(action.delay)
            if action.html:
                return web.Response(status=action.status, text="<html>error</html>", content_type="text/html")
            return web.Response(status=action.status, body=orjson.dumps(action.body or {"ok": False}))
        name = request.match_info["method"]
        if name == "files.getUploadURLExternal":
            return self._ticket(form)
        if name == "files.completeUploadExternal":
            answer = self._complete(form)
            if action is not None and action.accept:
                # Shared in the channel, but the answer is lost on the way back.
                await self.stall(action.delay)
                return web.Response(status=action.status, text="upstream error")
            return answer
        if name == "chat.postMessage":
            problem = self._channel_problem(form.get("channel", ""))
            if problem:
                return _error(problem)
            self.received.append({"method": name, "channel_id": form["channel"], "text": form.get("text", "")})
            return _answer(ok=True, channel=form["channel"], ts=f"{next(self._ids)}.000100")
        return _error("unknown_method")

    def _channel_problem(self, channel: str) -> str | None:
        if channel in self.failing:
            return "internal_error"
        if channel in self.outside:
            return "not_in_channel"
        if channel not in self.channels:
            return "channel_not_found"
        return None

    def _ticket(self, form: dict[str, str]) -> web.Response:
        filename, length = form.get("filename"), form.get("length", "")
        if not filename or not length.isdigit():
            return _error("invalid_arguments")
        if int(length) > self.max_upload_bytes:
            return _error("file_too_large")
        file_id = f"F{next(self._ids):08d}"
        ticket = secrets.token_urlsafe(12)
        self.pending[ticket] = {"file_id": file_id, "filename": filename, "length": int(length)}
        return _answer(ok=True, upload_url=f"{self.url}/upload/{ticket}", file_id=file_id)

    async def upload(self, request: web.Request) -> web.Response:
        ticket = self.pending.pop(request.match_info["ticket"], None)
        if ticket is None:
            return web.Response(status=404, text="upload url expired")
        data = await request.read()
        if len(data) != ticket["length"]:
            return web.Response(status=400, text=f"expected {ticket['length']} bytes, got {len(data)}")
        self.uploads[ticket["file_id"]] = {
            **ticket,
            "sha256": hashlib.sha256(data).hexdigest(),
            "data": data,
            "path": self.save(ticket["filename"], data),
        }
        return web.Response(text=f"OK - {len(data)}")

    def _complete(self, form: dict[str, str]) -> web.Response:
        """Share one or more uploaded files (each named once) in one message with the comment."""
        try:
            files = orjson.loads(form.get("files", ""))
            ids = [str(f["id"]) for f in files]
            titles = [f.get("title") for f in files]
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
            return _error("invalid_arguments")
        if not ids or len(set(ids)) != len(ids):
            return _error("invalid_arguments")
        if any(i not in self.uploads for i in ids):
            return _error("file_not_found")
        channel = form.get("channel_id", "")
        problem = self._channel_problem(channel)
        if problem:
            return _error(problem)
        shared = [
            {
                "id": i,
                "title": title,
                "filename": self.uploads[i]["filename"],
                "size": self.uploads[i]["length"],
                "sha256": self.uploads[i]["sha256"],
                "data": self.uploads[i]["data"],
                "path": self.uploads[i]["path"],
            }
            for i, title in zip(ids, titles, strict=True)
        ]
        # One message; the first file's fields at the top too, as a one-file share is read.
        first = {k: v for k, v in shared[0].items() if k != "id"}
        self.received.append(
            {
                "method": "files.completeUploadExternal",
                "channel_id": channel,
                "initial_comment": form.get("initial_comment", ""),
                **first,
                "files": shared,
            }
        )
        return _answer(ok=True, files=[{"id": i, "title": t} for i, t in zip(ids, titles, strict=True)])
