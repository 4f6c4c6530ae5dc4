"""Every SQL statement of the API. Those with many parameters name them (shared/sqlbind.py)."""

from __future__ import annotations

from typing import Any

from shared.sqlbind import Named

SCHEDULE_COLUMNS = """
id, organization_id, shared_link_id, created_by, name, cadence, scheduled_time, day_of_week, day_of_month,
cron_expression, timezone, send_email, send_telegram, format, misfire_policy, misfire_grace_seconds,
jitter_seconds, skip_if_empty, min_rows, only_if_changed, require_fresh_within_seconds, fresh_wait_max_seconds,
stale_action, subject_template, message_template, channels, enabled, next_run_at, last_run_at, last_run_status,
created_at, updated_at, csv_formula_guard, deleted_at, starts_at, ends_at, notify_on_failure, extra_formats
"""

LINK = "SELECT id, organization_id, title FROM shared_links WHERE id = $1 AND revoked_at IS NULL"

# Who is signed in, and what they may see: the console's directory (producer/api/directory.py).
USER = "SELECT id, email, full_name FROM users WHERE id = $1"

MY_ORGANIZATIONS = """
SELECT o.id, o.name, m.role FROM organization_members m JOIN organizations o ON o.id = m.organization_id
WHERE m.user_id = $1 ORDER BY o.name, o.id
"""

ALL_ORGANIZATIONS = "SELECT id, name, 'service' AS role FROM organizations ORDER BY name, id LIMIT $1"

ORGANIZATION_LINKS = """
SELECT id, organization_id, title, slug FROM shared_links
WHERE organization_id = $1 AND revoked_at IS NULL ORDER BY title, id LIMIT $2
"""

ORGANIZATION_MEMBERS = """
SELECT u.id AS user_id, u.email, u.full_name, m.role FROM organization_members m JOIN users u ON u.id = m.user_id
WHERE m.organization_id = $1 ORDER BY u.email LIMIT $2
"""

# Deleted schedules too: their settings and history stay readable until retention removes them.
SCHEDULE = f"SELECT {SCHEDULE_COLUMNS} FROM shared_report_schedules WHERE id = $1"

SCHEDULE_FOR_UPDATE = SCHEDULE + " FOR UPDATE"

LIST_SCHEDULES = Named(f"""
SELECT {SCHEDULE_COLUMNS} FROM shared_report_schedules
WHERE (:include_deleted::boolean OR deleted_at IS NULL)
  AND (:organizations::uuid[] IS NULL OR organization_id = ANY(:organizations::uuid[]))
  AND (:after_at::timestamptz IS NULL OR (created_at, id) > (:after_at::timestamptz, :after_id::uuid))
  AND (:name::text IS NULL OR strpos(lower(name), lower(:name::text)) > 0)
ORDER BY created_at, id
LIMIT :limit
""")

RECIPIENTS = """
SELECT r.id, r.schedule_id, r.channel, r.user_id, r.email, r.telegram_chat_id,
       (SELECT min(x.created_at) FROM shared_report_unsubscribes x
        WHERE r.channel = 'email' AND x.organization_id = s.organization_id
          AND (x.schedule_id IS NULL OR x.schedule_id = r.schedule_id)
          AND x.address_sha256 = sha256(convert_to(lower(coalesce(r.email, u.email)), 'UTF8'))) AS unsubscribed_at
FROM shared_report_schedule_recipients r
JOIN shared_report_schedules s ON s.id = r.schedule_id
LEFT JOIN users u ON u.id = r.user_id
WHERE r.schedule_id = ANY($1::uuid[]) ORDER BY r.channel, r.target
"""

MEMBERS = """
SELECT user_id FROM organization_members WHERE organization_id = $1 AND user_id = ANY($2::uuid[])
"""

INSERT_SCHEDULE = Named(f"""
INSERT INTO shared_report_schedules (organization_id, shared_link_id, created_by, name, cadence, scheduled_time,
    day_of_week, day_of_month, cron_expression, timezone, send_email, send_telegram, format, extra_formats,
    misfire_policy, misfire_grace_seconds, jitter_seconds, skip_if_empty, enabled, next_run_at, min_rows,
    only_if_changed, require_fresh_within_seconds, fresh_wait_max_seconds, stale_action, subject_template,
    message_template, channels, csv_formula_guard, starts_at, ends_at, notify_on_failure)
VALUES (:organization_id, :shared_link_id, :created_by, :name, :cadence, :scheduled_time,
    :day_of_week, :day_of_month, :cron_expression, :timezone, :send_email, :send_telegram, :format, :extra_formats,
    :misfire_policy, :misfire_grace_seconds, :jitter_seconds, :skip_if_empty, :enabled, :next_run_at, :min_rows,
    :only_if_changed, :require_fresh_within_seconds, :fresh_wait_max_seconds, :stale_action, :subject_template,
    :message_template, :channels, :csv_formula_guard, :starts_at, :ends_at, :notify_on_failure)
RETURNING {SCHEDULE_COLUMNS}
""")

UPDATE_SCHEDULE = Named(f"""
UPDATE shared_report_schedules SET shared_link_id = :shared_link_id, name = :name, cadence = :cadence,
    scheduled_time = :scheduled_time, day_of_week = :day_of_week, day_of_month = :day_of_month,
    cron_expression = :cron_expression, timezone = :timezone, send_email = :send_email,
    send_telegram = :send_telegram, format = :format, extra_formats = :extra_formats,
    misfire_policy = :misfire_policy, misfire_grace_seconds = :misfire_grace_seconds,
    jitter_seconds = :jitter_seconds, skip_if_empty = :skip_if_empty, enabled = :enabled,
    next_run_at = :next_run_at, min_rows = :min_rows, only_if_changed = :only_if_changed,
    require_fresh_within_seconds = :require_fresh_within_seconds, fresh_wait_max_seconds = :fresh_wait_max_seconds,
    stale_action = :stale_action, subject_template = :subject_template, message_template = :message_template,
    channels = :channels, csv_formula_guard = :csv_formula_guard, starts_at = :starts_at, ends_at = :ends_at,
    notify_on_failure = :notify_on_failure, updated_at = now()
WHERE id = :id
RETURNING {SCHEDULE_COLUMNS}
""")

# A change to what hangs off a schedule (its recipients) is a change of the schedule.
TOUCH_SCHEDULE = "UPDATE shared_report_schedules SET updated_at = now() WHERE id = $1"

DELETE_RECIPIENTS = "DELETE FROM shared_report_schedule_recipients WHERE schedule_id = $1"

INSERT_RECIPIENTS = """
INSERT INTO shared_report_schedule_recipients (schedule_id, channel, user_id, email, telegram_chat_id)
SELECT $1, * FROM unnest($2::text[], $3::uuid[], $4::text[], $5::bigint[])
"""

SOFT_DELETE = """
UPDATE shared_report_schedules SET deleted_at = now(), enabled = false, next_run_at = NULL, updated_at = now()
WHERE id = $1 AND deleted_at IS NULL
"""

RUNS = """
SELECT id, schedule_id, fire_at, trigger, status, attempts, row_count, byte_count, filename, error, enqueued_at,
       started_at, finished_at, created_at, requested_by, outside_recipients, files
FROM shared_report_runs
WHERE schedule_id = $1 AND ($2::timestamptz IS NULL OR (created_at, id) < ($2::timestamptz, $3::uuid))
ORDER BY created_at DESC, id DESC
LIMIT $4
"""

NOTIFICATIONS = """
SELECT id, run_id, channel, recipient, destination_id, recipient_user_id, email, telegram_chat_id, status, payload,
       created_at
FROM shared_report_notifications WHERE run_id = ANY($1::uuid[]) ORDER BY created_at, id
"""

DEAD_LETTERS = """
SELECT id, run_id, organization_id, job_id, payload, error, attempts, failed_at, replayed_at, replay_count
FROM shared_report_dead_letters
WHERE ($1::uuid[] IS NULL OR organization_id = ANY($1::uuid[]))
  AND ($2::timestamptz IS NULL OR (failed_at, id) < ($2::timestamptz, $3::uuid))
ORDER BY failed_at DESC, id DESC
LIMIT $4
"""

DEAD_LETTER = """
SELECT d.id, d.organization_id, r.schedule_id
FROM shared_report_dead_letters d LEFT JOIN shared_report_runs r ON r.id = d.run_id
WHERE d.id = $1
"""

# The audit log (producer/api/audit.py): filters like RUN_FILTERS, newest first, keyset-paged.
AUDIT_FILTERS = {
    "organization_id": "organization_id = {}",
    "organizations": "organization_id = ANY({}::uuid[])",
    "schedule_id": "schedule_id = {}",
    "actor": "actor = {}",
    "action": "action = {}",
    "since": "created_at >= {}",
}


def scope(filters: dict[str, Any], orgs: list[Any] | None) -> None:
    """The organizations a list may show, as a filter: one organization (the usual case) as a plain equality, so
    its index is walked in order; several (or every one, None) as a list."""
    if orgs is not None and len(orgs) == 1:
        filters["organization_id"] = orgs[0]
    else:
        filters["organizations"] = orgs


def keyset_where(
    known: dict[str, str], filters: dict[str, Any], after: tuple[Any, Any] | None, limit: int, prefix: str = ""
) -> tuple[str, list[Any]]:
    """The WHERE of a newest-first list: the filters given (each a condition of `known`) and the (created_at, id)
    cursor; the limit is the last argument."""
    conditions, args = [], []
    for name, value in filters.items():
        if value is not None:
            args.append(value)
            conditions.append(known[name].format(f"${len(args)}"))
    if after is not None:
        args.extend(after)
        conditions.append(f"({prefix}created_at, {prefix}id) < (${len(args) - 1}::timestamptz, ${len(args)}::uuid)")
    args.append(limit)
    return " AND ".join(conditions) or "true", args


def audit_entries(filters: dict[str, Any], after: tuple[Any, Any] | None, limit: int) -> tuple[str, list[Any]]:
    where, args = keyset_where(AUDIT_FILTERS, filters, after, limit)
    query = f"""
SELECT id, organization_id, actor, actor_role, action, schedule_id, destination_id, changes, request_id, created_at
FROM shared_report_audit_log
WHERE {where}
ORDER BY created_at DESC, id DESC
LIMIT ${len(args)}
"""
    return query, args


# Organizations where the user may read the audit log: owners and admins.
AUDIT_ORGANIZATIONS = """
SELECT organization_id FROM organization_members WHERE user_id = $1 AND role IN ('owner', 'admin')
"""


DESTINATION_COLUMNS = (
    "id, organization_id, schedule_id, channel, target, label, config, secret IS NOT NULL AS has_secret, created_at"
)

COUNT_DESTINATIONS = """
SELECT count(*) FROM shared_report_destinations
WHERE organization_id = $1 AND schedule_id IS NOT DISTINCT FROM $2
"""

INSERT_DESTINATION = Named(f"""
INSERT INTO shared_report_destinations (organization_id, schedule_id, channel, target, label, config, secret)
VALUES (:organization_id, :schedule_id, :channel, :target, :label, :config, :secret)
RETURNING {DESTINATION_COLUMNS}
""")

ENABLE_CHANNEL = """
UPDATE shared_report_schedules SET channels = array_append(channels, $2), updated_at = now()
WHERE id = $1 AND NOT ($2 = ANY(channels))
"""

LIST_DESTINATIONS = f"""
SELECT {DESTINATION_COLUMNS} FROM shared_report_destinations
WHERE ($1::uuid[] IS NULL OR organization_id = ANY($1::uuid[]))
  AND ($2::uuid IS NULL OR schedule_id = $2)
ORDER BY created_at, id
LIMIT 1000
"""

DESTINATION_OWNER = "SELECT organization_id FROM shared_report_destinations WHERE id = $1"

DESTINATION_FOR_UPDATE = f"SELECT {DESTINATION_COLUMNS} FROM shared_report_destinations WHERE id = $1 FOR UPDATE"

DELETE_DESTINATION = "DELETE FROM shared_report_destinations WHERE id = $1"

PUT_CREDENTIAL = """
INSERT INTO shared_report_channel_credentials (organization_id, channel, secret) VALUES ($1, $2, $3)
ON CONFLICT (organization_id, channel) DO UPDATE SET secret = excluded.secret, updated_at = now()
RETURNING updated_at
"""

CREDENTIAL_UPDATED = """
SELECT updated_at FROM shared_report_channel_credentials WHERE organization_id = $1 AND channel = $2
"""

CREDENTIAL_UPDATED_FOR_UPDATE = CREDENTIAL_UPDATED + " FOR UPDATE"

DELETE_CREDENTIAL = """
DELETE FROM shared_report_channel_credentials WHERE organization_id = $1 AND channel = $2 RETURNING updated_at
"""

RUN_COLUMNS = """
r.id, r.schedule_id, r.organization_id, r.fire_at, r.trigger, r.status, r.attempts, r.row_count, r.byte_count,
r.filename, r.error, r.enqueued_at, r.started_at, r.finished_at, r.created_at, r.requested_by, r.outside_recipients,
r.files
"""

# Each filter of GET /v1/runs, as a condition on one placeholder. The statement is built from the filters given,
# so PostgreSQL plans each shape on its own (a generic "$1 IS NULL OR ..." plan cannot use the indexes).
RUN_FILTERS = {
    "organization_id": "r.organization_id = {}",
    "organizations": "r.organization_id = ANY({}::uuid[])",
    "status": "r.status = {}",
    "schedule_id": "r.schedule_id = {}",
    "trigger": "r.trigger = {}",
    "since": "r.created_at >= {}",
    "until": "r.created_at < {}",
}


def organization_runs(filters: dict[str, Any], after: tuple[Any, Any] | None, limit: int) -> tuple[str, list[Any]]:
    """Runs newest first after the (created_at, id) cursor, each with its schedule's name, deleted or not; one
    organization's walk shared_report_runs_org_idx (or _org_status_idx when a status is asked for)."""
    where, args = keyset_where(RUN_FILTERS, filters, after, limit, "r.")
    query = f"""
SELECT {RUN_COLUMNS}, s.name AS schedule_name
FROM shared_report_runs r
JOIN shared_report_schedules s ON s.id = r.schedule_id
WHERE {where}
ORDER BY r.created_at DESC, r.id DESC
LIMIT ${len(args)}
"""
    return query, args


# A schedule's figures over the runs created in the window: final statuses, durations, last success.
SCHEDULE_STATS = """
SELECT
    count(*) FILTER (WHERE status = 'sent') AS sent,
    count(*) FILTER (WHERE status = 'partial') AS partial,
    count(*) FILTER (WHERE status = 'failed') AS failed,
    count(*) FILTER (WHERE status = 'skipped') AS skipped,
    count(*) FILTER (WHERE status = 'dead') AS dead,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - started_at))
        FILTER (WHERE finished_at IS NOT NULL AND started_at IS NOT NULL) AS p50,
    percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - started_at))
        FILTER (WHERE finished_at IS NOT NULL AND started_at IS NOT NULL) AS p95,
    (SELECT max(finished_at) FROM shared_report_runs
     WHERE schedule_id = $1 AND status = 'sent') AS last_success_at
FROM shared_report_runs
WHERE schedule_id = $1 AND created_at >= $2
"""

LAST_FINISHED_RUN = """
SELECT id, trigger, status, row_count, byte_count, finished_at, files FROM shared_report_runs
WHERE schedule_id = $1 AND finished_at IS NOT NULL
ORDER BY finished_at DESC LIMIT 1
"""

# Reserve a key for this request; an expired row (over 24 hours old) is taken over. No row back: the key is
# held, and IDEMPOTENT_ANSWER says by what.
RESERVE_KEY = """
INSERT INTO shared_report_idempotency_keys AS k (caller, key, fingerprint) VALUES ($1, $2, $3)
ON CONFLICT (caller, key) DO UPDATE
SET fingerprint = excluded.fingerprint, status = NULL, content_type = NULL, body = NULL, created_at = now()
WHERE k.created_at < now() - interval '24 hours'
RETURNING true
"""

IDEMPOTENT_ANSWER = """
SELECT fingerprint, status, content_type, body FROM shared_report_idempotency_keys WHERE caller = $1 AND key = $2
"""

KEEP_ANSWER = Named("""
UPDATE shared_report_idempotency_keys SET status = :status, content_type = :content_type, body = :body
WHERE caller = :caller AND key = :key AND fingerprint = :fingerprint
""")

RELEASE_KEY = """
DELETE FROM shared_report_idempotency_keys WHERE caller = $1 AND key = $2 AND status IS NULL AND fingerprint = $3
"""

# Back, paused: nothing fires until someone resumes it, and nothing missed while deleted is made up.
RESTORE = """
UPDATE shared_report_schedules SET deleted_at = NULL, enabled = false, next_run_at = NULL, updated_at = now()
WHERE id = $1 AND deleted_at IS NOT NULL
"""

USER_EMAILS = "SELECT id, email FROM users WHERE id = ANY($1::uuid[])"

# The destinations a test run may name: the organization's own and its schedules'.
ORGANIZATION_DESTINATIONS = """
SELECT id, channel, target FROM shared_report_destinations WHERE organization_id = $1 AND id = ANY($2::uuid[])
"""

# A run to resend, with what decides whether it may be: its schedule's organization and deletion, and whether a
# resend or replay of its chain is still waiting or running.
RUN_TO_RESEND = """
SELECT r.id, r.schedule_id, r.status, r.message, s.organization_id, s.deleted_at,
       EXISTS (SELECT 1 FROM shared_report_runs x
               WHERE x.origin_run_id = coalesce(r.origin_run_id, r.id) AND x.status IN ('queued', 'running'))
           AS pending
FROM shared_report_runs r
JOIN shared_report_schedules s ON s.id = r.schedule_id
WHERE r.id = $1
FOR UPDATE OF r
"""

SET_OWNER = """
UPDATE shared_report_schedules SET created_by = $2, updated_at = now() WHERE id = $1 AND deleted_at IS NULL
"""


# Membership: what a signed-in user may read and write (producer/api/auth.py).
MEMBER_ROLE = "SELECT role FROM organization_members WHERE organization_id = $1 AND user_id = $2"
MEMBER_ORGANIZATIONS = "SELECT organization_id FROM organization_members WHERE user_id = $1"

# The organization's Slack and webhook destinations among those a failure notice names.
NOTICE_DESTINATIONS = """
SELECT id FROM shared_report_destinations
WHERE organization_id = $1 AND id = ANY($2::uuid[]) AND channel IN ('slack', 'webhook')
"""

# The destination policy (producer/api/policy.py).
POLICY_FIELDS = (
    "allowed_email_domains",
    "allowed_webhook_hosts",
    "allowed_sftp_hosts",
    "allow_telegram",
    "allow_slack",
)

POLICY = f"""
SELECT {", ".join(POLICY_FIELDS)}, updated_by, updated_at FROM shared_report_destination_policies
WHERE organization_id = $1
"""

POLICY_FOR_UPDATE = POLICY + " FOR UPDATE"

PUT_POLICY = Named(f"""
INSERT INTO shared_report_destination_policies (organization_id, {", ".join(POLICY_FIELDS)}, updated_by, updated_at)
VALUES (:organization_id, {", ".join(":" + name for name in POLICY_FIELDS)}, :updated_by, now())
ON CONFLICT (organization_id) DO UPDATE SET
    allowed_email_domains = excluded.allowed_email_domains, allowed_webhook_hosts = excluded.allowed_webhook_hosts,
    allowed_sftp_hosts = excluded.allowed_sftp_hosts, allow_telegram = excluded.allow_telegram,
    allow_slack = excluded.allow_slack, updated_by = excluded.updated_by, updated_at = now()
RETURNING {", ".join(POLICY_FIELDS)}, updated_by, updated_at
""")

# The schedule's own unsubscribe of the address, and the organization-wide one, lifted together.
LIFT_UNSUBSCRIBE = """
DELETE FROM shared_report_unsubscribes
WHERE organization_id = $1 AND (schedule_id IS NULL OR schedule_id = $2) AND address_sha256 = $3
RETURNING schedule_id, created_at
"""
