"""One-click unsubscribe (RFC 8058): the signed link in every email, and the suppressions it records.

A token names (organization, schedule, address) without showing the address: it carries the SHA-256 of the
address (lower case) and an HMAC-SHA256 of the whole with UNSUBSCRIBE_SECRET, so it cannot be forged or altered.
Suppressions are stored by that hash too, so they survive a new secret (which only retires old links).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
from dataclasses import dataclass
from uuid import UUID

from shared.db import Connection, Pool
from shared.settings import Settings

log = logging.getLogger(__name__)

_VERSION = b"\x01"
_SIGNATURE_BYTES = 16
_LENGTH = 1 + 16 + 16 + 32 + _SIGNATURE_BYTES

# Suppressed address hashes for one schedule: its own, and the organization-wide ones (schedule_id NULL).
SUPPRESSED = """
SELECT address_sha256 FROM shared_report_unsubscribes
WHERE organization_id = $1 AND (schedule_id IS NULL OR schedule_id = $2) AND address_sha256 = ANY($3::bytea[])
"""

SUPPRESS = """
INSERT INTO shared_report_unsubscribes (organization_id, schedule_id, address_sha256)
SELECT $1, $2, $3
WHERE EXISTS (SELECT 1 FROM organizations WHERE id = $1)
  AND ($2::uuid IS NULL OR EXISTS (SELECT 1 FROM shared_report_schedules WHERE id = $2 AND organization_id = $1))
ON CONFLICT DO NOTHING
"""


def address_hash(address: str) -> bytes:
    return hashlib.sha256(address.strip().lower().encode()).digest()


@dataclass(frozen=True)
class Scope:
    organization_id: UUID
    schedule_id: UUID
    address_sha256: bytes


def _sign(secret: str, payload: bytes) -> bytes:
    return hmac.new(secret.encode(), payload, hashlib.sha256).digest()[:_SIGNATURE_BYTES]


def token(secret: str, organization_id: UUID, schedule_id: UUID, address: str) -> str:
    payload = _VERSION + organization_id.bytes + schedule_id.bytes + address_hash(address)
    return base64.urlsafe_b64encode(payload + _sign(secret, payload)).decode().rstrip("=")


def read(secret: str, text: str) -> Scope | None:
    """The scope a token names, or None for anything not signed with `secret` (forged, altered, cut short)."""
    if not text.isascii() or len(text) > 200:
        return None
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
    if len(raw) != _LENGTH or raw[:1] != _VERSION:
        return None
    payload, signature = raw[:-_SIGNATURE_BYTES], raw[-_SIGNATURE_BYTES:]
    if not hmac.compare_digest(signature, _sign(secret, payload)):
        return None
    return Scope(UUID(bytes=payload[1:17]), UUID(bytes=payload[17:33]), payload[33:])


def link(settings: Settings, organization_id: UUID | None, schedule_id: UUID | None, address: str) -> str | None:
    """The address's unsubscribe link for this schedule; None when PUBLIC_BASE_URL is not set."""
    if not settings.public_base_url or settings.unsubscribe_secret is None:
        return None
    if organization_id is None or schedule_id is None:
        return None
    secret = settings.unsubscribe_secret.get_secret_value()
    return f"{settings.public_base_url}/u/{token(secret, organization_id, schedule_id, address)}"


def warn_if_off(settings: Settings) -> None:
    """Said once at start: without PUBLIC_BASE_URL, emails carry no unsubscribe header or link."""
    if not settings.public_base_url:
        log.warning(
            "PUBLIC_BASE_URL is not set: emails carry no List-Unsubscribe header or unsubscribe link "
            "(mailbox providers expect one from bulk senders)"
        )


async def suppressed(
    conn: Pool | Connection, organization_id: UUID, schedule_id: UUID, addresses: list[str]
) -> set[str]:
    """Which of `addresses` unsubscribed from this schedule or from every report of the organization."""
    by_hash = {address_hash(a): a for a in addresses}
    if not by_hash:
        return set()
    rows = await conn.fetch(SUPPRESSED, organization_id, schedule_id, list(by_hash))
    return {by_hash[bytes(r["address_sha256"])] for r in rows}


async def suppress(conn: Pool | Connection, scope: Scope, *, whole_organization: bool) -> None:
    """Record the unsubscribe (once; nothing for an organization or schedule that no longer exists)."""
    schedule = None if whole_organization else scope.schedule_id
    await conn.execute(SUPPRESS, scope.organization_id, schedule, scope.address_sha256)


__all__ = ["Scope", "address_hash", "link", "read", "suppress", "suppressed", "token", "warn_if_off"]
