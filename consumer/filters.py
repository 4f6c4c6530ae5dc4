"""A shared link's filters, validated strictly (fail closed) and turned into bound SQL conditions."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any, Literal
from uuid import UUID
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from shared.errors import FieldIssue, InvalidFilters

Period = Literal[
    "all", "last_24_hours", "last_7_days", "last_30_days", "previous_day", "previous_week", "previous_month"
]
Text = Annotated[str, StringConstraints(max_length=500)]
Day = Annotated[str, StringConstraints(pattern=r"^\d{4}-\d{2}-\d{2}$")]


class Filters(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    platforms: Annotated[list[Text], Field(max_length=1000)] | None = None
    statuses: Annotated[list[Text], Field(max_length=1000)] | None = None
    campaign_tags: Annotated[list[Text], Field(max_length=1000)] | None = None
    channel_usernames: Annotated[list[Text], Field(max_length=1000)] | None = None
    published_from: Day | None = None
    published_to: Day | None = None
    search: Text | None = None
    period: Period = "all"


def parse_filters(raw: Any) -> Filters:
    if not isinstance(raw, dict):
        raise InvalidFilters(FieldIssue("filters", "must be a JSON object"))
    try:
        filters = Filters.model_validate(raw)
    except ValidationError as exc:
        issues = []
        for err in exc.errors():
            key = str(err["loc"][0]) if err["loc"] else "filters"
            message = "is not a known filter key" if err["type"] == "extra_forbidden" else err["msg"]
            issues.append(FieldIssue(f"filters.{key}", message))
        raise InvalidFilters(
            issues,
            "shared link filters cannot be applied, so nothing was exported: "
            + "; ".join(f"{i.field}: {i.message}" for i in issues),
        ) from exc
    for key in ("published_from", "published_to"):
        value = getattr(filters, key)
        if value is not None:
            try:
                date.fromisoformat(value)
            except ValueError as exc:
                raise InvalidFilters(FieldIssue(f"filters.{key}", f"'{value}' is not a real date")) from exc
    return filters


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz)


def period_bounds(period: Period, fire_at: datetime, tz: ZoneInfo) -> tuple[datetime | None, datetime | None]:
    """[start, end) of a relative period, taken on the schedule's local calendar."""
    if period == "all":
        return None, None
    if period in ("last_24_hours", "last_7_days", "last_30_days"):
        span = {
            "last_24_hours": timedelta(hours=24),
            "last_7_days": timedelta(days=7),
            "last_30_days": timedelta(days=30),
        }[period]
        return fire_at - span, fire_at
    today = fire_at.astimezone(tz).date()
    if period == "previous_day":
        return _midnight(today - timedelta(days=1), tz), _midnight(today, tz)
    if period == "previous_week":
        monday = today - timedelta(days=today.weekday())
        return _midnight(monday - timedelta(days=7), tz), _midnight(monday, tz)
    first = today.replace(day=1)
    previous_first = (first - timedelta(days=1)).replace(day=1)
    return _midnight(previous_first, tz), _midnight(first, tz)


@dataclass
class Where:
    conditions: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)

    def add(self, template: str, *values: Any) -> None:
        """`template` uses {} for each value; they become $n placeholders."""
        numbers = []
        for value in values:
            self.params.append(value)
            numbers.append(f"${len(self.params)}")
        self.conditions.append(template.format(*numbers))

    @property
    def sql(self) -> str:
        return " AND ".join(self.conditions) or "true"


def build_where(organization_id: UUID, filters: Filters, timezone: str, fire_at: datetime) -> Where:
    tz = ZoneInfo(timezone)
    where = Where()
    where.add("organization_id = {}", organization_id)
    for key, column in (
        ("platforms", "platform"),
        ("statuses", "status"),
        ("campaign_tags", "campaign_tag"),
        ("channel_usernames", "channel_username"),
    ):
        values = getattr(filters, key)
        if values is not None:
            where.add(f"{column} = ANY({{}}::text[])", values)
    if filters.published_from:
        where.add("published_at >= {}", _midnight(date.fromisoformat(filters.published_from), tz))
    if filters.published_to:
        last_day = date.fromisoformat(filters.published_to)
        where.add("published_at < {}", _midnight(last_day + timedelta(days=1), tz))
    if filters.search:
        where.add("strpos(lower(title), lower({})) > 0", filters.search)
    start, end = period_bounds(filters.period, fire_at, tz)
    if start is not None and end is not None:
        where.add("published_at >= {} AND published_at < {}", start, end)
    return where
