"""Request and response models of the API; the OpenAPI document is generated from them."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from producer.api import formats as format_rules
from shared import templates
from shared.cron import zone
from shared.errors import InvalidInput

Cadence = Literal["daily", "weekly", "monthly", "quarterly", "custom"]
Format = Literal["csv", "csv.zip", "ndjson", "ndjson.zip", "xlsx", "xlsx.zip"]
Misfire = Literal["fire_once", "skip", "fire_all"]
# The channels whose recipients are stored destinations (shared.message.DESTINATION_CHANNELS).
DestinationKind = Literal["slack", "sftp", "webhook"]
RunStatus = Literal["queued", "running", "sent", "partial", "failed", "skipped", "dead"]


def _no_control(value: str) -> str:
    # PostgreSQL cannot store NUL, and no field here has a use for control or unpaired surrogate characters,
    # nor for the Unicode line and paragraph separators (U+2028, U+2029), which can break a header line.
    for char in value:
        if unicodedata.category(char) in ("Cc", "Cs", "Zl", "Zp"):
            raise ValueError(f"must not contain control characters or line separators (found U+{ord(char):04X})")
    return value


def _no_control_but_lines(value: str) -> str:
    # A message may have lines and tabs; nothing else invisible.
    _no_control(value.replace("\n", " ").replace("\t", " "))
    return value


def _iana_zone(value: str) -> str:
    try:
        zone(value)
    except InvalidInput as exc:
        raise ValueError(exc.issues[0].message) from None
    return value


def _template(field: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        try:
            templates.check(field, value)
        except InvalidInput as exc:
            raise ValueError(exc.issues[0].message) from None
        return value

    return check


Text = Annotated[str, AfterValidator(_no_control)]
# {{ variable }} placeholders only; checked here so a template can never fail at send time.
SubjectTemplate = Annotated[Text, Field(max_length=200), AfterValidator(_template("subject_template"))]
MessageTemplate = Annotated[
    str,
    Field(max_length=2000),
    AfterValidator(_no_control_but_lines),
    AfterValidator(_template("message_template")),
]
Email = Annotated[
    str,
    Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
    AfterValidator(_no_control),
]
Zone = Annotated[str, Field(min_length=1, max_length=64, examples=["Europe/London"]), AfterValidator(_iana_zone)]
# ASCII digits only, HH:MM.
Time = Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", examples=["09:30"])]
Cron = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[ -~]+$", examples=["0 9 * * 1"])]
ChatId = Annotated[int, Field(ge=-(2**63), le=2**63 - 1)]
MAX_RECIPIENTS = 100


class Strict(BaseModel):
    """JSON types exactly as the OpenAPI document says: no "10" for 10, no 1 or "yes" for true."""

    model_config = ConfigDict(extra="forbid", strict=True)


class RecipientIn(Strict):
    channel: Literal["email", "telegram"]
    user_id: UUID | None = None
    email: Email | None = None
    telegram_chat_id: ChatId | None = None

    @model_validator(mode="after")
    def _one_target(self) -> RecipientIn:
        self._check_target()
        return self

    def _check_target(self) -> None:
        if self.channel == "email":
            if (self.user_id is None) == (self.email is None) or self.telegram_chat_id is not None:
                raise ValueError("an email recipient has exactly one of user_id or email, and no telegram_chat_id")
        elif self.telegram_chat_id is None or self.user_id is not None or self.email is not None:
            raise ValueError("a telegram recipient has telegram_chat_id only")

    @property
    def target(self) -> str:
        return str(self.user_id or (self.email or "").lower() or self.telegram_chat_id)


Recipients = Annotated[list[RecipientIn], Field(max_length=MAX_RECIPIENTS)]


class RunRecipientIn(RecipientIn):
    """A test run's recipient: a person or chat as a schedule has them, or a stored destination by its id."""

    channel: Literal["email", "telegram", "slack", "webhook", "sftp"]  # type: ignore[assignment]
    # A Slack, webhook or SFTP destination of the schedule's organization (GET /v1/destinations lists them).
    destination_id: UUID | None = None

    def _check_target(self) -> None:
        if self.channel in ("slack", "webhook", "sftp"):
            if self.destination_id is None or self.user_id or self.email or self.telegram_chat_id is not None:
                raise ValueError(f"a {self.channel} recipient has destination_id only (see GET /v1/destinations)")
        elif self.destination_id is not None:
            raise ValueError("destination_id is for slack, webhook and sftp recipients")
        else:
            super()._check_target()

    @property
    def target(self) -> str:
        return str(self.destination_id) if self.destination_id is not None else super().target


DAY_NAMES = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
DAY_OF_WEEK = "must be 0-6 (0 = Sunday) or a day name, e.g. 1 or monday"


def _day_of_week(value: Any) -> Any:
    # A name (any case, or its first three letters) becomes its number; numbers go on to the range check.
    if isinstance(value, str):
        name = value.strip().lower()
        for number, day in enumerate(DAY_NAMES):
            if name in (day, day[:3]):
                return number
        raise PydanticCustomError("day_of_week", DAY_OF_WEEK)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 6:
        raise PydanticCustomError("day_of_week", DAY_OF_WEEK)
    return value


DayOfWeek = Annotated[
    int,
    BeforeValidator(_day_of_week),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": 0, "maximum": 6},
                {"type": "string", "enum": [*DAY_NAMES, *(d[:3] for d in DAY_NAMES)]},
            ],
            "description": "0-6 with 0 = Sunday, or a day name (any case, or its first three letters)",
        },
        mode="validation",
    ),
]


class TimingFields(Strict):
    cadence: Cadence | None = None
    scheduled_time: Time | None = None
    day_of_week: DayOfWeek | None = None
    day_of_month: int | None = None
    cron_expression: Cron | None = None
    timezone: Zone | None = None

    @field_validator("day_of_month")
    @classmethod
    def _dom(cls, value: int | None) -> int | None:
        if value is not None and not (1 <= value <= 28 or value == -1):
            raise ValueError("must be 1-28, or -1 for the last day of the month")
        return value


WINDOW = (datetime(2000, 1, 1, tzinfo=UTC), datetime(3000, 1, 1, tzinfo=UTC))


def _instant(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("must carry a time zone (Z or an offset), e.g. 2026-12-01T00:00:00Z")
    if not WINDOW[0] <= value <= WINDOW[1]:
        raise ValueError("must be between 2000 and 3000")
    return value.astimezone(UTC)


Instant = Annotated[datetime, AfterValidator(_instant), Field(examples=["2027-01-01T00:00:00Z"])]


def _notice_target(value: str) -> str:
    if value in ("owner", "admins"):
        return value
    if value.startswith("destination:"):
        try:
            return f"destination:{UUID(value.removeprefix('destination:'))}"
        except ValueError:
            raise ValueError("destination: must be followed by a destination's id (a UUID)") from None
    if re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value) and len(value) <= 320:
        return value
    raise ValueError("must be owner, admins, an email address, or destination:<id>, e.g. admins")


NoticeTarget = Annotated[str, Field(min_length=1, max_length=400, examples=["admins"]), AfterValidator(_notice_target)]


def _formats(value: list[str]) -> list[str]:
    trouble = format_rules.problem(value)
    if trouble is not None:
        raise ValueError(trouble)
    return value


# Bounds in the schema, checked by _formats so that an empty or long list gets its own message.
Formats = Annotated[
    list[Format],
    Field(json_schema_extra={"minItems": 1, "maxItems": format_rules.MAX_FORMATS}, examples=[["csv", "xlsx.zip"]]),
    AfterValidator(_formats),
]


class ScheduleOptions(TimingFields):
    name: Annotated[Text, Field(min_length=1, max_length=200)] | None = None
    send_email: bool | None = None
    send_telegram: bool | None = None
    format: Format | None = None
    # The formats each run delivers, the main one (format) first: 1 to 3 kinds, each at most once.
    formats: Formats | None = None
    misfire_policy: Misfire | None = None
    misfire_grace_seconds: Annotated[int, Field(ge=0, le=604_800)] | None = None
    jitter_seconds: Annotated[int, Field(ge=0, le=3600)] | None = None
    skip_if_empty: bool | None = None
    # Send only when the report has at least this many rows (skip_if_empty is the same as 1).
    min_rows: Annotated[int, Field(ge=0, le=1_000_000_000)] | None = None
    # Skip when the file is byte for byte the one last sent for this schedule.
    only_if_changed: bool | None = None
    # The freshness gate: statistics must have been updated within this many seconds before the fire.
    require_fresh_within_seconds: Annotated[int, Field(ge=1, le=31_536_000)] | None = None
    fresh_wait_max_seconds: Annotated[int, Field(ge=0, le=604_800)] | None = None
    stale_action: Literal["send", "skip"] | None = None
    # {{ variable }} placeholders only; checked here so a template can never fail at send time.
    subject_template: SubjectTemplate | None = None
    message_template: MessageTemplate | None = None
    # Channels with stored destinations to deliver to as well: the schedule's own, else the organization's.
    channels: Annotated[list[DestinationKind], Field(max_length=8)] | None = None
    enabled: bool | None = None
    # A CSV cell that starts like a formula (=, +, -, @, tab, CR) gets a leading apostrophe; false for machine
    # consumers that want the values exactly as stored.
    csv_formula_guard: bool | None = None
    # The window it fires in (each end included, either optional): nothing fires outside it.
    starts_at: Instant | None = None
    ends_at: Instant | None = None
    # Whom to tell when runs fail: owner, admins, email addresses, destination:<id> (Slack or webhook).
    notify_on_failure: Annotated[list[NoticeTarget], Field(max_length=20)] | None = None

    @field_validator("channels")
    @classmethod
    def _distinct(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and len(set(value)) != len(value):
            raise ValueError("must not repeat a channel")
        return value


class ScheduleCreate(ScheduleOptions):
    shared_link_id: UUID
    recipients: Recipients | None = None


class ScheduleUpdate(ScheduleOptions):
    shared_link_id: UUID | None = None


class RecipientsReplace(Strict):
    recipients: Recipients


class RunRequest(Strict):
    recipients: Annotated[list[RunRecipientIn], Field(min_length=1, max_length=MAX_RECIPIENTS)] | None = None
    # A test run sends whatever the send conditions say; true makes it obey them like a scheduled fire.
    respect_conditions: bool = False


class OwnerChange(Strict):
    # A member of the schedule's organization: failure notices go to them from now on.
    user_id: UUID


class RecipientOut(BaseModel):
    id: UUID
    channel: Literal["email", "telegram"]
    user_id: UUID | None
    email: str | None
    telegram_chat_id: int | None
    # When this address unsubscribed (from the schedule, or every report of the organization); null: it did not.
    unsubscribed_at: datetime | None = None


class ScheduleOut(BaseModel):
    id: UUID
    organization_id: UUID
    shared_link_id: UUID
    created_by: UUID | None
    name: str
    cadence: Cadence
    scheduled_time: str | None
    day_of_week: int | None
    day_of_month: int | None
    cron_expression: str
    timezone: str
    send_email: bool
    send_telegram: bool
    format: Format
    # format, then the schedule's other formats.
    formats: list[Format]
    misfire_policy: Misfire
    misfire_grace_seconds: int
    jitter_seconds: int
    skip_if_empty: bool
    min_rows: int
    only_if_changed: bool
    require_fresh_within_seconds: int | None
    fresh_wait_max_seconds: int
    stale_action: Literal["send", "skip"]
    subject_template: str | None
    message_template: str | None
    channels: list[str]
    enabled: bool
    csv_formula_guard: bool
    notify_on_failure: list[str] | None = None
    next_run_at: datetime | None
    last_run_at: datetime | None
    last_run_status: RunStatus | None
    created_at: datetime
    updated_at: datetime
    # Set when the schedule was deleted: it is kept, readable and restorable, until retention removes it.
    deleted_at: datetime | None
    starts_at: datetime | None
    ends_at: datetime | None
    # True once no fire is left before ends_at: next_run_at stays null whatever else changes.
    ended: bool
    recipients: list[RecipientOut]
    upcoming: list[datetime]


class ScheduleList(BaseModel):
    items: list[ScheduleOut]
    next_cursor: str | None


class NotificationOut(BaseModel):
    id: UUID
    channel: str
    # The recipient as its channel names it: an address, a chat id, a Slack channel, a URL, user@host/dir.
    recipient: str
    destination_id: UUID | None
    recipient_user_id: UUID | None
    email: str | None
    telegram_chat_id: int | None
    status: Literal["sending", "sent", "failed", "unconfirmed", "blocked_by_policy", "unsubscribed"]
    payload: dict[str, Any]
    created_at: datetime


class FileOut(BaseModel):
    """One file a run delivered (each format is a file of its own)."""

    format: str
    filename: str
    bytes: int
    sha256: str


class RunOut(BaseModel):
    id: UUID
    schedule_id: UUID
    fire_at: datetime
    trigger: Literal["cron", "manual", "replay"]
    status: RunStatus
    attempts: int
    row_count: int | None
    byte_count: int | None
    filename: str | None
    error: str | None
    enqueued_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    created_at: datetime
    # Who asked for a manual run, and its recipients outside the schedule's and the organization's.
    requested_by: UUID | None
    outside_recipients: list[str]
    # The files it delivered, one per format; null for a run that has not delivered, or ran before formats.
    files: list[FileOut] | None = None
    notifications: list[NotificationOut]


class RunList(BaseModel):
    items: list[RunOut]
    next_cursor: str | None


class RunAccepted(BaseModel):
    run_id: UUID
    # Set when no consumer is reading the queue the run was put on.
    warning: str | None = None


class DeadLetterOut(BaseModel):
    id: UUID
    run_id: UUID | None
    organization_id: UUID | None
    job_id: str
    payload: Any
    error: str
    attempts: int
    failed_at: datetime
    replayed_at: datetime | None
    replay_count: int


class DeadLetterList(BaseModel):
    items: list[DeadLetterOut]
    next_cursor: str | None


class ErrorDetail(BaseModel):
    field: str
    message: str


class ErrorBody(BaseModel):
    code: str
    message: str
    details: list[ErrorDetail]


class ErrorResponse(BaseModel):
    error: ErrorBody


PREVIEW_FROM = (datetime(1970, 1, 1, tzinfo=UTC), datetime(3000, 1, 1, tzinfo=UTC))


class PreviewRequest(TimingFields):
    """A schedule's timing fields, checked exactly as on create, and how many fires to show from when."""

    count: Annotated[int, Field(ge=1, le=50)] = 5
    from_: Annotated[datetime | None, Field(alias="from")] = None
    # The schedule's window, if it has one: only fires inside it are shown (fewer than count near its end).
    starts_at: Instant | None = None
    ends_at: Instant | None = None

    @field_validator("from_")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("must carry a time zone (Z or an offset), e.g. 2026-12-01T00:00:00Z")
        # Far enough ahead for any plan; fires far beyond it would leave the calendar Python can count.
        if not PREVIEW_FROM[0] <= value <= PREVIEW_FROM[1]:
            raise ValueError("must be between 1970 and 2999")
        return value


class FireOut(BaseModel):
    at: datetime
    # The same instant on the schedule's wall clock, with its UTC offset.
    local: str


class PreviewOut(BaseModel):
    cron_expression: str
    timezone: str
    fires: list[FireOut]


class TimezoneOut(BaseModel):
    name: str
    # The zone's offset from UTC now, e.g. "+05:30".
    utc_offset: str
    offset_seconds: int


class TimezoneList(BaseModel):
    items: list[TimezoneOut]


class OrganizationRunOut(RunOut):
    organization_id: UUID
    schedule_name: str


class OrganizationRunList(BaseModel):
    items: list[OrganizationRunOut]
    next_cursor: str | None


class DurationOut(BaseModel):
    p50: float | None
    p95: float | None


class LastRunOut(BaseModel):
    id: UUID
    trigger: Literal["cron", "manual", "replay"]
    status: RunStatus
    row_count: int | None
    byte_count: int | None
    finished_at: datetime | None
    files: list[FileOut] | None = None


class ScheduleStatsOut(BaseModel):
    schedule_id: UUID
    days: int
    since: datetime
    # Runs finished in the window, per final status (every status present, 0 when none).
    runs: dict[str, int]
    last_success_at: datetime | None
    # Seconds from a run's start to its end, over the window's finished runs.
    duration_seconds: DurationOut
    last_run: LastRunOut | None
