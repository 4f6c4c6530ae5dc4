"""Bench: the console's first pages for one organization with 10,000 schedules and 1,000,000 runs.

    .venv/bin/python -m bench.console

Starts the real producer process on a fresh database, times the API requests behind the first page of
Schedules and of Runs (measured at the client over loopback, so an upper bound of the server's time), and
loads the Schedules page in headless Chromium to count the bytes it transfers. Writes bench/results-console.json
and prints the lines for bench/README.md. Uses DATABASE_URL/REDIS_URL if set, else embedded servers.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import statistics
import sys
import time
from pathlib import Path
from typing import Any
from uuid import UUID

import aiohttp
import asyncpg
import jwt

from bench.run import machine
from devkit.databases import fresh_database
from devkit.embedded import services

ROOT = Path(__file__).resolve().parents[1]
DB = "scheduled_reports_bench_console"
SECRET = "bench-console-secret-0123456789abcdef"
SCHEDULES = 10_000
RUNS_PER_SCHEDULE = 100
ROUNDS = 30


async def seed(conn: asyncpg.Connection, slug: str, schedules: int, runs_each: int) -> tuple[UUID, UUID]:
    org = await conn.fetchval("INSERT INTO organizations (name, slug) VALUES ($1, $1) RETURNING id", slug)
    owner = await conn.fetchval("INSERT INTO users (email) VALUES ($1) RETURNING id", f"owner@{slug}.example")
    await conn.execute("INSERT INTO organization_members VALUES ($1, $2, 'owner')", org, owner)
    link = await conn.fetchval(
        "INSERT INTO shared_links (organization_id, slug, title) VALUES ($1, $2, 'Weekly Views') RETURNING id",
        org,
        f"{slug}-link",
    )
    await conn.execute(
        """INSERT INTO shared_report_schedules (organization_id, shared_link_id, created_by, name, cadence,
               cron_expression, timezone, enabled, next_run_at, last_run_status, created_at)
           SELECT $1, $2, $3, 'Weekly report ' || g || ' ' || left(md5(g::text), 8), 'custom', '0 9 * * 1',
                  'Europe/London', g % 10 <> 0, CASE WHEN g % 10 <> 0 THEN now() + g * interval '1 minute' END,
                  'sent', now() - g * interval '1 second'
           FROM generate_series(1, $4) g""",
        org,
        link,
        owner,
        schedules,
    )
    # Every schedule's history: fires a week apart, mostly sent, a tenth failed, some partial, skipped, dead.
    await conn.execute(
        """INSERT INTO shared_report_runs (schedule_id, organization_id, fire_at, trigger, status, attempts,
               row_count, byte_count, filename, error, started_at, finished_at, created_at)
           SELECT s.id, $1, x.t, 'cron', x.status, 1, 1000 + g, 264000 + g, 'weekly-views.csv',
                  CASE WHEN x.status = 'failed' THEN 'loops: 400 invalid recipient' END,
                  x.t, x.t + interval '2 seconds', x.t
           FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM shared_report_schedules
                 WHERE organization_id = $1) s,
                generate_series(1, $2) g,
                LATERAL (SELECT now() - ((g * 7 * 1440 + s.n) * interval '1 minute') AS t,
                                (ARRAY['sent','sent','sent','sent','sent','sent','partial','failed','skipped','dead'])
                                    [1 + (g + s.n) % 10] AS status) x""",
        org,
        runs_each,
    )
    return org, owner


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def timed(http: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> tuple[float, int, int]:
    started = time.perf_counter()
    async with http.get(url, headers=headers) as response:
        body = await response.read()
        assert response.status == 200, (url, response.status, body[:300])
    return (time.perf_counter() - started) * 1000, len(body), len(json.loads(body)["items"])


async def page_weight(base: str, bearer: str) -> dict[str, Any] | None:
    """Bytes Chromium transfers to show the Schedules page: the HTML, its script and style, and the API calls."""
    executable = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(executable).exists():
        print("no Chromium (apt-get install chromium): the page weight is not measured", flush=True)
        return None
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=executable, headless=True)
        page = await browser.new_page(viewport={"width": 1440, "height": 900})
        finished: list[Any] = []
        page.on("requestfinished", lambda request: finished.append(request))
        await page.goto(base + "/")
        await page.get_by_label("Token").fill(bearer)
        await page.get_by_role("button", name="Sign in").click()
        await page.get_by_role("switch").first.wait_for()
        await page.wait_for_load_state("networkidle")
        parts = []
        for request in finished:
            sizes = await request.sizes()
            parts.append(
                {
                    "path": request.url.removeprefix(base).split("?")[0],
                    "body": sizes["responseBodySize"],
                    "headers": sizes["responseHeadersSize"],
                }
            )
        rows = await page.get_by_role("switch").count()
        await browser.close()
    total = sum(p["body"] + p["headers"] for p in parts)
    static = sum(p["body"] for p in parts if not p["path"].startswith("/v1/"))
    return {"requests": parts, "total_bytes": total, "static_body_bytes": static, "rows_shown": rows}


async def main() -> dict[str, Any]:
    results: dict[str, Any] = {"machine": machine()}
    with services() as urls:
        url = await fresh_database(urls.database_url, DB)
        conn = await asyncpg.connect(url)
        try:
            started = time.monotonic()
            org, owner = await seed(conn, "big", SCHEDULES, RUNS_PER_SCHEDULE)
            await seed(conn, "other", 100, 100)
            await conn.execute("ANALYZE")
            counts = await conn.fetchrow(
                "SELECT (SELECT count(*) FROM shared_report_schedules WHERE organization_id = $1) AS schedules, "
                "(SELECT count(*) FROM shared_report_runs WHERE organization_id = $1) AS runs",
                org,
            )
            print(
                f"seeded {counts['schedules']:,} schedules, {counts['runs']:,} runs in {time.monotonic() - started:.0f} s"
            )
            results["seed"] = dict(counts)
        finally:
            await conn.close()
        port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "REDIS_URL": urls.redis_url,
            "JWT_SECRET": SECRET,
            "PRODUCER_HOST": "127.0.0.1",
            "PRODUCER_PORT": str(port),
            "TICK_SECONDS": "3600",
            "LOG_FORMAT": "text",
            "LOG_LEVEL": "WARNING",
            "QUEUE_NAME": "bench:console",
        }
        producer = await asyncio.create_subprocess_exec(sys.executable, "-m", "producer", env=env)
        base = f"http://127.0.0.1:{port}"
        bearer = jwt.encode({"sub": str(owner), "aud": "authenticated", "exp": int(time.time()) + 3600}, SECRET)
        headers = {"Authorization": f"Bearer {bearer}"}
        try:
            async with aiohttp.ClientSession() as http:
                for _ in range(200):
                    try:
                        async with http.get(base + "/healthz") as response:
                            if response.status == 200:
                                break
                    except aiohttp.ClientConnectionError:
                        await asyncio.sleep(0.1)
                requests = {
                    "schedules_first_page": f"/v1/schedules?organization_id={org}&limit=50",
                    "schedules_search_no_match": f"/v1/schedules?organization_id={org}&name=nothing-like-this&limit=50",
                    "runs_first_page": f"/v1/runs?organization_id={org}&limit=50",
                    "runs_failed_first_page": f"/v1/runs?organization_id={org}&status=failed&limit=50",
                }
                samples: dict[str, list[float]] = {name: [] for name in requests}
                sizes: dict[str, tuple[int, int]] = {}
                for path in requests.values():  # one warm-up each
                    await timed(http, base + path, headers)
                for _ in range(ROUNDS):  # interleaved
                    for name, path in requests.items():
                        ms, size, items = await timed(http, base + path, headers)
                        samples[name].append(ms)
                        sizes[name] = (size, items)
            results["requests"] = {
                name: {
                    "min_ms": round(min(values), 1),
                    "median_ms": round(statistics.median(values), 1),
                    "p95_ms": round(sorted(values)[int(len(values) * 0.95) - 1], 1),
                    "max_ms": round(max(values), 1),
                    "bytes": sizes[name][0],
                    "items": sizes[name][1],
                    "rounds": ROUNDS,
                }
                for name, values in samples.items()
            }
            for name, figures in results["requests"].items():
                print(name, figures, flush=True)
            results["page"] = await page_weight(base, bearer)
            print("page", results["page"], flush=True)
        finally:
            producer.terminate()
            await producer.wait()
    return results


def lines(r: dict[str, Any]) -> str:
    out = ["| measure | figure (min / median / p95) | target | met |", "|---|---|---|---|"]
    seed = r["seed"]
    for name, label in (
        ("schedules_first_page", "Schedules, first page (50)"),
        ("schedules_search_no_match", "Schedules, a Search matching none"),
        ("runs_first_page", "Runs, first page (50)"),
        ("runs_failed_first_page", "Runs, Status failed, first page (50)"),
    ):
        q = r["requests"][name]
        out.append(
            f"| console API, {seed['schedules']:,} schedules / {seed['runs']:,} runs in one organization: {label}, "
            f"{q['rounds']} interleaved rounds at the client over loopback ({q['bytes']:,} B) | {q['min_ms']} / "
            f"{q['median_ms']} / {q['p95_ms']} ms | <= 300 ms | {'yes' if q['p95_ms'] <= 300 else 'no'} |"
        )
    page = r.get("page")
    if page:
        detail = ", ".join(f"{p['path']} {p['body'] + p['headers']:,}" for p in page["requests"])
        out.append(
            f"| Schedules page, first load in Chromium (sign in included): bytes transferred, headers included | "
            f"{page['total_bytes']:,} B in {len(page['requests'])} requests ({detail}); HTML+JS+CSS "
            f"{page['static_body_bytes']:,} B | - | - |"
        )
    return "\n".join(out)


if __name__ == "__main__":
    out = asyncio.run(main())
    (ROOT / "bench" / "results-console.json").write_text(json.dumps(out, indent=2, default=str))
    print(lines(out))
