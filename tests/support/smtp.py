"""A real SMTP server (aiosmtpd) for the email channel: what it received, and the settings that point at it."""

from __future__ import annotations

import email
from typing import Any

from shared.settings import Settings


class Handler:
    """The server's DATA handler: keeps each message, or answers `reply` instead when it is set."""

    def __init__(self) -> None:
        self.messages: list[email.message.Message] = []
        self.reply: str | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.reply:
            return self.reply
        self.messages.append(email.message_from_bytes(envelope.original_content))
        return "250 OK"


def smtp_settings(port: int) -> Settings:
    return Settings(
        email_transport="smtp",
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_tls="none",
        smtp_timeout_seconds=5,
        email_from="reports@example.com",
    )
