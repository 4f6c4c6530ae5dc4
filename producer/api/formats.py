"""A schedule's formats: its main `format` first, then up to two more it is delivered in, from one snapshot.

Stored as `format` and `extra_formats` (sql/0021_formats.sql), so clients that know one format keep working.
"""

from __future__ import annotations

from collections.abc import Sequence

from producer.api.errors import validation

# Each format's file is named after the link, the date and its kind, so each kind is sent at most once. Beside
# other formats a zip keeps its kind's extension (weekly-2026-11-23.csv.zip), so several zips never collide.
MAX_FORMATS = 3
EXAMPLE = '["csv", "xlsx.zip"]'


def kind(name: str) -> str:
    return name.removesuffix(".zip")


def problem(formats: Sequence[str]) -> str | None:
    """What is wrong with a list of known formats, in words that say how to fix it; None when it is fine."""
    if not formats:
        return f"must list at least one format, e.g. {EXAMPLE}"
    if len(formats) > MAX_FORMATS:
        return f"must list at most {MAX_FORMATS} formats (the first is the main format), e.g. {EXAMPLE}"
    for index, name in enumerate(formats):
        twin = next((earlier for earlier in formats[:index] if kind(earlier) == kind(name)), None)
        if twin == name:
            return f"lists {name} twice; keep it once"
        if twin is not None:
            return f"lists {kind(name)} twice ({twin} and {name} are both {kind(name)}); keep one of them"
    return None


def requested(format_: str | None, formats: Sequence[str] | None) -> list[str] | None:
    """The formats a create or update asks for (None: it asks for none), `format` and `formats` agreeing."""
    if formats is None:
        return None if format_ is None else [format_]
    if format_ is not None and format_ != formats[0]:
        raise validation(
            "format",
            f"is {format_} but formats starts with {formats[0]}; send formats alone (its first entry is the main "
            "format), or put format first in it",
        )
    return list(formats)


def with_main(current: Sequence[str], format_: str) -> list[str]:
    """`format` alone in an update: the main format replaced, the others kept, when they still fit together."""
    formats = [format_, *current[1:]]
    trouble = problem(formats)
    if trouble is not None:
        raise validation(
            "formats",
            f"format {format_} with this schedule's other formats ({', '.join(current[1:])}): {trouble}; or send "
            f'formats with the whole list, e.g. ["{format_}"]',
        )
    return formats
