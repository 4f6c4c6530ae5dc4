"""Response models of the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel


class AuditEntryOut(BaseModel):
    id: UUID
    organization_id: UUID
    # The token's sub (a user id), or "service".
    actor: str
    actor_role: str
    action: str
    schedule_id: UUID | None
    destination_id: UUID | None
    # {"field": {"before": ..., "after": ...}}; secrets are "***".
    changes: dict[str, Any]
    request_id: str | None
    created_at: datetime


class AuditList(BaseModel):
    items: list[AuditEntryOut]
    next_cursor: str | None
