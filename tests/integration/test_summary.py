"""The summary in every report: figures against independent SQL, escaping, Telegram's caption limit."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from aiosmtpd.controller import Controller
from arq.connections import ArqRedis

from consumer import export as export_module
from consumer.export import export_to_file
from consumer.filters import parse_filters
from consumer.summary import CAPTION_LIMIT, Summary, caption, summarize
from shared.db import Pool, create_pool
from shared.settings import EmailTransport, Settings, SmtpTls
from tests.support import seed
from tests.support.harness import Fakes, drain, point_at
from tests.support.reports import FIRE, video
from tests.support.runs import fire, make
from tests.support.servers import free_port
from tests.support.smtp import Handler

HOSTILE = "<script>alert('x')</script> & \"quoted\""


async def seeded(pool: Pool) -> UUID:
    org = await seed.organization(pool)
    day = timedelta(days=1)
    for i in range(8):
        await video(pool, org, title=f"v{i}", published=(FIRE - day * (i + 1)).isoformat(), stats=(100 * i, i, 1, 0))
    await video(pool, org, title=HOSTILE, published=(FIRE - day).isoformat(), stats=(5000, None, None, None))
    await video(pool, org, title="no stats", published=(FIRE - day * 2).isoformat(), stats=None)
    # The previous 7 days, for the change figures.
    await video(pool, org, title="old", published=(FIRE - day * 10).isoformat(), stats=(700, 7, 7, 7))
    return org


async def test_figures_match_an_independent_count(pool: Pool) -> None:
    org = await seeded(pool)
    filters = parse_filters({"period": "last_7_days"})
    async with pool.acquire() as conn:
        got = await summarize(conn, org, filters, "UTC", FIRE)
    start, previous_start = FIRE - timedelta(days=7), FIRE - timedelta(days=14)
    window = (
        "FROM videos v LEFT JOIN video_statistics s ON s.video_id = v.id "
        "WHERE v.organization_id = $1 AND v.published_at >= $2 AND v.published_at < $3"
    )
    now = await pool.fetchrow(
        f"SELECT count(*), coalesce(sum(views), 0) AS views, coalesce(sum(likes), 0) AS likes {window}",
        org,
        start,
        FIRE,
    )
    before = await pool.fetchrow(f"SELECT coalesce(sum(views), 0) AS views {window}", org, previous_start, start)
    top = await pool.fetch(
        f"SELECT title, views {window} ORDER BY views DESC NULLS LAST, v.id LIMIT 5", org, start, FIRE
    )
    assert got.rows == now["count"] == 9  # v0..v6 within 7 days, the hostile one, and the one without stats
    assert got.totals["views"] == now["views"] and got.totals["likes"] == now["likes"]
    assert [t for t, _ in got.top] == [r["title"] for r in top] and got.top[0] == (HOSTILE, 5000)
    assert got.change is not None
    assert got.change["views"] == pytest.approx(float((now["views"] - before["views"]) / before["views"]))


@pytest.mark.parametrize("side_pool", [True, False])
async def test_the_summary_sees_the_exports_snapshot(pool: Pool, tmp_path: Path, side_pool: bool) -> None:
    org = await seeded(pool)
    filters = parse_filters({"period": "last_7_days"})
    got: list[Summary] = []

    async def summary(conn: Any) -> None:
        # Committed after the export's snapshot was taken: neither the file nor its summary may count it.
        await video(pool, org, title="late", published=(FIRE - timedelta(hours=1)).isoformat(), stats=(10**6, 1, 1, 1))
        got.append(await summarize(conn, org, filters, "UTC", FIRE))

    async with pool.acquire() as conn:
        result = await export_to_file(
            conn, org, filters, "UTC", FIRE, tmp_path / "r.csv", beside=summary, side_pool=pool if side_pool else None
        )
    assert got[0].rows == result.rows == 9
    assert "late" not in (tmp_path / "r.csv").read_text() and all(title != "late" for title, _ in got[0].top)
    async with pool.acquire() as conn:
        now = await summarize(conn, org, filters, "UTC", FIRE)
    assert now.rows == 10 and now.top[0] == ("late", 10**6)


def recorder(org: UUID, filters: Any) -> tuple[list[Any], list[Summary], Callable[[Any], Awaitable[None]]]:
    """A summary callback that notes the connection it ran on and what it found."""
    ran_on: list[Any] = []
    got: list[Summary] = []

    async def summary(conn: Any) -> None:
        ran_on.append(conn)
        got.append(await summarize(conn, org, filters, "UTC", FIRE))

    return ran_on, got, summary


async def test_the_summary_runs_while_the_file_is_written(pool: Pool, tmp_path: Path) -> None:
    org = await seeded(pool)
    filters = parse_filters({})
    ran_on, got, summary = recorder(org, filters)
    waiting = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
    async with pool.acquire() as locker, pool.acquire() as conn:
        # Both the COPY and the summary block on this lock, which proves they are under way at the same time.
        held = locker.transaction()
        await held.start()
        await locker.execute("LOCK TABLE video_statistics IN ACCESS EXCLUSIVE MODE")
        export = asyncio.ensure_future(
            export_to_file(conn, org, filters, "UTC", FIRE, tmp_path / "r.csv", beside=summary, side_pool=pool)
        )
        for _ in range(250):
            if await pool.fetchval(waiting) >= 2:
                break
            await asyncio.sleep(0.02)
        assert await pool.fetchval(waiting) == 2
        await held.rollback()
        result = await export
    assert ran_on[0] is not conn and got[0].rows == result.rows == 11


async def test_a_small_exports_summary_follows_it_on_the_same_connection(
    pool: Pool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Written before a second connection would join it, the summary runs in the export's own transaction: no
    second connection is taken, and the figures still match the file. (The wait is lengthened so a slow machine
    cannot make this export "large".)"""
    monkeypatch.setattr(export_module, "BESIDE_AFTER_SECONDS", 30.0)
    org = await seeded(pool)
    filters = parse_filters({})
    ran_on, got, summary = recorder(org, filters)
    async with pool.acquire() as conn:
        free = pool.get_idle_size()
        result = await export_to_file(
            conn, org, filters, "UTC", FIRE, tmp_path / "r.csv", beside=summary, side_pool=pool
        )
        assert pool.get_idle_size() == free
    assert ran_on == [conn] and got[0].rows == result.rows == 11


async def test_a_busy_pool_never_deadlocks_the_export(pool: Pool, settings: Settings, tmp_path: Path) -> None:
    """Six exports on a pool of two: no summary can get a second connection, so each runs in its own export's
    transaction after the file is written."""
    org = await seeded(pool)
    filters = parse_filters({})
    small = await create_pool(settings.dsn, max_size=2)

    async def one(i: int) -> tuple[int, int]:
        got: list[Summary] = []

        async def summary(conn: Any) -> None:
            got.append(await summarize(conn, org, filters, "UTC", FIRE))

        async with small.acquire() as conn:
            result = await export_to_file(
                conn, org, filters, "UTC", FIRE, tmp_path / f"{i}.csv", beside=summary, side_pool=small
            )
        return result.rows, got[0].rows

    try:
        assert await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(6))), 60) == [(11, 11)] * 6
    finally:
        await small.close()


async def test_a_failing_summary_fails_the_export_and_a_failing_export_stops_the_summary(
    pool: Pool, tmp_path: Path
) -> None:
    org = await seeded(pool)
    filters = parse_filters({})

    async def broken(conn: Any) -> None:
        raise RuntimeError("summary failed")

    for side_pool in (pool, None):
        async with pool.acquire() as conn:
            with pytest.raises(RuntimeError, match="summary failed"):
                await export_to_file(
                    conn, org, filters, "UTC", FIRE, tmp_path / "a.csv", beside=broken, side_pool=side_pool
                )
            assert not conn.is_in_transaction()

    async def waits(conn: Any) -> None:
        await asyncio.sleep(30)

    async with pool.acquire() as conn:
        # A directory where the file should be: the export fails, and the work beside it is cancelled.
        (tmp_path / "dir.csv").mkdir()
        with pytest.raises(IsADirectoryError):
            await asyncio.wait_for(
                export_to_file(conn, org, filters, "UTC", FIRE, tmp_path / "dir.csv", beside=waits, side_pool=pool),
                20,
            )
    assert await pool.fetchval("SELECT count(*) FROM videos WHERE organization_id = $1", org) == 11


async def test_zero_rows_say_so(pool: Pool) -> None:
    org = await seed.organization(pool)
    async with pool.acquire() as conn:
        got = await summarize(conn, org, parse_filters({}), "UTC", FIRE)
    assert got.rows == 0 and got.top == [] and got.change is None
    assert "No videos matched" in caption("Weekly", got)


async def test_caption_is_escaped_and_within_the_limit(pool: Pool) -> None:
    org = await seed.organization(pool)
    for i in range(5):
        await video(pool, org, title=f"{HOSTILE} {'long title ' * 80} {i}", stats=(i, 0, 0, 0))
    async with pool.acquire() as conn:
        got = await summarize(conn, org, parse_filters({}), "UTC", FIRE)
    text = caption("<b>Name & co</b>" * 5, got)
    assert len(text) <= CAPTION_LIMIT
    assert "<script>" not in text and "&lt;script&gt;" in text and "&amp;" in text
    assert text.count("<b>") == 1  # only our own markup is markup


async def test_loops_and_telegram_get_the_summary(
    pool: Pool, redis: ArqRedis, settings: Settings, fx: Fakes, tmp_path: Path
) -> None:
    s = point_at(settings, fx)
    org, _ = await make(pool, chats=(11,), videos=0)
    await video(pool, org, title=HOSTILE, stats=(1234, 5, 6, 7))
    await fire(pool, redis, s)
    await drain(s, pool, redis, tmp_path)
    [mail] = fx.loops.sent
    data = mail["dataVariables"]
    assert data["totalViews"] == 1234 and data["top1Title"] == HOSTILE and data["top1Views"] == 1234
    assert "Views: 1,234" in data["summaryText"] and data["fileName"].endswith(".csv")
    [doc] = fx.telegram.documents(11)
    assert "&lt;script&gt;" in doc["caption"] and "views 1,234" in doc["caption"]


async def test_smtp_mail_has_an_escaped_html_table_and_a_plain_alternative(
    pool: Pool, redis: ArqRedis, settings: Settings, tmp_path: Path
) -> None:
    handler, port = Handler(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        s = settings.model_copy(
            update={
                "email_transport": EmailTransport.smtp,
                "smtp_host": "127.0.0.1",
                "smtp_port": port,
                "smtp_tls": SmtpTls.none,
            }
        )
        org, _ = await make(pool, videos=0)
        await video(pool, org, title=HOSTILE, stats=(42, 1, 2, 3))
        await fire(pool, redis, s)
        await drain(s, pool, redis, tmp_path)
    finally:
        controller.stop()
    [message] = [m for m in handler.messages if m["To"] == "a@example.com"]
    parts = {p.get_content_type(): p for p in message.walk()}
    plain = parts["text/plain"].get_payload(decode=True).decode()
    markup = parts["text/html"].get_payload(decode=True).decode()
    assert "Views: 42" in plain and HOSTILE in plain
    assert "<script>" not in markup and "&lt;script&gt;" in markup and "<table" in markup
    assert "text/csv" in parts
