"""The headline of a report, from one aggregate query beside the export, rendered for each channel."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from consumer.filters import Filters, build_where, period_bounds

TOP = 5
CAPTION_LIMIT = 1024
_TITLE_IN_CAPTION = 60
_FIGURES = ("views", "likes", "comments", "reposts")


@dataclass(frozen=True)
class Summary:
    rows: int
    totals: dict[str, int]
    top: list[tuple[str, int | None]] = field(default_factory=list)
    # Relative change of each total against the previous period of the same length, when there is a period.
    change: dict[str, float | None] | None = None

    def change_text(self, figure: str) -> str:
        if self.change is None or self.change.get(figure) is None:
            return ""
        value = self.change[figure]
        assert value is not None
        return f"{value:+.1%}"


def _shift(sql: str, by: int) -> str:
    return re.sub(r"\$(\d+)", lambda m: f"${int(m.group(1)) + by}", sql)


def summary_query(
    organization_id: UUID, filters: Filters, timezone: str, fire_at: datetime
) -> tuple[str, list[object], bool]:
    """One statement: totals and the top videos of the report's rows, and totals of the previous period."""
    current = build_where(organization_id, filters, timezone, fire_at)
    totals = ", ".join(f"coalesce(sum({f}), 0)::bigint AS {f}" for f in _FIGURES)
    params: list[object] = list(current.params)
    previous_sql = "NULL::json"
    start, end = period_bounds(filters.period, fire_at, ZoneInfo(timezone))
    if start is not None and end is not None:
        before = build_where(organization_id, filters.model_copy(update={"period": "all"}), timezone, fire_at)
        before.add("published_at >= {} AND published_at < {}", start - (end - start), start)
        fields = ", ".join(f"'{f}', coalesce(sum({f}), 0)" for f in _FIGURES)
        previous_sql = (
            f"(SELECT json_build_object({fields}) FROM videos_with_statistics_fast "
            f"WHERE {_shift(before.sql, len(params))})"
        )
        params += before.params
    sql = f"""
WITH r AS (SELECT id, title, {", ".join(_FIGURES)} FROM videos_with_statistics_fast WHERE {current.sql})
SELECT count(*) AS rows, {totals},
       (SELECT coalesce(json_agg(json_build_object('title', title, 'views', views)), '[]'::json)
        FROM (SELECT title, views FROM r ORDER BY views DESC NULLS LAST, id LIMIT {TOP}) t) AS top,
       {previous_sql} AS previous
FROM r
"""
    return sql, params, start is not None


async def summarize(conn: Any, organization_id: UUID, filters: Filters, timezone: str, fire_at: datetime) -> Summary:
    sql, params, has_period = summary_query(organization_id, filters, timezone, fire_at)
    row = await conn.fetchrow(sql, *params)
    totals = {f: int(row[f]) for f in _FIGURES}
    top = [(item["title"] or "(untitled)", item["views"]) for item in row["top"]]
    change = None
    if has_period and row["previous"] is not None:
        previous = row["previous"]
        change = {f: (totals[f] - previous[f]) / previous[f] if previous[f] else None for f in _FIGURES}
    return Summary(int(row["rows"]), totals, top, change)


def _number(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def text_lines(summary: Summary) -> list[str]:
    if summary.rows == 0:
        return ["No videos matched this report's filters for this period."]
    lines = [f"{summary.rows:,} videos."]
    for figure in _FIGURES:
        change = summary.change_text(figure)
        lines.append(f"{figure.capitalize()}: {summary.totals[figure]:,}" + (f" ({change})" if change else ""))
    if summary.top:
        lines.append("Top videos by views:")
        lines += [f"{i}. {title} - {_number(views)}" for i, (title, views) in enumerate(summary.top, 1)]
    return lines


def plain_text(summary: Summary) -> str:
    return "\n".join(text_lines(summary))


def html_table(summary: Summary) -> str:
    """A small HTML fragment for an email body; every value is escaped."""
    if summary.rows == 0:
        return f"<p>{html.escape(text_lines(summary)[0])}</p>"
    e = html.escape
    rows = "".join(
        f"<tr><td>{e(f.capitalize())}</td><td align='right'>{summary.totals[f]:,}</td>"
        f"<td align='right'>{e(summary.change_text(f))}</td></tr>"
        for f in _FIGURES
    )
    top = "".join(f"<li>{e(title)} ({_number(views)} views)</li>" for title, views in summary.top)
    return (
        f"<p><b>{summary.rows:,}</b> videos.</p>"
        f"<table border='0' cellpadding='4'><tr><th align='left'>Total</th><th>Value</th><th>Change</th></tr>"
        f"{rows}</table>" + (f"<p>Top videos by views:</p><ol>{top}</ol>" if top else "")
    )


def caption(headline: str, summary: Summary | None, note: str | None = None) -> str:
    """A Telegram caption in its HTML parse mode: escaped, and within Telegram's 1,024 characters."""
    e = html.escape
    parts = [f"<b>{e(headline)}</b>"] + ([f"<i>{e(note[:300])}</i>"] if note else [])
    if summary is not None:
        if summary.rows == 0:
            parts.append(e(text_lines(summary)[0]))
        else:
            figures = ", ".join(
                f"{f} {summary.totals[f]:,}" + (f" ({summary.change_text(f)})" if summary.change_text(f) else "")
                for f in _FIGURES
            )
            parts.append(e(f"{summary.rows:,} videos; {figures}"))
            for i, (title, views) in enumerate(summary.top, 1):
                short = title if len(title) <= _TITLE_IN_CAPTION else title[: _TITLE_IN_CAPTION - 1] + "…"
                line = f"{i}. {e(short)} - {_number(views)}"
                if sum(len(p) + 1 for p in parts) + len(line) > CAPTION_LIMIT:
                    break
                parts.append(line)
    text = "\n".join(parts)
    return text if len(text) <= CAPTION_LIMIT else f"<b>{e(headline[:200])}</b>"


def variables(summary: Summary) -> dict[str, object]:
    """Flat Loops data variables, so a template can use each figure directly."""
    data: dict[str, object] = {
        "summaryText": plain_text(summary),
        "totalViews": summary.totals["views"],
        "totalLikes": summary.totals["likes"],
        "totalComments": summary.totals["comments"],
        "totalReposts": summary.totals["reposts"],
        "viewsChange": summary.change_text("views"),
    }
    for i in range(1, TOP + 1):
        title, views = summary.top[i - 1] if i <= len(summary.top) else ("", None)
        data[f"top{i}Title"] = title
        data[f"top{i}Views"] = views if views is not None else ""
    return data


def slack_escape(text: str) -> str:
    """Slack's mrkdwn gives meaning to &, < and > only; everything else is shown as written."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_text(headline: str, summary: Summary | None, note: str | None = None) -> str:
    parts = [f"*{slack_escape(headline)}*"] + ([f"_{slack_escape(note[:300])}_"] if note else [])
    if summary is not None:
        parts += [slack_escape(line) for line in text_lines(summary)]
    return "\n".join(parts)[:3000]
