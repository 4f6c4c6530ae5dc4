"""The command lines: one-off export, dry-run tick, dead-letter list and replay."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from arq.connections import ArqRedis

from consumer.export import export_to_file
from consumer.filters import parse_filters
from shared.db import Pool
from shared.settings import Settings
from tests.support import seed
from tests.support.databases import DatabaseFactory
from tests.support.processes import env_for, run_module
from tests.support.reports import video


async def test_export_cli_writes_the_same_bytes_as_a_run(pool: Pool, settings: Settings, tmp_path: Path) -> None:
    org = await seed.organization(pool)
    await seed.shared_link(pool, org, slug="cli-link", filters={"platforms": ["tiktok"]})
    await video(pool, org, title='a "b", c', published="2026-11-20T23:30Z")
    await video(pool, org, title="other", platform="youtube")
    out = tmp_path / "cli.csv"
    code, text = await run_module(
        "consumer",
        "export",
        "--shared-link",
        "cli-link",
        "--out",
        str(out),
        "--timezone",
        "America/New_York",
        "--as-of",
        "2026-11-23T06:00:00Z",
        env=env_for(settings),
    )
    assert code == 0, text
    assert "wrote 1 rows" in text
    expected = tmp_path / "expected.csv"
    async with pool.acquire() as conn:
        await export_to_file(
            conn,
            org,
            parse_filters({"platforms": ["tiktok"]}),
            "America/New_York",
            datetime(2026, 11, 23, 6, tzinfo=UTC),
            expected,
        )
    assert out.read_bytes() == expected.read_bytes()

    code, text = await run_module(
        "consumer", "export", "--shared-link", "nope", "--out", str(out), env=env_for(settings)
    )
    assert code == 2 and "--shared-link: no shared link" in text
    code, text = await run_module(
        "consumer",
        "export",
        "--shared-link",
        "cli-link",
        "--out",
        str(out),
        "--as-of",
        "yesterday",
        env=env_for(settings),
    )
    assert code == 2 and "--as-of" in text


async def test_dry_run_tick_prints_and_changes_nothing(pool: Pool, settings: Settings) -> None:
    org = await seed.organization(pool)
    link = await seed.shared_link(pool, org)
    sched = await seed.schedule(pool, org, link, next_run_at=datetime(2026, 1, 1, 9, tzinfo=UTC))
    await seed.recipient(pool, sched, email="a@example.com")
    code, text = await run_module("producer", "tick", "--once", "--dry-run", env=env_for(settings))
    assert code == 0, text
    assert "1 schedule(s) due; nothing was changed" in text
    assert f"would enqueue shared_report:{sched}:" in text and "to 1 recipient(s)" in text
    assert await pool.fetchval("SELECT count(*) FROM shared_report_runs") == 0


async def test_dead_letter_cli_lists_and_replays(pool: Pool, redis: ArqRedis, settings: Settings) -> None:
    code, text = await run_module("consumer", "dead-letters", "list", env=env_for(settings))
    assert code == 0 and "no dead letters" in text
    await pool.execute(
        "INSERT INTO shared_report_dead_letters (job_id, payload, error) "
        "VALUES ('bad', '{\"v\": 9}', 'invalid shared_report message')"
    )
    code, text = await run_module("consumer", "dead-letters", "list", env=env_for(settings))
    assert code == 0 and "invalid shared_report message" in text
    code, text = await run_module("consumer", "dead-letters", "replay", "--all", env=env_for(settings))
    assert code == 1 and "not replayed" in text and "not valid" in text
    code, text = await run_module("consumer", "dead-letters", "replay", "--id", "x", env=env_for(settings))
    assert code == 2 and "--id" in text


async def test_missing_settings_stop_with_the_variable_name(settings: Settings) -> None:
    env = env_for(settings)
    del env["JWT_SECRET"]
    code, text = await run_module("producer", env=env)
    assert code == 2 and "JWT_SECRET" in text
    env = env_for(settings)
    del env["LOOPS_API_KEY"]
    code, text = await run_module("consumer", env=env)
    assert code == 2 and "LOOPS_API_KEY" in text


async def test_a_url_setting_without_scheme_stops_the_consumer_without_leaking_the_token(settings: Settings) -> None:
    env = env_for(settings, TELEGRAM_API_URL="api.telegram.org", TELEGRAM_BOT_TOKEN="123456:SECRET-token")
    code, text = await run_module("consumer", env=env)
    assert code == 2 and "TELEGRAM_API_URL" in text and "SECRET-token" not in text
    assert len(text.strip().splitlines()) == 1


async def test_check_command_reports_each_invariant(pool: Pool, redis: ArqRedis, settings: Settings) -> None:
    code, text = await run_module("producer", "check", env=env_for(settings))
    assert code == 0, text
    for check in ("runs_stuck", "runs_overdue", "schedules_overdue", "queued_without_job", "dead_letters_unreplayed"):
        assert f"ok   {check}: 0" in text
    await pool.execute("INSERT INTO shared_report_dead_letters (job_id, payload, error) VALUES ('bad', '{}', 'broken')")
    code, text = await run_module("producer", "check", env=env_for(settings))
    assert code == 1 and "FAIL dead_letters_unreplayed: 1" in text and "fix:" in text


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DATABASE_URL", "postgresql://postgres@127.0.0.1:99999/reports"),
        ("DATABASE_URL", "postgresql://postgres@127.0.0.1:port/reports"),
        ("REDIS_URL", "localhost:6379"),
        ("LOG_LEVEL", "LOUD"),
        ("TICK_SECONDS", "-1"),
    ],
)
@pytest.mark.parametrize("module", ["producer", "consumer"])
async def test_config_mistakes_stop_with_one_line_and_exit_2(
    settings: Settings, module: str, name: str, value: str
) -> None:
    code, text = await run_module(module, env=env_for(settings, **{name: value}))
    lines = text.strip().splitlines()
    assert code == 2 and len(lines) == 1 and name in lines[0] and "Traceback" not in text, text


@pytest.mark.parametrize(
    "command",
    [
        ("producer",),
        ("producer", "tick", "--once"),
        ("producer", "check"),
        ("consumer",),
        ("consumer", "export", "--shared-link", "x", "--out", "/tmp/never.csv"),
        ("consumer", "dead-letters", "list"),
        ("consumer", "dead-letters", "replay", "--all"),
    ],
)
async def test_every_entry_point_refuses_an_unmigrated_database(
    settings: Settings, db_factory: DatabaseFactory, command: tuple[str, ...]
) -> None:
    name, url = await db_factory.create_empty()
    try:
        code, text = await run_module(command[0], *command[1:], env=env_for(settings, DATABASE_URL=url))
    finally:
        await db_factory.drop(name)
    assert code == 2 and "run `python -m producer migrate`" in text and "Traceback" not in text, text
    assert len(text.strip().splitlines()) == 1


async def test_credentials_rotate_to_the_new_key_and_old_keys_can_go(pool: Pool, settings: Settings) -> None:
    from shared.vault import Vault, new_key

    old, new, lost = new_key(), new_key(), new_key()
    org = await seed.organization(pool)
    await seed.channel_credential(pool, Vault([old]), org, "slack", "xoxb-rotate-me-0001")
    await seed.destination(pool, Vault([old]), org, None, "webhook", "https://a.example/h", {}, "whsec_one-secret")
    await seed.destination(pool, Vault([lost]), org, None, "webhook", "https://b.example/h", {}, "whsec_two-secret")
    code, text = await run_module(
        "producer", "rotate-credentials", env=env_for(settings, CREDENTIALS_KEYS=f"{new},{old}")
    )
    # The credential under a key no longer configured is reported, not destroyed.
    assert code == 1 and "re-encrypted 2 credential(s)" in text and "1 opened with no configured key" in text, text
    only_new = Vault([new])
    tokens = [r["secret"] for r in await pool.fetch("SELECT secret FROM shared_report_channel_credentials")]
    tokens += [
        r["secret"] for r in await pool.fetch("SELECT secret FROM shared_report_destinations WHERE target LIKE '%a.%'")
    ]
    assert sorted(only_new.decrypt(t) for t in tokens) == ["whsec_one-secret", "xoxb-rotate-me-0001"]
    assert "rotate-me" not in text and "one-secret" not in text
    code, text = await run_module("producer", "new-key", env=env_for(settings))
    assert code == 0 and Vault.parse(text.strip())


async def test_a_bad_credentials_key_stops_the_process_naming_it(settings: Settings) -> None:
    code, text = await run_module("consumer", env=env_for(settings, CREDENTIALS_KEYS="not-a-fernet-key"))
    assert code == 2 and "CREDENTIALS_KEYS" in text and "not-a-fernet-key" not in text, text
    assert len(text.strip().splitlines()) == 1


async def test_a_tick_onto_a_queue_nobody_reads_says_so(pool: Pool, redis: ArqRedis, settings: Settings) -> None:
    org = await seed.organization(pool)
    link = await seed.shared_link(pool, org)
    sched = await seed.schedule(pool, org, link, next_run_at=datetime(2026, 1, 1, 9, tzinfo=UTC))
    await seed.recipient(pool, sched, email="a@example.com")
    env = env_for(settings, QUEUE_NAME="nobody:reads:this")
    code, text = await run_module("producer", "tick", "--once", env=env)
    assert code == 0 and "no consumer is reading queue 'nobody:reads:this'; 1 job(s) wait there" in text, text
    code, text = await run_module("producer", "check", env=env)
    assert code == 1 and "FAIL queue_without_consumer: 1 jobs on queue 'nobody:reads:this'" in text, text
    # A consumer's health key (written every 5 s) makes both quiet.
    await redis.set("nobody:reads:this:health-check", b"alive", px=6000)
    code, text = await run_module("producer", "check", env=env)
    assert "ok   queue_without_consumer: 0" in text, text
