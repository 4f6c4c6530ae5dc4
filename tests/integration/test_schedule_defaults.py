"""The schedules service's defaults are the table's: a row written without the API gets what the API gives."""

from __future__ import annotations

from datetime import UTC, datetime

from producer.api.schedules import DEFAULTS
from shared.db import Pool
from tests.support import seed
from tests.support.api import Api, World


async def test_each_default_is_the_columns_default(pool: Pool) -> None:
    org = await seed.organization(pool)
    link = await seed.shared_link(pool, org)
    schedule_id = await seed.schedule(pool, org, link, next_run_at=datetime.now(UTC))
    row = await pool.fetchrow("SELECT * FROM shared_report_schedules WHERE id = $1", schedule_id)
    assert {name: row[name] for name in DEFAULTS} == DEFAULTS


async def test_a_schedule_created_with_no_options_has_the_defaults(api: Api, world: World) -> None:
    status, created = await api.call(
        "POST", "/v1/schedules", {"shared_link_id": str(world.link), "cron_expression": "0 9 * * 1"}
    )
    assert status == 201, created
    assert {name: created[name] for name in DEFAULTS if name != "extra_formats"} == {
        name: value for name, value in DEFAULTS.items() if name != "extra_formats"
    }
    assert created["formats"] == [DEFAULTS["format"], *DEFAULTS["extra_formats"]]
