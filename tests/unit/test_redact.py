"""Secrets never leave the process; URL settings are checked at start, naming the setting."""

from __future__ import annotations

import pytest

from consumer.channels.telegram import _post
from shared.errors import ConfigError
from shared.redact import MASK, Redactor
from shared.settings import Settings, load_settings

TOKEN = "123456:AAHsecret-token_value"


def test_configured_secrets_and_their_url_encodings_are_masked() -> None:
    settings = Settings(
        telegram_bot_token=TOKEN,
        loops_api_key="loops-key-0123",
        database_url="postgresql://app:p%40ss-w0rd@db:5432/reports",
        redis_url="redis://:redis-pass-1@cache:6379/0",
    )
    redact = settings.redactor()
    text = (
        f"Cannot connect to host api.telegram.orgbot{TOKEN}/sendDocument; key loops-key-0123; "
        "dsn postgresql://app:p%40ss-w0rd@db:5432/reports; raw p@ss-w0rd; redis-pass-1"
    )
    cleaned = redact(text)
    for secret in (TOKEN, "loops-key-0123", "p%40ss-w0rd", "p@ss-w0rd", "redis-pass-1"):
        assert secret not in cleaned
    assert MASK in cleaned and "api.telegram.org" in cleaned


def test_secret_shapes_are_masked_without_configuration() -> None:
    redact = Redactor()
    assert TOKEN not in redact(f"POST https://api.telegram.org/bot{TOKEN}/sendDocument failed")
    assert "hunter22" not in redact("postgresql://user:hunter22@host/db")
    assert "eyJhbGciOi.payload.sig" not in redact("Authorization: Bearer eyJhbGciOi.payload.sig")
    assert redact("nothing secret here") == "nothing secret here"


async def test_a_transport_error_holding_the_url_is_redacted() -> None:
    import aiohttp

    from shared import redact as module

    module.install(Redactor([TOKEN]))
    try:
        async with aiohttp.ClientSession() as session:
            # No scheme: aiohttp's error text repeats the whole URL, token included.
            outcome = await _post(session, Settings(), f"api.telegram.org/bot{TOKEN}/sendDocument", {"chat_id": "1"})
    finally:
        module.install(Redactor())
    assert outcome.kind == "transient" and TOKEN not in str(outcome.detail)


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("DATABASE_URL", "postgresql://u@h:99999/db", "DATABASE_URL"),
        ("DATABASE_URL", "postgresql://u@h:port/db", "DATABASE_URL"),
        ("DATABASE_URL", "mysql://u@h/db", "DATABASE_URL: must start with postgresql://"),
        ("REDIS_URL", "localhost:6379", "REDIS_URL: must start with redis://"),
        ("TELEGRAM_API_URL", "api.telegram.org", "TELEGRAM_API_URL: must start with https://"),
        ("LOOPS_API_URL", "https://:443", "LOOPS_API_URL: has no host"),
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL: must be one of DEBUG"),
    ],
)
def test_bad_settings_stop_with_one_line_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert expected in message and "\n" not in message
    assert "(e.g. " in message, "an example of a good value"
    said = message.split("(e.g. ")[0]
    assert value not in said or name == "LOG_LEVEL", "a URL may hold a password: it is not echoed"
