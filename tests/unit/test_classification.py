"""What each provider's answer is classified as, with no server: only a provider's documented success shape is
`sent`; a 2xx of any other shape is "maybe delivered", never `sent` and never permanent."""

from __future__ import annotations

import orjson
import pytest

from consumer.channels import loops, slack, telegram

LOOPS = [
    # (status, body, kind, unconfirmed)
    (200, '{"success": true}', "sent", False),
    (200, '{"success": true, "id": "x"}', "sent", False),
    (409, '{"success": false, "message": "Idempotency key has been used"}', "sent", False),
    (200, "<html><body>Sign in to the Wi-Fi</body></html>", "transient", True),
    (200, '{"success": false}', "transient", True),
    (200, '{"success": "yes"}', "transient", True),
    (200, '{"succ', "transient", True),
    (200, "", "transient", True),
    (204, "", "transient", True),
    (429, '{"success": false, "message": "Rate limit exceeded"}', "transient", False),
    (500, '{"success": false, "message": "boom"}', "transient", False),
    (503, "<html>Bad gateway</html>", "transient", False),
    (400, '{"success": false, "error": {"path": "dataVariables", "message": "missing var"}}', "permanent", False),
    (401, '{"success": false, "message": "Invalid API key"}', "permanent", False),
    (404, '{"success": false, "message": "Transactional email not found"}', "permanent", False),
]


@pytest.mark.parametrize(("status", "body", "kind", "unconfirmed"), LOOPS)
def test_loops_answers(status: int, body: str, kind: str, unconfirmed: bool) -> None:
    outcome = loops.classify(status, body)
    assert outcome.kind == kind
    assert bool(outcome.detail.get("unconfirmed")) is unconfirmed
    if unconfirmed:
        # Retried under the idempotency key, and the owner reads what came back.
        assert "idempotency key" in outcome.detail["reason"] and f"HTTP {status}" in outcome.detail["reason"]
    if status == 429:
        assert outcome.retry_after == 2.0


def _ok(result: object) -> str:
    return orjson.dumps({"ok": True, "result": result}).decode()


def _error(code: int, description: str, **parameters: object) -> str:
    return orjson.dumps(
        {"ok": False, "error_code": code, "description": description, "parameters": parameters}
    ).decode()


TELEGRAM = [
    # (status, body, kind)
    (200, _ok({"message_id": 7, "chat": {"id": 1}}), "sent"),
    (200, '{"ok": true, "result": {"message_id": 7', "unconfirmed"),
    (200, "<html><body>proxy</body></html>", "unconfirmed"),
    (200, '{"ok": true}', "unconfirmed"),
    (200, '{"ok": false, "description": "?"}', "unconfirmed"),
    (200, "", "unconfirmed"),
    (200, _ok([1, 2]), "unconfirmed"),
    (413, "<html>413 Request Entity Too Large</html>", "too_large"),
    (429, _error(429, "Too Many Requests: retry after 5", retry_after=5), "transient"),
    (400, _error(400, "Bad Request: group chat was upgraded", migrate_to_chat_id=-100123), "migrate"),
    (502, "<html>Bad gateway</html>", "transient"),
    (400, _error(400, "Bad Request: chat not found"), "permanent"),
    (403, _error(403, "Forbidden: bot was blocked by the user"), "permanent"),
    (401, _error(401, "Unauthorized"), "permanent"),
]


@pytest.mark.parametrize(("status", "body", "kind"), TELEGRAM)
def test_telegram_answers(status: int, body: str, kind: str) -> None:
    outcome = telegram.classify(status, body)
    assert outcome.kind == kind
    if kind == "sent":
        assert outcome.detail["message_id"] == 7
    if kind == "unconfirmed":
        # Maybe delivered: settled for the run (not retried blindly), counted, and never `sent` or permanent.
        assert outcome.detail["unconfirmed"] and outcome.detail["maybe_delivered"]
        assert "may have been delivered" in outcome.detail["reason"]
    if status == 429:
        assert outcome.retry_after == 5.0
    if status == 502:
        assert outcome.detail["unconfirmed"], "a gateway error may come after the upload"
    if kind == "migrate":
        assert outcome.new_chat_id == -100123


_ALBUM = [{"message_id": 7, "chat": {"id": 1}, "media_group_id": "1"}, {"message_id": 8, "chat": {"id": 1}}]
TELEGRAM_ALBUM = [
    # (status, body, kind): sendMediaGroup's documented success is a list of Messages.
    (200, _ok(_ALBUM), "sent"),
    (200, _ok({"message_id": 7, "chat": {"id": 1}}), "unconfirmed"),
    (200, _ok([]), "unconfirmed"),
    (200, _ok([1, 2]), "unconfirmed"),
    (200, _ok(None), "unconfirmed"),
    (200, '{"ok": true, "result": [{"message_id": 7', "unconfirmed"),
    (200, "<html><body>proxy</body></html>", "unconfirmed"),
    (
        400,
        _error(400, 'Bad Request: failed to send message #2 with the error message "Too Many Requests"'),
        "unconfirmed",
    ),
    (413, "<html>413 Request Entity Too Large</html>", "too_large"),
    (429, _error(429, "Too Many Requests: retry after 5", retry_after=5), "transient"),
    (400, _error(400, "Bad Request: group chat was upgraded", migrate_to_chat_id=-100123), "migrate"),
    (400, _error(400, "Bad Request: media must include 2-10 items"), "permanent"),
    (403, _error(403, "Forbidden: bot was blocked by the user"), "permanent"),
]


@pytest.mark.parametrize(("status", "body", "kind"), TELEGRAM_ALBUM)
def test_telegram_album_answers(status: int, body: str, kind: str) -> None:
    outcome = telegram.classify(status, body, album=True)
    assert outcome.kind == kind
    if kind == "sent":
        assert outcome.detail["message_ids"] == [7, 8]
    if kind == "unconfirmed":
        assert outcome.detail["unconfirmed"] and outcome.detail["maybe_delivered"]
        assert "may have been delivered" in outcome.detail["reason"]
    if status == 400 and kind == "unconfirmed":
        # One message of the album failed after the ones before it went out.
        assert outcome.detail["cause"] == "partly_sent" and "part of the album" in outcome.detail["reason"]
    if kind == "migrate":
        assert outcome.new_chat_id == -100123


def test_a_failed_album_message_is_only_a_partial_send_for_an_album() -> None:
    body = _error(400, 'Bad Request: failed to send message #1 with the error message "chat not found"')
    assert telegram.classify(400, body).kind == "permanent"
    assert telegram.classify(400, body, album=True).kind == "unconfirmed"
    # And a single document's answer still reads a list as maybe delivered, an album's a single Message.
    assert telegram.classify(200, _ok(_ALBUM)).kind == "unconfirmed"
    assert telegram.classify(200, _ok(_ALBUM[0]), album=True).kind == "unconfirmed"


SLACK = [
    # (status, body, shared step, expected kind or None for success, unconfirmed)
    (200, b'{"ok": true}', True, None, False),
    (200, b"<html>proxy</html>", True, "transient", True),
    (200, b"<html>proxy</html>", False, "transient", False),
    (200, b'{"ok": false, "error": "channel_not_found"}', True, "permanent", False),
    (200, b'{"ok": false, "error": "file_too_large"}', False, "too_large", False),
    (500, b"", True, "transient", True),
]


@pytest.mark.parametrize(("status", "body", "shared", "kind", "unconfirmed"), SLACK)
def test_slack_answers(status: int, body: bytes, shared: bool, kind: str | None, unconfirmed: bool) -> None:
    outcome = slack.classify("files.completeUploadExternal", status, body, None, shared=shared)
    assert (outcome.kind if outcome else None) == kind
    if outcome is not None:
        assert bool(outcome.detail.get("unconfirmed")) is unconfirmed


def test_timeouts_name_the_limit_and_the_setting() -> None:
    from aiohttp import ConnectionTimeoutError
    from aiohttp.client_exceptions import SocketTimeoutError

    from consumer.channels.timeouts import Timeouts

    limits = Timeouts("loops", 5, 30)
    assert limits.explain(TimeoutError()) == "loops: no answer within 30 s (LOOPS_TIMEOUT_SECONDS)"
    assert limits.explain(SocketTimeoutError()) == "loops: no answer within 30 s (LOOPS_TIMEOUT_SECONDS)"
    assert limits.explain(ConnectionTimeoutError()) == (
        "loops: could not connect within 5 s (LOOPS_CONNECT_TIMEOUT_SECONDS)"
    )
    assert Timeouts("telegram", 2.5, 60).explain(TimeoutError()).endswith("within 60 s (TELEGRAM_TIMEOUT_SECONDS)")
