"""Unsubscribe links: Loops gets `unsubscribeUrl` per recipient, and the token resists forgery."""

from __future__ import annotations

import base64
from datetime import timedelta
from pathlib import Path
from uuid import uuid4

from arq.connections import ArqRedis
from pydantic import SecretStr

from producer.tick import tick
from producer.unsubscribe import Limiter
from shared import unsubscribe
from shared.db import Pool
from shared.settings import Settings
from tests.support.harness import Fakes, drain, point_at
from tests.support.runs import FIRE, fire, make, notes

SECRET = "unsubscribe-secret-for-tests-0123456789"


async def test_loops_gets_an_unsubscribe_url_per_recipient_and_skips_who_left(
    pool: Pool, redis: ArqRedis, settings: Settings, fx: Fakes, tmp_path: Path
) -> None:
    s = point_at(settings, fx, public_base_url="https://reports.example.com", unsubscribe_secret=SecretStr(SECRET))
    org, sched = await make(pool, emails=("a@example.com", "b@example.com"))
    await fire(pool, redis, s)
    await drain(s, pool, redis, tmp_path)
    urls = {r["email"]: r["dataVariables"]["unsubscribeUrl"] for r in fx.loops.sent}
    scope = unsubscribe.read(SECRET, urls["a@example.com"].rsplit("/", 1)[1])
    assert scope == unsubscribe.Scope(org, sched, unsubscribe.address_hash("A@Example.com"))
    assert (
        urls["a@example.com"].startswith("https://reports.example.com/u/")
        and urls["a@example.com"] != urls["b@example.com"]
    )
    # Organization-wide: the next fire skips that address, logged as unsubscribed.
    await unsubscribe.suppress(pool, scope, whole_organization=True)
    later = FIRE + timedelta(days=7)
    await pool.execute("UPDATE shared_report_schedules SET next_run_at = $1", later)
    before = len(fx.loops.sent)
    await tick(pool, redis, s, now=later)
    run_id = await pool.fetchval("SELECT id FROM shared_report_runs WHERE fire_at = $1", later)
    await drain(s, pool, redis, tmp_path)
    assert [r["email"] for r in fx.loops.sent[before:]] == ["b@example.com"]
    assert {n["recipient"]: n["status"] for n in await notes(pool, run_id)} == {
        "a@example.com": "unsubscribed",
        "b@example.com": "sent",
    }


def test_tokens_cannot_be_forged_or_altered() -> None:
    org, sched = uuid4(), uuid4()
    token = unsubscribe.token(SECRET, org, sched, "someone@example.com")
    assert unsubscribe.read(SECRET, token) == unsubscribe.Scope(
        org, sched, unsubscribe.address_hash("someone@example.com")
    )
    raw = bytearray(base64.urlsafe_b64decode(token + "=="))
    assert b"someone" not in raw
    for index in range(len(raw)):
        altered = bytearray(raw)
        altered[index] ^= 0x01
        assert unsubscribe.read(SECRET, base64.urlsafe_b64encode(altered).decode().rstrip("=")) is None
    assert unsubscribe.read("another-secret-0123456789-0123456789", token) is None
    for junk in ("", "x", token[:-4], token + "AAAA", "é" * 86, "A" * 500):
        assert unsubscribe.read(SECRET, junk) is None


def test_limiter_counts_a_sliding_minute_per_client() -> None:
    limiter = Limiter(2, max_clients=2)
    assert [limiter.allow("a", t) for t in (0, 1, 2)] == [True, True, False]
    assert limiter.allow("b", 2) and limiter.allow("a", 61)
    # Past max_clients the oldest client is forgotten, so memory stays bounded.
    limiter.allow("c", 62)
    assert set(limiter._seen) == {"a", "c"}
