"""Subject and message templates: refused at create/update with a 422 naming the variable, rendered at send."""

from __future__ import annotations

from pathlib import Path

import pytest
from arq.connections import ArqRedis

from shared import templates
from shared.db import Pool
from shared.settings import Settings
from tests.support.api import Api, World, body
from tests.support.harness import Fakes, drain, point_at
from tests.support.reports import video
from tests.support.runs import fire, make


@pytest.mark.parametrize(
    ("template", "fragment"),
    [
        ("{{ nope }}", "unknown variable 'nope'"),
        ("{{ schedule_name.__class__ }}", "only plain variable names"),
        ("{{ rows[0] }}", "only plain variable names"),
        ("{{ rows() }}", "only plain variable names"),
        ("{{ rows", "unclosed"),
        ("x" * 201, "at most 200"),
    ],
)
async def test_bad_subject_templates_are_refused(api: Api, world: World, template: str, fragment: str) -> None:
    status, error = await api.call("POST", "/v1/schedules", body(world, subject_template=template))
    assert status == 422, error
    [detail] = error["error"]["details"]
    assert detail["field"] == "subject_template" and fragment in detail["message"], detail


async def test_patch_checks_and_clears_templates(api: Api, world: World) -> None:
    _, created = await api.call("POST", "/v1/schedules", body(world, message_template="Hi\n{{ rows }} rows"))
    assert created["message_template"] == "Hi\n{{ rows }} rows"
    status, error = await api.call("PATCH", f"/v1/schedules/{created['id']}", {"message_template": "{{ x.y }}"})
    assert status == 422 and error["error"]["details"][0]["field"] == "message_template"
    status, cleared = await api.call("PATCH", f"/v1/schedules/{created['id']}", {"message_template": None})
    assert status == 200 and cleared["message_template"] is None


def test_rendering_is_bounded() -> None:
    huge = {"schedule_name": "n" * 10_000}
    assert len(templates.render("subject_template", "{{ schedule_name }}" * 10, huge)) == 200
    assert templates.render("subject_template", "{{schedule_name}}!", {"schedule_name": "x"}) == "x!"


async def test_templates_reach_the_recipients(
    pool: Pool, redis: ArqRedis, settings: Settings, fx: Fakes, tmp_path: Path
) -> None:
    s = point_at(settings, fx)
    org, _ = await make(
        pool,
        chats=(31,),
        videos=0,
        subject_template="{{ schedule_name }}: {{ total_views }} views on {{ fire_date }}",
        message_template="Top: {{ top_title }} ({{ rows }} rows, file {{ file_name }})",
    )
    await video(pool, org, title="<b>Best</b>", stats=(77, 0, 0, 0))
    await fire(pool, redis, s)
    await drain(s, pool, redis, tmp_path)
    data = fx.loops.sent[0]["dataVariables"]
    assert data["subject"] == "Report: 77 views on 2026-11-16"
    assert data["message"].startswith("Top: <b>Best</b> (1 rows, file weekly-views-2026-11-16.csv)")
    [doc] = fx.telegram.documents(31)
    assert doc["caption"].startswith("<b>Report: 77 views on 2026-11-16</b>")
    assert "&lt;b&gt;Best&lt;/b&gt;" in doc["caption"]
