"""Request and response models of an organization's destination policy."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, Field

from producer.api.models import Strict

# A domain or host name as DNS spells it (letters, digits, hyphens, dots); no scheme, port or path.
Name = Annotated[
    str,
    Field(
        min_length=1,
        max_length=253,
        pattern=r"^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.?$",
        examples=["acme.example"],
    ),
]
Names = Annotated[list[Name], Field(max_length=100)]


class PolicyReplace(Strict):
    """The whole policy; a field left out takes its default (no restriction)."""

    allowed_email_domains: Names = Field(default_factory=list)
    allowed_webhook_hosts: Names = Field(default_factory=list)
    allowed_sftp_hosts: Names = Field(default_factory=list)
    allow_telegram: bool = True
    allow_slack: bool = True


class PolicyOut(BaseModel):
    organization_id: UUID
    allowed_email_domains: list[str]
    allowed_webhook_hosts: list[str]
    allowed_sftp_hosts: list[str]
    allow_telegram: bool
    allow_slack: bool
    updated_by: UUID | None
    updated_at: datetime | None
