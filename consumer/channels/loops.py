"""Email through the Loops transactional API, with an idempotency key per run and recipient."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import random
from collections.abc import AsyncIterator, Sequence
from typing import Any

import aiohttp
import orjson

from consumer.channels import timeouts
from consumer.channels.outcome import Attachment, Outcome, head
from consumer.ratelimit import RateLimiter
from consumer.retry import parse_retry_after, retry_inline
from shared.settings import Settings

_CHUNK = 3 * 64 * 1024  # a multiple of 3 keeps base64 chunks concatenable


def idempotency_key(run_id: str, recipient: str) -> str:
    """Loops takes keys of at most 100 characters: a longer one keeps its start and ends in a digest of all."""
    key = f"{run_id}:{recipient}"
    if len(key) <= 100:
        return key
    return f"{key[:36]}:{hashlib.sha256(key.encode()).hexdigest()[:63]}"


async def _body(head: dict[str, Any], attachments: Sequence[Attachment]) -> AsyncIterator[bytes]:
    """The JSON body, with each attachment base64-encoded from disk chunk by chunk (one chunk in memory at a
    time, whatever the number or size of the files)."""
    if not attachments:
        yield orjson.dumps(head)
        return
    # The body leaves in as few writes as it has chunks: each file's opening rides with its first chunk, its
    # end (and the body's, after the last file) with its last.
    prefix = orjson.dumps(head)[:-1] + b',"attachments":['
    loop = asyncio.get_running_loop()
    for index, attachment in enumerate(attachments):
        prefix += (
            (b"," if index else b"")
            + orjson.dumps({"filename": attachment.filename, "contentType": attachment.content_type})[:-1]
            + b',"data":"'
        )
        end = b'"}]}' if index == len(attachments) - 1 else b'"}'
        with attachment.path.open("rb") as handle:
            while True:
                chunk = await loop.run_in_executor(None, handle.read, _CHUNK)
                last = len(chunk) < _CHUNK
                yield prefix + base64.b64encode(chunk) + (end if last else b"")
                prefix = b""
                if last:
                    break


def classify(status: int, text: str) -> Outcome:
    """What a Loops answer means. Only its documented success, a 2xx with `{"success": true}`, is `sent`; any
    other 2xx (a proxy's or captive portal's page, broken JSON) may or may not have reached Loops, so it is
    retried, which is safe under the idempotency key."""
    if status == 409:
        # The idempotency key was seen: an earlier attempt was accepted.
        return Outcome.sent(provider="loops", status=status, duplicate=True)
    if 200 <= status < 300:
        try:
            data: Any = orjson.loads(text)
        except orjson.JSONDecodeError:
            data = None
        if isinstance(data, dict) and data.get("success") is True:
            return Outcome.sent(provider="loops", status=status)
        return Outcome.transient(
            f"loops: HTTP {status} without Loops' success answer ({head(text)}); retried under the idempotency key",
            status=status,
            unconfirmed=True,
            cause="unclear_answer",
        )
    if status == 429:
        return Outcome.transient("loops: rate limited (429)", retry_after=2.0, status=status)
    if status >= 500:
        return Outcome.transient(f"loops: {_message(status, text)}", status=status)
    return Outcome.permanent(f"loops: {_message(status, text)}", status=status)


def _message(status: int, text: str) -> str:
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        return f"HTTP {status}: {text[:200]}"
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict):
            path = f" ({error.get('path')})" if error.get("path") else ""
            return f"{error.get('message', 'error')}{path}"
        if data.get("message"):
            return str(data["message"])
    return f"HTTP {status}: {text[:200]}"


async def send(
    session: aiohttp.ClientSession,
    settings: Settings,
    limiter: RateLimiter,
    *,
    transactional_id: str,
    run_id: str,
    email: str,
    variables: dict[str, Any],
    attachments: Sequence[Attachment] = (),
) -> Outcome:
    """One transactional email carrying every file of `attachments` (none for a notice)."""
    assert settings.loops_api_key is not None
    headers = {
        "Authorization": f"Bearer {settings.loops_api_key.get_secret_value()}",
        "Content-Type": "application/json",
        "Idempotency-Key": idempotency_key(run_id, email.lower()),
    }
    head = {"transactionalId": transactional_id, "email": email, "dataVariables": variables}
    url = f"{settings.loops_api_url}/api/v1/transactional"
    limits = timeouts.loops(settings)

    async def attempt() -> Outcome:
        await limiter.acquire("loops", 1.1 / settings.loops_rate_per_second)  # 10% margin for jitter
        try:
            async with session.post(
                url, data=_body(head, attachments), headers=headers, timeout=limits.client()
            ) as response:
                text = await response.text()
                status = response.status
                retry_after = response.headers.get("Retry-After")
        except (aiohttp.ClientError, TimeoutError) as exc:
            return Outcome.transient(limits.explain(exc))
        outcome = classify(status, text)
        if status == 429:
            # Jitter spreads the retries of runs that were throttled together.
            wait = parse_retry_after(retry_after) or 1.0 + random.uniform(0, 0.5)
            return dataclasses.replace(outcome, retry_after=wait)
        return outcome

    return await retry_inline(settings, attempt)
