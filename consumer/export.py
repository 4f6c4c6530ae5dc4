"""Stream a report from videos_with_statistics_fast into spool files: CSV, NDJSON or XLSX, one file per format,
all from one snapshot.

One `COPY (query) TO STDOUT` per file produces the bytes with PostgreSQL's own output functions (for XLSX, the
sheet's XML rows); Python only moves them to disk in bounded chunks, so memory stays flat at any size."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import re
import time
import zipfile
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from consumer.filters import Filters, build_where
from consumer.workbook import StreamedWorkbook, column_letter
from shared.errors import ExportTooLarge

HEADER = (
    "title,video_url,platform,status,campaign_tag,channel_username,published_at,created_at,"
    "views,likes,comments,reposts\n"
)
_TEXT = ("title", "video_url", "platform", "status", "campaign_tag", "channel_username")
_NUMBERS = ("views", "likes", "comments", "reposts")


ORDER = "published_at DESC NULLS LAST, id"
# Quoted when not NULL (NULL is an empty, unquoted field), and numbers bare: the export's CSV bytes. The
# formula-guarded text columns are named apart (ORDER BY must keep meaning the source ones) and quoted alike.
FORCE_QUOTE = (*_TEXT, "published_on", "created_on")
FORCE_QUOTE_GUARDED = (*(f"{c}_cell" for c in _TEXT), "published_on", "created_on")
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


# What a spreadsheet reads as the start of a formula (OWASP's CSV injection list): a text cell that starts
# with one of these gets a leading apostrophe, which spreadsheets show as text and never evaluate.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_STARTS_SQL = ", ".join(str(ord(c)) for c in FORMULA_STARTS)


def _formula_guarded(column: str) -> str:
    # The first character's code point, compared as an integer: no text is built for a cell that needs nothing.
    return f"CASE WHEN ascii({column}) IN ({_FORMULA_STARTS_SQL}) THEN '''' || {column} ELSE {column} END"


def copy_query(
    organization_id: UUID, filters: Filters, timezone: str, fire_at: datetime, *, formula_guard: bool = True
) -> ReportQuery:
    """The export's rows as columns whose CSV form (with FORCE_QUOTE, or FORCE_QUOTE_GUARDED when guarded)
    is the export's bytes."""

    def select(tz: str) -> str:
        # Aliased apart from the source columns, which ORDER BY must keep meaning.
        text = [f"{_formula_guarded(c)} AS {c}_cell" for c in _TEXT] if formula_guard else list(_TEXT)
        dates = [f"(({c}_at AT TIME ZONE {tz})::date)::text AS {c}_on" for c in ("published", "created")]
        return ", ".join([*text, *dates, *_NUMBERS])

    return _query(organization_id, filters, timezone, fire_at, select)


def ndjson_query(organization_id: UUID, filters: Filters, timezone: str, fire_at: datetime) -> ReportQuery:
    """One JSON object per row with the CSV's columns: numbers as numbers, local dates as "YYYY-MM-DD", nulls null."""

    def select(tz: str) -> str:
        pairs = [f"'{c}', {c}" for c in _TEXT]
        pairs += [f"'{c}', ({c} AT TIME ZONE {tz})::date" for c in ("published_at", "created_at")]
        pairs += [f"'{c}', {c}" for c in _NUMBERS]
        return f"json_build_object({', '.join(pairs)})::text"

    return _query(organization_id, filters, timezone, fire_at, select)


# Excel's sheet holds 1,048,576 rows; one is the header.
XLSX_MAX_ROWS = 1_048_575
# What XML 1.0 cannot carry (PostgreSQL text never holds NUL) and carriage return, which XML reads back as a
# newline: Excel writes these as _xHHHH_, and so writes a literal _xHHHH_ with its underscore escaped
# (_x005F_xHHHH_), or it would read back changed. Tab and newline go as character references: a row stays one
# line of COPY's output, and an XML reader gets them back as they were.
_EXCEL_ESCAPED = r"[\x01-\x08\x0b-\x1f\ufffe\uffff]"
_UNUSUAL = r"[\x01-\x1f\ufffe\uffff]|_x[0-9a-fA-F]{4}_|^ | $"
_UNUSUAL_TEXT = f"'{_UNUSUAL}'"
# One test per row finds the rare row that needs any of that (or leading or trailing space, kept by
# xml:space): its text columns joined by DEL, which XML carries and text rarely holds (a value next to a DEL
# that is data only takes the careful path for nothing).
_UNUSUAL_ROW = rf"'{_UNUSUAL}|\x7f | \x7f'"


def _xml_escaped(value: str) -> str:
    for raw, escaped in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
        value = f"replace({value}, '{raw}', '{escaped}')"
    return value


def _excel_escaped(column: str) -> str:
    """Character by character, as Excel escapes text: only ever run for the rare value that needs it."""
    return (
        f"(SELECT string_agg(CASE WHEN ch ~ '{_EXCEL_ESCAPED}' THEN '_x' || lpad(upper(to_hex(ascii(ch))), 4, '0')"
        f" || '_' ELSE ch END, '' ORDER BY i) FROM regexp_split_to_table(regexp_replace({column},"
        r" '(_x[0-9a-fA-F]{4}_)', '_x005F\1', 'g'), '') WITH ORDINALITY AS s(ch, i))"
    )


def _string_cell(column: str, ref: str, careful: bool) -> str:
    """An inline-string cell, or '' for NULL (concatenating NULL yields NULL)."""
    text = f"'<t>' || {_xml_escaped(column)}"
    if careful:
        text = (
            f"CASE WHEN {column} ~ {_UNUSUAL_TEXT} THEN '<t xml:space=\"preserve\">' || "
            f"replace(replace({_xml_escaped(_excel_escaped(column))}, E'\\t', '&#9;'), E'\\n', '&#10;')"
            f" ELSE {text} END"
        )
    return f"""coalesce('<c r="{ref}' || n || '" t="inlineStr"><is>' || {text} || '</t></is></c>', '')"""


def _value_cell(expression: str, ref: str, style: str = "", *, last: bool = False) -> str:
    """A number cell, or for NULL no cell; in the last column an empty one, so every row spans all columns
    (the sheet has no dimension to say so: its rows are counted only as they stream)."""
    empty = f"""'<c r="{ref}' || n || '"/>'""" if last else "''"
    return f"""coalesce('<c r="{ref}' || n || '"{style}><v>' || {expression} || '</v></c>', {empty})"""


def _date_cell(column: str, ref: str) -> str:
    """A date as Excel's serial day number, shown yyyy-mm-dd; a date Excel cannot show as one (before
    1900-03-01, where its calendar is off by a day, after 9999, or infinite) is written as text instead."""
    serial = _value_cell(f"({column} - date '1899-12-30')", ref, ' s="1"')
    shown = f"{column} BETWEEN date '1900-03-01' AND date '9999-12-31'"
    return f"CASE WHEN {shown} THEN {serial} ELSE {_string_cell(f'{column}::text', ref, careful=False)} END"


def xlsx_query(organization_id: UUID, filters: Filters, timezone: str, fire_at: datetime) -> ReportQuery:
    """One line per row: the sheet's `<row>` element, numbered from 2, its cells referenced and NULLs left out.
    At most XLSX_MAX_ROWS + 1 rows, so a report too large for a sheet is known without reading all of it."""

    def select(tz: str) -> str:
        dates = [f"({c}_at AT TIME ZONE {tz})::date AS {c}_on" for c in ("published", "created")]
        return ", ".join([f"(row_number() OVER (ORDER BY {ORDER}) + 1)::text AS n", *_TEXT, *dates, *_NUMBERS])

    inner, params = _query(organization_id, filters, timezone, fire_at, select)

    def cells(careful: bool) -> str:
        refs = map(column_letter, itertools.count())
        parts = [_string_cell(c, next(refs), careful) for c in _TEXT]
        parts += [_date_cell(f"{c}_on", next(refs)) for c in ("published", "created")]
        parts += [_value_cell(c, next(refs), last=c == _NUMBERS[-1]) for c in _NUMBERS]
        return " || ".join(parts)

    unusual = f"concat_ws(E'\\x7f', {', '.join(_TEXT)}) ~ {_UNUSUAL_ROW}"
    row = f"""'<row r="' || n || '">' || CASE WHEN {unusual} THEN {cells(True)} ELSE {cells(False)} END || '</row>'"""
    # The subquery's order is the rows' order: the outer query only formats them.
    return f"SELECT {row} FROM ({inner} LIMIT {XLSX_MAX_ROWS + 1}) r", params


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
    formula_guard: bool = True,
) -> ExportResult:
    """Write the report to `out` as `kind` (csv, ndjson or xlsx); `export_files` with one file."""
    query = Query(organization_id, filters, timezone, fire_at, formula_guard)
    (result,) = await export_files(conn, query, [(kind, out)], chunk_bytes, beside=beside, side_pool=side_pool)
    return result


@dataclass(frozen=True)
class Query:
    """Which rows a report holds, and how its CSV treats formula-like text."""

    organization_id: UUID
    filters: Filters
    timezone: str
    fire_at: datetime
    # CSV only: each text cell a spreadsheet would evaluate is prefixed with an apostrophe.
    formula_guard: bool = True


async def export_files(
    conn: object,
    query: Query,
    outputs: Sequence[tuple[str, Path]],
    chunk_bytes: int = CHUNK_BYTES,
    *,
    beside: Callable[[Any], Awaitable[None]] | None = None,
    side_pool: Any = None,
) -> list[ExportResult]:
    """Write the report once per (kind, path) of `outputs`, all in one read-only snapshot (so every file holds
    the same rows), streamed in bounded chunks; disk writes (and XLSX encoding) run in a thread so deliveries on
    the event loop never stall.

    `beside` gets a connection that sees exactly the rows of the files: with `side_pool`, one of its
    connections in the export's snapshot, so it runs while the files are written; when they are written
    before one joins (a small export, or no connection free), or without `side_pool`, the export's own, in its
    transaction afterwards. It never waits for a connection while holding one, so a busy pool cannot deadlock
    it."""
    transaction = conn.transaction(isolation="repeatable_read", readonly=True)  # type: ignore[attr-defined]
    await transaction.start()
    side: asyncio.Future[None] | None = None
    written: list[Path] = []
    try:
        joined = asyncio.Event()
        # The date style is the transaction's own (SET LOCAL), set in the round trip that exports the snapshot.
        if beside is not None and side_pool is not None:
            snapshot: str = await conn.fetchval(  # type: ignore[attr-defined]
                f"SELECT pg_export_snapshot() FROM {_DATE_STYLE}"
            )
            side = asyncio.ensure_future(_in_snapshot(side_pool, snapshot, beside, joined))
        else:
            await conn.execute(f"SELECT FROM {_DATE_STYLE}")  # type: ignore[attr-defined]
        results = []
        for kind, out in outputs:
            written.append(out)
            results.append(await _write_one(conn, query, kind, out, chunk_bytes))
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
        # Half a file is no report: nothing is left that could be taken for one.
        for out in written:
            await asyncio.get_running_loop().run_in_executor(None, _discard, out)
        await _roll_back(conn, transaction)
        raise
    await transaction.commit()
    return results


async def _write_one(conn: Any, query: Query, kind: str, out: Path, chunk_bytes: int) -> ExportResult:
    started = time.perf_counter()
    q = query
    if kind == "xlsx":
        sql = xlsx_query(q.organization_id, q.filters, q.timezone, q.fire_at)
        rows, size, digest = await _xlsx(conn, sql, out, q.fire_at, chunk_bytes)
    else:
        sql = (
            copy_query(q.organization_id, q.filters, q.timezone, q.fire_at, formula_guard=q.formula_guard)
            if kind == "csv"
            else ndjson_query(q.organization_id, q.filters, q.timezone, q.fire_at)
        )
        rows, size, digest = await _copy(conn, kind, sql, out, chunk_bytes, q.formula_guard)
    return ExportResult(out, rows, size, time.perf_counter() - started, digest)


async def _roll_back(conn: Any, transaction: Any) -> None:
    """Roll back after a failure without hiding it. A COPY abandoned mid-stream (the export cancelled, or its
    file unwritable) leaves the connection inside that operation, where it cannot roll back: it is closed
    instead (the server rolls back with it) and the pool opens a new one."""
    try:
        await transaction.rollback()
    except Exception:
        with contextlib.suppress(Exception):  # a connection already lost is detached from its pool
            conn.terminate()


def _discard(path: Path) -> None:
    # Never in the way of the error that got here (the path may even be a directory).
    with contextlib.suppress(OSError):
        path.unlink(missing_ok=True)


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


class _Spool:
    """COPY's chunks gathered to `chunk_bytes` and handed to a blocking `write` in a thread: one write in flight
    while the next chunk is read, so the server and the disk (or the compressor) work side by side."""

    def __init__(self, write: Callable[[bytes], object], chunk_bytes: int) -> None:
        self._write = write
        self._chunk_bytes = chunk_bytes
        self._buffered: list[bytes] = []
        self._pending = 0
        self._writing: asyncio.Future[object] | None = None
        self._loop = asyncio.get_running_loop()

    async def sink(self, chunk: bytes) -> None:
        self._buffered.append(chunk)
        self._pending += len(chunk)
        if self._pending >= self._chunk_bytes:
            await self._hand_off()

    async def _hand_off(self) -> None:
        data = b"".join(self._buffered)
        self._buffered.clear()
        self._pending = 0
        if self._writing is not None:
            await self._writing
        self._writing = self._loop.run_in_executor(None, self._write, data)

    async def finish(self) -> None:
        await self._hand_off()
        assert self._writing is not None
        await self._writing

    async def settle(self) -> None:
        """After a failure: a write in flight cannot be stopped, so what it writes to is closed only after it."""
        if self._writing is not None:
            await asyncio.gather(self._writing, return_exceptions=True)


async def _copy(
    conn: object, kind: str, query: ReportQuery, out: Path, chunk_bytes: int, formula_guard: bool
) -> tuple[int, int, str]:
    digest = hashlib.sha256()
    size = 0
    sql, params = query
    if kind == "csv":
        quoted = FORCE_QUOTE_GUARDED if formula_guard else FORCE_QUOTE
        options: dict[str, object] = {"format": "csv", "force_quote": quoted}
    else:
        # CSV mode with a quote and delimiter that JSON text never holds raw: each line leaves COPY as is
        # (text mode would double every backslash of the JSON escapes).
        options = {"format": "csv", "quote": "\x01", "delimiter": "\x02"}
    with out.open("wb") as handle:

        def write(data: bytes) -> None:
            nonlocal size
            digest.update(data)
            size += handle.write(data)

        if kind == "csv":
            write(HEADER.encode())
        spool = _Spool(write, chunk_bytes)
        try:
            # COPY takes no bind parameters: asyncpg renders each value as a literal with the server's own
            # quoting (never string formatting of user text into SQL).
            status: str = await conn.copy_from_query(  # type: ignore[attr-defined]
                sql, *params, output=spool.sink, **options
            )
            await spool.finish()
        except BaseException:
            await spool.settle()
            raise
    return int(status.rsplit(" ", 1)[-1]), size, digest.hexdigest()


_XLSX_WIDTHS = (48, 40, 11, 10, 18, 22, 12, 12, 12, 10, 10, 10)
_XLSX_DATE_COLUMNS = (6, 7)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


async def _xlsx(
    conn: object, query: ReportQuery, out: Path, fire_at: datetime, chunk_bytes: int
) -> tuple[int, int, str]:
    """The rows' XML from one streamed COPY, deflated into the workbook in a thread while the next chunk is
    read: PostgreSQL formats and the thread compresses side by side."""
    loop = asyncio.get_running_loop()
    book = await loop.run_in_executor(
        None, StreamedWorkbook, out, fire_at, HEADER.strip().split(","), _XLSX_WIDTHS, _XLSX_DATE_COLUMNS
    )
    spool = _Spool(book.write, chunk_bytes)
    sql, params = query
    try:
        # As for NDJSON: CSV mode with a quote and delimiter the rows never hold, so each leaves COPY as is.
        status: str = await conn.copy_from_query(  # type: ignore[attr-defined]
            sql, *params, output=spool.sink, format="csv", quote="\x01", delimiter="\x02"
        )
        await spool.finish()
        rows = int(status.rsplit(" ", 1)[-1])
        if rows > XLSX_MAX_ROWS:
            raise ExportTooLarge(
                f"the report has more than {XLSX_MAX_ROWS:,} rows, more than an XLSX sheet holds; "
                "choose the csv or ndjson format, or narrow the shared link's filters"
            )
        size = await loop.run_in_executor(None, book.close, rows)
    except BaseException:
        await spool.settle()
        await loop.run_in_executor(None, book.abort)
        raise
    # The archive's headers are completed at close, so its bytes are hashed from the file.
    return rows, size, await loop.run_in_executor(None, file_sha256, out)


def _zip(source: Path, arcname: str, target: Path) -> int:
    # A workbook is deflated already: deflating it again costs time and saves nothing.
    compression = zipfile.ZIP_STORED if source.suffix == ".xlsx" else zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(target, "w", compression=compression, compresslevel=6) as archive:
        archive.write(source, arcname)
    return target.stat().st_size


async def zip_file(source: Path, arcname: str, target: Path) -> int:
    return await asyncio.get_running_loop().run_in_executor(None, _zip, source, arcname, target)
