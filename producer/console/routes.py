"""Serves the console's files with the headers that keep a page holding a token safe."""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from shared.settings import Settings

STATIC = Path(__file__).resolve().parent / "static"
# Every file the console serves, read once: nothing outside this list is reachable by a crafted path.
FILES = {
    "app.js": "text/javascript",
    "app.css": "text/css",
    "vendor/axe-core/axe.min.js": "text/javascript",
}


@dataclass(frozen=True)
class Asset:
    body: bytes
    content_type: str
    # The same bytes gzipped once at start (mtime 0, so the same every time), for clients that accept it.
    gzipped: bytes

    @classmethod
    def of(cls, path: Path, content_type: str) -> Asset:
        body = path.read_bytes()
        return cls(body, content_type, gzip.compress(body, compresslevel=9, mtime=0))


def security_headers(settings: Settings) -> dict[str, str]:
    # Scripts and styles only from this origin (no inline code, no eval); the API is the only place fetched.
    policy = (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
        f"form-action 'none'; base-uri 'none'; frame-ancestors {settings.console_frame_ancestors}"
    )
    # nosniff and no-store come with every answer of the app (shared.health.security_headers).
    return {"Content-Security-Policy": policy, "Referrer-Policy": "no-referrer"}


def add_routes(app: web.Application, settings: Settings) -> None:
    headers = security_headers(settings)
    index = Asset.of(STATIC / "index.html", "text/html")
    assets = {name: Asset.of(STATIC / name, kind) for name, kind in FILES.items()}

    def respond(request: web.Request, asset: Asset) -> web.Response:
        if "gzip" in request.headers.get("Accept-Encoding", "").lower():
            zipped = {**headers, "Content-Encoding": "gzip", "Vary": "Accept-Encoding"}
            return web.Response(body=asset.gzipped, content_type=asset.content_type, charset="utf-8", headers=zipped)
        return web.Response(
            body=asset.body,
            content_type=asset.content_type,
            charset="utf-8",
            headers={**headers, "Vary": "Accept-Encoding"},
        )

    async def page(request: web.Request) -> web.Response:
        return respond(request, index)

    async def static(request: web.Request) -> web.Response:
        asset = assets.get(request.match_info["path"])
        if asset is None:
            raise web.HTTPNotFound(reason="no such console file")
        return respond(request, asset)

    app.router.add_get("/", page)
    app.router.add_get("/console/{path:.+}", static)
