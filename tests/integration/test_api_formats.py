"""A schedule's formats through the API: the main `format` and up to two more, and the files a run delivered."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest

from shared.db import Pool
from tests.support.api import Api, World, body

ACCEPTED = "must be 'csv', 'csv.zip', 'ndjson', 'ndjson.zip', 'xlsx' or 'xlsx.zip'"


def detail(error: dict[str, Any]) -> tuple[str, str]:
    first = error["error"]["details"][0]
    return first["field"], first["message"]


async def test_create_with_formats_reads_back_everywhere(api: Api, world: World) -> None:
    status, created = await api.call("POST", "/v1/schedules", body(world, formats=["xlsx", "csv.zip", "ndjson"]))
    assert status == 201, created
    assert created["formats"] == ["xlsx", "csv.zip", "ndjson"] and created["format"] == "xlsx"
    status, got = await api.call("GET", f"/v1/schedules/{created['id']}")
    assert status == 200 and got["formats"] == ["xlsx", "csv.zip", "ndjson"] and got["format"] == "xlsx"
    status, page = await api.call("GET", f"/v1/schedules?organization_id={world.org}")
    assert status == 200 and page["items"][0]["formats"] == ["xlsx", "csv.zip", "ndjson"]


@pytest.mark.parametrize(
    ("given", "formats"),
    [
        ({}, ["csv"]),
        ({"format": "ndjson.zip"}, ["ndjson.zip"]),
        ({"format": "xlsx", "formats": ["xlsx", "csv"]}, ["xlsx", "csv"]),
        ({"format": None, "formats": None}, ["csv"]),
    ],
)
async def test_format_alone_still_works(api: Api, world: World, given: dict[str, Any], formats: list[str]) -> None:
    status, created = await api.call("POST", "/v1/schedules", body(world, **given))
    assert status == 201, created
    assert created["formats"] == formats and created["format"] == formats[0]


async def test_update_formats_and_format_alone(api: Api, world: World, pool: Pool) -> None:
    _, created = await api.call("POST", "/v1/schedules", body(world, format="csv"))
    path = f"/v1/schedules/{created['id']}"

    status, patched = await api.call("PATCH", path, {"formats": ["csv", "xlsx.zip"]})
    assert status == 200, patched
    assert patched["formats"] == ["csv", "xlsx.zip"] and patched["format"] == "csv"
    # format alone replaces the main format and keeps the others.
    status, patched = await api.call("PATCH", path, {"format": "ndjson"})
    assert status == 200 and patched["formats"] == ["ndjson", "xlsx.zip"], patched
    # null, like an absent field, leaves them as they are.
    status, patched = await api.call("PATCH", path, {"formats": None, "name": "Renamed"})
    assert status == 200 and patched["formats"] == ["ndjson", "xlsx.zip"], patched
    status, patched = await api.call("PATCH", path, {"formats": ["csv"]})
    assert status == 200 and patched["formats"] == ["csv"] and patched["format"] == "csv"
    stored = await pool.fetchrow(
        "SELECT format, extra_formats FROM shared_report_schedules WHERE id = $1", UUID(created["id"])
    )
    assert (stored["format"], stored["extra_formats"]) == ("csv", [])

    status, audit = await api.call("GET", f"/v1/audit?schedule_id={created['id']}&action=schedule.update")
    assert status == 200, audit
    assert audit["items"][0]["changes"]["formats"] == {"before": ["ndjson", "xlsx.zip"], "after": ["csv"]}


@pytest.mark.parametrize(
    ("given", "field", "message"),
    [
        ({"formats": ["csv", "pdf"]}, "formats.1", ACCEPTED),
        (
            {"formats": ["csv", "csv.zip"]},
            "formats",
            "lists csv twice (csv and csv.zip are both csv); keep one of them",
        ),
        ({"formats": ["xlsx", "xlsx"]}, "formats", "lists xlsx twice; keep it once"),
        ({"formats": []}, "formats", 'must list at least one format, e.g. ["csv", "xlsx.zip"]'),
        (
            {"formats": ["csv", "ndjson", "xlsx", "csv.zip"]},
            "formats",
            'must list at most 3 formats (the first is the main format), e.g. ["csv", "xlsx.zip"]',
        ),
        (
            {"format": "xlsx", "formats": ["csv", "xlsx"]},
            "format",
            "is xlsx but formats starts with csv; send formats alone (its first entry is the main format), "
            "or put format first in it",
        ),
        ({"formats": "csv"}, "formats", "must be a JSON array, e.g. [...]"),
    ],
)
async def test_each_refusal_names_the_field_and_the_fix(
    api: Api, world: World, pool: Pool, given: dict[str, Any], field: str, message: str
) -> None:
    status, error = await api.call("POST", "/v1/schedules", body(world, **given))
    assert status == 422, error
    assert detail(error) == (field, message)
    assert error["error"]["message"] == f"{field}: {message}"

    _, created = await api.call("POST", "/v1/schedules", body(world, formats=["ndjson"]))
    status, error = await api.call("PATCH", f"/v1/schedules/{created['id']}", given)
    assert status == 422 and detail(error) == (field, message), error
    status, got = await api.call("GET", f"/v1/schedules/{created['id']}")
    assert got["formats"] == ["ndjson"]
    assert await pool.fetchval("SELECT count(*) FROM shared_report_schedules") == 1


async def test_format_alone_that_clashes_with_the_others_is_refused(api: Api, world: World) -> None:
    _, created = await api.call("POST", "/v1/schedules", body(world, formats=["csv", "xlsx.zip"]))
    path = f"/v1/schedules/{created['id']}"
    for new, trouble in (
        ("xlsx", "lists xlsx twice (xlsx and xlsx.zip are both xlsx); keep one of them"),
        ("xlsx.zip", "lists xlsx.zip twice; keep it once"),
    ):
        status, error = await api.call("PATCH", path, {"format": new})
        assert status == 422, error
        assert detail(error) == (
            "formats",
            f"format {new} with this schedule's other formats (xlsx.zip): {trouble}; "
            f'or send formats with the whole list, e.g. ["{new}"]',
        )
    status, patched = await api.call("PATCH", path, {"format": "xlsx", "formats": ["xlsx"]})
    assert status == 200 and patched["formats"] == ["xlsx"], patched


async def test_every_format_may_go_zipped(api: Api, world: World) -> None:
    # Beside other formats each zip is named after its kind (weekly.csv.zip, weekly.xlsx.zip): no two collide.
    status, created = await api.call("POST", "/v1/schedules", body(world, formats=["csv.zip", "xlsx.zip"]))
    assert status == 201 and created["formats"] == ["csv.zip", "xlsx.zip"], created
    status, patched = await api.call("PATCH", f"/v1/schedules/{created['id']}", {"format": "ndjson.zip"})
    assert status == 200 and patched["formats"] == ["ndjson.zip", "xlsx.zip"], patched


async def test_runs_carry_their_files(api: Api, world: World, pool: Pool) -> None:
    _, created = await api.call("POST", "/v1/schedules", body(world, formats=["csv", "xlsx"]))
    sid = UUID(created["id"])
    files = [
        {"format": "csv", "filename": "acme-weekly-2026-12-03.csv", "bytes": 993, "sha256": "ab" * 32},
        {"format": "xlsx", "filename": "acme-weekly-2026-12-03.xlsx", "bytes": 2048, "sha256": "cd" * 32},
    ]
    await pool.execute(
        "INSERT INTO shared_report_runs (schedule_id, fire_at, trigger, status, created_at, finished_at, files)"
        " VALUES ($1, now() - interval '1 hour', 'cron', 'sent', now() - interval '1 hour', now(), $2),"
        " ($1, now() - interval '2 hours', 'cron', 'sent', now() - interval '2 hours', now() - interval '1 hour', NULL)",
        sid,
        files,
    )
    status, history = await api.call("GET", f"/v1/schedules/{sid}/runs")
    assert status == 200, history
    assert [r["files"] for r in history["items"]] == [files, None]
    status, runs = await api.call("GET", f"/v1/runs?organization_id={world.org}")
    assert status == 200 and [r["files"] for r in runs["items"]] == [files, None], runs
    status, stats = await api.call("GET", f"/v1/schedules/{sid}/stats")
    assert status == 200 and stats["last_run"]["files"] == files, stats
