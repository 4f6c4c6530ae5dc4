"""The public end of one-click unsubscribe: /u/{token}, without authentication.

GET shows a confirmation page (this schedule, or every report of the organization); POST records the
unsubscribe, including the RFC 8058 one-click POST a mailbox provider sends (`List-Unsubscribe=One-Click`).
Every answer is the same page whether the token is valid or not, so the endpoint reveals nothing; only the
effect differs. Requests are limited per client address (UNSUBSCRIBE_RATE_PER_MINUTE).
"""

from __future__ import annotations

import html
import time
from collections import deque

from aiohttp import web

from producer.api.keys import POOL, SETTINGS
from shared import unsubscribe

HEADERS = {
    "Content-Security-Policy": "default-src 'none'; form-action 'self'; frame-ancestors 'none'",
    # The token is in the URL: never sent on as a referrer (nosniff and no-store come with every answer of the
    # app, shared.health.security_headers).
    "Referrer-Policy": "no-referrer",
}


class Limiter:
    """A sliding minute per client address; the oldest addresses are forgotten past `max_clients`."""

    def __init__(self, per_minute: int, max_clients: int = 10_000) -> None:
        self.per_minute = per_minute
        self.max_clients = max_clients
        self._seen: dict[str, deque[float]] = {}

    def allow(self, client: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        times = self._seen.pop(client, None) or deque()
        while times and times[0] <= now - 60:
            times.popleft()
        self._seen[client] = times
        if len(self._seen) > self.max_clients:
            del self._seen[next(iter(self._seen))]
        if len(times) >= self.per_minute:
            return False
        times.append(now)
        return True


LIMITER = web.AppKey("unsubscribe_limiter", Limiter)


def _page(title: str, body: str, status: int = 200) -> web.Response:
    text = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title></head><body><main><h1>{html.escape(title)}</h1>{body}</main></body></html>"
    )
    return web.Response(text=text, content_type="text/html", status=status, headers=HEADERS)


def _limited(request: web.Request) -> web.Response | None:
    if request.app[LIMITER].allow(request.remote or "unknown"):
        return None
    response = _page("Too many requests", "<p>Please try again in a minute.</p>", 429)
    response.headers["Retry-After"] = "60"
    return response


async def confirm(request: web.Request) -> web.Response:
    limited = _limited(request)
    if limited is not None:
        return limited
    # The form posts back to this same address; nothing about the token is checked or shown here.
    return _page(
        "Unsubscribe from these reports?",
        '<form method="post"><p><button type="submit" name="scope" value="schedule">'
        "Stop this report</button></p>"
        '<p><button type="submit" name="scope" value="organization">'
        "Stop all reports from this organization</button></p></form>",
    )


async def unsubscribe_now(request: web.Request) -> web.Response:
    limited = _limited(request)
    if limited is not None:
        return limited
    form = await request.post()
    settings = request.app[SETTINGS]
    secret = settings.unsubscribe_secret
    scope = unsubscribe.read(secret.get_secret_value(), request.match_info["token"]) if secret else None
    if scope is not None:
        whole = form.get("scope") == "organization"
        await unsubscribe.suppress(request.app[POOL], scope, whole_organization=whole)
    return _page("You are unsubscribed", "<p>You will not receive these reports any more.</p>")


def add_routes(app: web.Application) -> None:
    app[LIMITER] = Limiter(app[SETTINGS].unsubscribe_rate_per_minute)
    app.router.add_get("/u/{token}", confirm)
    app.router.add_post("/u/{token}", unsubscribe_now)
