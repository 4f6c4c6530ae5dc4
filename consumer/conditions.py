"""The send conditions as pure functions: whether a report goes out, decided from what was read.

Freshness (`require_fresh_within_seconds`): statistics older than the window make the run wait, up to
`fresh_wait_max_seconds` after the fire, then do what `stale_action` says (send with a note, or skip). Rows
(`min_rows`, with `skip_if_empty` as min_rows = 1) and content (`only_if_changed`) skip a run after its export.
A manual run applies none of them unless it asked to (`respect_conditions`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

# A wait is never shorter than this, so a run about to give up still sleeps between checks.
MIN_WAIT_SECONDS = 0.1


@dataclass(frozen=True)
class Stale:
    """The statistics are older than the schedule allows."""

    # Said in every message of a report that goes out anyway.
    note: str
    # "send" (with the note), "skip", or "wait" (check again after `wait_seconds`).
    action: str
    wait_seconds: float = 0.0
    wait_note: str = ""


def freshness(
    schedule: Mapping[str, Any],
    *,
    updated: datetime | None,
    now: datetime,
    fire_at: datetime,
    applies_conditions: bool,
    retry_delay: float,
) -> Stale | None:
    """None when the statistics are fresh enough (or the schedule asks nothing); else what to do about it."""
    window = schedule["require_fresh_within_seconds"]
    if not window or (updated is not None and updated >= fire_at - timedelta(seconds=window)):
        return None
    since = "never" if updated is None else updated.astimezone(UTC).isoformat(timespec="seconds")
    note = f"Data may be stale: statistics were last updated {since}."
    if not applies_conditions:
        # A run that ignores the send conditions does not wait and is not skipped: it sends with the note.
        return Stale(note, "send")
    give_up_at = fire_at + timedelta(seconds=schedule["fresh_wait_max_seconds"])
    if now < give_up_at:
        wait = max(min(retry_delay, (give_up_at - now).total_seconds()), MIN_WAIT_SECONDS)
        return Stale(note, "wait", wait, f"waiting for fresh statistics (last updated {since})")
    return Stale(note, schedule["stale_action"])


def skip_reason(schedule: Mapping[str, Any], rows: int, sha256: str, last_sent: Mapping[str, Any] | None) -> str | None:
    """Why the send conditions say not to send this file, or None to send it. `last_sent` is the schedule's
    last sent run (id, content_sha256), read only when `only_if_changed` is set."""
    min_rows = max(schedule["min_rows"], 1 if schedule["skip_if_empty"] else 0)
    if rows < min_rows:
        if rows == 0 and schedule["skip_if_empty"]:
            return "no rows matched and skip_if_empty is set"
        return f"{rows} row(s), fewer than min_rows {min_rows}"
    if schedule["only_if_changed"] and last_sent is not None and last_sent["content_sha256"] == sha256:
        return f"unchanged since run {last_sent['id']} (only_if_changed is set)"
    return None


def run_status(total: int, served: int, maybe: int) -> tuple[str, str | None]:
    """The run's status and, when not every recipient was served, what fell short. `total` counts only the
    recipients that may be sent to."""
    if total <= 0:
        return "skipped", None
    if served >= total:
        return "sent", None
    parts = []
    if total - served - maybe > 0:
        parts.append(f"{total - served - maybe} of {total} recipient(s) failed permanently")
    if maybe:
        parts.append(
            f"{maybe} of {total} recipient(s) maybe delivered (the provider took the report but did not answer "
            "with its success; check with them before replaying)"
        )
    return ("partial" if served or maybe else "failed"), "; ".join(parts)
