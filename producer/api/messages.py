"""Validation errors in words a person understands: the field, what it takes, an example; no library text."""

from __future__ import annotations

from typing import Any

from pydantic_core import ErrorDetails

# Fields checked by a pattern, by the name the caller used: what they take, said plainly.
_FORMS = {
    "scheduled_time": "must be HH:MM (24-hour), e.g. 09:30",
    "email": "must be an email address, e.g. team@example.com",
    "cron_expression": "must be a cron expression in printable ASCII, e.g. 0 9 * * 1",
    "slack_channel_id": "must be a Slack channel id: C, G or D then 2 to 20 capitals or digits, e.g. C0123456789",
    "host": "must be a host name or a bracketed IP address, e.g. sftp.example.com",
    "username": "may hold only letters, digits and . _ @ -",
}
_INSTANT = "must be an instant with a time zone, e.g. 2026-12-01T09:30:00Z"
_PLAIN = {
    "missing": "is required",
    "extra_forbidden": "is not a field of this request (names are case-sensitive); remove it",
    "int_type": 'must be a whole number, e.g. 3 (a JSON number, not "3")',
    "int_from_float": "must be a whole number, e.g. 3",
    "bool_type": 'must be true or false (a JSON boolean, not "true" or 1)',
    "string_type": 'must be a string, e.g. "text"',
    "float_type": "must be a number",
    "list_type": "must be a JSON array, e.g. [...]",
    "model_type": "must be a JSON object, e.g. {...}",
    "model_attributes_type": "must be a JSON object, e.g. {...}",
    "dict_type": "must be a JSON object, e.g. {...}",
    "uuid_type": "must be a UUID, e.g. 1b4e28ba-2fa1-11d2-883f-0016d3cca427",
    "uuid_parsing": "must be a UUID, e.g. 1b4e28ba-2fa1-11d2-883f-0016d3cca427",
    "datetime_type": _INSTANT,
    "datetime_parsing": _INSTANT,
    "datetime_from_date_parsing": _INSTANT,
    "timezone_aware": _INSTANT,
    "string_pattern_mismatch": "is not in the form this field takes",
    "union_tag_invalid": "names a kind this field does not take",
    "union_tag_not_found": "needs its kind (the channel field)",
    "json_invalid": "is not valid JSON",
}


def _units(error: ErrorDetails) -> str:
    return "character(s)" if isinstance(error.get("input"), str) else "item(s)"


def message(error: ErrorDetails) -> str:
    kind = error["type"]
    ctx: dict[str, Any] = dict(error.get("ctx") or {})
    names = [part for part in error["loc"] if isinstance(part, str)]
    if kind == "string_pattern_mismatch" and names and names[-1] in _FORMS:
        return _FORMS[names[-1]]
    if kind in ("value_error", "assertion_error") and "error" in ctx:
        return str(ctx["error"])
    if kind == "literal_error":
        return f"must be {ctx.get('expected', 'one of the listed values')}"
    if kind in ("too_short", "string_too_short"):
        return f"must have at least {ctx.get('min_length')} {_units(error)}"
    if kind in ("too_long", "string_too_long"):
        return f"must have at most {ctx.get('max_length')} {_units(error)}"
    bounds = {
        "greater_than_equal": ("at least", "ge"),
        "greater_than": ("more than", "gt"),
        "less_than_equal": ("at most", "le"),
        "less_than": ("less than", "lt"),
    }
    if kind in bounds:
        words, key = bounds[kind]
        return f"must be {words} {ctx.get(key)}"
    if kind in _PLAIN:
        return _PLAIN[kind]
    # Anything not foreseen still reads as a rule, not as the library's words.
    text = str(error["msg"]).removeprefix("Value error, ")
    return text.replace("Input should be", "must be").replace("Value should have", "must have")


def field(error: ErrorDetails) -> str:
    return ".".join(str(part) for part in error["loc"]) or "body"
