"""Stream a report from videos_with_statistics_fast into a spool file in the export's CSV bytes.

One `COPY (query) TO STDOUT (FORMAT csv, FORCE_QUOTE ...)` produces the bytes with PostgreSQL's own output
functions; Python only moves them to disk in bounded chunks, so memory stays flat at any size."""

from __future__ import annotations

import asyncio
import re
import time
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
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


def ndjson_query(organization_id: UUID, filters: Filters, timezone: str, fire_at: datetime) -> tuple[str, list[object]]:
    """One JSON object per row with the CSV's columns: numbers as numbers, local dates as "YYYY-MM-DD", nulls null."""
    where = build_where(organization_id, filters, timezone, fire_at)
    tz_param = f"${len(where.params) + 1}::text"
    pairs = [f"'{c}', {c}" for c in _TEXT]
    pairs += [f"'{c}', ({c} AT TIME ZONE {tz_param})::date" for c in ("published_at", "created_at")]
    pairs += [f"'{c}', {c}" for c in _NUMBERS]
    sql = (
        f"SELECT json_build_object({', '.join(pairs)})::text FROM videos_with_statistics_fast "
        f"WHERE {where.sql} ORDER BY {ORDER}"
    )
    return sql, [*where.params, timezone]


def rows_query(organization_id: UUID, filters: Filters, timezone: str, fire_at: datetime) -> tuple[str, list[object]]:
    """The export's rows as typed values (local dates as dates), for writers that need values, not bytes."""
    where = build_where(organization_id, filters, timezone, fire_at)
    tz_param = f"${len(where.params) + 1}::text"
    dates = [f"({c} AT TIME ZONE {tz_param})::date" for c in ("published_at", "created_at")]
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
    *,
    kind: str = "csv",
) -> ExportResult:
    """Write the report to `out` as `kind` (csv, ndjson or xlsx) in a read-only snapshot, streamed in bounded
    chunks; disk writes (and XLSX encoding) run in a thread so deliveries on the event loop never stall."""
    started = time.perf_counter()
    async with conn.transaction(isolation="repeatable_read", readonly=True):  # type: ignore[attr-defined]
        await conn.execute("SET LOCAL DateStyle = 'ISO, YMD'")  # type: ignore[attr-defined]
        if kind == "xlsx":
            rows, size = await _xlsx(conn, rows_query(organization_id, filters, timezone, fire_at), out, fire_at)
        else:
            rows, size = await _copy(conn, kind, organization_id, filters, timezone, fire_at, out, chunk_bytes)
    return ExportResult(out, rows, size, time.perf_counter() - started)


async def _copy(
    conn: object,
    kind: str,
    organization_id: UUID,
    filters: Filters,
    timezone: str,
    fire_at: datetime,
    out: Path,
    chunk_bytes: int,
) -> tuple[int, int]:
    loop = asyncio.get_running_loop()
    buffered: list[bytes] = []
    pending = 0
    if kind == "csv":
        sql, params = copy_query(organization_id, filters, timezone, fire_at)
        options: dict[str, object] = {"format": "csv", "force_quote": FORCE_QUOTE}
    else:
        sql, params = ndjson_query(organization_id, filters, timezone, fire_at)
        # CSV mode with a quote and delimiter that JSON text never holds raw: each line leaves COPY as is
        # (text mode would double every backslash of the JSON escapes).
        options = {"format": "csv", "quote": "\x01", "delimiter": "\x02"}
    with out.open("wb") as handle:
        size = handle.write(HEADER.encode()) if kind == "csv" else 0

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

        # COPY takes no bind parameters: asyncpg renders each value as a literal with the server's own
        # quoting (never string formatting of user text into SQL).
        status: str = await conn.copy_from_query(sql, *params, output=sink, **options)  # type: ignore[attr-defined]
        await flush()
    return int(status.rsplit(" ", 1)[-1]), size


_XLSX_FETCH = 5000
_XLSX_WIDTHS = (48, 40, 11, 10, 18, 22, 12, 12, 12, 10, 10, 10)


async def _xlsx(conn: object, query: tuple[str, list[object]], out: Path, fire_at: datetime) -> tuple[int, int]:
    import xlsxwriter  # type: ignore[import-untyped]

    loop = asyncio.get_running_loop()
    # constant_memory: each row is flushed to disk as soon as the next starts, so memory stays flat.
    book = xlsxwriter.Workbook(str(out), {"constant_memory": True, "strings_to_urls": False})
    # Dated by the fire, not the clock: the same rows give the same bytes (only_if_changed compares them).
    book.set_properties({"created": fire_at.astimezone(UTC).replace(tzinfo=None)})
    sheet = book.add_worksheet("Report")
    bold = book.add_format({"bold": True})
    day = book.add_format({"num_format": "yyyy-mm-dd"})
    for col, width in enumerate(_XLSX_WIDTHS):
        sheet.set_column(col, col, width, day if col in (6, 7) else None)
    sheet.freeze_panes(1, 0)
    sheet.write_row(0, 0, HEADER.strip().split(","), bold)

    def write(first: int, records: list[tuple[object, ...]]) -> None:
        for offset, record in enumerate(records):
            for col, value in enumerate(record):
                if value is None:
                    continue
                if col in (6, 7):
                    sheet.write_datetime(first + offset, col, value, day)
                elif isinstance(value, str):
                    sheet.write_string(first + offset, col, value)
                else:
                    sheet.write_number(first + offset, col, value)

    sql, params = query
    rows = 0
    try:
        cursor = await conn.cursor(sql, *params)  # type: ignore[attr-defined]
        while True:
            page = await cursor.fetch(_XLSX_FETCH)
            if page:
                await loop.run_in_executor(None, write, rows + 1, [tuple(r) for r in page])
                rows += len(page)
            if len(page) < _XLSX_FETCH:
                break
    finally:
        await loop.run_in_executor(None, book.close)
    size = (await loop.run_in_executor(None, out.stat)).st_size
    return rows, size


def _zip(source: Path, arcname: str, target: Path) -> int:
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        archive.write(source, arcname)
    return target.stat().st_size


async def zip_file(source: Path, arcname: str, target: Path) -> int:
    return await asyncio.get_running_loop().run_in_executor(None, _zip, source, arcname, target)
