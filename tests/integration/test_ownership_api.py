"""POST /v1/schedules/{id}/owner: who may hand a schedule over, and to whom."""

from __future__ import annotations

from uuid import uuid4

from shared.db import Pool
from tests.support import seed
from tests.support.api import Api, World, body, token


async def test_owner_change_rules(api: Api, world: World, pool: Pool) -> None:
    _, created = await api.call("POST", "/v1/schedules", body(world))
    path = f"/v1/schedules/{created['id']}/owner"
    admin = await seed.user(pool, "admin@acme.example", world.org, "admin")

    status, handed = await api.call("POST", path, {"user_id": str(world.member)}, bearer=token(admin))
    assert status == 200 and handed["created_by"] == str(world.member)
    # A member may read but not hand it over, not even to themselves.
    status, error = await api.call("POST", path, {"user_id": str(world.member)}, bearer=token(world.member))
    assert status == 403 and error["error"]["code"] == "forbidden"
    for stranger in (world.other_owner, uuid4()):
        status, error = await api.call("POST", path, {"user_id": str(stranger)})
        assert status == 422 and error["error"]["details"] == [
            {"field": "user_id", "message": "is not a member of this schedule's organization"}
        ]
    assert (await api.call("POST", path, {"user_id": str(world.owner)}, bearer=token(world.other_owner)))[0] == 404
    status, error = await api.call("POST", path, {"user": str(world.owner)})
    assert status == 422 and error["error"]["details"][0]["field"] in ("user", "user_id")
    assert (await api.call("DELETE", f"/v1/schedules/{created['id']}"))[0] == 204
    assert (await api.call("POST", path, {"user_id": str(world.owner)}))[0] == 410
    assert await pool.fetchval("SELECT created_by FROM shared_report_schedules") == world.member
