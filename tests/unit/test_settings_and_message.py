"""Settings fail early and name the variable; secrets stay hidden; the queue message is strict."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest

from shared import serializer
from shared.errors import ConfigError, InvalidMessage
from shared.message import job_id_for, parse_message
from shared.settings import Settings, load_settings


def test_missing_required_settings_name_the_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "REDIS_URL", "JWT_SECRET", "LOOPS_API_KEY", "LOOPS_TRANSACTIONAL_ID"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError, match="DATABASE_URL, REDIS_URL, JWT_SECRET"):
        Settings().require_producer()
    with pytest.raises(ConfigError, match="LOOPS_API_KEY, LOOPS_TRANSACTIONAL_ID"):
        Settings(database_url="postgresql://x", redis_url="redis://x").require_consumer()


def test_bad_values_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TICK_SECONDS", "soon")
    with pytest.raises(ConfigError, match="TICK_SECONDS"):
        load_settings()
    monkeypatch.delenv("TICK_SECONDS")
    monkeypatch.setenv("JWT_SECRET", "short")
    with pytest.raises(ConfigError, match=r"JWT_SECRET: .*at least 32"):
        load_settings()


def test_secrets_never_appear_in_repr() -> None:
    s = Settings(
        database_url="postgresql://u:hunter2@db/x",
        loops_api_key="lk-secret",
        smtp_password="pw-secret",
        telegram_bot_token="123:tok-secret",
        jwt_secret="j" * 40,
    )
    text = repr(s) + str(s)
    for secret in ("hunter2", "lk-secret", "pw-secret", "tok-secret", "j" * 40):
        assert secret not in text


def _message(**overrides: object) -> dict[str, object]:
    return {
        "v": 1,
        "run_id": str(uuid4()),
        "schedule_id": str(uuid4()),
        "organization_id": str(uuid4()),
        "shared_link_id": str(uuid4()),
        "fire_at": "2026-11-23T06:00:00Z",
        "trigger": "cron",
        "recipients": [
            {"channel": "email", "user_id": None, "email": "a@b.example"},
            {"channel": "telegram", "telegram_chat_id": 123456789},
        ],
        **overrides,
    }


def test_message_round_trips_through_json() -> None:
    message = parse_message(_message())
    again = parse_message(serializer.loads(serializer.dumps(message.to_json())))
    assert again == message and message.to_json()["fire_at"] == "2026-11-23T06:00:00Z"
    assert message.job_id == f"shared_report:{message.schedule_id}:{int(message.fire_at.timestamp())}"


@pytest.mark.parametrize(
    "overrides",
    [
        {"v": 2},
        {"run_id": "x"},
        {"fire_at": "2026-11-23T06:00:00"},
        {"trigger": "cronjob"},
        {"extra": 1},
        {"recipients": [{"channel": "fax", "number": 1}]},
        {"recipients": [{"channel": "email", "email": "a@b.example"}, {"channel": "email", "email": "A@b.example"}]},
    ],
)
def test_invalid_messages_are_rejected(overrides: dict[str, object]) -> None:
    with pytest.raises(InvalidMessage):
        parse_message(_message(**overrides))


def test_job_ids() -> None:
    s, r = uuid4(), uuid4()
    fire = datetime(2026, 11, 23, 6, tzinfo=UTC)
    assert job_id_for("cron", s, fire, r) == f"shared_report:{s}:1795413600"
    assert job_id_for("manual", s, fire, r) == job_id_for("replay", s, fire, r) == f"shared_report:{r}"


def test_the_schedulers_fast_message_is_the_validated_one() -> None:
    from datetime import UTC, datetime
    from uuid import uuid4

    from shared.message import (
        DestinationRecipient,
        EmailRecipient,
        ReportMessage,
        TelegramRecipient,
        cron_message,
        parse_message,
        recipients_json,
    )

    recipients = [
        EmailRecipient(channel="email", user_id=uuid4(), email="a@example.com"),
        EmailRecipient(channel="email", email="b@example.com"),
        TelegramRecipient(channel="telegram", telegram_chat_id=-100123),
        DestinationRecipient(channel="webhook", destination_id=uuid4(), target="https://h.example/x"),
    ]
    ids = [uuid4() for _ in range(4)]
    fire = datetime(2026, 3, 29, 1, 30, 15, 123456, tzinfo=UTC)
    fast = cron_message(*ids, fire, recipients_json(recipients))
    validated = ReportMessage(
        v=1,
        run_id=ids[0],
        schedule_id=ids[1],
        organization_id=ids[2],
        shared_link_id=ids[3],
        fire_at=fire,
        trigger="cron",
        recipients=recipients,
    ).to_json()
    assert fast == validated and list(fast) == list(validated)
    assert parse_message(fast).to_json() == validated


def test_a_job_from_the_message_json_is_the_job_arq_would_write() -> None:
    from datetime import UTC, datetime
    from uuid import uuid4

    import orjson

    from shared.message import cron_message
    from shared.queue import encode_job
    from shared.serializer import loads

    recipients = [{"channel": "email", "user_id": None, "email": 'quote"and\\back@example.com'}]
    message = cron_message(uuid4(), uuid4(), uuid4(), uuid4(), datetime(2026, 3, 29, 1, 30, tzinfo=UTC), recipients)
    for enqueued_ms in (0, 1_764_752_400_123):
        assert encode_job(orjson.dumps(message), enqueued_ms) == encode_job(message, enqueued_ms)
    assert loads(encode_job(orjson.dumps(message), 5)) == {
        "t": None,
        "f": "shared_report",
        "a": [message],
        "k": {},
        "et": 5,
    }
