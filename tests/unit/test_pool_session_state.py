"""Pooled connections are released without asyncpg's reset query (shared/db.py), which is safe only while no
code leaves session state on them: every SET is LOCAL or per transaction, and the two session-level features
in use live on connections of their own."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted(p for package in ("consumer", "producer", "shared") for p in (ROOT / package).rglob("*.py"))
SESSION_SET = re.compile(r"""["']\s*SET\s+(?!LOCAL\b|TRANSACTION\b)[a-z_]+\s*(=|TO\b)""", re.IGNORECASE)
# Where each session-level feature may appear: on a connection opened for it alone, closed after use.
OWN_CONNECTION = {
    "pg_advisory_lock": {"shared/migrate.py"},
    "add_listener": {"producer/loop.py"},
    "LISTEN ": {"producer/loop.py"},
    "DECLARE ": set(),
    "PREPARE ": set(),
}


def test_no_session_level_set() -> None:
    found = [f"{p.relative_to(ROOT)}: {m.group(0)}" for p in SOURCES for m in SESSION_SET.finditer(p.read_text())]
    assert found == []


def test_session_level_features_stay_on_their_own_connections() -> None:
    for needle, allowed in OWN_CONNECTION.items():
        users = {str(p.relative_to(ROOT)) for p in SOURCES if needle in p.read_text()}
        assert users <= allowed, (needle, users - allowed)


def test_the_guard_recognises_what_it_guards_against() -> None:
    assert SESSION_SET.search("await conn.execute(\"SET statement_timeout = '5s'\")")
    assert SESSION_SET.search("conn.execute('set work_mem TO 64000')")
    assert not SESSION_SET.search("await conn.execute(\"SET LOCAL DateStyle = 'ISO, YMD'\")")
    assert not SESSION_SET.search("SET TRANSACTION SNAPSHOT '0000-1'")
    assert not SESSION_SET.search('"UPDATE t SET status = $2"')
