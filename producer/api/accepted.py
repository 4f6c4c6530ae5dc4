"""The answer to a request that queued a run (run-now, replay, resend): 202 with its id, and a warning while no
consumer reads the queue."""

from __future__ import annotations

from uuid import UUID

from aiohttp import web

from producer.api.keys import REDIS, SETTINGS
from producer.api.models import RunAccepted
from shared.health import json_response
from shared.queue import has_consumer, no_consumer_warning, queue_depth


async def accepted(request: web.Request, run_id: UUID) -> web.Response:
    queue = request.app[SETTINGS].queue_name
    redis = request.app[REDIS]
    warning = None
    if not await has_consumer(redis, queue):
        warning = no_consumer_warning(queue, await queue_depth(redis, queue)).removeprefix("warning: ")
    return json_response(RunAccepted(run_id=run_id, warning=warning).model_dump(mode="json"), status=202)
