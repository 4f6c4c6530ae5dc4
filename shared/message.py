"""The `shared_report` queue message: the one contract between producer and consumer."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from shared.errors import FieldIssue, InvalidMessage

FUNCTION_NAME = "shared_report"
MESSAGE_VERSION = 1
Trigger = Literal["cron", "manual", "replay"]


class EmailRecipient(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    channel: Literal["email"]
    user_id: UUID | None = None
    email: Annotated[str, Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")]

    @property
    def key(self) -> str:
        return self.email.lower()


class TelegramRecipient(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    channel: Literal["telegram"]
    telegram_chat_id: int

    @property
    def key(self) -> str:
        return str(self.telegram_chat_id)


# Channels whose recipients are stored destinations (settings and an encrypted secret in PostgreSQL): the
# message names the destination, and the consumer reads its settings when it sends, so no secret is queued.
DESTINATION_CHANNELS = ("slack", "sftp", "webhook")
DestinationChannel = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]


class DestinationRecipient(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    channel: DestinationChannel
    destination_id: UUID
    target: Annotated[str, Field(min_length=1, max_length=2048)]

    @field_validator("channel")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in DESTINATION_CHANNELS:
            raise ValueError(f"must be one of {', '.join(DESTINATION_CHANNELS)}")
        return value

    @property
    def key(self) -> str:
        return self.target


def _recipient_kind(value: Any) -> str:
    channel = value.get("channel") if isinstance(value, dict) else getattr(value, "channel", None)
    return channel if channel in ("email", "telegram") else "destination"


Recipient = Annotated[
    Annotated[EmailRecipient, Tag("email")]
    | Annotated[TelegramRecipient, Tag("telegram")]
    | Annotated[DestinationRecipient, Tag("destination")],
    Discriminator(_recipient_kind),
]
AnyRecipient = EmailRecipient | TelegramRecipient | DestinationRecipient


class ReportMessage(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    v: Literal[1]
    run_id: UUID
    schedule_id: UUID
    organization_id: UUID
    shared_link_id: UUID
    fire_at: datetime
    trigger: Trigger
    recipients: Annotated[list[Recipient], Field(max_length=200)]
    # A test run ignores the schedule's send conditions unless it asks for them; absent means false.
    respect_conditions: bool = False

    @field_validator("fire_at")
    @classmethod
    def _aware_utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("must carry a timezone, e.g. 2026-11-23T06:00:00Z")
        return value.astimezone(UTC)

    @model_validator(mode="after")
    def _unique_recipients(self) -> ReportMessage:
        keys = [(r.channel, r.key) for r in self.recipients]
        if len(keys) != len(set(keys)):
            raise ValueError("recipients must not repeat")
        return self

    @property
    def job_id(self) -> str:
        return job_id_for(self.trigger, self.schedule_id, self.fire_at, self.run_id)

    def to_json(self) -> dict[str, Any]:
        data = self.model_dump(mode="json")
        data["fire_at"] = format_instant(self.fire_at)
        if not self.respect_conditions:
            # Only set when asked, so every message that does not use it has the shape it always had.
            del data["respect_conditions"]
        return data

    @property
    def applies_conditions(self) -> bool:
        """The schedule's own fires obey its send conditions. A test run only when it asks; a replay or resend
        delivers what was decided (or asked for) already, and is not judged again."""
        return self.trigger == "cron" or self.respect_conditions


def recipients_json(recipients: list[AnyRecipient]) -> list[dict[str, Any]]:
    return [r.model_dump(mode="json") for r in recipients]


def cron_message(
    run_id: UUID,
    schedule_id: UUID,
    organization_id: UUID,
    shared_link_id: UUID,
    fire_at: datetime,
    recipients: list[dict[str, Any]],
) -> dict[str, Any]:
    """The JSON of a cron ReportMessage, built without re-validating what the scheduler already holds as
    validated values (a tick makes thousands); equal to ReportMessage(...).to_json(), as a test checks."""
    return {
        "v": MESSAGE_VERSION,
        "run_id": str(run_id),
        "schedule_id": str(schedule_id),
        "organization_id": str(organization_id),
        "shared_link_id": str(shared_link_id),
        "fire_at": format_instant(fire_at),
        "trigger": "cron",
        "recipients": recipients,
    }


# A tick formats the same few fire instants thousands of times.
@lru_cache(maxsize=4096)
def format_instant(value: datetime) -> str:
    text = value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return text


def job_id_for(trigger: str, schedule_id: UUID, fire_at: datetime, run_id: UUID) -> str:
    """Deterministic ids make a repeated enqueue of the same fire a no-op."""
    if trigger == "cron":
        return f"{FUNCTION_NAME}:{schedule_id}:{int(fire_at.timestamp())}"
    return f"{FUNCTION_NAME}:{run_id}"


def parse_message(payload: Any) -> ReportMessage:
    try:
        return ReportMessage.model_validate(payload)
    except ValidationError as exc:
        issues = [FieldIssue(".".join(str(p) for p in err["loc"]) or "message", err["msg"]) for err in exc.errors()]
        raise InvalidMessage(
            issues, "invalid shared_report message: " + "; ".join(f"{i.field}: {i.message}" for i in issues)
        ) from exc


def ledger_columns(recipient: AnyRecipient) -> dict[str, Any]:
    """The recipient as the delivery log stores it: channel, recipient (its key), user_id, email, chat_id and
    destination_id, the ones it does not have None."""
    columns: dict[str, Any] = {"channel": recipient.channel, "recipient": recipient.key}
    columns["user_id"] = recipient.user_id if isinstance(recipient, EmailRecipient) else None
    columns["email"] = recipient.email if isinstance(recipient, EmailRecipient) else None
    columns["chat_id"] = recipient.telegram_chat_id if isinstance(recipient, TelegramRecipient) else None
    columns["destination_id"] = recipient.destination_id if isinstance(recipient, DestinationRecipient) else None
    return columns
