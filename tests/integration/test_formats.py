"""NDJSON and XLSX exports: the CSV's rows and columns, typed, checked against values computed separately."""

from __future__ import annotations

import asyncio
import io
import json
import re
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID
from xml.etree import ElementTree

import asyncpg
import openpyxl
import pytest
from arq.connections import ArqRedis
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from consumer import export as export_module
from consumer import workbook as workbook_module
from consumer.export import HEADER, export_to_file
from consumer.filters import parse_filters
from consumer.workbook import StreamedWorkbook
from shared.db import Pool
from shared.errors import ExportTooLarge
from shared.settings import Settings
from tests.support import seed
from tests.support.harness import Fakes, drain, point_at
from tests.support.reports import FIRE, video
from tests.support.runs import fire, make, notes, run_row

COLUMNS = HEADER.strip().split(",")


async def tricky(pool: Pool) -> UUID:
    org = await seed.organization(pool)
    await video(pool, org, title='Say "hi", then\nleave 🎉\\ \x01', stats=(10_000, 500, 100, 50))
    await video(pool, org, title=None, published=None, stats=None)
    await video(pool, org, title="Ünïcödé", published="2026-11-19T23:30Z", stats=(None, 0, None, 7))
    return org


async def expected(pool: Pool, org: UUID, tz: str) -> list[dict[str, Any]]:
    """The rows as PostgreSQL holds them, computed without the export code: the same order and local dates."""
    rows = await pool.fetch(
        "SELECT title, video_url, platform, status, campaign_tag, channel_username,"
        " (published_at AT TIME ZONE $2)::date AS published_at, (created_at AT TIME ZONE $2)::date AS created_at,"
        " views, likes, comments, reposts FROM videos_with_statistics_fast WHERE organization_id = $1"
        " ORDER BY videos_with_statistics_fast.published_at DESC NULLS LAST, id",
        org,
        tz,
    )
    return [dict(r) for r in rows]


async def export(pool: Pool, org: UUID, tmp_path: Path, kind: str, tz: str = "Europe/Berlin") -> tuple[Path, int]:
    out = tmp_path / f"r.{kind}"
    async with pool.acquire() as conn:
        result = await export_to_file(conn, org, parse_filters({}), tz, FIRE, out, kind=kind)
    assert result.size == out.stat().st_size
    return out, result.rows


async def test_ndjson_is_one_object_per_line_with_typed_values(pool: Pool, tmp_path: Path) -> None:
    org = await tricky(pool)
    out, rows = await export(pool, org, tmp_path, "ndjson")
    lines = out.read_bytes().split(b"\n")
    assert lines[-1] == b"" and len(lines) - 1 == rows == 3
    parsed = [json.loads(line) for line in lines[:-1]]
    want = await expected(pool, org, "Europe/Berlin")
    for got, row in zip(parsed, want, strict=True):
        assert list(got) == COLUMNS
        for column in COLUMNS:
            value = row[column]
            assert got[column] == (value.isoformat() if isinstance(value, date) else value), column
    assert parsed[0]["title"] == 'Say "hi", then\nleave 🎉\\ \x01' and parsed[0]["views"] == 10_000
    assert parsed[2]["title"] is None and parsed[2]["published_at"] is None and parsed[2]["views"] is None
    assert parsed[1]["published_at"] == "2026-11-20"  # 23:30 UTC is the next day in Berlin


async def test_xlsx_has_typed_cells_a_bold_frozen_header_and_widths(pool: Pool, tmp_path: Path) -> None:
    org = await tricky(pool)
    out, rows = await export(pool, org, tmp_path, "xlsx")
    book = openpyxl.load_workbook(out)
    sheet = book["Report"]
    assert [c.value for c in sheet[1]] == COLUMNS and all(c.font.bold for c in sheet[1])
    assert sheet.freeze_panes == "A2" and sheet.column_dimensions["A"].width > 20
    assert sheet.auto_filter.ref == "A1:L4"  # the header over all three rows
    want = await expected(pool, org, "Europe/Berlin")
    assert rows == len(want) == sheet.max_row - 1
    for index, row in enumerate(want, start=2):
        cells = sheet[index]
        for cell, column in zip(cells, COLUMNS, strict=True):
            value = row[column]
            if isinstance(value, date):
                assert cell.value == datetime(value.year, value.month, value.day) and cell.is_date, column
                assert cell.number_format == "yyyy-mm-dd"
            elif isinstance(value, int):
                assert cell.value == value and cell.data_type == "n", column
            else:
                # NULL stays an empty cell; a control character is kept in XLSX's own escape (_xHHHH_).
                shown = value.replace("\x01", "_x0001_") if isinstance(value, str) else value
                assert cell.value == shown, column


async def _many_videos(pool: Pool, count: int, *, stats: bool = False, org: UUID | None = None) -> UUID:
    org = org or await seed.organization(pool)
    await pool.execute(
        "INSERT INTO videos (organization_id, title, video_url, platform, status, published_at, created_at)"
        " SELECT $1, 'v' || g, 'https://v.example/' || g, 'tiktok', 'active',"
        " $2::timestamptz - g * interval '1 minute', $2::timestamptz"
        " FROM generate_series(1, $3) g",
        org,
        datetime(2026, 11, 1, tzinfo=UTC),
        count,
    )
    if stats:
        await pool.execute(
            "INSERT INTO video_statistics (video_id, views, likes, comments, reposts)"
            " SELECT id, 1, 2, 3, 4 FROM videos WHERE organization_id = $1",
            org,
        )
    return org


async def test_large_xlsx_opens_in_read_only_mode(pool: Pool, tmp_path: Path) -> None:
    org = await _many_videos(pool, 20_000, stats=True)
    out, rows = await export(pool, org, tmp_path, "xlsx", tz="UTC")
    book = openpyxl.load_workbook(out, read_only=True)
    seen = sum(1 for _ in book["Report"].iter_rows(min_row=2, values_only=True))
    book.close()
    assert rows == seen == 20_000


def _spooled(spool: Path) -> list[str]:
    return [p.name for p in spool.glob("report-*")]


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


async def _once_written(out: Path, task: asyncio.Future[Any]) -> None:
    """Until the file has rows on disk, while the export still runs."""
    for _ in range(2000):
        if _size(out) > 64 * 1024:
            break
        assert not task.done(), "the export ended before it could be interrupted"
        await asyncio.sleep(0.005)
    assert not task.done()


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
@pytest.mark.parametrize("fault", ["cancelled", "connection killed"])
async def test_an_export_interrupted_mid_stream_leaves_no_file_and_a_usable_pool(
    pool: Pool, tmp_path: Path, fault: str, kind: str
) -> None:
    org = await _many_videos(pool, 100_000)
    out = tmp_path / f"r.{kind}"
    async with pool.acquire() as conn:
        pid = conn.get_server_pid()
        task = asyncio.ensure_future(
            export_to_file(conn, org, parse_filters({}), "UTC", FIRE, out, 16 * 1024, kind=kind)
        )
        await _once_written(out, task)
        if fault == "cancelled":
            task.cancel()
        else:
            assert await pool.fetchval("SELECT pg_terminate_backend($1)", pid)
        outcome = (await asyncio.gather(task, return_exceptions=True))[0]
    # The interruption itself comes out, not an error about the state it left the connection in.
    if fault == "cancelled":
        assert isinstance(outcome, asyncio.CancelledError), repr(outcome)
    else:
        assert isinstance(outcome, asyncpg.exceptions.AdminShutdownError | asyncpg.ConnectionDoesNotExistError), repr(
            outcome
        )
    assert not out.exists()
    # No connection is left holding the export's snapshot, and the same export then completes.
    open_snapshots = await pool.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        " AND backend_xmin IS NOT NULL"
    )
    assert open_snapshots == 0
    out2, rows = await export(pool, org, tmp_path, kind, tz="UTC")
    assert rows == 100_000


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
async def test_a_run_whose_export_connection_is_killed_mid_copy_retries_and_is_sent_once(
    pool: Pool, redis: ArqRedis, settings: Settings, fx: Fakes, tmp_path: Path, fmt: str
) -> None:
    s = point_at(settings, fx, retry_base_seconds=0, export_chunk_bytes=16 * 1024)
    org, _ = await make(pool, format=fmt, videos=0)
    await _many_videos(pool, 100_000, org=org)
    run_id = await fire(pool, redis, s)
    worker = asyncio.ensure_future(drain(s, pool, redis, tmp_path))
    # The export's backend, found while its COPY streams, is terminated by the server's own function.
    killed = None
    for _ in range(2000):
        killed = await pool.fetchval(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND state = 'active' AND query LIKE 'COPY %'"
        )
        if killed:
            break
        assert not worker.done(), "the run ended before its export could be cut off"
        await asyncio.sleep(0.005)
    assert killed
    await asyncio.wait_for(worker, 120)
    run = await run_row(pool, run_id)
    assert (run["status"], run["attempts"], run["row_count"]) == ("sent", 2, 100_000)
    assert [m["email"] for m in fx.loops.sent] == ["a@example.com"]
    assert _spooled(tmp_path) == []  # no spool left behind


async def test_a_schedule_delivers_zipped_ndjson_and_xlsx(
    pool: Pool, redis: ArqRedis, settings: Settings, fx: Fakes, tmp_path: Path
) -> None:
    s = point_at(settings, fx)
    _, sched = await make(pool, format="ndjson.zip", chats=(3,))
    run_id = await fire(pool, redis, s)
    await drain(s, pool, redis, tmp_path)
    run = await run_row(pool, run_id)
    assert run["status"] == "sent" and run["filename"].endswith(".zip")
    [doc] = fx.telegram.documents(3)
    assert doc["document"]["filename"] == run["filename"]
    assert doc["document"]["content_type"] == "application/zip"

    await pool.execute("UPDATE shared_report_schedules SET format = 'xlsx', next_run_at = $1", FIRE.replace(day=17))
    from producer.tick import tick

    await tick(pool, redis, s, now=FIRE.replace(day=17))
    await drain(s, pool, redis, tmp_path)
    latest = await pool.fetchrow("SELECT status, filename FROM shared_report_runs ORDER BY fire_at DESC LIMIT 1")
    assert latest["status"] == "sent" and latest["filename"].endswith(".xlsx")
    assert fx.telegram.documents(3)[-1]["document"]["content_type"].endswith("spreadsheetml.sheet")

    # xlsx.zip: the same workbook, stored as is inside a zip named like the others.
    await pool.execute("UPDATE shared_report_schedules SET format = 'xlsx.zip', next_run_at = $1", FIRE.replace(day=18))
    await tick(pool, redis, s, now=FIRE.replace(day=18))
    await drain(s, pool, redis, tmp_path)
    latest = await pool.fetchrow("SELECT status, filename FROM shared_report_runs ORDER BY fire_at DESC LIMIT 1")
    assert (latest["status"], latest["filename"]) == ("sent", "weekly-views-2026-11-18.zip")
    document = fx.telegram.documents(3)[-1]["document"]
    assert (document["filename"], document["content_type"]) == (latest["filename"], "application/zip")
    with zipfile.ZipFile(io.BytesIO(document["data"])) as archive:
        [inner] = archive.infolist()
        assert inner.filename == "weekly-views-2026-11-18.xlsx" and inner.compress_type == zipfile.ZIP_STORED
        book = openpyxl.load_workbook(io.BytesIO(archive.read(inner)), read_only=True)
    assert sum(1 for _ in book["Report"].iter_rows(min_row=2)) == 3
    book.close()


async def test_xlsx_opens_in_libreoffice_with_the_same_values(pool: Pool, tmp_path: Path) -> None:
    """A real spreadsheet application reads the file: LibreOffice converts it to CSV, values and dates intact."""
    import csv
    import os
    import shutil
    import subprocess

    import pytest

    soffice = shutil.which("soffice")
    if soffice is None:
        if os.environ.get("CI"):
            raise AssertionError("soffice is missing; .ci/run installs Debian's libreoffice-calc-nogui")
        pytest.skip("LibreOffice is not installed (apt-get install libreoffice-calc-nogui); CI installs it")
    org = await seed.organization(pool)
    for i in range(20):
        stats = (1_000 * i, i, None, 3) if i % 4 else None
        await video(pool, org, title=f'Clip {i}, "quoted"', stats=stats)
    out, rows = await export(pool, org, tmp_path, "xlsx")
    result = await asyncio.to_thread(
        subprocess.run,
        [
            soffice,
            "--headless",
            "--norestore",
            f"-env:UserInstallation=file://{tmp_path}/profile",
            "--convert-to",
            "csv",
            "--outdir",
            str(tmp_path / "lo"),
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    converted = tmp_path / "lo" / "r.csv"
    assert result.returncode == 0 and converted.exists(), result.stdout + result.stderr
    with converted.open(newline="", encoding="utf-8") as handle:
        table = list(csv.reader(handle))
    assert table[0] == COLUMNS and len(table) - 1 == rows == 20
    want = await expected(pool, org, "Europe/Berlin")
    for got, row in zip(table[1:], want, strict=True):
        shown = ["" if v is None else v.isoformat() if isinstance(v, date) else str(v) for v in row.values()]
        assert got == shown


# Text that XML cannot carry as is, or that an XLSX reader would change: each must read back exactly as stored.
AWKWARD = (
    " leading space",
    "trailing space ",
    "tab\there, newline\nthere, carriage return\r\nthere",
    "control \x01 \x02 \x1f characters",
    "a literal _x0041_ and _x005F_ and _X00e9_ escape",
    "markup <b>&amp;</b> \"quoted\" 'single'",
    "non-characters \ufffe \uffff",
    "delete \x7f next to a space \x7f",
    "plain text | with a bar 🎉",
)
_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"


def _excel_unescaped(text: str) -> str:
    """How a reader that follows Excel decodes text: _xHHHH_ is the character HHHH."""
    return re.sub(r"_x([0-9A-Fa-f]{4})_", lambda m: chr(int(m.group(1), 16)), text)


def _sheet_rows(path: Path) -> list[tuple[str, dict[str, object]]]:
    """Each row's number and its cells by reference, read with a plain XML parser (not a spreadsheet library)."""
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None
        root = ElementTree.fromstring(archive.read("xl/worksheets/sheet1.xml"))
    rows = []
    for row in root.iter(f"{_MAIN}row"):
        cells: dict[str, object] = {}
        for cell in row.iter(f"{_MAIN}c"):
            if cell.get("t") == "inlineStr":
                text = cell.find(f"{_MAIN}is/{_MAIN}t")
                assert text is not None
                cells[cell.get("r", "")] = _excel_unescaped(text.text or "")
            else:
                value = cell.find(f"{_MAIN}v")
                if value is None:  # only the last column has a cell for NULL: an empty one
                    assert cell.get("r", "").startswith("L") and not list(cell), ElementTree.tostring(cell)
                    continue
                assert value.text is not None
                cells[cell.get("r", "")] = (int(value.text), cell.get("s"))
        rows.append((row.get("r", ""), cells))
    return rows


async def test_xlsx_text_reads_back_exactly_as_stored(pool: Pool, tmp_path: Path) -> None:
    org = await seed.organization(pool)
    for i, text in enumerate(AWKWARD):
        await video(
            pool,
            org,
            title=text,
            campaign_tag=AWKWARD[-1 - i],
            channel_username=None if i % 2 else f" {text}",
            published=f"2026-11-{10 + i:02d}T12:00Z",
            stats=(i, None, 2**40 + i, None if i % 3 else 0),
        )
    out, rows = await export(pool, org, tmp_path, "xlsx", tz="UTC")
    want = await expected(pool, org, "UTC")
    sheet = _sheet_rows(out)
    assert rows == len(want) == len(sheet) - 1 == len(AWKWARD)
    assert sheet[0] == ("1", {f"{chr(65 + i)}1": name for i, name in enumerate(COLUMNS)})
    for number, ((r, cells), row) in enumerate(zip(sheet[1:], want, strict=True), start=2):
        assert r == str(number)
        shown: dict[str, object] = {}
        for i, column in enumerate(COLUMNS):
            value, ref = row[column], f"{chr(65 + i)}{number}"
            if value is None:
                continue  # NULL is no cell at all
            if isinstance(value, date):
                shown[ref] = ((value - date(1899, 12, 30)).days, "1")
            elif isinstance(value, int):
                shown[ref] = (value, None)
            else:
                shown[ref] = value
        assert cells == shown
    # And a spreadsheet library reads the same file: the escapes are its to decode, the rest is text as stored.
    book = openpyxl.load_workbook(out, read_only=True)
    titles = [r[0] for r in book["Report"].iter_rows(min_row=2, values_only=True)]
    book.close()
    assert [_excel_unescaped(t) for t in titles] == [r["title"] for r in want]


async def test_every_format_carries_the_csv_rows_under_filters_and_a_zone(pool: Pool, tmp_path: Path) -> None:
    """The same filtered rows in the same order, whatever the format (the zone's parameter follows the filters')."""
    import csv

    org = await seed.organization(pool)
    for i in range(12):
        await video(
            pool,
            org,
            title=f'clip {i}, "{i % 3}"',
            platform=("tiktok", "youtube")[i % 2],
            campaign_tag=f"c{i % 3}",
            published=f"2026-11-{1 + i:02d}T23:30Z",
            stats=(i * 100, i, None, 1) if i != 3 else None,
        )
    filters = parse_filters(
        {"platforms": ["youtube"], "campaign_tags": ["c0", "c1"], "published_from": "2026-11-03", "search": "clip"}
    )
    files = {}
    async with pool.acquire() as conn:
        for kind in ("csv", "ndjson", "xlsx"):
            files[kind] = tmp_path / f"f.{kind}"
            # Unguarded, the CSV holds the values as stored, like the other formats ("@c" stays "@c").
            await export_to_file(conn, org, filters, "Asia/Tokyo", FIRE, files[kind], kind=kind, formula_guard=False)
    with files["csv"].open(newline="", encoding="utf-8") as handle:
        table = list(csv.reader(handle))
    # youtube is every odd clip; of those, c0 and c1 are 1, 3, 7 and 9 (clip 1's 23:30 UTC is the 3rd in Tokyo).
    assert table[0] == COLUMNS and [r[0] for r in table[1:]] == [f'clip {i}, "{i % 3}"' for i in (9, 7, 3, 1)]

    def shown(value: object) -> str:
        if value is None:
            return ""
        if isinstance(value, datetime):
            return value.date().isoformat()
        return str(value)

    from_ndjson = [[shown(v) for v in json.loads(line).values()] for line in files["ndjson"].read_text().splitlines()]
    book = openpyxl.load_workbook(files["xlsx"], read_only=True)
    from_xlsx = [[shown(v) for v in row] for row in book["Report"].iter_rows(min_row=2, values_only=True)]
    book.close()
    assert from_ndjson == from_xlsx == table[1:]
    # 23:30 UTC is the next day in Tokyo.
    assert {r[6] for r in table[1:]} <= {f"2026-11-{2 + i:02d}" for i in range(12)}


async def test_dates_excel_cannot_show_are_text_in_xlsx_and_the_other_formats_keep_them(
    pool: Pool, tmp_path: Path
) -> None:
    org = await seed.organization(pool)
    for published in ("infinity", "-infinity", "1899-12-31T12:00Z", "1900-03-01T12:00Z", "9999-12-31T12:00Z"):
        await pool.execute(
            "INSERT INTO videos (organization_id, title, published_at, created_at) VALUES ($1, $2, $2::text::timestamptz, $3)",
            org,
            published,
            datetime(2026, 11, 1, tzinfo=UTC),
        )
    out, rows = await export(pool, org, tmp_path, "xlsx", tz="UTC")
    book = openpyxl.load_workbook(out)
    got = [(r[0].value, r[6].value) for r in book["Report"].iter_rows(min_row=2)]
    assert got == [
        ("infinity", "infinity"),
        ("9999-12-31T12:00Z", datetime(9999, 12, 31)),
        ("1900-03-01T12:00Z", datetime(1900, 3, 1)),
        ("1899-12-31T12:00Z", "1899-12-31"),
        ("-infinity", "-infinity"),
    ]
    for kind in ("csv", "ndjson"):
        path, count = await export(pool, org, tmp_path, kind, tz="UTC")
        assert count == rows == 5 and "infinity" in path.read_text()


@pytest.mark.parametrize(
    ("fire", "stamp"),
    [
        (datetime(1975, 6, 1, tzinfo=UTC), (1980, 1, 1, 0, 0, 0)),
        (datetime(2026, 11, 16, 7, 30, 15, tzinfo=UTC), (2026, 11, 16, 7, 30, 14)),  # ZIP keeps even seconds
        (datetime(2200, 1, 1, tzinfo=UTC), (2107, 12, 31, 23, 59, 58)),
    ],
)
def test_a_workbook_is_dated_by_its_fire_within_what_zip_can_hold(
    tmp_path: Path, fire: datetime, stamp: tuple[int, ...]
) -> None:
    path = tmp_path / "w.xlsx"
    book = StreamedWorkbook(path, fire, COLUMNS, (10,) * 12, (6, 7))
    book.write(b'<row r="2"><c r="A2"><v>1</v></c></row>')
    assert book.close(1) == path.stat().st_size
    with zipfile.ZipFile(path) as archive:
        assert {i.date_time for i in archive.infolist()} == {stamp}
        assert (
            f'<dcterms:created xsi:type="dcterms:W3CDTF">{fire:%Y-%m-%dT%H:%M:%S}Z'
            in archive.read("docProps/core.xml").decode()
        )
    sheet = openpyxl.load_workbook(path)["Report"]
    assert [c.value for c in sheet[1]] == COLUMNS and sheet["A2"].value == 1


_TOKENS = ("_x0041_", "_x005F_", "_x", "0041_", "&", "&amp;", "<", ">", "]]>", " ", "\t", "\n", "\r", "\x7f")
_ANY_CHAR = st.characters(exclude_categories=("Cs",), exclude_characters="\x00")
_XLSX_TEXT = st.lists(st.sampled_from(_TOKENS) | _ANY_CHAR | st.sampled_from("\x01\x1f\ufffe\uffff"), max_size=24)


async def test_any_text_reads_back_from_xlsx_exactly_as_stored(pool: Pool, tmp_path: Path) -> None:
    """A property over arbitrary Unicode (PostgreSQL text holds anything but NUL and lone surrogates): the sheet
    is well-formed XML and each value decodes back to what the database holds."""
    org = await seed.organization(pool)
    await video(pool, org)
    loop = asyncio.get_running_loop()
    seen = {"careful": 0, "examples": 0}

    async def one(title: str, channel: str) -> None:
        await pool.execute(
            "UPDATE videos SET title = $2, channel_username = $3 WHERE organization_id = $1", org, title, channel
        )
        out, rows = await export(pool, org, tmp_path, "xlsx", tz="UTC")
        [(_, cells)] = _sheet_rows(out)[1:]
        assert (cells["A2"], cells["F2"]) == (title, channel)
        seen["examples"] += 1
        seen["careful"] += b'xml:space="preserve"' in zipfile.ZipFile(out).read("xl/worksheets/sheet1.xml")

    @hsettings(
        max_examples=150, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(title=_XLSX_TEXT.map("".join), channel=_XLSX_TEXT.map("".join))
    def example(title: str, channel: str) -> None:
        asyncio.run_coroutine_threadsafe(one(title, channel), loop).result()

    await loop.run_in_executor(None, example)
    # Both paths were taken: plain text, and text that needed Excel's escapes or kept spaces.
    assert seen["examples"] >= 150 and 0 < seen["careful"] < seen["examples"], seen


async def test_an_xlsx_larger_than_a_sheet_fails_clearly_and_leaves_no_file(
    pool: Pool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A sheet's real limit is 1,048,575 rows below the header; the same check at a limit of 3.
    assert export_module.XLSX_MAX_ROWS == 2**20 - 1
    monkeypatch.setattr(export_module, "XLSX_MAX_ROWS", 3)
    org = await seed.organization(pool)
    for i in range(3):
        await video(pool, org, title=f"v{i}")
    out, rows = await export(pool, org, tmp_path, "xlsx")
    assert rows == 3
    book = openpyxl.load_workbook(out, read_only=True)
    assert sum(1 for _ in book["Report"].iter_rows(min_row=2)) == 3
    book.close()
    await video(pool, org, title="one too many")
    with pytest.raises(ExportTooLarge, match=r"more than 3 rows.*choose the csv or ndjson format"):
        await export(pool, org, tmp_path, "xlsx")
    assert not out.exists()
    # So does a sheet whose XML would need ZIP64 records (2 GiB; here 3 KiB, under the header and four rows).
    monkeypatch.setattr(export_module, "XLSX_MAX_ROWS", 100)
    monkeypatch.setattr(workbook_module, "SHEET_XML_LIMIT", 3 * 1024)
    with pytest.raises(ExportTooLarge, match=r"as an XLSX sheet.*choose the csv or ndjson format"):
        await export(pool, org, tmp_path, "xlsx")
    assert not out.exists()


async def test_a_schedule_whose_report_outgrows_xlsx_fails_once_and_sends_nothing(
    pool: Pool, redis: ArqRedis, settings: Settings, fx: Fakes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(export_module, "XLSX_MAX_ROWS", 2)
    s = point_at(settings, fx)
    await make(pool, format="xlsx", chats=(3,), videos=3)
    run_id = await fire(pool, redis, s)
    await drain(s, pool, redis, tmp_path)
    run = await run_row(pool, run_id)
    assert (run["status"], run["attempts"]) == ("failed", 1)
    assert "more than 2 rows" in run["error"] and "csv or ndjson" in run["error"]
    # No report went out; only the failure notice, to the schedule's creator, with the reason.
    assert await notes(pool, run_id) == [] and fx.telegram.documents(3) == []
    assert [m["email"] for m in fx.loops.sent] == ["creator@example.com"]
    assert "csv or ndjson" in json.dumps(fx.loops.sent[0]["dataVariables"])
    dead = await pool.fetchval("SELECT count(*) FROM shared_report_dead_letters")
    assert dead == 0
