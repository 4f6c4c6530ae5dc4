"""Channel credentials at rest: Fernet tokens under keys from the settings, the first key encrypting.

Rotation: put a new key first in CREDENTIALS_KEYS and keep the old ones after it; stored tokens still
decrypt, and every credential written from then on uses the new key.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from shared.errors import ConfigError, ReportsError
from shared.redact import remember


class CredentialError(ReportsError):
    """A stored credential that no configured key opens (a key was dropped from CREDENTIALS_KEYS)."""


def new_key() -> str:
    return Fernet.generate_key().decode()


class Vault:
    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ConfigError(
                "CREDENTIALS_KEYS: no key set; channel credentials need one (make one with "
                "`python -m producer new-key`)"
            )
        try:
            self._fernet = MultiFernet([Fernet(k.encode()) for k in keys])
        except ValueError as exc:
            raise ConfigError(
                "CREDENTIALS_KEYS: every key must be 32 url-safe base64-encoded bytes (make one with "
                "`python -m producer new-key`)"
            ) from exc

    @classmethod
    def parse(cls, text: str) -> Vault:
        return cls([k.strip() for k in text.split(",") if k.strip()])

    def encrypt(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            secret = self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise CredentialError(
                "a stored credential does not open with any key in CREDENTIALS_KEYS (was a key removed?)"
            ) from exc
        # From here on the value is a secret this process knows: mask it in anything it writes.
        remember(secret)
        return secret

    def rotate(self, token: str) -> str:
        return self._fernet.rotate(token.encode()).decode()
