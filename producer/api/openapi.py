"""The OpenAPI 3.1 document, generated from the pydantic models and the route table."""

from __future__ import annotations

from functools import cache
from typing import Any, get_args

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from producer.api import audit_models as log
from producer.api import destinations_models as d
from producer.api import directory_models as people
from producer.api import models as m
from producer.api import policy_models as rules
from producer.api import unsubscribes as leave
from shared.audit import ACTIONS
from shared.message import Trigger

_ERRORS = {
    "400": "Malformed JSON",
    "401": "Missing or bad token",
    "403": "Role may not write",
    "404": "Not found (or not visible)",
    "409": "Conflict",
    "410": "Deleted (restore it first)",
    "413": "Body over 64 KiB",
    "422": "Validation error",
    "429": "Too many manual runs; Retry-After says when to try again",
}


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _json(model: type[BaseModel], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(model)}}}


def _op(
    summary: str,
    ok: str,
    model: type[BaseModel] | None,
    *,
    body: type[BaseModel] | None = None,
    body_required: bool = True,
    params: list[dict[str, Any]] | None = None,
    errors: tuple[str, ...] = ("401", "404", "422"),
) -> dict[str, Any]:
    responses: dict[str, Any] = {ok: _json(model, summary) if model else {"description": summary}}
    for code in errors:
        responses[code] = _json(m.ErrorResponse, _ERRORS[code])
    # Any request can be malformed at the HTTP level (a request line over 8 KiB, say); the HTTP server answers
    # those in plain text before the application sees them.
    responses["400"] = _json(m.ErrorResponse, _ERRORS["400"])
    responses["400"]["content"]["text/plain"] = {"schema": {"type": "string"}}
    op: dict[str, Any] = {"summary": summary, "responses": responses, "security": [{"bearer": []}]}
    if body is not None:
        op["requestBody"] = {
            "required": body_required,
            "content": {"application/json": {"schema": _ref(body)}},
        }
        op["responses"]["413"] = _json(m.ErrorResponse, _ERRORS["413"])
    if params:
        op["parameters"] = params
    return op


def _path_id(name: str = "id") -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}


_PAGING = [
    {
        "name": "limit",
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "minimum": 1, "maximum": 100},
    },
    {"name": "cursor", "in": "query", "required": False, "schema": {"type": "string"}},
]
_ORG = {
    "name": "organization_id",
    "in": "query",
    "required": False,
    "schema": {"type": "string", "format": "uuid"},
}

# A case-insensitive part of the schedule's name.
_NAME = {"name": "name", "in": "query", "required": False, "schema": {"type": "string", "maxLength": 200}}


def _enum(name: str, values: tuple[str, ...]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": {"type": "string", "enum": list(values)}}


def _instant(name: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": {"type": "string", "format": "date-time"}}


def _changes_schedule(method: str, summary: str, body: type[BaseModel]) -> dict[str, Any]:
    """A route that changes one schedule and answers with it (410 once it is deleted)."""
    return {
        "parameters": [_path_id()],
        method: _op(summary, "200", m.ScheduleOut, body=body, errors=("401", "403", "404", "410", "422")),
    }


_IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "The same key and request within 24 hours gets the first answer, without doing it again",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
}


def _idempotent(paths: dict[str, Any]) -> None:
    """Every POST takes an Idempotency-Key: 409 while its first request is answered, 422 for another request."""
    for item in paths.values():
        op = item.get("post")
        if op is not None:
            op["parameters"] = [*op.get("parameters", []), _IDEMPOTENCY_KEY]
            op["responses"].setdefault("409", _json(m.ErrorResponse, _ERRORS["409"]))
            op["responses"].setdefault("422", _json(m.ErrorResponse, _ERRORS["422"]))


def _schedule_paths() -> dict[str, Any]:
    return {
        "/v1/schedules": {
            "post": _op(
                "Create a schedule",
                "201",
                m.ScheduleOut,
                body=m.ScheduleCreate,
                errors=("401", "403", "422"),
            ),
            "get": _op(
                "List schedules (deleted ones too with include_deleted=true)",
                "200",
                m.ScheduleList,
                params=[_ORG, _NAME, *_PAGING, _enum("include_deleted", ("true", "false"))],
                errors=("401", "404", "422"),
            ),
        },
        "/v1/schedules/{id}": {
            "parameters": [_path_id()],
            "get": _op(
                "Get a schedule (a deleted one too, with deleted_at)", "200", m.ScheduleOut, errors=("401", "404")
            ),
            "patch": _op(
                "Update a schedule",
                "200",
                m.ScheduleOut,
                body=m.ScheduleUpdate,
                errors=("401", "403", "404", "410", "422"),
            ),
            "delete": _op("Delete a schedule (kept, restorable)", "204", None, errors=("401", "403", "404", "410")),
        },
        "/v1/schedules/{id}/owner": _changes_schedule(
            "post", "Hand the schedule to another member (its failure notices go to them)", m.OwnerChange
        ),
        "/v1/schedules/{id}/restore": {
            "parameters": [_path_id()],
            "post": _op(
                "Restore a deleted schedule, paused", "200", m.ScheduleOut, errors=("401", "403", "404", "409")
            ),
        },
        "/v1/schedules/{id}/recipients": _changes_schedule("put", "Replace the recipients", m.RecipientsReplace),
    }


def _schedule_run_paths() -> dict[str, Any]:
    return {
        "/v1/schedules/{id}/run": {
            "parameters": [_path_id()],
            "post": _op(
                "Run now (test run)",
                "202",
                m.RunAccepted,
                body=m.RunRequest,
                body_required=False,
                errors=("401", "403", "404", "410", "422", "429"),
            ),
        },
        "/v1/schedules/{id}/runs": {
            "parameters": [_path_id()],
            "get": _op(
                "Run history, newest first",
                "200",
                m.RunList,
                params=_PAGING,
                errors=("401", "404", "422"),
            ),
        },
        "/v1/schedules/preview": {
            "post": _op(
                "Fire times of a schedule's timing fields, before saving (writes nothing)",
                "200",
                m.PreviewOut,
                body=m.PreviewRequest,
                errors=("401", "422"),
            ),
        },
        "/v1/timezones": {
            "get": _op(
                "The time zone names accepted, with their UTC offset now", "200", m.TimezoneList, errors=("401",)
            ),
        },
    }


def _run_paths() -> dict[str, Any]:
    return {
        "/v1/runs": {
            "get": _op(
                "The organization's runs across schedules, newest first",
                "200",
                m.OrganizationRunList,
                params=[
                    _ORG,
                    _enum("status", get_args(m.RunStatus)),
                    {**_ORG, "name": "schedule_id"},
                    _enum("trigger", get_args(Trigger)),
                    _instant("since"),
                    _instant("until"),
                    *_PAGING,
                ],
                errors=("401", "404", "422"),
            ),
        },
        "/v1/runs/{id}/resend": {
            "parameters": [_path_id()],
            "post": _op(
                "Resend a partial or failed run to the recipients it has not served",
                "202",
                m.RunAccepted,
                errors=("401", "403", "404", "409", "410"),
            ),
        },
        "/v1/schedules/{id}/stats": {
            "parameters": [_path_id()],
            "get": _op(
                "A schedule's figures over the last `days` days",
                "200",
                m.ScheduleStatsOut,
                params=[
                    {
                        "name": "days",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "integer", "minimum": 1, "maximum": 3650, "default": 30},
                    }
                ],
                errors=("401", "404", "422"),
            ),
        },
        "/v1/dead-letters": {
            "get": _op(
                "List dead letters",
                "200",
                m.DeadLetterList,
                params=[_ORG, *_PAGING],
                errors=("401", "404", "422"),
            ),
        },
        "/v1/dead-letters/{id}/replay": {
            "parameters": [_path_id()],
            "post": _op("Replay a dead letter", "202", m.RunAccepted, errors=("401", "403", "404", "409", "429")),
        },
    }


def _destination_paths() -> dict[str, Any]:
    return {
        "/v1/destinations": {
            "post": _op(
                "Add a Slack, SFTP or webhook destination to a schedule or organization (secrets write-only)",
                "201",
                d.DestinationOut,
                body=d.DestinationCreate,
                errors=("401", "403", "404", "409", "410", "422"),
            ),
            "get": _op(
                "List destinations (no secrets)",
                "200",
                d.DestinationList,
                params=[_ORG, {**_ORG, "name": "schedule_id"}],
            ),
        },
        "/v1/destinations/{id}": {
            "parameters": [_path_id()],
            "delete": _op("Remove a destination", "204", None, errors=("401", "403", "404")),
        },
        "/v1/integrations/slack": {
            "put": _op(
                "Set the organization's Slack bot token (write-only)",
                "200",
                d.CredentialOut,
                body=d.SlackCredentialReplace,
                errors=("401", "403", "404", "422"),
            ),
            "get": _op("Whether a Slack token is set", "200", d.CredentialOut, params=[{**_ORG, "required": True}]),
            "delete": _op(
                "Remove the Slack token",
                "204",
                None,
                params=[{**_ORG, "required": True}],
                errors=("401", "403", "404", "422"),
            ),
        },
    }


def _organization_paths() -> dict[str, Any]:
    return {
        "/v1/me": {
            "get": _op("Who is signed in, and their organizations and roles", "200", people.MeOut, errors=("401",))
        },
        "/v1/shared-links": {
            "get": _op(
                "An organization's active shared links", "200", people.LinkList, params=[{**_ORG, "required": True}]
            ),
        },
        "/v1/organizations/{id}/members": {
            "parameters": [_path_id()],
            "get": _op("An organization's members", "200", people.MemberList, errors=("401", "404")),
        },
        "/v1/audit": {
            "get": _op(
                "Who changed what, newest first (owners and admins)",
                "200",
                log.AuditList,
                params=[
                    _ORG,
                    {**_ORG, "name": "schedule_id"},
                    {
                        "name": "actor",
                        "in": "query",
                        "required": False,
                        "description": "A user id, or service",
                        "schema": {"type": "string", "maxLength": 64},
                    },
                    _enum("action", ACTIONS),
                    _instant("since"),
                    *_PAGING,
                ],
                errors=("401", "403", "404", "422"),
            ),
        },
        "/v1/organizations/{id}/policy": {
            "parameters": [_path_id()],
            "get": _op("Where reports may go (owners)", "200", rules.PolicyOut, errors=("401", "403", "404")),
            "put": _op("Replace the destination policy (owners)", "200", rules.PolicyOut, body=rules.PolicyReplace),
        },
        "/v1/schedules/{id}/unsubscribes/lift": {
            "parameters": [_path_id()],
            "post": _op(
                "Send to an address that unsubscribed again (owners; audited)",
                "204",
                None,
                body=leave.LiftRequest,
                errors=("401", "403", "404", "422"),
            ),
        },
    }


def _health_paths() -> dict[str, Any]:
    health = {"200": {"description": "OK"}, "503": {"description": "A dependency is failing"}}
    return {
        "/healthz": {"get": {"summary": "Liveness", "responses": {"200": {"description": "OK"}}}},
        "/readyz": {"get": {"summary": "Readiness", "responses": health}},
        "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {"200": {"description": "OK"}}}},
    }


def _schemas() -> dict[str, Any]:
    """Every model's schema: requests as they are validated, answers as they are written."""
    models = [
        m.ScheduleCreate,
        m.ScheduleUpdate,
        m.RecipientsReplace,
        m.RunRequest,
        m.ScheduleOut,
        m.ScheduleList,
        m.RunList,
        m.RunAccepted,
        m.DeadLetterList,
        m.ErrorResponse,
        d.DestinationCreate,
        d.DestinationOut,
        d.DestinationList,
        d.SlackCredentialReplace,
        d.CredentialOut,
        m.PreviewRequest,
        m.PreviewOut,
        m.TimezoneList,
        m.OrganizationRunList,
        m.ScheduleStatsOut,
        m.OwnerChange,
        people.MeOut,
        people.LinkList,
        people.MemberList,
        log.AuditList,
        rules.PolicyReplace,
        rules.PolicyOut,
        leave.LiftRequest,
    ]
    modes: list[tuple[Any, Any]] = [
        (
            model,
            "validation" if model.__name__.endswith(("Create", "Update", "Replace", "Request")) else "serialization",
        )
        for model in models
    ]
    _, schemas = models_json_schema(modes, ref_template="#/components/schemas/{model}")
    found: dict[str, Any] = schemas.get("$defs", {})
    return found


@cache
def document() -> dict[str, Any]:
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "Scheduled reports API",
            "version": "1.0.0",
            "description": "Schedules that export a shared link's videos (CSV, NDJSON or XLSX; up to three formats a "
            "run) and deliver them.",
        },
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
        "paths": {
            **_schedule_paths(),
            **_schedule_run_paths(),
            **_run_paths(),
            **_destination_paths(),
            **_organization_paths(),
            **_health_paths(),
        },
    }
    _idempotent(doc["paths"])
    return doc
