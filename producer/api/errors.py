"""The one error shape of api.md, for every failure, and the middleware that guarantees it."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from aiohttp import web

from producer.manual import TooManyRuns
from shared.errors import InvalidInput
from shared.health import json_response
from shared.logs import request_id

log = logging.getLogger(__name__)

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    410: "gone",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
}


class ApiError(Exception):
    def __init__(
        self, status: int, message: str, details: list[dict[str, str]] | None = None, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or _CODES.get(status, "error")
        self.message = message
        self.details = details or []


def not_found(what: str = "schedule") -> ApiError:
    return ApiError(404, f"{what} not found")


def gone(deleted_at: datetime, what: str = "schedule") -> ApiError:
    return ApiError(
        410,
        f"this {what} was deleted at {deleted_at.isoformat(timespec='seconds')}; its settings and runs can still "
        f"be read, and POST /v1/{what}s/{{id}}/restore brings it back (paused) before it can be changed",
    )


def validation(field: str, message: str) -> ApiError:
    return ApiError(422, f"{field}: {message}", [{"field": field, "message": message}])


def error_body(status: int, code: str, message: str, details: list[dict[str, str]] | None = None) -> web.Response:
    body: dict[str, Any] = {"code": code, "message": message, "details": details or []}
    return json_response({"error": body}, status=status)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def refusal(exc: ApiError | InvalidInput | TooManyRuns) -> web.Response:
    """The answer to a request the API refuses on purpose (never a bug)."""
    if isinstance(exc, ApiError):
        return error_body(exc.status, exc.code, exc.message, exc.details)
    if isinstance(exc, TooManyRuns):
        response = error_body(429, "too_many_requests", str(exc))
        response.headers["Retry-After"] = str(int(exc.wait_seconds))
        return response
    details = [{"field": i.field, "message": i.message} for i in exc.issues]
    return error_body(422, "validation_error", str(exc), details)


# A caller's request id is kept only in a shape that is safe in logs and headers; any other is replaced.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def _request_id(request: web.Request) -> str:
    offered = request.headers.get("X-Request-Id", "")
    return offered if _REQUEST_ID.fullmatch(offered) else uuid.uuid4().hex


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    rid = _request_id(request)
    token = request_id.set(rid)
    try:
        response = await handler(request)
    except (ApiError, InvalidInput, TooManyRuns) as exc:
        response = refusal(exc)
    except web.HTTPRequestEntityTooLarge:
        response = error_body(413, "payload_too_large", "the request body is over the 64 KiB limit")
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = error_body(exc.status, _CODES.get(exc.status, "error"), exc.reason)
    except Exception:
        log.exception("unhandled error in %s %s", request.method, request.path)
        response = error_body(500, "internal_error", f"unexpected error; quote request id {rid} when reporting it")
    finally:
        request_id.reset(token)
    response.headers["X-Request-Id"] = rid
    return response
