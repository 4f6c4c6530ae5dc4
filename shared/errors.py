"""One root exception type for the service; driver errors are wrapped at the boundary."""

from __future__ import annotations

from dataclasses import dataclass


class ReportsError(Exception):
    """Root of every error this service raises on purpose."""


class ConfigError(ReportsError):
    """A setting is missing or invalid; the message names the variable."""


class DatabaseError(ReportsError):
    """PostgreSQL could not be reached or refused a statement."""


class QueueError(ReportsError):
    """Redis could not be reached or refused a command."""


class MigrationError(ReportsError):
    """The schema cannot be brought to the code's version."""


@dataclass(frozen=True)
class FieldIssue:
    field: str
    message: str


class ExportTooLarge(ReportsError):
    """A report does not fit its format; the message names the limit and the way out."""


class InvalidInput(ReportsError):
    """User input broke a rule; each issue names the field and the fix."""

    def __init__(self, issues: list[FieldIssue] | FieldIssue, message: str | None = None) -> None:
        self.issues = [issues] if isinstance(issues, FieldIssue) else list(issues)
        text = message or "; ".join(f"{i.field}: {i.message}" for i in self.issues)
        super().__init__(text)


class InvalidCron(InvalidInput):
    """A cron expression, cadence, time or timezone is not acceptable."""


class InvalidFilters(InvalidInput):
    """A shared link's filters cannot be applied; exports fail closed."""


class InvalidMessage(InvalidInput):
    """A queue message does not follow the contract."""
