"""Serves the console's files with the headers that keep a page holding a token safe."""

from __future__ import annotations

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


def security_headers(settings: Settings) -> dict[str, str]:
    # Scripts and styles only from this origin (no inline code, no eval); the API is the only place fetched.
    policy = (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
        f"form-action 'none'; base-uri 'none'; frame-ancestors {settings.console_frame_ancestors}"
    )
    return {
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-cache",
    }


def add_routes(app: web.Application, settings: Settings) -> None:
    headers = security_headers(settings)
    index = Asset((STATIC / "index.html").read_bytes(), "text/html")
    assets = {name: Asset((STATIC / name).read_bytes(), kind) for name, kind in FILES.items()}

    def respond(asset: Asset) -> web.Response:
        return web.Response(body=asset.body, content_type=asset.content_type, charset="utf-8", headers=headers)

    async def page(_: web.Request) -> web.Response:
        return respond(index)

    async def static(request: web.Request) -> web.Response:
        asset = assets.get(request.match_info["path"])
        if asset is None:
            raise web.HTTPNotFound(reason="no such console file")
        return respond(asset)

    app.router.add_get("/", page)
    app.router.add_get("/console/{path:.+}", static)
