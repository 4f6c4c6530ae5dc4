"""Telegram: the report as a document with an HTML caption, through the Bot API (sendDocument, streamed from
disk; several files as one album with sendMediaGroup, the caption under the last), with the reactions of
delivery.md. A group that became a supergroup is followed here: the new chat id is
stored for the schedule and the organization and the send is tried once more there; the job only records that
the recipient changed."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aiohttp
import orjson

from consumer import queries, summary
from consumer.channels import timeouts
from consumer.channels.base import Context, headline, note
from consumer.channels.outcome import Attachment, Outcome, Report, head
from consumer.ratelimit import RateLimiter
from consumer.retry import MIN_WAIT_SECONDS, parse_retry_after, retry_inline
from shared.message import TelegramRecipient
from shared.redact import redact
from shared.settings import Settings

_RETRY_MARGIN = 0.5
_MARGIN = 1.1
# How the Bot API says that one message of an album failed (`#N` names which), the ones before it sent.
_PART_OF_ALBUM = "Bad Request: failed to send message #"


def _url(settings: Settings, method: str) -> str:
    assert settings.telegram_bot_token is not None
    return f"{settings.telegram_api_url}/bot{settings.telegram_bot_token.get_secret_value()}/{method}"


async def _throttle(limiter: RateLimiter, settings: Settings, chat_id: int) -> None:
    # Negative ids are groups and channels, which Telegram limits per minute.
    per_chat = settings.telegram_group_interval_seconds if chat_id < 0 else settings.telegram_chat_interval_seconds
    # A 10% margin: requests spaced exactly at the limit can arrive closer together than they left.
    await limiter.acquire_all(
        [
            (f"telegram:chat:{chat_id}", per_chat * _MARGIN),
            ("telegram:global", _MARGIN / settings.telegram_rate_per_second),
        ]
    )


def _sent(result: Any, *, album: bool) -> Outcome | None:
    """`sent` when `result` is the method's documented success: one Message, or for an album (sendMediaGroup)
    the list of its Messages."""
    if not album and isinstance(result, dict):
        return Outcome.sent(provider="telegram", message_id=result.get("message_id"))
    if album and isinstance(result, list) and result and all(isinstance(m, dict) for m in result):
        return Outcome.sent(provider="telegram", message_ids=[m.get("message_id") for m in result])
    return None


def classify(status: int, text: str, *, album: bool = False) -> Outcome:
    """What a Bot API answer means. Only its documented success, a 2xx with `{"ok": true, "result": ...}` where
    the result is a Message (a list of them for an album, `album=True`), is `sent`. Any other 2xx (broken
    JSON, a proxy's page, `ok` missing, a result of the other shape) came after Telegram took the request, so
    the document may be in the chat: maybe delivered, and not sent again blindly (Telegram has no idempotency
    key)."""
    try:
        data: Any = orjson.loads(text)
    except orjson.JSONDecodeError:
        data = None
    if 200 <= status < 300:
        ok = isinstance(data, dict) and data.get("ok") is True
        sent = _sent(data.get("result"), album=album) if ok else None
        if sent is not None:
            return sent
        return Outcome.maybe_delivered(
            f"telegram: HTTP {status} without the Bot API's success answer ({redact(head(text))}); the document may "
            "have been delivered, so it is not sent again",
            status=status,
        )
    if status == 413:
        return Outcome.too_large(provider="telegram", status=status)
    description = data.get("description", "") if isinstance(data, dict) else text[:200]
    parameters = (data.get("parameters") or {}) if isinstance(data, dict) else {}
    if status == 429:
        retry_after = parse_retry_after(parameters.get("retry_after")) or MIN_WAIT_SECONDS
        return Outcome.transient(
            f"telegram: {description or 'too many requests'}", retry_after=retry_after, status=status
        )
    if status == 400 and parameters.get("migrate_to_chat_id"):
        return Outcome(
            "migrate",
            {"reason": description, "status": status},
            new_chat_id=int(parameters["migrate_to_chat_id"]),
        )
    if album and status == 400 and str(description).startswith(_PART_OF_ALBUM):
        # One of the album's messages failed after the ones before it went out: part of it may be in the chat.
        return Outcome.maybe_delivered(
            f"telegram: {description}; part of the album may have been delivered, so it is not sent again",
            status=status,
            cause="partly_sent",
        )
    if status >= 500:
        # A gateway error may come after Telegram took the file: the outcome is unknown, a retry may repeat it.
        return Outcome.transient(f"telegram: {description or f'HTTP {status}'}", status=status, unconfirmed=True)
    return Outcome.permanent(f"telegram: {description or f'HTTP {status}'}", status=status)


async def _post(
    session: aiohttp.ClientSession,
    settings: Settings,
    url: str,
    data: aiohttp.FormData | dict[str, Any],
    *,
    album: bool = False,
) -> Outcome:
    limits = timeouts.telegram(settings)
    try:
        async with session.post(url, data=data, timeout=limits.client()) as response:
            return classify(response.status, await response.text(), album=album)
    except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
        # No connection was made, so nothing was sent.
        return Outcome.transient(limits.explain(exc))
    except (aiohttp.ClientError, TimeoutError) as exc:
        # The request may have reached Telegram, which has no idempotency key: a retry can duplicate it.
        return Outcome.transient(limits.explain(exc), unconfirmed=True)


async def _with_inline_retries(
    limiter: RateLimiter, settings: Settings, chat_id: int, call: Callable[[], Awaitable[Outcome]]
) -> Outcome:
    async def throttled() -> Outcome:
        await _throttle(limiter, settings, chat_id)
        return await call()

    return await retry_inline(settings, throttled, margin=_RETRY_MARGIN)


async def send_document(
    session: aiohttp.ClientSession,
    settings: Settings,
    limiter: RateLimiter,
    *,
    chat_id: int,
    caption: str,
    attachment: Attachment,
) -> Outcome:
    async def call() -> Outcome:
        with attachment.path.open("rb") as handle:
            form = aiohttp.FormData()
            form.add_field("chat_id", str(chat_id))
            form.add_field("caption", caption[:1024])
            form.add_field("parse_mode", "HTML")
            form.add_field("document", handle, filename=attachment.filename, content_type=attachment.content_type)
            return await _post(session, settings, _url(settings, "sendDocument"), form)

    return await _with_inline_retries(limiter, settings, chat_id, call)


async def send_media_group(
    session: aiohttp.ClientSession,
    settings: Settings,
    limiter: RateLimiter,
    *,
    chat_id: int,
    caption: str,
    attachments: Sequence[Attachment],
) -> Outcome:
    """Two to ten files as one album of documents, each streamed from disk as the multipart field fileN and
    named in `media` as attach://fileN; the caption goes on the last, which Telegram shows under the album."""
    last = len(attachments) - 1
    media = [
        {"type": "document", "media": f"attach://file{i}"}
        | ({"caption": caption[:1024], "parse_mode": "HTML"} if i == last else {})
        for i in range(len(attachments))
    ]

    async def call() -> Outcome:
        with contextlib.ExitStack() as stack:
            form = aiohttp.FormData()
            form.add_field("chat_id", str(chat_id))
            form.add_field("media", orjson.dumps(media).decode())
            for i, attachment in enumerate(attachments):
                handle = stack.enter_context(attachment.path.open("rb"))
                form.add_field(f"file{i}", handle, filename=attachment.filename, content_type=attachment.content_type)
            return await _post(session, settings, _url(settings, "sendMediaGroup"), form, album=True)

    return await _with_inline_retries(limiter, settings, chat_id, call)


async def send_message(
    session: aiohttp.ClientSession, settings: Settings, limiter: RateLimiter, *, chat_id: int, text: str
) -> Outcome:
    async def call() -> Outcome:
        return await _post(
            session, settings, _url(settings, "sendMessage"), {"chat_id": str(chat_id), "text": text[:4096]}
        )

    return await _with_inline_retries(limiter, settings, chat_id, call)


async def _follow(ctx: Context, report: Report, old: int, new: int) -> None:
    """Store the supergroup's id wherever the old group's id was, in the report's organization."""
    async with ctx.pool.acquire() as conn, conn.transaction():
        await conn.execute(queries.MIGRATE_SCHEDULE_CHAT, old, new, report.origin.organization_id)
        await conn.execute(queries.MIGRATE_ORG_CHAT, old, new, report.origin.organization_id)


async def _moved(
    ctx: Context, report: Report, recipient: TelegramRecipient, send: Callable[[int], Awaitable[Outcome]]
) -> Outcome:
    outcome = await send(recipient.telegram_chat_id)
    if outcome.kind != "migrate" or outcome.new_chat_id is None:
        return outcome
    old, new = recipient.telegram_chat_id, outcome.new_chat_id
    await _follow(ctx, report, old, new)
    retried = await send(new)
    return Outcome(
        retried.kind if retried.kind != "migrate" else "permanent",
        {**retried.detail, "migrated_from": old},
        retried.retry_after,
        recipient=TelegramRecipient(channel="telegram", telegram_chat_id=new),
    )


class TelegramChannel:
    name = "telegram"

    async def send_files(
        self, ctx: Context, recipient: TelegramRecipient, report: Report, attachments: Sequence[Attachment]
    ) -> Outcome:
        caption = summary.caption(headline(report), report.summary, note(report))

        async def send(chat_id: int) -> Outcome:
            if len(attachments) == 1:
                return await send_document(
                    ctx.session, ctx.settings, ctx.limiter, chat_id=chat_id, caption=caption, attachment=attachments[0]
                )
            # A schedule has at most three formats, within the album's 2 to 10 documents.
            return await send_media_group(
                ctx.session, ctx.settings, ctx.limiter, chat_id=chat_id, caption=caption, attachments=attachments
            )

        return await _moved(ctx, report, recipient, send)

    async def send_text(self, ctx: Context, recipient: TelegramRecipient, report: Report, text: str) -> Outcome:
        async def send(chat_id: int) -> Outcome:
            return await send_message(ctx.session, ctx.settings, ctx.limiter, chat_id=chat_id, text=text)

        return await _moved(ctx, report, recipient, send)


CHANNEL = TelegramChannel()
