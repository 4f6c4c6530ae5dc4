"""Whatever arq pops from our queue decodes to a job that runs: our function, or the poison recorder."""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson
from arq import Retry

from consumer import metrics
from consumer.deps import Deps
from shared import deadletters
from shared.db import DB_ERRORS
from shared.message import FUNCTION_NAME

log = logging.getLogger(__name__)

POISON_FUNCTION = "shared_report.poison"
_HEADER = ("f", "a", "k", "t", "et")


def _poison(data: bytes, reason: str, kind: str) -> dict[str, Any]:
    head = deadletters.text_head(data)
    return {
        "f": POISON_FUNCTION,
        "a": [],
        "k": {"reason": reason, "kind": kind, "head": head, "size": len(data)},
        "t": None,
        "et": int(time.time() * 1000),
    }


def load_job(data: bytes) -> dict[str, Any]:
    """arq's job deserializer: never raises, so no entry can fail before it is recorded."""
    try:
        job = orjson.loads(data)
    except orjson.JSONDecodeError:
        kind = "pickle" if data[:1] == b"\x80" else "undecodable"
        return _poison(data, f"the entry is not JSON ({kind} bytes, {len(data)} bytes)", kind)
    if not isinstance(job, dict) or any(key not in job for key in _HEADER):
        return _poison(data, "the entry is JSON but not an arq job", "not_a_job")
    function, args, kwargs = job["f"], job["a"], job["k"]
    if function != FUNCTION_NAME:
        return _poison(data, f"unknown function {str(function)[:100]!r}", "unknown_function")
    if not isinstance(args, list) or not isinstance(kwargs, dict):
        return _poison(data, "arguments are not a list and a mapping", "bad_arguments")
    if len(args) + len(kwargs) != 1 or (kwargs and "payload" not in kwargs):
        names = ", ".join(sorted(str(k) for k in kwargs)) or "none"
        return _poison(
            data, f"expected exactly one payload argument, got {len(args)} and keywords {names}", "bad_arguments"
        )
    if not isinstance(job["et"], int) or not isinstance(job["t"], int | None):
        return _poison(data, "the job header has no valid enqueue time or try", "not_a_job")
    return job


async def record(deps: Deps, job_id: str, reason: str, kind: str, payload: Any, size: int, attempts: int) -> None:
    await deadletters.record(
        deps.pool,
        run_id=None,
        organization_id=None,
        job_id=job_id,
        payload=payload,
        error=reason,
        attempts=attempts,
        poison=True,
        payload_bytes=size,
    )
    metrics.POISON.labels(kind).inc()
    metrics.DEAD_LETTERS.inc()
    log.error("poison queue entry %s dead-lettered: %s", job_id, reason)


async def poison(ctx: dict[str, Any], reason: str, kind: str, head: str, size: int) -> dict[str, Any]:
    """The job every undecodable or mis-shaped entry becomes: store it (bounded), never run it."""
    try:
        await record(ctx["deps"], ctx.get("job_id", ""), reason, kind, {"head": head}, size, ctx.get("job_try", 1))
    except DB_ERRORS as exc:
        raise Retry(defer=1.0) from exc
    return {"status": "dead", "poison": kind}


__all__ = ["DB_ERRORS", "POISON_FUNCTION", "load_job", "poison", "record"]
