"""Structured logging: one JSON object per line, with the request id when there is one."""

from __future__ import annotations

import contextvars
import logging
import sys
from datetime import UTC, datetime

import orjson

from shared.redact import redact

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
# What a line is about (run_id, schedule_id, job_id, organization_id): set once per job, inherited by its tasks.
subject: contextvars.ContextVar[dict[str, str]] = contextvars.ContextVar("subject", default={})  # noqa: B039
FIELDS = ("run_id", "schedule_id", "job_id", "organization_id")


def about(**fields: object) -> None:
    """Add fields to every log line of the current task (and of the tasks it starts from now on)."""
    subject.set({**subject.get(), **{k: str(v) for k, v in fields.items() if v is not None}})


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        rid = request_id.get()
        if rid:
            data["request_id"] = rid
        data.update(subject.get())
        for name in FIELDS:
            # A line may name its subject itself: log.info(..., extra={"schedule_id": ...}).
            value = record.__dict__.get(name)
            if value is not None:
                data[name] = str(value)
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return redact(orjson.dumps(data, default=str).decode())


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    # A library's warning becomes a log line in the configured format (JSON stays JSON), not free text on stderr.
    logging.captureWarnings(True)
    root.setLevel(level.upper())
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
