"""The request bodies that carry several files, read back by independent parsers: the Loops JSON (every file
base64-encoded, one chunk of a file in memory at a time) and the webhook's multipart body (one part per file,
signed over exactly the bytes sent, its length announced in advance)."""

from __future__ import annotations

import base64
import email
import email.policy
import hashlib
import hmac
from email.message import EmailMessage
from pathlib import Path

import orjson

from consumer.channels import loops
from consumer.channels.outcome import Attachment
from consumer.channels.webhook import _Body

# Every byte value, and the sequences a multipart parser looks for, inside the files.
AWKWARD = bytes(range(256)) + b"\r\n\r\n--report-\r\n\r--\n"


def files(tmp_path: Path) -> list[Attachment]:
    sizes = {"r.xlsx": 3 * loops._CHUNK + 5, "r.csv": loops._CHUNK, "r.ndjson": 0}
    made = []
    for name, size in sizes.items():
        path = tmp_path / name
        path.write_bytes((AWKWARD * (size // len(AWKWARD) + 1))[:size])
        made.append(Attachment(path, name, "application/octet-stream", size))
    return made


async def test_the_loops_body_carries_every_file_a_chunk_at_a_time(tmp_path: Path) -> None:
    attachments = files(tmp_path)
    head = {"transactionalId": "tx", "email": "a@example.com", "dataVariables": {"fileName": "r.xlsx"}}
    pieces = [piece async for piece in loops._body(head, attachments)]
    body = orjson.loads(b"".join(pieces))
    assert {k: body[k] for k in head} == head
    assert [(a["filename"], a["contentType"]) for a in body["attachments"]] == [
        (a.filename, a.content_type) for a in attachments
    ]
    assert [base64.b64decode(a["data"], validate=True) for a in body["attachments"]] == [
        a.path.read_bytes() for a in attachments
    ]
    # One write per chunk read (a short last read ends each file), none larger than one encoded chunk and
    # the JSON around it.
    assert len(pieces) == sum(a.size // loops._CHUNK + 1 for a in attachments)
    assert max(len(p) for p in pieces) < 4 * loops._CHUNK // 3 + 200


async def test_the_loops_body_without_files_is_plain_json() -> None:
    head = {"transactionalId": "tx", "email": "a@example.com", "dataVariables": {}}
    assert [orjson.loads(p) async for p in loops._body(head, ())] == [head]


def parsed(body: _Body, raw: bytes) -> EmailMessage:
    """The body as the standard library's MIME parser reads it."""
    top = f"Content-Type: multipart/form-data; boundary={body.boundary}\r\n\r\n".encode()
    message = email.message_from_bytes(top + raw, policy=email.policy.HTTP)
    assert isinstance(message, EmailMessage) and not message.defects, message.defects
    return message


async def test_the_webhook_body_has_the_metadata_then_a_part_per_file(tmp_path: Path) -> None:
    attachments = files(tmp_path)
    body = _Body({"type": "report.delivered"}, attachments, None)
    raw = b"".join([chunk async for chunk in body.chunks()])
    assert len(raw) == body.length
    parts = list(parsed(body, raw).iter_parts())
    names = [(p.get_param("name", header="content-disposition"), p.get_filename()) for p in parts]
    assert names == [("metadata", None)] + [("file", a.filename) for a in attachments]
    meta = parts[0].get_payload(decode=True)
    assert isinstance(meta, bytes) and orjson.loads(meta) == {"type": "report.delivered"}
    for part, attachment in zip(parts[1:], attachments, strict=True):
        assert part.get_content_type() == attachment.content_type
        assert part.get_payload(decode=True) == attachment.path.read_bytes()
    # The signature covers exactly these bytes.
    key = b"k" * 32
    mac = hmac.new(key, b"id.1700000000." + raw, hashlib.sha256).digest()
    assert await body.signature(key, "id", 1_700_000_000) == "v1," + base64.b64encode(mac).decode()


async def test_the_webhook_body_of_a_notice_is_metadata_and_text() -> None:
    body = _Body({"type": "report.notice"}, (), "too large")
    raw = b"".join([chunk async for chunk in body.chunks()])
    assert len(raw) == body.length
    meta, text = parsed(body, raw).iter_parts()
    assert meta.get_param("name", header="content-disposition") == "metadata"
    assert text.get_param("name", header="content-disposition") == "text"
    assert text.get_payload(decode=True) == b"too large"
