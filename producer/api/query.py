"""Query-string parameters: only the ones a route knows, each parsed strictly and named when it is wrong."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime
from functools import lru_cache

from aiohttp import web

from producer.api.errors import ApiError, Handler, validation

# What PostgreSQL can hold and this API ever returns: instants outside it are refused, not clamped.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)


def only(request: web.Request, allowed: Collection[str]) -> None:
    """A parameter the route does not know is refused, so a typo never silently widens a list."""
    unknown = sorted({name for name in request.query if name not in allowed})
    if unknown:
        names = ", ".join(repr(name[:64]) for name in unknown[:10])
        known = ", ".join(sorted(allowed)) or "none"
        raise ApiError(
            400,
            f"unknown query parameter(s) {names}; this route takes: {known}",
            [{"field": name[:64], "message": "is not a parameter of this route"} for name in unknown[:10]],
        )


def choice(request: web.Request, name: str, values: Collection[str]) -> str | None:
    value = request.query.get(name)
    if value is None or value == "":
        return None
    if value not in values:
        raise validation(name, f"must be one of {', '.join(values)}")
    return value


def flag(request: web.Request, name: str) -> bool:
    value = request.query.get(name, "")
    if value not in ("", "true", "false"):
        raise validation(name, "must be true or false")
    return value == "true"


def instant(request: web.Request, name: str) -> datetime | None:
    value = request.query.get(name)
    if value is None or value == "":
        return None
    example = "e.g. 2026-12-01T00:00:00Z"
    try:
        if not value.isascii():
            raise ValueError(value)
        # An unencoded "+" in a query string arrives as a space.
        parsed = datetime.fromisoformat(value.replace(" ", "+"))
    except ValueError as exc:
        raise validation(name, f"must be an instant with a time zone, {example}") from exc
    if parsed.tzinfo is None:
        raise validation(name, f"must carry a time zone (Z or an offset), {example}")
    if not EARLIEST <= parsed <= LATEST:
        raise validation(name, "must be between 1970 and 9999")
    return parsed.astimezone(UTC)


def integer(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    text = request.query.get(name)
    if text is None or text == "":
        return default
    if not (text.isascii() and text.isdigit() and len(text) <= 6) or not low <= int(text) <= high:
        raise validation(name, f"must be an integer from {low} to {high}")
    return int(text)


@lru_cache(maxsize=256)
def declared(path: str, method: str) -> frozenset[str] | None:
    """The query parameters the OpenAPI document gives this route; None for a route it does not describe."""
    from producer.api.openapi import document

    item = document()["paths"].get(path)
    if item is None or method.lower() not in item:
        return None
    params = [*item.get("parameters", []), *item[method.lower()].get("parameters", [])]
    return frozenset(p["name"] for p in params if p["in"] == "query")


@web.middleware
async def query_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    # The document is the one list of each route's parameters, so what it says and what is accepted agree.
    resource = request.match_info.route.resource
    if request.query and resource is not None:
        allowed = declared(resource.canonical, request.method)
        if allowed is not None:
            only(request, allowed)
    return await handler(request)
