"""Telegram: the report as a document with an HTML caption, through the Bot API."""

from __future__ import annotations

from consumer import summary
from consumer.channels.base import Context, headline, note
from consumer.delivery import telegram
from consumer.delivery.outcome import Attachment, Outcome, Report
from shared.message import TelegramRecipient
from shared.settings import Settings


class TelegramChannel:
    name = "telegram"

    def limit(self, settings: Settings) -> int:
        return settings.telegram_max_bytes

    async def send_file(
        self, ctx: Context, recipient: TelegramRecipient, report: Report, attachment: Attachment
    ) -> Outcome:
        return await telegram.send_document(
            ctx.session,
            ctx.settings,
            ctx.limiter,
            chat_id=recipient.telegram_chat_id,
            caption=summary.caption(headline(report), report.summary, note(report)),
            attachment=attachment,
        )

    async def send_text(self, ctx: Context, recipient: TelegramRecipient, report: Report, text: str) -> Outcome:
        return await telegram.send_message(
            ctx.session, ctx.settings, ctx.limiter, chat_id=recipient.telegram_chat_id, text=text
        )


CHANNEL = TelegramChannel()
