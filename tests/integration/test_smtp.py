"""SMTP delivery against a real aiosmtpd server: success, size limit (552), 4xx retry, 5xx permanent."""

from __future__ import annotations

from pathlib import Path

import pytest

from consumer.channels import smtp
from consumer.channels.outcome import Attachment
from tests.support.servers import free_port
from tests.support.smtp import Handler, smtp_settings


def attachment(tmp_path: Path, size: int) -> Attachment:
    path = tmp_path / "r.csv"
    path.write_bytes(b"title\n" + b'"x"\n' * (size // 4))
    return Attachment(path, "r.csv", "text/csv", path.stat().st_size)


async def test_sends_a_mime_message_with_the_csv(server: tuple[Handler, int], tmp_path: Path) -> None:
    handler, port = server
    outcome = await smtp.send(
        smtp_settings(port),
        to="a@example.com",
        subject="Report",
        text="hi",
        attachments=[attachment(tmp_path, 100)],
    )
    assert outcome.kind == "sent"
    [message] = handler.messages
    parts = [p for p in message.walk() if p.get_filename()]
    assert parts[0].get_filename() == "r.csv" and parts[0].get_payload(decode=True).startswith(b"title\n")


async def test_over_the_size_limit_is_too_large(server: tuple[Handler, int], tmp_path: Path) -> None:
    _, port = server
    outcome = await smtp.send(
        smtp_settings(port),
        to="a@example.com",
        subject="Report",
        text="hi",
        attachments=[attachment(tmp_path, 20_000)],
    )
    assert outcome.kind == "too_large" and outcome.detail["code"] == 552


@pytest.mark.parametrize(("reply", "kind"), [("451 Try again later", "transient"), ("554 Rejected", "permanent")])
async def test_reply_codes_are_classified(server: tuple[Handler, int], tmp_path: Path, reply: str, kind: str) -> None:
    handler, port = server
    handler.reply = reply
    outcome = await smtp.send(smtp_settings(port), to="a@example.com", subject="Report", text="hi")
    assert outcome.kind == kind


async def test_connection_refused_is_transient() -> None:
    outcome = await smtp.send(smtp_settings(free_port()), to="a@example.com", subject="r", text="x")
    assert outcome.kind == "transient"
