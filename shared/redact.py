"""Remove secrets from any text that leaves the process: logs, stored errors, emails, API answers."""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import quote, unquote, urlsplit

from pydantic import SecretStr

MASK = "[redacted]"
# Shapes that are secret whatever the configuration: a bot token in a Bot API path, a URL's password.
_PATTERNS = (
    re.compile(r"(?<=/bot)\d+:[A-Za-z0-9_-]+"),
    re.compile(r"(?<=://)([^/\s:@]*):[^/\s@]+(?=@)"),
    re.compile(r"(?i)(?<=bearer )[A-Za-z0-9._~+/=-]{8,}"),
)
# Very short values would mask ordinary words; real secrets are longer.
_MIN_SECRET = 6


class Redactor:
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        variants: set[str] = set()
        for secret in secrets:
            if len(secret) >= _MIN_SECRET:
                variants.update({secret, quote(secret, safe=""), quote(secret)})
        # Longest first, so a secret that contains another is masked whole.
        self._secrets = sorted(variants, key=len, reverse=True)

    def add(self, secret: str) -> None:
        if len(secret) >= _MIN_SECRET and secret not in self._secrets:
            self._secrets = sorted(
                {*self._secrets, secret, quote(secret, safe=""), quote(secret)}, key=len, reverse=True
            )

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        for pattern in _PATTERNS:
            text = pattern.sub(lambda m: f"{m.group(1)}:{MASK}" if m.groups() else MASK, text)
        return text


def url_password(url: str) -> str | None:
    try:
        password = urlsplit(url).password
    except ValueError:
        return None
    return unquote(password) if password else None


def secrets_of(values: Iterable[SecretStr | str | None]) -> list[str]:
    """Every secret value, and the passwords inside any URL among them."""
    found: list[str] = []
    for value in values:
        if value is None:
            continue
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        found.append(text)
        password = url_password(text)
        if password:
            found.append(password)
    return found


_default = Redactor()


def install(redactor: Redactor) -> None:
    """Make `redactor` the process-wide one (set once at start, from the settings)."""
    global _default
    _default = redactor


def remember(secret: str) -> None:
    """Mask `secret` from now on too: a credential read from storage at run time, not from the settings."""
    _default.add(secret)


def redact(text: str) -> str:
    return _default(text)
