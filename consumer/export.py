"""Stream a report from videos_with_statistics_fast into a spool file in the export's CSV bytes.

One `COPY (query) TO STDOUT (FORMAT csv, FORCE_QUOTE ...)` produces the bytes with PostgreSQL's own output
functions; Python only moves them to disk in bounded chunks, so memory stays flat at any size."""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
import zipfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from consumer.filters import Filters, build_where

HEADER = (
    "title,video_url,platform,status,campaign_tag,channel_username,published_at,created_at,"
    "views,likes,comments,reposts\n"
)
_TEXT = ("title", "video_url", "platform", "status", "campaign_tag", "channel_username")
_NUMBERS = ("views", "likes", "comments", "reposts")


ORDER = "published_at DESC NULLS LAST, id"
# Quoted when not NULL (NULL is an empty, unquoted field), and numbers bare: the export's CSV bytes.
FORCE_QUOTE = (*_TEXT, "published_on", "created_on")
CHUNK_BYTES = 1 << 20
ReportQuery = tuple[str, list[object]]


def _query(
    organization_id: UUID, filters: Filters, timezone: str, fire_at: datetime, select: Callable[[str], str]
) -> ReportQuery:
    """The report's rows in export order; `select` gets the time zone's placeholder for local dates."""
    where = build_where(organization_id, filters, timezone, fire_at)
    tz_param = f"${len(where.params) + 1}::text"
    sql = f"SELECT {select(tz_param)} FROM videos_with_statistics_fast WHERE {where.sql} ORDER BY {ORDER}"
    return sql, [*where.params, timezone]


def copy_query(organization_id: UUID, filters: Filters, timezone: str, fire_at: datetime) -> ReportQuery:
    """The export's rows as columns whose CSV form (with FORCE_QUOTE) is the export's bytes."""

    def select(tz: str) -> str:
        # Aliased apart from the source columns, which ORDER BY must keep meaning.
        dates = [f"(({c}_at AT TIME ZONE {tz})::date)::text AS {c}_on" for c in ("published", "created")]
        return ", ".join([*_TEXT, *dates, *_NUMBERS])

    return _query(organization_id, filters, timezone, fire_at, select)


def ndjson_query(organization_id: UUID, filters: Filters, timezone: str, fire_at: datetime) -> ReportQuery:
    """One JSON object per row with the CSV's columns: numbers as numbers, local dates as "YYYY-MM-DD", nulls null."""

    def select(tz: str) -> str:
        pairs = [f"'{c}', {c}" for c in _TEXT]
        pairs += [f"'{c}', ({c} AT TIME ZONE {tz})::date" for c in ("published_at", "created_at")]
        pairs += [f"'{c}', {c}" for c in _NUMBERS]
        return f"json_build_object({', '.join(pairs)})::text"

    return _query(organization_id, filters, timezone, fire_at, select)


def rows_query(organization_id: UUID, filters: Filters, timezone: str, fire_at: datetime) -> ReportQuery:
    """The export's rows as typed values (local dates as dates), for writers that need values, not bytes."""

    def select(tz: str) -> str:
        dates = [f"({c} AT TIME ZONE {tz})::date" for c in ("published_at", "created_at")]
        return ", ".join([*_TEXT, *dates, *_NUMBERS])

    return _query(organization_id, filters, timezone, fire_at, select)


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
    # Of the file's bytes, taken as they were written (only_if_changed compares it with earlier runs).
    sha256: str


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
    beside: Callable[[Any], Awaitable[None]] | None = None,
    side_pool: Any = None,
) -> ExportResult:
    """Write the report to `out` as `kind` (csv, ndjson or xlsx) in a read-only snapshot, streamed in bounded
    chunks; disk writes (and XLSX encoding) run in a thread so deliveries on the event loop never stall.

    `beside` gets a connection that sees exactly the rows of the file: with `side_pool`, one of its
    connections in the export's snapshot, so it runs while the file is written; when the file is written
    before one joins (a small export, or no connection free), or without `side_pool`, the export's own, in its
    transaction afterwards. It never waits for a connection while holding one, so a busy pool cannot deadlock
    it."""
    started = time.perf_counter()
    async with conn.transaction(isolation="repeatable_read", readonly=True):  # type: ignore[attr-defined]
        side: asyncio.Future[None] | None = None
        joined = asyncio.Event()
        # The date style is the transaction's own (SET LOCAL), set in the round trip that exports the snapshot.
        if beside is not None and side_pool is not None:
            snapshot: str = await conn.fetchval(  # type: ignore[attr-defined]
                f"SELECT pg_export_snapshot() FROM {_DATE_STYLE}"
            )
            side = asyncio.ensure_future(_in_snapshot(side_pool, snapshot, beside, joined))
        else:
            await conn.execute(f"SELECT FROM {_DATE_STYLE}")  # type: ignore[attr-defined]
        try:
            if kind == "xlsx":
                rows, size, digest = await _xlsx(
                    conn, rows_query(organization_id, filters, timezone, fire_at), out, fire_at
                )
            else:
                rows, size, digest = await _copy(
                    conn, kind, organization_id, filters, timezone, fire_at, out, chunk_bytes
                )
            if side is not None and not joined.is_set():
                await _cancel(side)
                side = None
            if side is not None:
                await side
            elif beside is not None:
                await beside(conn)
        except BaseException:
            if side is not None:
                await _cancel(side)
            raise
    return ExportResult(out, rows, size, time.perf_counter() - started, digest)


_DATE_STYLE = "set_config('DateStyle', 'ISO, YMD', true)"


async def _cancel(task: asyncio.Future[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


_SNAPSHOT_ID = re.compile(r"[0-9A-F]+-[0-9A-F]+(-[0-9]+)?")


# A summary joins the export from a second connection only once the export has run this long: most reports are
# written sooner than a second connection could join (three more round trips), and their summary then follows
# in the export's own transaction.
BESIDE_AFTER_SECONDS = 0.05


async def _in_snapshot(pool: Any, snapshot: str, work: Callable[[Any], Awaitable[None]], joined: asyncio.Event) -> None:
    """After BESIDE_AFTER_SECONDS, run `work` on a connection of `pool` whose read-only transaction sees the
    exporting transaction's snapshot; `joined` is set once it does."""
    await asyncio.sleep(BESIDE_AFTER_SECONDS)
    # SET TRANSACTION SNAPSHOT takes no bind parameter; the id comes from pg_export_snapshot(), checked anyway.
    if not _SNAPSHOT_ID.fullmatch(snapshot):
        raise ValueError(f"not a snapshot id: {snapshot!r}")
    async with pool.acquire() as side:
        # Begun and joined to the snapshot in one round trip. A transaction that a failure or a cancellation
        # leaves open is rolled back by the pool when the connection is released.
        await side.execute(f"BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT '{snapshot}'")
        joined.set()
        await work(side)
        await side.execute("COMMIT")


async def _copy(
    conn: object,
    kind: str,
    organization_id: UUID,
    filters: Filters,
    timezone: str,
    fire_at: datetime,
    out: Path,
    chunk_bytes: int,
) -> tuple[int, int, str]:
    loop = asyncio.get_running_loop()
    digest = hashlib.sha256()
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

        def write(data: bytes) -> int:
            digest.update(data)
            return handle.write(data)

        size = write(HEADER.encode()) if kind == "csv" else 0

        async def flush() -> None:
            nonlocal size, pending
            data = b"".join(buffered)
            buffered.clear()
            pending = 0
            size += await loop.run_in_executor(None, write, data)

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
    return int(status.rsplit(" ", 1)[-1]), size, digest.hexdigest()


_XLSX_FETCH = 5000
_XLSX_WIDTHS = (48, 40, 11, 10, 18, 22, 12, 12, 12, 10, 10, 10)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


async def _xlsx(conn: object, query: ReportQuery, out: Path, fire_at: datetime) -> tuple[int, int, str]:
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
    # The workbook is assembled by the library at close, so its bytes are hashed from the file.
    return rows, size, await loop.run_in_executor(None, file_sha256, out)


def _zip(source: Path, arcname: str, target: Path) -> int:
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        archive.write(source, arcname)
    return target.stat().st_size


async def zip_file(source: Path, arcname: str, target: Path) -> int:
    return await asyncio.get_running_loop().run_in_executor(None, _zip, source, arcname, target)
