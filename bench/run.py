"""Benchmarks: the service against the physical limit and the naive design, as ratios from one run.

    .venv/bin/python -m bench.run [--quick]

Writes bench/results.json and prints a table. Uses DATABASE_URL/REDIS_URL if set, else embedded servers.
"""

from __future__ import annotations

import argparse
import asyncio
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
from urllib.parse import urlsplit, urlunsplit
from uuid import UUID

import asyncpg

from consumer.export import export_to_file, plain_query
from consumer.filters import parse_filters
from producer.scheduler import tick
from shared.db import create_pool
from shared.embedded import services
from shared.fakes.loops import FakeLoops
from shared.fakes.telegram import FakeTelegram
from shared.migrate import migrate
from shared.queue import connect as connect_redis
from shared.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
DB = "scheduled_reports_bench"
FIRE = datetime(2026, 11, 23, 6, tzinfo=UTC)


def with_db(url: str, name: str) -> str:
    p = urlsplit(url)
    return urlunsplit((p.scheme, p.netloc, "/" + name, p.query, p.fragment))


async def fresh_db(server: str) -> str:
    conn = await asyncpg.connect(server)
    await conn.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
    await conn.execute(f'CREATE DATABASE "{DB}"')
    await conn.close()
    url = with_db(server, DB)
    await migrate(url)
    return url


async def seed_videos(pool: Any, rows: int, slug: str) -> UUID:
    org = await pool.fetchval("INSERT INTO organizations (name, slug) VALUES ($1, $1) RETURNING id", slug)
    await pool.execute("INSERT INTO shared_links (organization_id, slug, title) VALUES ($1, $2, $2)", org, slug)
    await pool.execute(
        """INSERT INTO videos (organization_id, title, video_url, platform, status, campaign_tag, channel_username,
                               published_at, created_at)
           SELECT $1, 'Video ' || g || CASE WHEN g % 50 = 0 THEN ' "quoted", comma' ELSE '' END,
                  'https://videos.example/' || g, (ARRAY['tiktok','youtube','instagram'])[1 + g % 3], 'active',
                  'Campaign ' || (g % 7), '@creator' || (g % 500),
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


async def bench_export(pool: Any, org: UUID, rows: int, work: Path, offset_budget: float) -> dict[str, Any]:
    filters = parse_filters({})
    out = work / f"export-{rows}.csv"
    async with pool.acquire() as conn:
        await conn.execute("SELECT count(*) FROM videos_with_statistics_fast WHERE organization_id = $1", org)  # warm
        result = await export_to_file(conn, org, filters, "UTC", FIRE, out)
        assert result.rows == rows
        sql, params = plain_query(org, filters, "UTC", FIRE)
        copy_out = work / f"copy-{rows}.csv"
        started = time.perf_counter()
        with copy_out.open("wb") as handle:

            async def write(chunk: bytes) -> None:
                handle.write(chunk)

            await conn.copy_from_query(sql, *params, output=write, format="csv", header=True)

        async def discard(chunk: bytes) -> None:
            del chunk

        copy_seconds = time.perf_counter() - started
        # The same COPY without parallel workers: separates parallelism from per-row costs.
        async with conn.transaction():
            await conn.execute("SET LOCAL max_parallel_workers_per_gather = 0")
            started = time.perf_counter()
            await conn.copy_from_query(sql, *params, output=discard, format="csv", header=True)
            serial_copy_seconds = time.perf_counter() - started
        # Naive design: OFFSET pages of 1000 (quadratic); stopped at the time budget.
        started, fetched, complete = time.perf_counter(), 0, True
        while True:
            page = await conn.fetch(f"{sql} OFFSET ${len(params) + 1} LIMIT 1000", *params, fetched)
            fetched += len(page)
            if len(page) < 1000:
                break
            if time.perf_counter() - started > offset_budget:
                complete = False
                break
        offset_seconds = time.perf_counter() - started
    return {
        "rows": rows,
        "export_s": round(result.seconds, 3),
        "copy_s": round(copy_seconds, 3),
        "export_over_copy": round(result.seconds / copy_seconds, 2),
        "serial_copy_s": round(serial_copy_seconds, 3),
        "export_over_serial_copy": round(result.seconds / serial_copy_seconds, 2),
        "offset_s": round(offset_seconds, 3),
        "offset_rows": fetched,
        "offset_complete": complete,
        "offset_over_export": round(offset_seconds / result.seconds, 2) if complete else None,
        "bytes": result.size,
    }


def peak_rss_mb(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    assert status == 0, proc.stderr.read().decode() if proc.stderr else status
    return usage.ru_maxrss / 1024, time.perf_counter() - started


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
    org = await seed_videos(pool, 10, f"small-{int(limits)}")
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
        "WORKER_MAX_JOBS": "16",
        "SPOOL_DIR": str(work / "spool"),
        "LOG_LEVEL": "WARNING",
    }
    if not limits:
        # Our own throttles off too: this measures the consumer's overhead, not the providers' quotas.
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
    await loops.stop()
    await telegram.stop()
    return {
        "reports": n,
        "limits_enforced": limits,
        "seconds_incl_worker_start": round(seconds, 2),
        "reports_per_s": round(n / seconds, 1),
        "sent": sent,
        "provider_429s": loops.rate_limited + telegram.rate_limited,
        "loops_429s": loops.rate_limited,
        "telegram_429s": telegram.rate_limited,
    }


async def main(quick: bool) -> dict[str, Any]:
    sizes = (20_000, 100_000) if quick else (200_000, 1_000_000)
    work = Path(tempfile.mkdtemp(prefix="bench-"))
    results: dict[str, Any] = {
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "when": datetime.now(UTC).isoformat(),
        }
    }
    with services() as urls:
        url = await fresh_db(urls.database_url)
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
            for rows in sizes:
                org = await seed_videos(pool, rows, f"org-{rows}")
                results["export"].append(await bench_export(pool, org, rows, work, 120 if quick else 300))
                print(results["export"][-1], flush=True)
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
            results["fanout"] = [await bench_fanout(pool, settings, env, r, 10_000) for r in (1, 3)]
            print(results["fanout"], flush=True)
            results["idle_tick"] = await bench_idle_tick(pool, settings, 100_000 if quick else 1_000_000)
            print(results["idle_tick"], flush=True)
            results["fire_latency"] = await bench_latency(pool, env, 200)
            print(results["fire_latency"], flush=True)
            results["delivery"] = [
                await bench_delivery(pool, settings, env, 300, False, work),
                await bench_delivery(pool, settings, env, 60, True, work),
            ]
            print(results["delivery"], flush=True)
        finally:
            await pool.close()
    return results


def table(r: dict[str, Any]) -> str:
    lines = ["| measure | figure | target | met |", "|---|---|---|---|"]
    for e in r["export"]:
        lines.append(
            f"| export {e['rows']:,} rows: service / COPY | {e['export_over_copy']}x "
            f"({e['export_s']} s vs {e['copy_s']} s) | <= 1.25x | {'yes' if e['export_over_copy'] <= 1.25 else 'no'} |"
        )
        lines.append(
            f"| export {e['rows']:,} rows: service / COPY without parallel workers | "
            f"{e['export_over_serial_copy']}x ({e['serial_copy_s']} s) | (diagnostic) | - |"
        )
        off = (
            f"{e['offset_over_export']}x ({e['offset_s']} s)"
            if e["offset_complete"]
            else f"stopped after {e['offset_s']} s at {e['offset_rows']:,} rows"
        )
        lines.append(f"| export {e['rows']:,} rows: naive OFFSET / service | {off} | (baseline) | - |")
    m = r["memory"]
    ratio = m[1]["peak_rss_mb"] / m[0]["peak_rss_mb"]
    lines.append(
        f"| peak RSS {m[0]['rows']:,} / {m[1]['rows']:,} rows | {m[0]['peak_rss_mb']} / {m[1]['peak_rss_mb']} MB "
        f"(ratio {ratio:.2f}) | <= 150 MB, <= 1.2x | {'yes' if m[1]['peak_rss_mb'] <= 150 and ratio <= 1.2 else 'no'} |"
    )
    for f in r["fanout"]:
        lines.append(
            f"| fan-out 10,000 due, {f['replicas']} replica(s) | {f['seconds_first_claim_to_last_enqueue']} s "
            f"({f['seconds_incl_process_start']} s with process start), {f['duplicates']} duplicates | <= 5 s, 0 dup | "
            f"{'yes' if f['seconds_incl_process_start'] <= 5 and f['duplicates'] == 0 else 'no'} |"
        )
    t = r["idle_tick"]
    lines.append(
        f"| idle tick, {t['schedules']:,} schedules none due | {t['tick_ms_median']} ms median "
        f"({t['tick_ms_max']} max) | <= 20 ms | {'yes' if t['tick_ms_median'] <= 20 else 'no'} |"
    )
    fl = r["fire_latency"]
    lines.append(
        f"| fire latency, {fl['enqueued']} fires | p50 {fl['p50_s']} s, p99 {fl['p99_s']} s | p99 <= 1 s | "
        f"{'yes' if fl['p99_s'] <= 1 else 'no'} |"
    )
    for d in r["delivery"]:
        if d["limits_enforced"]:
            lines.append(
                f"| delivery with provider limits ({d['reports']} reports) | {d['reports_per_s']}/s, "
                f"{d['provider_429s']} x 429 | no 429 | {'yes' if d['provider_429s'] == 0 else 'no'} |"
            )
        else:
            lines.append(
                f"| delivery, no limits ({d['reports']} reports, 1 process) | {d['reports_per_s']} reports/s "
                f"| >= 50/s | {'yes' if d['reports_per_s'] >= 50 else 'no'} |"
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
