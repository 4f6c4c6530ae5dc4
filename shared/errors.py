"""One root exception type for the service; driver errors are wrapped at the boundary.

The root says whether trying again can help (`retryable`) and, when the other side said so, after how many
seconds (`retry_after`): the shape of Temporal's ApplicationError. A subclass states its default once.
"""

from __future__ import annotations

from dataclasses import dataclass


class ReportsError(Exception):
    """Root of every error this service raises on purpose."""

    retryable: bool = False

    def __init__(self, message: str = "", *, retryable: bool | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        if retryable is not None:
            self.retryable = retryable
        self.retry_after = retry_after


class ConfigError(ReportsError):
    """A setting is missing or invalid; the message names the variable."""


class DatabaseError(ReportsError):
    """PostgreSQL could not be reached or refused a statement."""

    retryable = True


class QueueError(ReportsError):
    """Redis could not be reached or refused a command."""

    retryable = True


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


# What a try of a run ends in when it does not finish the run itself (consumer/lifecycle.py acts on each).


class RunFailed(ReportsError):
    """The run cannot succeed as configured; retrying would not help. It ends `failed` with this message."""


class DeadLetter(ReportsError):
    """The message must go to the dead-letter queue at once."""


class Misaddressed(DeadLetter):
    """The message names a run of another schedule: it is dropped as poison and the run is left to its own job."""


class TryAgain(ReportsError):
    """This try failed for a reason that may pass (a provider, the network, the disk): retried with backoff,
    no sooner than `retry_after` when the other side asked for a wait."""

    retryable = True


class CheckLater(ReportsError):
    """Not a failed try: the run must wait `retry_after` seconds (another worker holds it, or the statistics
    are not fresh yet)."""

    retryable = True

    def __init__(self, message: str, seconds: float, *, note: str | None = None) -> None:
        super().__init__(message, retry_after=seconds)
        self.seconds = seconds
        # What the run's record says while it waits; None records nothing.
        self.note = note


class LeaseLost(ReportsError):
    """Another worker took the run back: whoever holds it now finishes it."""

    retryable = True
