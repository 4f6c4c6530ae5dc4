"""Subject and message templates: `{{ name }}` placeholders and nothing else.

No expressions, attribute access, filters or loops exist in this language, so a template cannot reach
beyond its variables or run away; output is bounded by the template's length plus bounded values.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from shared.errors import FieldIssue, InvalidInput

VARIABLES = {
    "schedule_name": "the schedule's name",
    "period": "the link's period filter (e.g. last_7_days, all)",
    "fire_date": "the fire date in the schedule's time zone, YYYY-MM-DD",
    "rows": "number of rows in the report",
    "total_views": "sum of views",
    "total_likes": "sum of likes",
    "total_comments": "sum of comments",
    "total_reposts": "sum of reposts",
    "views_change": "change of views against the previous period, e.g. +12.5% (empty without a period)",
    "top_title": "title of the most viewed video",
    "file_name": "the attached file's name",
}
LIMITS = {"subject_template": 200, "message_template": 2000}
VALUE_LIMIT = 200
_PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
# Whatever could end a header line or hide in one: controls (CR, LF, NEL among them) and Unicode line and
# paragraph separators, which some mail stacks treat as line ends.
_BREAKS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
# Fields that become a header (an email subject): their rendered text is folded onto one line.
ONE_LINE = frozenset({"subject_template"})
_NAME = re.compile(r"^[a-z_]+$")


def check(field: str, template: str) -> None:
    """Reject at create/update time, naming the variable and the fix, so rendering never fails at send time."""
    for match in _PLACEHOLDER.finditer(template):
        name = match.group(1)
        if "." in name or "[" in name or "(" in name:
            raise InvalidInput(FieldIssue(field, f"'{{{{ {name} }}}}': only plain variable names are allowed"))
        if not _NAME.match(name) or name not in VARIABLES:
            known = ", ".join(sorted(VARIABLES))
            raise InvalidInput(FieldIssue(field, f"unknown variable '{name}'; use one of: {known}"))
    stray = _PLACEHOLDER.sub("", template)
    if "{{" in stray or "}}" in stray:
        raise InvalidInput(FieldIssue(field, "has an unclosed '{{' or a stray '}}'"))


def render(field: str, template: str, values: Mapping[str, object]) -> str:
    """Substitute checked variables; each value is cut to VALUE_LIMIT and the result to the field's limit."""

    def value(match: re.Match[str]) -> str:
        return str(values.get(match.group(1), ""))[:VALUE_LIMIT]

    text = _PLACEHOLDER.sub(value, template)
    return (one_line(text) if field in ONE_LINE else text)[: LIMITS[field]]


def one_line(text: str) -> str:
    """Text fit for a header value: every run of line breaks and control characters becomes one space."""
    return _BREAKS.sub(" ", text)
