"""JSON (orjson) for everything arq stores in Redis: never pickle."""

from __future__ import annotations

from typing import Any

import orjson


def _default(value: Any) -> Any:
    # Job results may hold exceptions or other objects; store their text rather than fail the result.
    if isinstance(value, BaseException):
        return f"{type(value).__name__}: {value}"
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


def dumps(value: Any) -> bytes:
    return orjson.dumps(value, default=_default, option=orjson.OPT_NON_STR_KEYS)


def loads(data: bytes | str) -> Any:
    return orjson.loads(data)
