"""`python -m demo`: migrate a fresh database, seed demo data, run the real producer and consumer processes
against local Loops/Telegram fakes, and leave what was delivered in ./demo-output/."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shlex
import shutil
import signal
import socket
import sys
import textwrap
import time
from pathlib import Path
from uuid import uuid4

import jwt
import orjson

from demo.seed import destinations, seed
from devkit.databases import fresh_database
from devkit.embedded import services
from devkit.fakes.loops import FakeLoops
from devkit.fakes.sftp import SftpServer
from devkit.fakes.slack import FakeSlack
from devkit.fakes.telegram import FakeTelegram
from devkit.fakes.webhook import WebhookReceiver
from shared.db import pool_context
from shared.vault import Vault, new_key

DEMO_DB = "scheduled_reports_demo"
JWT_SECRET = "demo-secret-do-not-use-in-production"
DEMO_SLACK_TOKEN = "xoxb-demo-0000-not-a-real-token"
DEMO_WEBHOOK_SECRET = "whsec_ZGVtby13ZWJob29rLXNpZ25pbmcta2V5LTAwMDAwMDA="
DEMO_SFTP_PASSWORD = "demo-sftp-password"
DEAD_SCHEDULE = "Always Unavailable (dead letter)"
# What the command line tools need to work on the demo's data and queue.
CLI_SETTINGS = (
    "DATABASE_URL",
    "REDIS_URL",
    "QUEUE_NAME",
    "JWT_SECRET",
    "CREDENTIALS_KEYS",
    "LOOPS_API_URL",
    "LOOPS_API_KEY",
    "LOOPS_TRANSACTIONAL_ID",
    "TELEGRAM_API_URL",
    "TELEGRAM_BOT_TOKEN",
    "SLACK_API_URL",
    "OUTBOUND_ALLOW_PRIVATE",
    "LOG_FORMAT",
)
FINAL = ("sent", "partial", "failed", "skipped", "dead")


def _free_port(preferred: int) -> int:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", preferred))
        except OSError:
            s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _spawn(module: str, env: dict[str, str], log: Path) -> asyncio.subprocess.Process:
    handle = log.open("wb")
    return await asyncio.create_subprocess_exec(sys.executable, "-m", module, env=env, stdout=handle, stderr=handle)


async def _stop(proc: asyncio.subprocess.Process) -> int:
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), 30)
        except TimeoutError:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return proc.returncode


async def run(output: Path, serve: bool, videos: int) -> int:
    started = time.monotonic()
    shutil.rmtree(output, ignore_errors=True)
    output.mkdir(parents=True)
    with services() as urls:
        # A database of the demo's own, recreated each run, so a configured server's data is untouched.
        database_url = await fresh_database(urls.database_url, DEMO_DB)
        async with pool_context(database_url, max_size=4) as pool:
            data = await seed(pool, videos)
            loops = FakeLoops(api_key="demo-loops-key", save_dir=output / "loops")
            telegram = FakeTelegram(token="424242:DEMO", save_dir=output / "telegram")
            await loops.start()
            await telegram.start()
            slack = FakeSlack({DEMO_SLACK_TOKEN}, channels={"C0DEMOREPORTS"}, save_dir=output / "slack")
            receiver = WebhookReceiver(DEMO_WEBHOOK_SECRET, save_dir=output / "webhook")
            sftp = SftpServer(output / "sftp", password=DEMO_SFTP_PASSWORD)
            await slack.start()
            await receiver.start()
            sftp_port = await sftp.start()
            (output / "sftp" / "drop").mkdir(parents=True, exist_ok=True)
            # One endpoint that is always down: its run is retried, then dead-lettered, so replay can be tried.
            receiver.always["/unavailable"] = 503
            credentials_key = new_key()
            await destinations(
                pool,
                Vault([credentials_key]),
                data,
                slack_token=DEMO_SLACK_TOKEN,
                webhook_url=f"{receiver.url}/reports",
                webhook_secret=DEMO_WEBHOOK_SECRET,
                sftp={
                    "host": "127.0.0.1",
                    "port": sftp_port,
                    "username": "reports",
                    "directory": "drop",
                    "host_key": sftp.public_host_key,
                },
                sftp_password=DEMO_SFTP_PASSWORD,
                dead_url=f"{receiver.url}/unavailable",
                dead_name=DEAD_SCHEDULE,
            )
            print(f"seeded: organization 'Demo Co', {data.videos} videos, {len(data.schedule_ids)} schedules due now")
            producer_port = _free_port(8080)
            env = dict(os.environ)
            env.update(
                {
                    "DATABASE_URL": database_url,
                    "REDIS_URL": urls.redis_url,
                    "JWT_SECRET": JWT_SECRET,
                    "LOOPS_API_URL": loops.url,
                    "LOOPS_API_KEY": "demo-loops-key",
                    "LOOPS_TRANSACTIONAL_ID": "demo-report",
                    "TELEGRAM_API_URL": telegram.url,
                    "TELEGRAM_BOT_TOKEN": "424242:DEMO",
                    "SLACK_API_URL": slack.api_url,
                    "CREDENTIALS_KEYS": credentials_key,
                    # The demo's webhook receiver listens on this machine's loopback interface.
                    "OUTBOUND_ALLOW_PRIVATE": "true",
                    "QUEUE_NAME": f"demo:{uuid4().hex[:8]}",
                    "PRODUCER_HOST": "127.0.0.1",
                    "PRODUCER_PORT": str(producer_port),
                    "CONSUMER_HOST": "127.0.0.1",
                    "CONSUMER_PORT": str(_free_port(8081)),
                    "LOG_FORMAT": "text",
                    "SPOOL_DIR": str(output / ".spool"),
                    # Short retries, so the demo's dead letter appears within seconds.
                    "MAX_TRIES": "2",
                    "RETRY_BASE_SECONDS": "0.5",
                    "RETRY_CAP_SECONDS": "1",
                }
            )
            producer = await _spawn("producer", env, output / "producer.log")
            consumer = await _spawn("consumer", env, output / "consumer.log")
            try:
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline:
                    rows = await pool.fetch("SELECT status FROM shared_report_runs")
                    if len(rows) >= len(data.schedule_ids) and all(r["status"] in FINAL for r in rows):
                        break
                    if producer.returncode is not None or consumer.returncode is not None:
                        print("a process exited early; see demo-output/producer.log and consumer.log")
                        return 1
                    await asyncio.sleep(0.2)
                else:
                    print("runs did not finish within 120 s; see demo-output/*.log")
                    return 1
                runs = await pool.fetch(
                    "SELECT s.name, r.status, r.row_count, r.byte_count, r.filename, r.files, r.error, "
                    "extract(epoch FROM r.enqueued_at - r.fire_at) AS lag "
                    "FROM shared_report_runs r JOIN shared_report_schedules s ON s.id = r.schedule_id ORDER BY s.name"
                )
                notes = await pool.fetch(
                    "SELECT channel, recipient AS who, status FROM shared_report_notifications ORDER BY channel, who"
                )
                (output / "received.json").write_bytes(
                    orjson.dumps(
                        {
                            "loops": [
                                {k: v for k, v in r.items() if k != "attachments"}
                                | {
                                    "attachments": [
                                        {k: v for k, v in a.items() if k != "data"} for a in r.get("attachments", [])
                                    ]
                                }
                                for r in loops.received
                            ],
                            "telegram": [
                                {k: v for k, v in r.items() if k != "document"}
                                | {"document": {k: v for k, v in (r.get("document") or {}).items() if k != "data"}}
                                for r in telegram.received
                            ],
                        },
                        option=orjson.OPT_INDENT_2,
                    )
                )
                print(f"\n{len(runs)} schedule(s) fired:")
                for r in runs:
                    lag = f"enqueued {r['lag']:.2f} s after its due time"
                    if r["status"] != "sent":
                        print(f"  {r['name']:<34} {r['status']:<6} {r['error']} ({lag})")
                        continue
                    # Each file as delivered (one per format): a zipped schedule's attachment is the zip.
                    delivered = r["files"] or [{"filename": r["filename"]}]
                    described = []
                    for f in delivered:
                        saved = next((p for p in output.rglob(f"*{f['filename']}") if p.is_file()), None)
                        size = saved.stat().st_size if saved else f.get("bytes", 0)
                        described.append(f"{f['filename']} ({size:,} bytes)")
                    print(f"  {r['name']:<34} {r['status']:<6} {r['row_count']} rows, {', '.join(described)} ({lag})")
                print(f"\n{len(notes)} deliveries:")
                for n in notes:
                    print(f"  {n['channel']:<9} {n['who'][:60]:<60} {n['status']}")
                mail = next((r for r in loops.received if "summaryText" in r.get("dataVariables", {})), None)
                if mail is not None:
                    print(f"\nemail to {mail['email']}, summary as the template receives it (summaryText):")
                    print(textwrap.indent(mail["dataVariables"]["summaryText"], "  "))
                # The weekly album's caption (on its last document) when there is one, else the first caption.
                captions = [r for r in telegram.received if r.get("caption")]
                shown = next((r["caption"] for r in captions if r.get("media_group_id")), None) or next(
                    (r["caption"] for r in captions), None
                )
                if shown:
                    print("\nTelegram caption (HTML parse mode):")
                    print(textwrap.indent(shown, "  "))
                for share in slack.files():
                    names = ", ".join(f"{f['filename']} ({f['size']:,} bytes)" for f in share["files"])
                    print(f"\nSlack channel {share['channel_id']}: {names}, with this comment:")
                    print(textwrap.indent(share["initial_comment"], "  "))
                for hook in receiver.deliveries():
                    meta = hook.get("metadata", {})
                    parts = ", ".join(f"{f['filename']} ({f['size']:,} bytes)" for f in hook.get("files", []))
                    print(
                        f"\nwebhook {hook['path']}: signature verified, webhook-id {hook['id']}, {parts or 'no file'}, "
                        f"rows {meta.get('rows')}, sha256 {str(meta.get('sha256'))[:16]}..."
                    )
                for name, content in sftp.files("drop").items():
                    print(f"\nSFTP reports@127.0.0.1:{sftp_port} drop/: {name} ({len(content):,} bytes)")
                files = sorted(
                    p.relative_to(output.parent) for p in output.rglob("*") if p.is_file() and ".spool" not in p.parts
                )
                print("\nfiles in demo-output/:")
                for f in files:
                    print(f"  {f}")
                print(f"\ndone in {time.monotonic() - started:.1f} s")
                if serve:
                    token = jwt.encode(
                        {"sub": str(data.owner_id), "aud": "authenticated", "exp": int(time.time()) + 86_400},
                        JWT_SECRET,
                        algorithm="HS256",
                    )
                    dead = await pool.fetchval("SELECT id FROM shared_report_dead_letters ORDER BY failed_at LIMIT 1")
                    shared = {k: env[k] for k in CLI_SETTINGS}
                    lines = [f"export {k}={shlex.quote(v)}" for k, v in shared.items()]
                    lines += [
                        f"export B=http://127.0.0.1:{producer_port}",
                        f"export TOKEN={token}",
                        f"export ORG={data.organization_id}",
                        f"export LINK={data.shared_link_id}",
                        f"export SCHEDULE={data.schedule_ids[0]}",
                        f"export DEAD_LETTER_ID={dead}",
                    ]
                    (output / "env.sh").write_text("\n".join(lines) + "\n")
                    print(
                        f"\nConsole at http://127.0.0.1:{producer_port}/ : sign in by pasting this token (the owner's,"
                        " valid 24 h) into the Token field:\n"
                        f"  {token}\n"
                        "(also in demo-output/env.sh as TOKEN; the token is kept in that browser tab only)"
                    )
                    print(
                        f"\nAPI at http://127.0.0.1:{producer_port} (Ctrl+C or SIGTERM stops everything)\n"
                        "Paste these lines into another shell (also in demo-output/env.sh), then follow the README:\n"
                        + "\n".join(lines),
                        flush=True,
                    )
                    stop = asyncio.Event()
                    loop = asyncio.get_running_loop()
                    for sig in (signal.SIGINT, signal.SIGTERM):
                        loop.add_signal_handler(sig, stop.set)
                    await stop.wait()
                ok = all(r["status"] == "sent" or r["name"] == DEAD_SCHEDULE for r in runs)
                return 0 if ok else 1
            finally:
                codes = [await _stop(producer), await _stop(consumer)]
                await loops.stop()
                await telegram.stop()
                await slack.stop()
                await receiver.stop()
                await sftp.stop()
                shutil.rmtree(output / ".spool", ignore_errors=True)
                if any(codes):
                    print(f"warning: process exit codes {codes}; see demo-output/*.log")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m demo", description=__doc__)
    parser.add_argument("--output", type=Path, default=Path("demo-output"))
    parser.add_argument("--videos", type=int, default=10_000)
    parser.add_argument("--serve", action="store_true", help="keep the producer API running after delivery")
    args = parser.parse_args()
    # SIGTERM stops the demo like Ctrl-C: every process and embedded server it started is stopped first.
    signal.signal(signal.SIGTERM, _interrupt)
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(run(args.output.resolve(), args.serve, args.videos))
    return 130


if __name__ == "__main__":
    sys.exit(main())
