"""Stream a report from videos_with_statistics_fast into a spool file in the export's CSV bytes.

One `COPY (query) TO STDOUT (FORMAT csv, FORCE_QUOTE ...)` produces the bytes with PostgreSQL's own output
functions; Python only moves them to disk in bounded chunks, so memory stays flat at any size."""

from __future__ import annotations

import asyncio
import re
import time
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from uuid import UUID
from zoneinfo import ZoneInfo

from consumer.filters import Filters, build_where

HEADER = (
    "title,video_url,platform,status,campaign_tag,channel_username,published_at,created_at,"
    "views,likes,comments,reposts\n"
)
_TEXT = ("title", "video_url", "platform", "status", "campaign_tag", "channel_username")
_NUMBERS = ("views", "likes", "comments", "reposts")


def _quoted(expr: str) -> str:
    # NULL makes the whole term NULL, which concat() writes as an empty, unquoted field.
    return f"""'"' || replace({expr}, '"', '""') || '"'"""


def line_sql(tz_param: str) -> str:
    fields = [_quoted(c) for c in _TEXT]
    # A date's text form is YYYY-MM-DD under DateStyle ISO, which the export transaction sets.
    fields += [_quoted(f"(({c} AT TIME ZONE {tz_param})::date)::text") for c in ("published_at", "created_at")]
    fields += list(_NUMBERS)
    # One concat() call builds the line in a single allocation; numbers print bare.
    return "concat(" + ", ',', ".join(fields) + ", E'\\n')"


ORDER = "published_at DESC NULLS LAST, id"
# Quoted when not NULL (NULL is an empty, unquoted field), exactly like the line built by line_sql.
FORCE_QUOTE = (*_TEXT, "published_on", "created_on")
CHUNK_BYTES = 1 << 20


def export_query(organization_id: UUID, filters: Filters, timezone: str, fire_at: datetime) -> tuple[str, list[object]]:
    where = build_where(organization_id, filters, timezone, fire_at)
    tz_param = f"${len(where.params) + 1}::text"
    sql = f"SELECT {line_sql(tz_param)} FROM videos_with_statistics_fast WHERE {where.sql} ORDER BY {ORDER}"
    return sql, [*where.params, timezone]


def copy_query(organization_id: UUID, filters: Filters, timezone: str, fire_at: datetime) -> tuple[str, list[object]]:
    """The export's rows as columns whose CSV form (with FORCE_QUOTE) is the export's bytes."""
    where = build_where(organization_id, filters, timezone, fire_at)
    tz_param = f"${len(where.params) + 1}::text"
    # Aliased apart from the source columns, which ORDER BY must keep meaning.
    dates = [f"(({c}_at AT TIME ZONE {tz_param})::date)::text AS {c}_on" for c in ("published", "created")]
    columns = ", ".join([*_TEXT, *dates, *_NUMBERS])
    sql = f"SELECT {columns} FROM videos_with_statistics_fast WHERE {where.sql} ORDER BY {ORDER}"
    return sql, [*where.params, timezone]


def plain_query(organization_id: UUID, filters: Filters, timezone: str, fire_at: datetime) -> tuple[str, list[object]]:
    """The same rows as plain columns, for COPY comparisons and OFFSET baselines."""
    where = build_where(organization_id, filters, timezone, fire_at)
    sql = (
        f"SELECT title, video_url, platform, status, campaign_tag, channel_username, published_at, "
        f"created_at, views, likes, comments, reposts FROM videos_with_statistics_fast WHERE {where.sql} "
        f"ORDER BY {ORDER}"
    )
    return sql, list(where.params)


def slugify(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug or "report"


def file_name(slug: str, fire_at: datetime, timezone: str, extension: str = "csv") -> str:
    return f"{slugify(slug)}-{fire_at.astimezone(ZoneInfo(timezone)).date().isoformat()}.{extension}"


@dataclass(frozen=True)
class ExportResult:
    path: Path
    rows: int
    size: int
    seconds: float


async def export_to_file(
    conn: object,
    organization_id: UUID,
    filters: Filters,
    timezone: str,
    fire_at: datetime,
    out: Path,
    chunk_bytes: int = CHUNK_BYTES,
) -> ExportResult:
    """Write the CSV to `out` through one streamed COPY, in a read-only snapshot; disk writes of up to
    `chunk_bytes` go to a thread so a slow disk never stalls deliveries on the event loop."""
    started = time.perf_counter()
    sql, params = copy_query(organization_id, filters, timezone, fire_at)
    loop = asyncio.get_running_loop()
    buffered: list[bytes] = []
    pending = 0
    with out.open("wb") as handle:
        size = handle.write(HEADER.encode())

        async def flush() -> None:
            nonlocal size, pending
            data = b"".join(buffered)
            buffered.clear()
            pending = 0
            size += await loop.run_in_executor(None, handle.write, data)

        async def sink(chunk: bytes) -> None:
            nonlocal pending
            buffered.append(chunk)
            pending += len(chunk)
            if pending >= chunk_bytes:
                await flush()

        async with conn.transaction(isolation="repeatable_read", readonly=True):  # type: ignore[attr-defined]
            await conn.execute("SET LOCAL DateStyle = 'ISO, YMD'")  # type: ignore[attr-defined]
            # COPY takes no bind parameters: asyncpg renders each value as a literal with the server's own
            # quoting (never string formatting of user text into SQL).
            status: str = await conn.copy_from_query(  # type: ignore[attr-defined]
                sql, *params, output=sink, format="csv", force_quote=FORCE_QUOTE
            )
        await flush()
    rows = int(status.rsplit(" ", 1)[-1])
    return ExportResult(out, rows, size, time.perf_counter() - started)


def _zip(source: Path, arcname: str, target: Path) -> int:
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        archive.write(source, arcname)
    return target.stat().st_size


async def zip_file(source: Path, arcname: str, target: Path) -> int:
    return await asyncio.get_running_loop().run_in_executor(None, _zip, source, arcname, target)
