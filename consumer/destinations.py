"""Stored destinations (Slack channels, webhooks, SFTP directories) and channel credentials, read at send time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from consumer import queries
from shared.db import Pool
from shared.errors import ConfigError, ReportsError
from shared.settings import Settings
from shared.vault import CredentialError, Vault


@dataclass(frozen=True)
class Destination:
    id: UUID
    organization_id: UUID
    channel: str
    target: str
    config: dict[str, Any]
    secret: str | None


class Unavailable(ReportsError):
    """The destination or its credential can't be used: the text says why and what fixes it."""


class Destinations:
    def __init__(self, settings: Settings, pool: Pool) -> None:
        self.settings = settings
        self.pool = pool
        self._vault: Vault | None = None

    def _open(self, token: str) -> str:
        if self._vault is None:
            try:
                self._vault = self.settings.vault()
            except ConfigError as exc:
                raise Unavailable(f"the consumer cannot decrypt channel credentials: {exc}") from exc
        try:
            return self._vault.decrypt(token)
        except CredentialError as exc:
            raise Unavailable(str(exc)) from exc

    async def get(self, destination_id: UUID) -> Destination:
        row = await self.pool.fetchrow(queries.DESTINATION, destination_id)
        if row is None:
            raise Unavailable("the destination was removed; add it again or remove it from the schedule")
        return Destination(
            row["id"],
            row["organization_id"],
            row["channel"],
            row["target"],
            dict(row["config"]),
            self._open(row["secret"]) if row["secret"] else None,
        )

    async def credential(self, organization_id: UUID, channel: str) -> str:
        token = await self.pool.fetchval(queries.CHANNEL_CREDENTIAL, organization_id, channel)
        if token is None:
            raise Unavailable(
                f"the organization has no {channel} credential; set it with PUT /v1/integrations/{channel}"
            )
        return self._open(token)
