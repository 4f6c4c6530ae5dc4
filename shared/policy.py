"""An organization's destination policy: where its reports may go. One set of rules, applied by the API when
recipients and destinations are created or changed, and by the consumer again when it sends (a recipient that a
later policy forbids is not sent to).

An empty list means no restriction. A domain or host in a list also allows its subdomains ("acme.example"
allows "eu.acme.example"); matching ignores case and a trailing dot.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

from shared.db import Connection, Pool

LOAD = """
SELECT allowed_email_domains, allowed_webhook_hosts, allowed_sftp_hosts, allow_telegram, allow_slack
FROM shared_report_destination_policies WHERE organization_id = $1
"""

# What the consumer needs of the destinations a run names: the host each delivers to.
DESTINATIONS = "SELECT id, channel, config FROM shared_report_destinations WHERE id = ANY($1::uuid[])"


def _norm(name: str) -> str:
    return name.strip().strip("[]").rstrip(".").lower()


def _within(name: str, allowed: tuple[str, ...]) -> bool:
    host = _norm(name)
    return any(host == a or host.endswith("." + a) for a in allowed)


@dataclass(frozen=True)
class Policy:
    allowed_email_domains: tuple[str, ...] = field(default=())
    allowed_webhook_hosts: tuple[str, ...] = field(default=())
    allowed_sftp_hosts: tuple[str, ...] = field(default=())
    allow_telegram: bool = True
    allow_slack: bool = True

    @classmethod
    def of(cls, row: Any) -> Policy:
        if row is None:
            return cls()
        return cls(
            tuple(_norm(d) for d in row["allowed_email_domains"]),
            tuple(_norm(h) for h in row["allowed_webhook_hosts"]),
            tuple(_norm(h) for h in row["allowed_sftp_hosts"]),
            row["allow_telegram"],
            row["allow_slack"],
        )

    def email(self, address: str) -> str | None:
        """None when the address may receive reports; else the rule that forbids it."""
        domain = address.rpartition("@")[2]
        if self.allowed_email_domains and not _within(domain, self.allowed_email_domains):
            return f"allowed_email_domains ({', '.join(self.allowed_email_domains)}) does not include {_norm(domain)}"
        return None

    def telegram(self) -> str | None:
        return None if self.allow_telegram else "allow_telegram is false"

    def slack(self) -> str | None:
        return None if self.allow_slack else "allow_slack is false"

    def webhook(self, url: str) -> str | None:
        host = urlsplit(url).hostname or ""
        if self.allowed_webhook_hosts and not _within(host, self.allowed_webhook_hosts):
            return f"allowed_webhook_hosts ({', '.join(self.allowed_webhook_hosts)}) does not include {_norm(host)}"
        return None

    def sftp(self, host: str) -> str | None:
        if self.allowed_sftp_hosts and not _within(host, self.allowed_sftp_hosts):
            return f"allowed_sftp_hosts ({', '.join(self.allowed_sftp_hosts)}) does not include {_norm(host)}"
        return None

    def destination(self, channel: str, config: dict[str, Any]) -> str | None:
        if channel == "slack":
            return self.slack()
        if channel == "webhook":
            return self.webhook(str(config.get("url", "")))
        if channel == "sftp":
            return self.sftp(str(config.get("host", "")))
        return None


async def load(conn: Pool | Connection, organization_id: UUID) -> Policy:
    return Policy.of(await conn.fetchrow(LOAD, organization_id))


__all__ = ["DESTINATIONS", "Policy", "load"]
