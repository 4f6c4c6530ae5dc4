"""The send conditions and the run's status, decided with no server: what each gate says for each input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from consumer.conditions import freshness, run_status, skip_reason

FIRE = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)


def schedule(**over: Any) -> dict[str, Any]:
    base = {
        "require_fresh_within_seconds": None,
        "fresh_wait_max_seconds": 3600,
        "stale_action": "send",
        "min_rows": 0,
        "skip_if_empty": False,
        "only_if_changed": False,
    }
    return {**base, **over}


def fresh(s: dict[str, Any], updated: datetime | None, now: datetime, applies: bool = True) -> Any:
    return freshness(s, updated=updated, now=now, fire_at=FIRE, applies_conditions=applies, retry_delay=30.0)


def test_no_window_asks_nothing() -> None:
    assert fresh(schedule(), None, FIRE) is None


def test_statistics_inside_the_window_are_fresh() -> None:
    s = schedule(require_fresh_within_seconds=3600)
    assert fresh(s, FIRE - timedelta(minutes=59), FIRE) is None
    assert fresh(s, FIRE - timedelta(seconds=3600), FIRE) is None


def test_stale_statistics_wait_with_backoff_until_the_wait_ends() -> None:
    s = schedule(require_fresh_within_seconds=600, fresh_wait_max_seconds=100)
    stale = fresh(s, FIRE - timedelta(hours=2), FIRE)
    assert (stale.action, stale.wait_seconds) == ("wait", 30.0)
    assert "2026-11-23T04:00:00+00:00" in stale.note and "waiting for fresh statistics" in stale.wait_note
    # Never past the end of the wait, and never less than a tenth of a second.
    assert fresh(s, FIRE - timedelta(hours=2), FIRE + timedelta(seconds=90)).wait_seconds == 10.0
    assert fresh(s, None, FIRE + timedelta(seconds=99.99)).wait_seconds == pytest.approx(0.1)


@pytest.mark.parametrize("action", ["send", "skip"])
def test_after_the_wait_the_stale_action_decides(action: str) -> None:
    s = schedule(require_fresh_within_seconds=600, fresh_wait_max_seconds=100, stale_action=action)
    stale = fresh(s, None, FIRE + timedelta(seconds=100))
    assert stale.action == action and stale.note == "Data may be stale: statistics were last updated never."


def test_a_run_that_ignores_the_conditions_sends_at_once_with_the_note() -> None:
    s = schedule(require_fresh_within_seconds=600, stale_action="skip")
    stale = fresh(s, None, FIRE, applies=False)
    assert stale.action == "send" and "stale" in stale.note


@pytest.mark.parametrize(
    ("over", "rows", "reason"),
    [
        ({}, 0, None),
        ({"skip_if_empty": True}, 0, "no rows matched and skip_if_empty is set"),
        ({"skip_if_empty": True}, 1, None),
        ({"min_rows": 5}, 4, "4 row(s), fewer than min_rows 5"),
        ({"min_rows": 5}, 5, None),
        ({"min_rows": 5, "skip_if_empty": True}, 0, "no rows matched and skip_if_empty is set"),
        ({"min_rows": 0, "skip_if_empty": True}, 0, "no rows matched and skip_if_empty is set"),
    ],
)
def test_rows(over: dict[str, Any], rows: int, reason: str | None) -> None:
    assert skip_reason(schedule(**over), rows, "abc", None) == reason


def test_only_if_changed_compares_with_the_last_sent_file() -> None:
    s = schedule(only_if_changed=True)
    last = {"id": "r1", "content_sha256": "abc"}
    assert skip_reason(s, 3, "abc", last) == "unchanged since run r1 (only_if_changed is set)"
    assert skip_reason(s, 3, "def", last) is None
    assert skip_reason(s, 3, "abc", None) is None, "nothing sent yet: send"
    assert skip_reason(schedule(), 3, "abc", last) is None, "the condition is off"


@pytest.mark.parametrize(
    ("total", "served", "maybe", "status", "error"),
    [
        (2, 2, 0, "sent", None),
        (2, 1, 0, "partial", "1 of 2 recipient(s) failed permanently"),
        (2, 0, 0, "failed", "2 of 2 recipient(s) failed permanently"),
        (2, 0, 1, "partial", "1 of 2 recipient(s) failed permanently; 1 of 2 recipient(s) maybe delivered"),
        (1, 0, 1, "partial", "1 of 1 recipient(s) maybe delivered"),
        (0, 0, 0, "skipped", None),
    ],
)
def test_run_status(total: int, served: int, maybe: int, status: str, error: str | None) -> None:
    got_status, got_error = run_status(total, served, maybe)
    assert got_status == status
    if error is None:
        assert got_error is None
    else:
        assert got_error is not None and got_error.startswith(error)
