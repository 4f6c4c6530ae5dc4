"""Fake Telegram Bot API: sendDocument and sendMediaGroup (multipart, files read in chunks against the upload
limit) and sendMessage."""

from __future__ import annotations

import hashlib
import itertools
from pathlib import Path
from typing import Any

import orjson
from aiohttp import BodyPartReader, web

from devkit.fakes.base import FakeServer, SlidingWindow


def _error(code: int, description: str, **parameters: Any) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return web.Response(status=code, body=orjson.dumps(body), content_type="application/json")


class FakeTelegram(FakeServer):
    def __init__(
        self,
        token: str = "123456:TEST",
        *,
        enforce_limits: bool = True,
        max_upload_bytes: int = 50 * 1024 * 1024,
        save_dir: Path | None = None,
    ) -> None:
        super().__init__(save_dir)
        self.token = token
        self.max_upload_bytes = max_upload_bytes
        self.global_window = SlidingWindow(30) if enforce_limits else None
        self.chat_window = SlidingWindow(1, seconds=0.95) if enforce_limits else None
        self.blocked: set[int] = set()
        self.missing: set[int] = set()
        self.migrations: dict[int, int] = {}
        # Seconds each accepted request takes at the server, like a slow upload.
        self.upload_delay = 0.0
        self._ids = itertools.count(1)
        self._albums = itertools.count(13_579_246_810)

    def app(self) -> web.Application:
        app = web.Application(client_max_size=200 * 1024 * 1024)
        app.router.add_post("/bot{token}/{method}", self.method)
        return app

    def documents(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        """Every document the chat got, whether sent alone or in an album (one record per document)."""
        return [
            r
            for r in self.received
            if r["method"] in ("sendDocument", "sendMediaGroup") and (chat_id is None or r["chat_id"] == chat_id)
        ]

    def media_groups(self, chat_id: int | None = None) -> list[list[dict[str, Any]]]:
        """The albums the chat got, each as its documents in order (one accepted sendMediaGroup each)."""
        groups: dict[str, list[dict[str, Any]]] = {}
        for r in self.received:
            if r["method"] == "sendMediaGroup" and (chat_id is None or r["chat_id"] == chat_id):
                groups.setdefault(r["media_group_id"], []).append(r)
        return list(groups.values())

    async def _fields(self, request: web.Request) -> tuple[dict[str, str], dict[str, dict[str, Any]]] | web.Response:
        """The form's text fields, and its uploaded files by field name."""
        fields: dict[str, str] = {}
        files: dict[str, dict[str, Any]] = {}
        if request.content_type == "multipart/form-data":
            reader = await request.multipart()
            async for part in reader:
                if not isinstance(part, BodyPartReader):
                    continue
                if part.name and part.filename is not None:
                    digest, size, chunks = hashlib.sha256(), 0, []
                    while chunk := await part.read_chunk(256 * 1024):
                        size += len(chunk)
                        if size > self.max_upload_bytes:
                            return web.Response(
                                status=413,
                                text="<html><head><title>413 Request Entity Too "
                                "Large</title></head><body></body></html>",
                                content_type="text/html",
                            )
                        digest.update(chunk)
                        chunks.append(chunk)
                    files[part.name] = {
                        "filename": part.filename,
                        "size": size,
                        "sha256": digest.hexdigest(),
                        "content_type": part.headers.get("Content-Type"),
                        "data": b"".join(chunks),
                    }
                elif part.name:
                    fields[part.name] = (await part.read()).decode()
        else:
            data = await request.post()
            fields = {k: str(v) for k, v in data.items()}
        return fields, files

    @staticmethod
    def _album(fields: dict[str, str], files: dict[str, dict[str, Any]]) -> list[dict[str, Any]] | web.Response:
        """sendMediaGroup's `media`: 2 to 10 InputMediaDocument, each an attach://name of an uploaded field,
        as (caption, parse_mode, document) records; or the Bot API's 400."""
        if "media" not in fields:
            return _error(400, 'Bad Request: parameter "media" is required')
        try:
            media = orjson.loads(fields["media"])
        except orjson.JSONDecodeError:
            return _error(400, "Bad Request: can't parse media JSON object")
        if not isinstance(media, list) or not all(isinstance(m, dict) for m in media):
            return _error(400, "Bad Request: expected an Array of InputMedia")
        if not 2 <= len(media) <= 10:
            return _error(400, "Bad Request: media must include 2-10 items")
        album = []
        for item in media:
            if item.get("type") != "document":
                # Documents can only be grouped with documents (and this fake takes no other kind).
                return _error(400, "Bad Request: document can't be mixed with other media types")
            reference = str(item.get("media", ""))
            if not reference.startswith("attach://") or reference.removeprefix("attach://") not in files:
                return _error(400, "Bad Request: can't parse InputMedia: media not found")
            caption = item.get("caption")
            if caption is not None and len(str(caption)) > 1024:
                return _error(400, "Bad Request: message caption is too long")
            album.append(
                {
                    "caption": caption,
                    "parse_mode": item.get("parse_mode"),
                    "document": files[reference.removeprefix("attach://")],
                }
            )
        return album

    async def method(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        if self.upload_delay:
            await self.stall(self.upload_delay)
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        name = request.match_info["method"]
        if name not in ("sendDocument", "sendMediaGroup", "sendMessage"):
            return _error(404, "Not Found")
        parsed = await self._fields(request)
        if isinstance(parsed, web.Response):
            return parsed
        fields, files = parsed
        try:
            chat_id = int(fields.get("chat_id", ""))
        except ValueError:
            return _error(400, "Bad Request: chat_id is empty")
        if name == "sendDocument" and "document" not in files:
            return _error(400, "Bad Request: there is no document in the request")
        if len(fields.get("caption", "")) > 1024:
            return _error(400, "Bad Request: message caption is too long")
        album = self._album(fields, files) if name == "sendMediaGroup" else []
        if isinstance(album, web.Response):
            return album
        if self.global_window and not self.global_window.allow("bot"):
            self.rate_limited += 1
            return _error(429, "Too Many Requests: retry after 1", retry_after=1)
        if self.chat_window and not self.chat_window.allow(str(chat_id)):
            self.rate_limited += 1
            return _error(429, "Too Many Requests: retry after 1", retry_after=1)
        if chat_id in self.migrations:
            return _error(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                migrate_to_chat_id=self.migrations[chat_id],
            )
        if chat_id in self.missing:
            return _error(400, "Bad Request: chat not found")
        if chat_id in self.blocked:
            return _error(403, "Forbidden: bot was blocked by the user")
        action = self.next_action()
        if action is not None and not action.accept:
            await self.stall(action.delay)
            if action.html:
                return web.Response(status=action.status, text="<html>error</html>", content_type="text/html")
            return web.Response(
                status=action.status,
                body=orjson.dumps(
                    action.body or {"ok": False, "error_code": action.status, "description": "scripted failure"}
                ),
                content_type="application/json",
            )
        if name == "sendMediaGroup":
            group = str(next(self._albums))  # a media_group_id is a string of digits
            records = [{"method": name, "chat_id": chat_id, "text": None, "media_group_id": group, **a} for a in album]
        else:
            document = files.get("document") if name == "sendDocument" else None
            records = [
                {
                    "method": name,
                    "chat_id": chat_id,
                    "caption": fields.get("caption"),
                    "text": fields.get("text"),
                    **({"document": document} if document is not None else {}),
                }
            ]
        messages = [self._keep(record) for record in records]
        if action is not None:  # accepted, then the response is lost or slow
            await self.stall(action.delay)
            return web.Response(status=action.status, text="gateway timeout", content_type="text/plain")
        result = messages if name == "sendMediaGroup" else messages[0]
        return web.Response(body=orjson.dumps({"ok": True, "result": result}), content_type="application/json")

    def _keep(self, record: dict[str, Any]) -> dict[str, Any]:
        """Record one message as the chat got it (its document saved under save_dir); its Message object."""
        document = record.get("document")
        if document is not None:
            saved = self.save(f"chat{record['chat_id']}-{document['filename']}", document["data"])
            record["document"] = {**document, "saved": saved}
        self.received.append(record)
        message: dict[str, Any] = {"message_id": next(self._ids), "chat": {"id": record["chat_id"]}, "date": 0}
        if "media_group_id" in record:
            message["media_group_id"] = record["media_group_id"]
        return message
