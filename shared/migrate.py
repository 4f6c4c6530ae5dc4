"""Apply the numbered plain-SQL files of the `sql` package, once each, under an advisory lock."""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from importlib import resources

from shared.db import Connection, connect
from shared.errors import MigrationError

log = logging.getLogger(__name__)

# Any fixed 64-bit key; all replicas migrating at once serialize on it.
ADVISORY_LOCK_KEY = 0x5EED_2E90_27_0001
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations() -> list[Migration]:
    found: list[Migration] = []
    for entry in resources.files("sql").iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise MigrationError(f"migration files must be numbered 0001.. without gaps, found {versions}")
    return found


async def migrate_connection(conn: Connection) -> list[int]:
    """Bring the schema up to date; returns the versions applied by this call."""
    migrations = load_migrations()
    await conn.execute("SELECT pg_advisory_lock($1)", ADVISORY_LOCK_KEY)
    try:
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   version    integer PRIMARY KEY,
                   name       text NOT NULL,
                   checksum   text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        rows = await conn.fetch("SELECT version, name, checksum FROM schema_migrations ORDER BY version")
        applied = {r["version"]: r for r in rows}
        known = {m.version: m for m in migrations}
        ahead = sorted(set(applied) - set(known))
        if ahead:
            raise MigrationError(
                f"the database is at schema version {max(applied)} but this code knows only up to "
                f"{max(known, default=0)}: deploy the newer code (unknown versions: {ahead})"
            )
        for version, row in applied.items():
            if row["checksum"] != known[version].checksum:
                raise MigrationError(
                    f"migration {version:04d}_{row['name']}.sql was changed after it was applied; "
                    "add a new migration instead of editing an applied one"
                )
        done: list[int] = []
        for migration in migrations:
            if migration.version in applied:
                continue
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    migration.version,
                    migration.name,
                    migration.checksum,
                )
            log.info("applied migration %04d_%s", migration.version, migration.name)
            done.append(migration.version)
        return done
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", ADVISORY_LOCK_KEY)


async def migrate(dsn: str) -> list[int]:
    conn = await connect(dsn)
    try:
        return await migrate_connection(conn)
    finally:
        await conn.close()


async def require_current(conn: Connection) -> None:
    """Refuse to work on a database whose schema is not exactly the code's (a pool or a connection)."""
    latest = load_migrations()[-1].version
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    applied = await conn.fetchval("SELECT max(version) FROM schema_migrations") if exists else None
    if applied is None or applied < latest:
        state = "has no schema yet" if applied is None else f"is at schema version {applied}"
        raise MigrationError(
            f"the database {state}, this code needs version {latest}: run `python -m producer migrate`"
        )
    if applied > latest:
        raise MigrationError(
            f"the database is at schema version {applied}, newer than this code ({latest}): "
            "deploy the matching version (its `python -m producer migrate` reports the same)"
        )
