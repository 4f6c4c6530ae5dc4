"""Stream a report from videos_with_statistics_fast into a spool file, in pages, in the CSV bytes of
export.md. PostgreSQL formats each line so Python only moves bytes; memory stays flat."""

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
_WRITE_BATCH_ROWS = 8000


def export_query(organization_id: UUID, filters: Filters, timezone: str, fire_at: datetime) -> tuple[str, list[object]]:
    where = build_where(organization_id, filters, timezone, fire_at)
    tz_param = f"${len(where.params) + 1}::text"
    sql = f"SELECT {line_sql(tz_param)} FROM videos_with_statistics_fast WHERE {where.sql} ORDER BY {ORDER}"
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
    page_size: int = 1000,
) -> ExportResult:
    """Write the CSV to `out`. Runs in a read-only snapshot so pages are consistent."""
    started = time.perf_counter()
    sql, params = export_query(organization_id, filters, timezone, fire_at)
    loop = asyncio.get_running_loop()
    rows = 0
    buffered: list[str] = []
    buffered_rows = 0
    with out.open("wb") as handle:
        size = handle.write(HEADER.encode())

        async def flush() -> int:
            data = "".join(buffered).encode()
            buffered.clear()
            # Disk writes go to a thread so a slow disk never stalls deliveries on the event loop.
            written: int = await loop.run_in_executor(None, handle.write, data)
            return written

        async with conn.transaction(isolation="repeatable_read", readonly=True):  # type: ignore[attr-defined]
            await conn.execute("SET LOCAL DateStyle = 'ISO, YMD'")  # type: ignore[attr-defined]
            # A server-side cursor: one plan for the whole report, read a page of `page_size` rows at a time.
            cursor = await conn.cursor(sql, *params)  # type: ignore[attr-defined]
            while True:
                page = await cursor.fetch(page_size)
                rows += len(page)
                buffered.append("".join([r[0] for r in page]))
                buffered_rows += len(page)
                # Batch a few pages per write: bounded memory, fewer thread hand-offs.
                if buffered_rows >= _WRITE_BATCH_ROWS or len(page) < page_size:
                    size += await flush()
                    buffered_rows = 0
                if len(page) < page_size:
                    break
    return ExportResult(out, rows, size, time.perf_counter() - started)


def _zip(source: Path, arcname: str, target: Path) -> int:
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        archive.write(source, arcname)
    return target.stat().st_size


async def zip_file(source: Path, arcname: str, target: Path) -> int:
    return await asyncio.get_running_loop().run_in_executor(None, _zip, source, arcname, target)
