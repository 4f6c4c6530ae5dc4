"""Keyset paging of the lists: a page size, and a cursor that is the last item's (instant, id), opaque to
clients."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from datetime import UTC, datetime
from uuid import UUID

import orjson
from aiohttp import web

from producer.api.errors import validation
from producer.api.query import EARLIEST, LATEST
from shared.db import Record

Cursor = tuple[datetime, UUID]


def page_size(request: web.Request) -> int:
    text = request.query.get("limit", "50")
    if not (text.isascii() and text.isdigit() and len(text) <= 3) or not 1 <= int(text) <= 100:
        raise validation("limit", "must be an integer from 1 to 100")
    return int(text)


def cursor(request: web.Request) -> Cursor | None:
    """Where the page starts: after (or before, newest first) the item the `cursor` parameter names."""
    text = request.query.get("cursor")
    if not text:
        return None
    try:
        at, item = orjson.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        instant, item_id = datetime.fromisoformat(at), UUID(item)
        # Within what this API ever returns (and PostgreSQL can hold), whatever a client pasted.
        if instant.tzinfo is None or not EARLIEST <= instant.astimezone(UTC) <= LATEST:
            raise ValueError("instant out of range")
        return instant, item_id
    except (ValueError, TypeError, OverflowError, binascii.Error, orjson.JSONDecodeError) as exc:
        raise validation("cursor", "is not a cursor returned by this API; start without one") from exc


def page(rows: Sequence[Record], size: int, at: str = "created_at") -> tuple[list[Record], str | None]:
    """The page of rows fetched with one more than `size`, and the cursor of the next page (None: no more)."""
    shown = list(rows[:size])
    if len(rows) <= size:
        return shown, None
    last = shown[-1]
    text = base64.urlsafe_b64encode(orjson.dumps([last[at].isoformat(), str(last["id"])])).decode()
    return shown, text.rstrip("=")
