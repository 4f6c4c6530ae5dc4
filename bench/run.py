"""Benchmarks: the service against the physical limit and the naive design, as ratios from one run.

    .venv/bin/python -m bench.run [--quick]

Writes bench/results.json and prints a table. Uses DATABASE_URL/REDIS_URL if set, else embedded servers.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from arq.constants import job_key_prefix

from consumer.export import FORCE_QUOTE_GUARDED, HEADER, copy_query, export_to_file
from consumer.filters import parse_filters
from consumer.summary import summarize
from devkit.databases import fresh_database
from devkit.embedded import services
from devkit.fakes.loops import FakeLoops
from devkit.fakes.telegram import FakeTelegram
from producer.tick import tick
from shared.db import create_pool
from shared.queue import connect as connect_redis
from shared.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
DB = "scheduled_reports_bench"
FIRE = datetime(2026, 11, 23, 6, tzinfo=UTC)


def machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "when": datetime.now(UTC).isoformat(),
    }


async def seed_videos(pool: Any, rows: int, slug: str) -> UUID:
    org = await pool.fetchval("INSERT INTO organizations (name, slug) VALUES ($1, $1) RETURNING id", slug)
    await pool.execute("INSERT INTO shared_links (organization_id, slug, title) VALUES ($1, $2, $2)", org, slug)
    await pool.execute(
        """INSERT INTO videos (organization_id, title, video_url, platform, status, campaign_tag, channel_username,
                               published_at, created_at)
           SELECT $1,
                  'Spring launch teaser #' || g || ' ' || md5(g::text) ||
                      CASE WHEN g % 20 = 0 THEN ' "behind the scenes", part ' || (g % 9) ELSE '' END,
                  'https://www.videos.example/watch/' || md5('u' || g) || '?utm_source=reports',
                  (ARRAY['tiktok','youtube','instagram'])[1 + g % 3], 'active',
                  'Campaign autumn-' || (g % 7) || '-paid', '@creator_account_' || (g % 500),
                  CASE WHEN g % 100 = 0 THEN NULL ELSE now() - g * interval '1 minute' END, now()
           FROM generate_series(1, $2) g""",
        org,
        rows,
    )
    await pool.execute(
        """INSERT INTO video_statistics (video_id, views, likes, comments, reposts)
                          SELECT id, 1000 + (random() * 1e6)::bigint, (random() * 1e4)::bigint,
                                 (random() * 1e3)::bigint, (random() * 1e2)::bigint
                          FROM videos WHERE organization_id = $1""",
        org,
    )
    await pool.execute("ANALYZE videos; ANALYZE video_statistics")
    return org  # type: ignore[no-any-return]


def _stats(samples: list[float]) -> dict[str, float]:
    return {"min": round(min(samples), 3), "median": round(statistics.median(samples), 3)}


async def bench_export(pool: Any, org: UUID, rows: int, work: Path, rounds: int) -> dict[str, Any]:
    """The consumer's export against `COPY` of the same query writing the same bytes, interleaved."""
    filters = parse_filters({})
    out, anchor_out = work / f"export-{rows}.csv", work / f"copy-{rows}.csv"
    sql, params = copy_query(org, filters, "UTC", FIRE)
    service: list[float] = []
    anchor: list[float] = []
    async with pool.acquire() as conn:
        await conn.execute("SELECT count(*) FROM videos_with_statistics_fast WHERE organization_id = $1", org)  # warm
        for _ in range(rounds):
            result = await export_to_file(conn, org, filters, "UTC", FIRE, out)
            assert result.rows == rows
            service.append(result.seconds)
            started = time.perf_counter()
            with anchor_out.open("wb") as handle:
                handle.write(HEADER.encode())

                async def write(chunk: bytes) -> None:
                    handle.write(chunk)

                async with conn.transaction(isolation="repeatable_read", readonly=True):
                    await conn.execute("SET LOCAL DateStyle = 'ISO, YMD'")
                    await conn.copy_from_query(
                        sql, *params, output=write, format="csv", force_quote=FORCE_QUOTE_GUARDED
                    )
            anchor.append(time.perf_counter() - started)
    identical = hashlib.sha256(out.read_bytes()).digest() == hashlib.sha256(anchor_out.read_bytes()).digest()
    size = out.stat().st_size
    return {
        "rows": rows,
        "rounds": rounds,
        "bytes": size,
        "bytes_per_row": round(size / rows, 1),
        "same_bytes": identical,
        "export_s": _stats(service),
        "copy_s": _stats(anchor),
        "ratio_min": round(min(service) / min(anchor), 2),
        "ratio_median": round(statistics.median(service) / statistics.median(anchor), 2),
    }


async def bench_formats(pool: Any, org: UUID, rows: int, work: Path, rounds: int) -> dict[str, Any]:
    """NDJSON and XLSX of the same rows, timed as a ratio to the CSV export, interleaved."""
    filters = parse_filters({})
    times: dict[str, list[float]] = {"csv": [], "ndjson": [], "xlsx": []}
    sizes: dict[str, int] = {}
    async with pool.acquire() as conn:
        for _ in range(rounds):
            for kind in times:
                result = await export_to_file(conn, org, filters, "UTC", FIRE, work / f"f.{kind}", kind=kind)
                assert result.rows == rows
                times[kind].append(result.seconds)
                sizes[kind] = result.size
    csv_median = statistics.median(times["csv"])
    return {
        "rows": rows,
        "rounds": rounds,
        **{f"{k}_s": _stats(v) for k, v in times.items()},
        **{f"{k}_over_csv": round(statistics.median(v) / csv_median, 2) for k, v in times.items() if k != "csv"},
        "bytes": sizes,
    }


async def bench_summary(pool: Any, org: UUID, work: Path, rounds: int, period: str = "all") -> dict[str, Any]:
    """What the summary adds to the export, interleaved: the export alone, the export with the summary
    computed beside it in the same snapshot (the consumer's path), and the summary's query alone."""
    filters = parse_filters({"period": period})
    export_s: list[float] = []
    with_summary_s: list[float] = []
    summary_s: list[float] = []
    async with pool.acquire() as conn:
        for _ in range(rounds):
            result = await export_to_file(conn, org, filters, "UTC", FIRE, work / "s.csv")
            export_s.append(result.seconds)

            async def beside(side: Any) -> None:
                await summarize(side, org, filters, "UTC", FIRE)

            result = await export_to_file(
                conn, org, filters, "UTC", FIRE, work / "s.csv", beside=beside, side_pool=pool
            )
            with_summary_s.append(result.seconds)
            started = time.perf_counter()
            await summarize(conn, org, filters, "UTC", FIRE)
            summary_s.append(time.perf_counter() - started)
    return {
        "rows": result.rows,
        "period": period,
        "rounds": rounds,
        "export_s": _stats(export_s),
        "export_with_summary_s": _stats(with_summary_s),
        "summary_s": _stats(summary_s),
        "added": round(statistics.median(with_summary_s) / statistics.median(export_s) - 1, 3),
        "added_min": round(min(with_summary_s) / min(export_s) - 1, 3),
        "summary_share": round(statistics.median(summary_s) / statistics.median(export_s), 3),
    }


def peak_rss_mb(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """VmHWM of the exported process itself, read from /proc while it runs (its last reading is the peak)."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak_kb = 0
    status = Path(f"/proc/{proc.pid}/status")
    while proc.poll() is None:
        try:
            for line in status.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak_kb = max(peak_kb, int(line.split()[1]))
        except (FileNotFoundError, ProcessLookupError):
            break
        time.sleep(0.01)
    assert proc.wait() == 0, proc.stderr.read().decode() if proc.stderr else proc.returncode
    return peak_kb / 1024, time.perf_counter() - started


async def bench_fanout(pool: Any, settings: Settings, env: dict[str, str], replicas: int, n: int) -> dict[str, Any]:
    await pool.execute("TRUNCATE shared_report_runs CASCADE; DELETE FROM shared_report_schedules")
    redis = await connect_redis(settings.redis_dsn)
    await redis.delete(settings.queue_name)
    org = await pool.fetchval("SELECT id FROM organizations ORDER BY created_at LIMIT 1")
    link = await pool.fetchval("SELECT id FROM shared_links WHERE organization_id = $1", org)
    await pool.execute(
        "INSERT INTO organization_notification_email_recipients (organization_id, email) "
        "SELECT $1, 'team@example.com' WHERE NOT EXISTS (SELECT 1 FROM "
        "organization_notification_email_recipients WHERE organization_id = $1)",
        org,
    )
    await pool.execute(
        "INSERT INTO shared_report_schedules (organization_id, shared_link_id, name, cadence, "
        "cron_expression, next_run_at) SELECT $1, $2, 'r' || g, 'custom', '0 9 * * *', now() "
        "FROM generate_series(1, $3) g",
        org,
        link,
        n,
    )
    started = time.perf_counter()
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-m", "producer", "tick", "--once", env=env, stdout=asyncio.subprocess.DEVNULL
        )
        for _ in range(replicas)
    ]
    for p in procs:
        await p.wait()
    seconds = time.perf_counter() - started
    runs = await pool.fetchval("SELECT count(*) FROM shared_report_runs")
    distinct = await pool.fetchval("SELECT count(DISTINCT job_id) FROM shared_report_runs")
    jobs = await redis.zcard(settings.queue_name)
    spread = await pool.fetchval(
        "SELECT extract(epoch FROM max(enqueued_at) - min(created_at)) FROM shared_report_runs"
    )
    # Nobody consumes these jobs: drop them, or each round leaves 10,000 job keys in Redis for a day.
    ids = await redis.zrange(settings.queue_name, 0, -1)
    for start in range(0, len(ids), 1000):
        await redis.delete(*(job_key_prefix + i.decode() for i in ids[start : start + 1000]))
    await redis.delete(settings.queue_name)
    await redis.aclose()
    return {
        "replicas": replicas,
        "schedules": n,
        "seconds_incl_process_start": round(seconds, 2),
        "seconds_first_claim_to_last_enqueue": round(float(spread), 2),
        "runs": runs,
        "jobs": jobs,
        "duplicates": runs - distinct + max(0, jobs - n),
    }


async def bench_idle_tick(pool: Any, settings: Settings, n: int) -> dict[str, Any]:
    await pool.execute("TRUNCATE shared_report_runs CASCADE; DELETE FROM shared_report_schedules")
    org = await pool.fetchval("SELECT id FROM organizations ORDER BY created_at LIMIT 1")
    link = await pool.fetchval("SELECT id FROM shared_links WHERE organization_id = $1", org)
    await pool.execute(
        "INSERT INTO shared_report_schedules (organization_id, shared_link_id, name, cadence, "
        "cron_expression, next_run_at) SELECT $1, $2, 'r' || g, 'custom', '0 9 * * *', "
        "now() + interval '1 hour' + g * interval '1 second' FROM generate_series(1, $3) g",
        org,
        link,
        n,
    )
    await pool.execute("ANALYZE shared_report_schedules")
    redis = await connect_redis(settings.redis_dsn)
    samples = []
    for _ in range(25):
        started = time.perf_counter()
        result = await tick(pool, redis, settings)
        samples.append((time.perf_counter() - started) * 1000)
        assert result.claimed == 0
    await redis.aclose()
    return {
        "schedules": n,
        "tick_ms_median": round(statistics.median(samples), 2),
        "tick_ms_max": round(max(samples), 2),
    }


async def bench_latency(pool: Any, env: dict[str, str], n: int) -> dict[str, Any]:
    await pool.execute("TRUNCATE shared_report_runs CASCADE; DELETE FROM shared_report_schedules")
    org = await pool.fetchval("SELECT id FROM organizations ORDER BY created_at LIMIT 1")
    link = await pool.fetchval("SELECT id FROM shared_links WHERE organization_id = $1", org)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "producer",
        env={**env, "PRODUCER_PORT": "0"},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    await asyncio.sleep(2)
    # Due times spread over 20 s, created while the producer sleeps: it must wake for each.
    await pool.execute(
        "INSERT INTO shared_report_schedules (organization_id, shared_link_id, name, cadence, "
        "cron_expression, next_run_at) SELECT $1, $2, 'r' || g, 'custom', '0 9 * * *', "
        "now() + interval '2 seconds' + (g * 20.0 / $3) * interval '1 second' "
        "FROM generate_series(1, $3) g",
        org,
        link,
        n,
    )
    await asyncio.sleep(25)
    proc.terminate()
    await proc.wait()
    lags = sorted(
        r[0]
        for r in await pool.fetch(
            "SELECT extract(epoch FROM enqueued_at - fire_at)::float8 FROM shared_report_runs WHERE enqueued_at IS NOT NULL"
        )
    )
    return {
        "schedules": n,
        "enqueued": len(lags),
        "p50_s": round(lags[len(lags) // 2], 3),
        "p99_s": round(lags[min(len(lags) - 1, int(len(lags) * 0.99))], 3),
        "max_s": round(lags[-1], 3),
    }


async def bench_delivery(
    pool: Any, settings: Settings, env: dict[str, str], n: int, limits: bool, work: Path
) -> dict[str, Any]:
    await pool.execute("TRUNCATE shared_report_runs CASCADE; DELETE FROM shared_report_schedules")
    org = await seed_videos(pool, 10, f"small-{int(limits)}-{time.monotonic_ns()}")
    link = await pool.fetchval("SELECT id FROM shared_links WHERE organization_id = $1", org)
    await pool.execute(
        "INSERT INTO shared_report_schedules (organization_id, shared_link_id, name, cadence, "
        "cron_expression, next_run_at, send_telegram) SELECT $1, $2, 'r' || g, 'custom', "
        "'0 9 * * *', now(), $4 FROM generate_series(1, $3) g",
        org,
        link,
        n,
        limits,
    )
    await pool.execute(
        "INSERT INTO shared_report_schedule_recipients (schedule_id, channel, email) "
        "SELECT id, 'email', 'r' || id || '@example.com' FROM shared_report_schedules"
    )
    if limits:
        await pool.execute(
            "INSERT INTO shared_report_schedule_recipients (schedule_id, channel, telegram_chat_id) "
            "SELECT id, 'telegram', 1000 + (row_number() OVER ()) % 20 FROM shared_report_schedules"
        )
    loops = FakeLoops(api_key="bench", rate_per_second=10 if limits else None)
    telegram = FakeTelegram(token="1:BENCH", enforce_limits=limits)
    await loops.start()
    await telegram.start()
    redis = await connect_redis(settings.redis_dsn)
    await redis.delete(settings.queue_name)
    await tick(pool, redis, settings)
    await redis.aclose()
    worker_env = {
        **env,
        "LOOPS_API_URL": loops.url,
        "LOOPS_API_KEY": "bench",
        "TELEGRAM_API_URL": telegram.url,
        "TELEGRAM_BOT_TOKEN": "1:BENCH",
        "CONSUMER_PORT": "0",
        "SPOOL_DIR": str(work / "spool"),
        "LOG_LEVEL": "WARNING",
    }
    if not limits:
        # Concurrency and poll delay stay at the shipped defaults; only the provider quotas (and our own
        # throttles that mirror them) are lifted, so this measures the consumer, not Loops' 10/s.
        worker_env.update(
            {
                "LOOPS_RATE_PER_SECOND": "100000",
                "TELEGRAM_RATE_PER_SECOND": "100000",
                "TELEGRAM_CHAT_INTERVAL_SECONDS": "0",
                "TELEGRAM_GROUP_INTERVAL_SECONDS": "0",
            }
        )
    started = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "consumer",
        env=worker_env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    while await pool.fetchval("SELECT count(*) FROM shared_report_runs WHERE status IN ('queued', 'running')"):
        await asyncio.sleep(0.05)
    seconds = time.perf_counter() - started
    proc.terminate()
    await proc.wait()
    sent = await pool.fetchval("SELECT count(*) FROM shared_report_runs WHERE status = 'sent'")
    # Steady state: first run started to last run finished, without the worker's own start-up.
    busy = await pool.fetchval("SELECT extract(epoch FROM max(finished_at) - min(started_at)) FROM shared_report_runs")
    await loops.stop()
    await telegram.stop()
    return {
        "reports": n,
        "limits_enforced": limits,
        "seconds_incl_worker_start": round(seconds, 2),
        "reports_per_s": round(n / seconds, 1),
        "reports_per_s_steady": round(n / float(busy), 1),
        "sent": sent,
        "provider_429s": loops.rate_limited + telegram.rate_limited,
        "loops_429s": loops.rate_limited,
        "telegram_429s": telegram.rate_limited,
    }


async def main(quick: bool) -> dict[str, Any]:
    sizes = (20_000, 100_000) if quick else (200_000, 1_000_000)
    work = Path(tempfile.mkdtemp(prefix="bench-"))
    results: dict[str, Any] = {"machine": machine()}
    with services() as urls:
        url = await fresh_database(urls.database_url, DB)
        settings = Settings(database_url=url, redis_url=urls.redis_url, queue_name="bench:queue", jwt_secret="x" * 40)
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "REDIS_URL": urls.redis_url,
            "QUEUE_NAME": "bench:queue",
            "JWT_SECRET": "x" * 40,
            "LOG_FORMAT": "text",
            "LOOPS_API_KEY": "k",
            "LOOPS_TRANSACTIONAL_ID": "t",
        }
        pool = await create_pool(url, max_size=6)
        try:
            results["export"] = []
            org_ids: dict[int, UUID] = {}
            for rows in sizes:
                org = await seed_videos(pool, rows, f"org-{rows}")
                org_ids[rows] = org
                results["export"].append(await bench_export(pool, org, rows, work, 3 if quick else 5))
                print(results["export"][-1], flush=True)
            results["summary"] = [
                await bench_summary(pool, org_ids[sizes[0]], work, 5, period) for period in ("all", "last_30_days")
            ]
            print(results["summary"], flush=True)
            results["formats"] = await bench_formats(pool, org_ids[sizes[0]], sizes[0], work, 3)
            print(results["formats"], flush=True)
            results["memory"] = []
            for rows in (sizes[0] // 2, sizes[1]) if quick else (100_000, 1_000_000):
                slug = f"org-mem-{rows}"
                if rows not in sizes:
                    await seed_videos(pool, rows, slug)
                else:
                    slug = f"org-{rows}"
                rss, secs = peak_rss_mb(
                    [sys.executable, "-m", "consumer", "export", "--shared-link", slug, "--out", str(work / "mem.csv")],
                    env,
                )
                results["memory"].append({"rows": rows, "peak_rss_mb": round(rss, 1), "seconds": round(secs, 2)})
                print(results["memory"][-1], flush=True)
            results["format_memory"] = []
            for kind in ("ndjson", "xlsx"):
                rss, secs = peak_rss_mb(
                    [
                        *(sys.executable, "-m", "consumer", "export", "--shared-link", f"org-{sizes[1]}"),
                        *("--out", str(work / f"mem.{kind}"), "--format", kind),
                    ],
                    env,
                )
                results["format_memory"].append(
                    {"format": kind, "rows": sizes[1], "peak_rss_mb": round(rss, 1), "seconds": round(secs, 2)}
                )
                print(results["format_memory"][-1], flush=True)
            results["fanout"] = [await bench_fanout(pool, settings, env, r, 10_000) for _ in range(5) for r in (1, 3)]
            print(results["fanout"], flush=True)
            results["idle_tick"] = await bench_idle_tick(pool, settings, 100_000 if quick else 1_000_000)
            print(results["idle_tick"], flush=True)
            results["fire_latency"] = await bench_latency(pool, env, 200)
            print(results["fire_latency"], flush=True)
            results["delivery"] = [await bench_delivery(pool, settings, env, 500, False, work) for _ in range(5)]
            results["delivery"].append(await bench_delivery(pool, settings, env, 60, True, work))
            print(results["delivery"], flush=True)
        finally:
            await pool.close()
    return results


def _yes(ok: bool) -> str:
    return "yes" if ok else "no"


def table(r: dict[str, Any]) -> str:
    lines = ["| measure | figure (min / median) | target | met |", "|---|---|---|---|"]
    for e in r["export"]:
        lines.append(
            f"| export {e['rows']:,} rows ({e['bytes_per_row']} B/row), {e['rounds']} interleaved rounds: service / "
            f"same-bytes COPY | {e['ratio_min']}x / {e['ratio_median']}x ({e['export_s']['min']} / "
            f"{e['export_s']['median']} s vs {e['copy_s']['min']} / {e['copy_s']['median']} s), "
            f"bytes identical: {_yes(e['same_bytes'])} | <= 1.10x | {_yes(e['ratio_median'] <= 1.10 and e['same_bytes'])} |"
        )
    m = r["memory"]
    ratio = m[1]["peak_rss_mb"] / m[0]["peak_rss_mb"]
    lines.append(
        f"| peak RSS (VmHWM of `consumer export`) {m[0]['rows']:,} / {m[1]['rows']:,} rows | {m[0]['peak_rss_mb']} / "
        f"{m[1]['peak_rss_mb']} MB (ratio {ratio:.2f}) | <= 100 MB, flat | {_yes(m[1]['peak_rss_mb'] <= 100 and ratio <= 1.1)} |"
    )
    for sm in r["summary"]:
        lines.append(
            f"| export with its summary beside it (same snapshot), {sm['rows']:,} rows (period {sm['period']}), "
            f"{sm['rounds']} interleaved rounds: time added to the export alone | {sm['added_min']:+.0%} / "
            f"{sm['added']:+.0%} ({sm['export_with_summary_s']['min']} / {sm['export_with_summary_s']['median']} s "
            f"vs {sm['export_s']['min']} / {sm['export_s']['median']} s; the query alone, after the export: "
            f"{sm['summary_s']['median']} s = {sm['summary_share']:.0%}) | <= 10 % | {_yes(sm['added'] <= 0.10)} |"
        )
    f = r["formats"]
    for kind in ("ndjson", "xlsx"):
        mem = next(x for x in r["format_memory"] if x["format"] == kind)
        lines.append(
            f"| {kind.upper()} {f['rows']:,} rows, {f['rounds']} interleaved rounds: time / CSV export | "
            f"{f[kind + '_over_csv']}x ({f[kind + '_s']['min']} / {f[kind + '_s']['median']} s vs CSV "
            f"{f['csv_s']['min']} / {f['csv_s']['median']} s); peak RSS at {mem['rows']:,} rows {mem['peak_rss_mb']} MB "
            f"({mem['seconds']} s) | flat memory | {_yes(mem['peak_rss_mb'] <= 100)} |"
        )
    for replicas in (1, 3):
        runs = [f for f in r["fanout"] if f["replicas"] == replicas]
        spawn = sorted(f["seconds_incl_process_start"] for f in runs)
        inner = sorted(f["seconds_first_claim_to_last_enqueue"] for f in runs)
        dups = sum(f["duplicates"] for f in runs)
        lines.append(
            f"| fan-out 10,000 due, {replicas} producer(s), {len(runs)} rounds: spawn to last job visible | "
            f"{spawn[0]} / {statistics.median(spawn)} s (first claim to last enqueue {inner[0]} / "
            f"{statistics.median(inner)} s), {dups} duplicates | <= 2 s, 0 dup | "
            f"{_yes(statistics.median(spawn) <= 2 and dups == 0) if replicas == 1 else '-'} |"
        )
    t = r["idle_tick"]
    lines.append(
        f"| idle tick, {t['schedules']:,} schedules none due | {t['tick_ms_median']} ms median "
        f"({t['tick_ms_max']} max) | <= 20 ms | {_yes(t['tick_ms_median'] <= 20)} |"
    )
    fl = r["fire_latency"]
    lines.append(
        f"| fire latency, {fl['enqueued']} fires | p50 {fl['p50_s']} s, p99 {fl['p99_s']} s | p99 <= 1 s | "
        f"{_yes(fl['p99_s'] <= 1)} |"
    )
    free = [d for d in r["delivery"] if not d["limits_enforced"]]
    steady = sorted(d["reports_per_s_steady"] for d in free)
    whole = sorted(d["reports_per_s"] for d in free)
    lines.append(
        f"| small reports per consumer at the shipped defaults, {len(free)} rounds of {free[0]['reports']} | "
        f"{steady[0]} / {statistics.median(steady)} reports/s steady ({whole[0]} / {statistics.median(whole)} "
        f"with worker start) | >= 100/s | {_yes(statistics.median(steady) >= 100)} |"
    )
    for d in r["delivery"]:
        if d["limits_enforced"]:
            lines.append(
                f"| delivery with provider limits enforced ({d['reports']} reports) | {d['reports_per_s']}/s, "
                f"{d['provider_429s']} x 429 | no 429 | {_yes(d['provider_429s'] == 0)} |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    args = parser.parse_args()
    out = asyncio.run(main(args.quick))
    (ROOT / "bench" / ("results-quick.json" if args.quick else "results.json")).write_text(
        json.dumps(out, indent=2, default=float)
    )
    print(table(out))
